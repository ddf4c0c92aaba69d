//! No file descriptor or mapping outlives a `SimRx`, on the normal path or the error paths.
//!
//! In the leak-check binary (see `main.rs`): tests of one binary run on parallel threads of one
//! process and would open and close descriptors underneath the count.

use std::time::Duration;

use weir_iio::{Error, SimConfig, SimRx, Transport};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn memfd_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| line.contains("/memfd:"))
        .count()
}

fn exercise() {
    // Streaming, holding a block's memory past the device's life.
    let (fds_before, maps_before) = (open_fds(), memfd_mappings());
    let mut sim = SimRx::new(SimConfig {
        fail_block: Some(2),
        ..SimConfig::default()
    })
    .unwrap();
    // Proof that the counts see the device: one eventfd per block (the memfds are closed
    // once mapped) and two mappings per block.
    assert_eq!(open_fds(), fds_before + 4);
    assert_eq!(memfd_mappings(), maps_before + 8);
    sim.start().unwrap();
    assert!(sim.start().is_err(), "second start is EBUSY");
    let mut held = None;
    for n in 0..8 {
        let block = n % sim.block_count();
        match sim.wait_complete(block, Duration::from_secs(10)) {
            Ok(Some(_)) => {}
            Err(Error::TransferFailed { .. }) => {}
            other => panic!("{other:?}"),
        }
        if n == 3 {
            held = Some(sim.block_memory(block));
        }
        sim.requeue(block, sim.block_size()).unwrap();
    }
    let mut buf = vec![0u8; sim.block_size()];
    sim.read(&mut buf).unwrap();
    drop(sim); // while started: Drop stops, joins, detaches
    drop(held);

    // A paced device dropped while its producer sleeps through a long slot.
    let mut slow = SimRx::new(SimConfig {
        sample_rate: Some(1.0),
        block_size: 4096,
        block_count: 2,
        ..SimConfig::default()
    })
    .unwrap();
    slow.start().unwrap();
    drop(slow);

    // Stopped explicitly, then dropped.
    let mut stopped = SimRx::new(SimConfig::default()).unwrap();
    stopped.start().unwrap();
    stopped.stop().unwrap();
    drop(stopped);

    // Never started; and a refused configuration.
    drop(SimRx::new(SimConfig::default()).unwrap());
    assert!(
        SimRx::new(SimConfig {
            block_size: 3,
            ..SimConfig::default()
        })
        .is_err()
    );
}

#[test]
fn no_fd_or_mapping_leaks() {
    let _alone = crate::alone();
    // Warm up once: the first use may open process-wide descriptors (none expected, but the
    // check is about SimRx, not about lazily initialised runtime state).
    exercise();
    let fds = open_fds();
    let maps = memfd_mappings();
    exercise();
    assert_eq!(open_fds(), fds, "file descriptors leaked");
    assert_eq!(memfd_mappings(), maps, "memfd mappings leaked");
    assert_eq!(maps, 0, "no memfd mapping should remain at all");
}

//! The simulated RX device: kernel rules (errnos), data through `Transport`, overruns, tone,
//! fault injection and the copying read() path.
//!
//! No test sleeps and hopes: waits are on completion fds or on a polled condition with a
//! generous deadline, and nothing asserts on timing.

use std::f64::consts::TAU;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use weir_iio::{Error, Interest, Pattern, SimConfig, SimRx, Transport, TransportKind};

const TIMEOUT: Duration = Duration::from_secs(10);

fn config(block_size: usize, block_count: usize) -> SimConfig {
    SimConfig {
        name: "test-adc".to_string(),
        block_size,
        block_count,
        ..SimConfig::default()
    }
}

/// A simulated ADC with `config`, started.
fn started(config: SimConfig) -> SimRx {
    let mut sim = SimRx::new(config).unwrap();
    sim.start().unwrap();
    sim
}

fn errno_of<T: std::fmt::Debug>(result: weir_iio::Result<T>) -> Errno {
    match result {
        Err(e) => e
            .errno()
            .unwrap_or_else(|| panic!("error without errno: {e}")),
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
    }
}

/// Checks that `bytes` is the ramp starting at sample `first`; returns the next sample index.
fn check_ramp(bytes: &[u8], first: u64) -> u64 {
    assert_eq!(bytes.len() % 4, 0);
    for (i, sample) in bytes.chunks_exact(4).enumerate() {
        let k = first + i as u64;
        let re = i16::from_le_bytes([sample[0], sample[1]]);
        let im = i16::from_le_bytes([sample[2], sample[3]]);
        let want_re = (2 * k) as u16 as i16;
        let want_im = (2 * k + 1) as u16 as i16;
        assert_eq!(
            (re, im),
            (want_re, want_im),
            "sample {k} (offset {i} in block starting at sample {first})"
        );
    }
    first + (bytes.len() / 4) as u64
}

fn wait(sim: &mut SimRx, block: usize) -> usize {
    sim.wait_complete(block, TIMEOUT)
        .unwrap()
        .unwrap_or_else(|| panic!("block {block} did not complete within {TIMEOUT:?}"))
}

// ---- kernel rules ----------------------------------------------------------------------------

#[test]
fn enqueue_unattached_is_eperm() {
    let mut sim = SimRx::new(config(4096, 2)).unwrap();
    assert_eq!(errno_of(sim.enqueue(0, 4096)), Errno::PERM);
    sim.attach(0).unwrap();
    assert_eq!(errno_of(sim.enqueue(1, 4096)), Errno::PERM);
    sim.enqueue(0, 4096).unwrap();
}

#[test]
fn enqueue_bad_bytes_used_is_einval() {
    let mut sim = SimRx::new(config(4096, 2)).unwrap();
    sim.attach(0).unwrap();
    assert_eq!(errno_of(sim.enqueue(0, 0)), Errno::INVAL);
    assert_eq!(errno_of(sim.enqueue(0, 4100)), Errno::INVAL);
    assert_eq!(errno_of(sim.enqueue(0, 6)), Errno::INVAL);
    assert_eq!(errno_of(sim.enqueue(0, 4095)), Errno::INVAL);
    assert_eq!(errno_of(sim.enqueue(7, 4096)), Errno::INVAL);
    // The kernel checks bytes_used before the attachment: an unattached block with a bad size
    // is EINVAL, not EPERM.
    assert_eq!(errno_of(sim.enqueue(1, 0)), Errno::INVAL);
    sim.enqueue(0, 4).unwrap();
}

#[test]
fn enqueue_in_flight_is_ebusy() {
    let mut sim = SimRx::new(config(4096, 2)).unwrap();
    sim.attach(0).unwrap();
    sim.enqueue(0, 4096).unwrap();
    // Not enabled, so the block stays queued.
    assert_eq!(errno_of(sim.enqueue(0, 4096)), Errno::BUSY);
    assert_eq!(errno_of(sim.detach(0)), Errno::BUSY);
}

#[test]
fn attach_after_enable_is_ebusy() {
    let mut sim = SimRx::new(config(4096, 2)).unwrap();
    sim.attach(0).unwrap();
    assert_eq!(errno_of(sim.attach(0)), Errno::INVAL, "attached twice");
    assert_eq!(errno_of(sim.attach(2)), Errno::INVAL, "unknown block");
    sim.enable().unwrap();
    assert!(sim.is_enabled());
    assert_eq!(errno_of(sim.attach(1)), Errno::BUSY);
    sim.disable().unwrap();
    sim.attach(1).unwrap();
}

#[test]
fn detach_unattached_is_einval() {
    let mut sim = SimRx::new(config(4096, 2)).unwrap();
    assert_eq!(errno_of(sim.detach(0)), Errno::INVAL);
    assert_eq!(errno_of(sim.detach(9)), Errno::INVAL);
    sim.attach(0).unwrap();
    sim.detach(0).unwrap();
    assert_eq!(errno_of(sim.detach(0)), Errno::INVAL);
}

#[test]
fn disable_aborts_queued_blocks() {
    // 1 sample/s: the first block takes 1024 s, so nothing completes before disable.
    let mut sim = SimRx::new(SimConfig {
        sample_rate: Some(1.0),
        ..config(4096, 2)
    })
    .unwrap();
    sim.attach(0).unwrap();
    sim.attach(1).unwrap();
    sim.enqueue(0, 4096).unwrap();
    sim.enqueue(1, 4096).unwrap();
    sim.enable().unwrap();
    sim.disable().unwrap();
    assert!(!sim.is_enabled());
    // Aborted, not completed: no data, and the blocks are free again.
    assert_eq!(sim.try_complete(0).unwrap(), None);
    assert_eq!(sim.try_complete(1).unwrap(), None);
    assert_eq!(sim.wait_complete(0, TIMEOUT).unwrap(), None);
    assert_eq!(sim.counters().blocks_completed, 0);
    sim.enqueue(0, 4096).unwrap();
    sim.detach(1).unwrap();
}

#[test]
fn invalid_configs_are_refused() {
    let bad = [
        config(0, 4),
        config(6, 4),
        config(4096, 0),
        SimConfig {
            sample_rate: Some(0.0),
            ..config(4096, 2)
        },
        SimConfig {
            sample_rate: Some(f64::NAN),
            ..config(4096, 2)
        },
        SimConfig {
            pattern: Pattern::Tone {
                frequency: f64::INFINITY,
                amplitude: 1.0,
            },
            ..config(4096, 2)
        },
    ];
    for cfg in bad {
        match SimRx::new(cfg.clone()) {
            Err(Error::Config { device, .. }) => assert_eq!(device, "test-adc"),
            other => panic!("{cfg:?} gave {other:?}"),
        }
    }
}

#[test]
fn unknown_block_index_is_einval() {
    let mut sim = SimRx::new(config(4096, 2)).unwrap();
    assert_eq!(errno_of(sim.try_complete(2)), Errno::INVAL);
    assert_eq!(errno_of(sim.requeue(2, 4096)), Errno::INVAL);
}

// ---- streaming through Transport -------------------------------------------------------------

#[test]
fn ramp_is_continuous_through_transport() {
    const BLOCKS: u64 = 1200;
    let mut sim = SimRx::new(config(4096, 4)).unwrap();
    assert_eq!(sim.kind(), TransportKind::Simulated);
    assert_eq!(sim.device(), "test-adc");
    assert_eq!(
        (sim.block_count(), sim.block_size(), sim.sample_size()),
        (4, 4096, 4)
    );
    let memory: Vec<_> = (0..4).map(|b| sim.block_memory(b)).collect();
    sim.start().unwrap();
    assert_eq!(errno_of(sim.start()), Errno::BUSY, "started twice");
    let mut next = 0;
    for n in 0..BLOCKS {
        let block = (n % 4) as usize;
        let bytes = wait(&mut sim, block);
        assert_eq!(bytes, 4096);
        // Zero-copy: the data is read where the "hardware" wrote it, through the mapping
        // handed out once.
        let mem = sim.block_memory(block);
        assert_eq!(mem.as_ptr(), memory[block].as_ptr());
        assert!(!mem.is_writable());
        next = check_ramp(&mem.as_bytes()[..bytes], next);
        sim.requeue(block, 4096).unwrap();
    }
    let counters = sim.counters();
    assert_eq!(counters.blocks_completed, BLOCKS);
    assert_eq!(counters.bytes_completed, BLOCKS * 4096);
    assert_eq!(counters.bytes_copied, 0);
    assert_eq!(counters.overruns, 0);
    assert_eq!(counters.dropped_samples, 0);
    sim.stop().unwrap();
    sim.stop().unwrap(); // idempotent
}

/// The unpaced producer, finding no block queued, spins for `idle_spin` and then sleeps:
/// a block queued while it spins, or after it sleeps, is delivered either way, in order. At
/// depth 1 it runs out of blocks after every one, so each block goes through that path.
#[test]
fn an_idle_producer_takes_the_next_block_whether_it_spins_or_sleeps() {
    for idle_spin in [
        Duration::ZERO,
        Duration::from_micros(1),
        SimConfig::default().idle_spin,
        Duration::from_secs(3600),
    ] {
        for depth in [1, 3] {
            let mut sim = started(SimConfig {
                idle_spin,
                ..config(256, depth)
            });
            let mut next = 0;
            for n in 0..600 {
                let block = n % depth;
                let bytes = wait(&mut sim, block);
                next = check_ramp(&sim.block_memory(block).as_bytes()[..bytes], next);
                sim.requeue(block, 256).unwrap();
            }
            assert_eq!(
                sim.counters().blocks_completed,
                600,
                "{idle_spin:?}, depth {depth}"
            );
            // Stopping ends a spin at once: with an hour's spin, a stop that did not would
            // not return within the timeout.
            let what = format!("stop ({idle_spin:?} spin)");
            let sim =
                crate::returns_within(TIMEOUT, &what, move || sim.stop().map(|()| sim)).unwrap();
            assert_eq!(sim.counters().blocks_completed, 600);
        }
    }
}

#[test]
fn partial_blocks_carry_bytes_used() {
    let mut sim = started(config(4096, 2));
    let first = wait(&mut sim, 0);
    let mut next = check_ramp(&sim.block_memory(0).as_bytes()[..first], 0);
    sim.requeue(0, 100).unwrap();
    let second = wait(&mut sim, 1);
    next = check_ramp(&sim.block_memory(1).as_bytes()[..second], next);
    assert_eq!(wait(&mut sim, 0), 100);
    check_ramp(&sim.block_memory(0).as_bytes()[..100], next);
}

#[test]
fn completion_fd_becomes_readable() {
    let mut sim = started(config(4096, 2));
    let (fd, interest) = sim.completion_fd(0);
    assert_eq!(interest, Interest::Readable);
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = Timespec::try_from(TIMEOUT).unwrap();
    let ready = rustix::event::poll(&mut fds, Some(&timeout)).unwrap();
    assert_eq!(ready, 1);
    assert!(fds[0].revents().contains(PollFlags::IN));
    assert_eq!(sim.try_complete(0).unwrap(), Some(4096));
    // Collected: the signal is consumed.
    assert_eq!(sim.try_complete(0).unwrap(), None);
    let (fd, _) = sim.completion_fd(0);
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let zero = Timespec::try_from(Duration::ZERO).unwrap();
    assert_eq!(rustix::event::poll(&mut fds, Some(&zero)).unwrap(), 0);
}

#[test]
fn overrun_gap_equals_dropped_samples() {
    // 10 MS/s, 1024-sample blocks (~100 µs each), 2 blocks: a consumer that holds both blocks
    // starves the device.
    let mut sim = started(SimConfig {
        sample_rate: Some(10e6),
        ..config(4096, 2)
    });
    // Both blocks were queued before enable, so the first two arrive without a gap.
    let mut next = 0;
    for block in 0..2 {
        let bytes = wait(&mut sim, block);
        next = check_ramp(&sim.block_memory(block).as_bytes()[..bytes], next);
    }
    // Hold both blocks until the device has overrun.
    let deadline = Instant::now() + TIMEOUT;
    while sim.counters().overruns == 0 {
        assert!(Instant::now() < deadline, "no overrun within {TIMEOUT:?}");
        // Polling a condition, not waiting for time to pass: the loop ends when it holds.
        std::thread::sleep(Duration::from_millis(1));
    }
    // Stop freezes the counters (the pattern does not advance while disabled); starting again
    // queues both blocks before enable, so the first block after restart follows the gap
    // directly, with no overrun in between.
    sim.stop().unwrap();
    let counters = sim.counters();
    // The blocks were held in one stretch: one gap, of whole block slots.
    assert_eq!(counters.overruns, 1);
    assert!(counters.dropped_samples >= 1024);
    assert_eq!(counters.dropped_samples % 1024, 0);
    sim.start().unwrap();
    let bytes = wait(&mut sim, 0);
    let data = sim.block_memory(0);
    let first_re = i16::from_le_bytes([data.as_bytes()[0], data.as_bytes()[1]]);
    assert_eq!(
        first_re,
        (2 * (next + counters.dropped_samples)) as u16 as i16,
        "value after the gap = expected + dropped"
    );
    next = check_ramp(&data.as_bytes()[..bytes], next + counters.dropped_samples);
    let bytes = wait(&mut sim, 1);
    check_ramp(&sim.block_memory(1).as_bytes()[..bytes], next);
    assert_eq!(sim.counters().blocks_completed, 4);
}

#[test]
fn tone_matches_formula() {
    fn check(sim: &mut SimRx, blocks: u64, frequency: f64, amplitude: f64, fs: f64) {
        sim.start().unwrap();
        let count = sim.block_count() as u64;
        let mut k = 0u64;
        for n in 0..blocks {
            let block = (n % count) as usize;
            let bytes = wait(sim, block);
            for sample in sim.block_memory(block).as_bytes()[..bytes].chunks_exact(4) {
                let re = i16::from_le_bytes([sample[0], sample[1]]);
                let im = i16::from_le_bytes([sample[2], sample[3]]);
                let phase = TAU * frequency * k as f64 / fs;
                let want_re = (amplitude * phase.cos()).round();
                let want_im = (amplitude * phase.sin()).round();
                // The simulator reduces the phase to one cycle first (precision over long
                // runs), which may move a value across a rounding boundary: allow 1 LSB.
                assert!(
                    (f64::from(re) - want_re).abs() <= 1.0
                        && (f64::from(im) - want_im).abs() <= 1.0,
                    "sample {k}: got ({re}, {im}), want ({want_re}, {want_im})"
                );
                k += 1;
            }
            sim.requeue(block, 4096).unwrap();
        }
    }
    // Unlimited rate: frequency in cycles per sample.
    let mut sim = SimRx::new(SimConfig {
        pattern: Pattern::Tone {
            frequency: 0.0123,
            amplitude: 30000.0,
        },
        ..config(4096, 4)
    })
    .unwrap();
    check(&mut sim, 100, 0.0123, 30000.0, 1.0);
    // Paced: frequency in Hz against the sample rate. Only the two blocks queued before enable
    // are checked, so no overrun can shift the phase.
    let mut sim = SimRx::new(SimConfig {
        sample_rate: Some(1e6),
        pattern: Pattern::Tone {
            frequency: -12_345.0,
            amplitude: 1000.0,
        },
        ..config(4096, 2)
    })
    .unwrap();
    check(&mut sim, 2, -12_345.0, 1000.0, 1e6);
}

#[test]
fn fault_injection_surfaces_transfer_failed() {
    let mut sim = started(SimConfig {
        fail_block: Some(5),
        ..config(4096, 4)
    });
    let mut next = 0;
    let mut failures = 0;
    for n in 0..12 {
        let block = n % 4;
        match sim.wait_complete(block, TIMEOUT) {
            Ok(Some(bytes)) => {
                next = check_ramp(&sim.block_memory(block).as_bytes()[..bytes], next);
            }
            Err(Error::TransferFailed {
                device,
                block: failed,
                errno,
            }) => {
                assert_eq!(n, 5, "only the 6th completion fails");
                assert_eq!((device.as_str(), failed, errno), ("test-adc", 1, Errno::IO));
                failures += 1;
                // The failed block's samples are gone; the stream goes on after them.
                next += 1024;
            }
            other => panic!("block {block}: {other:?}"),
        }
        sim.requeue(block, 4096).unwrap();
    }
    assert_eq!(failures, 1);
    assert_eq!(sim.counters().blocks_completed, 11);
}

#[test]
fn read_path_copies_the_ramp() {
    let mut sim = SimRx::new(config(4096, 3)).unwrap();
    let mut small = vec![0u8; 4092];
    assert_eq!(errno_of(sim.read(&mut small)), Errno::INVAL);
    let mut buf = vec![0u8; 4096];
    assert_eq!(errno_of(sim.read(&mut buf)), Errno::INVAL, "nothing queued");
    sim.start().unwrap();
    let mut next = 0;
    for _ in 0..300 {
        let n = sim.read(&mut buf).unwrap();
        assert_eq!(n, 4096);
        next = check_ramp(&buf[..n], next);
    }
    let counters = sim.counters();
    assert_eq!(counters.bytes_copied, 300 * 4096);
    assert_eq!(counters.blocks_completed, 300);
    // Mixing with the zero-copy path: read() always takes the oldest outstanding block.
    let oldest = 0; // 300 % 3
    let bytes = wait(&mut sim, oldest);
    next = check_ramp(&sim.block_memory(oldest).as_bytes()[..bytes], next);
    sim.requeue(oldest, 4096).unwrap();
    let n = sim.read(&mut buf).unwrap();
    check_ramp(&buf[..n], next);
    sim.stop().unwrap();
    assert_eq!(
        errno_of(sim.read(&mut buf)),
        Errno::INVAL,
        "stopped: nothing queued"
    );
}

#[test]
fn memory_outlives_the_device() {
    let mut sim = started(config(4096, 2));
    let bytes = wait(&mut sim, 0);
    let mem = sim.block_memory(0);
    drop(sim);
    check_ramp(&mem.as_bytes()[..bytes], 0);
}

#[test]
fn untouched_pattern_completes_blocks_without_writing_them() {
    let mut sim = started(SimConfig {
        pattern: Pattern::Untouched,
        ..config(4096, 3)
    });
    for n in 0..9 {
        let block = n % 3;
        assert_eq!(wait(&mut sim, block), 4096, "block {n} is complete");
        // A memfd starts zeroed and nobody writes it: the ramp would put 0x0001 in sample 0.
        assert!(
            sim.block_memory(block).as_bytes().iter().all(|&b| b == 0),
            "block {n} was written"
        );
        sim.requeue(block, 4096).unwrap();
    }
    assert_eq!(sim.counters().blocks_completed, 9);
    sim.stop().unwrap();
}

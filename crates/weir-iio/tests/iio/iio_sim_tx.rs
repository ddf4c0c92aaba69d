//! The simulated DAC consumes exactly `bytes_used` of each block, in order.

use std::time::{Duration, Instant};

use rustix::io::Errno;
use weir_iio::{SimTx, SimTxConfig, Transport};

const WAIT: Duration = Duration::from_secs(10);

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A simulated DAC with `config`, started.
fn started(config: SimTxConfig) -> SimTx {
    let mut tx = SimTx::new(config).expect("device");
    tx.start().expect("start");
    tx
}

#[test]
fn partial_last_block_is_sent_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dac.bin");
    let mut tx = started(SimTxConfig {
        block_size: 4096,
        block_count: 3,
        output: Some(out.clone()),
        ..SimTxConfig::default()
    });
    let data = payload(4096 * 10 + 1236);
    let mut in_flight = std::collections::VecDeque::new();
    let mut free: std::collections::VecDeque<usize> = (0..3).collect();
    for chunk in data.chunks(4096) {
        let block = match free.pop_front() {
            Some(b) => b,
            None => {
                let b = in_flight.pop_front().expect("in flight");
                assert!(tx.wait_complete(b, WAIT).expect("wait").is_some());
                b
            }
        };
        tx.block_mut(block).expect("cpu block")[..chunk.len()].copy_from_slice(chunk);
        tx.requeue(block, chunk.len()).expect("enqueue");
        in_flight.push_back(block);
    }
    while let Some(b) = in_flight.pop_front() {
        assert!(tx.wait_complete(b, WAIT).expect("wait").is_some());
    }
    assert_eq!(tx.bytes_consumed(), data.len() as u64);
    assert_eq!(tx.checksum(), SimTx::checksum_of(&data));
    assert_eq!(tx.counters().blocks_completed, 11);
    tx.stop().expect("stop");
    drop(tx);
    assert_eq!(std::fs::read(&out).expect("output"), data);
}

/// The unpaced device thread, finding no block queued, spins for `idle_spin` and then sleeps:
/// a block queued while it spins, or after it sleeps, is sent either way, exactly and in
/// order. At depth 1 it runs out after every block, so each one goes through that path.
#[test]
fn an_idle_dac_takes_the_next_block_whether_it_spins_or_sleeps() {
    let data = payload(256 * 500);
    for idle_spin in [
        Duration::ZERO,
        Duration::from_micros(1),
        SimTxConfig::default().idle_spin,
        Duration::from_secs(3600),
    ] {
        for depth in [1, 3] {
            let mut tx = started(SimTxConfig {
                block_size: 256,
                block_count: depth,
                idle_spin,
                ..SimTxConfig::default()
            });
            for (n, chunk) in data.chunks(256).enumerate() {
                let block = n % depth;
                if n >= depth {
                    let sent = tx.wait_complete(block, WAIT).expect("wait");
                    assert_eq!(sent, Some(256), "{idle_spin:?}, depth {depth}, block {n}");
                }
                tx.block_mut(block)
                    .expect("cpu block")
                    .copy_from_slice(chunk);
                tx.requeue(block, 256).expect("enqueue");
            }
            for n in data.len() / 256 - depth..data.len() / 256 {
                assert!(tx.wait_complete(n % depth, WAIT).expect("wait").is_some());
            }
            assert_eq!(tx.checksum(), SimTx::checksum_of(&data), "{idle_spin:?}");
            // Stopping and dropping end a spin at once: with an hour's spin, a device thread
            // that was not told would not be joined within the timeout.
            let what = format!("stop and drop ({idle_spin:?} spin)");
            crate::returns_within(WAIT, &what, move || {
                tx.stop().expect("stop");
                drop(tx);
            });
        }
    }
}

#[test]
fn kernel_rules_are_enforced() {
    let mut tx = started(SimTxConfig {
        block_size: 1024,
        block_count: 2,
        sample_rate: Some(1000.0), // slow: a queued block stays in flight
        ..SimTxConfig::default()
    });
    let errno = |r: weir_iio::Result<()>| r.expect_err("refused").errno();
    assert_eq!(errno(tx.requeue(0, 0)), Some(Errno::INVAL));
    assert_eq!(errno(tx.requeue(0, 1028)), Some(Errno::INVAL));
    assert_eq!(errno(tx.requeue(0, 6)), Some(Errno::INVAL));
    assert_eq!(errno(tx.requeue(9, 4)), Some(Errno::INVAL));
    tx.requeue(0, 1024).expect("enqueue");
    assert_eq!(errno(tx.requeue(0, 1024)), Some(Errno::BUSY));
    assert_eq!(
        tx.block_mut(0).expect_err("in flight").errno(),
        Some(Errno::BUSY)
    );
}

#[test]
fn cyclic_block_repeats_until_stopped() {
    let mut tx = started(SimTxConfig {
        block_size: 256,
        block_count: 1,
        ..SimTxConfig::default()
    });
    let data = payload(256);
    tx.block_mut(0).expect("cpu")[..].copy_from_slice(&data);
    tx.requeue_cyclic(0, 256).expect("cyclic");
    let deadline = Instant::now() + WAIT;
    while tx.bytes_consumed() < 256 * 100 {
        assert!(Instant::now() < deadline, "cyclic block not repeated");
        std::thread::yield_now();
    }
    tx.stop().expect("stop");
    let sent = tx.bytes_consumed();
    assert_eq!(sent % 256, 0, "whole repetitions only");
    let repeated: Vec<u8> = data.iter().copied().cycle().take(sent as usize).collect();
    assert_eq!(tx.checksum(), SimTx::checksum_of(&repeated));
    assert_eq!(
        tx.counters().blocks_completed,
        0,
        "a cyclic block never completes"
    );
}

#[test]
fn paced_device_counts_underruns() {
    let mut tx = started(SimTxConfig {
        block_size: 1024,
        block_count: 1,
        sample_rate: Some(1e6),
        ..SimTxConfig::default()
    });
    tx.requeue(0, 1024).expect("enqueue");
    assert!(tx.wait_complete(0, WAIT).expect("wait").is_some());
    // Nothing more is queued: real time goes on and the DAC has nothing to send.
    let deadline = Instant::now() + WAIT;
    while tx.counters().underruns == 0 {
        assert!(Instant::now() < deadline, "no underrun counted");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn without_checksum_blocks_are_consumed_and_counted_unhashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dac.bin");
    let mut tx = started(SimTxConfig {
        block_size: 4096,
        block_count: 2,
        output: Some(out.clone()),
        checksum: false,
        ..SimTxConfig::default()
    });
    let data = payload(4096 + 1000);
    for (block, chunk) in data.chunks(4096).enumerate() {
        tx.block_mut(block).expect("cpu block")[..chunk.len()].copy_from_slice(chunk);
        tx.requeue(block, chunk.len()).expect("enqueue");
    }
    for block in 0..2 {
        assert!(tx.wait_complete(block, WAIT).expect("wait").is_some());
    }
    assert_eq!(tx.bytes_consumed(), data.len() as u64);
    // The data was never hashed: the checksum is still that of an empty stream.
    assert_eq!(tx.checksum(), SimTx::checksum_of(&[]));
    assert_ne!(SimTx::checksum_of(&[]), SimTx::checksum_of(&data));
    tx.stop().expect("stop");
    drop(tx);
    assert_eq!(std::fs::read(&out).expect("output"), data);
}

/// `Duration::MAX` is "wait forever" (the simulated RX's `read` passes it): it must wait for
/// the block, not panic computing a deadline beyond what `Instant` can hold.
#[test]
fn wait_forever_waits_for_the_block() {
    let mut tx = started(SimTxConfig {
        block_size: 1024,
        block_count: 2,
        ..SimTxConfig::default()
    });
    // A block that belongs to the CPU cannot complete: `None` at once, whatever the timeout.
    assert_eq!(tx.wait_complete(1, Duration::MAX).expect("wait"), None);
    let data = payload(1024);
    tx.block_mut(0).expect("cpu block").copy_from_slice(&data);
    tx.requeue(0, data.len()).expect("enqueue");
    assert_eq!(
        tx.wait_complete(0, Duration::MAX).expect("wait"),
        Some(1024)
    );
    assert_eq!(tx.checksum(), SimTx::checksum_of(&data));
    tx.stop().expect("stop");
}

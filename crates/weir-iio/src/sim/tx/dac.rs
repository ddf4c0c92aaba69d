//! The simulated DAC's DMA engine: a thread that consumes the queued blocks in order — exactly
//! `bytes_used` bytes of each — paced or as fast as possible, checksums and records what it
//! sent, and counts an underrun when a paced device finds nothing queued.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::Shared;
use crate::sim::SAMPLE_SIZE;
use crate::sys::MappedRegion;

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, continuing from `hash` (start with [`super::SimTx::checksum_of`]`(&[])`).
pub(super) fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Reads every byte of `bytes`, a 64-bit word at a time where it can (the sum is only there
/// so that the reads are not optimised away).
fn read_words(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let sum = words.by_ref().fold(0u64, |a, w| {
        a.wrapping_add(u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])))
    });
    words
        .remainder()
        .iter()
        .fold(sum, |a, &b| a.wrapping_add(u64::from(b)))
}

/// The "DMA engine": consumes queued blocks in order.
pub(super) fn consume(
    shared: Arc<Shared>,
    events: Arc<Vec<OwnedFd>>,
    device: Vec<MappedRegion>,
    rate: Option<f64>,
    mut output: Option<File>,
    checksum: bool,
    idle_spin: Duration,
) {
    let mut clock: Option<Instant> = None;
    // Only this thread updates the checksum: it runs over the data outside the state lock, so
    // the CPU side's `try_complete`/`requeue` never waits for a block's worth of hashing.
    let mut hash = FNV_OFFSET;
    // Consecutive empty slots are one underrun (one gap in the output).
    let mut in_gap = false;
    // Unpaced, with nothing queued: spin for `idle_spin` before sleeping (`super::Kick`).
    let mut spin = true;
    let mut s = shared.lock();
    loop {
        if s.stop {
            return;
        }
        if !s.enabled {
            clock = None;
            s = shared.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        let Some((block, bytes, cyclic)) = s.queue.pop_front() else {
            match rate {
                // Real time goes on: a slot with nothing to send is an underrun, once the
                // stream has begun.
                Some(r) if clock.is_some() => {
                    if !in_gap {
                        s.counters.underruns += 1;
                        in_gap = true;
                    }
                    let slot = Duration::from_secs_f64(1024.0 / r);
                    s.parked = true;
                    let (guard, _) = shared
                        .wake
                        .wait_timeout(s, slot)
                        .unwrap_or_else(PoisonError::into_inner);
                    s = guard;
                    s.parked = false;
                    clock = Some(Instant::now());
                }
                None if spin && !idle_spin.is_zero() => {
                    let seen = shared.kick.seen();
                    drop(s);
                    // Kicked or not, look again under the lock; sleep after a spin in vain.
                    spin = shared.kick.spin(seen, idle_spin);
                    s = shared.lock();
                }
                _ => {
                    // Queuing notifies only a parked thread, and looks at `parked` under
                    // the lock: no wake-up is lost.
                    s.parked = true;
                    s = shared.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
                    s.parked = false;
                    spin = true;
                }
            }
            continue;
        };
        spin = true;
        s.busy = true;
        in_gap = false;
        drop(s);
        let data = &device[block].as_bytes()[..bytes];
        if let Some(r) = rate {
            let start = *clock.get_or_insert_with(Instant::now);
            let end = start + Duration::from_secs_f64((bytes / SAMPLE_SIZE) as f64 / r);
            let now = Instant::now();
            // Wait out the block's air time, but let a disable abort it (as the kernel's
            // abort does): stop() must not wait for a long block to finish.
            let mut g = shared.lock();
            while g.enabled && Instant::now() < end {
                let left = end.saturating_duration_since(Instant::now());
                g = shared
                    .wake
                    .wait_timeout(g, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if !g.enabled {
                g.busy = false;
                shared.wake.notify_all();
                s = g;
                continue;
            }
            drop(g);
            clock = Some(end.max(now - Duration::from_millis(1)));
        }
        let write_error = output
            .as_mut()
            .and_then(|f| f.write_all(data).err())
            .map(|e| e.to_string());
        if checksum {
            hash = fnv1a(hash, data);
        } else {
            std::hint::black_box(read_words(data));
        }
        s = shared.lock();
        s.busy = false;
        shared.wake.notify_all();
        if let Some(e) = write_error {
            s.error = Some(e);
            output = None;
        }
        s.bytes_consumed += bytes as u64;
        s.checksum = hash;
        if cyclic {
            // A cyclic block goes round again until the device is disabled; disabling ends
            // it without a completion, as an abort.
            if s.enabled {
                s.queue.push_back((block, bytes, true));
            }
            continue;
        }
        s.counters.blocks_completed += 1;
        s.counters.bytes_completed += bytes as u64;
        s.done_bytes[block] = Some(bytes);
        let _ = rustix::io::write(&events[block], &1u64.to_ne_bytes());
    }
}

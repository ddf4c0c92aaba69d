//! The simulated ADC's DMA engine: a thread that fills the queued blocks in order, paced or
//! as fast as possible, and counts what it loses when none is queued.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use super::{BlockState, Hardware, Shared, State};
use crate::sim::SAMPLE_SIZE;

/// What the producer thread needs; see [`Producer::run`].
pub(super) struct Producer {
    pub(super) shared: Arc<Shared>,
    pub(super) events: Arc<Vec<OwnedFd>>,
    pub(super) hardware: Arc<Mutex<Hardware>>,
}

impl Producer {
    pub(super) fn run(self) {
        let hardware = Arc::clone(&self.hardware);
        let mut hw = hardware.lock().unwrap_or_else(PoisonError::into_inner);
        match hw.sample_rate {
            None => self.run_unpaced(&mut hw),
            Some(rate) => self.run_paced(&mut hw, rate),
        }
    }

    /// As fast as possible: wait for a queued block, fill it, complete it. Never overruns.
    fn run_unpaced(&self, hw: &mut Hardware) {
        loop {
            let Some((block, bytes)) = self.next_queued(hw.idle_spin) else {
                return;
            };
            hw.generator
                .fill(&mut hw.maps[block].as_mut_bytes()[..bytes]);
            let mut st = self.shared.lock();
            if st.stop {
                st.slots[block].state = BlockState::Idle; // aborted by disable
                return;
            }
            self.complete(&mut st, hw, block);
        }
    }

    /// The next queued block, marked filling, and its `bytes_used`; `None` once stopped.
    /// With none queued, looks for one for `idle_spin` without the lock (like a DMA engine,
    /// which needs no waking), then sleeps until `enqueue` or `disable` wakes it.
    fn next_queued(&self, idle_spin: Duration) -> Option<(usize, usize)> {
        let mut st = self.shared.lock();
        let mut spin = true;
        loop {
            if st.stop {
                return None;
            }
            if let Some(block) = st.queue.pop_front() {
                st.slots[block].state = BlockState::Filling;
                return Some((block, st.slots[block].bytes_used));
            }
            if spin && !idle_spin.is_zero() {
                let seen = self.shared.kick.seen();
                drop(st);
                // Kicked or not, look again under the lock; sleep only after a spin in vain.
                spin = self.shared.kick.spin(seen, idle_spin);
                st = self.shared.lock();
                continue;
            }
            // `enqueue` and `disable` notify only a parked producer, and both look at
            // `parked` under the lock: no wake-up is lost.
            st.parked = true;
            st = self
                .shared
                .wake
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
            st.parked = false;
            spin = true;
        }
    }

    /// Real time at `rate` samples/s on a virtual clock: a block slot lasts
    /// `samples / rate` seconds and its block completes at the slot's end, like a DMA
    /// transfer completing with its last sample. A slot that starts with no block queued is
    /// lost: its samples are gone, the pattern moves past them, and time goes on. A run of such
    /// slots is one overrun (one gap); `dropped_samples` counts every sample of it.
    ///
    /// The clock is re-anchored when the producer itself falls behind by more than a slot
    /// (the process was descheduled): catching up would complete several blocks in a burst
    /// and blame the consumer with overruns for the simulator's own lateness. The rate is
    /// then best-effort, never exceeded.
    fn run_paced(&self, hw: &mut Hardware, rate: f64) {
        let slot_length = Duration::from_secs_f64(hw.samples_per_block as f64 / rate);
        let mut anchor = Instant::now();
        let mut elapsed_samples: u64 = 0;
        // Consecutive slots without a block are one overrun (one gap in the stream), as the
        // loss estimate counts one per starvation interval.
        let mut in_gap = false;
        loop {
            let block = {
                let mut st = self.shared.lock();
                if st.stop {
                    return;
                }
                let block = st.queue.pop_front();
                match block {
                    Some(block) => {
                        st.slots[block].state = BlockState::Filling;
                        st.slots[block].lost_before =
                            (st.counters.overruns, st.counters.dropped_samples);
                        in_gap = false;
                    }
                    None => {
                        if !in_gap {
                            st.counters.overruns += 1;
                            in_gap = true;
                        }
                        st.counters.dropped_samples += hw.samples_per_block;
                    }
                }
                block.map(|block| (block, st.slots[block].bytes_used))
            };
            let samples = match block {
                Some((block, bytes)) => {
                    hw.generator
                        .fill(&mut hw.maps[block].as_mut_bytes()[..bytes]);
                    (bytes / SAMPLE_SIZE) as u64
                }
                None => {
                    tracing::trace!("simulated overrun: no block queued");
                    hw.generator.skip(hw.samples_per_block);
                    hw.samples_per_block
                }
            };
            elapsed_samples += samples;
            let end = Duration::try_from_secs_f64(elapsed_samples as f64 / rate)
                .ok()
                .and_then(|d| anchor.checked_add(d));
            let mut st = self.shared.lock();
            while !st.stop {
                let wait = match end {
                    Some(end) => {
                        let left = end.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        left
                    }
                    None => Duration::from_secs(3600), // unreachably far: sleep until stopped
                };
                st = self
                    .shared
                    .wake
                    .wait_timeout(st, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if st.stop {
                if let Some((block, _)) = block {
                    st.slots[block].state = BlockState::Idle; // aborted by disable
                }
                return;
            }
            if let Some((block, _)) = block {
                self.complete(&mut st, hw, block);
            }
            drop(st);
            let now = Instant::now();
            if end.is_some_and(|end| now > end + slot_length) {
                tracing::trace!("simulated device fell behind real time; re-anchoring");
                anchor = now;
                elapsed_samples = 0;
            }
        }
    }

    /// Marks `block` completed (failed if fault injection says so) and signals its eventfd,
    /// under the state lock so the CPU side never sees one without the other.
    fn complete(&self, st: &mut State, hw: &mut Hardware, block: usize) {
        let status = (hw.fail_block == Some(hw.completions)).then_some(Errno::IO);
        hw.completions += 1;
        st.slots[block].state = BlockState::Done(status);
        if let Err(e) = rustix::io::write(&self.events[block], &1u64.to_ne_bytes()) {
            // Cannot happen for an eventfd written once per completion; the consumer would
            // only miss this block's signal.
            tracing::error!("signalling completion of block {block}: {e}");
        }
    }
}

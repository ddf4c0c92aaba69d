//! An RX transport shared by its source and the readers of its blocks, so that the reader that
//! releases a block last gives it back to the device at once, on its own thread.
//!
//! Why: a released block used to go back through the source. The release woke the source's
//! task, mostly on the other executor thread, and only that task queued the block again. That
//! wake-up was the part of the zero-copy path's cost per block that the copying path does not
//! pay (the copying source requeues as soon as it has copied). Requeued at its release, a block
//! is back with the device while the source sleeps. The source learns of it when it next runs,
//! which a completion makes it do, and is woken for it only when it has no block in flight to
//! wait on.

use std::sync::{Mutex, MutexGuard, OnceLock};

use futuresdr::runtime::dev::BlockNotifier;
use weir_iio::loss::monotonic_ns;
use weir_iio::transport::Transport;

/// A block given back to the device by its last reader.
pub struct Requeued {
    /// The block's ring index.
    pub block: usize,
    /// When it was queued (monotonic ns), or why queuing it failed.
    pub outcome: Result<u64, weir_iio::Error>,
}

/// The transport and what its source must learn of the blocks requeued behind its back.
pub struct Shared {
    /// The device's transport. The source holds the lock for its own calls; a release holds
    /// it for one requeue.
    pub transport: Box<dyn Transport>,
    /// Blocks requeued since the source last looked, in the order the device got them (the
    /// order they complete in).
    requeued: Vec<Requeued>,
    /// The source has no block in flight and sleeps: the next requeue must wake it.
    source_idle: bool,
    /// The source has stopped the device: a block released now stays with the CPU.
    stopped: bool,
}

impl Shared {
    /// Move the blocks requeued since the last call into `into` (empty: both vectors keep
    /// their memory, so a block costs no allocation).
    pub fn take_requeued(&mut self, into: &mut Vec<Requeued>) {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut self.requeued, into);
        self.source_idle = false;
    }

    /// The source has no block in flight. Returns whether it may sleep: nothing was requeued
    /// since it last looked, and the next requeue will wake it.
    pub fn idle(&mut self) -> bool {
        self.source_idle = self.requeued.is_empty();
        self.source_idle
    }

    /// Queue `block` to the device again, whole, and put it on the list the source takes from
    /// [`Self::take_requeued`]. Every requeue goes through here, the source's own too: the
    /// list's order must be the device's, the order the blocks complete in.
    pub fn requeue(&mut self, block: usize) -> weir_iio::Result<()> {
        let bytes = self.transport.block_size();
        self.transport.requeue(block, bytes)?;
        // The time after the requeue: the loss estimate's starvation ends when the device has
        // the block.
        self.requeued.push(Requeued {
            block,
            outcome: Ok(monotonic_ns()),
        });
        Ok(())
    }

    /// Stop the device. Blocks released afterwards are not queued again.
    pub fn stop(&mut self) -> weir_iio::Result<()> {
        self.stopped = true;
        self.transport.stop()
    }
}

/// A [`Shared`] transport behind its lock, with the source's notifier.
pub struct SharedTransport {
    state: Mutex<Shared>,
    notifier: OnceLock<BlockNotifier>,
}

impl SharedTransport {
    /// Share `transport` (not started yet).
    pub fn new(transport: Box<dyn Transport>) -> Self {
        Self {
            state: Mutex::new(Shared {
                transport,
                requeued: Vec::new(),
                source_idle: false,
                stopped: false,
            }),
            notifier: OnceLock::new(),
        }
    }

    /// The transport, for the source's calls. A panic while it was held leaves nothing half
    /// done that a later call could trip on (every field is written whole), so a poisoned lock
    /// is used as it is.
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How a requeue wakes the source: set once, when it starts.
    pub fn set_notifier(&self, notifier: BlockNotifier) {
        let _ = self.notifier.set(notifier);
    }

    /// The last reader let go of `block`: queue it to the device again, whole, and tell the
    /// source (waking it when it sleeps with nothing in flight, or when the requeue failed).
    pub fn release(&self, block: usize) {
        let wake = {
            let mut s = self.lock();
            if s.stopped {
                return;
            }
            let failed = s.requeue(block).err();
            let wake = s.source_idle || failed.is_some();
            if let Some(e) = failed {
                s.requeued.push(Requeued {
                    block,
                    outcome: Err(e),
                });
            }
            if wake {
                s.source_idle = false;
            }
            wake
        };
        // Outside the lock: waking a thread can take longer than the requeue did.
        if wake && let Some(n) = self.notifier.get() {
            n.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use weir_iio::sim::{SimConfig, SimRx};

    use super::*;

    const BLOCK: usize = 64;

    /// A started simulated ADC of `blocks` blocks, shared.
    fn started(blocks: usize) -> SharedTransport {
        let sim = SimRx::new(SimConfig {
            block_size: BLOCK,
            block_count: blocks,
            ..SimConfig::default()
        })
        .expect("simulator");
        let shared = SharedTransport::new(Box::new(sim));
        shared.lock().transport.start().expect("start");
        shared
    }

    fn complete(shared: &SharedTransport, block: usize) -> Option<usize> {
        shared
            .lock()
            .transport
            .wait_complete(block, Duration::from_secs(10))
            .expect("completion")
    }

    fn taken(shared: &SharedTransport) -> Vec<(usize, bool)> {
        let mut into = Vec::new();
        shared.lock().take_requeued(&mut into);
        into.iter().map(|r| (r.block, r.outcome.is_ok())).collect()
    }

    #[test]
    fn a_released_block_is_back_with_the_device_before_the_source_looks() {
        let shared = started(2);
        assert_eq!(complete(&shared, 0), Some(BLOCK));
        assert_eq!(complete(&shared, 1), Some(BLOCK));
        let before = monotonic_ns();
        shared.release(1);
        shared.release(0);
        // Queued by the releases alone, in their order: the device fills and completes them
        // with nobody taking the list yet.
        assert_eq!(complete(&shared, 1), Some(BLOCK));
        assert_eq!(complete(&shared, 0), Some(BLOCK));
        let mut into = Vec::new();
        shared.lock().take_requeued(&mut into);
        let blocks: Vec<usize> = into.iter().map(|r| r.block).collect();
        assert_eq!(blocks, [1, 0]);
        let times: Vec<u64> = into
            .iter()
            .map(|r| *r.outcome.as_ref().expect("requeued"))
            .collect();
        assert!(
            before <= times[0] && times[0] <= times[1],
            "{before} {times:?}"
        );
        assert!(taken(&shared).is_empty(), "taken once");
    }

    #[test]
    fn a_release_wakes_the_source_only_when_it_sleeps_with_nothing_in_flight() {
        let shared = started(2);
        let notifier = BlockNotifier::new();
        shared.set_notifier(notifier.clone());
        complete(&shared, 0);
        complete(&shared, 1);
        // The source has a block to wait for: no wake-up.
        shared.release(0);
        assert!(!notifier.take_pending());
        // It sees block 0 and has nothing else in flight, but must not sleep: 0 is queued.
        assert!(!shared.lock().idle());
        assert_eq!(taken(&shared), [(0, true)]);
        // Now it sleeps, and the next release wakes it, once.
        assert!(shared.lock().idle());
        shared.release(1);
        assert!(notifier.take_pending());
        complete(&shared, 0);
        shared.release(0);
        assert!(!notifier.take_pending(), "woken already, not asleep again");
        assert_eq!(taken(&shared), [(1, true), (0, true)]);
    }

    #[test]
    fn a_failed_requeue_reaches_the_source_and_wakes_it() {
        let shared = started(2);
        let notifier = BlockNotifier::new();
        shared.set_notifier(notifier.clone());
        // Block 0 is still with the device: giving it back again is refused.
        shared.release(0);
        assert!(notifier.take_pending());
        let mut into = Vec::new();
        shared.lock().take_requeued(&mut into);
        assert_eq!(into.len(), 1);
        let error = into[0].outcome.as_ref().expect_err("refused").to_string();
        assert!(error.contains("sim-adc"), "{error}");
    }

    #[test]
    fn a_block_released_after_stop_stays_with_the_cpu() {
        let shared = started(1);
        complete(&shared, 0);
        shared.lock().stop().expect("stop");
        shared.release(0);
        assert!(taken(&shared).is_empty());
    }
}

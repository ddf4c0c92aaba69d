//! Loss accounting: how many samples a device lost (RX overruns) or had nothing to send for
//! (TX underruns), and from what evidence.
//!
//! Mainline IIO keeps no overrun counter: a continuously clocked ADC that finds no block queued
//! drops its samples silently, and a DAC with nothing queued outputs a gap. Every transport
//! therefore runs the same [`LossMeter`] beside the block cycle. It models the device as
//! working through the queued blocks back to back at its sample rate and infers loss from two
//! kinds of evidence, both [`LossEvidence::Estimate`]:
//!
//! - **starvation**: the time during which no block was queued to the kernel. The consumer of
//!   the blocks knows exactly when it queued one; the device ran dry when the last queued block
//!   completed. Each such interval is one overrun (RX) or underrun (TX), and the samples lost are
//!   its length times the device's rate (unknown without a rate: then only the interval and its
//!   length are counted);
//! - **completion timing** (RX, with a known rate): a block that completes later than the samples
//!   before it allow — by more than [`LossMeter::timing_tolerance`] — means the device lost
//!   samples although the queue never ran empty (a kernel or DMA stall).
//!
//! Better evidence, where a device has it, replaces the estimate in what is reported: the
//! simulator counts its losses [`LossEvidence::Exact`]ly, and Analog Devices' HDL cores latch
//! over/underflow in a status register ([`LossEvidence::HardwareStatus`]). The estimate is
//! always computed as well, so the two can be compared.
//!
//! All times are monotonic nanoseconds ([`monotonic_ns`]), passed in by the caller, so the meter
//! is deterministic under test.

pub use crate::vocabulary::LossEvidence;
use std::collections::VecDeque;

/// Why the meter found a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCause {
    /// No block was queued to the kernel for a while.
    Starvation,
    /// A block completed later than the device's rate allows, with blocks queued.
    Timing,
}

/// One loss found by a [`LossMeter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    /// How it was found.
    pub cause: LossCause,
    /// How long the device went without a block (starvation) or how late the block was
    /// (timing), in nanoseconds.
    pub duration_ns: u64,
    /// Samples lost: `duration × rate`, rounded; `None` when the device's rate is unknown.
    pub samples: Option<u64>,
}

/// What one completion revealed ([`LossMeter::completed`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompletionLoss {
    /// The block came later than the device's rate allows (RX, a stall with blocks queued):
    /// samples lost before its data.
    pub before: Option<Loss>,
    /// RX: the device completed this block before the next one was queued — the consumer
    /// requeued a block while this completion was not collected yet, so nothing said the device
    /// had run dry: samples lost after its data, before the next block's.
    pub after: Option<Loss>,
}

/// Running totals of a [`LossMeter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossTotals {
    /// Losses found (each starvation interval or late completion is one).
    pub events: u64,
    /// Samples lost, summed over the events whose count is known.
    pub samples: u64,
    /// Time during which no block was queued to the kernel while streaming, in nanoseconds.
    pub starved_ns: u64,
}

/// The estimate of a device's loss from the block cycle's timing (see the module
/// documentation).
///
/// The caller reports every event of the cycle as it happens: [`Self::start`] when the device
/// is enabled with the blocks already queued, [`Self::queued`] for every later enqueue,
/// [`Self::completed`] when a block's completion is seen. The losses come back from those calls
/// and accumulate in [`Self::totals`].
#[derive(Debug, Clone)]
pub struct LossMeter {
    /// Samples per second, when known.
    rate: Option<f64>,
    /// For each block queued to the kernel, oldest first: its sample count, when the device
    /// model finishes it (with a known rate), and when it was queued.
    queue: VecDeque<(u64, Option<u64>, u64)>,
    /// When the device ran out of blocks (the end of the last block), while none is queued.
    idle_since: Option<u64>,
    /// The model's end of the last block queued (with a known rate).
    busy_until: Option<u64>,
    started: bool,
    /// TX: completions are collected only when a block is needed back, so the device's idle
    /// time comes from the model; RX: from the completions, which are waited for.
    output: bool,
    totals: LossTotals,
}

impl LossMeter {
    /// A meter for an input (RX) device running at `rate` samples/s (`None` or a
    /// non-positive or non-finite rate: unknown).
    pub fn input(rate: Option<f64>) -> LossMeter {
        Self::new(rate, false)
    }

    /// A meter for an output (TX) device running at `rate` samples/s.
    pub fn output(rate: Option<f64>) -> LossMeter {
        Self::new(rate, true)
    }

    fn new(rate: Option<f64>, output: bool) -> LossMeter {
        LossMeter {
            output,
            rate: rate.filter(|r| r.is_finite() && *r > 0.0),
            queue: VecDeque::new(),
            idle_since: None,
            busy_until: None,
            started: false,
            totals: LossTotals::default(),
        }
    }

    /// The device's rate, when known.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// The time `samples` take at the device's rate, in nanoseconds (`as` saturates: a time
    /// beyond u64 nanoseconds, 584 years, reads as u64::MAX).
    #[allow(clippy::cast_possible_truncation)]
    fn duration_of(&self, samples: u64) -> Option<u64> {
        self.rate.map(|r| (samples as f64 / r * 1e9).round() as u64)
    }

    /// The samples `ns` nanoseconds hold at the device's rate (`as` saturates, as above).
    #[allow(clippy::cast_possible_truncation)]
    fn samples_in(&self, ns: u64) -> Option<u64> {
        self.rate.map(|r| (ns as f64 * r / 1e9).round() as u64)
    }

    /// How much later than the model a completion must come to count as a timing loss: two
    /// blocks' duration plus 10 ms. A completion is seen when the consumer is woken, which on
    /// a loaded machine can be late by a scheduling delay of several milliseconds; the margin
    /// keeps such delays from being reported as lost samples, at the price of not seeing
    /// stalls shorter than that (they are the rare case: a DMA or kernel stall is long).
    pub fn timing_tolerance(&self, block_samples: u64) -> Option<u64> {
        self.duration_of(block_samples).map(|d| 2 * d + 10_000_000)
    }

    fn record(&mut self, cause: LossCause, duration_ns: u64) -> Loss {
        let samples = self.samples_in(duration_ns);
        self.totals.events += 1;
        self.totals.samples += samples.unwrap_or(0);
        Loss {
            cause,
            duration_ns,
            samples,
        }
    }

    fn push(&mut self, now: u64, samples: u64) {
        let end = self.duration_of(samples).map(|d| {
            let begin = self.busy_until.map_or(now, |b| b.max(now));
            begin + d
        });
        self.busy_until = end;
        self.queue.push_back((samples, end, now));
    }

    /// The device was enabled at `now` with `blocks` blocks of `samples` each queued (RX), or
    /// is about to receive its first block (TX: call with `blocks` = 0). Resets the model, not
    /// the totals.
    pub fn start(&mut self, now: u64, blocks: usize, samples: u64) {
        self.queue.clear();
        self.busy_until = None;
        self.idle_since = None;
        self.started = blocks > 0;
        for _ in 0..blocks {
            self.push(now, samples);
        }
    }

    /// A block of `samples` was queued to the kernel at `now`. If none was queued before it,
    /// the device has been idle since the last one ended: that interval is returned as a
    /// starvation loss (the very first block of a TX stream excepted).
    pub fn queued(&mut self, now: u64, samples: u64) -> Option<Loss> {
        let mut loss = None;
        if !self.started {
            // The stream begins with this block: nothing was due before it.
            self.started = true;
        } else {
            // Idle since the last block ended: as seen (every completion collected), or, on
            // TX, as the model has it (the device drained its queue while nobody looked). RX
            // completions are waited for, so one not seen yet has not happened: a device
            // behind the model is a timing matter, checked when the completion comes.
            let idle_since = self
                .idle_since
                .or_else(|| self.busy_until.filter(|&b| self.output && b < now));
            if let Some(since) = idle_since {
                // With a known rate, an interval shorter than half a sample lost nothing (the
                // device had its next block in time, the consumer just saw the completion
                // before the requeue); without one, any interval may have.
                loss = self.starved(now.saturating_sub(since));
                // Blocks the model still holds (TX completions not collected yet) ended by
                // `since`; they stay in the queue so that their completions, when collected,
                // are matched in order.
            }
        }
        self.idle_since = None;
        self.push(now, samples);
        loss
    }

    /// The oldest queued block's completion was seen at `now` (the device's completion time
    /// where the kernel gives it). On RX with a known rate, a completion later than the model
    /// allows by more than [`Self::timing_tolerance`] is a timing loss before the block (RX
    /// completions are waited for; a TX sink looks at them only when it needs a block back, so
    /// their lateness says nothing). On RX, a next block queued only after `now` is a
    /// starvation loss after it.
    pub fn completed(&mut self, now: u64) -> CompletionLoss {
        let Some((samples, end, _)) = self.queue.pop_front() else {
            // A completion the model did not expect (the queue was cleared by a starvation
            // interval already accounted for).
            return CompletionLoss::default();
        };
        let before = self.completion_timing(now, samples, end);
        let seen = if self.output {
            end.unwrap_or(now).min(now)
        } else {
            now
        };
        let mut after = None;
        if self.queue.is_empty() {
            self.idle_since = Some(seen);
        } else if let Some(&(_, _, queued_at)) = self.queue.front()
            && !self.output
            && queued_at > seen
        {
            // The requeue came before this completion was collected, so `queued` saw blocks
            // out and no idle device; the device had nothing from `seen` until the requeue.
            after = self.starved(queued_at - seen);
        }
        CompletionLoss { before, after }
    }

    /// `ns` of starvation: counted in the totals, and a loss unless, with a known rate, it is
    /// shorter than half a sample (the device had its next block in time).
    fn starved(&mut self, ns: u64) -> Option<Loss> {
        self.totals.starved_ns += ns;
        (ns > 0 && self.samples_in(ns) != Some(0)).then(|| self.record(LossCause::Starvation, ns))
    }

    /// The timing check of a completion seen at `now` of a block of `samples` the model ends at
    /// `end`, moving the model to the device's pace.
    fn completion_timing(&mut self, now: u64, samples: u64, end: Option<u64>) -> Option<Loss> {
        let check_timing = !self.output;
        let mut loss = None;
        if let Some(end) = end {
            if now < end {
                // Faster than the nominal rate (or the model started late): the seen time is
                // the truth; move the rest of the queue earlier by the difference.
                self.shift_earlier(end - now);
            } else {
                let late = now - end;
                let tolerance = self.timing_tolerance(samples).unwrap_or(u64::MAX);
                if check_timing && late > tolerance {
                    loss = Some(self.record(LossCause::Timing, late));
                }
                if !self.output {
                    // An RX completion is waited for, so it is seen soon after it happens: the
                    // device is behind the model (a restart after idle time begins at the
                    // device's next sample slot, a clock a little slower than nominal), and
                    // the blocks behind this one are too.
                    for (_, e, _) in self.queue.iter_mut() {
                        *e = e.map(|e| e + late);
                    }
                    self.busy_until = self.busy_until.map(|b| b + late);
                }
            }
        }
        loss
    }

    fn shift_earlier(&mut self, by: u64) {
        for (_, e, _) in self.queue.iter_mut() {
            *e = e.map(|e| e.saturating_sub(by));
        }
        self.busy_until = self.busy_until.map(|b| b.saturating_sub(by));
    }

    /// Blocks queued to the kernel, as the meter counts them.
    pub fn queued_blocks(&self) -> usize {
        self.queue.len()
    }

    /// The totals so far; an interval of starvation still going on at `now` is included in
    /// `starved_ns` (not yet in the events: its end decides its size).
    pub fn totals_at(&self, now: u64) -> LossTotals {
        let mut t = self.totals;
        if self.started
            && let Some(since) = self.idle_since.or_else(|| {
                self.busy_until
                    .filter(|&b| self.output && b < now && !self.queue.is_empty())
            })
        {
            t.starved_ns += now.saturating_sub(since);
        }
        t
    }

    /// The totals of the losses found so far.
    pub fn totals(&self) -> LossTotals {
        self.totals
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock of the block timestamps, the same one the
/// kernel's timestamps use when `current_timestamp_clock` is `monotonic`.
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn no_loss_while_blocks_stay_queued() {
        // 1 MS/s, 1000-sample blocks: 1 ms each. Two blocks queued, each requeued as soon as
        // it completes.
        let mut m = LossMeter::input(Some(1e6));
        m.start(0, 2, 1000);
        for k in 1..100u64 {
            assert_eq!(m.completed(k * MS), CompletionLoss::default(), "block {k}");
            assert_eq!(m.queued(k * MS, 1000), None, "requeue {k}");
        }
        assert_eq!(m.totals(), LossTotals::default());
    }

    #[test]
    fn starvation_is_one_overrun_of_its_length_times_the_rate() {
        let mut m = LossMeter::input(Some(1e6));
        m.start(0, 2, 1000);
        assert_eq!(m.completed(MS), CompletionLoss::default());
        assert_eq!(m.completed(2 * MS), CompletionLoss::default());
        // Nothing queued from 2 ms to 7.5 ms: 5500 samples lost.
        let loss = m.queued(7 * MS + MS / 2, 1000).expect("a loss");
        assert_eq!(loss.cause, LossCause::Starvation);
        assert_eq!(loss.duration_ns, 5 * MS + MS / 2);
        assert_eq!(loss.samples, Some(5500));
        // The second block queued at once after it: no second loss.
        assert_eq!(m.queued(7 * MS + MS / 2 + 10, 1000), None);
        let t = m.totals();
        assert_eq!(
            (t.events, t.samples, t.starved_ns),
            (1, 5500, 5 * MS + MS / 2)
        );
    }

    #[test]
    fn idle_time_starts_when_rx_sees_the_completion_and_when_tx_models_it() {
        // The last block's completion is seen at 5 ms, 3 ms after the model's end (within the
        // tolerance: no timing loss). RX waits for completions, so it went idle at 5 ms.
        let mut m = LossMeter::input(Some(1e6));
        m.start(0, 2, 1000);
        m.completed(MS);
        assert_eq!(m.completed(5 * MS), CompletionLoss::default());
        let loss = m.queued(6 * MS, 1000).expect("a loss");
        assert_eq!(loss.samples, Some(1000), "idle from 5 ms to 6 ms");
        // TX collects completions late: idle from the model's end, 2 ms.
        let mut m = LossMeter::output(Some(1e6));
        m.start(0, 0, 0);
        m.queued(0, 1000);
        m.queued(0, 1000);
        m.completed(MS);
        m.completed(5 * MS);
        let loss = m.queued(6 * MS, 1000).expect("an underrun");
        assert_eq!(loss.samples, Some(4000), "idle from 2 ms to 6 ms");
    }

    #[test]
    fn unknown_rate_counts_the_interval_without_samples() {
        let mut m = LossMeter::input(None);
        m.start(0, 1, 1000);
        assert_eq!(m.completed(MS), CompletionLoss::default());
        let loss = m.queued(4 * MS, 1000).expect("a loss");
        assert_eq!(loss.samples, None);
        assert_eq!(loss.duration_ns, 3 * MS);
        assert_eq!(m.totals().events, 1);
        assert_eq!(m.totals().samples, 0);
        // A block queued while another is still out (not seen complete) is no loss.
        assert_eq!(m.queued(4 * MS + 1, 1000), None);
    }

    #[test]
    fn a_requeue_before_the_completion_is_collected_still_shows_the_starvation() {
        // One block out at 1 MS/s; the device completes it at 1 ms (the fence's time), but the
        // consumer requeues a block at 5 ms before that completion is collected: `queued` sees
        // a block out and no idle device, the completion shows the device had nothing from 1 ms
        // to 5 ms, after the completed block's data.
        let mut m = LossMeter::input(Some(1e6));
        m.start(0, 1, 1000);
        assert_eq!(m.queued(5 * MS, 1000), None);
        let found = m.completed(MS);
        assert_eq!(found.before, None, "the completed block itself was on time");
        let loss = found.after.expect("the starvation after it");
        assert_eq!(loss.cause, LossCause::Starvation);
        assert_eq!((loss.duration_ns, loss.samples), (4 * MS, Some(4000)));
        // The requeued block runs from 5 ms: on time at 6 ms, and no second loss.
        assert_eq!(m.completed(6 * MS), CompletionLoss::default());
        let t = m.totals();
        assert_eq!((t.events, t.samples, t.starved_ns), (1, 4000, 4 * MS));
        // A requeue before the device's completion is no loss, collected late or not.
        let mut m = LossMeter::input(Some(1e6));
        m.start(0, 1, 1000);
        m.queued(MS / 2, 1000);
        assert_eq!(m.completed(MS), CompletionLoss::default());
        // TX collects completions late: a requeue after the device's end is found by `queued`
        // from the model, not here.
        let mut tx = LossMeter::output(Some(1e6));
        tx.start(0, 0, 0);
        tx.queued(0, 1000);
        tx.queued(5 * MS, 1000)
            .expect("the underrun, from the model");
        assert_eq!(tx.completed(MS).after, None);
    }

    #[test]
    fn stall_with_blocks_queued_is_a_timing_loss() {
        let mut m = LossMeter::input(Some(1e6));
        m.start(0, 4, 1000);
        assert_eq!(m.completed(MS), CompletionLoss::default());
        m.queued(MS, 1000);
        // The next block should end at 2 ms; it ends at 22 ms: 20 ms late, tolerance 12 ms.
        let loss = m.completed(22 * MS).before.expect("a timing loss");
        assert_eq!(loss.cause, LossCause::Timing);
        assert_eq!(loss.samples, Some(20_000));
        // The model moved with it: the next block on time is no loss.
        assert_eq!(m.completed(23 * MS), CompletionLoss::default());
        // A completion late by less than the tolerance is none either.
        assert_eq!(m.completed(35 * MS), CompletionLoss::default());
        // TX does not check timing.
        let mut tx = LossMeter::output(Some(1e6));
        tx.start(0, 0, 0);
        tx.queued(0, 1000);
        tx.queued(0, 1000);
        assert_eq!(tx.completed(50 * MS), CompletionLoss::default());
    }

    #[test]
    fn tx_underrun_from_the_model_without_seen_completions() {
        // A DAC at 1 MS/s: the first block (stream start) is no underrun; the second, queued
        // 5 ms later while the first (1 ms) was never seen complete, is one of 4 ms.
        let mut m = LossMeter::output(Some(1e6));
        m.start(0, 0, 0);
        assert_eq!(m.queued(0, 1000), None);
        let loss = m.queued(5 * MS, 1000).expect("an underrun");
        assert_eq!(loss.samples, Some(4000));
        // Queued back to back from now on: none.
        assert_eq!(m.queued(5 * MS + 10, 1000), None);
        assert_eq!(m.queued(6 * MS, 1000), None);
        // The starvation in progress shows in the totals before it ends.
        m.completed(7 * MS);
        m.completed(8 * MS);
        m.completed(8 * MS);
        assert_eq!(m.totals_at(10 * MS).starved_ns, 4 * MS + 2 * MS);
    }

    #[test]
    fn evidence_names() {
        let names: Vec<String> = [
            LossEvidence::Exact,
            LossEvidence::HardwareStatus,
            LossEvidence::Estimate,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["exact", "hardware status", "estimate"]);
        assert!(monotonic_ns() > 0);
    }
}

//! `latency = "2ms"`: DMA block size and queue depth derived from a latency budget.
//!
//! # The model
//!
//! With `rate` samples/s and blocks of `S` samples, a block lasts `T = S / rate`. Let `L` be
//! the budget, `R` = [`RESCHEDULE`] the time user space takes to run after the DMA interrupt
//! that completes a block, and `m` = [`MARGIN`] the share of the budget kept for what the model
//! leaves out (the consumer's own work, a busy executor, interrupt jitter).
//!
//! - **RX** (`dmabuf_source`): the first sample of a block waits `T` for the block to fill, then
//!   up to `R` until the source runs and hands the block to its first consumer. The budget
//!   bounds that age of a block's oldest sample when it reaches the consumer, while user space
//!   keeps up: `T + R ≤ L·(1 − m)`, so `T = L·(1 − m) − R`. The depth is what keeps the ADC
//!   from overrunning while user space wakes up: the `N − 1` blocks still queued after a
//!   completion must last the wake-up with margin, `(N − 1)·T ≥ R·(1 + m)`, so
//!   `N = 1 + ⌈R·(1 + m) / T⌉` (at least 2). The blocks behind the one filling add latency only
//!   when the consumer falls behind, and then the measured latency shows it.
//! - **TX** (`dmabuf_sink`): a sample enqueued behind a full queue leaves the DAC after every
//!   block ahead of it and its own: `N·T`. The budget bounds that: `N·T ≤ L·(1 − m)`, with the
//!   same underrun condition `(N − 1)·T ≥ R·(1 + m)`; so `N = ⌈U / (U − R·(1 + m))⌉` (at least
//!   2) and `T = U / N`, with `U = L·(1 − m)`.
//!
//! `S` is rounded **down** to the device's transfer alignment (whole scans, a multiple of
//! `length_align_bytes`, whole items of the block's `item`), so the bound holds; the depth is
//! then computed from the rounded block. A budget that cannot be met is refused: below
//! `R / (1 − m)` on RX, below `R·(1 + m) / (1 − m)` on TX, a block smaller than one aligned
//! transfer at this rate, more than 1024 blocks. `latency` together with `samples_per_block` or
//! `blocks` is refused as well (GNU Radio's and libiio's users set the buffer size themselves:
//! two ways of sizing the same buffer must not silently override each other).
//!
//! # Where the rate comes from
//!
//! The simulator's rate is its `sample_rate` (an unpaced simulator has none: refused at load).
//! A real device's is the one it accepted, read back from its sampling-frequency attribute at
//! build; at load time (`weir check`) the sizes are derived from `sample_rate` when it is set,
//! else from the rate the device reports now, and the build derives them again from the rate
//! read back (a driver may round the rate it is asked for). A device without the attribute is
//! refused at load; a device that cannot be found at load time is left to the build, which
//! refuses it (missing device) or derives the sizes there, naming `latency` if it cannot.

use std::time::Duration;

use weir_core::{BuildError, ItemType, Params};
use weir_iio::transport::Direction;

/// How long user space takes to run after the DMA interrupt that completes a block, budgeted
/// by the model (see the module documentation). 1 ms: what the xilinx-dma discussion reports
/// on Zynq (the completion interrupt's tasklet, then the woken thread scheduled), the slowest
/// of the boards weir targets; a desktop wakes in tens of µs, so the constant errs on the side
/// of deeper queues, never of overruns.
pub const RESCHEDULE: Duration = Duration::from_millis(1);

/// Share of the budget kept free (and added to [`RESCHEDULE`] when sizing the depth): the
/// consumer's own work and scheduling jitter come out of it.
pub const MARGIN: f64 = 0.25;

/// Largest `samples_per_block` and `blocks` the parameters accept; a derived size obeys the
/// same limits.
const MAX_SAMPLES: usize = 16_777_216;
const MAX_BLOCKS: usize = 1024;

/// The block size and depth a block streams with, and how they were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSizing {
    /// Samples (scans) per DMA block.
    pub samples_per_block: usize,
    /// DMA blocks: the queue depth.
    pub blocks: usize,
    /// What the sizes came from when a budget chose them (for the report and the log).
    pub derived: Option<String>,
}

/// The `latency` parameter: `None` when not set (`""`), else the budget, refused when it does
/// not parse or comes together with `samples_per_block` or `blocks`.
pub fn budget(p: &Params) -> Result<Option<Duration>, BuildError> {
    let text = p.str("latency")?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let budget = humantime::parse_duration(text).map_err(|e| {
        BuildError::param(
            "latency",
            format!("`{text}` is not a duration ({e}); write e.g. \"2ms\" or \"500us\""),
        )
    })?;
    if let Some(other) = ["samples_per_block", "blocks"]
        .into_iter()
        .find(|n| p.is_set(n))
    {
        return Err(BuildError::param(
            "latency",
            format!(
                "`latency` derives `samples_per_block` and `blocks` from the device's rate; \
                 `{other}` is set too: remove `latency`, or remove `samples_per_block` and `blocks`"
            ),
        ));
    }
    Ok(Some(budget))
}

/// The samples per transfer a device accepts: whole scans of `scan_bytes`, a multiple of
/// `align_bytes` (`length_align_bytes`, 1 when it has none) and of whole `item`s.
pub fn align_samples(scan_bytes: usize, align_bytes: usize, item: ItemType) -> usize {
    let scan = scan_bytes.max(1);
    let bytes = lcm(lcm(scan, align_bytes.max(1)), item.size().max(1));
    bytes / scan
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

/// The sizes for a budget of `budget` at `rate` samples/s with transfers of multiples of
/// `align` samples, for `direction` (see the module documentation). `Err`: why the budget
/// cannot be met, for the `latency` parameter's error.
pub fn derive(
    direction: Direction,
    budget: Duration,
    rate: f64,
    align: usize,
) -> Result<BlockSizing, String> {
    let l = budget.as_secs_f64();
    let r = RESCHEDULE.as_secs_f64();
    let usable = l * (1.0 - MARGIN);
    let wake = r * (1.0 + MARGIN);
    let ms = |s: f64| format!("{:.3} ms", s * 1e3);
    // The block's duration before rounding to the device's alignment.
    let target = match direction {
        Direction::In => {
            if usable <= r {
                return Err(format!(
                    "{} cannot be met: a block waits for user space up to the kernel's \
                     rescheduling time ({}) after its interrupt, and {:.0} % of the budget is \
                     kept as margin, so an RX budget must exceed {}",
                    humantime::format_duration(budget),
                    ms(r),
                    MARGIN * 100.0,
                    ms(r / (1.0 - MARGIN))
                ));
            }
            usable - r
        }
        Direction::Out => {
            if usable <= wake {
                return Err(format!(
                    "{} cannot be met: the blocks queued behind a completed one must outlast \
                     the kernel's rescheduling time ({}, + {:.0} % margin) and all of them fit \
                     in {:.0} % of the budget, so a TX budget must exceed {}",
                    humantime::format_duration(budget),
                    ms(r),
                    MARGIN * 100.0,
                    (1.0 - MARGIN) * 100.0,
                    ms(wake / (1.0 - MARGIN))
                ));
            }
            let n = ((usable / (usable - wake)) - 1e-9).ceil().max(2.0);
            usable / n
        }
    };
    let align = align.max(1);
    let wanted = (target * rate).floor();
    let samples = ((wanted.min(MAX_SAMPLES as f64) as usize) / align) * align;
    if samples == 0 {
        return Err(format!(
            "{} cannot be met at {rate} samples/s: a block of {} holds {wanted} samples, fewer \
             than the device's smallest transfer of {align} samples (whole scans, \
             length_align_bytes, whole items)",
            humantime::format_duration(budget),
            ms(target),
        ));
    }
    let block = samples as f64 / rate;
    let blocks = (1.0 + (wake / block - 1e-9).ceil()).max(2.0);
    if blocks > MAX_BLOCKS as f64
        || (direction == Direction::Out && blocks * block > usable * (1.0 + 1e-9))
    {
        return Err(format!(
            "{} cannot be met at {rate} samples/s: blocks of {samples} samples ({}, the \
             device's alignment is {align} samples) would need {blocks} of them to outlast the \
             rescheduling time, {}",
            humantime::format_duration(budget),
            ms(block),
            if blocks > MAX_BLOCKS as f64 {
                format!("more than {MAX_BLOCKS}")
            } else {
                format!(
                    "which exceeds {:.0} % of the budget",
                    (1.0 - MARGIN) * 100.0
                )
            }
        ));
    }
    let blocks = blocks as usize;
    let derived = format!(
        "{} -> {samples} samples x {blocks} blocks (block {} at {rate} Hz, reschedule {}, \
         margin {:.0} %)",
        humantime::format_duration(budget),
        ms(block),
        ms(r),
        MARGIN * 100.0
    );
    Ok(BlockSizing {
        samples_per_block: samples,
        blocks,
        derived: Some(derived),
    })
}

/// The sizes a block streams with: `samples_per_block` and `blocks` as given, or derived from
/// `latency` at `rate` (`Err` naming `latency` when the rate is unknown: `rate_unknown` says
/// why) with transfers of multiples of `align` samples.
pub fn block_sizing(
    p: &Params,
    direction: Direction,
    rate: Option<f64>,
    align: usize,
    rate_unknown: &str,
) -> Result<BlockSizing, BuildError> {
    let Some(budget) = budget(p)? else {
        return Ok(BlockSizing {
            samples_per_block: p.positive("samples_per_block")?,
            blocks: p.positive("blocks")?,
            derived: None,
        });
    };
    let Some(rate) = rate.filter(|r| *r > 0.0) else {
        return Err(BuildError::param(
            "latency",
            format!(
                "a latency budget needs the device's rate to size the blocks, and {rate_unknown}: \
                 set `samples_per_block` and `blocks` instead"
            ),
        ));
    };
    derive(direction, budget, rate, align).map_err(|e| BuildError::param("latency", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_at_one_megasample_two_milliseconds() {
        // T = 2 ms · 0.75 − 1 ms = 0.5 ms = 500 samples; N = 1 + ⌈1.25 ms / 0.5 ms⌉ = 4.
        let s = derive(Direction::In, Duration::from_millis(2), 1e6, 1).unwrap();
        assert_eq!((s.samples_per_block, s.blocks), (500, 4));
        // Rounded down to the alignment: 496 samples (0.496 ms), N = 1 + ⌈2.52⌉ = 4.
        let s = derive(Direction::In, Duration::from_millis(2), 1e6, 16).unwrap();
        assert_eq!((s.samples_per_block, s.blocks), (496, 4));
    }

    #[test]
    fn tx_at_one_megasample_two_milliseconds() {
        // U = 1.5 ms, W = 1.25 ms: N = ⌈1.5 / 0.25⌉ = 6, T = 0.25 ms = 250 samples.
        let s = derive(Direction::Out, Duration::from_millis(2), 1e6, 1).unwrap();
        assert_eq!((s.samples_per_block, s.blocks), (250, 6));
    }

    #[test]
    fn budgets_that_cannot_be_met() {
        let e = derive(Direction::In, Duration::from_millis(1), 1e6, 1).unwrap_err();
        assert!(e.contains("rescheduling time"), "{e}");
        let e = derive(Direction::Out, Duration::from_micros(1600), 1e6, 1).unwrap_err();
        assert!(e.contains("rescheduling time"), "{e}");
        // 0.5 ms at 1 kS/s is 0 samples.
        let e = derive(Direction::In, Duration::from_millis(2), 1e3, 1).unwrap_err();
        assert!(e.contains("smallest transfer"), "{e}");
        // 0.5 ms at 1 MS/s, aligned to 1024 samples: 0.
        let e = derive(Direction::In, Duration::from_millis(2), 1e6, 1024).unwrap_err();
        assert!(e.contains("smallest transfer"), "{e}");
    }

    #[test]
    fn alignment_in_samples() {
        assert_eq!(align_samples(4, 1, ItemType::Ci16), 1);
        assert_eq!(align_samples(4, 64, ItemType::Ci16), 16);
        assert_eq!(align_samples(4, 1, ItemType::Cf32), 2);
        assert_eq!(align_samples(6, 4, ItemType::I16), 2);
    }
}

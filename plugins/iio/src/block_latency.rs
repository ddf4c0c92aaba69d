//! The achieved latency of the DMA blocks, measured per block with `CLOCK_MONOTONIC`
//! ([`weir_iio::loss::monotonic_ns`]) into the block's [`LatencyHistogram`]
//! ([`weir_core::BlockStats::latency_histogram`]), reported as count, p50, p99 and maximum.
//!
//! - **RX** ([`RX_SPAN`]): from the source seeing the kernel's completion of a block (the
//!   clock read taken for the block's `dmabuf_time` tag) to the first consumer letting go of
//!   it (it consumed past the block's end, [`weir_core::MappedBlock::released_by_reader`]) —
//!   or, for a block no reader consumed to its end, to its last reference being dropped. One
//!   record per block delivered.
//! - **TX** ([`TX_SPAN`]): from the sink enqueuing a filled block to the sink seeing its
//!   completion: how long the block's samples waited in the kernel's queue and went out, the
//!   part of the TX latency the budget bounds. One record per block completed (cyclic
//!   transmission records none: its one block never completes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use weir_core::LatencyHistogram;
use weir_iio::loss::monotonic_ns;

/// The span an RX source measures.
pub const RX_SPAN: &str = "completion→release";
/// The span a TX sink measures.
pub const TX_SPAN: &str = "enqueue→completion";

/// Records, once, the time from a block's completion to its first release.
pub struct ReleaseTimer {
    latency: Arc<LatencyHistogram>,
    completed_ns: u64,
    released: AtomicBool,
}

impl ReleaseTimer {
    /// A timer for a block that completed at `completed_ns` (`CLOCK_MONOTONIC`).
    pub fn new(latency: Arc<LatencyHistogram>, completed_ns: u64) -> Self {
        Self {
            latency,
            completed_ns,
            released: AtomicBool::new(false),
        }
    }

    /// The block was released (by a reader, or dropped): the first call records.
    pub fn released(&self) {
        if !self.released.swap(true, Ordering::Relaxed) {
            self.latency
                .record_between(self.completed_ns, monotonic_ns());
        }
    }
}

/// The enqueue time of every TX block in flight, by ring slot: sized once, at start.
pub struct EnqueueTimes {
    latency: Arc<LatencyHistogram>,
    at: Vec<Option<u64>>,
}

impl EnqueueTimes {
    /// Times for the blocks recorded into `latency`.
    pub fn new(latency: Arc<LatencyHistogram>) -> Self {
        Self {
            latency,
            at: Vec::new(),
        }
    }

    /// Make room for `blocks` ring slots (at start, before any block is enqueued).
    pub fn start(&mut self, blocks: usize) {
        self.at = vec![None; blocks];
    }

    /// Block `block` was enqueued now.
    pub fn enqueued(&mut self, block: usize) {
        if let Some(slot) = self.at.get_mut(block) {
            *slot = Some(monotonic_ns());
        }
    }

    /// Block `block` was seen completed now: its span is recorded.
    pub fn completed(&mut self, block: usize) {
        if let Some(start) = self.at.get_mut(block).and_then(Option::take) {
            self.latency.record_between(start, monotonic_ns());
        }
    }
}

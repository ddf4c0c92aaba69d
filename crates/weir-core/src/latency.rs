//! A fixed-memory, lock-free latency histogram, cheap enough to stay on for every DMA block.
//!
//! The DMABUF blocks record, per block, the time between two points of its cycle (RX: the
//! kernel's completion seen by the source → the first consumer's release; TX: enqueue → the
//! completion seen by the sink), read from `CLOCK_MONOTONIC` in nanoseconds. The record is made
//! by whichever thread gets there (an RX block is released on the consumer's thread), while
//! the run report reads the histogram from another: so the buckets are atomics, and recording
//! is one relaxed `fetch_add` and one `fetch_max`, with no allocation and no lock.
//!
//! Why not the `hdrhistogram` crate: its `Histogram::record` takes `&mut self`, so a shared
//! one needs a mutex per record, and its `SyncHistogram` gathers per-thread recorders through
//! a channel that is refreshed by the reader — more machinery than 976 atomic counters.
//!
//! Buckets are log-linear, as HdrHistogram's with 16 sub-buckets per power of two: values
//! below 16 ns are exact, every other value lands in a bucket `2^e/16` wide, and a percentile
//! is reported as its bucket's midpoint — within 1/32 (3.2 %) of the recorded value. Memory:
//! 976 × 8 bytes, allocated once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two (as bits).
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// 16 exact buckets for 0..16, then 16 per power of two from 2^4 to 2^63.
const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;

/// A latency histogram in nanoseconds (see the module documentation).
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    max_ns: AtomicU64,
    /// What the recorded span is, e.g. `completion→release`.
    span: &'static str,
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("span", &self.span)
            .field("summary", &self.summary())
            .finish()
    }
}

fn bucket_of(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros(); // >= SUB_BITS
    let sub = (ns >> (e - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(e - SUB_BITS) * SUB + sub) as usize
}

/// The midpoint of bucket `i`: the value a percentile falling in it is reported as.
fn bucket_value(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let e = (i - SUB) / SUB + u64::from(SUB_BITS);
    let sub = (i - SUB) % SUB;
    let width = 1u64 << (e - u64::from(SUB_BITS));
    let low = (1u64 << e) + sub * width;
    low + width / 2
}

impl LatencyHistogram {
    /// An empty histogram of the span `span` (named in the report).
    pub fn new(span: &'static str) -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_ns: AtomicU64::new(0),
            span,
        }
    }

    /// What the recorded span is.
    pub fn span(&self) -> &'static str {
        self.span
    }

    /// Record one latency of `ns` nanoseconds.
    pub fn record(&self, ns: u64) {
        self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// Record the span from `start_ns` to `end_ns` (the same clock); a clock that went back
    /// (it cannot, for `CLOCK_MONOTONIC`) records 0.
    pub fn record_between(&self, start_ns: u64, end_ns: u64) {
        self.record(end_ns.saturating_sub(start_ns));
    }

    /// Count, p50, p99 and maximum; `None` while nothing was recorded.
    pub fn summary(&self) -> Option<LatencySummary> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return None;
        }
        let at = |q: f64| {
            // The smallest value with at least q of the records at or below it.
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return bucket_value(i);
                }
            }
            bucket_value(BUCKETS - 1)
        };
        let max_ns = self.max_ns.load(Ordering::Relaxed);
        Some(LatencySummary {
            span: self.span,
            count,
            // A bucket's midpoint can lie above the largest value recorded in it.
            p50_ns: at(0.50).min(max_ns),
            p99_ns: at(0.99).min(max_ns),
            max_ns,
        })
    }
}

/// What a [`LatencyHistogram`] holds, as the run report gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// What the span is, e.g. `completion→release`.
    pub span: &'static str,
    /// Latencies recorded (one per DMA block).
    pub count: u64,
    /// Median, in nanoseconds (within 3.2 %).
    pub p50_ns: u64,
    /// 99th percentile, in nanoseconds (within 3.2 %).
    pub p99_ns: u64,
    /// The largest recorded, exact.
    pub max_ns: u64,
}

/// `ns` as text in a readable unit: `850ns`, `12.3µs`, `4.56ms`, `1.20s`.
fn duration_text(ns: u64) -> String {
    let x = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", x / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", x / 1e6)
    } else {
        format!("{:.2}s", x / 1e9)
    }
}

impl fmt::Display for LatencySummary {
    /// `latency(completion→release) p50=12.3µs p99=40.1µs max=88.0µs n=1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency({}) p50={} p99={} max={} n={}",
            self.span,
            duration_text(self.p50_ns),
            duration_text(self.p99_ns),
            duration_text(self.max_ns),
            self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order_within_the_stated_error() {
        for ns in (0..64).flat_map(|e| [1u64 << e, (1u64 << e) + (1u64 << e) / 3, u64::MAX >> e]) {
            let i = bucket_of(ns);
            assert!(i < BUCKETS, "{ns} -> {i}");
            let v = bucket_value(i);
            let err = v.abs_diff(ns) as f64 / ns.max(1) as f64;
            assert!(err <= 1.0 / 32.0 + 1e-12, "{ns} reported as {v}");
        }
        for ns in 0..100_000u64 {
            assert!(bucket_of(ns) <= bucket_of(ns + 1));
        }
    }

    #[test]
    fn percentiles_and_count() {
        let h = LatencyHistogram::new("test");
        assert_eq!(h.summary(), None);
        for ns in 1..=100u64 {
            h.record(ns * 1000);
        }
        let s = h.summary().unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.max_ns, 100_000);
        assert!(s.p50_ns.abs_diff(50_000) <= 50_000 / 32, "{s:?}");
        assert!(s.p99_ns.abs_diff(99_000) <= 99_000 / 32, "{s:?}");
        assert!(s.p50_ns <= s.p99_ns && s.p99_ns <= s.max_ns);
        assert_eq!(
            LatencySummary {
                span: "a→b",
                count: 3,
                p50_ns: 850,
                p99_ns: 12_345,
                max_ns: 4_560_000
            }
            .to_string(),
            "latency(a→b) p50=850ns p99=12.3µs max=4.56ms n=3"
        );
    }
}

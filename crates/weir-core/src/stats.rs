//! Run-time statistics that every weir block keeps and the run report prints.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::latency::{LatencyHistogram, LatencySummary};

/// Counters of one block, shared between the running block and whoever reports on it.
///
/// Item counters are atomics updated once per `work()` call; named counters and notes are for
/// per-DMA-block facts (blocks, overruns, transport in use) and are updated far less often.
#[derive(Debug, Default)]
pub struct BlockStats {
    items_in: AtomicU64,
    items_out: AtomicU64,
    // Whether the block counts its items at all: stock FutureSDR blocks wrapped by weir never
    // call `add_in`/`add_out`, and their zeros must not read as "nothing went through".
    counts_in: AtomicBool,
    counts_out: AtomicBool,
    counters: Mutex<BTreeMap<&'static str, u64>>,
    labels: Mutex<BTreeMap<&'static str, CounterLabel>>,
    notes: Mutex<BTreeMap<&'static str, String>>,
    error: Mutex<Option<String>>,
    // Set once the block's run has ended (its `deinit` returned): a stop that does not come
    // names the blocks without it.
    ended: AtomicBool,
    // The per-DMA-block latency, for the blocks that measure one (the IIO source and sinks).
    latency: OnceLock<Arc<LatencyHistogram>>,
}

impl BlockStats {
    /// Count `n` items consumed from the block's inputs.
    pub fn add_in(&self, n: usize) {
        self.items_in.fetch_add(n as u64, Ordering::Relaxed);
        self.counts_in.store(true, Ordering::Relaxed);
    }

    /// Count `n` items produced on the block's outputs.
    pub fn add_out(&self, n: usize) {
        self.items_out.fetch_add(n as u64, Ordering::Relaxed);
        self.counts_out.store(true, Ordering::Relaxed);
    }

    /// Whether the block has counted consumed items ([`Self::add_in`] called at least once).
    pub fn counts_in(&self) -> bool {
        self.counts_in.load(Ordering::Relaxed)
    }

    /// Whether the block has counted produced items ([`Self::add_out`] called at least once).
    pub fn counts_out(&self) -> bool {
        self.counts_out.load(Ordering::Relaxed)
    }

    /// Items consumed so far.
    pub fn items_in(&self) -> u64 {
        self.items_in.load(Ordering::Relaxed)
    }

    /// Items produced so far.
    pub fn items_out(&self) -> u64 {
        self.items_out.load(Ordering::Relaxed)
    }

    /// Set a named counter (e.g. `overruns`).
    pub fn set_counter(&self, name: &'static str, value: u64) {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, value);
    }

    /// A named counter, if the block keeps it.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
    }

    /// All named counters, sorted by name.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    /// Say how counter `name` is known: `approximate` values are printed `name≈value`, and an
    /// `evidence` after it in parentheses (`overruns=3 (estimate)`). A loss counter that was
    /// inferred must never read as one that was counted.
    pub fn label_counter(&self, name: &'static str, label: CounterLabel) {
        self.labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, label);
    }

    /// The labels of the counters that have one, sorted by counter name.
    pub fn counter_labels(&self) -> Vec<(&'static str, CounterLabel)> {
        self.labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Set a named note (e.g. `transport = sim`).
    pub fn set_note(&self, name: &'static str, value: impl Into<String>) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, value.into());
    }

    /// All notes, sorted by name.
    pub fn notes(&self) -> Vec<(&'static str, String)> {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Record why the block failed; the run error then names the block and this message
    /// (the runtime itself only says that "a block raised an error").
    pub fn set_error(&self, message: impl Into<String>) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_none() {
            *e = Some(message.into());
        }
    }

    /// Pass `result` through, recording its error (see [`Self::set_error`]); blocks wrap
    /// their `init`/`work` results in it.
    pub fn record<T>(
        &self,
        result: futuresdr::runtime::Result<T>,
    ) -> futuresdr::runtime::Result<T> {
        if let Err(e) = &result {
            self.set_error(format!("{e:#}"));
        }
        result
    }

    /// Record that the block's run has ended (its `deinit` returned, with or without an
    /// error); [`crate::Guarded`] does it for every block weir builds.
    pub fn set_ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    /// Whether the block's run has ended (see [`Self::set_ended`]).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// The block's latency histogram, created on the first call with the span it measures
    /// (e.g. `completion→release`; later calls return the same histogram whatever they name).
    /// The block records into it; [`Self::latency`] and the run report read it.
    pub fn latency_histogram(&self, span: &'static str) -> Arc<LatencyHistogram> {
        self.latency
            .get_or_init(|| Arc::new(LatencyHistogram::new(span)))
            .clone()
    }

    /// The latency measured so far (count, p50, p99, maximum), when the block measures one and
    /// has recorded at least one.
    pub fn latency(&self) -> Option<LatencySummary> {
        self.latency.get().and_then(|h| h.summary())
    }

    /// The recorded failure, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How a counter's value is known (see [`BlockStats::label_counter`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterLabel {
    /// The value is an estimate: printed with `≈`.
    pub approximate: bool,
    /// Where it comes from, printed after it in parentheses.
    pub evidence: Option<String>,
}

impl CounterLabel {
    /// `name=value`, `name≈value`, with ` (evidence)` when there is one.
    pub fn format(label: Option<&CounterLabel>, name: &str, value: u64) -> String {
        let Some(label) = label else {
            return format!("{name}={value}");
        };
        let sign = if label.approximate { '≈' } else { '=' };
        match &label.evidence {
            Some(e) => format!("{name}{sign}{value} ({e})"),
            None => format!("{name}{sign}{value}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_counters_say_how_they_are_known() {
        let s = BlockStats::default();
        s.set_counter("overruns", 3);
        s.label_counter(
            "overruns",
            CounterLabel {
                approximate: false,
                evidence: Some("estimate".into()),
            },
        );
        s.label_counter(
            "dropped_samples",
            CounterLabel {
                approximate: true,
                evidence: None,
            },
        );
        let labels = s.counter_labels();
        let find = |n: &str| labels.iter().find(|(k, _)| *k == n).map(|(_, l)| l);
        assert_eq!(
            CounterLabel::format(find("overruns"), "overruns", 3),
            "overruns=3 (estimate)"
        );
        assert_eq!(
            CounterLabel::format(find("dropped_samples"), "dropped_samples", 49152),
            "dropped_samples≈49152"
        );
        assert_eq!(
            CounterLabel::format(find("blocks"), "blocks", 7),
            "blocks=7"
        );
    }
}

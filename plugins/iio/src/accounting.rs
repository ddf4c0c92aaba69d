//! Loss accounting of the DMABUF sinks: TX underruns from the best evidence at hand (see
//! `weir_iio::loss`), shared by the copying and the zero-copy sink.

use futuresdr::runtime::Pmt;
use weir_core::{BlockStats, CounterLabel};
use weir_iio::XflowMonitor;
use weir_iio::loss::{LossEvidence, LossMeter, monotonic_ns};
use weir_iio::transport::Transport;

/// The labels of loss counters: an estimate is printed as one, never as a count.
pub(crate) fn label(evidence: LossEvidence, approximate: bool) -> CounterLabel {
    CounterLabel {
        approximate,
        evidence: Some(evidence.to_string()),
    }
}

/// A sink's underrun accounting: the transport's own counts where it has them (the simulated
/// DAC), else the estimate from the times no block was queued; the estimate is always kept too.
pub(crate) struct TxLoss {
    meter: LossMeter,
    evidence: LossEvidence,
    sample_size: usize,
    xflow: Option<XflowMonitor>,
}

impl TxLoss {
    /// Accounting for `transport`, whose device runs at `rate` samples/s when known; labels
    /// the counters in `stats`.
    pub(crate) fn new(transport: &dyn Transport, rate: Option<f64>, stats: &BlockStats) -> Self {
        let evidence = transport.loss_evidence().unwrap_or(LossEvidence::Estimate);
        stats.set_note("loss_evidence", evidence.to_string());
        stats.label_counter("underruns", label(evidence, false));
        stats.label_counter("est_underruns", label(LossEvidence::Estimate, false));
        stats.label_counter("est_underrun_samples", label(LossEvidence::Estimate, true));
        let meter = LossMeter::output(rate);
        if meter.rate().is_none() {
            // Without the rate, idle time is an underrun only for a DAC on its own clock.
            let unknown = label(LossEvidence::Estimate, false);
            let unknown = CounterLabel {
                evidence: Some(crate::dmabuf_source::UNKNOWN_RATE.to_string()),
                ..unknown
            };
            stats.label_counter("est_underruns", unknown.clone());
            if evidence == LossEvidence::Estimate {
                stats.label_counter("underruns", unknown);
                stats.set_note("loss_evidence", crate::dmabuf_source::UNKNOWN_RATE);
            }
        }
        TxLoss {
            meter,
            evidence,
            sample_size: transport.sample_size().max(1),
            xflow: None,
        }
    }

    /// The device latches underflows in a status register: its events are the reported
    /// underruns (evidence `hardware status`), unless the transport counts exactly.
    pub(crate) fn set_xflow(&mut self, xflow: Option<XflowMonitor>, stats: &BlockStats) {
        if xflow.is_some() && self.evidence != LossEvidence::Exact {
            self.evidence = LossEvidence::HardwareStatus;
            stats.set_note("loss_evidence", self.evidence.to_string());
            stats.label_counter("underruns", label(self.evidence, false));
        }
        self.xflow = xflow;
    }

    /// The device was started: the stream begins with the first block queued.
    pub(crate) fn started(&mut self) -> weir_iio::Result<()> {
        if let Some(x) = self.xflow.as_mut() {
            // A DAC with nothing queued yet underflows: no loss of this stream.
            x.clear()?;
        }
        self.meter.start(monotonic_ns(), 0, 0);
        Ok(())
    }

    /// A block of `bytes` was queued to the device just now.
    pub(crate) fn queued(&mut self, bytes: usize) {
        let _ = self
            .meter
            .queued(monotonic_ns(), (bytes / self.sample_size) as u64);
    }

    /// The oldest queued block's completion was collected just now.
    pub(crate) fn completed(&mut self) -> weir_iio::Result<()> {
        let _ = self.meter.completed(monotonic_ns());
        if let Some(x) = self.xflow.as_mut() {
            x.check()?;
        }
        Ok(())
    }

    /// Publish the underrun counters into `stats`.
    pub(crate) fn publish(&self, transport: &dyn Transport, stats: &BlockStats) {
        let est = self.meter.totals_at(monotonic_ns());
        let rate_known = self.meter.rate().is_some();
        // Beside an exact count, an estimate without the device's rate says nothing (an
        // unpaced simulator takes blocks as they come: its idle time is no underrun).
        if self.evidence != LossEvidence::Exact || rate_known {
            stats.set_counter("starved_us", est.starved_ns / 1000);
            stats.set_counter("est_underruns", est.events);
            if rate_known {
                stats.set_counter("est_underrun_samples", est.samples);
            }
        }
        let underruns = match self.evidence {
            LossEvidence::Estimate => est.events,
            LossEvidence::HardwareStatus => self.xflow.as_ref().map_or(0, XflowMonitor::events),
            LossEvidence::Exact => transport.counters().underruns,
        };
        stats.set_counter("underruns", underruns);
    }
}

/// The message output of the DMABUF sinks that says when each block was sent.
pub const COMPLETED_PORT: &str = "completed";

/// The `completed` message of a sent block: a map with `sequence` (the block's number in the
/// stream), `completed_ns` (when its completion was collected, `CLOCK_MONOTONIC` ns; no later
/// than the sink next needed a block back) and `bytes` (its `bytes_used`).
pub fn completed_message(sequence: u64, completed_ns: u64, bytes: usize) -> Pmt {
    Pmt::MapStrPmt(
        [
            ("sequence".to_string(), Pmt::U64(sequence)),
            ("completed_ns".to_string(), Pmt::U64(completed_ns)),
            ("bytes".to_string(), Pmt::Usize(bytes)),
        ]
        .into_iter()
        .collect(),
    )
}

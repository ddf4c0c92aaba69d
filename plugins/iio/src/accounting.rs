//! Loss accounting of the DMABUF sinks: TX underruns from the best evidence at hand (see
//! `weir_iio::loss`), shared by the copying and the zero-copy sink.

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
        TxLoss {
            meter: LossMeter::output(rate),
            evidence,
            sample_size: transport.sample_size().max(1),
            xflow: None,
        }
    }

    /// The device latches underflows in a status register: its events are the reported
    /// underruns (evidence `hardware status`), unless the transport counts exactly.
    pub(crate) fn with_xflow(mut self, xflow: Option<XflowMonitor>, stats: &BlockStats) -> Self {
        if xflow.is_some() && self.evidence != LossEvidence::Exact {
            self.evidence = LossEvidence::HardwareStatus;
            stats.set_note("loss_evidence", self.evidence.to_string());
            stats.label_counter("underruns", label(self.evidence, false));
        }
        self.xflow = xflow;
        self
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
        stats.set_counter("starved_us", est.starved_ns / 1000);
        stats.set_counter("est_underruns", est.events);
        if self.meter.rate().is_some() {
            stats.set_counter("est_underrun_samples", est.samples);
        }
        let underruns = match self.evidence {
            LossEvidence::Estimate => est.events,
            LossEvidence::HardwareStatus => self.xflow.as_ref().map_or(0, XflowMonitor::events),
            LossEvidence::Exact => transport.counters().underruns,
        };
        stats.set_counter("underruns", underruns);
    }
}

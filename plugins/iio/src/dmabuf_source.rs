//! `dmabuf_source`: stream from an IIO device's DMABUF blocks, handing each completed block
//! downstream by reference.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use futuresdr::runtime::dev::prelude::*;
use weir_core::tags::{BlockTime, Overrun, StreamInfo};
use weir_core::{
    BlockDescriptor, BlockStats, BufferKind, BuildContext, BuildError, CounterLabel, ItemType,
    LatencyHistogram, MappedBlock, MappedBlockWriter, ParamSpec, ParamType, Params, PortSpec,
    Ports, Value, with_item_type,
};
use weir_iio::loss::{LossEvidence, LossMeter, monotonic_ns};
use weir_iio::sim::{Pattern, SimConfig, SimRx};
use weir_iio::sys::MappedRegion;
use weir_iio::transport::{Direction, Transport};
use weir_iio::{ScanFormat, XflowMonitor};

use crate::accounting::label;
use crate::block_latency::ReleaseTimer;
use crate::completion::Completions;
use crate::device::{
    OpenedDevice, Opening, block_bytes, common_params, load_layout, open_or_simulate, port_layout,
};

weir_core::choice! {
    /// The simulated ADC's signal (`pattern`).
    pub enum SimPattern {
        /// An I/Q counter.
        Ramp = "ramp",
        /// A tone of `tone_frequency` and `tone_amplitude`.
        Tone = "tone",
        /// Blocks never written, as a DMA engine that costs no CPU: for benchmarks.
        Untouched = "untouched",
    }
}

/// Tag name carried at the first item of every block: the block's sequence number.
pub const BLOCK_TAG: &str = "dmabuf_block";
/// Tag name carried at the first item of a block after samples were lost, with a
/// [`weir_core::tags::Overrun`] payload: the samples lost since the previous such tag, the gaps
/// they came from, and the evidence. With the estimate (every kernel transport) the tag is on
/// the block right after the gap: a starvation loss ends when a block is queued again, and that
/// block is the next to complete. With exact counts from the device (the simulator) the source
/// learns of a loss from the transport's counters, so the tag sits on the first block it
/// completes after the loss was counted: the block right after the gap, or one before it when
/// the source was late to collect that block.
pub const OVERRUN_TAG: &str = weir_core::tags::OVERRUN;
/// Tag name carried at the first item of every block, with a [`weir_core::tags::BlockTime`]
/// payload: when the block's completion was seen (monotonic ns), the index of its first sample
/// in the device's stream (lost samples included), and the device's timestamp channel when
/// enabled.
pub const TIME_TAG: &str = weir_core::tags::BLOCK_TIME;

/// Bytes per sample of the simulated ADC: 16-bit I and 16-bit Q.
const SAMPLE_BYTES: usize = 4;

/// How often counters are refreshed while every block is held downstream.
const STARVED_REFRESH: std::time::Duration = std::time::Duration::from_millis(20);

/// Blocks released by every reader, waiting to go back to the hardware.
struct ReturnQueue {
    blocks: Mutex<Vec<usize>>,
    notifier: Mutex<Option<BlockNotifier>>,
}

impl ReturnQueue {
    fn give_back(&self, block: usize) {
        self.blocks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(block);
        if let Some(n) = self
            .notifier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            n.notify();
        }
    }

    fn take(&self) -> Vec<usize> {
        std::mem::take(&mut *self.blocks.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A completed block lent to the readers; dropping the last reference returns it.
struct Lease {
    memory: Arc<MappedRegion>,
    len: usize,
    block: usize,
    returns: Arc<ReturnQueue>,
    /// Times the block from its completion to its first release (see [`ReleaseTimer`]).
    release: ReleaseTimer,
}

impl MappedBlock for Lease {
    fn bytes(&self) -> &[u8] {
        &self.memory.as_bytes()[..self.len]
    }

    fn released_by_reader(&self) {
        self.release.released();
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A block no reader consumed to its end (dropped at the end of the stream, or by a
        // reader that stopped) is released here, by the last reference.
        self.release.released();
        self.returns.give_back(self.block);
    }
}

/// The DMABUF RX source.
///
/// All blocks are queued before the device is enabled; each completed block goes downstream as a
/// reference to its mapped memory and is queued again only when every reader has released it. A
/// slow consumer therefore starves the hardware, and the transport counts overruns.
#[derive(Block)]
pub struct DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    #[output]
    output: MappedBlockWriter<T>,
    transport: Box<dyn Transport>,
    completions: Option<Completions>,
    timeout: std::time::Duration,
    in_flight: VecDeque<usize>,
    returns: Arc<ReturnQueue>,
    sequence: u64,
    /// The estimate of the device's loss from the block cycle (every transport).
    meter: LossMeter,
    /// The transport's own loss counts, where it has them (the simulator); else the estimate.
    evidence: LossEvidence,
    /// The transport's `(overruns, dropped_samples)` already tagged.
    exact_seen: (u64, u64),
    /// Estimated losses not tagged yet: `(events, samples)`, samples `None` when unknown.
    pending: (u64, Option<u64>),
    /// Index in the device's stream of the next block's first sample.
    stream_position: u64,
    /// Where the device's timestamp channel sits in a scan, when it is enabled.
    timestamp: Option<(usize, ScanFormat)>,
    /// The device's latched overflow status, when it has one.
    xflow: Option<XflowMonitor>,
    /// Overflows the status showed that are not tagged yet.
    xflow_pending: u64,
    /// Blocks whose transfer status was unknown, not delivered.
    status_unknown: u64,
    /// Samples of such blocks not tagged yet.
    unknown_pending: u64,
    /// What the stream is, tagged on its first item (taken then).
    stream_info: Option<StreamInfo>,
    /// Completion → first consumer's release of every block delivered (the stats' histogram).
    latency: Arc<LatencyHistogram>,
    stats: Arc<BlockStats>,
}

impl<T> DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    /// A source streaming from `transport`, which must not be started yet.
    pub fn new(transport: Box<dyn Transport>, stats: Arc<BlockStats>) -> Self {
        Self::with_timeout(transport, std::time::Duration::ZERO, stats)
    }

    /// A source that fails when no block completes for `timeout` (zero: wait forever).
    pub fn with_timeout(
        transport: Box<dyn Transport>,
        timeout: std::time::Duration,
        stats: Arc<BlockStats>,
    ) -> Self {
        stats.set_note("transport", transport.kind().to_string());
        let evidence = transport.loss_evidence().unwrap_or(LossEvidence::Estimate);
        stats.set_note("loss_evidence", evidence.to_string());
        Self {
            meter: LossMeter::input(None),
            evidence,
            exact_seen: (0, 0),
            pending: (0, Some(0)),
            stream_position: 0,
            timestamp: None,
            xflow: None,
            xflow_pending: 0,
            status_unknown: 0,
            unknown_pending: 0,
            stream_info: None,
            latency: stats.latency_histogram(crate::block_latency::RX_SPAN),
            output: MappedBlockWriter::default(),
            transport,
            completions: None,
            timeout,
            in_flight: VecDeque::new(),
            returns: Arc::new(ReturnQueue {
                blocks: Mutex::new(Vec::new()),
                notifier: Mutex::new(None),
            }),
            sequence: 0,
            stats,
        }
    }

    /// The first item carries `info` as a [`weir_core::tags::STREAM_INFO`] tag: the device, its
    /// rate and channel formats, for recorders downstream.
    pub fn with_stream_info(mut self, info: StreamInfo) -> Self {
        self.stream_info = Some(info);
        self
    }

    /// The device runs at `rate` samples/s (`None`: unknown): the loss estimate turns the time
    /// the device had no block into samples, and checks completion timing.
    pub fn with_sample_rate(mut self, rate: Option<f64>) -> Self {
        self.meter = LossMeter::input(rate);
        self
    }

    /// The device latches overflows in a status register (`xflow`): its events are the
    /// reported overruns (evidence `hardware status`), unless the transport counts exactly; the
    /// samples lost still come from the estimate, since the status does not count them.
    pub fn with_xflow(mut self, xflow: Option<XflowMonitor>) -> Self {
        if xflow.is_some() && self.evidence != LossEvidence::Exact {
            self.evidence = LossEvidence::HardwareStatus;
            self.stats
                .set_note("loss_evidence", self.evidence.to_string());
        }
        self.xflow = xflow;
        self
    }

    /// The device's timestamp channel is enabled, at byte `offset` of every scan, stored as
    /// `format`: each block's [`TIME_TAG`] carries the timestamp of its first scan.
    pub fn with_timestamp_channel(mut self, offset: usize, format: ScanFormat) -> Self {
        self.timestamp = Some((offset, format));
        self
    }

    fn samples_per_block(&self) -> u64 {
        self.transport.samples_per_block() as u64
    }

    fn publish_counters(&self) {
        let c = self.transport.counters();
        let est = self.meter.totals_at(monotonic_ns());
        let rate_known = self.meter.rate().is_some();
        self.stats.set_counter("blocks", self.sequence);
        self.stats.set_counter("bytes_copied", c.bytes_copied);
        // Beside an exact count, an estimate without the device's rate says nothing (an
        // unpaced simulator waits for its blocks: its idle time is no loss).
        if self.evidence != LossEvidence::Exact || rate_known {
            self.stats.set_counter("starved_us", est.starved_ns / 1000);
            self.stats.set_counter("est_overruns", est.events);
            if rate_known {
                self.stats.set_counter("est_dropped_samples", est.samples);
            }
        }
        match self.evidence {
            LossEvidence::Estimate => {
                self.stats.set_counter("overruns", est.events);
                // Without the device's rate the samples lost are unknown: not counted as 0.
                if rate_known {
                    self.stats.set_counter("dropped_samples", est.samples);
                }
            }
            LossEvidence::Exact => {
                self.stats.set_counter("overruns", c.overruns);
                self.stats.set_counter("dropped_samples", c.dropped_samples);
            }
            LossEvidence::HardwareStatus => {
                let events = self.xflow.as_ref().map_or(0, XflowMonitor::events);
                self.stats.set_counter("overruns", events);
                if rate_known {
                    self.stats.set_counter("dropped_samples", est.samples);
                }
            }
        }
    }

    /// Label the loss counters with their evidence, so a report never shows an estimate as a
    /// count.
    fn label_counters(&self) {
        let estimate = LossEvidence::Estimate;
        self.stats
            .label_counter("est_overruns", label(estimate, false));
        self.stats
            .label_counter("est_dropped_samples", label(estimate, true));
        // The count of samples is exact only when the device counted them; the hardware
        // status says that samples were lost, not how many: those come from the estimate.
        let dropped = match self.evidence {
            LossEvidence::Exact => label(LossEvidence::Exact, false),
            _ => label(estimate, true),
        };
        self.stats
            .label_counter("overruns", label(self.evidence, false));
        self.stats.label_counter("dropped_samples", dropped);
        if self.meter.rate().is_none() {
            // Without the device's rate the estimate cannot tell a clocked ADC, which lost
            // samples whenever no block was queued, from one that waits for its blocks: say
            // so rather than report either "none" or a loss as certain.
            let unknown = CounterLabel {
                approximate: false,
                evidence: Some(UNKNOWN_RATE.to_string()),
            };
            self.stats.label_counter("est_overruns", unknown.clone());
            if self.evidence == LossEvidence::Estimate {
                self.stats.label_counter("overruns", unknown);
                self.stats.set_note("loss_evidence", UNKNOWN_RATE);
            }
        }
    }

    /// The loss to tag on the block completing now, by the best evidence.
    fn loss_to_tag(&mut self, block: usize) -> Option<Overrun> {
        match self.evidence {
            LossEvidence::HardwareStatus => {
                // The status decides whether samples were lost; the estimate, how many (when
                // it saw the gap too).
                let (_, samples) = std::mem::replace(&mut self.pending, (0, Some(0)));
                let events = std::mem::take(&mut self.xflow_pending);
                (events > 0).then_some(Overrun {
                    lost_samples: samples.filter(|&n| n > 0),
                    events,
                    evidence: weir_core::tags::Evidence::HardwareStatus,
                })
            }
            LossEvidence::Exact => {
                // The counts as they stood when this block began: a gap the device counted
                // after it is tagged on the block that follows the gap, where the data breaks.
                let (overruns, dropped_samples) =
                    self.transport.losses_before(block).unwrap_or_else(|| {
                        let c = self.transport.counters();
                        (c.overruns, c.dropped_samples)
                    });
                let (events, dropped) = (
                    overruns - self.exact_seen.0.min(overruns),
                    dropped_samples - self.exact_seen.1.min(dropped_samples),
                );
                self.exact_seen = (overruns, dropped_samples);
                (events > 0 || dropped > 0).then_some(Overrun {
                    lost_samples: Some(dropped),
                    events,
                    evidence: tag_evidence(self.evidence),
                })
            }
            LossEvidence::Estimate => {
                let (events, samples) = std::mem::replace(&mut self.pending, (0, Some(0)));
                (events > 0).then_some(Overrun {
                    lost_samples: samples,
                    events,
                    evidence: weir_core::tags::Evidence::Estimate,
                })
            }
        }
    }

    fn note_loss(&mut self, loss: weir_iio::loss::Loss) {
        self.pending.0 += 1;
        self.pending.1 = match (self.pending.1, loss.samples) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }

    /// A block whose transfer may have failed (its fence had signalled before it could be
    /// exported, see `weir_iio::UnknownStatus`) is never delivered: it is counted, its samples
    /// are a loss of exactly one block, tagged on the next block delivered, and it goes back to
    /// the device at once. A transfer that failed at submit leaves the block busy in the
    /// kernel: requeuing it then fails, and the source stops saying so.
    fn discard_unknown(
        &mut self,
        block: usize,
        error: weir_iio::Error,
        place: String,
    ) -> Result<()> {
        self.in_flight.pop_front();
        self.status_unknown += 1;
        let samples = self.samples_per_block();
        tracing::warn!("{place}: {error}; counted as {samples} lost samples");
        self.unknown_pending += samples;
        self.stream_position += samples;
        self.sequence += 1;
        // The block is left out (counted exactly above); a starvation after it is the
        // device's own loss, tagged on the next block delivered.
        if let Some(loss) = self.meter.completed(monotonic_ns()).after {
            self.note_loss(loss);
        }
        if let Err(requeue) = self.transport.requeue(block, self.transport.block_size()) {
            anyhow::bail!(
                "{place}: {error}; requeuing it failed too ({requeue}): the transfer most likely failed at submit"
            );
        }
        if let Some(loss) = self.meter.queued(monotonic_ns(), samples) {
            self.note_loss(loss);
        }
        self.in_flight.push_back(block);
        self.stats
            .set_counter("status_unknown", self.status_unknown);
        Ok(())
    }

    /// The device timestamp of the first scan of `bytes`, when the channel is enabled.
    fn device_timestamp(&self, bytes: &[u8]) -> Option<i64> {
        let (offset, format) = self.timestamp?;
        let word = bytes.get(offset..offset + format.storage_bytes())?;
        Some(format.decode(word))
    }
}

/// The evidence of an estimate made without the device's rate: intervals without a queued
/// block, which lost samples only if the device runs on its own clock.
pub(crate) const UNKNOWN_RATE: &str = "estimate, rate unknown";

fn tag_evidence(e: LossEvidence) -> weir_core::tags::Evidence {
    match e {
        LossEvidence::Exact => weir_core::tags::Evidence::Exact,
        LossEvidence::HardwareStatus => weir_core::tags::Evidence::HardwareStatus,
        LossEvidence::Estimate => weir_core::tags::Evidence::Estimate,
    }
}

impl<T> DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    /// One `work()` call; errors are recorded in the block statistics by the caller.
    async fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        // Collect what has completed before requeuing: a block that completed while none was
        // queued behind it left the device idle, and the loss estimate must see that
        // completion before the requeue that ends the idle time.
        self.collect(io, false)?;
        let block_size = self.transport.block_size();
        let samples_per_block = self.samples_per_block();
        for block in self.returns.take() {
            self.transport.requeue(block, block_size)?;
            if let Some(loss) = self.meter.queued(monotonic_ns(), samples_per_block) {
                self.note_loss(loss);
            }
            if self.in_flight.is_empty()
                && let Some(c) = self.completions.as_mut()
            {
                // The device was starved by downstream, not stalled: time starts now.
                c.progress();
            }
            self.in_flight.push_back(block);
        }
        self.collect(io, true)?;
        if self.in_flight.is_empty() {
            // Every block is held downstream, so the hardware is starving and no completion
            // will wake us: a released block will (through the notifier), and until then the
            // overrun counters are refreshed periodically so that the starvation is visible.
            self.publish_counters();
            io.block_on(async {
                Timer::after(STARVED_REFRESH).await;
            });
        }
        Ok(())
    }

    /// Deliver every completed block, oldest first; with `wait`, have the block woken when
    /// the next one completes.
    fn collect(&mut self, io: &mut WorkIo, wait: bool) -> Result<()> {
        while let Some(&block) = self.in_flight.front() {
            // A failed transfer is named by its place in the stream, not only by its ring
            // slot: the block's sequence number and first sample.
            let (sequence, first_sample) = (self.sequence, self.stream_position);
            let place =
                || format!("DMA block {sequence} of the stream (first sample {first_sample})");
            let completed = match self.transport.try_complete(block) {
                Err(e @ weir_iio::Error::TransferStatusUnknown { .. }) => {
                    self.discard_unknown(block, e, place())?;
                    continue;
                }
                other => other.with_context(place)?,
            };
            let Some(len) = completed else {
                if wait && let Some(c) = &self.completions {
                    c.wait(io, self.transport.as_ref(), block)?;
                }
                break;
            };
            let completed_ns = monotonic_ns();
            // The loss estimate runs on the device's time where the kernel gives it (the
            // fence's signal time): the device ran dry when it completed its last block, not
            // when this thread was woken to see it, tens of ms later on a loaded machine —
            // which would shorten every starvation interval and make a timely completion look
            // late.
            let device_ns = self
                .transport
                .completed_at_ns()
                .filter(|&t| t <= completed_ns)
                .unwrap_or(completed_ns);
            self.in_flight.pop_front();
            if let Some(c) = self.completions.as_mut() {
                c.progress();
            }
            let found = self.meter.completed(device_ns);
            if let Some(loss) = found.before {
                self.note_loss(loss);
            }
            if let Some(x) = self.xflow.as_mut()
                && x.check()?.lost()
            {
                self.xflow_pending += 1;
            }
            let mut tags = vec![ItemTag {
                index: 0,
                tag: Tag::NamedUsize(BLOCK_TAG.to_string(), self.sequence as usize),
            }];
            if let Some(info) = self.stream_info.take() {
                tags.push(ItemTag {
                    index: 0,
                    tag: info.tag(),
                });
            }
            let device_loss = self.loss_to_tag(block);
            if let Some(overrun) = device_loss {
                self.stream_position += overrun.lost_samples.unwrap_or(0);
            }
            // Samples the device lost after this block's data (it ran dry before the next
            // block was queued): tagged on the next block delivered, where the gap ends.
            if let Some(loss) = found.after {
                self.note_loss(loss);
            }
            // Blocks of unknown status that were not delivered: weir knows exactly how many
            // samples it left out (their stream positions are already counted). One tag per
            // block: merged with the device's loss, under the weaker evidence.
            let discarded = std::mem::take(&mut self.unknown_pending);
            let left_out = (discarded > 0).then(|| Overrun {
                lost_samples: Some(discarded),
                events: discarded / self.samples_per_block().max(1),
                evidence: weir_core::tags::Evidence::Exact,
            });
            let overrun = match (device_loss, left_out) {
                (Some(d), Some(l)) => Some(Overrun {
                    lost_samples: d.lost_samples.map(|n| n + discarded),
                    events: d.events + l.events,
                    evidence: d.evidence,
                }),
                (d, l) => d.or(l),
            };
            if let Some(overrun) = overrun {
                tags.push(ItemTag {
                    index: 0,
                    tag: overrun.tag(),
                });
            }
            let memory = self.transport.block_memory(block);
            tags.push(ItemTag {
                index: 0,
                tag: BlockTime {
                    sequence: self.sequence,
                    completed_ns,
                    first_sample: self.stream_position,
                    device_timestamp_ns: self.device_timestamp(&memory.as_bytes()[..len]),
                }
                .tag(),
            });
            self.stream_position += (len / self.transport.sample_size().max(1)) as u64;
            let lease = Arc::new(Lease {
                memory,
                len,
                block,
                returns: self.returns.clone(),
                release: ReleaseTimer::new(self.latency.clone(), completed_ns),
            });
            let items = self.output.submit(lease, tags)?;
            self.sequence += 1;
            self.stats.add_out(items);
            self.publish_counters();
        }
        Ok(())
    }
}

impl<T> DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    /// Start the device; errors are recorded in the block statistics by the caller.
    async fn start_up(&mut self) -> Result<()> {
        *self
            .returns
            .notifier
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(self.output_notifier());
        self.completions = Some(Completions::register(
            self.transport.as_ref(),
            self.timeout,
        )?);
        self.transport.start()?;
        if let Some(x) = self.xflow.as_mut() {
            // What latched before the DMA ran is no loss of this stream.
            x.clear()?;
        }
        self.meter.start(
            monotonic_ns(),
            self.transport.block_count(),
            self.samples_per_block(),
        );
        self.in_flight.extend(0..self.transport.block_count());
        self.label_counters();
        self.publish_counters();
        Ok(())
    }
}

impl<T> Kernel for DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    async fn init(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        self.start_up().await
    }

    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        self.step(io).await
    }

    async fn deinit(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        self.publish_counters();
        self.completions = None;
        self.transport.stop()?;
        Ok(())
    }
}

impl<T> DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    fn output_notifier(&self) -> BlockNotifier {
        self.output.notifier()
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    crate::device::check_params(p, crate::device::SIM_ONLY_SOURCE)?;
    let item = p.item("item")?;
    // The device's channels, read without touching it, for the blocks downstream to decode
    // by (a converter takes its format from them, or refuses what it cannot decode).
    let loaded = load_layout(p, Direction::In);
    let scan_bytes = match &loaded {
        Ok((l, _)) if l.scan_bytes() > 0 => l.scan_bytes(),
        _ => SAMPLE_BYTES,
    };
    let sizing = crate::device::load_sizing(p, Direction::In, scan_bytes)?;
    let block_items = block_bytes(sizing.samples_per_block, scan_bytes)? / item.size();
    Ok(Ports {
        inputs: vec![],
        outputs: vec![
            PortSpec::output("out", "output", item, BufferKind::MappedBlock)
                .with_fixed_buffer(block_items)
                .with_layout(port_layout(&loaded)),
        ],
        ..Ports::default()
    })
}

/// Open the transport a source's parameters ask for.
pub fn open_transport(p: &Params) -> Result<OpenedDevice, BuildError> {
    let (item, rate, sizing) = match open_or_simulate(p, Direction::In, SAMPLE_BYTES)? {
        Opening::Device(device) => return Ok(device),
        Opening::Simulator { item, rate, sizing } => (item, rate, sizing),
    };
    let samples = sizing.samples_per_block;
    let pattern = match p.read::<SimPattern>("pattern")? {
        SimPattern::Ramp => Pattern::Ramp,
        SimPattern::Tone => Pattern::Tone {
            frequency: p.float("tone_frequency")?,
            amplitude: p.float("tone_amplitude")?,
        },
        SimPattern::Untouched => Pattern::Untouched,
    };
    let fail = p.int("sim_fail_block")?;
    let config = SimConfig {
        fail_block: u64::try_from(fail).ok(),
        sample_rate: (rate > 0.0).then_some(rate),
        block_size: samples * SAMPLE_BYTES,
        block_count: sizing.blocks,
        pattern,
        ..SimConfig::default()
    };
    if !config.block_size.is_multiple_of(item.size()) {
        return Err(BuildError::param(
            "item",
            format!(
                "a block of {} bytes does not hold whole {item} items",
                config.block_size
            ),
        ));
    }
    let sim = SimRx::new(config).map_err(|e| BuildError::Other(e.to_string()))?;
    Ok(OpenedDevice::simulated(Box::new(sim), rate, sizing))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let OpenedDevice {
        transport,
        rejected,
        allocator,
        sample_rate,
        sample_rate_note,
        xflow,
        layout,
        sizing,
        ..
    } = open_transport(ctx.params)?;
    // The device's own timestamp of each block's first scan, when its timestamp channel is
    // enabled (`channels` names it).
    let timestamp = layout
        .elements()
        .iter()
        .find(|e| e.channel == "timestamp")
        .map(|e| (e.offset, e.format));
    let stream_info = StreamInfo {
        device: match ctx.params.str("device")? {
            crate::device::SIMULATOR => "weir's simulated ADC".to_string(),
            name => name.to_string(),
        },
        sample_rate,
        channels: layout
            .elements()
            .iter()
            .map(|e| (e.channel.clone(), e.format.to_string()))
            .collect(),
    };
    let timeout = crate::device::timeout(ctx.params)?;
    let stats = ctx.stats();
    if let Some(allocator) = allocator {
        stats.set_note("allocator", allocator);
    }
    if !rejected.is_empty() {
        stats.set_note("not_used", rejected.join("; "));
    }
    if let Some(note) = sample_rate_note {
        stats.set_note("sample_rate", note);
    }
    if let Some(derived) = sizing.derived {
        stats.set_note("latency_budget", derived);
    }
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        let mut source = DmabufSource::<T>::with_timeout(transport, timeout, stats)
            .with_sample_rate(sample_rate)
            .with_xflow(xflow)
            .with_stream_info(stream_info.clone());
        if let Some((offset, format)) = timestamp {
            source = source.with_timestamp_channel(offset, format);
        }
        ctx.add(source)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "dmabuf_source",
        doc: "IIO DMABUF RX source: device blocks handed downstream by reference, zero-copy",
        params: vec![
            ParamSpec::string(
                "device",
                "sim",
                "IIO device: id (`iio:device0`), label or name; `sim` is the built-in simulated ADC",
            ),
            ParamSpec::item(ItemType::Ci16, "item type the block memory is viewed as"),
            ParamSpec::float(
                "sample_rate",
                0.0,
                "samples/s: the simulator's rate (0 = as fast as possible), or the rate written to a real device's sampling-frequency attribute and read back (0 = leave the device's rate); else 1 ..= 10^12",
            )
            .within(1.0, 1e12)
            .or_zero(true),
            ParamSpec::optional(
                "pattern",
                ParamType::Choice(SimPattern::NAMES),
                Value::Str("ramp".into()),
                "simulator only: the signal, `ramp` (I/Q counter), `tone`, or `untouched` (blocks never \
                 written, as a DMA engine that costs no CPU: for benchmarks)",
            ),
            ParamSpec::float(
                "tone_frequency",
                0.01,
                "simulator only: tone frequency in Hz (cycles/sample when sample_rate is 0)",
            )
            .within(-1e12, 1e12),
            ParamSpec::int(
                "sim_fail_block",
                -1,
                "simulator fault injection: this completion (0-based) fails with EIO; -1 = none",
            )
            .within(-1.0, 2f64.powi(53)),
            ParamSpec::float(
                "tone_amplitude",
                16384.0,
                "simulator only: tone amplitude in i16 units",
            )
            .range(Some(0.0), Some(32767.0)),
        ]
        .into_iter()
        .chain(common_params())
        .collect(),
        ports,
        build,
    }
}

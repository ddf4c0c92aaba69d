//! `dmabuf_source`: stream from an IIO device's DMABUF blocks, handing each completed block
//! downstream by reference.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BufferKind, BuildContext, BuildError, MappedBlock,
    MappedBlockWriter, ParamSpec, ParamType, Params, PortSpec, Ports, Value, with_item_type,
};
use weir_iio::sim::{Pattern, SimConfig, SimRx};
use weir_iio::sys::MappedRegion;
use weir_iio::transport::{Direction, Transport};

use crate::completion::Completions;
use crate::device::{
    OpenedDevice, SIMULATOR, common_params, load_layout, open_real, port_layout, simulator_layout,
};

/// Tag name carried at the first item of every block: the block's sequence number.
pub const BLOCK_TAG: &str = "dmabuf_block";
/// Tag name carried at the first item of a block after samples were lost: samples dropped since
/// the previous such tag. The source learns of a loss from the transport's counters, so the tag
/// sits on the first block it completes after the loss was counted: the block right after the
/// gap, or one before it when the source was late to collect that block.
pub const OVERRUN_TAG: &str = "dmabuf_overrun";

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
}

impl MappedBlock for Lease {
    fn bytes(&self) -> &[u8] {
        &self.memory.as_bytes()[..self.len]
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
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
    dropped_seen: u64,
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
        Self {
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
            dropped_seen: 0,
            stats,
        }
    }

    fn publish_counters(&self) {
        let c = self.transport.counters();
        self.stats.set_counter("blocks", self.sequence);
        self.stats.set_counter("overruns", c.overruns);
        self.stats.set_counter("dropped_samples", c.dropped_samples);
        self.stats.set_counter("bytes_copied", c.bytes_copied);
    }
}

impl<T> DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    /// One `work()` call; errors are recorded in the block statistics by the caller.
    async fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let block_size = self.transport.block_size();
        for block in self.returns.take() {
            self.transport.requeue(block, block_size)?;
            if self.in_flight.is_empty()
                && let Some(c) = self.completions.as_mut()
            {
                // The device was starved by downstream, not stalled: time starts now.
                c.progress();
            }
            self.in_flight.push_back(block);
        }

        while let Some(&block) = self.in_flight.front() {
            let Some(len) = self.transport.try_complete(block)? else {
                if let Some(c) = &self.completions {
                    c.wait(io, self.transport.as_ref(), block)?;
                }
                break;
            };
            self.in_flight.pop_front();
            if let Some(c) = self.completions.as_mut() {
                c.progress();
            }
            let dropped = self.transport.counters().dropped_samples;
            let mut tags = vec![ItemTag {
                index: 0,
                tag: Tag::NamedUsize(BLOCK_TAG.to_string(), self.sequence as usize),
            }];
            if dropped > self.dropped_seen {
                tags.push(ItemTag {
                    index: 0,
                    tag: Tag::NamedUsize(
                        OVERRUN_TAG.to_string(),
                        (dropped - self.dropped_seen) as usize,
                    ),
                });
                self.dropped_seen = dropped;
            }
            let lease = Arc::new(Lease {
                memory: self.transport.block_memory(block),
                len,
                block,
                returns: self.returns.clone(),
            });
            let items = self.output.submit(lease, tags)?;
            self.sequence += 1;
            self.stats.add_out(items);
            self.publish_counters();
        }
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
        self.in_flight.extend(0..self.transport.block_count());
        self.publish_counters();
        Ok(())
    }
}

impl<T> Kernel for DmabufSource<T>
where
    T: CpuSample + bytemuck::Pod,
{
    async fn init(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        let result = self.start_up().await;
        self.stats.record(result)
    }

    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let result = self.step(io).await;
        self.stats.record(result)
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
    let item = p.item("item")?;
    // The device's channels, read without touching it, for the blocks downstream to decode
    // by (a converter takes its format from them, or refuses what it cannot decode).
    let loaded = load_layout(p, Direction::In);
    let scan_bytes = match &loaded {
        Ok((l, _)) if l.scan_bytes() > 0 => l.scan_bytes(),
        _ => SAMPLE_BYTES,
    };
    let block_items = p.positive("samples_per_block")? * scan_bytes / item.size();
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
    if p.str("device")? != SIMULATOR {
        let item = p.item("item")?;
        return open_real(
            p,
            Direction::In,
            item,
            p.positive("samples_per_block")?,
            p.positive("blocks")?,
        );
    }
    let item = p.item("item")?;
    let samples = p.positive("samples_per_block")?;
    let rate = p.float("sample_rate")?;
    if rate < 0.0 || !rate.is_finite() {
        return Err(BuildError::param(
            "sample_rate",
            format!("must be a finite rate >= 0 (0 = as fast as possible), found {rate}"),
        ));
    }
    let pattern = match p.str("pattern")? {
        "ramp" => Pattern::Ramp,
        "tone" => Pattern::Tone {
            frequency: p.float("tone_frequency")?,
            amplitude: p.float("tone_amplitude")?,
        },
        "untouched" => Pattern::Untouched,
        other => {
            return Err(BuildError::param(
                "pattern",
                format!("unknown pattern `{other}` (expected `ramp`, `tone` or `untouched`)"),
            ));
        }
    };
    let fail = p.int("sim_fail_block")?;
    let config = SimConfig {
        fail_block: u64::try_from(fail).ok(),
        sample_rate: (rate > 0.0).then_some(rate),
        block_size: samples * SAMPLE_BYTES,
        block_count: p.positive("blocks")?,
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
    Ok(OpenedDevice {
        transport: Box::new(sim),
        rejected: Vec::new(),
        layout: simulator_layout(),
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let OpenedDevice {
        transport,
        rejected,
        ..
    } = open_transport(ctx.params)?;
    let timeout = crate::device::timeout(ctx.params)?;
    let stats = ctx.stats();
    if !rejected.is_empty() {
        stats.set_note("not_used", rejected.join("; "));
    }
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        ctx.add(DmabufSource::<T>::with_timeout(transport, timeout, stats))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "dmabuf_source",
        doc: "IIO DMABUF RX source: device blocks handed downstream by reference, zero-copy",
        params: vec![
            ParamSpec::optional(
                "device",
                ParamType::Str,
                Value::Str("sim".into()),
                "IIO device: id (`iio:device0`), label or name; `sim` is the built-in simulated ADC",
            ),
            ParamSpec::optional(
                "item",
                ParamType::Item,
                Value::Str("ci16".into()),
                "item type the block memory is viewed as",
            ),
            ParamSpec::optional(
                "sample_rate",
                ParamType::Float,
                Value::Float(0.0),
                "simulated sample rate in samples/s; 0 = as fast as possible",
            )
            .range(Some(0.0), None),
            ParamSpec::optional(
                "pattern",
                ParamType::Str,
                Value::Str("ramp".into()),
                "simulated signal: `ramp` (I/Q counter), `tone`, or `untouched` (blocks never \
                 written, as a DMA engine that costs no CPU: for benchmarks)",
            ),
            ParamSpec::optional(
                "tone_frequency",
                ParamType::Float,
                Value::Float(0.01),
                "tone frequency in Hz (cycles/sample when sample_rate is 0)",
            ),
            ParamSpec::optional(
                "sim_fail_block",
                ParamType::Int,
                Value::Int(-1),
                "simulator fault injection: this completion (0-based) fails with EIO; -1 = none",
            )
            .range(Some(-1.0), None),
            ParamSpec::optional(
                "tone_amplitude",
                ParamType::Float,
                Value::Float(16384.0),
                "tone amplitude in i16 units",
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

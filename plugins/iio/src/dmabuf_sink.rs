//! `dmabuf_sink`: stream into an IIO output device's DMABUF blocks.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, Params, PortSpec,
    Ports, with_item_type, with_reader,
};
use weir_iio::sim::{SimTx, SimTxConfig};
use weir_iio::transport::{Direction, Transport};

use crate::device::{
    OpenedDevice, Opening, common_params, load_layout, open_or_simulate, port_layout,
};
use crate::tx_ring::TxRing;

/// Bytes per sample of the simulated DAC: 16-bit I and 16-bit Q.
const SAMPLE_BYTES: usize = 4;

/// The DMABUF TX sink, copy-in mode: items from an ordinary stream are copied into free DMA
/// blocks, and each block is queued with `bytes_used` = the bytes actually filled, so the last
/// partial block at the end of the stream is sent exactly — never padded, never dropped.
///
/// Back-pressure is the queue depth: when every block is in flight the sink takes no input,
/// so upstream blocks stall through the runtime. At the end of the stream the sink waits
/// until the device has sent every block, then stops it. In `cyclic` mode the first block
/// (the whole stream must fit in it) is sent over and over until the flowgraph is stopped.
#[derive(Block)]
#[message_outputs(completed)]
pub struct DmabufSink<T, R = DefaultCpuReader<T>>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    #[input]
    input: R,
    ring: TxRing,
    /// Free blocks, in the order they are filled.
    free: VecDeque<usize>,
    /// Bytes written into the block at the front of `free`.
    filled: usize,
    cyclic: bool,
    cyclic_started: bool,
}

impl<T, R> DmabufSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    /// A sink writing into `transport` (an output transport, not started yet).
    pub fn new(
        transport: Box<dyn Transport>,
        cyclic: bool,
        timeout: std::time::Duration,
        stats: Arc<BlockStats>,
    ) -> Self {
        Self {
            input: R::default(),
            ring: TxRing::new(transport, timeout, stats),
            free: VecDeque::new(),
            filled: 0,
            cyclic,
            cyclic_started: false,
        }
    }

    /// The device runs at `rate` samples/s (`None`: unknown): the underrun estimate turns the
    /// time the device had nothing queued into samples.
    pub fn with_sample_rate(mut self, rate: Option<f64>) -> Self {
        self.ring.set_sample_rate(rate);
        self
    }

    /// The device latches underflows in a status register (`xflow`): its events are the
    /// reported underruns (evidence `hardware status`), unless the transport counts exactly.
    /// Call after [`Self::with_sample_rate`].
    pub fn with_xflow(mut self, xflow: Option<weir_iio::XflowMonitor>) -> Self {
        self.ring.set_xflow(xflow);
        self
    }

    /// Queue the block being filled with exactly the bytes filled.
    fn send(&mut self) -> Result<()> {
        let Some(block) = self.free.pop_front() else {
            return Ok(());
        };
        if self.cyclic {
            self.ring.requeue_cyclic(block, self.filled)?;
            self.cyclic_started = true;
        } else {
            self.ring.requeue(block, self.filled)?;
        }
        self.filled = 0;
        Ok(())
    }
}

impl<T, R> DmabufSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    /// One `work()` call; errors are recorded in the block statistics by the caller.
    async fn step(&mut self, io: &mut WorkIo, mo: &mut MessageOutputs) -> Result<()> {
        // Collect sent blocks: they are free again.
        while let Some(block) = self.ring.collect(mo).await? {
            self.free.push_back(block);
        }

        let block_size = self.ring.transport().block_size();
        while let Some(&block) = self.free.front() {
            if self.cyclic_started {
                break;
            }
            let input = self.input.slice();
            if input.is_empty() {
                break;
            }
            let bytes: &[u8] = bytemuck::cast_slice(input);
            let memory = self.ring.transport_mut().block_mut(block)?;
            let room = block_size - self.filled;
            // Whole items only: the block size is a multiple of the item size.
            let n = bytes.len().min(room) / std::mem::size_of::<T>() * std::mem::size_of::<T>();
            memory[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            let items = n / std::mem::size_of::<T>();
            self.input.consume(items);
            self.ring.stats().add_in(items);
            if self.filled == block_size && !self.cyclic {
                self.send()?;
            } else if self.cyclic && self.filled == block_size && !self.input.slice().is_empty() {
                anyhow::bail!(
                    "cyclic transmission: the stream does not fit in one block of {block_size} bytes"
                );
            }
        }

        let input_done = self.input.finished() && self.input.slice().is_empty();
        if input_done && self.filled > 0 && !self.free.is_empty() {
            let align = self.ring.transport().bytes_used_align();
            if !self.filled.is_multiple_of(align) {
                anyhow::bail!(
                    "the last {} bytes of the stream are not a multiple of the device's {align}-byte alignment; they cannot be sent exactly",
                    self.filled
                );
            }
            self.send()?;
        }
        self.ring.publish_counters();

        if input_done && self.filled == 0 {
            if self.ring.idle() || self.cyclic {
                // Everything was sent (a cyclic block keeps going until the flowgraph stops).
                if !self.cyclic {
                    io.finished = true;
                } else {
                    io.block_on(std::future::pending::<()>());
                }
            } else {
                self.ring.wait_for_head(io)?;
            }
        } else if self.free.is_empty() {
            // Every block is in flight: take no more input until one comes back.
            self.ring.wait_for_head(io)?;
        }
        Ok(())
    }
}

impl<T, R> DmabufSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    /// Start the device; errors are recorded in the block statistics by the caller.
    async fn start_up(&mut self) -> Result<()> {
        self.ring.start()?;
        self.free.extend(0..self.ring.transport().block_count());
        self.ring.publish_counters();
        Ok(())
    }
}

impl<T, R> Kernel for DmabufSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    async fn init(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        self.start_up().await
    }

    async fn work(
        &mut self,
        io: &mut WorkIo,
        mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        self.step(io, mo).await
    }

    async fn deinit(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        self.ring.publish_counters();
        self.ring.stop()
    }
}

weir_core::choice! {
    /// How the sink gets its samples into DMA blocks.
    pub enum Mode {
        /// Copy an ordinary stream into DMA blocks.
        Copy = "copy",
        /// The upstream block writes into them in place.
        ZeroCopy = "zero_copy",
    }
}

fn zero_copy(p: &Params) -> Result<bool, BuildError> {
    Ok(p.read::<Mode>("mode")? == Mode::ZeroCopy)
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    crate::device::check_params(p, crate::device::SIM_ONLY_SINK)?;
    // The device's output channels, read without touching it: what the block upstream must
    // write (a converter refuses a layout it cannot encode).
    let loaded = load_layout(p, Direction::Out);
    let scan_bytes = match &loaded {
        Ok((l, _)) if l.scan_bytes() > 0 => l.scan_bytes(),
        _ => SAMPLE_BYTES,
    };
    if p.bool("cyclic")? && crate::latency_budget::budget(p)?.is_some() {
        return Err(BuildError::param(
            "latency",
            "`cyclic` sends one block over and over: its size is the waveform's, not a latency              budget's; remove `latency` and size the block with `samples_per_block`",
        ));
    }
    // Sized now as the build will size it, so that `weir check` refuses a budget that
    // cannot be met.
    crate::device::load_sizing(p, Direction::Out, scan_bytes)?;
    let input = PortSpec::input("in", "input", p.item("item")?).with_layout(port_layout(&loaded));
    let input = if zero_copy(p)? {
        input.wanting_filled_blocks()
    } else {
        input
    };
    Ok(Ports {
        inputs: vec![input],
        message_outputs: vec![crate::accounting::COMPLETED_PORT],
        ..Ports::default()
    })
}

/// Open the output transport a sink's parameters ask for.
pub fn open_transport(p: &Params) -> Result<OpenedDevice, BuildError> {
    let (item, rate, sizing) = match open_or_simulate(p, Direction::Out, SAMPLE_BYTES)? {
        Opening::Device(device) => return Ok(device),
        Opening::Simulator { item, rate, sizing } => (item, rate, sizing),
    };
    let output = p.str("sim_output")?;
    let config = SimTxConfig {
        sample_rate: (rate > 0.0).then_some(rate),
        block_size: crate::device::block_bytes(sizing.samples_per_block, SAMPLE_BYTES)?,
        block_count: sizing.blocks,
        output: (!output.is_empty()).then(|| PathBuf::from(output)),
        ..SimTxConfig::default()
    };
    if !config.block_size.is_multiple_of(item.size()) || !item.size().is_multiple_of(SAMPLE_BYTES) {
        return Err(BuildError::param(
            "item",
            format!("{item} items do not fill whole {SAMPLE_BYTES}-byte samples of the device"),
        ));
    }
    let sim = SimTx::new(config).map_err(|e| BuildError::Other(e.to_string()))?;
    Ok(OpenedDevice::simulated(Box::new(sim), rate, sizing))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let OpenedDevice {
        transport,
        rejected,
        allocator,
        sample_rate,
        sample_rate_note,
        mut xflow,
        sizing,
        ..
    } = open_transport(ctx.params)?;
    let cyclic = ctx.params.bool("cyclic")?;
    let timeout = crate::device::timeout(ctx.params)?;
    let zero_copy = zero_copy(ctx.params)?;
    if zero_copy && cyclic {
        return Err(BuildError::param(
            "cyclic",
            "cyclic transmission needs `mode = \"copy\"`",
        ));
    }
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
    let kind = ctx.input_buffer("in");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        if zero_copy {
            ctx.add(
                crate::DmabufFillSink::<T>::new(transport, timeout, stats)
                    .with_sample_rate(sample_rate)
                    .with_xflow(xflow.take()),
            )
        } else {
            with_reader!(kind, T, R => {
            let mut block = DmabufSink::<T, R>::new(transport, cyclic, timeout, stats)
                .with_sample_rate(sample_rate)
                .with_xflow(xflow.take());
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })
        }
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "dmabuf_sink",
        doc: "IIO DMABUF TX sink: fills DMA blocks, sends each with exactly the bytes filled",
        params: vec![
            ParamSpec::string(
                "device",
                "sim",
                "IIO output device: id (`iio:device1`), label or name; `sim` is the built-in simulated DAC",
            ),
            ParamSpec::item(ItemType::Ci16, "item type of the input stream"),
            ParamSpec::choice(
                "mode",
                Mode::NAMES,
                "copy",
                "`copy`: copy an ordinary stream into DMA blocks; `zero_copy`: the upstream block writes into them in place",
            ),
            ParamSpec::boolean(
                "cyclic",
                false,
                "send the first block over and over until stopped (the stream must fit in it)",
            ),
            ParamSpec::float(
                "sample_rate",
                0.0,
                "samples/s: the simulated DAC's rate (0 = as fast as possible), or the rate written to a real device's sampling-frequency attribute and read back (0 = leave the device's rate); else 1 ..= 10^12",
            )
            .within(1.0, 1e12)
            .or_zero(true),
            ParamSpec::string(
                "sim_output",
                "",
                "simulated DAC only: write what it transmits to this file",
            ),
        ]
        .into_iter()
        .chain(common_params())
        .collect(),
        ports,
        build,
    }
}

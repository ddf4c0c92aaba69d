//! The zero-copy mode of `dmabuf_sink`: the upstream block writes straight into DMA blocks.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::Context as _;
use futuresdr::runtime::dev::prelude::*;
use weir_core::{BlockStats, EmptyBlock, FillBlockReader, FillableBlock};
use weir_iio::sys::MappedRegion;

use crate::accounting::TxLoss;
use crate::block_latency::EnqueueTimes;
use crate::completion::Completions;
use weir_iio::transport::Transport;

/// A DMA block's writable mapping, lent to the upstream block.
struct LentBlock(MappedRegion);

impl FillableBlock for LentBlock {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.0.as_mut_bytes()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// The DMABUF TX sink, zero-copy mode: empty DMA blocks are lent upstream, the upstream
/// block's output *is* their mapped memory, and each block comes back with the bytes it holds
/// and is queued with exactly that `bytes_used` (the partial last block included). No copy
/// between the last DSP block and the device; back-pressure is the number of blocks, since
/// the upstream block has nowhere to write while all of them are in flight.
#[derive(Block)]
#[message_outputs(completed)]
pub struct DmabufFillSink<T>
where
    T: CpuSample + bytemuck::Pod,
{
    #[input]
    input: FillBlockReader<T>,
    transport: Box<dyn Transport>,
    completions: Option<Completions>,
    timeout: std::time::Duration,
    in_flight: VecDeque<usize>,
    blocks_sent: u64,
    max_in_flight: usize,
    loss: TxLoss,
    /// Sent blocks whose transfer status was unknown.
    status_unknown: u64,
    /// Enqueue → completion of every block sent (the stats' latency histogram).
    enqueued: EnqueueTimes,
    stats: Arc<BlockStats>,
}

impl<T> DmabufFillSink<T>
where
    T: CpuSample + bytemuck::Pod,
{
    /// A sink lending the blocks of `transport` (an output transport, not started yet).
    pub fn new(
        transport: Box<dyn Transport>,
        timeout: std::time::Duration,
        stats: Arc<BlockStats>,
    ) -> Self {
        stats.set_note("transport", transport.kind().to_string());
        stats.set_note("mode", "zero_copy");
        Self {
            loss: TxLoss::new(transport.as_ref(), None, &stats),
            status_unknown: 0,
            enqueued: EnqueueTimes::new(stats.latency_histogram(crate::block_latency::TX_SPAN)),
            input: FillBlockReader::default(),
            transport,
            completions: None,
            timeout,
            in_flight: VecDeque::new(),
            blocks_sent: 0,
            max_in_flight: 0,
            stats,
        }
    }

    /// The device runs at `rate` samples/s (`None`: unknown): the underrun estimate turns the
    /// time the device had nothing queued into samples.
    pub fn with_sample_rate(mut self, rate: Option<f64>) -> Self {
        self.loss = TxLoss::new(self.transport.as_ref(), rate, &self.stats);
        self
    }

    /// The device latches underflows in a status register (`xflow`): its events are the
    /// reported underruns (evidence `hardware status`), unless the transport counts exactly.
    /// Call after [`Self::with_sample_rate`].
    pub fn with_xflow(mut self, xflow: Option<weir_iio::XflowMonitor>) -> Self {
        self.loss.set_xflow(xflow, &self.stats);
        self
    }

    fn lend(&mut self, index: usize) -> Result<()> {
        let memory = self.transport.lend_block(index)?;
        self.input.give_empty(EmptyBlock {
            index,
            memory: Box::new(LentBlock(memory)),
        });
        Ok(())
    }

    fn publish_counters(&self) {
        let c = self.transport.counters();
        self.stats.set_counter("blocks", self.blocks_sent);
        self.stats.set_counter("bytes", c.bytes_completed);
        self.loss.publish(self.transport.as_ref(), &self.stats);
        self.stats.set_counter("bytes_copied", c.bytes_copied);
        self.stats
            .set_counter("in_flight", self.in_flight.len() as u64);
        self.stats
            .set_counter("max_in_flight", self.max_in_flight as u64);
    }

    async fn start_up(&mut self) -> Result<()> {
        self.completions = Some(Completions::register(
            self.transport.as_ref(),
            self.timeout,
        )?);
        self.transport.start()?;
        self.loss.started()?;
        self.enqueued.start(self.transport.block_count());
        for block in 0..self.transport.block_count() {
            self.lend(block)?;
        }
        self.publish_counters();
        Ok(())
    }

    async fn step(&mut self, io: &mut WorkIo, mo: &mut MessageOutputs) -> Result<()> {
        // Sent blocks go back upstream to be filled again.
        while let Some(&block) = self.in_flight.front() {
            // A failed transfer is named by its place in the stream, not only by its ring
            // slot.
            let sequence = self.blocks_sent - self.in_flight.len() as u64;
            let bytes = match self.transport.try_complete(block) {
                // Its bytes went to the device; whether it sent them is unknown. Counted, and
                // the block is reused: a transfer that failed at submit leaves it busy in the
                // kernel, and its next enqueue then stops the sink.
                Err(e @ weir_iio::Error::TransferStatusUnknown { .. }) => {
                    tracing::warn!("DMA block {sequence} of the stream: {e}");
                    self.status_unknown += 1;
                    self.stats
                        .set_counter("status_unknown", self.status_unknown);
                    Some(self.transport.block_size())
                }
                other => other.with_context(|| format!("DMA block {sequence} of the stream"))?,
            };
            let Some(bytes) = bytes else {
                break;
            };
            // Say when it was sent: TX has no stream after it to carry a tag.
            mo.post(
                crate::accounting::COMPLETED_PORT,
                crate::accounting::completed_message(
                    sequence,
                    weir_iio::loss::monotonic_ns(),
                    bytes,
                ),
            )
            .await?;
            self.in_flight.pop_front();
            self.enqueued.completed(block);
            self.loss.completed()?;
            if let Some(c) = self.completions.as_mut() {
                c.progress();
            }
            self.lend(block)?;
        }
        // Filled blocks go to the device with exactly the bytes they hold.
        let align = self.transport.bytes_used_align();
        while let Some(filled) = self.input.take_filled() {
            let Ok(lent) = filled.memory.into_any().downcast::<LentBlock>() else {
                anyhow::bail!("a block that this sink did not lend came back");
            };
            if !filled.bytes.is_multiple_of(align) {
                anyhow::bail!(
                    "block of {} bytes is not a multiple of the device's {align}-byte alignment; it cannot be sent exactly",
                    filled.bytes
                );
            }
            self.transport
                .return_block(filled.index, lent.0, filled.bytes)?;
            self.enqueued.enqueued(filled.index);
            self.loss.queued(filled.bytes);
            self.in_flight.push_back(filled.index);
            self.max_in_flight = self.max_in_flight.max(self.in_flight.len());
            self.blocks_sent += 1;
            self.stats.add_in(filled.bytes / std::mem::size_of::<T>());
        }
        self.publish_counters();

        if self.input.is_done() && self.in_flight.is_empty() {
            io.finished = true;
        } else if let (Some(&block), Some(c)) = (self.in_flight.front(), &self.completions) {
            c.wait(io, self.transport.as_ref(), block)?;
        }
        Ok(())
    }
}

impl<T> Kernel for DmabufFillSink<T>
where
    T: CpuSample + bytemuck::Pod,
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
        self.publish_counters();
        self.completions = None;
        self.transport.stop()?;
        Ok(())
    }
}

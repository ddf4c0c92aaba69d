//! The zero-copy mode of `dmabuf_sink`: the upstream block writes straight into DMA blocks.

use std::any::Any;
use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{BlockStats, EmptyBlock, FillBlockReader, FillableBlock};
use weir_iio::sys::MappedRegion;

use crate::tx_ring::TxRing;
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
    ring: TxRing,
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
        let ring = TxRing::new(transport, timeout, stats);
        ring.stats().set_note("mode", "zero_copy");
        Self {
            input: FillBlockReader::default(),
            ring,
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

    fn lend(&mut self, index: usize) -> Result<()> {
        let memory = self.ring.transport_mut().lend_block(index)?;
        self.input.give_empty(EmptyBlock {
            index,
            memory: Box::new(LentBlock(memory)),
        });
        Ok(())
    }

    fn publish_counters(&self) {
        self.ring.publish_counters();
        self.ring.stats().set_counter(
            "bytes_copied",
            self.ring.transport().counters().bytes_copied,
        );
    }

    async fn start_up(&mut self) -> Result<()> {
        self.ring.start()?;
        for block in 0..self.ring.transport().block_count() {
            self.lend(block)?;
        }
        self.publish_counters();
        Ok(())
    }

    /// Sent blocks go back upstream to be filled again, oldest first.
    async fn lend_completed(&mut self, mo: &mut MessageOutputs) -> Result<()> {
        while let Some(block) = self.ring.collect(mo).await? {
            self.lend(block)?;
        }
        Ok(())
    }

    async fn step(&mut self, io: &mut WorkIo, mo: &mut MessageOutputs) -> Result<()> {
        self.lend_completed(mo).await?;
        // Filled blocks go to the device with exactly the bytes they hold.
        let align = self.ring.transport().bytes_used_align();
        let mut sent = false;
        while let Some(filled) = self.input.take_filled() {
            sent = true;
            let Ok(lent) = filled.memory.into_any().downcast::<LentBlock>() else {
                anyhow::bail!("a block that this sink did not lend came back");
            };
            if !filled.bytes.is_multiple_of(align) {
                anyhow::bail!(
                    "block of {} bytes is not a multiple of the device's {align}-byte alignment; it cannot be sent exactly",
                    filled.bytes
                );
            }
            self.ring.return_block(filled.index, lent.0, filled.bytes)?;
            self.ring
                .stats()
                .add_in(filled.bytes / std::mem::size_of::<T>());
        }
        if sent {
            // A device that drains a block as fast as it is queued (small blocks) has often
            // completed the oldest by now: lend it again at once rather than after a trip
            // through the reactor, while the upstream block may be waiting for it.
            self.lend_completed(mo).await?;
        }
        self.publish_counters();

        if self.input.is_done() && self.ring.idle() {
            io.finished = true;
        } else {
            self.ring.wait_for_head(io)?;
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
        self.ring.stop()
    }
}

//! The part of the two DMABUF sinks that does not depend on how a block gets its bytes: the
//! output transport, the blocks in flight, their completions and the accounting of them.
//! `dmabuf_sink` copies a stream into the blocks, `dmabuf_fill_sink` lends them upstream;
//! both queue, collect and count the blocks through one [`TxRing`].

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::Context as _;
use futuresdr::runtime::dev::prelude::*;
use weir_core::BlockStats;
use weir_iio::sys::MappedRegion;
use weir_iio::transport::Transport;

use crate::accounting::TxLoss;
use crate::block_latency::EnqueueTimes;
use crate::completion::Completions;

/// An output transport and the sink's bookkeeping of its blocks: which are in flight (in the
/// order queued), how many were sent, their latency and the underrun accounting.
pub(crate) struct TxRing {
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

impl TxRing {
    /// The ring of `transport` (an output transport, not started yet), counted into `stats`.
    pub(crate) fn new(
        transport: Box<dyn Transport>,
        timeout: std::time::Duration,
        stats: Arc<BlockStats>,
    ) -> Self {
        stats.set_note("transport", transport.kind().to_string());
        Self {
            loss: TxLoss::new(transport.as_ref(), None, &stats),
            status_unknown: 0,
            enqueued: EnqueueTimes::new(stats.latency_histogram(crate::block_latency::TX_SPAN)),
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
    pub(crate) fn set_sample_rate(&mut self, rate: Option<f64>) {
        self.loss = TxLoss::new(self.transport.as_ref(), rate, &self.stats);
    }

    /// The device latches underflows in a status register (`xflow`): see
    /// [`TxLoss::set_xflow`]. Call after [`Self::set_sample_rate`].
    pub(crate) fn set_xflow(&mut self, xflow: Option<weir_iio::XflowMonitor>) {
        self.loss.set_xflow(xflow, &self.stats);
    }

    /// The transport.
    pub(crate) fn transport(&self) -> &dyn Transport {
        self.transport.as_ref()
    }

    /// The transport, to fill or lend its blocks.
    pub(crate) fn transport_mut(&mut self) -> &mut dyn Transport {
        self.transport.as_mut()
    }

    /// The sink's statistics.
    pub(crate) fn stats(&self) -> &BlockStats {
        &self.stats
    }

    /// Whether no block is in flight.
    pub(crate) fn idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Publish the counters every sink keeps into the stats.
    pub(crate) fn publish_counters(&self) {
        let c = self.transport.counters();
        self.stats.set_counter("blocks", self.blocks_sent);
        self.stats.set_counter("bytes", c.bytes_completed);
        self.loss.publish(self.transport.as_ref(), &self.stats);
        self.stats
            .set_counter("in_flight", self.in_flight.len() as u64);
        self.stats
            .set_counter("max_in_flight", self.max_in_flight as u64);
    }

    /// Register the completions and start the device; every block is free afterwards.
    pub(crate) fn start(&mut self) -> Result<()> {
        self.completions = Some(Completions::register(
            self.transport.as_ref(),
            self.timeout,
        )?);
        self.transport.start()?;
        self.loss.started()?;
        self.enqueued.start(self.transport.block_count());
        Ok(())
    }

    /// Stop the device (the kernel's `deinit`, after the last counters are published).
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.completions = None;
        self.transport.stop()?;
        Ok(())
    }

    /// Queue `block` with `bytes_used` = `bytes`.
    pub(crate) fn requeue(&mut self, block: usize, bytes: usize) -> Result<()> {
        self.transport.requeue(block, bytes)?;
        self.enqueued.enqueued(block);
        self.queued(block, bytes);
        Ok(())
    }

    /// Queue `block` to be sent over and over; no latency is recorded, it never completes.
    pub(crate) fn requeue_cyclic(&mut self, block: usize, bytes: usize) -> Result<()> {
        self.transport.requeue_cyclic(block, bytes)?;
        self.queued(block, bytes);
        Ok(())
    }

    /// Take back the lent mapping of `block` and queue the block with `bytes` bytes.
    pub(crate) fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes: usize,
    ) -> Result<()> {
        self.transport.return_block(block, memory, bytes)?;
        self.enqueued.enqueued(block);
        self.queued(block, bytes);
        Ok(())
    }

    fn queued(&mut self, block: usize, bytes: usize) {
        self.loss.queued(bytes);
        self.in_flight.push_back(block);
        self.max_in_flight = self.max_in_flight.max(self.in_flight.len());
        self.blocks_sent += 1;
    }

    /// The oldest block in flight, if it has completed: its `completed` message is posted,
    /// its completion counted, and it is free again (returned). `None` while it is still in
    /// flight, or when none is.
    pub(crate) async fn collect(&mut self, mo: &mut MessageOutputs) -> Result<Option<usize>> {
        let Some(&block) = self.in_flight.front() else {
            return Ok(None);
        };
        // A failed transfer is named by its place in the stream, not only by its ring slot.
        let sequence = self.blocks_sent - self.in_flight.len() as u64;
        let bytes = match self.transport.try_complete(block) {
            // Its bytes went to the device; whether it sent them is unknown. Counted, and the
            // block is reused: a transfer that failed at submit leaves it busy in the kernel,
            // and its next enqueue then stops the sink.
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
            return Ok(None);
        };
        // Say when it was sent: TX has no stream after it to carry a tag.
        mo.post(
            crate::accounting::COMPLETED_PORT,
            crate::accounting::completed_message(sequence, weir_iio::loss::monotonic_ns(), bytes),
        )
        .await?;
        self.in_flight.pop_front();
        self.enqueued.completed(block);
        self.loss.completed()?;
        if let Some(c) = self.completions.as_mut() {
            c.progress();
        }
        Ok(Some(block))
    }

    /// Have the block woken when the oldest block in flight completes (see
    /// [`Completions::wait`]); nothing when none is in flight.
    pub(crate) fn wait_for_head(&self, io: &mut WorkIo) -> Result<()> {
        if let (Some(&block), Some(c)) = (self.in_flight.front(), &self.completions) {
            c.wait(io, self.transport.as_ref(), block)?;
        }
        Ok(())
    }
}

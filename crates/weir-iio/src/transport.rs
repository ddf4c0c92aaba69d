//! The transport abstraction: one streaming buffer of an IIO device.
//!
//! Every way of moving samples between an IIO buffer and user space — the simulator, the
//! mainline DMABUF interface, the seed's DMABUF interface, plain read()/write() — is driven
//! through the same block cycle, so the code above (the flowgraph blocks) is written once:
//!
//! ```text
//!   start() ──► [hardware fills block] ──► try_complete / wait_complete ──► CPU reads
//!                        ▲                                                     │
//!                        └──────────────────── requeue(block) ◄────────────────┘
//! ```
//!
//! Blocks complete in the order they were queued (FIFO), as on the kernel, so a consumer
//! normally waits for block 0, 1, …, N-1, 0, 1, … in turn.
//!
//! Output (TX) transports use the same cycle the other way round: after `start()` every block
//! belongs to the CPU; the producer fills one through [`Transport::block_mut`], gives it to
//! the hardware with `requeue(block, bytes_filled)`, and waits for it with
//! `try_complete`/`wait_complete` before filling it again. `bytes_used` must be a multiple of
//! [`Transport::bytes_used_align`]; a partial last block is sent exactly.

use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::loss::LossEvidence;
use crate::stream::StreamConfig;
use crate::sys::MappedRegion;
pub use crate::vocabulary::{Direction, Interest, TransportKind};

/// Running totals of a transport, cumulative over its whole life (across stop/start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportCounters {
    /// Blocks that completed successfully and were handed to the CPU.
    pub blocks_completed: u64,
    /// Sum of `bytes_used` over those blocks.
    pub bytes_completed: u64,
    /// Gaps in the stream (RX): times the hardware found no queued block and lost samples,
    /// a run of lost samples counting once. Only counted by transports that see the device's
    /// losses ([`Transport::loss_evidence`]); 0 otherwise.
    pub overruns: u64,
    /// Samples lost to those overruns.
    pub dropped_samples: u64,
    /// Bytes copied between device memory and user memory (0 on zero-copy paths).
    pub bytes_copied: u64,
    /// Times the hardware found no queued block to send (TX): the output had a gap. Only
    /// counted by transports that see it ([`Transport::loss_evidence`]); 0 otherwise.
    pub underruns: u64,
    /// Blocks that finished with their status unknown and were therefore not delivered
    /// ([`crate::Error::TransferStatusUnknown`]): the DMABUF transports, when a block's fence
    /// had signalled before it could be exported, or could not be exported.
    pub status_unknown: u64,
}

/// One streaming buffer of an IIO device: N mapped blocks circulating between CPU and hardware.
///
/// A block index is `0..block_count()`. At any moment a block belongs either to the hardware
/// (queued or in flight) or to the CPU (after `start` until queued, after completion until
/// requeued). Methods taking a block index panic only where documented; the others report an
/// unknown index as `EINVAL`.
pub trait Transport: Send {
    /// The mechanism in use.
    fn kind(&self) -> TransportKind;
    /// The stream's geometry (blocks, their size, the sample size, the direction), which the
    /// getters below read.
    fn stream(&self) -> &StreamConfig;
    /// Name of the device, for messages.
    fn device(&self) -> &str {
        &self.stream().name
    }
    /// Number of blocks (the queue depth).
    fn block_count(&self) -> usize {
        self.stream().block_count
    }
    /// Size of each block in bytes.
    fn block_size(&self) -> usize {
        self.stream().block_size
    }
    /// Bytes per scan: all enabled channels together.
    fn sample_size(&self) -> usize {
        self.stream().sample_size
    }
    /// Whole scans in a block.
    fn samples_per_block(&self) -> usize {
        self.stream().samples_per_block()
    }
    /// RX: attach every block, enqueue each one whole, then enable (so nothing is lost at
    /// start).
    fn start(&mut self) -> Result<()>;
    /// The fd and event that become ready when `block` completes (for an async reactor or
    /// `poll()`). After it is ready, call [`Self::try_complete`].
    ///
    /// # Panics
    /// If `block >= block_count()`.
    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest);
    /// Non-blocking: `Ok(Some(bytes_used))` when `block` has completed **successfully** (its
    /// memory now belongs to the CPU and is synced for reading), `Ok(None)` while in flight
    /// (or when it is not queued at all). Two errors end a transfer without delivering it;
    /// after either the block belongs to the CPU and may be requeued, but its data must not be
    /// used, and the caller must handle them:
    ///
    /// - [`Error::TransferFailed`]: the transfer failed (the kernel's fence error);
    /// - [`Error::TransferStatusUnknown`]: the transfer finished, but whether it succeeded
    ///   cannot be known (the DMABUF transports: its fence had signalled before it could be
    ///   exported, or could not be exported — see [`crate::UnknownStatus`]); counted in
    ///   [`TransportCounters::status_unknown`]. Never reported as success, because a failed
    ///   transfer looks exactly the same.
    ///
    /// A status-unknown block is not only a failure at submit: any transfer that the device
    /// finishes before the caller's thread gets from `ENQUEUE` to the fence export reads so —
    /// a block alone in the queue (after the queue drained) that is shorter than a preemption
    /// of the thread. A caller may therefore treat it as lost data (RX: a gap of exactly the
    /// block's samples) and requeue the block; a transfer that really failed at submit then
    /// shows at the requeue: Linux 6.12's DMA buffer layer leaves such a block active, and
    /// its next `ENQUEUE` fails with `EBUSY` (`drivers/iio/buffer/industrialio-buffer-dma.c`,
    /// `iio_dma_buffer_submit_block`, `iio_dma_can_enqueue_block`).
    ///
    /// [`Error::TransferFailed`]: crate::Error::TransferFailed
    /// [`Error::TransferStatusUnknown`]: crate::Error::TransferStatusUnknown
    fn try_complete(&mut self, block: usize) -> Result<Option<usize>>;
    /// Blocking variant of [`Self::try_complete`] with a timeout (polls the completion fd);
    /// `Ok(None)` on timeout.
    fn wait_complete(&mut self, block: usize, timeout: Duration) -> Result<Option<usize>>;
    /// When the device completed the block that the last successful [`Self::try_complete`]
    /// or [`Self::wait_complete`] returned, as the kernel stamped it: `CLOCK_MONOTONIC` ns,
    /// the transfer's fence signal time (DMABUF transports). The caller sees a completion
    /// only when its thread is woken, which on a loaded machine is tens of ms later; a loss
    /// estimate that starts the device's idle time at the completion must use this time.
    /// `None` (the default) when the kernel does not say.
    fn completed_at_ns(&self) -> Option<u64> {
        None
    }
    /// The CPU-side mapping of `block` (read-only for RX). Shared, so a reader can hold it
    /// while the transport is alive or after it is dropped; the contents are only meaningful
    /// between completion and requeue.
    ///
    /// # Panics
    /// If `block >= block_count()`.
    fn block_memory(&self, block: usize) -> Arc<MappedRegion>;
    /// Give a completed block back to the hardware with `bytes_used` (RX: normally the whole
    /// block). `bytes_used` must be `1..=block_size()` and a multiple of
    /// [`Self::bytes_used_align`] (`EINVAL` otherwise); 0 is accepted only where
    /// [`Self::zero_bytes_used_is_whole_block`] says so, and then means the whole block.
    fn requeue(&mut self, block: usize, bytes_used: usize) -> Result<()>;
    /// Disable, wait for or abort outstanding transfers, detach everything. Idempotent; also
    /// done on drop.
    fn stop(&mut self) -> Result<()>;
    /// The running totals.
    fn counters(&self) -> TransportCounters;

    /// Whether the transport sees the device's losses itself, and how well: the simulator
    /// counts them exactly; the kernel transports see none (`None`, the default), so their
    /// `overruns`/`underruns`/`dropped_samples` counters stay 0 and the loss must be estimated
    /// ([`crate::loss::LossMeter`]) or read from the device's status.
    fn loss_evidence(&self) -> Option<LossEvidence> {
        None
    }

    /// For a transport that counts losses exactly (RX): `(overruns, dropped_samples)` as they
    /// stood when the completed `block` began to fill — the losses before its first sample and
    /// none after. The running [`Self::counters`] may already hold a gap that follows the block
    /// (the device moved on while the block waited for the CPU), which would put the loss one
    /// block early. `None` (the default): not known per block.
    fn losses_before(&self, block: usize) -> Option<(u64, u64)> {
        let _ = block;
        None
    }

    /// `Err(`[`Error::DeviceGone`]`)` once the device has gone away (its driver unbound, the
    /// hardware removed), for a caller that has waited long for a completion: a block queued
    /// after the removal is accepted by the kernel and never completes, so no error would
    /// come by itself (see [`crate::presence`]). `Ok` while it is there, and always for
    /// transports that cannot tell (the default: the simulators never go away).
    fn check_present(&self) -> Result<()> {
        Ok(())
    }

    /// Whether samples flow from the device (RX, [`Direction::In`]) or to it.
    fn direction(&self) -> Direction {
        self.stream().direction
    }

    /// Every `bytes_used` given to [`Self::requeue`] must be a multiple of this: the sample
    /// size, and for kernel buffers also `length_align_bytes` when the driver asks for it.
    fn bytes_used_align(&self) -> usize {
        self.stream().bytes_align
    }

    /// Whether [`Self::requeue`] (and [`Self::return_block`]) take `bytes_used` == 0 as "the
    /// whole block", completing with [`Self::block_size`] bytes. Only the seed's DMABUF
    /// interface defines 0 so (its ABI: "if zero, the full buffer is used"); every other
    /// transport, mainline DMABUF included (its kernel answers `EINVAL`), refuses 0 with
    /// `EINVAL`, which is the default.
    fn zero_bytes_used_is_whole_block(&self) -> bool {
        false
    }

    /// TX: queue `block` to be sent over and over until the transport stops (the kernel's
    /// `IIO_BUFFER_DMABUF_CYCLIC`). The default refuses with `EOPNOTSUPP`: the generic
    /// mainline DMA path does not honour the flag.
    fn requeue_cyclic(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        let _ = (block, bytes_used);
        Err(Error::os_detail(
            "requeue_cyclic",
            self.device(),
            Errno::OPNOTSUPP,
            "cyclic transmission is not supported by this transport",
        ))
    }

    /// TX zero-copy: move the writable mapping of a CPU-owned block out of the transport, so
    /// another thread (an upstream DSP block) can fill it in place. Synced for CPU writes.
    /// Give it back with [`Self::return_block`]. The default refuses with `EOPNOTSUPP`;
    /// `EBUSY` while the block is in flight or already lent.
    fn lend_block(&mut self, block: usize) -> Result<MappedRegion> {
        let _ = block;
        Err(not_an_output("lend_block", self.device()))
    }

    /// TX zero-copy: take back the mapping lent by [`Self::lend_block`] and queue the block
    /// with `bytes_used` bytes, as [`Self::requeue`] does.
    fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes_used: usize,
    ) -> Result<()> {
        let _ = (block, memory, bytes_used);
        Err(not_an_output("return_block", self.device()))
    }

    /// TX: the writable memory of a block that belongs to the CPU (after `start`, or after
    /// its completion), synced for CPU writes. Fill it, then [`Self::requeue`] it with the
    /// number of bytes filled.
    ///
    /// The default (RX transports) refuses with `EOPNOTSUPP`; `EBUSY` while the block
    /// belongs to the hardware, `EINVAL` for an unknown block.
    fn block_mut(&mut self, block: usize) -> Result<&mut [u8]> {
        let _ = block;
        Err(not_an_output("block_mut", self.device()))
    }
}

/// The refusal of the TX-only operation `op` by `device`, which is not an output transport.
pub(crate) fn not_an_output(op: &'static str, device: &str) -> Error {
    Error::os_detail(op, device, Errno::OPNOTSUPP, "not an output (TX) transport")
}

/// A transport's `start` whose work is `start_inner`: `EBUSY` (with `busy`) if `started`;
/// otherwise runs it, and on failure stops again ([`stop_after_failed_start`]).
pub(crate) fn start_once<T: Transport>(
    transport: &mut T,
    started: bool,
    busy: &str,
    start_inner: impl FnOnce(&mut T) -> Result<()>,
) -> Result<()> {
    if started {
        return Err(transport.stream().err("start", Errno::BUSY, busy));
    }
    let result = start_inner(transport);
    stop_after_failed_start(transport, result)
}

/// What every transport's `start` does with the result of its work: on failure, stops what
/// was started (half-attached, half-queued, maybe enabled) so that nothing stays with the
/// hardware, and returns the error that made the start fail.
fn stop_after_failed_start<T: Transport + ?Sized>(
    transport: &mut T,
    result: Result<()>,
) -> Result<()> {
    if result.is_err()
        && let Err(e) = transport.stop()
    {
        tracing::warn!(device = %transport.device(), "cleanup after a failed start: {e}");
    }
    result
}

//! [`DmabufTransport`]: the block cycle over DMABUFs — attach, enqueue, export the fence,
//! wait, read its status, sync for the CPU — whichever kernel operations it is given.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io::Errno;

use super::ops::DmabufOps;
use crate::error::{Error, Result, UnknownStatus};
use crate::stream::StreamConfig;
use crate::sys::MappedRegion;
use crate::sys::ioctl::{
    DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE,
};
use crate::transport::{
    Direction, Interest, Transport, TransportCounters, TransportKind, start_once,
};
use crate::wait::Deadline;

/// How long `stop` waits for transfers still in flight after disabling.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `stop` waits for them when the device has gone (its `enable` file no longer
/// exists): the kernel's removal aborts what was in flight right after it removes the sysfs
/// files (`iio_device_unregister`), and a block queued after that never completes (see
/// [`crate::presence`]), so waiting the full [`STOP_TIMEOUT`] for it would only delay the
/// exit.
const GONE_STOP_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    /// Belongs to the CPU.
    Cpu,
    /// Enqueued with `bytes` bytes.
    InFlight { bytes: usize },
}

#[derive(Debug)]
struct DmaBlock {
    fd: OwnedFd,
    /// Read-only CPU mapping, handed out by `block_memory`.
    ro: Arc<MappedRegion>,
    /// Read-write CPU mapping (TX only).
    rw: Option<MappedRegion>,
    state: BlockState,
    /// A SYNC START was issued and its END is due before the next enqueue.
    cpu_synced: bool,
    attached: bool,
    /// The fence of the transfer in flight.
    fence: Fence,
}

/// What the transport holds of the fence of a block's transfer in flight.
#[derive(Debug)]
enum Fence {
    /// Nothing: no transfer in flight, or a kernel that exports no fences.
    None,
    /// The fence, exported as a sync file (possibly the kernel's stub, found out on
    /// completion); `ENQUEUE` took `enqueue_took`, and the export returned `delay` after it.
    Exported {
        fd: OwnedFd,
        enqueue_took: Duration,
        delay: Duration,
    },
    /// The export failed with this errno although the kernel exports fences: the transfer's
    /// status will be unknown.
    ExportFailed(Errno),
}

/// Whether the kernel exports fences as sync files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fences {
    Unknown,
    Supported,
    Unsupported,
}

/// A DMABUF transport (mainline or seed, by its [`DmabufOps`]).
#[derive(Debug)]
pub(crate) struct DmabufTransport<O: DmabufOps> {
    config: StreamConfig,
    blocks: Vec<DmaBlock>,
    ops: O,
    enabled: bool,
    pub(super) fences: Fences,
    counters: TransportCounters,
    /// The signal time of the fence of the block last completed (see
    /// [`Transport::completed_at_ns`]).
    completed_at_ns: Option<u64>,
}

impl<O: DmabufOps> DmabufTransport<O> {
    /// Maps the DMABUFs (`dmabufs.len()` must be `config.block_count`, each at least
    /// `config.block_size` bytes) and, for mainline, attaches every one of them. An attach
    /// refusal (`EPERM`: no DMABUF support; `EINVAL`/`ENOTTY`: unknown ioctl) is returned as
    /// is, with everything already attached detached again.
    pub(crate) fn new(ops: O, dmabufs: Vec<OwnedFd>, config: StreamConfig) -> Result<Self> {
        config.validate()?;
        if dmabufs.len() != config.block_count {
            return Err(Error::Config {
                device: config.name.clone(),
                message: format!(
                    "{} DMABUFs for {} blocks",
                    dmabufs.len(),
                    config.block_count
                ),
            });
        }
        let mut blocks = Vec::with_capacity(dmabufs.len());
        for fd in dmabufs {
            let ro = MappedRegion::map_read_only(fd.as_fd(), config.block_size)
                .map_err(|e| e.on_device(&config.name))?;
            let rw = match config.direction {
                Direction::Out => Some(
                    MappedRegion::map_read_write(fd.as_fd(), config.block_size)
                        .map_err(|e| e.on_device(&config.name))?,
                ),
                Direction::In => None,
            };
            blocks.push(DmaBlock {
                fd,
                ro: Arc::new(ro),
                rw,
                state: BlockState::Cpu,
                cpu_synced: false,
                attached: false,
                fence: Fence::None,
            });
        }
        let mut transport = DmabufTransport {
            config,
            blocks,
            ops,
            enabled: false,
            fences: Fences::Unknown,
            counters: TransportCounters::default(),
            completed_at_ns: None,
        };
        // On error, Drop detaches what was attached.
        transport.attach_all()?;
        tracing::debug!(
            device = %transport.config.name,
            kind = %transport.ops.kind(),
            direction = %transport.config.direction,
            block_size = transport.config.block_size,
            block_count = transport.config.block_count,
            "DMABUF transport created"
        );
        Ok(transport)
    }

    fn attach_all(&mut self) -> Result<()> {
        if !self.ops.uses_attach() {
            return Ok(());
        }
        for i in 0..self.blocks.len() {
            if self.blocks[i].attached {
                continue;
            }
            if let Err(e) = self.ops.attach(self.blocks[i].fd.as_fd()) {
                let detail = match e {
                    Errno::PERM => "the buffer does not support DMABUF".to_string(),
                    Errno::NOTTY | Errno::INVAL => {
                        "the kernel does not know IIO_BUFFER_DMABUF_ATTACH_IOCTL".to_string()
                    }
                    Errno::BUSY => "the buffer is enabled; attach before enabling".to_string(),
                    _ => format!("block {i}"),
                };
                return Err(self.config.err("IIO_BUFFER_DMABUF_ATTACH", e, detail));
            }
            self.blocks[i].attached = true;
        }
        Ok(())
    }

    fn check_block(&self, op: &'static str, block: usize) -> Result<()> {
        if block >= self.blocks.len() {
            return Err(self.config.unknown_block(op, block));
        }
        Ok(())
    }

    fn sync_direction(&self) -> u64 {
        match self.config.direction {
            Direction::In => DMA_BUF_SYNC_READ,
            Direction::Out => DMA_BUF_SYNC_WRITE,
        }
    }

    /// Ends the CPU access to `block` if one is open.
    fn end_cpu_access(&mut self, block: usize) -> Result<()> {
        if !self.blocks[block].cpu_synced {
            return Ok(());
        }
        let flags = DMA_BUF_SYNC_END | self.sync_direction();
        self.blocks[block].cpu_synced = false;
        self.ops
            .sync(self.blocks[block].fd.as_fd(), flags)
            .map_err(|e| {
                self.config
                    .err("DMA_BUF_IOCTL_SYNC(END)", e, format!("block {block}"))
            })
    }

    fn begin_cpu_access(&mut self, block: usize) -> Result<()> {
        if self.blocks[block].cpu_synced {
            return Ok(());
        }
        let flags = DMA_BUF_SYNC_START | self.sync_direction();
        self.ops
            .sync(self.blocks[block].fd.as_fd(), flags)
            .map_err(|e| {
                self.config
                    .err("DMA_BUF_IOCTL_SYNC(START)", e, format!("block {block}"))
            })?;
        self.blocks[block].cpu_synced = true;
        Ok(())
    }

    /// What to send the kernel for a requeue of `bytes_used`, and the bytes the block then
    /// holds. 0 is refused (`EINVAL`) unless the interface defines it (the seed: the whole
    /// DMABUF); then it means the whole block, sent as 0 when the DMABUF is exactly the
    /// block and as the block size when page rounding made the DMABUF larger (0 would then
    /// send the padding past the block as well).
    fn wire_bytes(&self, op: &'static str, bytes_used: usize) -> Result<(u64, usize)> {
        let block = self.config.block_size;
        if bytes_used == 0
            && let Some(whole) = self.ops.zero_bytes_used_transfers()
        {
            let sent = if whole == block as u64 {
                0
            } else {
                block as u64
            };
            return Ok((sent, block));
        }
        self.config.check_bytes_used(op, bytes_used)?;
        Ok((bytes_used as u64, bytes_used))
    }

    /// Enqueues `block`: `sent` is the `bytes_used` given to the kernel, `bytes` what the
    /// block holds (they differ only for the seed's 0).
    fn enqueue(&mut self, block: usize, sent: u64, bytes: usize) -> Result<()> {
        self.end_cpu_access(block)?;
        if self.ops.uses_attach() && !self.blocks[block].attached {
            return Err(self.config.err(
                "enqueue",
                Errno::PERM,
                format!("block {block} is not attached (stopped?)"),
            ));
        }
        let fd = self.blocks[block].fd.as_fd();
        // The window in which a fast (or failed) transfer can beat the export, from inside
        // ENQUEUE to the export's return; reported if it did.
        let before = Instant::now();
        self.ops.enqueue(fd, sent).map_err(|e| {
            self.config.err(
                "IIO_BUFFER_DMABUF_ENQUEUE",
                e,
                format!("block {block}, bytes_used {sent}"),
            )
        })?;
        let enqueued = Instant::now();
        self.blocks[block].state = BlockState::InFlight { bytes };
        // Export the fence at once, while the transfer is (normally) in flight: once it has
        // signalled it is no longer exported — the stub comes instead, and the transfer's
        // status is lost (found out on completion).
        let fence = if self.fences == Fences::Unsupported {
            Fence::None
        } else {
            match self.ops.export_fence(self.blocks[block].fd.as_fd()) {
                Ok(fd) => {
                    self.fences = Fences::Supported;
                    Fence::Exported {
                        fd,
                        enqueue_took: enqueued.duration_since(before),
                        delay: enqueued.elapsed(),
                    }
                }
                // A kernel without the ioctl: `dma_buf_ioctl` answers ENOTTY before 6.0 or
                // without CONFIG_SYNC_FILE (`drivers/dma-buf/dma-buf.c`); EINVAL is what it
                // answers to flags it does not take. Only believed before any export worked:
                // afterwards either is a failed export, whose block's status is unknown.
                Err(e @ (Errno::NOTTY | Errno::INVAL)) if self.fences == Fences::Unknown => {
                    self.fences = Fences::Unsupported;
                    tracing::warn!(
                        device = %self.config.name,
                        "DMA_BUF_IOCTL_EXPORT_SYNC_FILE unsupported ({e}): failed transfers \
                         cannot be told from good ones on this kernel"
                    );
                    Fence::None
                }
                Err(e) => {
                    tracing::warn!(
                        device = %self.config.name,
                        block,
                        "exporting the fence failed: {e}; the transfer's status will be unknown"
                    );
                    Fence::ExportFailed(e)
                }
            }
        };
        self.blocks[block].fence = fence;
        Ok(())
    }

    /// Ends `block`'s transfer as "status unknown": the block goes back to the CPU
    /// undelivered, counted.
    fn status_unknown(&mut self, block: usize, reason: UnknownStatus) -> Error {
        self.blocks[block].fence = Fence::None;
        self.blocks[block].state = BlockState::Cpu;
        self.counters.status_unknown += 1;
        tracing::warn!(
            device = %self.config.name,
            block,
            "transfer status unknown: {reason}"
        );
        Error::TransferStatusUnknown {
            device: self.config.name.clone(),
            block,
            reason,
        }
    }

    fn start_inner(&mut self) -> Result<()> {
        if let Some(length) = self.config.length
            && let Err(e) = self.ops.set_length(length)
        {
            // The DMABUF path does not use `length`; a read-only one is no reason to stop.
            tracing::warn!(device = %self.config.name, "length not set: {e}");
        }
        self.attach_all()?;
        if self.config.direction == Direction::In {
            for block in 0..self.blocks.len() {
                if self.blocks[block].state == BlockState::Cpu {
                    // Explicit sizes on RX, for either interface: nothing depends on 0 here.
                    let bytes = self.config.block_size;
                    self.enqueue(block, bytes as u64, bytes)?;
                }
            }
        }
        self.ops.set_enabled(true)?;
        self.enabled = true;
        Ok(())
    }
}

impl<O: DmabufOps> Transport for DmabufTransport<O> {
    fn kind(&self) -> TransportKind {
        self.ops.kind()
    }

    fn stream(&self) -> &StreamConfig {
        &self.config
    }

    /// Attaches every DMABUF (mainline), enqueues every block whole (RX; TX blocks stay with
    /// the CPU unless already requeued), then writes `enable` = 1 — in that order, as the
    /// kernel requires. `EBUSY` if started; on failure everything is stopped again.
    fn start(&mut self) -> Result<()> {
        let started = self.enabled;
        start_once(self, started, "already started", Self::start_inner)
    }

    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest) {
        (self.blocks[block].fd.as_fd(), Interest::Writable)
    }

    fn try_complete(&mut self, block: usize) -> Result<Option<usize>> {
        self.check_block("try_complete", block)?;
        let BlockState::InFlight { bytes } = self.blocks[block].state else {
            return Ok(None);
        };
        let idle = self
            .ops
            .wait_idle(
                self.blocks[block].fd.as_fd(),
                Deadline::after(Duration::ZERO),
            )
            .map_err(|e| self.config.err("poll", e, format!("block {block}")))?;
        if !idle {
            return Ok(None);
        }
        let status = match &self.blocks[block].fence {
            Fence::Exported {
                fd,
                enqueue_took,
                delay,
            } => {
                let (enqueue_took, export_delay) = (*enqueue_took, *delay);
                let state = self.ops.fence_state(fd.as_fd()).map_err(|e| {
                    self.config
                        .err("SYNC_IOC_FILE_INFO", e, format!("block {block}"))
                })?;
                if state.only_stub {
                    // The stub reads 1 whatever became of the transfer.
                    let reason = UnknownStatus::FenceSignalledBeforeExport {
                        enqueue_took,
                        export_delay,
                    };
                    return Err(self.status_unknown(block, reason));
                }
                Some((state.status, state.signalled_ns))
            }
            Fence::ExportFailed(errno) => {
                let reason = UnknownStatus::ExportFailed(*errno);
                return Err(self.status_unknown(block, reason));
            }
            // A kernel that exports no fences: the completion is all there is to know.
            Fence::None => None,
        };
        let (status, signalled_ns) = (status.map(|s| s.0), status.and_then(|s| s.1));
        if status == Some(0) {
            // Not signalled yet although the DMABUF looked idle: check again later.
            return Ok(None);
        }
        self.blocks[block].fence = Fence::None;
        self.blocks[block].state = BlockState::Cpu;
        if let Some(status) = status.filter(|&s| s < 0) {
            let errno = Errno::from_raw_os_error(status.saturating_neg());
            tracing::warn!(device = %self.config.name, block, "transfer failed: {errno}");
            return Err(Error::TransferFailed {
                device: self.config.name.clone(),
                block,
                errno,
            });
        }
        if self.config.direction == Direction::In {
            self.begin_cpu_access(block)?;
        }
        self.counters.blocks_completed += 1;
        self.counters.bytes_completed += bytes as u64;
        self.completed_at_ns = signalled_ns;
        Ok(Some(bytes))
    }

    /// As documented on the trait; returns `Ok(None)` at once when the block is not in
    /// flight.
    fn wait_complete(&mut self, block: usize, timeout: Duration) -> Result<Option<usize>> {
        self.check_block("wait_complete", block)?;
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(bytes) = self.try_complete(block)? {
                return Ok(Some(bytes));
            }
            if self.blocks[block].state == BlockState::Cpu || deadline.passed() {
                return Ok(None);
            }
            self.ops
                .wait_idle(self.blocks[block].fd.as_fd(), deadline)
                .map_err(|e| self.config.err("poll", e, format!("block {block}")))?;
        }
    }

    /// The signal time of the block's fence, read with its status (`SYNC_IOC_FILE_INFO`).
    fn completed_at_ns(&self) -> Option<u64> {
        self.completed_at_ns
    }

    fn block_memory(&self, block: usize) -> Arc<MappedRegion> {
        Arc::clone(&self.blocks[block].ro)
    }

    /// Ends the CPU access (SYNC END), then enqueues `block` with `bytes_used` bytes.
    /// `EBUSY` while it is in flight; `EINVAL` for a size larger than the block, not a
    /// multiple of [`Transport::bytes_used_align`], or 0 — except on the seed's interface,
    /// where 0 is the whole block (see the module documentation) and completes with the
    /// block size.
    fn requeue(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.check_block("requeue", block)?;
        let (sent, bytes) = self.wire_bytes("requeue", bytes_used)?;
        if self.blocks[block].state != BlockState::Cpu {
            return Err(self.config.err(
                "requeue",
                Errno::BUSY,
                format!("block {block} is in flight"),
            ));
        }
        self.enqueue(block, sent, bytes)
    }

    fn zero_bytes_used_is_whole_block(&self) -> bool {
        self.ops.zero_bytes_used_transfers().is_some()
    }

    /// Writes `enable` = 0 (which aborts what is queued), waits (up to 5 s, and only if the
    /// buffer was enabled) for the transfers still in flight, ends any CPU access, and
    /// detaches every DMABUF (mainline).
    /// Every block then belongs to the CPU; uncollected completions are discarded.
    /// Idempotent; keeps going after an error and returns the first one.
    fn stop(&mut self) -> Result<()> {
        let mut first_error = None;
        let was_enabled = self.enabled;
        let mut gone = false;
        if self.enabled {
            self.enabled = false;
            if let Err(e) = self.ops.set_enabled(false) {
                gone = matches!(e.errno(), Some(Errno::NOENT | Errno::NODEV));
                first_error.get_or_insert(e);
            }
        }
        // Disabling aborts the queued transfers, so they finish quickly. Blocks queued on a
        // buffer that was never enabled (a start that failed half-way, TX blocks queued
        // before start) will not move at all: do not wait for them.
        let wait = match (was_enabled, gone) {
            (false, _) => Duration::ZERO,
            (true, false) => STOP_TIMEOUT,
            (true, true) => GONE_STOP_TIMEOUT,
        };
        let deadline = Deadline::after(wait);
        for block in 0..self.blocks.len() {
            if self.blocks[block].state == BlockState::Cpu {
                continue;
            }
            match self.ops.wait_idle(self.blocks[block].fd.as_fd(), deadline) {
                Ok(true) => {}
                Ok(false) if was_enabled => tracing::warn!(
                    device = %self.config.name,
                    block,
                    "transfer still in flight {wait:?} after disabling"
                ),
                Ok(false) => {}
                Err(e) => {
                    first_error.get_or_insert(self.config.err("poll", e, format!("block {block}")));
                }
            }
            self.blocks[block].state = BlockState::Cpu;
            self.blocks[block].fence = Fence::None;
        }
        for block in 0..self.blocks.len() {
            if let Err(e) = self.end_cpu_access(block) {
                first_error.get_or_insert(e);
            }
            if self.blocks[block].attached {
                self.blocks[block].attached = false;
                if let Err(e) = self.ops.detach(self.blocks[block].fd.as_fd()) {
                    first_error.get_or_insert(self.config.err(
                        "IIO_BUFFER_DMABUF_DETACH",
                        e,
                        format!("block {block}"),
                    ));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn counters(&self) -> TransportCounters {
        self.counters.clone()
    }

    /// Begins the CPU's write access (SYNC START WRITE) and returns the block's memory.
    fn lend_block(&mut self, block: usize) -> Result<MappedRegion> {
        self.check_block("lend_block", block)?;
        self.config.require_output("lend_block")?;
        if self.blocks[block].state != BlockState::Cpu || self.blocks[block].rw.is_none() {
            return Err(self.config.err(
                "lend_block",
                Errno::BUSY,
                format!("block {block} is in flight or already lent"),
            ));
        }
        self.begin_cpu_access(block)?;
        self.config.lend(&mut self.blocks[block].rw, block)
    }

    fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes_used: usize,
    ) -> Result<()> {
        self.check_block("return_block", block)?;
        self.config
            .take_back(&mut self.blocks[block].rw, block, memory)?;
        self.requeue(block, bytes_used)
    }

    fn block_mut(&mut self, block: usize) -> Result<&mut [u8]> {
        self.check_block("block_mut", block)?;
        self.config.require_output("block_mut")?;
        if self.blocks[block].state != BlockState::Cpu {
            return Err(self.config.err(
                "block_mut",
                Errno::BUSY,
                format!("block {block} is in flight"),
            ));
        }
        self.begin_cpu_access(block)?;
        match self.blocks[block].rw.as_mut() {
            Some(rw) => Ok(rw.as_mut_bytes()),
            None => Err(self
                .config
                .err("block_mut", Errno::OPNOTSUPP, "no writable mapping")),
        }
    }
}

impl<O: DmabufOps> Drop for DmabufTransport<O> {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(device = %self.config.name, "stopping on drop: {e}");
        }
        // Then the fields: mappings unmapped (unless shared out), DMABUF fds closed, and the
        // buffer fd closed last (closing it also releases any attachment the kernel still
        // holds).
    }
}

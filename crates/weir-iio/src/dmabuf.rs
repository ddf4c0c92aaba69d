//! The zero-copy transports: mainline IIO DMABUF (Linux 6.11+) and the seed's interface.
//!
//! Both move data in DMABUFs that user space maps; they differ in who allocates them, in
//! the ioctls, and in which file descriptor those go to (see `docs/architecture.md`, "The
//! kernel interfaces and their rules"):
//!
//! - **mainline**: user space allocates (dma-heap or udmabuf, see [`alloc_dma_heap`] and
//!   [`alloc_udmabuf`]), then `ATTACH`es every DMABUF to the buffer **before** enabling it,
//!   `ENQUEUE`s them, and `DETACH`es them at the end — all on the **buffer fd** from
//!   `IIO_BUFFER_GET_FD_IOCTL`, the only fd whose handler (6.11+) knows them;
//! - **the seed**: IIO allocates (its `ALLOC` ioctl); there is no attach/detach. Its diff
//!   serves `ALLOC` and `ENQUEUE` in `iio_device_buffer_ioctl`, the handler of the **device
//!   node** (`/dev/iio:deviceX`, which stands for buffer0), next to `GET_FD`; before 6.11 the
//!   anonymous buffer fd had no ioctl handler at all (`ENOTTY`). So for buffer0 they go to
//!   the node first and, if it does not know them (`ENOTTY`, `EINVAL`, or `ENODEV` — what the
//!   node answers to an ioctl no handler takes), to the buffer fd, which a later kernel may
//!   serve; for another buffer only the buffer fd can address it. `ENQUEUE` then goes to the
//!   fd that `ALLOC` succeeded on. Every try and its errno end up in the error (and so in the
//!   reason the transport choice records).
//!
//! The block cycle is the same: `ENQUEUE` with `bytes_used`; completion is `POLLOUT` on the
//! DMABUF fd; the CPU brackets its accesses with `DMA_BUF_IOCTL_SYNC` `START`/`END` (`READ`
//! for RX, `WRITE` for TX). `poll` does not tell a failed transfer from a good one, so right
//! after each enqueue the transfer's fence is exported as a sync file
//! (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE`), and on completion its status is read
//! (`SYNC_IOC_FILE_INFO`): a negative status is reported as [`Error::TransferFailed`], never
//! as data.
//!
//! **Status unknown.** The fence has to be exported while the transfer is in flight: the
//! export skips fences that have signalled and, when none is left, hands out the kernel's
//! stub fence, always signalled without error (`drivers/dma-buf/dma-buf.c`,
//! `dma_buf_export_sync_file`; `drivers/dma-buf/dma-resv.c`, `dma_resv_iter_walk_unlocked`;
//! the stub: `drivers/dma-buf/dma-fence.c`, `dma_fence_get_stub`). So a transfer whose fence
//! signalled between the kernel's `ENQUEUE` and the export — one that failed at submit (the
//! DMA buffer layer signals the fence with the error inside `ENQUEUE` and `ENQUEUE` still
//! returns 0: `drivers/iio/buffer/industrialio-buffer-dma.c`, `iio_dma_buffer_submit_block`),
//! or one the device finished before user space got to the export — would read as a
//! success. The sync file's fence names tell the stub apart (driver and timeline `"stub"`,
//! [`crate::sys::ioctl::STUB_FENCE_NAME`]); such a block, and one whose fence could not be
//! exported although the kernel exports fences, completes as
//! [`Error::TransferStatusUnknown`], counted in `TransportCounters::status_unknown`, and is
//! never delivered. A kernel without the export at all (before 6.0: only the seed's vendor
//! kernels) cannot report failed transfers; there every completion counts as a success, with
//! a warning when the transport finds out.
//!
//! **`bytes_used == 0`.** Mainline refuses it (`EINVAL`), and so does this crate's requeue for
//! every transport but the seed's, whose ABI defines 0 as "the whole DMABUF". The rule lives
//! in the kernel operations (`DmabufOps::zero_bytes_used_transfers`: what 0 makes the
//! kernel transfer, or `None`) and is published to callers as
//! [`Transport::zero_bytes_used_is_whole_block`]. A seed requeue of 0 means the whole block:
//! it is sent to the kernel as 0 when the DMABUF is exactly one block, and as the explicit
//! block size when page rounding made the DMABUF larger (0 would send the padding too); its
//! completion reports the block size either way.
//!
//! The buffer-addressed ioctls go through an [`IioIoctls`] object (the kernel, or a fake in
//! the tests), and everything the transport asks of the kernel goes through one internal
//! trait, so that the block cycle can be checked against a recording fake in the tests.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result, UnknownStatus, errno_name};
use crate::kernel::{IioIoctls, LinuxIoctls};
use crate::stream::StreamConfig;
use crate::sys::ioctl::{
    self, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE,
    SyncFileState,
};
use crate::sys::{self, MappedRegion};
use crate::sysfs::BufferControl;
use crate::transport::{
    Direction, Interest, Transport, TransportCounters, TransportKind, stop_after_failed_start,
};
use crate::wait::{Deadline, wait_fd};

/// How long `stop` waits for transfers still in flight after disabling.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `stop` waits for them when the device has gone (its `enable` file no longer
/// exists): the kernel's removal aborts what was in flight right after it removes the sysfs
/// files (`iio_device_unregister`), and a block queued after that never completes (see
/// [`crate::presence`]), so waiting the full [`STOP_TIMEOUT`] for it would only delay the
/// exit.
const GONE_STOP_TIMEOUT: Duration = Duration::from_millis(500);

/// The kernel operations of a DMABUF transport.
pub(crate) trait DmabufOps: Send + fmt::Debug {
    /// `Dmabuf` (mainline) or `Seed`.
    fn kind(&self) -> TransportKind;
    /// Whether DMABUFs must be attached (mainline) before use.
    fn uses_attach(&self) -> bool;
    /// What `bytes_used` == 0 makes the kernel transfer: `Some(n)`, the whole DMABUF of `n`
    /// bytes (the seed's ABI); `None`, nothing — the interface refuses 0 (mainline's
    /// `EINVAL`), and so does the transport, before asking the kernel.
    fn zero_bytes_used_transfers(&self) -> Option<u64>;
    fn attach(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<()>;
    fn detach(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<()>;
    fn enqueue(&mut self, dmabuf: BorrowedFd<'_>, bytes_used: u64) -> rustix::io::Result<()>;
    fn sync(&mut self, dmabuf: BorrowedFd<'_>, flags: u64) -> rustix::io::Result<()>;
    fn export_fence(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<OwnedFd>;
    /// The exported sync file's status, and whether it is only the kernel's stub.
    fn fence_state(&mut self, fence: BorrowedFd<'_>) -> rustix::io::Result<SyncFileState>;
    /// Whether every transfer on `dmabuf` has finished (`POLLOUT`), waiting until `deadline`.
    fn wait_idle(&mut self, dmabuf: BorrowedFd<'_>, deadline: Deadline)
    -> rustix::io::Result<bool>;
    fn set_length(&mut self, samples: u64) -> Result<()>;
    fn set_enabled(&mut self, enabled: bool) -> Result<()>;
}

/// Which kernel interface [`KernelOps`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interface {
    Mainline,
    /// The seed's, with DMABUFs of `dmabuf_size` bytes (what its `bytes_used` 0 transfers).
    Seed {
        dmabuf_size: u64,
    },
}

/// The real kernel: buffer ioctls through an [`IioIoctls`] on one target fd, DMABUF ioctls
/// on the DMABUFs, sysfs for length/enable.
#[derive(Debug)]
pub(crate) struct KernelOps {
    interface: Interface,
    ioctls: Arc<dyn IioIoctls>,
    /// Where `ATTACH`/`DETACH`/`ENQUEUE` go: mainline, the buffer fd; the seed, the fd its
    /// `ALLOC` succeeded on (the device node or the buffer fd).
    target: OwnedFd,
    /// Kept open, never addressed: the device node (exclusive access) and the buffer fd (the
    /// claim on the buffer) when the target is the other one.
    _keep: Vec<OwnedFd>,
    control: Option<BufferControl>,
}

impl KernelOps {
    pub(crate) fn new(
        interface: Interface,
        ioctls: Arc<dyn IioIoctls>,
        target: OwnedFd,
        keep: Vec<OwnedFd>,
        control: Option<BufferControl>,
    ) -> KernelOps {
        KernelOps {
            interface,
            ioctls,
            target,
            _keep: keep,
            control,
        }
    }
}

impl DmabufOps for KernelOps {
    fn kind(&self) -> TransportKind {
        match self.interface {
            Interface::Mainline => TransportKind::Dmabuf,
            Interface::Seed { .. } => TransportKind::Seed,
        }
    }

    fn uses_attach(&self) -> bool {
        self.interface == Interface::Mainline
    }

    fn zero_bytes_used_transfers(&self) -> Option<u64> {
        match self.interface {
            Interface::Mainline => None,
            Interface::Seed { dmabuf_size } => Some(dmabuf_size),
        }
    }

    fn attach(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<()> {
        match self.interface {
            Interface::Mainline => self.ioctls.dmabuf_attach(self.target.as_fd(), dmabuf),
            Interface::Seed { .. } => Ok(()),
        }
    }

    fn detach(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<()> {
        match self.interface {
            Interface::Mainline => self.ioctls.dmabuf_detach(self.target.as_fd(), dmabuf),
            Interface::Seed { .. } => Ok(()),
        }
    }

    fn enqueue(&mut self, dmabuf: BorrowedFd<'_>, bytes_used: u64) -> rustix::io::Result<()> {
        match self.interface {
            Interface::Mainline => {
                self.ioctls
                    .dmabuf_enqueue(self.target.as_fd(), dmabuf, bytes_used)
            }
            Interface::Seed { .. } => {
                self.ioctls
                    .seed_enqueue(self.target.as_fd(), dmabuf, bytes_used)
            }
        }
    }

    fn sync(&mut self, dmabuf: BorrowedFd<'_>, flags: u64) -> rustix::io::Result<()> {
        ioctl::dma_buf_sync(dmabuf, flags)
    }

    fn export_fence(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<OwnedFd> {
        // WRITE: every fence, whatever its usage (IIO adds a write fence for RX, a read one
        // for TX).
        ioctl::dma_buf_export_sync_file(dmabuf, DMA_BUF_SYNC_WRITE as u32)
    }

    fn fence_state(&mut self, fence: BorrowedFd<'_>) -> rustix::io::Result<SyncFileState> {
        ioctl::sync_file_state(fence)
    }

    fn wait_idle(
        &mut self,
        dmabuf: BorrowedFd<'_>,
        deadline: Deadline,
    ) -> rustix::io::Result<bool> {
        wait_fd(dmabuf, Interest::Writable, deadline)
    }

    fn set_length(&mut self, samples: u64) -> Result<()> {
        match &self.control {
            Some(c) => c.set_length(samples),
            None => Ok(()),
        }
    }

    fn set_enabled(&mut self, enabled: bool) -> Result<()> {
        match &self.control {
            Some(c) => c.set_enabled(enabled),
            None => Ok(()),
        }
    }
}

/// Rounds `size` up to whole pages (DMABUF allocators work in pages; udmabuf insists).
pub(crate) fn page_align(size: usize) -> usize {
    let page = rustix::param::page_size();
    size.div_ceil(page) * page
}

/// Allocates `count` DMABUFs of `size` bytes (rounded up to pages) from the dma-heap at
/// `heap` (e.g. `/dev/dma_heap/system`). Opening the heap fails with `ENOENT` (no such
/// heap) or `EACCES` (permission), both named with the path.
pub fn alloc_dma_heap(heap: &Path, size: usize, count: usize) -> Result<Vec<OwnedFd>> {
    alloc_dma_heap_with(&LinuxIoctls, heap, size, count)
}

/// [`alloc_dma_heap`] with the allocation ioctl sent through `ioctls`.
pub(crate) fn alloc_dma_heap_with(
    ioctls: &dyn IioIoctls,
    heap: &Path,
    size: usize,
    count: usize,
) -> Result<Vec<OwnedFd>> {
    let fd =
        rustix::fs::open(heap, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            Error::File {
                op: "open",
                path: heap.to_path_buf(),
                errno: e,
                detail: String::new(),
            }
        })?;
    let len = page_align(size) as u64;
    (0..count)
        .map(|_| {
            ioctls
                .dma_heap_alloc(fd.as_fd(), len)
                .map_err(|e| Error::File {
                    op: "DMA_HEAP_IOCTL_ALLOC",
                    path: heap.to_path_buf(),
                    errno: e,
                    detail: format!("{len} bytes"),
                })
        })
        .collect()
}

/// Allocates `count` DMABUFs of `size` bytes (rounded up to pages) through udmabuf
/// (`/dev/udmabuf`): each is a memfd sealed against shrinking, wrapped with
/// `UDMABUF_CREATE`. The memfds are closed once wrapped (the DMABUF holds the pages).
pub fn alloc_udmabuf(
    udmabuf: &Path,
    size: usize,
    count: usize,
    name: &str,
) -> Result<Vec<OwnedFd>> {
    let dev =
        rustix::fs::open(udmabuf, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            Error::File {
                op: "open",
                path: udmabuf.to_path_buf(),
                errno: e,
                detail: String::new(),
            }
        })?;
    let len = page_align(size);
    (0..count)
        .map(|i| {
            let memfd = sys::memfd(&format!("{name}-udmabuf{i}"), len)?;
            ioctl::udmabuf_create(dev.as_fd(), memfd.as_fd(), len as u64).map_err(|e| Error::File {
                op: "UDMABUF_CREATE",
                path: udmabuf.to_path_buf(),
                errno: e,
                detail: format!("{len} bytes"),
            })
        })
        .collect()
}

/// The file descriptors through which the seed's ioctls can reach one buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeedTargets<'a> {
    /// The device node (`/dev/iio:deviceX`): it serves buffer0.
    pub node: BorrowedFd<'a>,
    /// Its path, for the reasons.
    pub node_path: &'a Path,
    /// The buffer fd (from `IIO_BUFFER_GET_FD_IOCTL`).
    pub buffer: BorrowedFd<'a>,
    /// The buffer's index.
    pub index: u32,
    /// The buffer fd is the node itself (a kernel without `IIO_BUFFER_GET_FD_IOCTL`).
    pub buffer_is_node: bool,
}

/// Which fd the seed's `ALLOC` succeeded on: its `ENQUEUE`s go to the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeedFd {
    Node,
    Buffer,
}

/// DMABUFs from the seed's `ALLOC`.
#[derive(Debug)]
pub(crate) struct SeedAllocation {
    /// Where `ALLOC` succeeded.
    pub on: SeedFd,
    /// The DMABUFs, each of `dmabuf_size` bytes.
    pub dmabufs: Vec<OwnedFd>,
    /// The size asked of `ALLOC` (the block size rounded up to pages): what the seed's
    /// `bytes_used` 0 transfers.
    pub dmabuf_size: u64,
}

/// Whether `errno`, for the first request on an fd, says that the fd does not know the
/// request (as opposed to the seed's handler answering it): `ENOTTY` from a file without an
/// ioctl handler (the buffer fd before 6.11), `EINVAL` from an IIO handler that does not
/// know it (the buffer fd on 6.11+; the node on some 5.x), `ENODEV` from the device node when
/// none of its handlers takes it.
fn unknown_request(errno: Errno) -> bool {
    matches!(errno, Errno::NOTTY | Errno::INVAL | Errno::NODEV)
}

/// Asks IIO (the seed's interface) for `count` DMABUFs of `size` bytes (rounded up to pages)
/// for the buffer behind `targets`, on the fd the seed serves.
///
/// Buffer0: the device node first — the seed's diff handles `ALLOC` in the node's
/// `iio_device_buffer_ioctl` — then, if the node does not know the request, the buffer fd (a
/// kernel may serve it there), unless the buffer fd is the node itself. Another buffer: only
/// its buffer fd (the node stands for buffer0). An fd that knows the request and refuses it
/// (`EPERM`: the driver's buffer has no DMABUF support; `ENOMEM` …) ends the search: another
/// fd of the same buffer would not do better. A failure after the first DMABUF is an error
/// as is; what was allocated is closed again.
///
/// The error is an [`Error::Os`] with the last errno and, as its detail, every fd tried with
/// its errno: `device node /dev/iio:device0: ENODEV; buffer fd: ENOTTY; 4096 bytes`.
pub(crate) fn alloc_seed(
    ioctls: &dyn IioIoctls,
    targets: SeedTargets<'_>,
    size: usize,
    count: usize,
    name: &str,
) -> Result<SeedAllocation> {
    let len = page_align(size) as u64;
    let node_label = format!("device node {}", targets.node_path.display());
    // The fds to try in order, and those not to try with the reason: the reason names both,
    // so that "buffer fd: ENOTTY" alone is not mistaken for "the node was tried too".
    let mut plan: Vec<std::result::Result<(SeedFd, BorrowedFd<'_>, String), String>> = Vec::new();
    if targets.index == 0 {
        plan.push(Ok((SeedFd::Node, targets.node, node_label)));
        plan.push(if targets.buffer_is_node {
            Err("buffer fd: not tried (it is the device node: no IIO_BUFFER_GET_FD_IOCTL)".into())
        } else {
            Ok((SeedFd::Buffer, targets.buffer, "buffer fd".to_string()))
        });
    } else {
        plan.push(Err(format!(
            "{node_label}: not tried (it serves buffer0, not buffer{})",
            targets.index
        )));
        plan.push(Ok((
            SeedFd::Buffer,
            targets.buffer,
            "buffer fd".to_string(),
        )));
    }
    let mut tried = Vec::new();
    let mut last = None;
    // Set once an fd's handler answered: another fd of the same buffer would not do better.
    let mut answered = false;
    for step in plan {
        let (on, fd, label) = match step {
            Err(skipped) => {
                tried.push(skipped);
                continue;
            }
            Ok((_, _, label)) if answered => {
                tried.push(format!("{label}: not tried (the seed's handler answered)"));
                continue;
            }
            Ok(t) => t,
        };
        let mut dmabufs = Vec::with_capacity(count);
        let mut failed = None;
        for _ in 0..count {
            match ioctls.seed_alloc(fd, len) {
                Ok(dmabuf) => dmabufs.push(dmabuf),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let Some(errno) = failed else {
            if !tried.is_empty() {
                tracing::info!(
                    device = name,
                    "seed DMABUFs allocated on the {label} after: {}",
                    tried.join("; ")
                );
            }
            return Ok(SeedAllocation {
                on,
                dmabufs,
                dmabuf_size: len,
            });
        };
        last = Some(errno);
        if dmabufs.is_empty() {
            tried.push(format!("{label}: {}", errno_name(errno)));
            answered = !unknown_request(errno);
        } else {
            // The fd knows the request: the seed refuses more DMABUFs. Closes what it gave.
            tried.push(format!(
                "{label}: {} after {} of {count} DMABUFs",
                errno_name(errno),
                dmabufs.len()
            ));
            answered = true;
            drop(dmabufs);
        }
    }
    tried.push(format!("{len} bytes"));
    Err(Error::os_detail(
        "IIO_BUFFER_DMABUF_ALLOC (seed)",
        name,
        last.unwrap_or(Errno::NOTTY),
        tried.join("; "),
    ))
}

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
enum Fences {
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
    fences: Fences,
    counters: TransportCounters,
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
        if self.enabled {
            return Err(self.config.err("start", Errno::BUSY, "already started"));
        }
        let result = self.start_inner();
        stop_after_failed_start(self, result)
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
                Some(state.status)
            }
            Fence::ExportFailed(errno) => {
                let reason = UnknownStatus::ExportFailed(*errno);
                return Err(self.status_unknown(block, reason));
            }
            // A kernel that exports no fences: the completion is all there is to know.
            Fence::None => None,
        };
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
        if self.config.direction != Direction::Out {
            return Err(self.config.err(
                "lend_block",
                Errno::OPNOTSUPP,
                "not an output (TX) transport",
            ));
        }
        if self.blocks[block].state != BlockState::Cpu || self.blocks[block].rw.is_none() {
            return Err(self.config.err(
                "lend_block",
                Errno::BUSY,
                format!("block {block} is in flight or already lent"),
            ));
        }
        self.begin_cpu_access(block)?;
        self.blocks[block].rw.take().ok_or_else(|| {
            self.config.err(
                "lend_block",
                Errno::BUSY,
                format!("block {block} is already lent"),
            )
        })
    }

    fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes_used: usize,
    ) -> Result<()> {
        self.check_block("return_block", block)?;
        if self.blocks[block].rw.is_some() {
            return Err(self.config.err(
                "return_block",
                Errno::INVAL,
                format!("block {block} was not lent"),
            ));
        }
        self.blocks[block].rw = Some(memory);
        self.requeue(block, bytes_used)
    }

    fn block_mut(&mut self, block: usize) -> Result<&mut [u8]> {
        self.check_block("block_mut", block)?;
        if self.config.direction != Direction::Out {
            return Err(self.config.err(
                "block_mut",
                Errno::OPNOTSUPP,
                "not an output (TX) transport",
            ));
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::fd::AsRawFd;
    use std::sync::Mutex;

    /// What the fake kernel was asked, in order (by block number where a DMABUF is involved).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Call {
        Attach(usize),
        Detach(usize),
        Enqueue(usize, u64),
        Sync(usize, u64),
        Export(usize),
        Length(u64),
        Enable(bool),
    }

    #[derive(Debug, Default)]
    pub(crate) struct FakeState {
        pub calls: Vec<Call>,
        /// DMABUF raw fd → block number.
        pub blocks: HashMap<i32, usize>,
        /// Blocks whose transfer has finished, with the fence status to report.
        pub done: HashMap<usize, i32>,
        pub attach_error: Option<Errno>,
        pub export_error: Option<Errno>,
        pub enable_error: Option<Errno>,
        /// Fence fds handed out: fd → block.
        pub fences: HashMap<i32, usize>,
        /// Fence fds handed out as the kernel's stub (the block's transfer had finished).
        pub stubs: std::collections::HashSet<i32>,
        /// Blocks whose next transfer finishes inside `ENQUEUE` with this status (a failure at
        /// submit, or a device faster than user space), before the fence can be exported.
        pub finish_in_enqueue: HashMap<usize, i32>,
    }

    /// A recording fake kernel. Fences are eventfds standing for sync files.
    ///
    /// Like the kernel, the export hands out a stub (driver and timeline "stub", status 1) for
    /// a block whose transfer has already finished, whatever its status was; and a sync file
    /// is described to the transport through the same classification of `SYNC_IOC_FILE_INFO`'s
    /// answer as the real one (`SyncFileState::classify`).
    #[derive(Debug, Clone, Default)]
    pub(crate) struct FakeOps {
        pub state: Arc<Mutex<FakeState>>,
        pub seed: bool,
        /// The seed's DMABUF size (what its 0 transfers); `None`: 4096, the fake's blocks.
        pub dmabuf_size: Option<u64>,
    }

    impl FakeOps {
        fn block(&self, fd: BorrowedFd<'_>) -> usize {
            self.state.lock().unwrap().blocks[&fd.as_raw_fd()]
        }
        fn log(&self, call: Call) {
            self.state.lock().unwrap().calls.push(call);
        }
        pub(crate) fn calls(&self) -> Vec<Call> {
            self.state.lock().unwrap().calls.clone()
        }
        pub(crate) fn finish(&self, block: usize, status: i32) {
            self.state.lock().unwrap().done.insert(block, status);
        }
        /// The next transfer of `block` finishes with `status` inside `ENQUEUE`.
        pub(crate) fn finish_in_enqueue(&self, block: usize, status: i32) {
            let mut st = self.state.lock().unwrap();
            st.finish_in_enqueue.insert(block, status);
        }
    }

    impl DmabufOps for FakeOps {
        fn kind(&self) -> TransportKind {
            if self.seed {
                TransportKind::Seed
            } else {
                TransportKind::Dmabuf
            }
        }
        fn uses_attach(&self) -> bool {
            !self.seed
        }
        fn zero_bytes_used_transfers(&self) -> Option<u64> {
            self.seed.then(|| self.dmabuf_size.unwrap_or(4096))
        }
        fn attach(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<()> {
            let b = self.block(dmabuf);
            if let Some(e) = self.state.lock().unwrap().attach_error {
                return Err(e);
            }
            self.log(Call::Attach(b));
            Ok(())
        }
        fn detach(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<()> {
            let b = self.block(dmabuf);
            self.log(Call::Detach(b));
            Ok(())
        }
        fn enqueue(&mut self, dmabuf: BorrowedFd<'_>, bytes_used: u64) -> rustix::io::Result<()> {
            let b = self.block(dmabuf);
            {
                let mut st = self.state.lock().unwrap();
                st.done.remove(&b);
                if let Some(status) = st.finish_in_enqueue.remove(&b) {
                    st.done.insert(b, status);
                }
            }
            self.log(Call::Enqueue(b, bytes_used));
            Ok(())
        }
        fn sync(&mut self, dmabuf: BorrowedFd<'_>, flags: u64) -> rustix::io::Result<()> {
            let b = self.block(dmabuf);
            self.log(Call::Sync(b, flags));
            Ok(())
        }
        fn export_fence(&mut self, dmabuf: BorrowedFd<'_>) -> rustix::io::Result<OwnedFd> {
            let b = self.block(dmabuf);
            if let Some(e) = self.state.lock().unwrap().export_error {
                return Err(e);
            }
            self.log(Call::Export(b));
            let fd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)?;
            let mut st = self.state.lock().unwrap();
            st.fences.insert(fd.as_raw_fd(), b);
            // The kernel exports only unsignalled fences, and the stub when none is left.
            if st.done.contains_key(&b) {
                st.stubs.insert(fd.as_raw_fd());
            } else {
                st.stubs.remove(&fd.as_raw_fd());
            }
            Ok(fd)
        }
        fn fence_state(&mut self, fence: BorrowedFd<'_>) -> rustix::io::Result<SyncFileState> {
            use crate::sys::ioctl::{SyncFenceInfo, SyncFileInfo};
            let st = self.state.lock().unwrap();
            let fd = fence.as_raw_fd();
            let b = st.fences[&fd];
            let (name, status): (&[u8], i32) = if st.stubs.contains(&fd) {
                (b"stub", 1)
            } else {
                (b"iio", st.done.get(&b).copied().unwrap_or(0))
            };
            let mut entry = SyncFenceInfo {
                status,
                ..SyncFenceInfo::default()
            };
            entry.driver_name[..name.len()].copy_from_slice(name);
            entry.obj_name[..name.len()].copy_from_slice(name);
            let info = SyncFileInfo {
                status,
                num_fences: 1,
                ..SyncFileInfo::default()
            };
            Ok(SyncFileState::classify(&info, &[entry]))
        }
        fn wait_idle(
            &mut self,
            dmabuf: BorrowedFd<'_>,
            _deadline: Deadline,
        ) -> rustix::io::Result<bool> {
            let b = self.block(dmabuf);
            Ok(self.state.lock().unwrap().done.contains_key(&b))
        }
        fn set_length(&mut self, samples: u64) -> Result<()> {
            self.log(Call::Length(samples));
            Ok(())
        }
        fn set_enabled(&mut self, enabled: bool) -> Result<()> {
            if let Some(errno) = self.state.lock().unwrap().enable_error {
                return Err(Error::Attribute {
                    attr: "enable".to_string(),
                    path: "/fake/buffer0/enable".into(),
                    value: "1".to_string(),
                    errno,
                });
            }
            self.log(Call::Enable(enabled));
            Ok(())
        }
    }

    fn config(direction: Direction, blocks: usize) -> StreamConfig {
        StreamConfig {
            name: "fake-dmabuf".to_string(),
            direction,
            sample_size: 4,
            block_size: 4096,
            block_count: blocks,
            bytes_align: 8,
            length: Some(2048),
            watermark: None,
        }
    }

    /// Memfds standing in for DMABUFs, registered with the fake.
    fn dmabufs(ops: &FakeOps, n: usize) -> Vec<OwnedFd> {
        (0..n)
            .map(|i| {
                let fd = sys::memfd(&format!("fake-dmabuf{i}"), 4096).unwrap();
                ops.state.lock().unwrap().blocks.insert(fd.as_raw_fd(), i);
                fd
            })
            .collect()
    }

    const R: u64 = DMA_BUF_SYNC_READ;
    const W: u64 = DMA_BUF_SYNC_WRITE;
    const START: u64 = DMA_BUF_SYNC_START;
    const END: u64 = DMA_BUF_SYNC_END;

    #[test]
    fn mainline_rx_cycle_follows_the_kernel_rules() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        assert_eq!(t.kind(), TransportKind::Dmabuf);
        assert_eq!(t.completion_fd(1).1, Interest::Writable);
        // Probing at open: attached, nothing else.
        assert_eq!(ops.calls(), [Call::Attach(0), Call::Attach(1)]);
        t.start().unwrap();
        // Length, every block enqueued whole with its fence exported, then enable.
        assert_eq!(
            ops.calls()[2..],
            [
                Call::Length(2048),
                Call::Enqueue(0, 4096),
                Call::Export(0),
                Call::Enqueue(1, 4096),
                Call::Export(1),
                Call::Enable(true),
            ]
        );
        assert_eq!(t.start().unwrap_err().errno(), Some(Errno::BUSY));
        // In flight: nothing to collect, and it cannot be requeued.
        assert_eq!(t.try_complete(0).unwrap(), None);
        assert_eq!(t.requeue(0, 4096).unwrap_err().errno(), Some(Errno::BUSY));
        // Completes: synced for CPU reads before it is handed out.
        ops.finish(0, 1);
        let n = ops.calls().len();
        assert_eq!(
            t.wait_complete(0, Duration::from_secs(1)).unwrap(),
            Some(4096)
        );
        assert_eq!(ops.calls()[n..], [Call::Sync(0, START | R)]);
        assert_eq!(t.try_complete(0).unwrap(), None); // collected already
        // Requeue: sync end, then enqueue (bytes_used checked first).
        assert_eq!(t.requeue(0, 12).unwrap_err().errno(), Some(Errno::INVAL)); // not × 8
        assert_eq!(t.requeue(0, 0).unwrap_err().errno(), Some(Errno::INVAL));
        assert_eq!(t.requeue(0, 4104).unwrap_err().errno(), Some(Errno::INVAL));
        let n = ops.calls().len();
        t.requeue(0, 4096).unwrap();
        assert_eq!(
            ops.calls()[n..],
            [
                Call::Sync(0, END | R),
                Call::Enqueue(0, 4096),
                Call::Export(0)
            ]
        );
        let c = t.counters();
        assert_eq!(
            (c.blocks_completed, c.bytes_completed, c.bytes_copied),
            (1, 4096, 0)
        );
        // Stop: disable first, then (transfers aborted → idle) detach.
        ops.finish(0, -4); // aborted with EINTR
        ops.finish(1, -4);
        let n = ops.calls().len();
        t.stop().unwrap();
        assert_eq!(
            ops.calls()[n..],
            [Call::Enable(false), Call::Detach(0), Call::Detach(1)]
        );
        let n = ops.calls().len();
        t.stop().unwrap(); // idempotent
        drop(t);
        assert_eq!(ops.calls().len(), n);
    }

    #[test]
    fn failed_transfer_is_reported_never_delivered() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        t.start().unwrap();
        ops.finish(0, -5); // EIO
        let n = ops.calls().len();
        let e = t.try_complete(0).unwrap_err();
        let Error::TransferFailed { block, errno, .. } = e else {
            panic!("{e:?}");
        };
        assert_eq!((block, errno), (0, Errno::IO));
        assert_eq!(ops.calls().len(), n, "no CPU sync for a failed block");
        assert_eq!(t.counters().blocks_completed, 0);
        // It belongs to the CPU again and can be requeued (no SYNC END: none was begun).
        t.requeue(0, 4096).unwrap();
        assert_eq!(ops.calls()[n..], [Call::Enqueue(0, 4096), Call::Export(0)]);
        // A block that looks idle but whose fence has not signalled is not complete.
        ops.finish(1, 0);
        assert_eq!(t.try_complete(1).unwrap(), None);
    }

    /// The transfer finished inside ENQUEUE (`status`), so the exported fence is the stub:
    /// the block completes as "status unknown" — never as data, whatever the status was.
    fn stub_fence_case(direction: Direction, status: i32) {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(direction, 2)).unwrap();
        t.start().unwrap();
        if direction == Direction::In {
            // Block 0 completes normally first, so the fences are known to be supported.
            ops.finish(0, 1);
            assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        }
        ops.finish_in_enqueue(0, status);
        t.requeue(0, 4096).unwrap();
        assert_eq!(ops.calls().last(), Some(&Call::Export(0)));
        let n = ops.calls().len();
        let blocks_before = t.counters().blocks_completed;
        let e = t.wait_complete(0, Duration::from_secs(1)).unwrap_err();
        let Error::TransferStatusUnknown {
            ref device,
            block,
            reason,
        } = e
        else {
            panic!("status {status}: {e:?}");
        };
        assert_eq!((device.as_str(), block), ("fake-dmabuf", 0));
        assert!(
            matches!(reason, UnknownStatus::FenceSignalledBeforeExport { .. }),
            "{reason:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("fake-dmabuf") && text.contains("block 0"),
            "{text}"
        );
        assert!(
            text.contains("signalled before it could be exported")
                && text.contains("cannot be told from a good one"),
            "{text}"
        );
        // Not delivered: no CPU read sync, not counted as completed, counted as unknown.
        assert_eq!(ops.calls().len(), n, "no CPU sync for an unknown block");
        let c = t.counters();
        assert_eq!(c.blocks_completed, blocks_before);
        assert_eq!(c.status_unknown, 1);
        // The block is the CPU's again: nothing more to collect, and it can be requeued; a
        // transfer whose fence was exported in time completes normally again.
        assert_eq!(t.try_complete(0).unwrap(), None);
        t.requeue(0, 4096).unwrap();
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        assert_eq!(t.counters().status_unknown, 1);
    }

    #[test]
    fn a_stub_fence_is_status_unknown_never_data() {
        for direction in [Direction::In, Direction::Out] {
            // A failure at submit (EIO), an abort (EINTR), and a success: all look the same
            // through the stub, so all are unknown.
            for status in [-5, -4, 1] {
                stub_fence_case(direction, status);
            }
        }
    }

    #[test]
    fn fence_status_decides_for_a_real_fence() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 3);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 3)).unwrap();
        t.start().unwrap();
        // Exported while in flight ("iio"), then signalled with an error: failed.
        ops.finish(0, -5);
        let e = t.try_complete(0).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TransferFailed {
                    block: 0,
                    errno: Errno::IO,
                    ..
                }
            ),
            "{e:?}"
        );
        // Signalled without error: delivered.
        ops.finish(1, 1);
        assert_eq!(t.try_complete(1).unwrap(), Some(4096));
        // Idle but not signalled: not yet.
        ops.finish(2, 0);
        assert_eq!(t.try_complete(2).unwrap(), None);
        let c = t.counters();
        assert_eq!((c.blocks_completed, c.status_unknown), (1, 0));
    }

    #[test]
    fn a_fence_that_could_not_be_exported_is_status_unknown() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        t.start().unwrap();
        assert_eq!(t.fences, Fences::Supported);
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        // Fences are supported; this export fails (out of fds, say), and even EINVAL or
        // ENOTTY now is a failed export, not "unsupported".
        for errno in [Errno::MFILE, Errno::INVAL] {
            ops.state.lock().unwrap().export_error = Some(errno);
            t.requeue(0, 4096).unwrap();
            ops.finish(0, 1);
            let e = t.try_complete(0).unwrap_err();
            let Error::TransferStatusUnknown { block, reason, .. } = e else {
                panic!("{e:?}");
            };
            assert_eq!((block, reason), (0, UnknownStatus::ExportFailed(errno)));
            assert_eq!(e.errno(), Some(errno));
            assert!(e.to_string().contains("could not be exported"), "{e}");
        }
        assert_eq!(t.fences, Fences::Supported);
        assert_eq!(t.counters().status_unknown, 2);
        assert_eq!(t.counters().blocks_completed, 1);
    }

    #[test]
    fn a_failed_first_export_is_status_unknown_unless_the_kernel_lacks_the_ioctl() {
        // Not ENOTTY/EINVAL: the kernel knows the ioctl but could not export.
        let ops = FakeOps::default();
        ops.state.lock().unwrap().export_error = Some(Errno::NOMEM);
        let bufs = dmabufs(&ops, 1);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 1)).unwrap();
        t.start().unwrap();
        ops.finish(0, 1);
        assert!(matches!(
            t.try_complete(0),
            Err(Error::TransferStatusUnknown {
                reason: UnknownStatus::ExportFailed(Errno::NOMEM),
                ..
            })
        ));
        assert_eq!(t.fences, Fences::Unknown);
    }

    #[test]
    fn stop_forgets_a_stub_fence() {
        // A block whose fence was the stub and that is stopped before collection: stopped
        // cleanly, and the next start exports a fresh fence.
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 1);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::Out, 1)).unwrap();
        t.start().unwrap();
        ops.finish_in_enqueue(0, -5);
        t.requeue(0, 16).unwrap();
        t.stop().unwrap();
        assert_eq!(t.try_complete(0).unwrap(), None);
        assert_eq!(t.counters().status_unknown, 0);
        t.start().unwrap();
        t.requeue(0, 16).unwrap();
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(16));
    }

    #[test]
    fn without_fence_export_completion_still_works() {
        let ops = FakeOps::default();
        ops.state.lock().unwrap().export_error = Some(Errno::NOTTY);
        let bufs = dmabufs(&ops, 1);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 1)).unwrap();
        t.start().unwrap();
        ops.finish(0, -5); // would be an error, but the kernel cannot tell us
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        assert_eq!(t.fences, Fences::Unsupported);
    }

    #[test]
    fn attach_refusal_detaches_what_was_attached() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 3);
        // Attach works for none: EPERM on the first.
        ops.state.lock().unwrap().attach_error = Some(Errno::PERM);
        let e = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 3)).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::PERM));
        assert!(e.to_string().contains("does not support DMABUF"), "{e}");
        assert!(ops.calls().is_empty());
        // Wrong number of DMABUFs.
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        assert!(matches!(
            DmabufTransport::new(ops, bufs, config(Direction::In, 3)),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn mainline_tx_cycle_with_partial_last_block() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::Out, 2)).unwrap();
        assert_eq!(t.direction(), Direction::Out);
        assert_eq!(t.bytes_used_align(), 8);
        t.start().unwrap();
        // TX: nothing enqueued at start; enabled after attach.
        assert_eq!(
            ops.calls(),
            [
                Call::Attach(0),
                Call::Attach(1),
                Call::Length(2048),
                Call::Enable(true)
            ]
        );
        let n = ops.calls().len();
        let mem = t.block_mut(0).unwrap();
        mem[..16].copy_from_slice(&[7; 16]);
        assert_eq!(t.block_memory(0).as_bytes()[..16], [7; 16]);
        t.block_mut(0).unwrap(); // a second access does not sync again
        t.requeue(0, 16).unwrap(); // a partial block: exactly 16 bytes
        assert_eq!(
            ops.calls()[n..],
            [
                Call::Sync(0, START | W),
                Call::Sync(0, END | W),
                Call::Enqueue(0, 16),
                Call::Export(0)
            ]
        );
        assert_eq!(t.block_mut(0).unwrap_err().errno(), Some(Errno::BUSY));
        ops.finish(0, 1);
        let n = ops.calls().len();
        assert_eq!(t.try_complete(0).unwrap(), Some(16));
        assert_eq!(ops.calls().len(), n, "no read sync on TX completion");
        t.stop().unwrap();
        // A stopped transport refuses to enqueue detached blocks.
        assert_eq!(t.requeue(0, 16).unwrap_err().errno(), Some(Errno::PERM));
    }

    #[test]
    fn seed_has_no_attach_and_rx_refuses_block_mut() {
        let ops = FakeOps {
            seed: true,
            ..FakeOps::default()
        };
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        assert_eq!(t.kind(), TransportKind::Seed);
        assert_eq!(t.block_mut(0).unwrap_err().errno(), Some(Errno::OPNOTSUPP));
        t.start().unwrap();
        assert!(!ops.calls().iter().any(|c| matches!(c, Call::Attach(_))));
        ops.finish(0, 1);
        ops.finish(1, 1);
        t.stop().unwrap();
        assert!(!ops.calls().iter().any(|c| matches!(c, Call::Detach(_))));
        assert_eq!(t.try_complete(9).unwrap_err().errno(), Some(Errno::INVAL));
    }

    #[test]
    fn stop_ends_open_cpu_access() {
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 1);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 1)).unwrap();
        t.start().unwrap();
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        let n = ops.calls().len();
        drop(t); // stop on drop
        assert_eq!(
            ops.calls()[n..],
            [Call::Enable(false), Call::Sync(0, END | R), Call::Detach(0)]
        );
    }

    #[test]
    fn failed_enable_undoes_the_start() {
        let ops = FakeOps::default();
        ops.state.lock().unwrap().enable_error = Some(Errno::INVAL);
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        let e = t.start().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Attribute {
                    errno: Errno::INVAL,
                    ..
                }
            ),
            "{e:?}"
        );
        // Enqueued, never enabled (so never disabled), then detached; the blocks are the
        // CPU's again and a later start attaches them again.
        assert_eq!(
            ops.calls()[2..],
            [
                Call::Length(2048),
                Call::Enqueue(0, 4096),
                Call::Export(0),
                Call::Enqueue(1, 4096),
                Call::Export(1),
                Call::Detach(0),
                Call::Detach(1),
            ]
        );
        ops.state.lock().unwrap().enable_error = None;
        t.start().unwrap();
        assert_eq!(
            ops.calls()[9..12],
            [Call::Length(2048), Call::Attach(0), Call::Attach(1)]
        );
    }

    #[test]
    fn stop_after_the_device_went_away_still_detaches_every_block() {
        // The device was removed while streaming: its `enable` file no longer exists, and
        // a block queued after the removal never completes. stop() reports the first error
        // and still releases everything.
        let ops = FakeOps::default();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        t.start().unwrap();
        ops.state.lock().unwrap().enable_error = Some(Errno::NOENT);
        let e = t.stop().unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT), "{e:?}");
        let calls = ops.calls();
        assert_eq!(calls[calls.len() - 2..], [Call::Detach(0), Call::Detach(1)]);
        // Nothing is left to undo: a second stop does nothing and succeeds.
        let before = ops.calls().len();
        t.stop().unwrap();
        assert_eq!(ops.calls().len(), before);
    }

    #[test]
    fn page_alignment() {
        let page = rustix::param::page_size();
        assert_eq!(page_align(1), page);
        assert_eq!(page_align(page), page);
        assert_eq!(page_align(page + 1), 2 * page);
    }

    #[test]
    fn missing_allocators_name_their_path() {
        let e = alloc_dma_heap(Path::new("/nonexistent/dma_heap/system"), 4096, 2).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT));
        assert!(
            e.to_string().contains("/nonexistent/dma_heap/system"),
            "{e}"
        );
        let e = alloc_udmabuf(Path::new("/nonexistent/udmabuf"), 4096, 2, "t").unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT));
        // A file that is not an IIO device: the seed's allocation ioctl is refused on both
        // fds, and the error says so for each.
        let node = sys::memfd("not-a-node", 16).unwrap();
        let buffer = sys::memfd("not-a-buffer", 16).unwrap();
        let targets = SeedTargets {
            node: node.as_fd(),
            node_path: Path::new("/dev/iio:device7"),
            buffer: buffer.as_fd(),
            index: 0,
            buffer_is_node: false,
        };
        let e = alloc_seed(&LinuxIoctls, targets, 4096, 1, "t").unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOTTY));
        let Error::Os { detail, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(
            detail,
            &format!(
                "device node /dev/iio:device7: ENOTTY; buffer fd: ENOTTY; {} bytes",
                page_align(4096)
            )
        );
    }

    fn seed_ops() -> FakeOps {
        FakeOps {
            seed: true,
            ..FakeOps::default()
        }
    }

    #[test]
    fn seed_tx_sends_zero_for_a_whole_block_and_completes_with_its_size() {
        let ops = seed_ops();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::Out, 2)).unwrap();
        assert!(t.zero_bytes_used_is_whole_block());
        t.start().unwrap();
        let n = ops.calls().len();
        t.block_mut(0).unwrap()[..4].copy_from_slice(&[1, 2, 3, 4]);
        t.requeue(0, 0).unwrap();
        assert_eq!(
            ops.calls()[n..],
            [
                Call::Sync(0, START | W),
                Call::Sync(0, END | W),
                Call::Enqueue(0, 0),
                Call::Export(0)
            ]
        );
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        // Explicit sizes still go as they are, and the rules for them still hold.
        t.requeue(1, 16).unwrap();
        assert_eq!(ops.calls().last(), Some(&Call::Export(1)));
        assert!(ops.calls().contains(&Call::Enqueue(1, 16)));
        ops.finish(1, 1);
        assert_eq!(t.try_complete(1).unwrap(), Some(16));
        assert_eq!(t.requeue(0, 12).unwrap_err().errno(), Some(Errno::INVAL));
        assert_eq!(t.requeue(0, 4104).unwrap_err().errno(), Some(Errno::INVAL));
        let c = t.counters();
        assert_eq!((c.blocks_completed, c.bytes_completed), (2, 4096 + 16));
    }

    #[test]
    fn seed_zero_on_a_page_rounded_dmabuf_is_sent_as_the_block_size() {
        // A 4000-byte block in a 4096-byte DMABUF: the seed's 0 would transfer 4096 bytes,
        // the padding included, so "whole block" goes as 4000.
        let ops = FakeOps {
            dmabuf_size: Some(4096),
            ..seed_ops()
        };
        let bufs = dmabufs(&ops, 1);
        let config = StreamConfig {
            block_size: 4000,
            ..config(Direction::Out, 1)
        };
        let mut t = DmabufTransport::new(ops.clone(), bufs, config).unwrap();
        t.start().unwrap();
        t.requeue(0, 0).unwrap();
        assert!(
            ops.calls().contains(&Call::Enqueue(0, 4000)),
            "{:?}",
            ops.calls()
        );
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4000));
    }

    #[test]
    fn seed_rx_enqueues_explicit_sizes_and_takes_zero_as_the_whole_block() {
        let ops = seed_ops();
        let bufs = dmabufs(&ops, 2);
        let mut t = DmabufTransport::new(ops.clone(), bufs, config(Direction::In, 2)).unwrap();
        t.start().unwrap();
        // At start: explicit whole blocks.
        assert_eq!(
            ops.calls()[..5],
            [
                Call::Length(2048),
                Call::Enqueue(0, 4096),
                Call::Export(0),
                Call::Enqueue(1, 4096),
                Call::Export(1),
            ]
        );
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
        // A requeue of 0 is the whole block, and completes as one.
        t.requeue(0, 0).unwrap();
        assert!(ops.calls().contains(&Call::Enqueue(0, 0)));
        ops.finish(0, 1);
        assert_eq!(t.try_complete(0).unwrap(), Some(4096));
    }

    #[test]
    fn mainline_refuses_zero_before_asking_the_kernel() {
        for direction in [Direction::In, Direction::Out] {
            let ops = FakeOps::default();
            let bufs = dmabufs(&ops, 1);
            let mut t = DmabufTransport::new(ops.clone(), bufs, config(direction, 1)).unwrap();
            assert!(!t.zero_bytes_used_is_whole_block());
            t.start().unwrap();
            if direction == Direction::In {
                ops.finish(0, 1);
                t.try_complete(0).unwrap().unwrap();
            }
            let n = ops.calls().len();
            assert_eq!(t.requeue(0, 0).unwrap_err().errno(), Some(Errno::INVAL));
            assert_eq!(ops.calls()[n..], [], "{direction}");
        }
    }
}

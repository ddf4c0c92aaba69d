//! Where the DMABUFs come from: mainline's user-space allocators (a dma-heap, or udmabuf over
//! sealed memfds) and the seed's `ALLOC` ioctl, tried on the device node, then the buffer fd.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::io::Errno;

use crate::error::{Error, Result, errno_name};
use crate::kernel::{IioIoctls, LinuxIoctls};
use crate::sys::{self, ioctl};

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
    let fd = sys::open_rw(heap)?;
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
    let dev = sys::open_rw(udmabuf)?;
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

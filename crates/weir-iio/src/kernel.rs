//! The ioctls addressed to an IIO buffer, behind one small trait.
//!
//! Which file descriptor an ioctl goes to decides whether an interface works at all: the
//! seed's `ALLOC`/`ENQUEUE` are served by the handler of the device node
//! (`/dev/iio:deviceX`, which stands for buffer0) and, before Linux 6.11, the anonymous
//! buffer fd from `IIO_BUFFER_GET_FD_IOCTL` had no ioctl handler at all; mainline's
//! `ATTACH`/`DETACH`/`ENQUEUE` are served by the buffer fd only. Real ioctls on the fake files
//! of a test cannot be intercepted, so [`crate::sysfs::Device::open_buffer`] and the DMABUF
//! transports send these requests through an [`IioIoctls`] object: [`LinuxIoctls`], the
//! kernel, in production; a recording fake that knows which fd is which
//! (`testing::FakeKernel`, feature `testing`) in the tests, given through
//! [`crate::sysfs::Device::open_buffer_with`].
//!
//! Only the requests whose target fd matters are here (plus the dma-heap allocation, so that a
//! fake kernel can hand out DMABUFs for mainline's attach). The ioctls on a DMABUF itself
//! (`DMA_BUF_IOCTL_SYNC`, fence export, sync file status) have only one possible target and
//! stay direct calls of [`crate::sys::ioctl`].

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};

use crate::sys::ioctl;

/// The ioctls of the IIO buffer interfaces, by target fd. Each returns the kernel's errno
/// untouched (see [`crate::sys::ioctl`] for the request numbers and argument structs).
pub trait IioIoctls: Send + Sync + fmt::Debug {
    /// `IIO_BUFFER_GET_FD_IOCTL` on the device `node`: a new fd for buffer `index`.
    fn buffer_get_fd(&self, node: BorrowedFd<'_>, index: u32) -> rustix::io::Result<OwnedFd>;
    /// `DMA_HEAP_IOCTL_ALLOC` on an open dma-heap: a DMABUF of `len` bytes.
    fn dma_heap_alloc(&self, heap: BorrowedFd<'_>, len: u64) -> rustix::io::Result<OwnedFd>;
    /// Mainline `IIO_BUFFER_DMABUF_ATTACH_IOCTL` of `dmabuf` on `buffer`.
    fn dmabuf_attach(
        &self,
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
    ) -> rustix::io::Result<()>;
    /// Mainline `IIO_BUFFER_DMABUF_DETACH_IOCTL` of `dmabuf` on `buffer`.
    fn dmabuf_detach(
        &self,
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
    ) -> rustix::io::Result<()>;
    /// Mainline `IIO_BUFFER_DMABUF_ENQUEUE_IOCTL` of `bytes_used` bytes of `dmabuf`.
    fn dmabuf_enqueue(
        &self,
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()>;
    /// The seed's `IIO_BUFFER_DMABUF_ALLOC_IOCTL` on `fd` (the device node or a buffer fd):
    /// IIO allocates a DMABUF of `size` bytes.
    fn seed_alloc(&self, fd: BorrowedFd<'_>, size: u64) -> rustix::io::Result<OwnedFd>;
    /// The seed's `IIO_BUFFER_DMABUF_ENQUEUE_IOCTL` on `fd` (the one the DMABUF was allocated
    /// on); `bytes_used` 0 means the whole DMABUF.
    fn seed_enqueue(
        &self,
        fd: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()>;
}

/// The kernel: each method is the [`crate::sys::ioctl`] wrapper of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinuxIoctls;

impl IioIoctls for LinuxIoctls {
    fn buffer_get_fd(&self, node: BorrowedFd<'_>, index: u32) -> rustix::io::Result<OwnedFd> {
        ioctl::iio_buffer_get_fd(node, index)
    }

    fn dma_heap_alloc(&self, heap: BorrowedFd<'_>, len: u64) -> rustix::io::Result<OwnedFd> {
        ioctl::dma_heap_alloc(heap, len)
    }

    fn dmabuf_attach(
        &self,
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
    ) -> rustix::io::Result<()> {
        ioctl::iio_dmabuf_attach(buffer, dmabuf)
    }

    fn dmabuf_detach(
        &self,
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
    ) -> rustix::io::Result<()> {
        ioctl::iio_dmabuf_detach(buffer, dmabuf)
    }

    fn dmabuf_enqueue(
        &self,
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()> {
        ioctl::iio_dmabuf_enqueue(buffer, dmabuf, bytes_used)
    }

    fn seed_alloc(&self, fd: BorrowedFd<'_>, size: u64) -> rustix::io::Result<OwnedFd> {
        ioctl::seed_dmabuf_alloc(fd, size)
    }

    fn seed_enqueue(
        &self,
        fd: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()> {
        ioctl::seed_dmabuf_enqueue(fd, dmabuf, bytes_used)
    }
}

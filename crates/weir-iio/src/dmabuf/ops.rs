//! What a DMABUF transport asks of the kernel, behind one trait ([`DmabufOps`]): the real
//! kernel ([`KernelOps`], mainline or the seed's interface) or the tests' recording fake.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use crate::error::Result;
use crate::kernel::IioIoctls;
use crate::sys::ioctl::{self, DMA_BUF_SYNC_WRITE, SyncFileState};
use crate::sysfs::BufferControl;
use crate::transport::{Interest, TransportKind};
use crate::wait::{Deadline, wait_fd};

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
        ioctl::dma_buf_export_sync_file(dmabuf, DMA_BUF_SYNC_WRITE)
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

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
//! (`SYNC_IOC_FILE_INFO`): a negative status is reported as [`crate::Error::TransferFailed`], never
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
//! [`crate::Error::TransferStatusUnknown`], counted in `TransportCounters::status_unknown`, and is
//! never delivered. A kernel without the export at all (before 6.0: only the seed's vendor
//! kernels) cannot report failed transfers; there every completion counts as a success, with
//! a warning when the transport finds out.
//!
//! **`bytes_used == 0`.** Mainline refuses it (`EINVAL`), and so does this crate's requeue for
//! every transport but the seed's, whose ABI defines 0 as "the whole DMABUF". The rule lives
//! in the kernel operations (`DmabufOps::zero_bytes_used_transfers`: what 0 makes the
//! kernel transfer, or `None`) and is published to callers as
//! [`crate::Transport::zero_bytes_used_is_whole_block`]. A seed requeue of 0 means the whole block:
//! it is sent to the kernel as 0 when the DMABUF is exactly one block, and as the explicit
//! block size when page rounding made the DMABUF larger (0 would send the padding too); its
//! completion reports the block size either way.
//!
//! The buffer-addressed ioctls go through an [`crate::IioIoctls`] object (the kernel, or a fake in
//! the tests), and everything the transport asks of the kernel goes through one internal
//! trait, so that the block cycle can be checked against a recording fake in the tests.

mod alloc;
mod ops;
#[cfg(test)]
pub(crate) mod tests;
mod transport;

pub(crate) use alloc::{SeedFd, SeedTargets, alloc_dma_heap_with, alloc_seed, page_align};
pub use alloc::{alloc_dma_heap, alloc_udmabuf};
pub(crate) use ops::{Interface, KernelOps};
pub(crate) use transport::DmabufTransport;

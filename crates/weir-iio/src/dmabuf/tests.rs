//! The block cycle against a recording fake kernel ([`FakeOps`]).

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::io::Errno;

use super::ops::DmabufOps;
use super::transport::Fences;
use super::*;
use crate::error::{Error, Result, UnknownStatus};
use crate::kernel::LinuxIoctls;
use crate::stream::StreamConfig;
use crate::sys;
use crate::sys::ioctl::{
    DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE, SyncFileState,
};
use crate::transport::{Direction, Interest, Transport, TransportKind};
use crate::wait::Deadline;

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
    /// When a finished block's fence signalled (ns), as `SYNC_IOC_FILE_INFO` reports it.
    pub signalled_at: HashMap<usize, u64>,
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
    /// `block`'s transfer finished without error, its fence signalled at `ns`.
    pub(crate) fn finish_at(&self, block: usize, ns: u64) {
        let mut st = self.state.lock().unwrap();
        st.done.insert(block, 1);
        st.signalled_at.insert(block, ns);
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
            st.signalled_at.remove(&b);
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
            timestamp_ns: match (st.stubs.contains(&fd), status) {
                (false, 1) => st.signalled_at.get(&b).copied().unwrap_or(0),
                _ => 0,
            },
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

/// A transport over `blocks` fake DMABUFs registered with `ops`: opened (so probed), not
/// started.
fn open(ops: &FakeOps, direction: Direction, blocks: usize) -> DmabufTransport<FakeOps> {
    DmabufTransport::new(ops.clone(), dmabufs(ops, blocks), config(direction, blocks)).unwrap()
}

/// As [`open`], then started.
fn started(ops: &FakeOps, direction: Direction, blocks: usize) -> DmabufTransport<FakeOps> {
    let mut t = open(ops, direction, blocks);
    t.start().unwrap();
    t
}

/// What starting an RX transport of two blocks asks after probing: the length, then each
/// block enqueued whole with its fence exported; followed by `then`.
fn rx_start_of_two(then: &[Call]) -> Vec<Call> {
    let mut calls = vec![
        Call::Length(2048),
        Call::Enqueue(0, 4096),
        Call::Export(0),
        Call::Enqueue(1, 4096),
        Call::Export(1),
    ];
    calls.extend_from_slice(then);
    calls
}

const R: u64 = DMA_BUF_SYNC_READ;
const W: u64 = DMA_BUF_SYNC_WRITE;
const START: u64 = DMA_BUF_SYNC_START;
const END: u64 = DMA_BUF_SYNC_END;

/// What filling TX block 0 through `block_mut` and requeueing it with `bytes_used` asks:
/// the CPU write access begun and ended, then the enqueue and its fence's export.
fn tx_fill_and_requeue_block0(bytes_used: u64) -> [Call; 4] {
    [
        Call::Sync(0, START | W),
        Call::Sync(0, END | W),
        Call::Enqueue(0, bytes_used),
        Call::Export(0),
    ]
}

#[test]
fn mainline_rx_cycle_follows_the_kernel_rules() {
    let ops = FakeOps::default();
    let mut t = open(&ops, Direction::In, 2);
    assert_eq!(t.kind(), TransportKind::Dmabuf);
    assert_eq!(t.completion_fd(1).1, Interest::Writable);
    // Probing at open: attached, nothing else.
    assert_eq!(ops.calls(), [Call::Attach(0), Call::Attach(1)]);
    t.start().unwrap();
    // Length, every block enqueued whole with its fence exported, then enable.
    assert_eq!(ops.calls()[2..], *rx_start_of_two(&[Call::Enable(true)]));
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
fn a_completion_carries_the_time_its_fence_signalled() {
    // The device's completion time is the fence's, whenever the caller gets to see it: a loss
    // estimate starts the device's idle time there, not at the caller's wake-up.
    let ops = FakeOps::default();
    let mut t = started(&ops, Direction::In, 2);
    assert_eq!(t.completed_at_ns(), None);
    ops.finish_at(0, 5_000_123);
    assert_eq!(t.try_complete(0).unwrap(), Some(4096));
    assert_eq!(t.completed_at_ns(), Some(5_000_123));
    // The next block's completion replaces it; one whose fence gives no time (0: the kernel
    // did not stamp it) gives none, rather than the previous block's.
    ops.finish_at(1, 7_000_456);
    assert_eq!(t.try_complete(1).unwrap(), Some(4096));
    assert_eq!(t.completed_at_ns(), Some(7_000_456));
    t.requeue(0, 4096).unwrap();
    ops.finish(0, 1);
    assert_eq!(t.try_complete(0).unwrap(), Some(4096));
    assert_eq!(t.completed_at_ns(), None);
    t.stop().unwrap();
}

#[test]
fn failed_transfer_is_reported_never_delivered() {
    let ops = FakeOps::default();
    let mut t = started(&ops, Direction::In, 2);
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
    let mut t = started(&ops, direction, 2);
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
    let mut t = started(&ops, Direction::In, 3);
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
    let mut t = started(&ops, Direction::In, 2);
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
    let mut t = started(&ops, Direction::In, 1);
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
    let mut t = started(&ops, Direction::Out, 1);
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
    let mut t = started(&ops, Direction::In, 1);
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
    let mut t = open(&ops, Direction::Out, 2);
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
    assert_eq!(ops.calls()[n..], tx_fill_and_requeue_block0(16));
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
    let ops = seed_ops();
    let mut t = open(&ops, Direction::In, 2);
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
    let mut t = started(&ops, Direction::In, 1);
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
    let mut t = open(&ops, Direction::In, 2);
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
        *rx_start_of_two(&[Call::Detach(0), Call::Detach(1)])
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
    let mut t = started(&ops, Direction::In, 2);
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
    let mut t = open(&ops, Direction::Out, 2);
    assert!(t.zero_bytes_used_is_whole_block());
    t.start().unwrap();
    let n = ops.calls().len();
    t.block_mut(0).unwrap()[..4].copy_from_slice(&[1, 2, 3, 4]);
    t.requeue(0, 0).unwrap();
    assert_eq!(ops.calls()[n..], tx_fill_and_requeue_block0(0));
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
    let mut t = started(&ops, Direction::In, 2);
    // At start: explicit whole blocks.
    assert_eq!(ops.calls()[..5], *rx_start_of_two(&[]));
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
        let mut t = open(&ops, direction, 1);
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

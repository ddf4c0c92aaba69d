//! Which file descriptor the seed's `ALLOC` and `ENQUEUE` reach, through the real
//! `Device::open_buffer_with` / `choose_transport` path on a fake sysfs tree and `/dev`.
//!
//! The seed's diff serves both ioctls in the device node's handler (buffer0); before 6.11 the
//! buffer fd from `IIO_BUFFER_GET_FD_IOCTL` has no ioctl handler. The [`FakeKernel`] tells the
//! node from the buffer fds it handed out and refuses a request on an fd its kernel would not
//! serve it on, as that kernel would (`ENOTTY` from a buffer fd without a handler, `ENODEV`
//! from the node): if `ALLOC` went to the wrong fd, the seed transport would not open, and
//! these tests fail.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use rustix::io::Errno;
use weir_iio::testing::{
    FakeChannel, FakeKernel, FakeKernelConfig, FakeSysfs, FdRole, KernelCall, KernelOp, Mainline,
    SeedRoute,
};
use weir_iio::{Allocator, BufferOptions, Device, Error, Sysfs, TransportChoice, TransportKind};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A two-channel 16-bit device (`in` or `out`) with `buffers` buffers and a FIFO node.
fn tree(direction: &str, buffers: u32) -> FakeSysfs {
    let fake = FakeSysfs::new();
    let mut device = fake.device(0).name("fake-conv");
    for index in 0..buffers {
        device = device.buffer(
            index,
            &[("length", "0"), ("enable", "0"), ("direction", direction)],
            &[
                FakeChannel::new(&format!("{direction}_voltage0"), 0, "le:s16/16>>0", true),
                FakeChannel::new(&format!("{direction}_voltage1"), 1, "le:s16/16>>0", true),
            ],
        );
    }
    fake.fifo_node(0);
    // A plain file standing for a dma-heap: it opens, and the fake kernel allocates.
    fs::write(fake.base().join("heap"), "").unwrap();
    fake
}

fn device(fake: &FakeSysfs) -> Device {
    Sysfs::new(fake.root())
        .with_dev_root(fake.dev_root())
        .load("iio:device0")
        .unwrap()
}

fn kernel(fake: &FakeSysfs, config: FakeKernelConfig) -> Arc<FakeKernel> {
    Arc::new(FakeKernel::new(
        &fake.dev_root().join("iio:device0"),
        config,
    ))
}

/// One page per block (4-byte samples), so that the seed's DMABUF is exactly one block.
fn options(fake: &FakeSysfs, transport: TransportChoice, buffer: u32) -> BufferOptions {
    BufferOptions {
        buffer,
        samples_per_block: rustix::param::page_size() / 4,
        block_count: 2,
        transport,
        // A heap that does not exist: mainline is refused for want of DMABUFs, unless a
        // test gives the fake heap.
        allocators: vec![Allocator::DmaHeap(fake.base().join("no-heap"))],
        ..BufferOptions::default()
    }
}

fn with_heap(fake: &FakeSysfs, options: BufferOptions) -> BufferOptions {
    BufferOptions {
        allocators: vec![Allocator::DmaHeap(fake.base().join("heap"))],
        ..options
    }
}

fn ok(op: KernelOp, on: FdRole) -> impl Fn(&KernelCall) -> bool {
    move |c| c.op == op && c.on == on && c.result.is_ok()
}

fn seed_reason(rejected: &[(TransportKind, String)]) -> &str {
    &rejected
        .iter()
        .find(|(k, _)| *k == TransportKind::Seed)
        .expect("the seed was rejected")
        .1
}

#[test]
fn buffer0_allocates_and_enqueues_on_the_device_node() {
    for choice in [TransportChoice::Auto, TransportChoice::Seed] {
        let fake = tree("in", 1);
        let kernel = kernel(&fake, FakeKernelConfig::default());
        let opened = device(&fake)
            .open_buffer_with(&options(&fake, choice, 0), kernel.clone())
            .unwrap();
        assert_eq!(opened.transport.kind(), TransportKind::Seed, "{choice}");
        if choice == TransportChoice::Auto {
            // Only mainline (no allocator) was refused before it.
            let kinds: Vec<_> = opened.rejected.iter().map(|(k, _)| *k).collect();
            assert_eq!(kinds, [TransportKind::Dmabuf]);
        }
        // Both DMABUFs from the node, at the first try.
        let allocs = kernel.calls_of(KernelOp::SeedAlloc);
        assert_eq!(allocs.len(), 2, "{allocs:?}");
        assert!(
            allocs.iter().all(ok(KernelOp::SeedAlloc, FdRole::Node)),
            "{allocs:?}"
        );

        let mut t = opened.transport;
        t.start().unwrap();
        // RX: every block enqueued whole, explicitly, on the node.
        let enqueues = kernel.calls_of(KernelOp::SeedEnqueue);
        assert_eq!(enqueues.len(), 2, "{enqueues:?}");
        assert!(
            enqueues
                .iter()
                .all(|c| ok(KernelOp::SeedEnqueue, FdRole::Node)(c)
                    && c.bytes_used == Some(t.block_size() as u64)),
            "{enqueues:?}"
        );
        assert_eq!(
            enqueues.iter().map(|c| c.dmabuf).collect::<Vec<_>>(),
            [Some(0), Some(1)]
        );
        t.stop().unwrap();
        // Nothing of the seed's went to the buffer fd.
        assert!(
            !kernel.calls().iter().any(|c| c.on == FdRole::Buffer(0)
                && matches!(c.op, KernelOp::SeedAlloc | KernelOp::SeedEnqueue)),
            "{:?}",
            kernel.calls()
        );
    }
}

#[test]
fn a_node_that_does_not_know_alloc_sends_it_to_the_buffer_fd() {
    // A kernel serving the seed's ioctls on the buffer fd only.
    let fake = tree("in", 1);
    let kernel = kernel(
        &fake,
        FakeKernelConfig {
            seed: SeedRoute::BufferFd,
            ..FakeKernelConfig::default()
        },
    );
    let opened = device(&fake)
        .open_buffer_with(&options(&fake, TransportChoice::Auto, 0), kernel.clone())
        .unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::Seed);
    let allocs = kernel.calls_of(KernelOp::SeedAlloc);
    let tried: Vec<_> = allocs.iter().map(|c| (c.on, c.result)).collect();
    assert_eq!(
        tried,
        [
            (FdRole::Node, Err(Errno::NODEV)),
            (FdRole::Buffer(0), Ok(())),
            (FdRole::Buffer(0), Ok(())),
        ]
    );
    // ENQUEUE follows ALLOC to the buffer fd.
    let mut t = opened.transport;
    t.start().unwrap();
    let enqueues = kernel.calls_of(KernelOp::SeedEnqueue);
    assert_eq!(enqueues.len(), 2);
    assert!(
        enqueues
            .iter()
            .all(ok(KernelOp::SeedEnqueue, FdRole::Buffer(0))),
        "{enqueues:?}"
    );
}

#[test]
fn every_fd_tried_is_recorded_with_its_errno() {
    let fake = tree("in", 1);
    let node = fake.dev_root().join("iio:device0");
    let device = device(&fake);
    let open = |config: FakeKernelConfig, choice: TransportChoice| {
        let kernel = kernel(&fake, config);
        let result = device.open_buffer_with(&options(&fake, choice, 0), kernel.clone());
        (result, kernel)
    };

    // No seed at all (a 6.1 kernel): the node answers ENODEV, the handler-less buffer fd
    // ENOTTY; in that order, both in the reason; read()/write() is used.
    let no_seed = FakeKernelConfig {
        seed: SeedRoute::Absent,
        ..FakeKernelConfig::default()
    };
    let (opened, kernel) = open(no_seed, TransportChoice::Auto);
    let opened = opened.unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::FileIo);
    let reason = seed_reason(&opened.rejected);
    let tries = format!("device node {}: ENODEV; buffer fd: ENOTTY", node.display());
    assert!(reason.contains(&tries), "{reason}");
    assert!(
        reason.starts_with("the kernel has no seed DMABUF interface"),
        "{reason}"
    );
    assert!(opened.summary().contains(&tries), "{}", opened.summary());
    let order: Vec<_> = kernel
        .calls_of(KernelOp::SeedAlloc)
        .iter()
        .map(|c| c.on)
        .collect();
    assert_eq!(order, [FdRole::Node, FdRole::Buffer(0)]);

    // Forced: the same error, as is.
    let (e, _) = open(no_seed, TransportChoice::Seed);
    let e = e.unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NOTTY));
    assert!(e.to_string().contains(&tries), "{e}");

    // The node knows ALLOC and refuses it (EPERM: the driver has no DMABUF support): the
    // buffer fd, the same buffer, is not asked.
    let (opened, kernel) = open(
        FakeKernelConfig {
            seed_error: Some(Errno::PERM),
            ..FakeKernelConfig::default()
        },
        TransportChoice::Auto,
    );
    let opened = opened.unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::FileIo);
    let reason = seed_reason(&opened.rejected);
    assert!(
        reason.starts_with("the buffer does not support DMABUF"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "device node {}: EPERM; buffer fd: not tried",
            node.display()
        )),
        "{reason}"
    );
    assert_eq!(kernel.calls_of(KernelOp::SeedAlloc).len(), 1);

    // No IIO_BUFFER_GET_FD_IOCTL (before 5.13): the buffer fd is the node; the seed works
    // on it, and the reason of a refusal says why the buffer fd was not tried.
    let old = FakeKernelConfig {
        get_fd: false,
        ..FakeKernelConfig::default()
    };
    let (opened, kernel) = open(old, TransportChoice::Seed);
    let mut t = opened.unwrap().transport;
    t.start().unwrap();
    assert!(
        kernel
            .calls_of(KernelOp::SeedEnqueue)
            .iter()
            .all(ok(KernelOp::SeedEnqueue, FdRole::Node))
    );
    drop(t);
    let (e, _) = open(
        FakeKernelConfig {
            seed: SeedRoute::Absent,
            ..old
        },
        TransportChoice::Seed,
    );
    let e = e.unwrap_err().to_string();
    assert!(
        e.contains("ENODEV; buffer fd: not tried (it is the device node"),
        "{e}"
    );

    // The seed gives one DMABUF of two, then ENOMEM: an error as is (the buffer fd is not
    // asked), and the DMABUF it gave is closed (checked by tests/fd_leak/iio_fd_leak_kernel.rs).
    let (e, kernel) = open(
        FakeKernelConfig {
            seed_alloc_limit: Some(1),
            ..FakeKernelConfig::default()
        },
        TransportChoice::Seed,
    );
    let e = e.unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NOMEM));
    assert!(e.to_string().contains("ENOMEM after 1 of 2 DMABUFs"), "{e}");
    assert_eq!(kernel.calls_of(KernelOp::SeedAlloc).len(), 2);
}

#[test]
fn another_buffer_uses_its_buffer_fd_only() {
    let fake = tree("in", 2);
    let node = fake.dev_root().join("iio:device0");
    let both = FakeKernelConfig {
        buffers: 2,
        seed: SeedRoute::Both,
        ..FakeKernelConfig::default()
    };
    let kernel = kernel(&fake, both);
    let opened = device(&fake)
        .open_buffer_with(&options(&fake, TransportChoice::Seed, 1), kernel.clone())
        .unwrap();
    let mut t = opened.transport;
    t.start().unwrap();
    let seed_calls: Vec<_> = kernel
        .calls()
        .into_iter()
        .filter(|c| matches!(c.op, KernelOp::SeedAlloc | KernelOp::SeedEnqueue))
        .collect();
    assert_eq!(seed_calls.len(), 4, "{seed_calls:?}");
    assert!(
        seed_calls
            .iter()
            .all(|c| c.on == FdRole::Buffer(1) && c.result.is_ok()),
        "{seed_calls:?}"
    );
    drop(t);

    // The seed's diff (node only): buffer1 cannot have it, and the reason says why the node
    // was not asked.
    let kernel = self::kernel(
        &fake,
        FakeKernelConfig {
            buffers: 2,
            ..FakeKernelConfig::default()
        },
    );
    let opened = device(&fake)
        .open_buffer_with(&options(&fake, TransportChoice::Auto, 1), kernel.clone())
        .unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::FileIo);
    let reason = seed_reason(&opened.rejected);
    assert!(
        reason.contains(&format!(
            "device node {}: not tried (it serves buffer0, not buffer1); buffer fd: ENOTTY",
            node.display()
        )),
        "{reason}"
    );
    let allocs = kernel.calls_of(KernelOp::SeedAlloc);
    assert_eq!(allocs.len(), 1);
    assert_eq!(allocs[0].on, FdRole::Buffer(1));
}

#[test]
fn a_whole_block_requeue_of_zero_is_sent_as_zero_by_the_seed_only() {
    let fake = tree("out", 1);
    let device = device(&fake);

    // The seed: requeue(block, 0) goes to the kernel as 0, on the node, and completes with
    // the whole block.
    let kernel = kernel(&fake, FakeKernelConfig::default());
    let opened = device
        .open_buffer_with(&options(&fake, TransportChoice::Seed, 0), kernel.clone())
        .unwrap();
    let mut t = opened.transport;
    assert!(t.zero_bytes_used_is_whole_block());
    t.start().unwrap();
    assert!(
        kernel.calls_of(KernelOp::SeedEnqueue).is_empty(),
        "TX starts empty"
    );
    t.requeue(0, 0).unwrap();
    let enqueues = kernel.calls_of(KernelOp::SeedEnqueue);
    assert_eq!(
        enqueues,
        [KernelCall {
            op: KernelOp::SeedEnqueue,
            on: FdRole::Node,
            dmabuf: Some(0),
            bytes_used: Some(0),
            result: Ok(()),
        }]
    );
    assert_eq!(t.wait_complete(0, TIMEOUT).unwrap(), Some(t.block_size()));
    // A partial block still goes with its exact size.
    t.requeue(1, 8).unwrap();
    assert_eq!(
        kernel.calls_of(KernelOp::SeedEnqueue)[1].bytes_used,
        Some(8)
    );
    assert_eq!(t.wait_complete(1, TIMEOUT).unwrap(), Some(8));
    drop(t);

    // Mainline refuses 0 before the kernel sees it (which would say EINVAL too).
    let kernel = self::kernel(
        &fake,
        FakeKernelConfig {
            seed: SeedRoute::Absent,
            mainline: Mainline::Supported,
            ..FakeKernelConfig::default()
        },
    );
    let opened = device
        .open_buffer_with(
            &with_heap(&fake, options(&fake, TransportChoice::Dmabuf, 0)),
            kernel.clone(),
        )
        .unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::Dmabuf);
    let mut t = opened.transport;
    assert!(!t.zero_bytes_used_is_whole_block());
    t.start().unwrap();
    let e = t.requeue(0, 0).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::INVAL), "{e}");
    assert!(kernel.calls_of(KernelOp::Enqueue).is_empty());
    let block = t.block_size();
    t.requeue(0, block).unwrap();
    let enqueues = kernel.calls_of(KernelOp::Enqueue);
    assert_eq!(enqueues.len(), 1);
    assert!(ok(KernelOp::Enqueue, FdRole::Buffer(0))(&enqueues[0]));
    assert_eq!(enqueues[0].bytes_used, Some(block as u64));
    drop(t);

    // read()/write() refuses 0 as well.
    let kernel = self::kernel(&fake, FakeKernelConfig::default());
    let mut t = device
        .open_buffer_with(&options(&fake, TransportChoice::FileIo, 0), kernel)
        .unwrap()
        .transport;
    assert!(!t.zero_bytes_used_is_whole_block());
    t.start().unwrap();
    assert_eq!(t.requeue(0, 0).unwrap_err().errno(), Some(Errno::INVAL));
}

#[test]
fn attach_refused_with_eperm_and_the_seed_offered_gives_the_seed() {
    // A vendor kernel with both interfaces, whose driver supports only the seed's.
    let fake = tree("in", 1);
    let kernel = kernel(
        &fake,
        FakeKernelConfig {
            mainline: Mainline::Refused(Errno::PERM),
            ..FakeKernelConfig::default()
        },
    );
    let opened = device(&fake)
        .open_buffer_with(
            &with_heap(&fake, options(&fake, TransportChoice::Auto, 0)),
            kernel.clone(),
        )
        .unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::Seed);
    assert_eq!(opened.allocator, None);
    assert_eq!(opened.rejected.len(), 1, "{:?}", opened.rejected);
    let (kind, reason) = &opened.rejected[0];
    assert_eq!(*kind, TransportKind::Dmabuf);
    assert!(
        reason.starts_with("the buffer does not support DMABUF"),
        "{reason}"
    );
    // Mainline was really tried on the buffer fd, with the heap's DMABUFs; then the seed on
    // the node.
    let ops: Vec<_> = kernel
        .calls()
        .iter()
        .map(|c| (c.op, c.on, c.result))
        .collect();
    assert_eq!(
        ops[..4],
        [
            (KernelOp::GetFd(0), FdRole::Node, Ok(())),
            (KernelOp::HeapAlloc, FdRole::Other, Ok(())),
            (KernelOp::HeapAlloc, FdRole::Other, Ok(())),
            (KernelOp::Attach, FdRole::Buffer(0), Err(Errno::PERM)),
        ]
    );
    assert!(
        kernel
            .calls_of(KernelOp::SeedAlloc)
            .iter()
            .all(ok(KernelOp::SeedAlloc, FdRole::Node))
    );
    assert!(matches!(
        device(&fake).open_buffer_with(
            &with_heap(&fake, options(&fake, TransportChoice::Dmabuf, 0)),
            kernel,
        ),
        Err(Error::Os {
            errno: Errno::PERM,
            ..
        })
    ));
}

//! No file descriptor or mapping outlives the kernel-side code — opening buffers (the chosen
//! transport and every refused attempt), streaming, stopping, dropping, error paths, and
//! probing for `weir iio list`.
//!
//! In the leak-check binary (see `main.rs`): /proc/self/fd is process-wide, and tests of one
//! binary run in parallel threads.

use std::fs;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use weir_iio::fileio::FileIo;
use weir_iio::inventory::{DeviceEntry, SeedProbe, Transports};
use weir_iio::stream::StreamConfig;
use weir_iio::testing::{
    FakeChannel, FakeKernel, FakeKernelConfig, FakeSysfs, Mainline, SeedRoute,
};
use weir_iio::{
    Allocator, BufferOptions, Direction, InventoryOptions, Sysfs, Transport, TransportChoice,
    TransportKind, inventory,
};

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

fn memfd_mappings() -> usize {
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| line.contains("/memfd:"))
        .count()
}

fn exercise(fake: &FakeSysfs) {
    let sysfs = Sysfs::new(fake.root()).with_dev_root(fake.dev_root());
    let device = sysfs.load("iio:device0").unwrap();
    let heap_file = fake.base().join("not-a-heap");
    let allocators = vec![
        Allocator::DmaHeap(fake.base().join("missing-heap")),
        Allocator::DmaHeap(heap_file.clone()), // opens, then the ioctl fails
        Allocator::Udmabuf(fake.base().join("missing-udmabuf")),
    ];
    let options = BufferOptions {
        samples_per_block: 64,
        block_count: 2,
        allocators: allocators.clone(),
        ..BufferOptions::default()
    };

    // Auto: two refused transports, then fileio; stream two blocks; keep a block's memory
    // past the transport; drop while started.
    let fds_before = open_fds();
    let opened = device.open_buffer(&options).unwrap();
    assert_eq!(opened.rejected.len(), 2);
    // The transport holds the node and the buffer fd (the same file here: no GET_FD), and
    // the device's `name` attribute, by which it finds out when the device goes away.
    assert_eq!(open_fds(), fds_before + 3);
    let mut t = opened.transport;
    t.start().unwrap();
    let mut fifo = fs::OpenOptions::new()
        .write(true)
        .open(&device.node)
        .unwrap();
    fifo.write_all(&vec![0x5a; 2 * t.block_size()]).unwrap();
    drop(fifo);
    let mut held = None;
    for block in 0..2 {
        let n = t
            .wait_complete(block, Duration::from_secs(10))
            .unwrap()
            .unwrap();
        assert_eq!(n, t.block_size());
        held.get_or_insert_with(|| t.block_memory(block));
    }
    drop(t);
    assert!(held.as_ref().unwrap().as_bytes().iter().all(|&b| b == 0x5a));
    drop(held);

    // Stopped explicitly, then dropped; and opened but never started.
    let mut t = device.open_buffer(&options).unwrap().transport;
    t.start().unwrap();
    t.stop().unwrap();
    drop(t);
    drop(device.open_buffer(&options).unwrap());

    // Forced transports that fail: everything they opened is closed again.
    for choice in [TransportChoice::Dmabuf, TransportChoice::Seed] {
        let e = device
            .open_buffer(&BufferOptions {
                transport: choice,
                ..options.clone()
            })
            .unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    // Through a fake kernel that serves the DMABUF ioctls: the seed on the node, the seed on
    // the buffer fd after the node refused, mainline refused with EPERM then the seed, the
    // seed refusing after one DMABUF, no seed at all. Every refused attempt closes its
    // copies and its DMABUFs; the transports chosen close theirs on drop.
    let node = fake.dev_root().join("iio:device0");
    let seed_on_buffer = FakeKernelConfig {
        seed: SeedRoute::BufferFd,
        ..FakeKernelConfig::default()
    };
    let configs = [
        (FakeKernelConfig::default(), TransportChoice::Auto),
        (seed_on_buffer, TransportChoice::Auto),
        (
            FakeKernelConfig {
                mainline: Mainline::Refused(rustix::io::Errno::PERM),
                ..FakeKernelConfig::default()
            },
            TransportChoice::Auto,
        ),
        (
            FakeKernelConfig {
                mainline: Mainline::Supported,
                ..FakeKernelConfig::default()
            },
            TransportChoice::Auto,
        ),
        (
            FakeKernelConfig {
                seed_alloc_limit: Some(1),
                ..FakeKernelConfig::default()
            },
            TransportChoice::Seed,
        ),
        (
            FakeKernelConfig {
                seed: SeedRoute::Absent,
                ..FakeKernelConfig::default()
            },
            TransportChoice::Auto,
        ),
    ];
    for (config, transport) in configs {
        let kernel = Arc::new(FakeKernel::new(&node, config));
        let opened = device.open_buffer_with(
            &BufferOptions {
                transport,
                allocators: vec![Allocator::DmaHeap(heap_file.clone())],
                ..options.clone()
            },
            kernel,
        );
        if let Ok(opened) = opened {
            let mut t = opened.transport;
            // read() on the fake's buffer fd (an empty memfd) is an end of file: start only
            // the DMABUF transports.
            if t.kind() != TransportKind::FileIo {
                t.start().unwrap();
            }
            drop(t);
        }
    }

    // Bad channel: fails before anything is opened.
    assert!(
        device
            .open_buffer(&BufferOptions {
                channels: vec!["nope".into()],
                ..options.clone()
            })
            .is_err()
    );

    // FileIo over a pipe: end of file, refused requeues, a failed start (no enable file).
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let config = StreamConfig {
        name: "leak-pipe".to_string(),
        direction: Direction::In,
        sample_size: 4,
        block_size: 256,
        block_count: 3,
        bytes_align: 4,
        length: None,
        watermark: None,
    };
    let mut t = FileIo::new(reader, config.clone(), None).unwrap();
    t.start().unwrap();
    drop(writer);
    assert!(t.wait_complete(0, Duration::from_secs(10)).is_err());
    assert!(t.requeue(0, 3).is_err());
    drop(t);
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    let control = weir_iio::sysfs::BufferControl::new("x", fake.base().join("no-such-buffer"));
    let mut t = FileIo::new(reader, config.clone(), Some(control)).unwrap();
    assert!(t.start().is_err());
    drop(t);
    let (reader, _writer) = rustix::pipe::pipe().unwrap();
    assert!(
        FileIo::new(
            reader,
            StreamConfig {
                block_count: 0,
                ..config
            },
            None
        )
        .is_err()
    );

    // The inventory of `weir iio list`, probing the node and the allocators.
    let found = inventory(
        &sysfs,
        &InventoryOptions {
            probe: true,
            allocators,
        },
    )
    .unwrap();
    let seed_refused = found.devices.iter().any(|entry| {
        matches!(entry, DeviceEntry::Read(device) if device.transports.iter().any(|t| {
            matches!(t, Transports::Probed { seed: SeedProbe::Refused(_), .. })
        }))
    });
    assert!(seed_refused, "{found:#?}");
}

#[test]
fn no_fd_or_mapping_leaks() {
    let _alone = crate::alone();
    let fake = FakeSysfs::new();
    fake.device(0).name("leak-adc").buffer(
        0,
        &[("length", "0"), ("enable", "0"), ("watermark", "1")],
        &[
            FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", true),
            FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", true),
        ],
    );
    fake.fifo_node(0);
    fs::write(fake.base().join("not-a-heap"), "").unwrap();
    // Warm up once: the first use may open process-wide descriptors lazily.
    exercise(&fake);
    let fds = open_fds();
    let maps = memfd_mappings();
    exercise(&fake);
    assert_eq!(open_fds(), fds, "file descriptors leaked");
    assert_eq!(memfd_mappings(), maps, "memfd mappings leaked");
    assert_eq!(maps, 0, "no memfd mapping should remain at all");
}

//! `Device::open_buffer` end to end on a fake sysfs tree whose device node is a FIFO.
//!
//! A FIFO answers every IIO ioctl with `ENOTTY`, like a kernel without DMABUF support and
//! without `IIO_BUFFER_GET_FD_IOCTL`: the automatic choice must fall back to read()/write()
//! on the node itself, say why, and stream data through it. The sysfs side (channel
//! enables, length, watermark, enable) is checked in the fake tree's files.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use weir_iio::testing::{FakeChannel, FakeSysfs};
use weir_iio::{
    Allocator, BufferOptions, Direction, Error, Interest, Sysfs, TransportChoice, TransportKind,
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap().trim_end().to_string()
}

/// Allocators that cannot work here, whatever the machine has in /dev.
fn missing_allocators(fake: &FakeSysfs) -> Vec<Allocator> {
    vec![
        Allocator::DmaHeap(fake.base().join("dma_heap/system")),
        Allocator::Udmabuf(fake.base().join("udmabuf")),
    ]
}

fn adc_tree() -> FakeSysfs {
    let fake = FakeSysfs::new();
    fake.device(0).name("fake-adc").buffer(
        0,
        &[
            ("length", "0"),
            ("enable", "0"),
            ("watermark", "1"),
            ("length_align_bytes", "12"),
            ("direction", "in"),
        ],
        &[
            FakeChannel::new("in_voltage0", 0, "le:s12/16>>4", false),
            FakeChannel::new("in_voltage1", 1, "le:s12/16>>4", false),
            FakeChannel::new("in_voltage2", 2, "be:s16/16>>0", true),
            FakeChannel::new("in_timestamp", 3, "le:s64/64>>0", true),
        ],
    );
    fake.fifo_node(0);
    fake
}

#[test]
fn auto_falls_back_to_fileio_and_streams_through_the_node() {
    let fake = adc_tree();
    let sysfs = Sysfs::new(fake.root()).with_dev_root(fake.dev_root());
    let device = sysfs.find("fake-adc").unwrap();
    let options = BufferOptions {
        channels: vec!["voltage0".into(), "voltage1".into()],
        samples_per_block: 100,
        block_count: 3,
        allocators: missing_allocators(&fake),
        ..BufferOptions::default()
    };
    let opened = device.open_buffer(&options).unwrap();
    let buffer_dir = device.path.join("buffer0");

    // The choice and its reasons.
    assert_eq!(opened.transport.kind(), TransportKind::FileIo);
    assert_eq!(opened.allocator, None);
    let kinds: Vec<_> = opened.rejected.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [TransportKind::Dmabuf, TransportKind::Seed]);
    let dmabuf_reason = &opened.rejected[0].1;
    assert!(
        dmabuf_reason.contains("no DMABUF could be allocated"),
        "{dmabuf_reason}"
    );
    assert!(
        dmabuf_reason.contains("dma_heap/system: not present"),
        "{dmabuf_reason}"
    );
    assert!(
        dmabuf_reason.contains("udmabuf: not present"),
        "{dmabuf_reason}"
    );
    let seed_reason = &opened.rejected[1].1;
    assert!(
        seed_reason.starts_with("the kernel has no seed DMABUF interface"),
        "{seed_reason}"
    );
    assert!(
        seed_reason.contains(&Errno::NOTTY.to_string()),
        "{seed_reason}"
    );
    let summary = opened.summary();
    assert!(summary.starts_with("fileio [not dmabuf: "), "{summary}");

    // Channels: exactly the two asked for, in the kernel's layout; 4-byte samples.
    assert_eq!(read(&buffer_dir.join("in_voltage0_en")), "1");
    assert_eq!(read(&buffer_dir.join("in_voltage1_en")), "1");
    assert_eq!(read(&buffer_dir.join("in_voltage2_en")), "0");
    assert_eq!(read(&buffer_dir.join("in_timestamp_en")), "0");
    assert_eq!(opened.layout.scan_bytes(), 4);
    let mut t = opened.transport;
    assert_eq!(t.sample_size(), 4);
    // 100 samples = 400 bytes, rounded up to a multiple of lcm(4, 12) = 12: 408.
    assert_eq!(t.block_size(), 408);
    assert_eq!(t.bytes_used_align(), 12);
    assert_eq!(t.block_count(), 3);
    assert_eq!(t.direction(), Direction::In);
    assert_eq!(t.completion_fd(0).1, Interest::Readable);

    // Start: length (all blocks) and watermark (one block) before enable.
    t.start().unwrap();
    assert_eq!(read(&buffer_dir.join("length")), (3 * 102).to_string());
    assert_eq!(read(&buffer_dir.join("watermark")), "102");
    assert_eq!(read(&buffer_dir.join("enable")), "1");

    // A "device" writing samples into the node: I = 16 k, Q = -16 k, shifted by 4.
    let node = device.node.clone();
    let scans = 102 * 5;
    let writer = std::thread::spawn(move || {
        let mut fifo = fs::OpenOptions::new().write(true).open(node).unwrap();
        let mut bytes = Vec::new();
        for k in 0..scans as i16 {
            bytes.extend_from_slice(&((k << 4) as u16).to_le_bytes());
            bytes.extend_from_slice(&((-k << 4) as u16).to_le_bytes());
        }
        fifo.write_all(&bytes).unwrap();
    });
    let mut i_values = Vec::new();
    let mut q_values = Vec::new();
    for n in 0..5 {
        let block = n % 3;
        let bytes = t
            .wait_complete(block, TIMEOUT)
            .unwrap()
            .expect("a block completes");
        assert_eq!(bytes, 408);
        let memory = t.block_memory(block);
        let data = &memory.as_bytes()[..bytes];
        let mut i = vec![0i16; 102];
        let mut q = vec![0i16; 102];
        assert_eq!(opened.layout.extract_i16(data, 0, &mut i), 102);
        assert_eq!(opened.layout.extract_i16(data, 1, &mut q), 102);
        i_values.extend(i);
        q_values.extend(q);
        t.requeue(block, bytes).unwrap();
    }
    writer.join().unwrap();
    let expected: Vec<i16> = (0..scans as i16).collect();
    assert_eq!(i_values, expected);
    assert_eq!(q_values, expected.iter().map(|k| -k).collect::<Vec<_>>());
    let c = t.counters();
    assert_eq!(c.blocks_completed, 5);
    assert_eq!(c.bytes_completed, 5 * 408);
    assert_eq!(c.bytes_copied, 5 * 408);

    t.stop().unwrap();
    assert_eq!(read(&buffer_dir.join("enable")), "0");
}

#[test]
fn forced_choices_report_their_own_errors() {
    let fake = adc_tree();
    let device = Sysfs::new(fake.root())
        .with_dev_root(fake.dev_root())
        .load("iio:device0")
        .unwrap();
    let base = BufferOptions {
        samples_per_block: 16,
        block_count: 2,
        allocators: missing_allocators(&fake),
        ..BufferOptions::default()
    };
    let forced = |transport| {
        device.open_buffer(&BufferOptions {
            transport,
            ..base.clone()
        })
    };
    // DMABUF forced with no allocator: every allocator's reason.
    let e = forced(TransportChoice::Dmabuf).unwrap_err();
    assert!(
        matches!(&e, Error::NoTransport { rejected, .. } if rejected.len() == 1),
        "{e:?}"
    );
    // DMABUF forced with an allocator that opens but is no dma-heap (a regular file): the
    // allocation ioctl is refused and named. (A real attach refusal needs a real DMABUF.)
    let memfd_heap = fake.base().join("heap");
    fs::write(&memfd_heap, "").unwrap();
    let e = device
        .open_buffer(&BufferOptions {
            transport: TransportChoice::Dmabuf,
            allocators: vec![Allocator::DmaHeap(memfd_heap)],
            ..base.clone()
        })
        .unwrap_err();
    assert!(matches!(&e, Error::NoTransport { .. }), "{e:?}");
    assert!(e.to_string().contains("DMA_HEAP_IOCTL_ALLOC"), "{e}");
    // Seed forced: ENOTTY from the ALLOC ioctl, named.
    let e = forced(TransportChoice::Seed).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NOTTY));
    assert!(e.to_string().contains("IIO_BUFFER_DMABUF_ALLOC"), "{e}");
    // FileIo forced: no rejections. Default channels: every input but the timestamp.
    let opened = forced(TransportChoice::FileIo).unwrap();
    assert_eq!(opened.transport.kind(), TransportKind::FileIo);
    assert!(opened.rejected.is_empty());
    let ids: Vec<_> = opened
        .layout
        .elements()
        .iter()
        .map(|e| e.channel.as_str())
        .collect();
    assert_eq!(ids, ["voltage0", "voltage1", "voltage2"]);
    assert_eq!(opened.layout.scan_bytes(), 6);
    // 16 × 6 = 96 bytes, a multiple of lcm(6, 12) = 12 already.
    assert_eq!(opened.transport.block_size(), 96);
    drop(opened);

    // Configuration errors name what exists.
    let e = device
        .open_buffer(&BufferOptions {
            channels: vec!["voltage9".into()],
            ..base.clone()
        })
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("voltage9") && s.contains("voltage0, voltage1, voltage2, timestamp"),
        "{s}"
    );
    let e = device
        .open_buffer(&BufferOptions {
            buffer: 3,
            ..base.clone()
        })
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no buffer 3 (the device has buffer0)"),
        "{e}"
    );
    let e = device
        .open_buffer(&BufferOptions {
            block_count: 0,
            ..base.clone()
        })
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
    // A missing node is an error naming it (before any transport is tried).
    fs::remove_file(&device.node).unwrap();
    let e = device.open_buffer(&base).unwrap_err();
    assert!(
        matches!(&e, Error::File { op: "open", errno: Errno::NOENT, path, .. } if *path == device.node),
        "{e:?}"
    );
}

#[test]
fn tx_through_the_node_sends_the_partial_last_block_exactly() {
    let fake = FakeSysfs::new();
    fake.device(1).name("fake-dac").buffer(
        0,
        &[("length", "0"), ("enable", "0"), ("direction", "out")],
        &[
            FakeChannel::new("out_voltage0", 0, "le:s16/16>>0", false),
            FakeChannel::new("out_voltage1", 1, "le:s16/16>>0", false),
        ],
    );
    let node = fake.fifo_node(1);
    let device = Sysfs::new(fake.root())
        .with_dev_root(fake.dev_root())
        .find("fake-dac")
        .unwrap();
    let opened = device
        .open_buffer(&BufferOptions {
            samples_per_block: 256,
            block_count: 2,
            allocators: missing_allocators(&fake),
            ..BufferOptions::default()
        })
        .unwrap();
    let mut t = opened.transport;
    assert_eq!(t.kind(), TransportKind::FileIo);
    assert_eq!(t.direction(), Direction::Out);
    assert_eq!(t.completion_fd(0).1, Interest::Writable);
    assert_eq!(t.block_size(), 1024);
    let dir = device.path.join("buffer0");
    assert_eq!(read(&dir.join("out_voltage0_en")), "1");
    assert_eq!(read(&dir.join("out_voltage1_en")), "1");

    // 2.5 blocks of samples; the reader opens the FIFO (our transport holds it open for
    // writing as well, so the reader reads an exact count instead of waiting for EOF).
    let total = 1024 * 2 + 512;
    let payload: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let reader = std::thread::spawn(move || {
        let mut fifo = fs::File::open(node).unwrap();
        let mut got = vec![0u8; total];
        fifo.read_exact(&mut got).unwrap();
        got
    });
    t.start().unwrap();
    assert_eq!(read(&dir.join("enable")), "1");
    let mut offset = 0;
    let mut block = 0;
    let mut queued = Vec::new();
    while offset < total {
        if queued.len() == 2 {
            let b: usize = queued.remove(0);
            assert!(t.wait_complete(b, TIMEOUT).unwrap().is_some());
        }
        let len = 1024.min(total - offset);
        t.block_mut(block).unwrap()[..len].copy_from_slice(&payload[offset..offset + len]);
        t.requeue(block, len).unwrap();
        queued.push(block);
        offset += len;
        block = (block + 1) % 2;
    }
    for b in queued {
        assert!(t.wait_complete(b, TIMEOUT).unwrap().is_some());
    }
    assert_eq!(reader.join().unwrap(), payload);
    assert_eq!(t.counters().bytes_copied, total as u64);
    // Partial sizes must stay whole samples.
    assert_eq!(t.requeue(0, 6).unwrap_err().errno(), Some(Errno::INVAL));
    drop(t); // stops: enable = 0
    assert_eq!(read(&dir.join("enable")), "0");
}

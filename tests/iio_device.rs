//! The DMABUF source on a "real" device: a fake sysfs tree whose device node is a FIFO, fed
//! by a thread playing the kernel. Every IIO ioctl on a FIFO fails like on a kernel without
//! DMABUF support, so `transport = "auto"` must fall back to read() and say why, and the data
//! must still arrive intact through a TOML flowgraph.

use std::io::Write;

use weir_core::FlowgraphSpec;
use weir_iio::testing::{FakeChannel, FakeSysfs};

fn ramp_bytes(samples: u64) -> Vec<u8> {
    (0..samples * 2)
        .flat_map(|n| (n as u16).to_le_bytes())
        .collect()
}

fn adc(fake: &FakeSysfs) -> std::path::PathBuf {
    fake.device(0)
        .name("fake-adc")
        .label("rx0")
        .attr("in_voltage_sampling_frequency", "1000000")
        .buffer(
            0,
            &[("length", "0"), ("enable", "0"), ("watermark", "1")],
            &[
                FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", false),
                FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", false),
            ],
        );
    fake.fifo_node(0)
}

fn flowgraph(fake: &FakeSysfs, device: &str, extra: &str, out: &std::path::Path) -> String {
    format!(
        r#"
connections = ["src.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
device = "{device}"
channels = "voltage0, voltage1"
samples_per_block = 1000
blocks = 3
attrs = "in_voltage_sampling_frequency=2000000"
sysfs_root = "{}"
dev_root = "{}"
dma_heap = "{}/no-heap"
{extra}
[blocks.head]
type = "head"
item = "ci16"
items = 50000
[blocks.sink]
type = "file_sink"
item = "ci16"
path = "{}"
"#,
        fake.root().display(),
        fake.dev_root().display(),
        fake.base().display(),
        out.display()
    )
}

#[test]
fn auto_falls_back_to_fileio_and_the_ramp_arrives() {
    let fake = FakeSysfs::new();
    let node = adc(&fake);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rx.ci16");
    let feeder = std::thread::spawn(move || {
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(node)
            .expect("open FIFO");
        // More than the flowgraph takes; the write fails once the reader is gone.
        let _ = fifo.write_all(&ramp_bytes(80_000));
    });

    let registry = weir::registry();
    let text = flowgraph(&fake, "rx0", "", &out);
    let report = FlowgraphSpec::parse(&text, "fake.toml", &registry)
        .expect("loads")
        .build(&registry)
        .expect("builds")
        .run()
        .expect("runs");
    let _ = feeder.join();

    assert!(std::fs::read(&out).expect("output") == ramp_bytes(50_000));
    let src = report.block("src").expect("src");
    let note = |k: &str| {
        src.notes
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(note("transport"), "fileio");
    assert!(note("not_used").contains("dmabuf"), "{:?}", src.notes);
    assert!(note("not_used").contains("seed"), "{:?}", src.notes);
    assert!(src.counter("bytes_copied").expect("counted") >= 50_000 * 4);
    // The attribute was written and the channels enabled before start.
    let dev = fake.root().join("iio:device0");
    let read = |f: &str| {
        std::fs::read_to_string(dev.join(f))
            .expect(f)
            .trim()
            .to_string()
    };
    assert_eq!(read("in_voltage_sampling_frequency"), "2000000");
    assert_eq!(read("buffer0/in_voltage0_en"), "1");
    assert_eq!(read("buffer0/in_voltage1_en"), "1");
}

#[test]
fn device_problems_are_located_errors() {
    let fake = FakeSysfs::new();
    adc(&fake);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rx.ci16");
    let registry = weir::registry();
    let build = |text: String| {
        FlowgraphSpec::parse(&text, "fake.toml", &registry)
            .expect("loads")
            .build(&registry)
            .err()
            .expect("refused")
    };

    let e = build(flowgraph(&fake, "no-such-adc", "", &out));
    assert_eq!(e.block.as_deref(), Some("src"));
    assert!(
        e.message.contains("cannot open IIO device `no-such-adc`"),
        "{e}"
    );

    let e = build(flowgraph(&fake, "rx0", "transport = \"dmabuf\"", &out));
    assert!(e.message.contains("dmabuf"), "{e}");

    let e = build(flowgraph(
        &fake,
        "rx0",
        "transport = \"carrier-pigeon\"",
        &out,
    ));
    assert!(e.message.contains("parameter `transport`"), "{e}");

    let text = flowgraph(&fake, "rx0", "", &out)
        .replace("in_voltage_sampling_frequency=2000000", "no_such_attr=1");
    let e = build(text);
    assert!(e.message.contains("parameter `attrs`"), "{e}");
    assert!(e.message.contains("no_such_attr"), "{e}");
}

//! The DMABUF source on a "real" device: a fake sysfs tree whose device node is a FIFO, fed
//! by a thread playing the kernel. Every IIO ioctl on a FIFO fails like on a kernel without
//! DMABUF support, so `transport = "auto"` must fall back to read() and say why, and the data
//! must still arrive intact through a TOML flowgraph.

use std::io::Write;

use weir_core::FlowgraphSpec;
use weir_iio::testing::{FakeChannel, FakeSysfs};

use crate::support::{fake_tree_params, head_to_file, ramp_bytes};

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
{}{extra}
{}"#,
        fake_tree_params(fake),
        head_to_file("ci16", 50000, out)
    )
}

/// Runs the flowgraph on the fake ADC of `fake` (its node fed with a ramp by a thread playing
/// the kernel) with `extra` parameters for the source; checks the ramp arrived.
fn run_on_fake(fake: &FakeSysfs, extra: &str) -> weir_core::RunReport {
    let node = adc(fake);
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

    let report = crate::support::run("fake.toml", &flowgraph(fake, "rx0", extra, &out));
    let _ = feeder.join();
    assert!(std::fs::read(&out).expect("output") == ramp_bytes(50_000));
    report
}

fn note(report: &weir_core::RunReport, block: &str, key: &str) -> String {
    report
        .block(block)
        .expect("block")
        .notes
        .iter()
        .find(|(n, _)| *n == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[test]
fn auto_falls_back_to_fileio_and_the_ramp_arrives() {
    let fake = FakeSysfs::new();
    let report = run_on_fake(&fake, "");
    let src = report.block("src").expect("src");
    let note = |k: &str| note(&report, "src", k);
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
    // No `sample_rate`: the rate the device runs at is read and reported all the same.
    assert_eq!(
        note("sample_rate"),
        "2000000 Hz (in_voltage_sampling_frequency)"
    );
}

#[test]
fn sample_rate_is_written_read_back_and_reported() {
    let fake = FakeSysfs::new();
    // After `attrs`, so it wins over the rate they set.
    let report = run_on_fake(&fake, "sample_rate = 3_000_000.0");
    assert_eq!(
        note(&report, "src", "sample_rate"),
        "3000000 Hz (in_voltage_sampling_frequency)"
    );
    let file = fake
        .root()
        .join("iio:device0/in_voltage_sampling_frequency");
    assert_eq!(
        std::fs::read_to_string(file).expect("attribute").trim(),
        "3000000"
    );
}

/// A device like [`adc`]'s, with no sampling-frequency attribute, and an output device with
/// none either.
fn rateless_devices(fake: &FakeSysfs) {
    fake.device(0).name("bare-adc").buffer(
        0,
        &[("length", "0"), ("enable", "0")],
        &[
            FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", false),
            FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", false),
        ],
    );
    fake.device(1).name("bare-dac").buffer(
        0,
        &[("length", "0"), ("enable", "0")],
        &[
            FakeChannel::new("out_voltage0", 0, "le:s16/16>>0", false),
            FakeChannel::new("out_voltage1", 1, "le:s16/16>>0", false),
        ],
    );
}

fn source_on(fake: &FakeSysfs, device: &str, extra: &str) -> String {
    format!(
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\ndevice = \"{device}\"\nsysfs_root = \"{}\"\ndev_root = \"{}\"\n{extra}\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"ci16\"\n",
        fake.root().display(),
        fake.dev_root().display()
    )
}

fn sink_on(fake: &FakeSysfs, device: &str, extra: &str) -> String {
    format!(
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"null_source\"\nitem = \"ci16\"\n[blocks.sink]\ntype = \"dmabuf_sink\"\ndevice = \"{device}\"\nsysfs_root = \"{}\"\ndev_root = \"{}\"\n{extra}\n",
        fake.root().display(),
        fake.dev_root().display()
    )
}

/// The 1-based line of the first line of `text` starting with `key`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(key))
        .expect("key in text")
        + 1
}

#[test]
fn load_time_refusals_on_real_devices_are_located() {
    let fake = FakeSysfs::new();
    rateless_devices(&fake);
    let registry = weir::registry();
    let load = |text: &str| FlowgraphSpec::parse(text, "rate.toml", &registry);
    let refused = |text: &str, key: &str, block: &str, words: &[&str]| {
        let e = load(text)
            .err()
            .unwrap_or_else(|| panic!("`{key}` must be refused at load time:\n{text}"));
        assert_eq!((e.line, e.column), (line_of(text, key), 1), "{e}");
        assert_eq!(e.block.as_deref(), Some(block), "{e}");
        assert!(e.message.contains(&format!("parameter `{key}`")), "{e}");
        for w in words {
            assert!(e.message.contains(w), "`{w}` not in: {e}");
        }
    };

    // A rate on a device that has nowhere to set it.
    refused(
        &source_on(&fake, "bare-adc", "sample_rate = 1e6"),
        "sample_rate",
        "src",
        &[
            "`bare-adc` has no sampling-frequency attribute",
            "in_voltage_sampling_frequency",
        ],
    );
    refused(
        &sink_on(&fake, "bare-dac", "sample_rate = 1e6"),
        "sample_rate",
        "sink",
        &["out_voltage_sampling_frequency"],
    );
    // 0 leaves the rate alone: nothing to refuse.
    load(&source_on(&fake, "bare-adc", "sample_rate = 0")).expect("sample_rate = 0 loads");

    // Simulator parameters, even when given their default value.
    for (key, line) in [
        ("pattern", "pattern = \"tone\""),
        ("sim_fail_block", "sim_fail_block = 3"),
        ("tone_frequency", "tone_frequency = 0.01"),
        ("tone_amplitude", "tone_amplitude = 100"),
    ] {
        refused(
            &source_on(&fake, "bare-adc", line),
            key,
            "src",
            &[
                "configures the simulator",
                "`bare-adc` is a real IIO device",
            ],
        );
    }
    refused(
        &sink_on(&fake, "bare-dac", "sim_output = \"/tmp/x\""),
        "sim_output",
        "sink",
        &["configures the simulator"],
    );
    // ... which the simulator takes.
    load(&source_on(
        &fake,
        "sim",
        "pattern = \"tone\"\nsample_rate = 1e6",
    ))
    .expect("the simulator takes them");

    // A device missing at load time is the build's to refuse (exit status 1, not 2).
    let spec = load(&source_on(&fake, "no-such-adc", "sample_rate = 1e6"))
        .expect("loads: the device may appear before the run");
    let e = spec.build(&registry).err().expect("refused at build");
    assert!(
        e.message.contains("cannot open IIO device `no-such-adc`"),
        "{e}"
    );
}

#[test]
fn weir_check_refuses_them_with_exit_status_2() {
    let fake = FakeSysfs::new();
    rateless_devices(&fake);
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text, key, block) in [
        (
            "rate.toml",
            source_on(&fake, "bare-adc", "sample_rate = 2_000_000"),
            "sample_rate",
            "src",
        ),
        (
            "pattern.toml",
            source_on(&fake, "bare-adc", "pattern = \"tone\""),
            "pattern",
            "src",
        ),
        (
            "output.toml",
            sink_on(&fake, "bare-dac", "sim_output = \"/tmp/x\""),
            "sim_output",
            "sink",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).expect("write");
        let stderr = crate::support::check_refuses(&path, name);
        let at = format!(
            "{name}:{}:1: block `{block}`: parameter `{key}`",
            line_of(&text, key)
        );
        assert!(stderr.contains(&at), "`{at}` not in: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
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

    // A string choice is checked when the file is loaded (what `weir check` refuses).
    let e = FlowgraphSpec::parse(
        &flowgraph(&fake, "rx0", "transport = \"carrier-pigeon\"", &out),
        "fake.toml",
        &registry,
    )
    .expect_err("refused at load time");
    assert!(e.message.contains("parameter `transport`"), "{e}");
    assert!(e.message.contains("`fileio`"), "{e}");

    let text = flowgraph(&fake, "rx0", "", &out)
        .replace("in_voltage_sampling_frequency=2000000", "no_such_attr=1");
    let e = build(text);
    assert!(e.message.contains("parameter `attrs`"), "{e}");
    assert!(e.message.contains("no_such_attr"), "{e}");
}

#[test]
fn the_opened_device_carries_its_rate_for_loss_accounting() {
    use weir::iio_blocks::dmabuf_source::{descriptor, open_transport};
    use weir_core::Value;
    let fake = FakeSysfs::new();
    adc(&fake);
    let root = fake.root().display().to_string();
    let dev_root = fake.dev_root().display().to_string();
    let heap = format!("{}/no-heap", fake.base().display());
    let open = |device: &str, rate: f64| {
        let params = descriptor()
            .resolve([
                ("device", Value::from(device)),
                ("sample_rate", Value::from(rate)),
                ("sysfs_root", Value::from(root.as_str())),
                ("dev_root", Value::from(dev_root.as_str())),
                ("dma_heap", Value::from(heap.as_str())),
            ])
            .expect("resolves");
        open_transport(&params).unwrap_or_else(|e| panic!("{device} opens: {e}"))
    };

    let rate_of = |device: &str, rate: f64| {
        let t = open(device, rate);
        (t.sample_rate, t.sample_rate_note)
    };
    assert_eq!(
        rate_of("rx0", 3_000_000.0),
        (
            Some(3_000_000.0),
            Some("3000000 Hz (in_voltage_sampling_frequency)".into())
        )
    );
    // Not asked: the rate it runs at.
    let real = open("rx0", 0.0);
    assert_eq!(real.sample_rate, Some(3_000_000.0));

    assert_eq!(
        rate_of("sim", 1_000_000.0),
        (Some(1_000_000.0), Some("1000000 Hz (simulated)".into()))
    );
    assert_eq!(rate_of("sim", 0.0), (None, None));

    // A device without the attribute runs at a rate nobody knows.
    let fake = FakeSysfs::new();
    rateless_devices(&fake);
    fake.fifo_node(0);
    let params = descriptor()
        .resolve([
            ("device", Value::from("bare-adc")),
            ("sysfs_root", Value::from(fake.root().display().to_string())),
            (
                "dev_root",
                Value::from(fake.dev_root().display().to_string()),
            ),
            ("dma_heap", Value::from(heap.as_str())),
        ])
        .expect("resolves");
    let bare = open_transport(&params).unwrap_or_else(|e| panic!("opens: {e}"));
    assert_eq!((bare.sample_rate, bare.sample_rate_note), (None, None));
}

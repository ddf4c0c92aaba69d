//! The device's scan layout drives the converters (issue 13, item 3).
//!
//! Fake devices (a sysfs tree whose node is a FIFO, so the transport falls back to
//! read()/write() and a thread plays the ADC or DAC) publish their channels' formats when the
//! flowgraph is loaded; `scan_to_cf32` / `scan_to_f32` with no `format` decode them exactly,
//! `ci16_to_cf32` / `cf32_to_ci16` take exactly the 16-bit pairs they can, and every mismatch
//! is a load error located in the file, before anything runs.

use std::io::{Read, Write};
use std::path::PathBuf;

use weir_core::{Cf32, FlowgraphSpec, LoadError, PortLayout};
use weir_iio::testing::{FakeChannel, FakeSysfs};

use crate::support::{assert_check_passes, check_refuses, fake_tree_params, head_block};

/// Scans the tests stream: several DMA blocks of 256 scans.
const SCANS: usize = 2000;
const SAMPLES_PER_BLOCK: usize = 256;

/// A fake ADC `iio:device0` ("fake-adc") with `channels` in buffer0, node a FIFO.
fn adc(channels: &[FakeChannel]) -> (FakeSysfs, PathBuf) {
    let fake = FakeSysfs::new();
    fake.device(0).name("fake-adc").buffer(
        0,
        &[
            ("length", "0"),
            ("enable", "0"),
            ("watermark", "1"),
            ("direction", "in"),
        ],
        channels,
    );
    let node = fake.fifo_node(0);
    (fake, node)
}

/// A fake DAC `iio:device0` ("fake-dac") with `channels` in buffer0, node a FIFO.
fn dac(channels: &[FakeChannel]) -> (FakeSysfs, PathBuf) {
    let fake = FakeSysfs::new();
    fake.device(0).name("fake-dac").buffer(
        0,
        &[("length", "0"), ("enable", "0"), ("direction", "out")],
        channels,
    );
    let node = fake.fifo_node(0);
    (fake, node)
}

/// The device parameters of a `dmabuf_source` or `dmabuf_sink` on `fake`.
fn device_params(fake: &FakeSysfs, device: &str, channels: &str) -> String {
    format!(
        r#"device = "{device}"
channels = "{channels}"
samples_per_block = {SAMPLES_PER_BLOCK}
blocks = 3
{}"#,
        fake_tree_params(fake)
    )
}

/// `src` (item u8) -> `conv` (`conv_block`, a whole `[blocks.conv]` body) -> head -> vector_sink.
fn rx_flowgraph(fake: &FakeSysfs, channels: &str, conv_block: &str, key: &str) -> String {
    format!(
        r#"connections = ["src.out -> conv.in", "conv.out -> head.in", "head.out -> sink.in"]

[blocks.src]
type = "dmabuf_source"
item = "u8"
{}
[blocks.conv]
{conv_block}

{}
[blocks.sink]
type = "vector_sink"
item = "cf32"
key = "{key}"
"#,
        device_params(fake, "fake-adc", channels),
        head_block("cf32", SCANS)
    )
}

fn load(text: &str) -> Result<FlowgraphSpec, LoadError> {
    FlowgraphSpec::parse(text, "layout.toml", &weir::registry())
}

/// Runs an RX flowgraph on the fake ADC fed `scan(k)` for scan k, returning what the sink got.
fn run_rx<T: 'static>(text: &str, node: PathBuf, key: &str, scan: fn(usize) -> Vec<u8>) -> Vec<T> {
    // More scans than the flowgraph takes (whole blocks are read); the write fails once the
    // flowgraph has closed the node.
    let feeder = std::thread::spawn(move || {
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(node)
            .expect("open FIFO");
        let bytes: Vec<u8> = (0..SCANS + 4 * SAMPLES_PER_BLOCK).flat_map(scan).collect();
        let _ = fifo.write_all(&bytes);
    });
    crate::support::run("scan.toml", text);
    let _ = feeder.join();
    weir_plugin_dsp::vector_sink::take::<T>(key).expect("the sink's items")
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// A 12-bit ramp pair for scan k, covering the whole range and both signs.
fn i12(k: usize) -> i16 {
    ((k * 37) % 4096) as i16 - 2048
}
fn q12(k: usize) -> i16 {
    2047 - ((k * 11) % 4096) as i16
}

fn two(ch: &str, format: &str) -> Vec<FakeChannel> {
    vec![
        FakeChannel::new(&format!("{ch}_voltage0"), 0, format, false),
        FakeChannel::new(&format!("{ch}_voltage1"), 1, format, false),
    ]
}

#[test]
fn le_s12_shift_4_comes_from_the_device_and_decodes_exactly() {
    let (fake, node) = adc(&two("in", "le:s12/16>>4"));
    let text = rx_flowgraph(&fake, "voltage0,voltage1", "type = \"scan_to_cf32\"", "s12");
    // The layout the converter got, at load time.
    let spec = load(&text).expect("loads");
    let peer = spec
        .block("conv")
        .and_then(|b| b.params.input_layout("in"))
        .expect("the device's layout");
    let layout = peer.layout.as_ref().expect("known");
    assert_eq!(
        layout.to_string(),
        "iio:device0 (fake-adc) buffer0: voltage0 le:s12/16>>4, voltage1 le:s12/16>>4"
    );
    // The low four bits under the shift are noise: they must not reach the samples.
    let out: Vec<Cf32> = run_rx(&text, node, "s12", |k| {
        let noise = (k % 16) as u16;
        [i12(k), q12(k)]
            .iter()
            .flat_map(|v| (((*v as u16) << 4) | noise).to_le_bytes())
            .collect()
    });
    assert_eq!(out.len(), SCANS);
    for (k, x) in out.iter().enumerate() {
        assert_eq!(
            *x,
            Cf32::new(i12(k) as f32 / 2048.0, q12(k) as f32 / 2048.0),
            "scan {k}"
        );
    }
}

/// A 24-bit value for scan k.
fn i24(k: usize) -> i32 {
    ((k * 40_503) % (1 << 24)) as i32 - (1 << 23)
}

#[test]
fn be_s24_in_32_shift_8_comes_from_the_device_and_decodes_exactly() {
    let (fake, node) = adc(&two("in", "be:s24/32>>8"));
    let text = rx_flowgraph(&fake, "", "type = \"scan_to_cf32\"\nscale = 1.0", "s24");
    let out: Vec<Cf32> = run_rx(&text, node, "s24", |k| {
        let noise = (k % 256) as u32;
        [i24(k), -i24(k) - 1]
            .iter()
            .flat_map(|v| (((*v as u32) << 8) | noise).to_be_bytes())
            .collect()
    });
    assert_eq!(out.len(), SCANS);
    for (k, x) in out.iter().enumerate() {
        assert_eq!(
            *x,
            Cf32::new(i24(k) as f32, (-i24(k) - 1) as f32),
            "scan {k}"
        );
    }
}

#[test]
fn sign_extended_s12_is_read_by_ci16_to_cf32_at_its_own_full_scale() {
    // Analog Devices' `S`: 12 valid bits, sign-extended to the whole 16-bit word, so an i16
    // is the sample exactly; ci16_to_cf32 takes it, and maps its full scale (2^11) to ±1.0.
    let (fake, node) = adc(&two("in", "le:S12/16>>0"));
    let text = rx_flowgraph(&fake, "", "type = \"ci16_to_cf32\"", "S12")
        .replace("item = \"u8\"", "item = \"ci16\"");
    let scan = |k: usize| -> Vec<u8> {
        [i12(k), q12(k)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    let out: Vec<Cf32> = run_rx(&text, node, "S12", scan);
    assert_eq!(out.len(), SCANS);
    for (k, x) in out.iter().enumerate() {
        assert_eq!(
            *x,
            Cf32::new(i12(k) as f32 / 2048.0, q12(k) as f32 / 2048.0),
            "scan {k}"
        );
    }
    // scan_to_cf32 decodes the same device to the same samples.
    let (fake, node) = adc(&two("in", "le:S12/16>>0"));
    let text = rx_flowgraph(&fake, "", "type = \"scan_to_cf32\"", "S12 scan");
    let again: Vec<Cf32> = run_rx(&text, node, "S12 scan", scan);
    assert_eq!(again, out);
}

#[test]
fn a_repeated_channel_and_the_scan_index_order_come_from_the_device() {
    // Scan order is scan-index order, not the order of the files or of `channels`:
    // accel (index 0, s16 X2 = 4 bytes), then Q (voltage1, index 1), then I (voltage0,
    // index 2). Offsets: accel 0, Q 4, I 6; 8 bytes a scan.
    let (fake, node) = adc(&[
        FakeChannel::new("in_voltage0", 2, "le:s16/16>>0", false),
        FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", false),
        FakeChannel::new("in_accel", 0, "le:s16/16X2>>0", false),
    ]);
    let text = rx_flowgraph(
        &fake,
        "voltage0, voltage1, accel",
        "type = \"scan_to_cf32\"\ni = 2\nq = 1\nscale = 1.0",
        "X2",
    );
    let spec = load(&text).expect("loads");
    let peer = spec
        .block("conv")
        .and_then(|b| b.params.input_layout("in"))
        .expect("the device's layout");
    assert_eq!(
        peer.layout.as_ref().expect("known").formats(),
        "le:s16/16X2>>0, le:s16/16>>0, le:s16/16>>0"
    );
    let out: Vec<Cf32> = run_rx(&text, node, "X2", |k| {
        let k = k as i16;
        [0x5A5A_u16 as i16, -k, -3 * k, 7 * k - 1000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    });
    assert_eq!(out.len(), SCANS);
    for (k, x) in out.iter().enumerate() {
        let k = k as i16;
        assert_eq!(
            *x,
            Cf32::new((7 * k - 1000) as f32, (-3 * k) as f32),
            "scan {k}"
        );
    }
    // The repeated channel itself holds two values a scan: not one sample to convert.
    let e = load(&text.replace("i = 2", "i = 0")).expect_err("repeated");
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(e.message.contains("repeated"), "{e}");
}

#[test]
fn a_timestamp_channel_is_laid_out_and_skipped_by_the_converter() {
    let channels = [
        FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", false),
        FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", false),
        FakeChannel::new("in_timestamp", 2, "le:s64/64>>0", false),
    ];
    let (fake, node) = adc(&channels);
    let text = rx_flowgraph(
        &fake,
        "voltage0,voltage1,timestamp",
        "type = \"scan_to_cf32\"\nscale = 1.0",
        "ts",
    );
    let spec = load(&text).expect("loads");
    let src = spec.block("src").expect("src");
    let PortLayout::Known(layout) = &src.ports.outputs[0].layout else {
        panic!("no layout published: {:?}", src.ports.outputs[0].layout);
    };
    let ids: Vec<_> = layout.channels.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["voltage0", "voltage1", "timestamp"]);
    // The DMA blocks hold whole 16-byte scans (I, Q, 4 bytes padding, the 8-byte timestamp).
    assert_eq!(
        src.ports.outputs[0].fixed_buffer_items,
        Some(SAMPLES_PER_BLOCK * 16)
    );
    let out: Vec<Cf32> = run_rx(&text, node, "ts", |k| {
        let mut scan = Vec::new();
        scan.extend_from_slice(&(k as i16).to_le_bytes());
        scan.extend_from_slice(&(-(k as i16)).to_le_bytes());
        scan.extend_from_slice(&[0xEE; 4]);
        scan.extend_from_slice(&(1_000_000_000_i64 + 1000 * k as i64).to_le_bytes());
        scan
    });
    assert_eq!(out.len(), SCANS);
    for (k, x) in out.iter().enumerate() {
        assert_eq!(*x, Cf32::new(k as f32, -(k as f32)), "scan {k}");
    }

    // The build has the same layout, timestamp included, for decoding it per block.
    let d = weir_plugin_iio::dmabuf_source::descriptor();
    let params = d
        .resolve([
            ("device", "fake-adc".into()),
            ("channels", "voltage0,voltage1,timestamp".into()),
            ("sysfs_root", fake.root().to_str().expect("utf-8").into()),
            ("dev_root", fake.dev_root().to_str().expect("utf-8").into()),
            (
                "dma_heap",
                format!("{}/no-heap", fake.base().display()).into(),
            ),
        ])
        .expect("params");
    let opened = weir_plugin_iio::dmabuf_source::open_transport(&params).expect("opens");
    let offsets: Vec<_> = opened
        .layout
        .elements()
        .iter()
        .map(|e| (e.channel.as_str(), e.offset))
        .collect();
    assert_eq!(
        offsets,
        [("voltage0", 0), ("voltage1", 2), ("timestamp", 8)]
    );
    assert_eq!(opened.layout.scan_bytes(), 16);
}

#[test]
fn the_simulator_publishes_its_two_16_bit_channels() {
    let spec = load(
        r#"connections = ["src.out -> conv.in", "conv.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
item = "u8"
[blocks.conv]
type = "scan_to_cf32"
[blocks.sink]
type = "null_sink"
item = "cf32"
"#,
    )
    .expect("loads");
    let peer = spec
        .block("conv")
        .and_then(|b| b.params.input_layout("in"))
        .expect("the simulator's layout");
    assert_eq!(
        peer.layout.as_ref().map(ToString::to_string),
        Ok("the simulated ADC: voltage0 le:s16/16>>0, voltage1 le:s16/16>>0".to_string())
    );
    let params = weir_plugin_iio::dmabuf_sink::descriptor()
        .resolve([])
        .expect("defaults");
    let opened = weir_plugin_iio::dmabuf_sink::open_transport(&params).expect("opens");
    assert_eq!(opened.layout, weir_plugin_iio::device::simulator_layout());
    assert_eq!(opened.layout.scan_bytes(), 4);
}

/// An RX flowgraph whose converter is `conv_block`, on a device with `format` channels.
fn refused_rx(format: &str, channels: &str, conv_block: &str, item: &str) -> (String, LoadError) {
    let (fake, _node) = adc(&[
        FakeChannel::new("in_voltage0", 0, format, false),
        FakeChannel::new("in_voltage1", 1, format, false),
        FakeChannel::new("in_timestamp", 2, "le:s64/64>>0", false),
    ]);
    let text = rx_flowgraph(&fake, channels, conv_block, "never")
        .replace("item = \"u8\"", &format!("item = \"{item}\""));
    let e = load(&text).expect_err("refused at load time");
    assert_eq!(e.file, "layout.toml");
    assert_eq!(e.block.as_deref(), Some("conv"), "{e}");
    // Nothing on the device changed: the load only read it.
    let en = fake.root().join("iio:device0/buffer0/in_voltage0_en");
    assert_eq!(std::fs::read_to_string(en).expect("_en").trim(), "0");
    (text, e)
}

#[test]
fn a_hand_written_format_that_disagrees_is_refused_at_the_parameter() {
    let (text, e) = refused_rx(
        "le:s12/16>>4",
        "",
        "type = \"scan_to_cf32\"\nformat = \"le:s16/16>>0\"",
        "u8",
    );
    assert_eq!((e.line, e.column), position(&text, "format ="), "{e}");
    assert!(
        e.message
            .contains("\"le:s16/16>>0\" disagrees with the device"),
        "{e}"
    );
    assert!(e.message.contains("voltage0 le:s12/16>>4"), "{e}");
    assert!(e.message.contains("`src.out` (dmabuf_source)"), "{e}");
    // A list, one per channel, that agrees is accepted; one that lists too few is not.
    let (fake, _node) = adc(&two("in", "le:s12/16>>4"));
    let ok = rx_flowgraph(
        &fake,
        "",
        "type = \"scan_to_cf32\"\nformat = \"le:s12/16>>4, le:s12/16>>4\"\nchannels = 2",
        "never",
    );
    load(&ok).expect("agrees");
    let e = load(&ok.replace(
        "format = \"le:s12/16>>4, le:s12/16>>4\"",
        "format = \"le:s12/16>>4,\"",
    ))
    .expect_err("bad list");
    assert_eq!(e.block.as_deref(), Some("conv"));
}

#[test]
fn a_hand_written_channel_count_that_disagrees_is_refused_at_the_parameter() {
    // The device has three channels enabled (I, Q, timestamp).
    let (text, e) = refused_rx(
        "le:s16/16>>0",
        "voltage0,voltage1,timestamp",
        "type = \"scan_to_cf32\"\nchannels = 2",
        "u8",
    );
    assert_eq!((e.line, e.column), position(&text, "channels = 2"), "{e}");
    assert!(
        e.message
            .contains("parameter `channels`: 2 disagrees with the device"),
        "{e}"
    );
    assert!(e.message.contains("(3 channels)"), "{e}");
}

#[test]
fn ci16_to_cf32_refuses_what_it_would_read_wrong_and_names_the_converter_that_fits() {
    let at_connection = |text: &str, e: &LoadError| {
        assert_eq!(
            (e.line, e.column),
            position(text, "\"src.out -> conv.in\""),
            "{e}"
        );
        assert!(e.message.contains("use `scan_to_cf32`"), "{e}");
        assert!(e.message.contains("`item = \"u8\"` on `src`"), "{e}");
    };
    for (format, why) in [
        ("le:s12/16>>4", "a shift of 4"),
        ("le:s12/16>>0", "12 valid bits not sign-extended"),
        ("le:u16/16>>0", "unsigned"),
        ("le:s24/32>>8", "32 storage bits"),
        ("le:s16/16X2>>0", "2 repeated values"),
    ] {
        let (text, e) = refused_rx(format, "", "type = \"ci16_to_cf32\"", "ci16");
        at_connection(&text, &e);
        assert!(e.message.contains(&format!("voltage0 {format}")), "{e}");
        assert!(e.message.contains(why), "{format}: {e}");
    }
    // The other byte order than this machine's.
    let other = if cfg!(target_endian = "little") {
        "be:s16/16>>0"
    } else {
        "le:s16/16>>0"
    };
    let (text, e) = refused_rx(other, "", "type = \"ci16_to_cf32\"", "ci16");
    at_connection(&text, &e);
    assert!(e.message.contains("byte order"), "{e}");
    // I, Q and a timestamp: three channels, not a pair.
    let (fake, _node) = adc(&[
        FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", false),
        FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", false),
        FakeChannel::new("in_timestamp", 2, "le:s64/64>>0", false),
    ]);
    let text = rx_flowgraph(
        &fake,
        "voltage0,voltage1,timestamp",
        "type = \"ci16_to_cf32\"",
        "never",
    )
    .replace("item = \"u8\"", "item = \"ci16\"");
    let e = load(&text).expect_err("three channels");
    at_connection(&text, &e);
    assert!(e.message.contains("3 channels, not I and Q"), "{e}");
    // The 16-bit pair it is made for loads.
    let (fake, _node) = adc(&two("in", "le:s16/16>>0"));
    let text = rx_flowgraph(&fake, "", "type = \"ci16_to_cf32\"", "never")
        .replace("item = \"u8\"", "item = \"ci16\"");
    load(&text).expect("a 16-bit pair");
}

#[test]
fn a_converter_without_format_needs_a_device_that_says() {
    // Fed by something that is not a device: the format must be written.
    let text = r#"connections = ["src.out -> conv.in", "conv.out -> sink.in"]

[blocks.src]
type = "null_source"
item = "u8"

[blocks.conv]
type = "scan_to_cf32"

[blocks.sink]
type = "null_sink"
item = "cf32"
"#;
    let e = load(text).expect_err("no format");
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(e.message.contains("publishes no channel layout"), "{e}");
    assert_eq!(e.line, 8, "{e}");
    load(&text.replace(
        "type = \"scan_to_cf32\"",
        "type = \"scan_to_cf32\"\nformat = \"le:s16/16>>0\"",
    ))
    .expect("written by hand, as before");

    // A device that is not there: the reason is given; a written format still loads (the
    // build then reports the device, as before).
    let fake = FakeSysfs::new();
    let text = rx_flowgraph(&fake, "", "type = \"scan_to_cf32\"", "never");
    let e = load(&text).expect_err("unknown layout");
    assert!(
        e.message.contains("cannot open IIO device `fake-adc`"),
        "{e}"
    );
    let text = rx_flowgraph(
        &fake,
        "",
        "type = \"scan_to_cf32\"\nformat = \"le:s16/16>>0\"",
        "never",
    );
    load(&text).expect("loads");

    // The simulator is 16-bit: a 12-bit format written for it is refused.
    let sim = r#"connections = ["src.out -> conv.in", "conv.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
item = "u8"
[blocks.conv]
type = "scan_to_cf32"
format = "le:s12/16>>4"
[blocks.sink]
type = "null_sink"
item = "cf32"
"#;
    let e = load(sim).expect_err("disagrees");
    assert_eq!((e.line, e.column), position(sim, "format ="), "{e}");
    assert!(e.message.contains("the simulated ADC"), "{e}");
}

/// vector_source (cf32) -> cf32_to_ci16 -> dmabuf_sink on `fake`, in `mode`.
fn tx_flowgraph(fake: &FakeSysfs, items: &[f64], mode: &str) -> String {
    let list: Vec<String> = items.iter().map(|x| format!("{x:?}")).collect();
    format!(
        r#"connections = ["src.out -> iq.in", "iq.out -> dac.in"]

[blocks.src]
type = "vector_source"
item = "cf32"
items = [{}]

[blocks.iq]
type = "cf32_to_ci16"

[blocks.dac]
type = "dmabuf_sink"
item = "ci16"
mode = "{mode}"
{}"#,
        list.join(", "),
        device_params(fake, "fake-dac", "")
    )
}

#[test]
fn cf32_to_ci16_writes_a_sign_extended_s12_dac_at_its_full_scale() {
    // ±1.0 must reach ±2047, the full scale of `le:S12/16>>0`, not ±32767 (which a 12-bit
    // DAC would read as garbage).
    let (fake, node) = dac(&two("out", "le:S12/16>>0"));
    let items = [1.0, -1.0, 0.5, -0.5, 0.25, 0.0, -0.001, 0.999];
    let text = tx_flowgraph(&fake, &items, "copy");
    let expected: Vec<u8> = items
        .iter()
        .map(|x| (x * 2047.0_f64).round() as i16)
        .flat_map(i16::to_le_bytes)
        .collect();
    let n = expected.len();
    let reader = std::thread::spawn(move || {
        let mut fifo = std::fs::File::open(node).expect("open FIFO");
        let mut got = vec![0u8; n];
        fifo.read_exact(&mut got).expect("read what the DAC got");
        got
    });
    let registry = weir::registry();
    load(&text)
        .expect("loads")
        .build(&registry)
        .expect("builds")
        .run()
        .expect("runs");
    assert_eq!(reader.join().expect("reader"), expected);
}

#[test]
fn cf32_to_ci16_refuses_a_dac_it_would_write_wrong() {
    for mode in ["copy", "zero_copy"] {
        let (fake, _node) = dac(&two("out", "le:s12/16>>4"));
        let text = tx_flowgraph(&fake, &[0.5, 0.5], mode);
        let e = load(&text).expect_err("refused");
        assert_eq!(e.block.as_deref(), Some("iq"), "{e}");
        assert_eq!(
            (e.line, e.column),
            position(&text, "\"iq.out -> dac.in\""),
            "{e}"
        );
        assert!(e.message.contains("`dac.in` (dmabuf_sink)"), "{e}");
        assert!(e.message.contains("voltage0 le:s12/16>>4"), "{e}");
        assert!(e.message.contains("a shift of 4"), "{e}");
    }
    let (fake, _node) = dac(&two("out", "le:s16/16>>0"));
    load(&tx_flowgraph(&fake, &[0.5, 0.5], "zero_copy")).expect("a 16-bit pair");
}

#[test]
fn weir_check_refuses_a_mismatch_with_exit_2_and_the_location() {
    let (fake, _node) = adc(&two("in", "be:s24/32>>8"));
    let text = rx_flowgraph(
        &fake,
        "",
        "type = \"scan_to_cf32\"\nformat = \"be:s24/32>>0\"",
        "never",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mismatch.toml");
    std::fs::write(&file, &text).expect("write");
    let stderr = check_refuses(&file, "a format the device disagrees with");
    let (line, column) = position(&text, "format =");
    let at = format!("{}:{line}:{column}", file.display());
    assert!(stderr.contains(&at), "no {at} in\n{stderr}");
    assert!(stderr.contains("be:s24/32>>8"), "{stderr}");
    assert!(stderr.contains("conv"), "{stderr}");

    // The same file with the format left out checks.
    std::fs::write(
        &file,
        text.replace("format = \"be:s24/32>>0\"", "# format from the device"),
    )
    .expect("write");
    assert_check_passes(&file);
}

#[test]
fn attributes_that_change_the_layout_are_refused_at_build() {
    // A driver whose channel type follows an attribute (a resolution mode, say); here the
    // attribute is a link to the type file itself.
    let (fake, _node) = adc(&two("in", "le:s16/16>>0"));
    let dev = fake.root().join("iio:device0");
    std::os::unix::fs::symlink(
        dev.join("buffer0/in_voltage0_type"),
        dev.join("in_voltage0_type"),
    )
    .expect("symlink");
    let text = rx_flowgraph(&fake, "", "type = \"scan_to_cf32\"", "never").replace(
        "item = \"u8\"",
        "item = \"u8\"\nattrs = \"in_voltage0_type=le:s12/16>>4\"",
    );
    let registry = weir::registry();
    // Loading reads the layout and writes nothing: the converter is set up for s16.
    let spec = load(&text).expect("loads");
    let e = spec.build(&registry).err().expect("refused");
    assert_eq!(e.block.as_deref(), Some("src"), "{e}");
    assert!(e.message.contains("changed the scan layout"), "{e}");
    assert!(
        e.message.contains("voltage0 le:s16/16>>0") && e.message.contains("voltage0 le:s12/16>>4"),
        "{e}"
    );
}

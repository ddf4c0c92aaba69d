//! The load-time check of a DMA block against its reader's chunk uses the device's own scan
//! size (2-, 6- and 8-byte scans here, on fake sysfs trees), not the simulator's 4-byte
//! sample; and a channel named twice in `channels` is refused when the flowgraph is loaded.

use weir_core::FlowgraphSpec;
use weir_iio::testing::{FakeChannel, FakeSysfs};

use crate::support::fake_tree_params;

/// DMA blocks of this many scans.
const SAMPLES_PER_BLOCK: usize = 256;

/// A fake ADC `iio:device0` whose buffer0 holds `channels` (all enabled), each of `format`.
fn adc(channels: usize, format: &str) -> FakeSysfs {
    let fake = FakeSysfs::new();
    let channels: Vec<FakeChannel> = (0..channels)
        .map(|i| FakeChannel::new(&format!("in_voltage{i}"), i as u32, format, true))
        .collect();
    fake.device(0).name("fake-adc").buffer(
        0,
        &[
            ("length", "0"),
            ("enable", "0"),
            ("watermark", "1"),
            ("direction", "in"),
        ],
        &channels,
    );
    fake.fifo_node(0);
    fake
}

/// `dmabuf_source` (item `item`, `channels`) -> `reader` (a whole `[blocks.r]` body) ->
/// `null_sink`.
fn flowgraph(
    fake: &FakeSysfs,
    item: &str,
    channels: &str,
    reader: &str,
    sink_item: &str,
) -> String {
    format!(
        r#"connections = ["src.out -> r.in", "r.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
device = "iio:device0"
item = "{item}"
channels = "{channels}"
samples_per_block = {SAMPLES_PER_BLOCK}
{}[blocks.r]
{reader}
[blocks.sink]
type = "null_sink"
item = "{sink_item}"
"#,
        fake_tree_params(fake)
    )
}

/// Whether the flowgraph loads; the error text when not.
fn verdict(text: &str) -> Result<(), String> {
    FlowgraphSpec::parse(text, "sizing.toml", &weir::registry())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn the_block_size_a_reader_sees_is_that_of_the_devices_scan() {
    // (channels, format, item, reader chunk that fits, one that does not): a block of 256
    // scans holds 256 × scan / item items; at 4 bytes a scan the verdicts would be swapped.
    let cases = [
        // 2-byte scan, f32 items: 128 per block (256 at 4 bytes a scan).
        (1, "le:s16/16>>0", "f32", 128, 200),
        // 6-byte scan, f32 items: 384 per block (256 at 4 bytes a scan).
        (3, "le:s16/16>>0", "f32", 384, 512),
        // 8-byte scan, cf32 items: 256 per block (128 at 4 bytes a scan).
        (2, "le:s32/32>>0", "cf32", 200, 512),
    ];
    for (n, format, item, fits, too_big) in cases {
        let fake = adc(n, format);
        let reader = |width: usize| match item {
            "cf32" => format!("type = \"fft\"\nlen = {width}"),
            _ => format!(
                "type = \"fir\"\nitem = \"f32\"\ntaps = [{}]",
                vec!["0.5"; width].join(", ")
            ),
        };
        let sink_item = item;
        verdict(&flowgraph(&fake, item, "", &reader(fits), sink_item)).unwrap_or_else(|e| {
            panic!("{n} × {format} as {item}: a chunk of {fits} fits a block: {e}")
        });
        let e = verdict(&flowgraph(&fake, item, "", &reader(too_big), sink_item))
            .expect_err("a chunk larger than the block stalls");
        assert!(
            e.contains(&format!("needs {too_big} items per call")) && e.contains("would stall"),
            "{n} × {format} as {item}: {e}"
        );
    }
}

#[test]
fn a_channel_named_twice_is_refused_at_load_time() {
    let fake = adc(2, "le:s16/16>>0");
    let e = verdict(&flowgraph(
        &fake,
        "ci16",
        "voltage0, voltage1,voltage0",
        "type = \"ci16_to_cf32\"",
        "cf32",
    ))
    .expect_err("a channel laid out twice");
    assert!(e.contains("channels"), "{e}");
    assert!(e.contains("`voltage0` is named twice"), "{e}");
}

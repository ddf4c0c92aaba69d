//! The latency budget (`latency = "2ms"`) sizes the DMA blocks from the device's rate exactly as
//! documented (`weir_plugin_iio::latency_budget`), and the blocks' achieved latency reaches the
//! run report and `RunningFlowgraph::stats()`: one record per DMA block, p50 <= p99. Timing
//! values are never asserted.

use weir_core::testing::load_error;
use weir_iio::testing::{FakeChannel, FakeSysfs};

use crate::support::{LATENCY_BUDGET_TOML, run};

#[test]
fn a_budget_sizes_the_simulators_blocks_from_their_rate() {
    // RX at 1 MS/s, 2 ms: blocks of 2 ms · 0.75 − 1 ms = 500 samples, 1 + ⌈1.25 / 0.5⌉ = 4 of
    // them. TX at 1 MS/s, 2 ms: 6 blocks of 250 samples (6 · 0.25 ms = 1.5 ms = 75 %).
    let report = run("budget.toml", LATENCY_BUDGET_TOML);
    let src = report.block("src").expect("src");
    let blocks = src.counter("blocks").expect("blocks");
    assert!(blocks >= 10, "{blocks}");
    assert_eq!(src.items_out, blocks * 500, "every block holds 500 samples");
    let note = |b: &weir_core::BlockReport| {
        b.notes
            .iter()
            .find(|(k, _)| *k == "latency_budget")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(
        note(src).starts_with("2ms -> 500 samples x 4 blocks"),
        "{}",
        note(src)
    );
    let tx = report.block("tx").expect("tx");
    assert_eq!(tx.items_in, 5000);
    assert_eq!(
        tx.counter("blocks"),
        Some(20),
        "5000 samples in blocks of 250"
    );
    assert!(
        note(tx).starts_with("2ms -> 250 samples x 6 blocks"),
        "{}",
        note(tx)
    );
    assert_eq!(tx.counter("max_in_flight").map(|n| n <= 6), Some(true));
    // Every block the sink sent completed: one latency record each.
    let latency = tx.latency.expect("TX latency measured");
    assert_eq!(latency.span, "enqueue→completion");
    assert_eq!(latency.count, 20);
    assert!(latency.p50_ns <= latency.p99_ns && latency.p99_ns <= latency.max_ns);
}

#[test]
fn the_report_carries_one_latency_record_per_block_released() {
    // 4 KiB blocks (1024 samples), depth 4, unpaced: the shape BENCHMARKS.md states.
    let report = run(
        "latency.toml",
        r#"
connections = ["src.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
samples_per_block = 1024
blocks = 4
pattern = "untouched"
[blocks.head]
type = "head"
item = "ci16"
items = 1024000
[blocks.sink]
type = "null_sink"
item = "ci16"
"#,
    );
    let src = report.block("src").expect("src");
    let latency = src.latency.expect("RX latency measured");
    assert_eq!(latency.span, "completion→release");
    // Every block delivered was released by its consumer before the report (head stops the
    // stream; the blocks it did not take are released when the stream ends).
    assert_eq!(Some(latency.count), src.counter("blocks"));
    assert!(latency.count >= 1000);
    assert!(latency.p50_ns <= latency.p99_ns && latency.p99_ns <= latency.max_ns);
    let text = report.to_string();
    let line = crate::support::report_line(&text, "src");
    assert!(line.contains(&latency.to_string()), "{line}");
}

/// A fake ADC with `attrs` on the device (its rate, or none) and 16-byte transfers.
fn fake_adc(fake: &FakeSysfs, attrs: &[(&str, &str)]) {
    let mut device = fake.device(0).name("fake-adc");
    for (k, v) in attrs {
        device = device.attr(k, v);
    }
    device.buffer(
        0,
        &[
            ("length", "0"),
            ("enable", "0"),
            ("watermark", "1"),
            ("length_align_bytes", "64"),
        ],
        &[
            FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", false),
            FakeChannel::new("in_voltage1", 1, "le:s16/16>>0", false),
        ],
    );
    fake.fifo_node(0);
}

fn real_source(fake: &FakeSysfs, extra: &str) -> String {
    format!(
        r#"
connections = ["src.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
device = "fake-adc"
sysfs_root = "{}"
dev_root = "{}"
{extra}
[blocks.sink]
type = "null_sink"
item = "ci16"
"#,
        fake.root().display(),
        fake.dev_root().display()
    )
}

#[test]
fn a_real_devices_rate_and_alignment_size_the_blocks_at_load_time() {
    let fake = FakeSysfs::new();
    fake_adc(&fake, &[("in_voltage_sampling_frequency", "1000000")]);
    let spec = weir_core::testing::load_toml(
        &weir::registry(),
        "real.toml",
        &real_source(&fake, "latency = \"2ms\""),
    );
    // 500 samples rounded down to whole 64-byte transfers of 4-byte scans: 496.
    let out = &spec.blocks[0].ports.outputs[0];
    assert_eq!(out.fixed_buffer_items, Some(496));
}

#[test]
fn a_real_device_without_a_rate_is_refused_at_load_time() {
    let fake = FakeSysfs::new();
    fake_adc(&fake, &[]);
    let e = load_error(
        &weir::registry(),
        "norate.toml",
        &real_source(&fake, "latency = \"2ms\""),
    );
    assert_eq!(e.block.as_deref(), Some("src"));
    assert_eq!(e.line, 8, "{e}");
    assert!(e.message.contains("`latency`"), "{e}");
    assert!(e.message.contains("reports none"), "{e}");
}

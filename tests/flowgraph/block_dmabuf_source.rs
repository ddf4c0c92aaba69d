//! The simulated ramp arrives complete and continuous through TOML-built flowgraphs, checked
//! sample by sample.

use crate::support::{assert_ramp, head_to_file, run_error};

/// The i16 value the simulator writes at position `n` of the interleaved I/Q stream.
fn ramp(n: u64) -> i16 {
    n as u16 as i16
}

/// `src` (a `dmabuf_source` with the parameter lines `source`) -> `head` (`samples` ci16
/// samples) -> `sink`, a `file_sink` writing them to `out`.
fn ramp_to_file(source: &str, samples: u64, out: &std::path::Path) -> String {
    format!(
        r#"
connections = ["src.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
{source}
{}"#,
        head_to_file("ci16", samples, out)
    )
}

fn run(text: &str) -> weir_core::RunReport {
    crate::support::run("test.toml", text)
}

#[test]
fn converted_ramp_is_complete_and_continuous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.cf32");
    // 1_000_003 samples: not a multiple of the block size, so the last block is cut by head.
    let samples: u64 = 1_000_003;
    let text = format!(
        r#"
connections = ["src.out -> conv.in", "conv.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
samples_per_block = 4096
blocks = 3
[blocks.conv]
type = "ci16_to_cf32"
{}"#,
        head_to_file("cf32", samples, &out)
    );
    let report = run(&text);

    let bytes = std::fs::read(&out).expect("output file");
    assert_eq!(
        bytes.len() as u64,
        samples * 8,
        "every sample written, none more"
    );
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let scale = 1.0f32 / 32768.0;
    for (n, v) in values.iter().enumerate() {
        let expected = ramp(n as u64) as f32 * scale;
        assert_eq!(
            v.to_bits(),
            expected.to_bits(),
            "value {n} (sample {}, {}) is {v}, expected {expected}",
            n / 2,
            if n % 2 == 0 { "I" } else { "Q" }
        );
    }

    let src = report.block("src").expect("source in report");
    assert!(src.counter("blocks").expect("block count") >= samples.div_ceil(4096));
    assert_eq!(src.counter("overruns"), Some(0));
    assert_eq!(src.counter("bytes_copied"), Some(0));
    assert_eq!(report.block("head").expect("head").items_out, samples);
    assert_eq!(report.block("sink").expect("sink").items_in, samples);
}

#[test]
fn raw_ramp_reaches_a_file_sink_read_in_place() {
    // The file sink reads the DMA blocks by reference itself: no converter in between.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.ci16");
    let samples: u64 = 300_000;
    let text = ramp_to_file("samples_per_block = 1000\nblocks = 2", samples, &out);
    run(&text);
    let bytes = std::fs::read(&out).expect("output file");
    assert_eq!(bytes.len() as u64, samples * 4);
    assert_ramp(&bytes);
}

#[test]
fn a_failed_transfer_stops_the_flowgraph_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.ci16");
    let text = ramp_to_file("samples_per_block = 1000\nsim_fail_block = 5", 100000, &out);
    // The failed transfer must stop the flowgraph.
    let err = run_error("fail.toml", &text);
    let message = err.to_string();
    assert!(message.contains("transfer of block"), "{message}");
    // Named by its place in the stream: the 6th block (sequence 5), first sample 5000.
    assert!(
        message.contains("DMA block 5 of the stream (first sample 5000)"),
        "{message}"
    );
    // Only the blocks before the failed one were delivered, and they are intact.
    let bytes = std::fs::read(&out).expect("output");
    assert!(bytes.len() <= 5 * 1000 * 4, "{} bytes", bytes.len());
    assert_ramp(&bytes);
}

#[test]
fn a_stalled_device_is_reported_after_the_timeout() {
    // At 1 sample/s a 1000-sample block takes 1000 s: far beyond the 0.2 s timeout.
    for (role, text) in [
        (
            "src",
            r#"
connections = ["src.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
samples_per_block = 1000
sample_rate = 1
timeout = 0.2
[blocks.sink]
type = "null_sink"
item = "ci16"
"#,
        ),
        (
            "dac",
            r#"
connections = ["src.out -> head.in", "head.out -> dac.in"]
[blocks.src]
type = "dmabuf_source"
samples_per_block = 1000
[blocks.head]
type = "head"
item = "ci16"
items = 100000
[blocks.dac]
type = "dmabuf_sink"
samples_per_block = 1000
blocks = 2
sample_rate = 1
timeout = 0.2
"#,
        ),
    ] {
        // A stalled device must stop the flowgraph.
        let err = run_error("stall.toml", text);
        let message = err.to_string();
        assert!(
            message.contains(&format!("block `{role}` failed")),
            "{message}"
        );
        assert!(message.contains("the device stalled"), "{message}");
    }
}

#[test]
fn untouched_pattern_delivers_blocks_the_device_never_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.ci16");
    let samples: u64 = 40_000;
    let text = ramp_to_file(
        "pattern = \"untouched\"\nsamples_per_block = 4096\nblocks = 3",
        samples,
        &out,
    );
    let report = run(&text);
    let bytes = std::fs::read(&out).expect("output file");
    assert_eq!(bytes.len() as u64, samples * 4, "every sample written");
    // The blocks are fresh memfds, zero, and the device never writes them (the ramp would).
    assert!(bytes.iter().all(|&b| b == 0), "the device wrote its blocks");
    let src = report.block("src").expect("source in report");
    assert!(src.counter("blocks").expect("block count") >= samples.div_ceil(4096));
}

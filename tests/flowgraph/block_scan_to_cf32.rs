//! weir's own DSP blocks in loaded flowgraphs: `scan_to_cf32` reading the DMABUF source's
//! blocks by reference, in the format the device publishes.
//!
//! This test used to decode the simulator's 16-bit ramp as `be:s24/32>>8`, to get DMA blocks
//! that end in the middle of a scan. That format disagrees with the device's, and is refused
//! at load time now (checked below): a device's blocks hold whole scans of its own layout. The
//! joining of by-reference blocks that end mid-scan is tested on hand-made blocks in
//! tests/flowgraph/block_scan_converters.rs.

use weir_core::FlowgraphSpec;

fn flowgraph(format_line: &str, scans: usize, out: &std::path::Path) -> String {
    format!(
        r#"
connections = ["src.out -> conv.in", "conv.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
item = "u8"
samples_per_block = 1023
[blocks.conv]
type = "scan_to_cf32"
{format_line}
scale = 1.0
{}"#,
        crate::support::head_to_file("cf32", scans, out)
    )
}

#[test]
fn scan_to_cf32_reads_dmabuf_blocks_in_the_devices_format() {
    // The simulated ADC's ramp: the n-th 16-bit word is n mod 2^16 (little endian), so scan k
    // is I = 2k, Q = 2k + 1 as i16, wrapping into the negative half past 2^15.
    let scans = 40_000usize;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("scans.cf32");
    let text = flowgraph("# format: the device's", scans, &out);
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(&text, "scan.toml", &registry).expect("loads");
    let report = spec.build(&registry).expect("builds").run().expect("runs");
    assert_eq!(report.block("sink").expect("sink").items_in, scans as u64);
    assert_eq!(
        report
            .block("conv")
            .expect("conv")
            .notes
            .iter()
            .find(|(k, _)| *k == "scan_bytes")
            .map(|(_, v)| v.as_str()),
        Some("4")
    );

    let bytes = std::fs::read(&out).expect("output");
    assert_eq!(bytes.len(), scans * 8);
    for (k, y) in bytes.chunks_exact(8).enumerate() {
        let re = f32::from_le_bytes([y[0], y[1], y[2], y[3]]);
        let im = f32::from_le_bytes([y[4], y[5], y[6], y[7]]);
        let word = |n: usize| (n % 65536) as u16 as i16 as f32;
        assert_eq!((re, im), (word(2 * k), word(2 * k + 1)), "scan {k}");
    }
}

#[test]
fn a_format_the_simulator_does_not_have_is_refused_at_load_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = flowgraph(
        "format = \"be:s24/32>>8\"",
        10,
        &dir.path().join("never.cf32"),
    );
    let e = FlowgraphSpec::parse(&text, "scan.toml", &weir::registry()).expect_err("refused");
    assert_eq!((e.line, e.column, e.block.as_deref()), (9, 1, Some("conv")));
    assert!(e.message.contains("\"be:s24/32>>8\" disagrees"), "{e}");
    assert!(e.message.contains("voltage0 le:s16/16>>0"), "{e}");
}

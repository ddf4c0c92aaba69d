//! weir's own DSP blocks in loaded flowgraphs: `scan_to_cf32` reading raw scan bytes from the
//! DMABUF source by reference, with DMA blocks that end in the middle of a scan.

use weir_core::FlowgraphSpec;
use weir_iio::ScanFormat;

#[test]
fn scan_to_cf32_reads_dmabuf_blocks_ending_mid_scan() {
    // The simulated ADC's ramp: the n-th 16-bit word is n mod 2^16 (little endian). Viewed as
    // raw bytes and decoded as two be:s24/32>>8 channels, a scan is 8 bytes; 1023 samples of
    // 4 bytes per DMA block is 511.5 scans, so every other block ends mid-scan.
    let scans = 40_000usize;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("scans.cf32");
    let text = format!(
        r#"
connections = ["src.out -> conv.in", "conv.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
item = "u8"
samples_per_block = 1023
[blocks.conv]
type = "scan_to_cf32"
format = "be:s24/32>>8"
scale = 1.0
[blocks.head]
type = "head"
items = {scans}
[blocks.sink]
type = "file_sink"
path = "{}"
"#,
        out.display()
    );
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(&text, "scan.toml", &registry).expect("loads");
    let report = spec.build(&registry).expect("builds").run().expect("runs");
    assert_eq!(report.block("sink").expect("sink").items_in, scans as u64);

    let mut ramp = Vec::with_capacity(scans * 8);
    for n in 0..scans * 4 {
        ramp.extend_from_slice(&((n % 65536) as u16).to_le_bytes());
    }
    let f = ScanFormat::parse("be:s24/32>>8").expect("format");
    let bytes = std::fs::read(&out).expect("output");
    assert_eq!(bytes.len(), scans * 8);
    for (k, (y, scan)) in bytes.chunks_exact(8).zip(ramp.chunks_exact(8)).enumerate() {
        let re = f32::from_le_bytes([y[0], y[1], y[2], y[3]]);
        let im = f32::from_le_bytes([y[4], y[5], y[6], y[7]]);
        let (i, q) = (f.decode(&scan[..4]), f.decode(&scan[4..]));
        assert_eq!((re, im), (i as f32, q as f32), "scan {k}");
    }
    // Scan 1 by hand: words 4..7 → bytes 04 00 05 00 | 06 00 07 00; big-endian 0x04000500
    // >> 8 = 0x040005 = 262149, and 0x06000700 >> 8 = 0x060007 = 393223.
    let y = &bytes[8..16];
    assert_eq!(f32::from_le_bytes([y[0], y[1], y[2], y[3]]), 262_149.0);
    assert_eq!(f32::from_le_bytes([y[4], y[5], y[6], y[7]]), 393_223.0);
}

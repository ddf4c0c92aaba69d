//! Zero-copy through the registry: FutureSDR's `fir`, `fft` and `xlating_fir`, built from a TOML
//! flowgraph right after a `dmabuf_source`, read the device's blocks in place, and compute the
//! right output.
//!
//! The factories choose the reader type (`with_reader!`), so a test cannot give the block an
//! address log; weir-core's [`address_probe`] records instead every block the source submits
//! and every slice a by-reference reader hands out. The check is the one `flowgraph/zero_copy_blocks.rs` makes
//! for a block built by hand: the slices the block read lie inside the device's blocks. A
//! control with a `copy` in front shows that the check fails for a copied stream.
//!
//! The capture sinks, `file_sink` and `sigmf_sink`, are checked the same way on what they hand
//! to `write(2)` ([`Access::Written`]): the DMA blocks themselves, and through a `copy` the
//! copy's buffer.
//!
//! The probe is process-wide, so the tests take turns ([`PROBE`]), one flowgraph at a time.
//!
//! The simulated ADC's ramp (16-bit word n = n, wrapping) is viewed as cf32: item m is
//! `re = f32::from_bits(w(4m+1) << 16 | w(4m))`, `im = f32::from_bits(w(4m+3) << 16 | w(4m+2))`.
//! Below word 16256 the high half's exponent field stays under 127: every value is a finite,
//! positive float below 1, so the outputs can be compared with a reference computed here.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futuresdr::runtime::BlockId;
use weir_core::buffer::address_probe::{self, Access, Record};
use weir_core::{BuiltFlowgraph, FlowgraphSpec};

#[path = "support/mod.rs"]
mod support;

use support::processes::cf32s;

/// Held by each test while it uses the process-wide probe.
static PROBE: Mutex<()> = Mutex::new(());

/// Takes [`PROBE`] (held until the guard drops) and turns the probe on.
fn probe_on() -> MutexGuard<'static, ()> {
    let probe = PROBE.lock().unwrap_or_else(|p| p.into_inner());
    address_probe::enable();
    probe
}

/// Taps with distinct values, so that a reversed or shifted window shows.
const TAPS: [f64; 5] = [0.5, 0.25, 0.125, 1.0, -0.5];
/// 256 ramp samples (two 16-bit words each) per DMA block = 128 cf32 items.
const SAMPLES_PER_BLOCK: usize = 256;
const BLOCKS: usize = 4;

/// Item m of the ramp viewed as cf32, in f64.
fn ramp_cf32(m: usize) -> (f64, f64) {
    let w = |n: usize| (n as u16) as u32;
    let f = |lo: usize| f64::from(f32::from_bits((w(lo + 1) << 16) | w(lo)));
    (f(4 * m), f(4 * m + 2))
}

fn cmul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// `got` equals `want` within `tol` on both parts.
fn assert_close(what: &str, k: usize, got: (f32, f32), want: (f64, f64), tol: f64) {
    let (re, im) = (f64::from(got.0), f64::from(got.1));
    assert!(
        (re - want.0).abs() <= tol + 1e-44 && (im - want.1).abs() <= tol + 1e-44,
        "{what} output {k}: {got:?}, expected {want:?} (tolerance {tol:e})"
    );
}

/// `src: dmabuf_source (cf32) -> {links} -> head -> sink: file_sink`, run with the probe on;
/// returns the records and each block's id by name.
fn run_probed(blocks: &str, links: &[&str], head: usize, out: &Path) -> RunResult {
    let mut chain = vec!["src"];
    chain.extend_from_slice(links);
    chain.extend_from_slice(&["head", "sink"]);
    let connections: Vec<String> = chain
        .windows(2)
        .map(|w| format!("\"{}.out -> {}.in\"", w[0], w[1]))
        .collect();
    let text = format!(
        r#"
connections = [{}]
[blocks.src]
type = "dmabuf_source"
item = "cf32"
samples_per_block = {SAMPLES_PER_BLOCK}
blocks = {BLOCKS}
{blocks}
{}"#,
        connections.join(", "),
        support::head_to_file("cf32", head, out)
    );
    let (built, ids) = build_probed(&text, "probe.toml");
    let report = built.run().expect("flowgraph runs");
    assert_eq!(
        report.block("src").and_then(|b| b.counter("bytes_copied")),
        Some(0),
        "the simulator copied nothing"
    );
    RunResult {
        records: address_probe::take(),
        ids,
    }
}

/// Builds `text` (`name` in errors) and clears the probe's records of the build: the
/// flowgraph, and each block's id by name.
fn build_probed(text: &str, name: &str) -> (BuiltFlowgraph, HashMap<String, BlockId>) {
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(text, name, &registry).expect("flowgraph loads");
    let built = spec.build(&registry).expect("flowgraph builds");
    let ids = built
        .blocks()
        .iter()
        .map(|b| (b.name.clone(), b.id))
        .collect();
    address_probe::take();
    (built, ids)
}

struct RunResult {
    records: Vec<Record>,
    ids: HashMap<String, BlockId>,
}

/// The slices `reader` read, split into those inside a block `src` submitted and the others.
struct Reads {
    in_place: Vec<Range<usize>>,
    elsewhere: Vec<Range<usize>>,
}

impl RunResult {
    /// The device's blocks (as `src` submitted them) and where `reader` read; an error when
    /// `reader` read nothing through a by-reference reader, i.e. did not read device memory.
    fn reads(&self, reader: &str) -> Result<Reads, String> {
        self.accesses(reader, Access::Read)
    }

    /// As [`Self::reads`] for the records of `access` by `block`.
    fn accesses(&self, reader: &str, access: Access) -> Result<Reads, String> {
        let (src, reader_id) = (self.ids["src"], self.ids[reader]);
        let mut device: Vec<Range<usize>> = self
            .records
            .iter()
            .filter(|r| r.block == src && r.access == Access::Submitted)
            .map(|r| r.bytes.clone())
            .collect();
        device.sort_by_key(|r| r.start);
        device.dedup();
        // The same few DMA blocks, lent again and again: the device's memory.
        assert_eq!(device.len(), BLOCKS, "distinct device blocks: {device:x?}");
        for b in &device {
            assert_eq!(b.len(), SAMPLES_PER_BLOCK * 4);
        }
        let (in_place, elsewhere): (Vec<_>, Vec<_>) = self
            .records
            .iter()
            .filter(|r| r.block == reader_id && r.access == access)
            .map(|r| r.bytes.clone())
            .partition(|r| device.iter().any(|b| b.start <= r.start && r.end <= b.end));
        if in_place.is_empty() {
            return Err(format!(
                "`{reader}` {access:?}: no device memory ({} slices elsewhere)",
                elsewhere.len()
            ));
        }
        Ok(Reads {
            in_place,
            elsewhere,
        })
    }
}

fn taps_toml() -> String {
    let t: Vec<String> = TAPS.iter().map(|t| t.to_string()).collect();
    format!("taps = [{}]", t.join(", "))
}

#[test]
fn registry_built_fir_fft_and_xlating_fir_read_device_blocks_in_place() {
    let _probe = probe_on();
    let dir = tempfile::tempdir().expect("tempdir");

    // --- fir: in place but for the seams at block ends (fewer than `taps` items left).
    let out = dir.path().join("fir.cf32");
    let n_out = 3000;
    let run = run_probed(
        &format!("[blocks.f]\ntype = \"fir\"\n{}", taps_toml()),
        &["f"],
        n_out,
        &out,
    );
    let reads = run.reads("f").expect("the FIR reads device memory");
    let seam_max = (2 * TAPS.len() - 1) * 8;
    assert!(
        !reads.elsewhere.is_empty(),
        "128-item blocks and 5 taps: every block end is a seam"
    );
    for r in &reads.elsewhere {
        assert!(r.len() <= seam_max, "a {}-byte slice not in place", r.len());
    }
    let in_place: usize = reads.in_place.iter().map(|r| r.len()).sum();
    assert!(
        in_place >= (n_out + TAPS.len() - 1) * 8 - reads.elsewhere.len() * seam_max,
        "{in_place} bytes read in place"
    );
    let y = cf32s(&out);
    assert_eq!(y.len(), n_out);
    for (k, &got) in y.iter().enumerate() {
        // Tap 0 weighs the newest of the window of `taps` items.
        let n = TAPS.len() - 1;
        let (mut want, mut scale) = ((0.0, 0.0), 0.0);
        for (j, h) in TAPS.iter().enumerate() {
            let x = ramp_cf32(k + n - j);
            want = (want.0 + h * x.0, want.1 + h * x.1);
            scale += h.abs() * (x.0.abs() + x.1.abs());
        }
        assert_close("fir", k, got, want, 1e-6 * scale);
    }

    // Control: through a copy, the FIR reads a circular buffer and the check fails, while
    // the copy (first after the source) reads in place. 1000 outputs need 8 DMA blocks, so
    // every one of the 4 was lent at least once, as `reads` checks.
    let run = run_probed(
        &format!(
            "[blocks.c]\ntype = \"copy\"\nitem = \"cf32\"\n[blocks.f]\ntype = \"fir\"\n{}",
            taps_toml()
        ),
        &["c", "f"],
        1000,
        &out,
    );
    let e = run.reads("f").err().expect("control: copied stream");
    assert!(e.contains("no device memory"), "{e}");
    let copy = run.reads("c").expect("the copy reads in place");
    assert!(copy.elsewhere.is_empty(), "{:x?}", copy.elsewhere);

    // --- fft: 64-point frames, two per 128-item block: every slice in place.
    let len = 64;
    let frames = 40;
    let out = dir.path().join("fft.cf32");
    let run = run_probed(
        &format!("[blocks.t]\ntype = \"fft\"\nlen = {len}"),
        &["t"],
        len * frames,
        &out,
    );
    let reads = run.reads("t").expect("the FFT reads device memory");
    assert!(reads.elsewhere.is_empty(), "{:x?}", reads.elsewhere);
    let y = cf32s(&out);
    assert_eq!(y.len(), len * frames);
    for f in 0..frames {
        let x: Vec<(f64, f64)> = (0..len).map(|n| ramp_cf32(f * len + n)).collect();
        let scale: f64 = x.iter().map(|v| v.0.abs() + v.1.abs()).sum();
        for k in 0..len {
            let mut want = (0.0, 0.0);
            for (n, &v) in x.iter().enumerate() {
                let a = -std::f64::consts::TAU * (k * n) as f64 / len as f64;
                let p = cmul(v, (a.cos(), a.sin()));
                want = (want.0 + p.0, want.1 + p.1);
            }
            assert_close("fft", f * len + k, y[f * len + k], want, 1e-5 * scale);
        }
    }

    // --- xlating_fir: shift 1 kHz at 8 kHz to 0, decimate by 2.
    let out = dir.path().join("xlating.cf32");
    let n_out = 1400;
    let (fc, fs, d) = (1000.0, 8000.0, 2);
    let run = run_probed(
        &format!(
            "[blocks.x]\ntype = \"xlating_fir\"\ncenter_frequency = {fc}\nsample_rate = {fs}\n\
             decimation = {d}\n{}",
            taps_toml()
        ),
        &["x"],
        n_out,
        &out,
    );
    let reads = run.reads("x").expect("the xlating FIR reads device memory");
    for r in &reads.elsewhere {
        assert!(r.len() <= seam_max, "a {}-byte slice not in place", r.len());
    }
    let y = cf32s(&out);
    assert_eq!(y.len(), n_out);
    let w = std::f64::consts::TAU * fc / fs;
    let n = TAPS.len() - 1;
    for (m, &got) in y.iter().enumerate() {
        // Band-pass taps h_i e^{jwi}, tap 0 on the newest input of the window ending at
        // m·d + d − 1 + n (futuredsp's decimating filter starts at input d − 1), then the
        // output rotated back by e^{-jwd(m+1)} (FutureSDR's rotator steps, then multiplies).
        let (mut acc, mut scale) = ((0.0, 0.0), 0.0);
        for (i, h) in TAPS.iter().enumerate() {
            let x = ramp_cf32(m * d + d - 1 + n - i);
            let p = cmul(x, (h * (w * i as f64).cos(), h * (w * i as f64).sin()));
            acc = (acc.0 + p.0, acc.1 + p.1);
            scale += h.abs() * (x.0.abs() + x.1.abs());
        }
        let r = -w * (d * (m + 1)) as f64;
        assert_close(
            "xlating_fir",
            m,
            got,
            cmul(acc, (r.cos(), r.sin())),
            1e-4 * scale,
        );
    }
}

/// Builds `text`, runs it with the probe on, and returns the records, the ids and the report.
/// `stop_after`: stop the run once `sink` has taken that many items (the flowgraph would
/// otherwise run on); `None`: it ends by itself.
fn run_capture(text: &str, stop_after: Option<u64>) -> (RunResult, weir_core::RunReport) {
    let (built, ids) = build_probed(text, "capture.toml");
    let mut running = built.start().expect("flowgraph starts");
    let report = match stop_after {
        None => running.wait().expect("flowgraph runs"),
        Some(n) => {
            // A guard against a hang, not a timing expectation.
            let deadline = Instant::now() + Duration::from_secs(120);
            while running.stats().block("sink").map_or(0, |b| b.items()) < n {
                assert!(Instant::now() < deadline, "the sink never took {n} items");
                assert!(
                    running
                        .wait_timeout(Duration::from_millis(20))
                        .expect("runs")
                        .is_none(),
                    "the flowgraph ended by itself"
                );
            }
            running.stop().expect("stop");
            running.wait().expect("flowgraph stops")
        }
    };
    let run = RunResult {
        records: address_probe::take(),
        ids,
    };
    (run, report)
}

/// The bytes `sink` handed to `write(2)`, in all.
fn written_bytes(run: &RunResult, sink: &str) -> usize {
    let id = run.ids[sink];
    run.records
        .iter()
        .filter(|r| r.block == id && r.access == Access::Written)
        .map(|r| r.bytes.len())
        .sum()
}

/// Every slice `sink` wrote is one its by-reference reader handed it, from its start: nothing
/// was gathered or copied between the reader and `write(2)`. Returns the bytes written.
fn written_as_read(run: &RunResult, sink: &str) -> usize {
    let id = run.ids[sink];
    let of = |access| -> Vec<Range<usize>> {
        run.records
            .iter()
            .filter(|r| r.block == id && r.access == access)
            .map(|r| r.bytes.clone())
            .collect()
    };
    let (read, written) = (of(Access::Read), of(Access::Written));
    for w in &written {
        assert!(
            read.iter().any(|r| r.start == w.start && w.end <= r.end),
            "`{sink}` wrote {w:x?}, which it was not handed"
        );
    }
    written.iter().map(|w| w.len()).sum()
}

/// Samples per DMA block of the capture runs (the size `reads` checks).
const CAPTURE_BLOCK: usize = SAMPLES_PER_BLOCK;

fn capture_source() -> String {
    format!(
        "[blocks.src]\ntype = \"dmabuf_source\"\nitem = \"ci16\"\nsamples_per_block = \
         {CAPTURE_BLOCK}\nblocks = {BLOCKS}\n"
    )
}

/// The capture source feeding `sink`, a `file_sink` writing to `out`, directly or `behind_copy`
/// (through `c`, a `copy`), run with the probe on and stopped after 20 DMA blocks (as `weir run
/// --duration` would stop it).
fn capture_to_file(out: &Path, behind_copy: bool) -> (RunResult, weir_core::RunReport) {
    let (connections, copy) = if behind_copy {
        (
            r#"["src.out -> c.in", "c.out -> sink.in"]"#,
            "[blocks.c]\ntype = \"copy\"\nitem = \"ci16\"\n",
        )
    } else {
        (r#"["src.out -> sink.in"]"#, "")
    };
    let text = format!(
        "connections = {connections}\n{}{copy}[blocks.sink]\ntype = \"file_sink\"\n\
         item = \"ci16\"\npath = \"{}\"\n",
        capture_source(),
        out.display()
    );
    run_capture(&text, Some(20 * CAPTURE_BLOCK as u64))
}

/// `file_sink` and `sigmf_sink` fed by `dmabuf_source` hand the DMA blocks themselves to
/// `write(2)`, and the files hold the simulator's ramp exactly; behind a `copy`, the same check
/// finds the copy's buffer instead (the control).
#[test]
fn capture_sinks_write_the_device_blocks_in_place() {
    let _probe = probe_on();
    let dir = tempfile::tempdir().expect("tempdir");

    // --- file_sink straight from the source, stopped as `weir run --duration` would stop it.
    let out = dir.path().join("direct.ci16");
    let (run, report) = capture_to_file(&out, false);
    let sink = run
        .accesses("sink", Access::Written)
        .expect("file_sink writes device memory");
    assert!(sink.elsewhere.is_empty(), "{:x?}", sink.elsewhere);
    let bytes = written_as_read(&run, "sink");
    let data = std::fs::read(&out).expect("output");
    let items = report.block("sink").expect("sink").items() as usize;
    assert_eq!(data.len(), items * 4, "every item counted is in the file");
    assert_eq!(bytes, data.len(), "and came from the probed writes");
    assert_eq!(data, support::ramp_bytes(items as u64), "the ramp, exactly");

    // Control: behind a copy, the sink writes the copy's buffer, never device memory.
    let out = dir.path().join("copied.ci16");
    let (run, report) = capture_to_file(&out, true);
    let e = run
        .accesses("sink", Access::Written)
        .err()
        .expect("control: copied stream");
    assert!(e.contains("no device memory"), "{e}");
    // (A circular buffer's reader records nothing, so only the sum can be compared.)
    let bytes = written_bytes(&run, "sink");
    let items = report.block("sink").expect("sink").items() as usize;
    assert_eq!(bytes, items * 4);
    assert_eq!(
        std::fs::read(&out).expect("output"),
        support::ramp_bytes(items as u64)
    );

    // --- sigmf_sink ending the stream itself after 10.5 blocks: the last write is half a DMA
    // block, still in place.
    let base = dir.path().join("rec");
    let items = 21 * CAPTURE_BLOCK / 2;
    let text = format!(
        "connections = [\"src.out -> sink.in\"]\n{}[blocks.sink]\ntype = \"sigmf_sink\"\n\
         item = \"ci16\"\nitems = {items}\npath = \"{}\"\n",
        capture_source(),
        base.display()
    );
    let (run, report) = run_capture(&text, None);
    let sink = run
        .accesses("sink", Access::Written)
        .expect("sigmf_sink writes device memory");
    assert!(sink.elsewhere.is_empty(), "{:x?}", sink.elsewhere);
    assert_eq!(written_as_read(&run, "sink"), items * 4);
    assert_eq!(report.block("sink").expect("sink").items() as usize, items);
    assert_eq!(
        std::fs::read(dir.path().join("rec.sigmf-data")).expect("data"),
        support::ramp_bytes(items as u64)
    );
}

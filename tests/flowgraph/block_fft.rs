//! `fft`: every whole frame is transformed before the block ends, each identical sample for
//! sample to rustfft's out-of-place transform (the computation FutureSDR's `Fft` makes), and a
//! trailing partial frame is counted in the run report.

use num_complex::Complex32;
use rustfft::FftPlanner;

/// Deterministic, irregular test values (no two frames alike).
fn values(n: usize) -> Vec<Complex32> {
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x as f32 / u32::MAX as f32) * 2.0 - 1.0
    };
    (0..n).map(|_| Complex32::new(next(), next())).collect()
}

fn cf32_bytes(x: &[Complex32]) -> Vec<u8> {
    x.iter()
        .flat_map(|c| c.re.to_le_bytes().into_iter().chain(c.im.to_le_bytes()))
        .collect()
}

fn cf32s(bytes: &[u8]) -> Vec<Complex32> {
    bytes
        .chunks_exact(8)
        .map(|b| {
            Complex32::new(
                f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                f32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            )
        })
        .collect()
}

/// What the block must compute for one frame, written out with rustfft directly.
fn reference(
    frame: &[Complex32],
    inverse: bool,
    shift: bool,
    normalize: Option<f32>,
) -> Vec<Complex32> {
    let len = frame.len();
    let mut planner = FftPlanner::<f32>::new();
    let plan = if inverse {
        planner.plan_fft_inverse(len)
    } else {
        planner.plan_fft_forward(len)
    };
    let mut input: Vec<Complex32> = if inverse && shift {
        (0..len).map(|k| frame[(k + len / 2) % len]).collect()
    } else {
        frame.to_vec()
    };
    let mut out = vec![Complex32::default(); len];
    let mut scratch = vec![Complex32::default(); plan.get_outofplace_scratch_len()];
    plan.process_outofplace_with_scratch(&mut input, &mut out, &mut scratch);
    if !inverse && shift {
        out = (0..len).map(|k| out[(k + len / 2) % len]).collect();
    }
    if let Some(f) = normalize {
        for v in &mut out {
            *v *= f;
        }
    }
    out
}

/// `file_source` (`frames` frames of `len` + `partial` items) -> fft -> `file_sink`; checks
/// every output sample bit for bit and the partial frame in the report.
fn check(
    len: usize,
    frames: usize,
    partial: usize,
    params: &str,
    inverse: bool,
    shift: bool,
    normalize: Option<f32>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.cf32");
    let output = dir.path().join("out.cf32");
    let x = values(len * frames + partial);
    std::fs::write(&input, cf32_bytes(&x)).expect("write input");
    let report = crate::support::run(
        "fft.toml",
        &format!(
            r#"
connections = ["src.out -> t.in", "t.out -> sink.in"]
[blocks.src]
type = "file_source"
path = "{}"
[blocks.t]
type = "fft"
len = {len}
{params}
[blocks.sink]
type = "file_sink"
item = "cf32"
path = "{}"
"#,
            input.display(),
            output.display()
        ),
    );
    let y = cf32s(&std::fs::read(&output).expect("output"));
    assert_eq!(
        y.len(),
        len * frames,
        "every whole frame, and nothing else, is written"
    );
    for f in 0..frames {
        let want = reference(&x[f * len..(f + 1) * len], inverse, shift, normalize);
        for k in 0..len {
            assert_eq!(
                (y[f * len + k].re.to_bits(), y[f * len + k].im.to_bits()),
                (want[k].re.to_bits(), want[k].im.to_bits()),
                "frame {f} sample {k}: {} vs rustfft's {}",
                y[f * len + k],
                want[k]
            );
        }
    }
    let t = report.block("t").expect("fft in the report");
    assert_eq!(t.items_in, (len * frames) as u64);
    assert_eq!(t.items_out, (len * frames) as u64);
    let texts = t.counter_texts();
    if partial > 0 {
        assert_eq!(
            t.counter("partial_frame_items"),
            Some(partial as u64),
            "{report}"
        );
        assert!(
            texts.contains(&format!("partial_frame_items={partial} (exact)")),
            "{texts:?}"
        );
        assert!(
            report
                .to_string()
                .contains(&format!("partial_frame_items={partial} (exact)")),
            "{report}"
        );
    } else {
        assert_eq!(t.counter("partial_frame_items"), None, "{report}");
    }
}

#[test]
fn every_whole_frame_of_a_stream_is_transformed_and_a_partial_one_is_counted() {
    // The issue's case: 524 288 bytes of cf32 are 64 frames of 1024 (FutureSDR's Fft wrote
    // 32 of them and ended), here followed by 100 items of a 65th frame.
    check(1024, 64, 100, "", false, false, None);
    // Exactly whole frames: nothing is reported lost.
    check(1024, 64, 0, "", false, false, None);
}

#[test]
fn shift_inverse_and_normalize_match_rustfft_sample_for_sample() {
    check(8, 300, 5, "shift = true", false, true, None);
    check(
        8,
        300,
        7,
        "direction = \"inverse\"\nshift = true\nnormalize = 0.125",
        true,
        true,
        Some(0.125),
    );
    // An odd length: the shift's half is rounded down, as FutureSDR's.
    check(5, 41, 1, "shift = true", false, true, None);
}

//! `spectrum`: tones land in their bins at the right level, and serial and parallel
//! computation give bit-identical output.

use std::f64::consts::TAU;
use std::sync::Arc;

use futuresdr::runtime::dev::{DefaultCpuReader, DefaultCpuWriter};
use weir_core::sync_block::PARTIAL_FRAME_ITEMS;
use weir_core::{BlockStats, Cf32, ItemType, Value};
use weir_plugin_dsp::spectrum::{FLOOR_DB, SpectrumFrames, SpectrumKernel};
use weir_plugin_dsp::{Spectrum, spectrum};

use crate::support::{assert_in_out, param_names};

/// A complex tone of amplitude `a` at `bin` cycles per `len` samples, `n` samples long.
fn tone(a: f64, bin: f64, len: usize, n: usize) -> Vec<Cf32> {
    (0..n)
        .map(|k| {
            let (s, c) = (TAU * bin * k as f64 / len as f64).sin_cos();
            Cf32::new((a * c) as f32, (a * s) as f32)
        })
        .collect()
}

fn run_block(input: Vec<Cf32>, len: usize, shift: bool, parallel: bool) -> Vec<f32> {
    run_counted(input, len, shift, parallel).0
}

/// [`run_block`], with the block's statistics.
fn run_counted(
    input: Vec<Cf32>,
    len: usize,
    shift: bool,
    parallel: bool,
) -> (Vec<f32>, Arc<BlockStats>) {
    let stats = Arc::new(BlockStats::default());
    let y = weir_core::testing::run_through(
        input,
        Spectrum::<DefaultCpuReader<Cf32>, DefaultCpuWriter<f32>>::new(
            SpectrumFrames::new(len, shift, parallel),
            stats.clone(),
        ),
        |b| b.input(),
        |b| b.output(),
    );
    (y, stats)
}

#[test]
fn a_tone_reads_its_level_in_its_bin() {
    let len = 64;
    // Amplitude 0.5 on bin 5: |X[5]|² / len² = 0.25 → -6.0206 dB; the other bins are at the
    // FFT's rounding noise, far below.
    let x = tone(0.5, 5.0, len, len * 10 + 17); // a partial frame at the end is left over
    for shift in [false, true] {
        let y = run_block(x.clone(), len, shift, false);
        assert_eq!(y.len(), len * 10);
        let bin = if shift { 5 + len / 2 } else { 5 };
        for (f, frame) in y.chunks_exact(len).enumerate() {
            assert!(
                (frame[bin] - (-6.0206)).abs() < 1e-3,
                "frame {f}: {}",
                frame[bin]
            );
            for (k, p) in frame.iter().enumerate().filter(|(k, _)| *k != bin) {
                assert!(*p < -100.0, "frame {f} bin {k}: {p}");
            }
        }
    }
    // Silence reads the floor.
    let y = run_block(vec![Cf32::default(); len], len, false, false);
    assert!(y.iter().all(|p| *p == FLOOR_DB));
}

#[test]
fn a_trailing_partial_frame_is_counted_exactly_and_whole_frames_leave_no_count() {
    let len = 64;
    for (partial, counted) in [(17, Some(17)), (len - 1, Some(len as u64 - 1)), (0, None)] {
        let (y, stats) = run_counted(tone(0.5, 5.0, len, len * 3 + partial), len, false, false);
        assert_eq!(
            y.len(),
            len * 3,
            "the whole frames, and only they, come out"
        );
        assert_eq!(
            stats.counter(PARTIAL_FRAME_ITEMS),
            counted,
            "{partial} left"
        );
        let labels = stats.counter_labels();
        let (_, label) = labels
            .iter()
            .find(|(name, _)| *name == PARTIAL_FRAME_ITEMS)
            .expect("the counter is labelled");
        assert!(!label.approximate);
        assert_eq!(label.evidence.as_deref(), Some("exact"));
    }
}

#[test]
fn parallel_equals_serial_bit_for_bit() {
    // 1 MiB of noise-like samples (128 frames of 1024) through the kernel both ways.
    let len = 1024;
    let n = 1 << 17;
    let mut state = 0x1234_5678u32;
    let x: Vec<Cf32> = (0..n)
        .map(|_| {
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 - 0.5
            };
            Cf32::new(next(), next())
        })
        .collect();
    let kernel = SpectrumKernel::new(len, true);
    let mut serial = vec![0f32; n];
    let mut parallel = vec![0f32; n];
    kernel.process(&x, &mut serial, n / len, false);
    kernel.process(&x, &mut parallel, n / len, true);
    assert!(
        serial
            .iter()
            .zip(&parallel)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    // And through the block in a flowgraph (the chunks the runtime hands over vary).
    assert_eq!(run_block(x.clone(), len, true, true), serial);
    assert_eq!(run_block(x, len, true, false), serial);
}

#[test]
fn self_description() {
    let d = spectrum::descriptor();
    assert_eq!(param_names(&d), ["len", "shift", "parallel"]);
    assert_eq!(d.params[0].default, None);
    assert_eq!(d.params[0].min, Some(1.0));
    assert_eq!(d.params[1].default, Some(Value::Bool(false)));
    assert_eq!(d.params[2].default, Some(Value::Bool(false)));
    let p = d.resolve([("len", Value::Int(256))]).expect("resolves");
    let ports = (d.ports)(&p).expect("ports");
    assert_in_out(&ports, ItemType::Cf32, ItemType::F32);
    assert_eq!(ports.inputs[0].min_items, 256);
    let e = d
        .resolve([("len", Value::Int(0))])
        .expect_err("empty frames");
    assert!(e.to_string().contains("len"), "{e}");
}

//! `cargo bench --bench dsp`: the `spectrum` block's kernel on one 1 MiB input chunk (131 072
//! cf32, what a 1 MiB DMA block holds), frames computed serially vs. on rayon's pool.
//!
//! The question is whether `parallel = true` pays: frames are independent, but rayon's
//! fork/join costs something per chunk, and on a small machine the other blocks of the
//! flowgraph want the same cores.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use num_complex::Complex;
use weir_plugin_dsp::SpectrumKernel;

const CHUNK_BYTES: usize = 1 << 20;
const SAMPLES: usize = CHUNK_BYTES / 8;

fn input() -> Vec<Complex<f32>> {
    // Deterministic noise-like samples (xorshift).
    let mut state = 0x9E37_79B9u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    };
    (0..SAMPLES).map(|_| Complex::new(next(), next())).collect()
}

fn spectrum(c: &mut Criterion) {
    let x = input();
    let mut y = vec![0f32; SAMPLES];
    let mut g = c.benchmark_group("spectrum_1MiB");
    g.throughput(Throughput::Bytes(CHUNK_BYTES as u64));
    g.measurement_time(Duration::from_secs(3));
    g.sample_size(30);
    for len in [256usize, 1024, 8192] {
        let kernel = SpectrumKernel::new(len, true);
        let frames = SAMPLES / len;
        for (name, parallel) in [("serial", false), ("parallel", true)] {
            g.bench_with_input(BenchmarkId::new(name, len), &parallel, |b, &parallel| {
                b.iter(|| kernel.process(&x, &mut y, frames, parallel))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, spectrum);
criterion_main!(benches);

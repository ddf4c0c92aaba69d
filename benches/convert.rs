//! `cargo bench --profile dev --bench convert`: the converters' sample loops
//! (`weir_plugin_dsp::sample_convert`, the scan decoders) against the per-sample code they
//! replaced (the `*_scalar` references, bit-identical, see their tests) and against a memcpy
//! of the same input on one core, the memory-speed limit.
//!
//! Two working sets: 64 KiB of input (in L2, as a 64 KiB DMA block) and 1 MiB (the largest
//! blocks the sweep's best rates come from). Throughput is input bytes per second.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use weir_core::{Cf32, Ci16};
use weir_iio::ScanFormat;
use weir_plugin_dsp::sample_convert::{
    cf32_to_ci16, cf32_to_ci16_scalar, ci16_to_cf32, ci16_to_cf32_scalar, scale_cf32,
    scale_cf32_scalar,
};
use weir_plugin_dsp::scan::{
    ElementDecoder, scans_to_cf32, scans_to_cf32_scalar, scans_to_f32, scans_to_f32_scalar,
};

const KIB: usize = 1024;
const SIZES: [usize; 2] = [64 * KIB, 1024 * KIB];

fn noise(n: usize) -> impl Iterator<Item = u32> {
    let mut state = 0x9E37_79B9u32;
    (0..n).map(move |_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    })
}

fn convert(c: &mut Criterion) {
    let mut g = c.benchmark_group("convert");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    g.sample_size(20);
    for bytes in SIZES {
        let id = format!("{}KiB", bytes / KIB);
        g.throughput(Throughput::Bytes(bytes as u64));

        let raw: Vec<u8> = noise(bytes / 4).flat_map(u32::to_le_bytes).collect();
        let mut copy = vec![0u8; bytes];
        g.bench_function(BenchmarkId::new("memcpy", &id), |b| {
            b.iter(|| copy.copy_from_slice(std::hint::black_box(&raw)))
        });

        let ci16: Vec<Ci16> = bytemuck::cast_slice::<u8, i16>(&raw)
            .chunks_exact(2)
            .map(|p| Ci16::new(p[0], p[1]))
            .collect();
        let mut cf32 = vec![Cf32::new(0.0, 0.0); ci16.len()];
        let scale = 1.0 / 32768.0;
        g.bench_function(BenchmarkId::new("ci16_to_cf32", &id), |b| {
            b.iter(|| ci16_to_cf32(std::hint::black_box(&ci16), &mut cf32, scale))
        });
        g.bench_function(BenchmarkId::new("ci16_to_cf32_scalar", &id), |b| {
            b.iter(|| ci16_to_cf32_scalar(std::hint::black_box(&ci16), &mut cf32, scale))
        });

        let le12 = ScanFormat::parse("le:s12/16>>4").unwrap();
        let elements = [
            ElementDecoder {
                offset: 0,
                format: le12,
                scale: 1.0 / 2048.0,
            },
            ElementDecoder {
                offset: 2,
                format: le12,
                scale: 1.0 / 2048.0,
            },
        ];
        g.bench_function(BenchmarkId::new("scan_to_cf32_le_s12", &id), |b| {
            b.iter(|| scans_to_cf32(&elements, std::hint::black_box(&raw), 4, &mut cf32))
        });
        g.bench_function(BenchmarkId::new("scan_to_cf32_le_s12_scalar", &id), |b| {
            b.iter(|| scans_to_cf32_scalar(&elements, std::hint::black_box(&raw), 4, &mut cf32))
        });

        // One element of a 2-byte scan (a single 12-bit channel) and of a 4-byte scan (I of
        // an I/Q pair): one float per scan.
        let mut reals = vec![0f32; bytes / 2];
        for (name, sb) in [("scan_to_f32_le_s12_2B", 2), ("scan_to_f32_le_s12_4B", 4)] {
            g.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| scans_to_f32(&elements[..1], std::hint::black_box(&raw), sb, &mut reals))
            });
            g.bench_function(BenchmarkId::new(format!("{name}_scalar"), &id), |b| {
                b.iter(|| {
                    scans_to_f32_scalar(&elements[..1], std::hint::black_box(&raw), sb, &mut reals)
                })
            });
        }

        // cf32 input of the same byte count: half the samples.
        let floats: Vec<Cf32> = noise(bytes / 4)
            .collect::<Vec<_>>()
            .chunks_exact(2)
            .map(|p| {
                Cf32::new(
                    p[0] as f32 / u32::MAX as f32 - 0.5,
                    p[1] as f32 / u32::MAX as f32 - 0.5,
                )
            })
            .collect();
        let mut iq = vec![Ci16::new(0, 0); floats.len()];
        g.bench_function(BenchmarkId::new("cf32_to_ci16", &id), |b| {
            b.iter(|| cf32_to_ci16(std::hint::black_box(&floats), &mut iq, 32767.0))
        });
        g.bench_function(BenchmarkId::new("cf32_to_ci16_scalar", &id), |b| {
            b.iter(|| cf32_to_ci16_scalar(std::hint::black_box(&floats), &mut iq, 32767.0))
        });
        let mut scaled = vec![Cf32::new(0.0, 0.0); floats.len()];
        g.bench_function(BenchmarkId::new("scale_cf32", &id), |b| {
            b.iter(|| scale_cf32(std::hint::black_box(&floats), &mut scaled, 0.5))
        });
        g.bench_function(BenchmarkId::new("scale_cf32_scalar", &id), |b| {
            b.iter(|| scale_cf32_scalar(std::hint::black_box(&floats), &mut scaled, 0.5))
        });
    }
    g.finish();
}

criterion_group!(benches, convert);
criterion_main!(benches);

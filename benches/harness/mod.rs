//! The criterion harness `benches/rx.rs`, `benches/tx.rs` and `benches/capture.rs` share: the
//! sweep's sizes and depths, benchmark ids, the measurement a timing block hands back, and the
//! group of paths timed side by side at every point. One copy, so that RX and TX sweep the
//! same points under the same names and `benches/plot.py` can put them side by side.
//!
//! Each bench binary includes this module and uses only part of it, hence the
//! `allow(dead_code)` on its `mod` line.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;
/// Block sizes of the sweep.
pub const BLOCK_SIZES: [usize; 6] = [4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB];
/// Queue depths (number of DMA blocks) of the sweep.
pub const DEPTHS: [usize; 3] = [2, 4, 8];
/// Handoff benches: tiny blocks, so that the per-block cost dominates.
pub const HANDOFF_BLOCK: usize = 64;
pub const HANDOFF_BLOCKS: u64 = 20_000;
/// The handoff benches' queue depths: the shallowest and the deepest of the sweep.
pub const HANDOFF_DEPTHS: [usize; 2] = [2, 8];

/// "4KiB", "1MiB": the size part of benchmark ids.
pub fn size_name(bytes: usize) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{}MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{}KiB", bytes / KIB)
    } else {
        format!("{bytes}B")
    }
}

/// What a timing block measured: the clock between its start and stop thresholds and the
/// bytes that passed in between.
pub type Measurement = Arc<Mutex<Option<(Duration, u64)>>>;

/// Takes what the timing block measured and scales its time to `nominal` bytes. `who` names
/// the block in the panic if it never finished its measurement.
pub fn scaled(result: &Measurement, nominal: u64, who: &str) -> Duration {
    let (elapsed, bytes) = result
        .lock()
        .expect("result")
        .take()
        .unwrap_or_else(|| panic!("the {who} finished its measurement"));
    elapsed.mul_f64(nominal as f64 / bytes as f64)
}

/// A point of a sweep: (block size, depth), with its id "4KiB_d2".
pub type Point = (String, (usize, usize));

/// Every block size at each of `depths`: the points of a sweep, the depth varying fastest.
pub fn points(sizes: &[usize], depths: &[usize]) -> Vec<Point> {
    sizes
        .iter()
        .flat_map(|&bs| {
            depths
                .iter()
                .map(move |&depth| (format!("{}_d{depth}", size_name(bs)), (bs, depth)))
        })
        .collect()
}

/// A timed path of a group: its name in the benchmark id, and the run that streams the given
/// bytes at a point and returns the measured time.
pub type Path<'a> = (&'a str, &'a dyn Fn((usize, usize), u64) -> Duration);

/// One flat-sampled criterion group `name` of `throughput` per iteration, each iteration
/// `bytes` streamed: at every point, every path in turn (so that drift hits them all alike),
/// each as benchmark `path/point`.
pub fn paths_group(
    c: &mut Criterion,
    name: &str,
    (throughput, bytes): (Throughput, u64),
    points: &[Point],
    paths: &[Path<'_>],
) {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(throughput);
    for (id, point) in points {
        for (path, run) in paths {
            g.bench_function(BenchmarkId::new(*path, id), |b| {
                b.iter_custom(|iters| run(*point, iters * bytes))
            });
        }
    }
    g.finish();
}

/// The handoff groups' throughput and bytes per iteration: [`HANDOFF_BLOCKS`] blocks of
/// [`HANDOFF_BLOCK`] bytes, counted as blocks.
pub const HANDOFF: (Throughput, u64) = (
    Throughput::Elements(HANDOFF_BLOCKS),
    HANDOFF_BLOCKS * HANDOFF_BLOCK as u64,
);

/// The criterion configuration of the streaming benches: ten samples (each a whole
/// flowgraph run), `warm_up` to warm up, two seconds of measurement.
pub fn config(warm_up: Duration) -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(warm_up)
        .measurement_time(Duration::from_secs(2))
}

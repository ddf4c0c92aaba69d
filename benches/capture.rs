//! Capture benchmarks: the sustained write rate of the simulated `dmabuf_source` into
//! `file_sink` and `sigmf_sink` (each DMA block written from its mapped memory), to tmpfs
//! (`/dev/shm`) and to a disk file (`/var/tmp`), with and without `O_DIRECT`, against the
//! device rate (the same source into a `null_sink`) and the machine's single-core read
//! bandwidth (`bandwidth/read_sum` of `benches/rx.rs`, the same kernel over main memory) —
//! all in one run, so that `BENCHMARKS.md` compares ratios of numbers measured side by side.
//!
//! ```sh
//! cargo bench --profile dev --bench capture    # the dev profile, as README's `cargo run`
//! ```
//!
//! The flowgraphs are the ones a user writes, built from TOML by weir's registry; each
//! criterion iteration captures [`CAPTURE_BYTES`] (the sink ends the stream with `items`) into
//! a fresh file, deleted afterwards, and includes building and tearing down the flowgraph.
//! A disk write rate is the page cache's until the kernel starts writing back, and the disk's
//! with `O_DIRECT`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use weir_core::FlowgraphSpec;

#[allow(dead_code)] // shared with the other benches; each uses part of it
mod harness;

const MIB: usize = 1024 * 1024;
/// Bytes captured per iteration: larger than the caches, small enough for a shared disk.
const CAPTURE_BYTES: usize = 256 * MIB;
/// Samples (4-byte ci16) per DMA block: 1 MiB blocks, a multiple of O_DIRECT's 4096 bytes.
const SAMPLES_PER_BLOCK: usize = MIB / 4;
/// The read-bandwidth working set: far larger than any cache (as `rx`'s `DRAM_BYTES`).
const DRAM_BYTES: usize = 256 * MIB;

/// Sums every u64 of `bytes`: `benches/rx.rs`'s read-bandwidth kernel (all of it aligned here).
fn sum_u64(words: &[u64]) -> u64 {
    words.iter().fold(0u64, |a, &w| a.wrapping_add(w))
}

/// `dmabuf_source` (simulated, unlimited rate) → `sink` (its TOML body), run to its end.
fn capture(sink: &str) {
    let text = format!(
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n\
         item = \"ci16\"\nsamples_per_block = {SAMPLES_PER_BLOCK}\nblocks = 4\n\
         [blocks.sink]\n{sink}"
    );
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(&text, "capture.toml", &registry).expect("flowgraph loads");
    let report = spec
        .build(&registry)
        .expect("flowgraph builds")
        .run()
        .expect("flowgraph runs");
    black_box(report);
}

fn sink_toml(kind: &str, path: &Path, o_direct: bool) -> String {
    format!(
        "type = \"{kind}\"\nitem = \"ci16\"\nitems = {}\no_direct = {o_direct}\npath = \"{}\"\n",
        CAPTURE_BYTES / 4,
        path.display()
    )
}

fn capture_rates(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(CAPTURE_BYTES as u64));
    g.bench_function("device_rate/null_sink", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| device_run()).sum())
    });
    for (place, dir) in [("tmpfs", "/dev/shm"), ("disk", "/var/tmp")] {
        let dir = tempfile::tempdir_in(dir).expect("capture directory");
        for (kind, o_direct) in [
            ("file_sink", false),
            ("sigmf_sink", false),
            ("file_sink", true),
            ("sigmf_sink", true),
        ] {
            let name = if o_direct {
                format!("{kind}_o_direct")
            } else {
                kind.to_string()
            };
            let path = dir.path().join("cap");
            let sink = sink_toml(kind, &path, o_direct);
            g.bench_function(BenchmarkId::new(place, name), |b| {
                b.iter(|| {
                    capture(&sink);
                    for f in ["cap", "cap.sigmf-data", "cap.sigmf-meta"] {
                        let _ = std::fs::remove_file(dir.path().join(f));
                    }
                })
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("bandwidth");
    g.throughput(Throughput::Bytes(DRAM_BYTES as u64));
    let src = vec![1u64; DRAM_BYTES / 8];
    g.bench_function(BenchmarkId::new("read_sum", "256MiB"), |b| {
        b.iter(|| sum_u64(black_box(&src[..])))
    });
    g.finish();
}

/// The device rate: the same source and blocks into `null_sink` (which reads them in place
/// and has no item count, so the run is stopped): the time until it has taken the bytes a
/// capture writes, from the flowgraph's start.
fn device_run() -> Duration {
    let text = format!(
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n\
         item = \"ci16\"\nsamples_per_block = {SAMPLES_PER_BLOCK}\nblocks = 4\n\
         [blocks.sink]\ntype = \"null_sink\"\nitem = \"ci16\"\n"
    );
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(&text, "device.toml", &registry).expect("flowgraph loads");
    let built = spec.build(&registry).expect("flowgraph builds");
    let start = Instant::now();
    let mut running = built.start().expect("flowgraph starts");
    let items = (CAPTURE_BYTES / 4) as u64;
    while running.stats().block("sink").map_or(0, |b| b.items()) < items {
        let ended = running
            .wait_timeout(Duration::from_micros(200))
            .expect("runs");
        assert!(ended.is_none(), "the source ended by itself");
    }
    let elapsed = start.elapsed();
    running.stop().expect("stop");
    black_box(running.wait().expect("stops"));
    elapsed
}

criterion_group! {
    name = benches;
    config = harness::config(Duration::from_millis(300));
    targets = capture_rates
}
criterion_main!(benches);

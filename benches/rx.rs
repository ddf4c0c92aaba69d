//! RX benchmarks: the zero-copy DMABUF path against the copying read() path, the per-block
//! handoff cost, FutureSDR's stock pipeline as the framework baseline, and the machine's own
//! single-core read and memcpy bandwidth as the physical limit — all in one run, so that every
//! comparison in `BENCHMARKS.md` is a ratio of numbers measured side by side.
//!
//! ```sh
//! cargo bench --bench rx                    # everything, a few minutes
//! cargo bench --bench rx -- rx_sweep/       # one group (criterion filter)
//! /usr/bin/python3 benches/plot.py          # table + benches/throughput.png from the results
//! ```
//!
//! The simulated device runs at unlimited rate: its producer thread (the "DMA engine") fills
//! each queued block with the ramp pattern as fast as it can, so every number below includes
//! writing the data once (on the producer's core) and reading it once (on the consumer's).
//! `rx_cpu_only` repeats the sweep's flowgraphs on a device that does not write its blocks
//! ([`Pattern::Untouched`]), as a real DMA engine costs no CPU.
//!
//! Streaming numbers exclude set-up: the timing sink ([`Meter`]) starts its clock only after
//! `2 x depth` blocks went through (every block mapped, faulted in and cycled once) and stops
//! it after the measured bytes, so flowgraph construction, thread start and tear-down are not
//! counted. One flowgraph runs per criterion sample, streaming `iters x` the nominal amount.

use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_io::Async;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use futuresdr::runtime::dev::prelude::*;
use futuresdr::runtime::scheduler::SmolScheduler;
use futuresdr::runtime::{Flowgraph, Runtime};
use weir_core::{BlockStats, Cf32, Ci16, MappedBlockReader, runtime};
use weir_iio::sim::{Pattern, SimConfig, SimRx};
use weir_iio::transport::Transport;
use weir_plugin_dsp::{Ci16Scale, IqToComplex};
use weir_plugin_iio::DmabufSource;

#[allow(dead_code)] // shared with the other benches; each uses part of it
mod harness;
use harness::{
    BLOCK_SIZES, DEPTHS, HANDOFF_BLOCK, HANDOFF_DEPTHS, KIB, MIB, Measurement, paths_group, points,
    size_name,
};

/// Bytes streamed per criterion iteration in the sweeps.
const SWEEP_BYTES: u64 = 64 << 20;
/// A buffer far larger than the caches, for main-memory bandwidth.
const DRAM_BYTES: usize = 256 * MIB;
/// Pipeline benches: samples per iteration.
const PIPELINE_SAMPLES: u64 = 16 << 20;

/// Sums every u64 of `bytes` (unaligned head and tail byte by byte): the consumer's work in
/// every benchmark that "reads every byte", and the read-bandwidth kernel. Vectorises.
#[inline]
fn sum_u64(bytes: &[u8]) -> u64 {
    let (head, words, tail) = bytemuck::pod_align_to::<u8, u64>(bytes);
    let edges = head
        .iter()
        .chain(tail)
        .fold(0u64, |a, &b| a.wrapping_add(u64::from(b)));
    words.iter().fold(edges, |a, &w| a.wrapping_add(w))
}

fn sim(block_size: usize, block_count: usize) -> SimRx {
    sim_with(block_size, block_count, Pattern::Ramp)
}

/// [`sim`] with another pattern: [`Pattern::Untouched`] is a DMA engine that costs no CPU.
fn sim_with(block_size: usize, block_count: usize, pattern: Pattern) -> SimRx {
    SimRx::new(SimConfig {
        block_size,
        block_count,
        pattern,
        ..SimConfig::default()
    })
    .expect("simulated device")
}

/// The consumer and timing sink of every flowgraph benchmark.
///
/// With `touch`, it reads every byte of its input (sums it as u64 words, like the bandwidth
/// benchmark); without, it only counts, like a null sink. It starts its clock after `warm`
/// bytes, stops it after `warm + measure` bytes, records the result and ends the flowgraph.
#[derive(Block)]
struct Meter<T, R = DefaultCpuReader<T>>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    #[input]
    input: R,
    touch: bool,
    warm: u64,
    measure: u64,
    seen: u64,
    started: Option<(Instant, u64)>,
    sum: u64,
    result: Measurement,
}

impl<T, R> Meter<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    fn new(touch: bool, warm: u64, measure: u64, result: Measurement) -> Self {
        Self {
            input: R::default(),
            touch,
            warm,
            measure,
            seen: 0,
            started: None,
            sum: 0,
            result,
        }
    }
}

impl<T, R> Kernel for Meter<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let items = self.input.slice();
        let n = items.len();
        let bytes = std::mem::size_of_val(items) as u64;
        if self.touch {
            self.sum = self.sum.wrapping_add(sum_u64(bytemuck::cast_slice(items)));
        }
        self.input.consume(n);
        self.seen += bytes;
        if self.started.is_none() && self.seen >= self.warm {
            self.started = Some((Instant::now(), self.seen));
        }
        if let Some((start, at)) = self.started
            && self.seen - at >= self.measure
        {
            let elapsed = start.elapsed();
            black_box(self.sum);
            *self.result.lock().expect("result") = Some((elapsed, self.seen - at));
            io.finished = true;
        }
        if self.input.finished() {
            io.finished = true;
        }
        Ok(())
    }
}

/// The read()-style copying source: waits for each completed DMA block, copies it into
/// FutureSDR's circular buffer (the same single memcpy `SimRx::read()` does into a user
/// buffer) and requeues it at once. Asynchronous like [`DmabufSource`], so the two differ only
/// in the copy and the buffer.
#[derive(Block)]
struct CopySource<W = DefaultCpuWriter<u64>>
where
    W: CpuBufferWriter<Item = u64>,
{
    #[output]
    output: W,
    sim: SimRx,
    ready: Vec<Arc<Async<OwnedFd>>>,
    next: usize,
}

impl<W> CopySource<W>
where
    W: CpuBufferWriter<Item = u64>,
{
    /// The circular buffer holds two DMA blocks (at least a page): one being copied in while
    /// the consumer reads the other.
    fn new(sim: SimRx) -> Self {
        let mut output = W::default();
        output.set_min_buffer_size_in_items(2 * sim.block_size() / 8);
        Self {
            output,
            sim,
            ready: Vec::new(),
            next: 0,
        }
    }
}

impl<W> Kernel for CopySource<W>
where
    W: CpuBufferWriter<Item = u64>,
{
    async fn init(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        for block in 0..self.sim.block_count() {
            let (fd, _) = self.sim.completion_fd(block);
            self.ready
                .push(Arc::new(Async::new(fd.try_clone_to_owned()?)?));
        }
        self.sim.start()?;
        Ok(())
    }

    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let block_size = self.sim.block_size();
        loop {
            let out = self.output.slice();
            if out.len() * 8 < block_size {
                // The consumer's next consume() wakes us.
                break;
            }
            let Some(bytes) = self.sim.try_complete(self.next)? else {
                let fd = self.ready[self.next].clone();
                io.block_on(async move {
                    let _ = fd.readable().await;
                });
                break;
            };
            let memory = self.sim.block_memory(self.next);
            bytemuck::cast_slice_mut::<u64, u8>(&mut out[..bytes / 8])
                .copy_from_slice(&memory.as_bytes()[..bytes]);
            self.output.produce(bytes / 8);
            self.sim.requeue(self.next, block_size)?;
            self.next = (self.next + 1) % self.sim.block_count();
        }
        Ok(())
    }

    async fn deinit(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        self.ready.clear();
        self.sim.stop()?;
        Ok(())
    }
}

/// Executor threads for the flowgraphs: 0 = `weir_core::runtime()`'s default (one per core).
static EXECUTORS: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with every flowgraph on `n` executor threads.
fn with_executors<R>(n: usize, f: impl FnOnce() -> R) -> R {
    EXECUTORS.store(n, Ordering::Relaxed);
    let r = f();
    EXECUTORS.store(0, Ordering::Relaxed);
    r
}

/// Runs `fg` and returns what its meter measured, scaled to `nominal` bytes.
fn run_measured(fg: Flowgraph, result: &Measurement, nominal: u64) -> Duration {
    match EXECUTORS.load(Ordering::Relaxed) {
        0 => runtime().run(fg),
        n => {
            // As weir_core::runtime() configures it, with `n` executor threads.
            futuresdr::runtime::config::set("ctrlport_enable", false);
            futuresdr::runtime::config::set("log_level", "warn");
            Runtime::with_scheduler(SmolScheduler::new(n, false)).run(fg)
        }
    }
    .expect("flowgraph runs");
    harness::scaled(result, nominal, "meter")
}

/// Zero-copy: DmabufSource -> Meter reading every byte through `MappedBlockReader`.
fn zero_copy_run(block_size: usize, depth: usize, bytes: u64) -> Duration {
    zero_copy_run_with(block_size, depth, bytes, Pattern::Ramp)
}

/// [`zero_copy_run`] on a device with the given pattern.
fn zero_copy_run_with(block_size: usize, depth: usize, bytes: u64, pattern: Pattern) -> Duration {
    let result = Measurement::default();
    let mut fg = Flowgraph::new();
    let src = fg.add(DmabufSource::<u64>::new(
        Box::new(sim_with(block_size, depth, pattern)),
        Arc::new(BlockStats::default()),
    ));
    let warm = (2 * depth * block_size) as u64;
    let sink = fg.add(Meter::<u64, MappedBlockReader<u64>>::new(
        true,
        warm,
        bytes,
        result.clone(),
    ));
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    run_measured(fg, &result, bytes)
}

/// Copying: CopySource -> circular buffer -> Meter reading every byte.
fn copy_run(block_size: usize, depth: usize, bytes: u64) -> Duration {
    copy_run_with(block_size, depth, bytes, Pattern::Ramp)
}

/// [`copy_run`] on a device with the given pattern.
fn copy_run_with(block_size: usize, depth: usize, bytes: u64, pattern: Pattern) -> Duration {
    let result = Measurement::default();
    let mut fg = Flowgraph::new();
    let src = fg.add(CopySource::<DefaultCpuWriter<u64>>::new(sim_with(
        block_size, depth, pattern,
    )));
    let warm = (2 * depth * block_size) as u64;
    let sink = fg.add(Meter::<u64>::new(true, warm, bytes, result.clone()));
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    run_measured(fg, &result, bytes)
}

/// No framework: the transport's block cycle on this thread, summing each block — in place
/// (zero-copy), or with `copy` after `SimRx::read()` copied it into a user buffer.
fn raw_run(block_size: usize, depth: usize, bytes: u64, copy: bool) -> Duration {
    let mut sim = sim(block_size, depth);
    // Only the path's own memory: the mappings for in place, the user buffer for the copy.
    let memory: Vec<_> = if copy {
        Vec::new()
    } else {
        (0..depth).map(|b| sim.block_memory(b)).collect()
    };
    let mut buf = vec![0u64; if copy { block_size / 8 } else { 0 }];
    sim.start().expect("start");
    let blocks = bytes.div_ceil(block_size as u64) as usize;
    let warm = 2 * depth;
    let mut sum = 0u64;
    let mut start = Instant::now();
    for i in 0..warm + blocks {
        if i == warm {
            start = Instant::now();
        }
        let block = if copy {
            let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut buf);
            let n = sim.read(dst).expect("read");
            &dst[..n]
        } else {
            let b = i % depth;
            let n = sim
                .wait_complete(b, Duration::from_secs(10))
                .expect("complete")
                .expect("completed in time");
            &memory[b].as_bytes()[..n]
        };
        sum = sum.wrapping_add(sum_u64(block));
        if !copy {
            sim.requeue(i % depth, block_size).expect("requeue");
        }
    }
    let elapsed = start.elapsed();
    black_box(sum);
    sim.stop().expect("stop");
    elapsed.mul_f64(bytes as f64 / (blocks * block_size) as f64)
}

/// The flowgraph paths, zero-copy and copy, at `points` of the device with `pattern`.
fn rx_flowgraphs(c: &mut Criterion, name: &str, points: &[harness::Point], pattern: Pattern) {
    paths_group(
        c,
        name,
        (Throughput::Bytes(SWEEP_BYTES), SWEEP_BYTES),
        points,
        &[
            ("zero_copy", &|(bs, d), n| {
                zero_copy_run_with(bs, d, n, pattern)
            }),
            ("copy", &|(bs, d), n| copy_run_with(bs, d, n, pattern)),
        ],
    );
}

fn rx_sweep(c: &mut Criterion) {
    rx_flowgraphs(c, "rx_sweep", &points(&BLOCK_SIZES, &DEPTHS), Pattern::Ramp);
}

/// The `rx_sweep` flowgraphs at depth 4 on a device whose DMA engine costs no CPU
/// ([`Pattern::Untouched`]): what the CPU pays on the RX path itself, without the simulated
/// producer writing every byte on the other core.
fn rx_cpu_only(c: &mut Criterion) {
    rx_flowgraphs(
        c,
        "rx_cpu_only",
        &points(&BLOCK_SIZES, &[4]),
        Pattern::Untouched,
    );
}

fn rx_raw(c: &mut Criterion) {
    paths_group(
        c,
        "rx_raw",
        (Throughput::Bytes(SWEEP_BYTES), SWEEP_BYTES),
        &points(&BLOCK_SIZES, &[4]),
        &[
            ("transport_zero_copy", &|(bs, d), n| {
                raw_run(bs, d, n, false)
            }),
            ("sim_read_copy", &|(bs, d), n| raw_run(bs, d, n, true)),
        ],
    );
}

/// The simulator's ramp fill, replicated (its generator is private): what the producer
/// thread does to every byte before the consumer sees it.
fn ramp_fill(out: &mut [u8], start: u64) {
    let mut value = start.wrapping_mul(2) as u16;
    for chunk in out.chunks_exact_mut(4) {
        let word = u32::from(value) | (u32::from(value.wrapping_add(1)) << 16);
        chunk.copy_from_slice(&word.to_le_bytes());
        value = value.wrapping_add(2);
    }
}

fn bandwidth(c: &mut Criterion) {
    let mut g = c.benchmark_group("bandwidth");
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    // The working set of the sweep at depth 4 (block size x 4; all of them fit in this
    // machine's caches), and one far larger than any cache: main memory.
    for ws in BLOCK_SIZES.iter().map(|bs| bs * 4).chain([DRAM_BYTES]) {
        let id = size_name(ws);
        g.throughput(Throughput::Bytes(ws as u64));
        let src = vec![1u64; ws / 8];
        let mut dst = vec![0u64; ws / 8];
        g.bench_function(BenchmarkId::new("read_sum", &id), |b| {
            b.iter(|| sum_u64(bytemuck::cast_slice(black_box(&src[..]))))
        });
        g.bench_function(BenchmarkId::new("memcpy", &id), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src[..]));
                black_box(&mut dst);
            })
        });
        g.bench_function(BenchmarkId::new("ramp_fill", &id), |b| {
            let mut k = 0u64;
            b.iter(|| {
                ramp_fill(bytemuck::cast_slice_mut(&mut dst[..]), k);
                k = k.wrapping_add(ws as u64 / 4);
                black_box(&mut dst);
            })
        });
    }
    g.finish();
}

fn handoff(c: &mut Criterion) {
    paths_group(
        c,
        "handoff",
        harness::HANDOFF,
        &points(&[HANDOFF_BLOCK], &HANDOFF_DEPTHS),
        &[
            ("transport", &|(bs, d), n| raw_run(bs, d, n, false)),
            ("zero_copy", &|(bs, d), n| zero_copy_run(bs, d, n)),
            ("copy", &|(bs, d), n| copy_run(bs, d, n)),
            // Per block, not per byte: the same HANDOFF_BLOCKS per iteration.
            ("accounting", &|(bs, d), n| accounting_run(d, n / bs as u64)),
        ],
    );
}

/// What `dmabuf_source` adds per block for the loss accounting, alone: the clock read at
/// requeue and at completion, the meter's two updates, and the counters it publishes (the
/// clock again, the totals, five named counters). Measured apart because inside the handoff
/// it is a fraction of the run-to-run noise.
fn accounting_run(depth: usize, blocks: u64) -> Duration {
    use weir_iio::loss::{LossMeter, monotonic_ns};
    let stats = weir_core::BlockStats::default();
    let mut meter = LossMeter::input(Some(1e6));
    meter.start(monotonic_ns(), depth, 16);
    let start = std::time::Instant::now();
    for _ in 0..blocks {
        black_box(meter.completed(monotonic_ns()));
        black_box(meter.queued(monotonic_ns(), 16));
        let est = meter.totals_at(monotonic_ns());
        stats.set_counter("starved_us", est.starved_ns / 1000);
        stats.set_counter("est_overruns", est.events);
        stats.set_counter("est_dropped_samples", est.samples);
        stats.set_counter("overruns", est.events);
        stats.set_counter("dropped_samples", est.samples);
    }
    start.elapsed()
}

/// DMA blocks of the pipeline benches: flowgraphs/sim_rx.toml's.
const PIPELINE_BLOCK: usize = 256 * KIB;
const PIPELINE_DEPTH: usize = 4;

/// The sim_rx.toml shape, source -> ci16_to_cf32 -> null sink (the meter without `touch`),
/// with weir's DMABUF source (`weir`) or FutureSDR's stock NullSource and circular buffer.
fn converter_pipeline_run(weir: bool, samples: u64) -> Duration {
    let out_bytes = |samples: u64| samples * std::mem::size_of::<Cf32>() as u64;
    let bytes = out_bytes(samples);
    // Warm up over the same number of samples as 2 x depth DMA blocks.
    let warm = out_bytes((2 * PIPELINE_DEPTH * PIPELINE_BLOCK / 4) as u64);
    let scale = 1.0 / 32768.0;
    let result = Measurement::default();
    let mut fg = Flowgraph::new();
    let (src, conv): (BlockId, BlockId) = if weir {
        let src = fg.add(DmabufSource::<Ci16>::new(
            Box::new(sim(PIPELINE_BLOCK, PIPELINE_DEPTH)),
            Arc::new(BlockStats::default()),
        ));
        let conv = fg.add(IqToComplex::<MappedBlockReader<Ci16>>::new(
            Ci16Scale::new(scale),
            Arc::default(),
        ));
        (src.into(), conv.into())
    } else {
        let src = fg.add(futuresdr::blocks::NullSource::<Ci16>::new());
        let conv = fg.add(IqToComplex::<DefaultCpuReader<Ci16>>::new(
            Ci16Scale::new(scale),
            Arc::default(),
        ));
        (src.into(), conv.into())
    };
    let sink = fg.add(Meter::<Cf32>::new(false, warm, bytes, result.clone()));
    fg.stream_dyn(src, "output", conv, "input")
        .expect("connect");
    fg.stream_dyn(conv, "output", sink, "input")
        .expect("connect");
    run_measured(fg, &result, bytes)
}

/// weir's DMABUF source against FutureSDR's stock NullSource.
fn pipeline(c: &mut Criterion) {
    const BS: usize = PIPELINE_BLOCK;
    const DEPTH: usize = PIPELINE_DEPTH;
    let mut g = c.benchmark_group("pipeline");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(PIPELINE_SAMPLES));

    g.bench_function("weir_dmabuf_source", |b| {
        b.iter_custom(|iters| converter_pipeline_run(true, iters * PIPELINE_SAMPLES))
    });
    g.bench_function("futuresdr_null_source", |b| {
        b.iter_custom(|iters| converter_pipeline_run(false, iters * PIPELINE_SAMPLES))
    });
    // The same two sources with the summing consumer right behind them: source and first
    // buffer only.
    let sum_bytes = PIPELINE_SAMPLES * 4;
    g.throughput(Throughput::Bytes(sum_bytes));
    g.bench_function("sum/weir_dmabuf_source", |b| {
        b.iter_custom(|iters| zero_copy_run(BS, DEPTH, iters * sum_bytes))
    });
    g.bench_function("sum/futuresdr_null_source", |b| {
        b.iter_custom(|iters| {
            let bytes = iters * sum_bytes;
            let result = Measurement::default();
            let mut fg = Flowgraph::new();
            let src = fg.add(futuresdr::blocks::NullSource::<u64>::new());
            let sink = fg.add(Meter::<u64>::new(
                true,
                (2 * DEPTH * BS) as u64,
                bytes,
                result.clone(),
            ));
            fg.stream_dyn(src, "output", sink, "input")
                .expect("connect");
            run_measured(fg, &result, bytes)
        })
    });
    g.finish();
}

/// FutureSDR's default of one executor thread per core against a single executor thread (the
/// simulator's producer thread then has the other core to itself).
fn executors(c: &mut Criterion) {
    let mut g = c.benchmark_group("executors");
    g.sampling_mode(SamplingMode::Flat);
    let bs = PIPELINE_BLOCK;
    let depth = PIPELINE_DEPTH;
    let id = format!("{}_d{depth}", size_name(bs));
    for (name, n) in [("default", 0), ("1_executor", 1)] {
        g.throughput(Throughput::Bytes(SWEEP_BYTES));
        g.bench_function(BenchmarkId::new(format!("zero_copy/{id}"), name), |b| {
            b.iter_custom(|iters| {
                with_executors(n, || zero_copy_run(bs, depth, iters * SWEEP_BYTES))
            })
        });
        g.bench_function(BenchmarkId::new(format!("copy/{id}"), name), |b| {
            b.iter_custom(|iters| with_executors(n, || copy_run(bs, depth, iters * SWEEP_BYTES)))
        });
        g.throughput(Throughput::Elements(PIPELINE_SAMPLES));
        g.bench_function(BenchmarkId::new("pipeline_weir", name), |b| {
            b.iter_custom(|iters| {
                with_executors(n, || converter_pipeline_run(true, iters * PIPELINE_SAMPLES))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = harness::config(Duration::from_millis(500));
    targets = bandwidth, rx_sweep, rx_cpu_only, rx_raw, handoff, pipeline, executors
}
criterion_main!(benches);

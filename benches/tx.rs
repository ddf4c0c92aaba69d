//! TX benchmarks: the zero-copy DMABUF sink (the producer writes straight into device memory
//! through weir-core's `FillBlockWriter`) against the copying sink (the producer writes
//! FutureSDR's circular buffer, the sink copies into the DMA block), the per-block handoff cost,
//! the transport alone, and the single-core cost of what the simulated DAC and the producer do
//! to every byte — all in one run, so that every comparison in `BENCHMARKS.md` is a ratio of
//! numbers measured side by side.
//!
//! ```sh
//! cargo bench --bench tx                    # everything, a few minutes
//! cargo bench --bench tx -- tx_sweep/       # one group (criterion filter)
//! /usr/bin/python3 benches/plot.py          # tables + PNGs from the results
//! ```
//!
//! The simulated DAC (`SimTx`) runs at unlimited rate: its device thread (the "DMA engine")
//! reads every byte of each queued block as fast as it can (a word sum: its FNV-1a checksum,
//! which tests use, runs under 1 GiB/s and is switched off here). So every number below
//! includes **writing every byte once** (the producer, on one core) **and reading it once**
//! (the DAC, on the other), unlike real hardware, whose DMA engine costs no CPU — as RX's
//! simulated producer writes every byte; the `tx_bandwidth` group measures the checksum alone, and
//! `tx_cpu_only` runs both paths into a bench-local DAC that completes every block the moment
//! it is queued and reads nothing ([`InstantDac`]): what the CPU pays on the TX path itself.
//!
//! Streaming numbers exclude set-up: the producer ([`Ramp`]) starts its clock only after
//! `2 x depth` blocks' worth of bytes (every block mapped, faulted in and cycled once, and the
//! queue full) and stops it after the measured bytes, then ends the stream. Back-pressure keeps
//! it at most the queue (plus, in copy mode, the circular buffer) ahead of the DAC, and it is
//! that same distance ahead at both ends of the measurement, so its rate is the DAC's. After
//! each run, outside the timed region, the sink's byte counter is checked against the bytes
//! produced: a path that loses data fails the benchmark instead of looking fast.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futuresdr::runtime::Flowgraph;
use futuresdr::runtime::dev::prelude::*;
use weir_core::{BlockStats, FillBlockWriter, runtime};
use weir_iio::sim::{SimTx, SimTxConfig};
use weir_iio::stream::StreamConfig;
use weir_iio::sys::MappedRegion;
use weir_iio::transport::{Direction, Interest, Transport, TransportCounters, TransportKind};
use weir_plugin_iio::{DmabufFillSink, DmabufSink};

#[allow(dead_code)] // shared with the other benches; each uses part of it
mod harness;
use harness::{
    BLOCK_SIZES, DEPTHS, HANDOFF_BLOCK, HANDOFF_DEPTHS, Measurement, paths_group, points, size_name,
};

/// Bytes streamed per criterion iteration in the sweeps. Smaller than RX's 64 MiB: the copy
/// path can stall in FutureSDR's circular buffer, and the whole run must stay short.
const SWEEP_BYTES: u64 = 32 << 20;
/// How long the sink waits for a completion before failing.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The simulated DAC of every stream through `SimTx`: without its FNV-1a checksum, which runs
/// under 1 GiB/s on one core and would bound every path alike; its device thread still reads
/// every byte (a plain word sum, the DMA engine's memory traffic).
fn sim(block_size: usize, block_count: usize) -> SimTx {
    SimTx::new(SimTxConfig {
        block_size,
        block_count,
        checksum: false,
        ..SimTxConfig::default()
    })
    .expect("simulated DAC")
}

/// Writes the ramp `start, start + 1, ...` into `out`: the producer's work on every byte.
/// Vectorises, so it runs near the core's store bandwidth.
#[inline]
fn ramp(out: &mut [u64], start: u64) {
    for (i, x) in out.iter_mut().enumerate() {
        *x = start.wrapping_add(i as u64);
    }
}

/// A DAC whose DMA engine costs no CPU, as real hardware's does: a queued block completes at
/// once and nobody reads it. Bench-local, so that `tx_cpu_only` measures what the CPU pays on
/// the TX path itself (producer, copy, handoff) without `SimTx`'s checksum thread sharing the
/// two cores. Blocks are memfds mapped like `SimTx`'s; a block's completion is a byte in its
/// socket pair, which the sink's reactor polls like any completion fd.
struct InstantDac {
    stream: StreamConfig,
    cpu: Vec<Option<MappedRegion>>,
    read_only: Vec<Arc<MappedRegion>>,
    /// Per block: (written on queue, polled and read on completion).
    signals: Vec<(UnixStream, UnixStream)>,
    queued: Vec<Option<usize>>,
    counters: TransportCounters,
}

impl InstantDac {
    fn new(block_size: usize, depth: usize) -> Self {
        let mut dac = InstantDac {
            stream: StreamConfig {
                name: "instant-dac".to_string(),
                direction: Direction::Out,
                sample_size: 4,
                block_size,
                block_count: depth,
                bytes_align: 4,
                length: None,
                watermark: None,
            },
            cpu: Vec::new(),
            read_only: Vec::new(),
            signals: Vec::new(),
            queued: vec![None; depth],
            counters: TransportCounters::default(),
        };
        for i in 0..depth {
            let fd = weir_iio::sys::memfd(&format!("instant-dac-{i}"), block_size).expect("memfd");
            dac.cpu.push(Some(
                MappedRegion::map_read_write(fd.as_fd(), block_size).expect("map"),
            ));
            dac.read_only.push(Arc::new(
                MappedRegion::map_read_only(fd.as_fd(), block_size).expect("map"),
            ));
            let (tx, rx) = UnixStream::pair().expect("socket pair");
            rx.set_nonblocking(true).expect("non-blocking");
            dac.signals.push((tx, rx));
        }
        dac
    }

    fn queue(&mut self, block: usize, bytes_used: usize) -> weir_iio::Result<()> {
        assert!(self.queued[block].is_none(), "block {block} queued twice");
        self.queued[block] = Some(bytes_used);
        self.signals[block].0.write_all(&[1]).expect("signal");
        Ok(())
    }
}

impl Transport for InstantDac {
    fn kind(&self) -> TransportKind {
        TransportKind::Simulated
    }
    fn stream(&self) -> &StreamConfig {
        &self.stream
    }
    fn start(&mut self) -> weir_iio::Result<()> {
        Ok(())
    }
    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest) {
        (self.signals[block].1.as_fd(), Interest::Readable)
    }
    fn try_complete(&mut self, block: usize) -> weir_iio::Result<Option<usize>> {
        let Some(bytes) = self.queued[block].take() else {
            return Ok(None);
        };
        let _ = self.signals[block].1.read(&mut [0u8; 1]);
        self.counters.blocks_completed += 1;
        self.counters.bytes_completed += bytes as u64;
        Ok(Some(bytes))
    }
    fn wait_complete(&mut self, block: usize, _: Duration) -> weir_iio::Result<Option<usize>> {
        self.try_complete(block)
    }
    fn block_memory(&self, block: usize) -> Arc<MappedRegion> {
        self.read_only[block].clone()
    }
    fn requeue(&mut self, block: usize, bytes_used: usize) -> weir_iio::Result<()> {
        self.queue(block, bytes_used)
    }
    fn stop(&mut self) -> weir_iio::Result<()> {
        Ok(())
    }
    fn counters(&self) -> TransportCounters {
        self.counters.clone()
    }
    fn lend_block(&mut self, block: usize) -> weir_iio::Result<MappedRegion> {
        Ok(self.cpu[block].take().expect("not lent twice"))
    }
    fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes_used: usize,
    ) -> weir_iio::Result<()> {
        self.cpu[block] = Some(memory);
        self.queue(block, bytes_used)
    }
    fn block_mut(&mut self, block: usize) -> weir_iio::Result<&mut [u8]> {
        Ok(self.cpu[block].as_mut().expect("not lent").as_mut_bytes())
    }
}

/// The producer and timer of every flowgraph benchmark: writes a u64 ramp into every byte of
/// its output (a circular buffer, or the lent DMA block itself through `FillBlockWriter`),
/// starts its clock after `warm` bytes, stops it after `warm + measure` and then ends the
/// stream, like a head block.
#[derive(Block)]
struct Ramp<W>
where
    W: CpuBufferWriter<Item = u64>,
{
    #[output]
    output: W,
    warm: u64,
    measure: u64,
    produced: u64,
    started: Option<(Instant, u64)>,
    result: Measurement,
}

impl<W> Ramp<W>
where
    W: CpuBufferWriter<Item = u64>,
{
    /// `block_size`: the DMA block size. In copy mode the circular buffer holds two blocks
    /// (at least a page), as the copying RX source's does: one being filled while the sink
    /// copies the other; the fill-in-place writer ignores it.
    fn new(block_size: usize, warm: u64, measure: u64, result: Measurement) -> Self {
        let mut output = W::default();
        output.set_min_buffer_size_in_items(2 * block_size / 8);
        Self {
            output,
            warm,
            measure,
            produced: 0,
            started: None,
            result,
        }
    }
}

impl<W> Kernel for Ramp<W>
where
    W: CpuBufferWriter<Item = u64>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let total = self.warm + self.measure;
        loop {
            let out = self.output.slice();
            let left = ((total - self.produced) / 8) as usize;
            let n = out.len().min(left);
            if n == 0 {
                // No room: the sink's consume() (copy) or give_empty() (zero-copy) wakes us.
                break;
            }
            ramp(&mut out[..n], self.produced / 8);
            self.output.produce(n);
            self.produced += n as u64 * 8;
            if self.started.is_none() && self.produced >= self.warm {
                self.started = Some((Instant::now(), self.produced));
            }
            if self.produced >= total {
                let (start, at) = self.started.expect("started before the end");
                *self.result.lock().expect("result") = Some((start.elapsed(), total - at));
                io.finished = true;
                break;
            }
        }
        Ok(())
    }
}

/// Runs `fg`, checks that the DAC received every byte produced, and returns the measured time
/// scaled to `nominal` bytes.
fn run_measured(
    fg: Flowgraph,
    result: &Measurement,
    stats: &BlockStats,
    total: u64,
    nominal: u64,
) -> Duration {
    runtime().run(fg).expect("flowgraph runs");
    // Outside the timed region: a sink that drops or loses data must not look fast.
    assert_eq!(stats.error(), None, "the sink failed");
    assert_eq!(
        stats.counter("bytes"),
        Some(total),
        "the DAC did not receive every byte produced"
    );
    harness::scaled(result, nominal, "producer")
}

/// Bytes before the clock starts: every block cycled twice.
fn warm_bytes(block_size: usize, depth: usize) -> u64 {
    (2 * depth * block_size) as u64
}

/// Which device the sink drains into.
#[derive(Clone, Copy)]
enum Dac {
    /// `SimTx` at unlimited rate: reads every byte on its own thread (no checksum).
    Sim,
    /// [`InstantDac`]: completes each block the moment it is queued, reading nothing.
    Instant,
}

impl Dac {
    fn open(self, block_size: usize, depth: usize) -> Box<dyn Transport> {
        match self {
            Dac::Sim => Box::new(sim(block_size, depth)),
            Dac::Instant => Box::new(InstantDac::new(block_size, depth)),
        }
    }
}

/// Zero-copy: Ramp writing into the lent DMA blocks (FillBlockWriter) -> DmabufFillSink.
fn zero_copy_run(dac: Dac, block_size: usize, depth: usize, bytes: u64) -> Duration {
    let result = Measurement::default();
    let stats = Arc::new(BlockStats::default());
    let warm = warm_bytes(block_size, depth);
    let mut fg = Flowgraph::new();
    let src = fg.add(Ramp::<FillBlockWriter<u64>>::new(
        block_size,
        warm,
        bytes,
        result.clone(),
    ));
    let sink = fg.add(DmabufFillSink::<u64>::new(
        dac.open(block_size, depth),
        TIMEOUT,
        stats.clone(),
    ));
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    run_measured(fg, &result, &stats, warm + bytes, bytes)
}

/// Copying: Ramp -> circular buffer -> DmabufSink (copy mode), which copies into the blocks.
fn copy_run(dac: Dac, block_size: usize, depth: usize, bytes: u64) -> Duration {
    let result = Measurement::default();
    let stats = Arc::new(BlockStats::default());
    let warm = warm_bytes(block_size, depth);
    let mut fg = Flowgraph::new();
    let src = fg.add(Ramp::<DefaultCpuWriter<u64>>::new(
        block_size,
        warm,
        bytes,
        result.clone(),
    ));
    let sink = fg.add(DmabufSink::<u64>::new(
        dac.open(block_size, depth),
        false,
        TIMEOUT,
        stats.clone(),
    ));
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    run_measured(fg, &result, &stats, warm + bytes, bytes)
}

/// No framework: the transport's block cycle on this thread — wait until the block is free,
/// fill it (with `staging`: write a user buffer and copy it in, as write() would; without:
/// write the ramp in place), queue it. The clock stops when the DAC has sent every block.
fn raw_run(block_size: usize, depth: usize, bytes: u64, staging: bool) -> Duration {
    let mut sim = sim(block_size, depth);
    let mut buf = vec![0u64; block_size / 8];
    sim.start().expect("start");
    let blocks = bytes.div_ceil(block_size as u64) as usize;
    let warm = 2 * depth;
    let mut start = Instant::now();
    let mut next = 0u64;
    for i in 0..warm + blocks {
        if i == warm {
            start = Instant::now();
        }
        let b = i % depth;
        if i >= depth {
            sim.wait_complete(b, TIMEOUT)
                .expect("complete")
                .expect("completed in time");
        }
        let memory = sim.block_mut(b).expect("free block");
        if staging {
            ramp(&mut buf, next);
            memory.copy_from_slice(bytemuck::cast_slice(&buf));
        } else {
            ramp(bytemuck::cast_slice_mut(memory), next);
        }
        next += (block_size / 8) as u64;
        sim.requeue(b, block_size).expect("queue");
    }
    for i in warm + blocks - depth.min(warm + blocks)..warm + blocks {
        sim.wait_complete(i % depth, TIMEOUT)
            .expect("complete")
            .expect("completed in time");
    }
    let elapsed = start.elapsed();
    let sent = sim.bytes_consumed();
    sim.stop().expect("stop");
    assert_eq!(sent, ((warm + blocks) * block_size) as u64, "bytes sent");
    elapsed.mul_f64(bytes as f64 / (blocks * block_size) as f64)
}

/// The flowgraph paths, zero-copy and copy, at `points` into `dac`.
fn tx_flowgraphs(c: &mut Criterion, name: &str, points: &[harness::Point], dac: Dac) {
    paths_group(
        c,
        name,
        (Throughput::Bytes(SWEEP_BYTES), SWEEP_BYTES),
        points,
        &[
            ("zero_copy", &|(bs, d), n| zero_copy_run(dac, bs, d, n)),
            ("copy", &|(bs, d), n| copy_run(dac, bs, d, n)),
        ],
    );
}

fn tx_sweep(c: &mut Criterion) {
    tx_flowgraphs(c, "tx_sweep", &points(&BLOCK_SIZES, &DEPTHS), Dac::Sim);
}

/// The sweep's two paths at depth 4 into [`InstantDac`]: the CPU's share of TX alone.
fn tx_cpu_only(c: &mut Criterion) {
    tx_flowgraphs(c, "tx_cpu_only", &points(&BLOCK_SIZES, &[4]), Dac::Instant);
}

fn tx_raw(c: &mut Criterion) {
    paths_group(
        c,
        "tx_raw",
        (Throughput::Bytes(SWEEP_BYTES), SWEEP_BYTES),
        &points(&BLOCK_SIZES, &[4]),
        &[
            ("transport_in_place", &|(bs, d), n| raw_run(bs, d, n, false)),
            ("transport_staged_copy", &|(bs, d), n| {
                raw_run(bs, d, n, true)
            }),
        ],
    );
}

/// Single core, no device: what the DAC does to every byte (`SimTx`'s FNV-1a checksum), what
/// the producer does (the ramp) and what the copy sink adds (memcpy), over a buffer the size
/// of 4 blocks (the depth-4 working set).
fn tx_bandwidth(c: &mut Criterion) {
    let mut g = c.benchmark_group("tx_bandwidth");
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    for ws in BLOCK_SIZES.iter().map(|bs| bs * 4) {
        let id = size_name(ws);
        g.throughput(Throughput::Bytes(ws as u64));
        let src = vec![1u64; ws / 8];
        let mut dst = vec![0u64; ws / 8];
        g.bench_function(BenchmarkId::new("dac_checksum", &id), |b| {
            b.iter(|| SimTx::checksum_of(bytemuck::cast_slice(black_box(&src[..]))))
        });
        g.bench_function(BenchmarkId::new("ramp_fill", &id), |b| {
            let mut k = 0u64;
            b.iter(|| {
                ramp(&mut dst, k);
                k = k.wrapping_add(ws as u64 / 8);
                black_box(&mut dst);
            })
        });
        g.bench_function(BenchmarkId::new("memcpy", &id), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src[..]));
                black_box(&mut dst);
            })
        });
    }
    g.finish();
}

fn tx_handoff(c: &mut Criterion) {
    paths_group(
        c,
        "tx_handoff",
        harness::HANDOFF,
        &points(&[HANDOFF_BLOCK], &HANDOFF_DEPTHS),
        &[
            ("transport", &|(bs, d), n| raw_run(bs, d, n, false)),
            ("zero_copy", &|(bs, d), n| zero_copy_run(Dac::Sim, bs, d, n)),
            ("copy", &|(bs, d), n| copy_run(Dac::Sim, bs, d, n)),
        ],
    );
}

criterion_group! {
    name = benches;
    config = harness::config(Duration::from_millis(500));
    targets = tx_bandwidth, tx_sweep, tx_cpu_only, tx_raw, tx_handoff
}
criterion_main!(benches);

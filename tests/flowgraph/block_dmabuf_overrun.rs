//! A slow consumer starves the simulated hardware: the simulator counts overruns, the source
//! reports them, and the lost samples show up as gaps in the ramp — never hidden. The same
//! loss, estimated from the time no block was queued (what every kernel transport has), agrees
//! with the simulator's exact count, and its tags sit at the gaps; the same for TX underruns.

use std::sync::Arc;
use std::time::Duration;

use futuresdr::runtime::Timer;
use futuresdr::runtime::dev::prelude::*;
use futuresdr::runtime::{BlockId, Flowgraph};
use weir_core::tags::{BlockTime, Evidence, Overrun};
use weir_core::{BlockHandle, BlockStats, Ci16, MappedBlockReader, RunReport, runtime};
use weir_iio::sim::{SimConfig, SimRx};
use weir_plugin_iio::DmabufSink;
use weir_plugin_iio::DmabufSource;
use weir_plugin_iio::dmabuf_source::BLOCK_TAG;

const SAMPLES_PER_BLOCK: u64 = 1024;

/// A consumer that holds every block it gets until the source has reported `hold_until`
/// dropped samples, then reads `total` samples, checking the ramp and recording each gap.
#[derive(Block)]
struct GateSink {
    #[input]
    input: MappedBlockReader<Ci16>,
    source: Arc<BlockStats>,
    hold_until: u64,
    total: u64,
    next: Option<u16>,
    next_sequence: u64,
    /// Per block read: samples skipped at its start, and the overrun tag it carried.
    blocks: Arc<std::sync::Mutex<Vec<(u64, u64)>>>,
}

impl Kernel for GateSink {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        if self.source.counter("dropped_samples").unwrap_or(0) < self.hold_until {
            // Wait for a condition, not for time: poll the counter again shortly.
            io.block_on(async {
                Timer::after(Duration::from_millis(2)).await;
            });
            return Ok(());
        }
        let (samples, tags) = self.input.slice_with_tags();
        let n = samples.len().min(self.total as usize);
        let tagged = tags
            .iter()
            .filter(|t| t.index == 0)
            .find_map(|t| Overrun::from_tag(&t.tag))
            .map_or(0, |o| {
                assert_eq!(o.evidence, Evidence::Exact, "the simulator counts exactly");
                o.lost_samples.expect("an exact count")
            });
        // Every block starts with its sequence number, counting every block the source
        // delivered: consecutive, whatever was lost between them.
        let sequence = tags.iter().find_map(|t| match &t.tag {
            Tag::NamedUsize(name, v) if name == BLOCK_TAG && t.index == 0 => Some(*v as u64),
            _ => None,
        });
        if n > 0 {
            assert_eq!(
                sequence,
                Some(self.next_sequence),
                "block tag at the block start"
            );
            self.next_sequence += 1;
        }
        let mut gap_at_start = 0;
        for (k, s) in samples[..n].iter().enumerate() {
            let i = s.re as u16;
            if let Some(expected) = self.next
                && i != expected
            {
                assert_eq!(k, 0, "a gap in the middle of a block");
                // The ramp counts I and Q, two values per sample.
                gap_at_start = u64::from(i.wrapping_sub(expected)) / 2;
            }
            assert_eq!(
                s.im as u16,
                i.wrapping_add(1),
                "Q follows I within a sample"
            );
            self.next = Some(i.wrapping_add(2));
        }
        if n > 0 {
            self.blocks
                .lock()
                .expect("blocks")
                .push((gap_at_start, tagged));
        }
        self.input.consume(n);
        self.total -= n as u64;
        if self.total == 0 || self.input.finished() {
            io.finished = true;
        }
        Ok(())
    }
}

#[test]
fn slow_consumer_makes_the_simulator_count_overruns() {
    let sim = SimRx::new(SimConfig {
        sample_rate: Some(4e6),
        block_size: SAMPLES_PER_BLOCK as usize * 4,
        block_count: 2,
        ..SimConfig::default()
    })
    .expect("simulated device");
    let stats = Arc::new(BlockStats::default());
    let blocks = Arc::default();

    let mut fg = Flowgraph::new();
    let src = fg.add(DmabufSource::<Ci16>::new(Box::new(sim), stats.clone()));
    let sink = fg.add(GateSink {
        input: MappedBlockReader::default(),
        source: stats.clone(),
        hold_until: 3 * SAMPLES_PER_BLOCK,
        total: 64 * SAMPLES_PER_BLOCK,
        next: None,
        next_sequence: 0,
        blocks: Arc::clone(&blocks),
    });
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");

    let overruns = stats.counter("overruns").expect("overruns counted");
    let dropped = stats.counter("dropped_samples").expect("dropped counted");
    // Every block is held in one stretch: one gap, however many slots it lasted.
    assert!(overruns >= 1, "overruns = {overruns}");
    assert_eq!(dropped % SAMPLES_PER_BLOCK, 0, "whole block slots are lost");
    assert!(dropped >= 3 * SAMPLES_PER_BLOCK);

    let blocks = blocks.lock().expect("blocks");
    let (mut skipped, mut tagged) = (0, 0);
    for &(gap, tag) in blocks.iter() {
        assert_eq!(
            gap % SAMPLES_PER_BLOCK,
            0,
            "whole block slots are lost: gap {gap}"
        );
        skipped += gap;
        tagged += tag;
        // The source learns of a loss no later than when it completes the block after it, so
        // the tags never lag behind what the ramp shows (they may come a block early).
        assert!(
            tagged >= skipped,
            "tags say {tagged} dropped, ramp skipped {skipped}"
        );
    }
    assert!(
        skipped > 0,
        "the lost samples are visible as a gap in the ramp"
    );
    assert!(
        skipped <= dropped,
        "ramp skipped {skipped}, counter says {dropped}"
    );
    assert!(
        tagged <= dropped,
        "tags say {tagged}, counter says {dropped}"
    );

    // The counts are reported.
    assert_reported(
        &report_of("src", "dmabuf_source", src.id(), stats),
        &[
            &format!("overruns={overruns} (exact)"),
            &format!("dropped_samples={dropped} (exact)"),
            "loss_evidence=exact",
        ],
    );
}

/// The run report of one block `name` of `type_name`, as text.
fn report_of(name: &str, type_name: &str, id: BlockId, stats: Arc<BlockStats>) -> String {
    RunReport::collect(
        &[BlockHandle {
            name: name.into(),
            type_name: type_name.into(),
            id,
            stats,
        }],
        Duration::from_secs(1),
    )
    .to_string()
}

/// Asserts that `report` says each of `expected`.
fn assert_reported(report: &str, expected: &[&str]) {
    for e in expected {
        assert!(report.contains(e), "{e:?} missing from\n{report}");
    }
}

/// Per block of the ramp a [`SlowSink`] read: the samples the ramp skipped just before it, and
/// its tags' loss and timestamp.
#[derive(Debug, Clone, Copy)]
struct SeenBlock {
    gap: u64,
    overrun: Option<Overrun>,
    time: BlockTime,
}

/// A consumer slower than the device: it holds each block for `hold` before reading it (the
/// way a consumer that cannot keep up does), checks the ramp and records every block.
#[derive(Block)]
struct SlowSink {
    #[input]
    input: MappedBlockReader<Ci16>,
    hold: Duration,
    held_since: Option<std::time::Instant>,
    blocks_left: u64,
    next: Option<u16>,
    seen: Arc<std::sync::Mutex<Vec<SeenBlock>>>,
}

impl Kernel for SlowSink {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let (samples, tags) = self.input.slice_with_tags();
        if samples.is_empty() {
            if self.input.finished() {
                io.finished = true;
            }
            return Ok(());
        }
        let since = *self.held_since.get_or_insert_with(std::time::Instant::now);
        let left = self.hold.saturating_sub(since.elapsed());
        if !left.is_zero() {
            io.block_on(async move {
                Timer::after(left).await;
            });
            return Ok(());
        }
        self.held_since = None;
        let n = samples.len().min(SAMPLES_PER_BLOCK as usize);
        let overrun = tags
            .iter()
            .filter(|t| t.index == 0)
            .find_map(|t| Overrun::from_tag(&t.tag))
            .copied();
        let time = *tags
            .iter()
            .filter(|t| t.index == 0)
            .find_map(|t| BlockTime::from_tag(&t.tag))
            .expect("every block carries its time");
        let first = samples[0].re as u16;
        let gap = self
            .next
            .map_or(0, |expected| u64::from(first.wrapping_sub(expected)) / 2);
        for (k, s) in samples[..n].iter().enumerate() {
            assert_eq!(
                s.re as u16,
                first.wrapping_add(2 * k as u16),
                "a gap in the middle of a block"
            );
        }
        self.next = Some(first.wrapping_add(2 * n as u16));
        self.seen
            .lock()
            .expect("seen")
            .push(SeenBlock { gap, overrun, time });
        self.input.consume(n);
        self.blocks_left -= 1;
        if self.blocks_left == 0 {
            io.finished = true;
        }
        Ok(())
    }
}

const RATE: f64 = 50_000.0;
/// How long the slow consumer holds each block: about 8 block durations (20.48 ms each at
/// `RATE`), so that every hold leaves the device idle for several blocks' time.
const HOLD: Duration = Duration::from_millis(160);
const BLOCKS_READ: u64 = 12;

/// Runs a paced simulated ADC at `RATE` into a [`SlowSink`]; returns the source statistics, the
/// device's own counters, and the blocks read.
fn run_slow_consumer(report_losses: bool) -> (Arc<BlockStats>, u64, u64, Vec<SeenBlock>) {
    let sim = SimRx::new(SimConfig {
        sample_rate: Some(RATE),
        block_size: SAMPLES_PER_BLOCK as usize * 4,
        block_count: 2,
        report_losses,
        ..SimConfig::default()
    })
    .expect("simulated device");
    let probe = sim.loss_probe();
    let stats = Arc::new(BlockStats::default());
    let seen = read_slowly(
        DmabufSource::<Ci16>::new(Box::new(sim), stats.clone()).with_sample_rate(Some(RATE)),
        HOLD,
        BLOCKS_READ,
    );
    let exact = probe.counters();
    (stats, exact.overruns, exact.dropped_samples, seen)
}

/// Runs `src` into a [`SlowSink`] that holds each block for `hold` and reads `blocks` of
/// them; returns the blocks read.
fn read_slowly(src: DmabufSource<Ci16>, hold: Duration, blocks: u64) -> Vec<SeenBlock> {
    let seen = Arc::default();
    let mut fg = Flowgraph::new();
    let src = fg.add(src);
    let sink = fg.add(SlowSink {
        input: MappedBlockReader::default(),
        hold,
        held_since: None,
        blocks_left: blocks,
        next: None,
        seen: Arc::clone(&seen),
    });
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");
    seen.lock().expect("seen").clone()
}

/// The simulated ADC, unpaced, with two DMA blocks of [`SAMPLES_PER_BLOCK`] samples; it
/// reports its losses exactly if `report_losses`.
fn unpaced_sim(report_losses: bool) -> SimRx {
    SimRx::new(SimConfig {
        block_size: SAMPLES_PER_BLOCK as usize * 4,
        block_count: 2,
        report_losses,
        ..SimConfig::default()
    })
    .expect("simulated device")
}

/// The bound on |exact − estimate| per gap, in samples, and why:
/// - the simulated ADC loses whole block slots: a slot that starts with no block queued is
///   lost entirely, so its count exceeds the idle time × rate by up to one block
///   (`SAMPLES_PER_BLOCK`);
/// - the idle time is measured between two moments seen by threads of this process (the
///   completion, the requeue), and the simulated device is a thread too: each can be late by a
///   scheduling delay, which on a loaded 2-core machine reaches 20 ms (`LATENESS`).
const PER_GAP_BOUND: u64 = SAMPLES_PER_BLOCK + LATENESS;
/// 20 ms of samples at `RATE`.
const LATENESS: u64 = 1_000;

#[test]
fn starvation_estimate_agrees_with_the_simulators_exact_count() {
    let (stats, exact_overruns, exact_dropped, seen) = run_slow_consumer(true);
    let est_overruns = stats.counter("est_overruns").expect("estimate kept");
    let est_dropped = stats.counter("est_dropped_samples").expect("estimate kept");
    assert!(
        exact_overruns >= 4,
        "the consumer is slower: {exact_overruns} gaps"
    );
    // One gap per hold in both; the one in progress when the run ends is counted by the device
    // at its start, by the estimate only at its end (which never comes).
    assert!(
        est_overruns + 1 >= exact_overruns && est_overruns <= exact_overruns,
        "estimate {est_overruns} gaps, device {exact_overruns}"
    );
    // The reported figures are the device's own, labelled so.
    assert_eq!(stats.counter("overruns"), Some(exact_overruns));
    assert_eq!(stats.counter("dropped_samples"), Some(exact_dropped));
    // The gap still open at the end is in the device's count, not in the estimate's: compare
    // the samples of the gaps both have closed, as the ramp shows them.
    let skipped: u64 = seen.iter().map(|b| b.gap).sum();
    assert!(skipped <= exact_dropped);
    let gaps = seen.iter().filter(|b| b.gap > 0).count() as u64;
    assert!(
        skipped.abs_diff(est_dropped.min(skipped + gaps * PER_GAP_BOUND)) <= gaps * PER_GAP_BOUND,
        "ramp skipped {skipped} in {gaps} gaps, estimate {est_dropped}"
    );
    assert!(
        est_dropped <= exact_dropped + PER_GAP_BOUND,
        "estimate {est_dropped}, device {exact_dropped}"
    );
    assert!(stats.counter("starved_us").expect("starved time") > 0);
}

#[test]
fn without_device_counts_the_estimate_is_reported_and_tagged_at_the_gaps() {
    // The simulator keeps its counts to itself, as every kernel transport does.
    let (stats, exact_overruns, exact_dropped, seen) = run_slow_consumer(false);
    assert!(
        exact_overruns >= 4,
        "the consumer is slower: {exact_overruns} gaps"
    );
    let overruns = stats.counter("overruns").expect("overruns");
    let dropped = stats.counter("dropped_samples").expect("dropped samples");
    assert_eq!(Some(overruns), stats.counter("est_overruns"));
    assert_eq!(Some(dropped), stats.counter("est_dropped_samples"));
    assert!(
        overruns > 0 && dropped > 0,
        "loss seen without the device's count"
    );

    let mut position = 0u64;
    for (k, b) in seen.iter().enumerate() {
        // Every gap of the ramp carries an estimated overrun tag on its first block.
        if b.gap > 0 {
            let o = b
                .overrun
                .unwrap_or_else(|| panic!("block {k}: gap {} untagged", b.gap));
            assert_eq!(o.evidence, Evidence::Estimate);
            assert_eq!(o.events, 1);
            let lost = o.lost_samples.expect("the rate is known");
            assert!(
                lost <= b.gap + LATENESS && b.gap <= lost + PER_GAP_BOUND,
                "block {k}: ramp skipped {}, tag says {lost}",
                b.gap
            );
        } else if let Some(o) = b.overrun {
            // A tag without a gap can only be an interval too short to lose a slot.
            assert!(
                o.lost_samples.expect("count") <= LATENESS,
                "block {k}: tag {o:?} without a gap"
            );
        }
        // Block times: in order, and the first sample counts the estimated loss.
        assert_eq!(b.time.sequence, k as u64);
        if let Some(o) = b.overrun {
            position += o.lost_samples.expect("count");
        }
        assert_eq!(b.time.first_sample, position, "block {k}");
        position += SAMPLES_PER_BLOCK;
        if k > 0 {
            assert!(b.time.completed_ns > seen[k - 1].time.completed_ns);
        }
    }
    assert!(dropped <= exact_dropped + PER_GAP_BOUND);

    assert_reported(
        &report_of("src", "dmabuf_source", BlockId(0), stats),
        &[
            &format!("overruns={overruns} (estimate)"),
            &format!("dropped_samples≈{dropped} (estimate)"),
            "loss_evidence=estimate",
        ],
    );
}

/// A producer slower than the DAC: one block's worth of a ramp, then a pause of `pause`, until
/// `bursts` bursts are out.
#[derive(Block)]
struct BurstSource {
    #[output]
    output: DefaultCpuWriter<Ci16>,
    pause: Duration,
    bursts: u64,
    written: u64,
    paused_since: Option<std::time::Instant>,
}

impl Kernel for BurstSource {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        if self.bursts == 0 {
            io.finished = true;
            return Ok(());
        }
        if let Some(since) = self.paused_since {
            let left = self.pause.saturating_sub(since.elapsed());
            if !left.is_zero() {
                io.block_on(async move {
                    Timer::after(left).await;
                });
                return Ok(());
            }
        }
        let out = self.output.slice();
        let due = (SAMPLES_PER_BLOCK - self.written % SAMPLES_PER_BLOCK) as usize;
        let n = out.len().min(due);
        for (k, s) in out[..n].iter_mut().enumerate() {
            let v = (self.written + k as u64) as i16;
            *s = Ci16::new(v, v);
        }
        self.output.produce(n);
        self.written += n as u64;
        if self.written.is_multiple_of(SAMPLES_PER_BLOCK) {
            self.bursts -= 1;
            self.paused_since = Some(std::time::Instant::now());
        }
        Ok(())
    }
}

#[test]
fn tx_underrun_estimate_agrees_with_the_simulated_dac() {
    // A DAC at RATE (20.48 ms per block) fed a block every 80 ms: each block after the first
    // leaves it idle for ~60 ms.
    const BURSTS: u64 = 6;
    let sim = weir_iio::SimTx::new(weir_iio::SimTxConfig {
        sample_rate: Some(RATE),
        block_size: SAMPLES_PER_BLOCK as usize * 4,
        block_count: 2,
        report_losses: false,
        ..weir_iio::SimTxConfig::default()
    })
    .expect("simulated DAC");
    let probe = sim.loss_probe();
    let stats = Arc::new(BlockStats::default());
    let mut fg = Flowgraph::new();
    let src = fg.add(BurstSource {
        output: DefaultCpuWriter::default(),
        pause: Duration::from_millis(80),
        bursts: BURSTS,
        written: 0,
        paused_since: None,
    });
    let sink = fg.add(
        DmabufSink::<Ci16>::new(Box::new(sim), false, Duration::ZERO, stats.clone())
            .with_sample_rate(Some(RATE))
            // As the registry builds it: no status register. The rate must stay known.
            .with_xflow(None),
    );
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");

    let exact = probe.counters().underruns;
    let estimate = stats.counter("underruns").expect("underruns");
    assert_eq!(Some(estimate), stats.counter("est_underruns"));
    // Between two bursts the DAC starves: BURSTS − 1 gaps. The simulated DAC also counts the
    // silence after the last block (it cannot know that the stream ended); the estimate does
    // not, since no block follows it.
    assert_eq!(estimate, BURSTS - 1, "device counted {exact}");
    assert!(
        exact == BURSTS - 1 || exact == BURSTS,
        "device counted {exact}"
    );
    let samples = stats
        .counter("est_underrun_samples")
        .expect("the rate is known");
    // ~60 ms idle per gap at RATE: 3000 samples; allow the bursts' scheduling delays.
    assert!(
        ((BURSTS - 1) * (3_000 - LATENESS)..=(BURSTS - 1) * (3_000 + LATENESS)).contains(&samples),
        "{samples} samples of silence estimated"
    );
    let report = report_of("sink", "dmabuf_sink", BlockId(0), stats);
    assert_reported(&report, &[&format!("underruns={estimate} (estimate)")]);
    assert!(!report.contains("rate unknown"), "{report}");
}

/// A consumer that reads `blocks` blocks, latching the fake status register's RX overflow bit
/// when it reads block `latch_at`, as an Analog Devices core does when its FIFO overflows;
/// records which blocks carry an overrun tag.
#[derive(Block)]
struct LatchingSink {
    #[input]
    input: MappedBlockReader<Ci16>,
    registers: weir_iio::testing::FakeRegisters,
    latch_at: u64,
    read: u64,
    blocks: u64,
    tagged: Arc<std::sync::Mutex<Vec<(u64, Overrun)>>>,
}

impl Kernel for LatchingSink {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let (samples, tags) = self.input.slice_with_tags();
        if samples.is_empty() {
            if self.input.finished() {
                io.finished = true;
            }
            return Ok(());
        }
        if let Some(o) = tags
            .iter()
            .filter(|t| t.index == 0)
            .find_map(|t| Overrun::from_tag(&t.tag))
        {
            self.tagged.lock().expect("tagged").push((self.read, *o));
        }
        if self.read == self.latch_at {
            self.registers.latch(
                weir_iio::xflow::STATUS_REGISTER,
                weir_iio::xflow::RX_OVERFLOW,
            );
        }
        let n = samples.len().min(SAMPLES_PER_BLOCK as usize);
        self.input.consume(n);
        self.read += 1;
        if self.read == self.blocks {
            io.finished = true;
        }
        Ok(())
    }
}

#[test]
fn hardware_status_overrides_the_estimate_and_tags_the_next_block() {
    // The simulator keeps its counts to itself and runs unpaced, so its queue empties often:
    // the estimate (rate unknown) sees starvation, but the device's status register says
    // whether samples were lost, and it latches once.
    let sim = unpaced_sim(false);
    let registers = weir_iio::testing::FakeRegisters::new();
    let xflow = weir_iio::XflowMonitor::with_registers(
        Box::new(registers.clone()),
        "sim-adc",
        weir_iio::Direction::In,
    )
    .expect("monitor");
    let stats = Arc::new(BlockStats::default());
    let tagged = Arc::default();
    let mut fg = Flowgraph::new();
    let src =
        fg.add(DmabufSource::<Ci16>::new(Box::new(sim), stats.clone()).with_xflow(Some(xflow)));
    let sink = fg.add(LatchingSink {
        input: MappedBlockReader::default(),
        registers: registers.clone(),
        latch_at: 3,
        read: 0,
        blocks: 12,
        tagged: Arc::clone(&tagged),
    });
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");

    assert_eq!(stats.counter("overruns"), Some(1), "one latched overflow");
    let tagged = tagged.lock().expect("tagged").clone();
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    let (block, overrun) = tagged[0];
    assert!(
        block > 3,
        "tagged on a block completed after the latch: {block}"
    );
    assert_eq!(overrun.evidence, Evidence::HardwareStatus);
    assert_eq!(overrun.events, 1);
    // The bit was cleared by writing it back.
    assert_eq!(registers.value(weir_iio::xflow::STATUS_REGISTER), 0);
    assert_reported(
        &report_of("src", "dmabuf_source", BlockId(0), stats),
        &[
            "overruns=1 (hardware status)",
            "loss_evidence=hardware status",
        ],
    );
}

#[test]
fn block_times_carry_the_device_timestamp_channel() {
    // The simulator has no timestamp channel; stand its I channel in for one (offset 0, 16-bit
    // little endian): each block's `dmabuf_time` then carries its first sample's I value, the
    // ramp's 2 × (index of the first sample).
    let stats = Arc::new(BlockStats::default());
    let format = weir_iio::ScanFormat::parse("le:s16/16>>0").expect("format");
    let seen = read_slowly(
        DmabufSource::<Ci16>::new(Box::new(unpaced_sim(true)), stats)
            .with_timestamp_channel(0, format),
        Duration::ZERO,
        8,
    );
    assert_eq!(seen.len(), 8);
    for b in seen.iter() {
        let expected = (2 * b.time.first_sample) as u16 as i16;
        assert_eq!(
            b.time.device_timestamp_ns,
            Some(i64::from(expected)),
            "{:?}",
            b.time
        );
    }
}

/// The simulated ADC, except that its `nth` completion reads as "status unknown", as a kernel
/// block does whose fence had signalled before it could be exported.
struct UnknownAt {
    inner: SimRx,
    nth: u64,
    completions: u64,
}

impl weir_iio::Transport for UnknownAt {
    fn kind(&self) -> weir_iio::TransportKind {
        self.inner.kind()
    }
    fn stream(&self) -> &weir_iio::StreamConfig {
        self.inner.stream()
    }
    fn start(&mut self) -> weir_iio::Result<()> {
        self.inner.start()
    }
    fn completion_fd(&self, block: usize) -> (std::os::fd::BorrowedFd<'_>, weir_iio::Interest) {
        self.inner.completion_fd(block)
    }
    fn try_complete(&mut self, block: usize) -> weir_iio::Result<Option<usize>> {
        let done = self.inner.try_complete(block)?;
        if done.is_some() {
            self.completions += 1;
            if self.completions - 1 == self.nth {
                return Err(weir_iio::Error::TransferStatusUnknown {
                    device: self.inner.device().to_string(),
                    block,
                    reason: weir_iio::UnknownStatus::FenceSignalledBeforeExport {
                        enqueue_took: Duration::from_micros(900),
                        export_delay: Duration::from_micros(150),
                    },
                });
            }
        }
        Ok(done)
    }
    fn wait_complete(
        &mut self,
        block: usize,
        timeout: Duration,
    ) -> weir_iio::Result<Option<usize>> {
        self.inner.wait_complete(block, timeout)
    }
    fn block_memory(&self, block: usize) -> Arc<weir_iio::MappedRegion> {
        self.inner.block_memory(block)
    }
    fn requeue(&mut self, block: usize, bytes_used: usize) -> weir_iio::Result<()> {
        self.inner.requeue(block, bytes_used)
    }
    fn stop(&mut self) -> weir_iio::Result<()> {
        self.inner.stop()
    }
    fn counters(&self) -> weir_iio::TransportCounters {
        self.inner.counters()
    }
    fn loss_evidence(&self) -> Option<weir_iio::loss::LossEvidence> {
        self.inner.loss_evidence()
    }
}

#[test]
fn a_block_of_unknown_status_is_left_out_counted_and_tagged_as_one_lost_block() {
    let stats = Arc::new(BlockStats::default());
    let transport = UnknownAt {
        inner: unpaced_sim(true),
        nth: 3,
        completions: 0,
    };
    let seen = read_slowly(
        DmabufSource::<Ci16>::new(Box::new(transport), stats.clone()),
        Duration::ZERO,
        8,
    );
    assert_eq!(stats.counter("status_unknown"), Some(1));
    for (k, b) in seen.iter().enumerate() {
        if k == 3 {
            // The fourth block was left out: the ramp jumps one block, the tag says so
            // exactly, and the stream positions count it.
            assert_eq!(b.gap, SAMPLES_PER_BLOCK, "block {k}");
            let o = b.overrun.expect("tagged");
            assert_eq!(o.lost_samples, Some(SAMPLES_PER_BLOCK));
            assert_eq!(o.evidence, Evidence::Exact);
            assert_eq!(b.time.sequence, 4);
        } else {
            assert_eq!(b.gap, 0, "block {k}");
        }
        let skipped = if k >= 3 { SAMPLES_PER_BLOCK } else { 0 };
        assert_eq!(b.time.first_sample, k as u64 * SAMPLES_PER_BLOCK + skipped);
    }
}

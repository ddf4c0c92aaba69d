//! Zero-copy is proven, not assumed: the converter's input slices lie inside the simulated
//! device's mapped blocks, and the simulator copied nothing.

use std::ops::Range;
use std::sync::Arc;

use futuresdr::runtime::dev::DefaultCpuReader;
use futuresdr::runtime::{BlockId, Flowgraph};
use weir_core::{BlockStats, Cf32, Ci16, MappedBlockReader, runtime};
use weir_iio::sim::{SimConfig, SimRx};
use weir_iio::transport::Transport;
use weir_plugin_dsp::{AddressLog, Ci16Scale, Head, IqToComplex, NullSink};
use weir_plugin_iio::DmabufSource;

const SAMPLES_PER_BLOCK: usize = 4096;
const SAMPLES: u64 = 200_000;

fn sim() -> (SimRx, Vec<Range<usize>>) {
    let sim = SimRx::new(SimConfig {
        block_size: SAMPLES_PER_BLOCK * 4,
        block_count: 4,
        ..SimConfig::default()
    })
    .expect("simulated device");
    let blocks = (0..sim.block_count())
        .map(|i| {
            let m = sim.block_memory(i);
            let start = m.as_ptr() as usize;
            start..start + m.len()
        })
        .collect();
    (sim, blocks)
}

/// Connects each block of `chain` (`output`) to the next (`input`) and runs `fg`.
fn run_in_line(mut fg: Flowgraph, chain: &[BlockId]) {
    for pair in chain.windows(2) {
        fg.stream_dyn(pair[0], "output", pair[1], "input")
            .expect("connect");
    }
    runtime().run(fg).expect("runs");
}

/// `block` (named so in failures) read something, and every slice it read (`log`) lies inside
/// one of the device's blocks.
fn assert_read_in_place(block: &str, log: &[Range<usize>], device_blocks: &[Range<usize>]) {
    assert!(!log.is_empty(), "the {block} read something");
    for r in log {
        assert!(
            inside(r, device_blocks),
            "{block} input slice {r:x?} is not inside a device block {device_blocks:x?}"
        );
    }
}

fn inside(r: &Range<usize>, blocks: &[Range<usize>]) -> bool {
    blocks.iter().any(|b| b.start <= r.start && r.end <= b.end)
}

#[test]
fn converter_reads_the_device_blocks_in_place() {
    let (sim, device_blocks) = sim();
    let src_stats = Arc::new(BlockStats::default());
    let log = AddressLog::default();

    let mut fg = Flowgraph::new();
    let src = fg.add(DmabufSource::<Ci16>::new(Box::new(sim), src_stats.clone()));
    let conv = fg.add(IqToComplex::<MappedBlockReader<Ci16>>::new(
        Ci16Scale::new(1.0 / 32768.0).with_address_log(log.clone()),
        Arc::default(),
    ));
    let head = fg.add(Head::<Cf32>::new(SAMPLES, Arc::default()));
    let sink = fg.add(NullSink::<Cf32>::new(Arc::default()));
    run_in_line(fg, &[src.into(), conv.into(), head.into(), sink.into()]);

    let log = log.lock().expect("log");
    assert_read_in_place("converter", &log, &device_blocks);
    let bytes_read: usize = log.iter().map(|r| r.len()).sum();
    assert!(bytes_read as u64 >= SAMPLES * 4);
    assert!(src_stats.counter("blocks").expect("blocks") >= SAMPLES / SAMPLES_PER_BLOCK as u64);
    assert_eq!(
        src_stats.counter("bytes_copied"),
        Some(0),
        "the simulator copied nothing"
    );
}

#[test]
fn address_check_fails_for_a_copied_stream() {
    // Control experiment: with a head (which copies into a circular buffer) in front of the
    // converter, the converter's slices are not inside device memory, so the check above can fail.
    let (sim, device_blocks) = sim();
    let log = AddressLog::default();

    let mut fg = Flowgraph::new();
    let src = fg.add(DmabufSource::<Ci16>::new(Box::new(sim), Arc::default()));
    let head = fg.add(Head::<Ci16, MappedBlockReader<Ci16>>::new(
        SAMPLES,
        Arc::default(),
    ));
    let conv = fg.add(IqToComplex::<DefaultCpuReader<Ci16>>::new(
        Ci16Scale::new(1.0 / 32768.0).with_address_log(log.clone()),
        Arc::default(),
    ));
    let sink = fg.add(NullSink::<Cf32>::new(Arc::default()));
    run_in_line(fg, &[src.into(), head.into(), conv.into(), sink.into()]);

    let log = log.lock().expect("log");
    assert!(!log.is_empty());
    assert!(log.iter().all(|r| !inside(r, &device_blocks)));
}

/// A reader that hands out exactly what `R` hands out and records the address range of every
/// slice: FutureSDR's stock blocks have no address log, so their reader carries it.
mod logged {
    use std::any::Any;
    use std::ops::Range;
    use std::sync::{Arc, Mutex};

    use futuresdr::runtime::dev::prelude::*;
    use futuresdr::runtime::{BlockId, Error, PortId};

    pub type Log = Arc<Mutex<Vec<Range<usize>>>>;

    #[derive(Default)]
    pub struct Logged<R> {
        inner: R,
        pub log: Log,
    }

    #[async_trait]
    impl<R: BufferReader + Default + Send> BufferReader for Logged<R> {
        // The connection downcasts to the writer's reader type: hand it the wrapped reader.
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self.inner.as_any_mut()
        }
        fn init(&mut self, block_id: BlockId, port_id: PortId, inbox: BlockInbox) {
            self.inner.init(block_id, port_id, inbox);
        }
        fn validate(&self) -> Result<(), Error> {
            self.inner.validate()
        }
        async fn notify_finished(&mut self) {
            self.inner.notify_finished().await;
        }
        fn finish(&mut self) {
            self.inner.finish();
        }
        fn finished(&self) -> bool {
            self.inner.finished()
        }
        fn block_id(&self) -> BlockId {
            self.inner.block_id()
        }
        fn port_id(&self) -> PortId {
            self.inner.port_id()
        }
    }

    impl<R: CpuBufferReader> CpuBufferReader for Logged<R> {
        type Item = R::Item;
        fn slice_with_tags(&mut self) -> (&[R::Item], &Vec<ItemTag>) {
            let (s, tags) = self.inner.slice_with_tags();
            if !s.is_empty() {
                let start = s.as_ptr() as usize;
                self.log
                    .lock()
                    .expect("log")
                    .push(start..start + std::mem::size_of_val(s));
            }
            (s, tags)
        }
        fn consume(&mut self, n: usize) {
            self.inner.consume(n);
        }
        fn set_min_items(&mut self, n: usize) {
            self.inner.set_min_items(n);
        }
        fn set_min_buffer_size_in_items(&mut self, n: usize) {
            self.inner.set_min_buffer_size_in_items(n);
        }
        fn max_items(&self) -> usize {
            self.inner.max_items()
        }
    }
}

use futuresdr::blocks::{Copy as StockCopy, Fft, Fir};
use futuresdr::futuredsp::FirFilter;
use futuresdr::runtime::dev::DefaultCpuWriter;
use logged::Logged;

const FIR_TAPS: usize = 5;
const FFT_LEN: usize = 256;

type LoggedFir<R> =
    Fir<Cf32, Cf32, f32, FirFilter<Cf32, Cf32, Vec<f32>>, Logged<R>, DefaultCpuWriter<Cf32>>;

/// The simulator's memory viewed as cf32 (one cf32 = two I/Q samples), straight into `block`
/// or through a copying block first; returns the log and the source's statistics.
fn run_stock<K, R>(
    mut block: K,
    input: fn(&mut K) -> &mut Logged<R>,
    copied: bool,
) -> (logged::Log, Arc<BlockStats>, Vec<Range<usize>>)
where
    K: futuresdr::runtime::dev::Kernel + futuresdr::runtime::__private::KernelInterface + 'static,
{
    let (sim, device_blocks) = sim();
    let src_stats = Arc::new(BlockStats::default());
    let log = input(&mut block).log.clone();
    let mut fg = Flowgraph::new();
    let src = fg.add(DmabufSource::<Cf32>::new(Box::new(sim), src_stats.clone()));
    let b = fg.add(block);
    let head = fg.add(Head::<Cf32>::new(SAMPLES, Arc::default()));
    let sink = fg.add(NullSink::<Cf32>::new(Arc::default()));
    let mut chain: Vec<BlockId> = vec![src.into()];
    if copied {
        chain.push(
            fg.add(StockCopy::<Cf32, MappedBlockReader<Cf32>>::new())
                .into(),
        );
    }
    chain.extend::<[BlockId; 3]>([b.into(), head.into(), sink.into()]);
    run_in_line(fg, &chain);
    (log, src_stats, device_blocks)
}

/// The control: behind a copying block, `block` reads something, and none of it in device
/// memory (so the in-place check can fail).
fn assert_reads_no_device_memory_behind_a_copy<K, R>(block: K, input: fn(&mut K) -> &mut Logged<R>)
where
    K: futuresdr::runtime::dev::Kernel + futuresdr::runtime::__private::KernelInterface + 'static,
{
    let (log, _, device_blocks) = run_stock(block, input, true);
    let log = log.lock().expect("log");
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|r| !inside(r, &device_blocks)),
        "control: copied stream"
    );
}

fn fir<R: Default>() -> LoggedFir<R>
where
    Logged<R>: futuresdr::runtime::dev::CpuBufferReader<Item = Cf32>,
{
    LoggedFir::<R>::new(FirFilter::new(vec![0.5f32; FIR_TAPS]))
}

/// FutureSDR's forward FFT of [`FFT_LEN`] points reading through a logged `R`.
fn fft<R: Default>() -> Fft<Logged<R>>
where
    Logged<R>: futuresdr::runtime::dev::CpuBufferReader<Item = Cf32>,
{
    Fft::<Logged<R>>::with_options_and_buffers(
        FFT_LEN,
        futuresdr::blocks::FftDirection::Forward,
        false,
        None,
    )
}

#[test]
fn stock_fft_reads_the_device_blocks_in_place() {
    // 2048 cf32 per DMA block, a whole number of 256-point frames: every slice is in place.
    let (log, stats, device_blocks) =
        run_stock(fft::<MappedBlockReader<Cf32>>(), |b| b.input(), false);
    assert_read_in_place("FFT", &log.lock().expect("log"), &device_blocks);
    assert_eq!(stats.counter("bytes_copied"), Some(0));

    assert_reads_no_device_memory_behind_a_copy(fft::<DefaultCpuReader<Cf32>>(), |b| b.input());
}

#[test]
fn stock_fir_reads_the_device_blocks_in_place_but_for_seams() {
    let (log, stats, device_blocks) =
        run_stock(fir::<MappedBlockReader<Cf32>>(), |b| b.input(), false);
    let log = log.lock().expect("log");
    let (in_place, seams): (Vec<_>, Vec<_>) = log.iter().partition(|r| inside(r, &device_blocks));
    assert!(!in_place.is_empty(), "the FIR read device memory");
    // At a block end, fewer than `taps` items are left: the reader hands out a copy of them
    // followed by the next block's first `taps` items, so the filter keeps its history.
    // Nothing else is copied.
    assert!(
        !seams.is_empty(),
        "2048-item blocks and 5 taps: every block end is a seam"
    );
    let seam_max = (2 * FIR_TAPS - 1) * 8;
    for r in &seams {
        assert!(
            r.len() <= seam_max,
            "a {}-byte slice outside device memory",
            r.len()
        );
    }
    let in_place_bytes: usize = in_place.iter().map(|r| r.len()).sum();
    let seam_bytes: usize = seams.iter().map(|r| r.len()).sum();
    assert!(in_place_bytes as u64 >= SAMPLES * 8 - seam_bytes as u64);
    assert!(
        seam_bytes * 100 < in_place_bytes,
        "seams {seam_bytes} bytes, in place {in_place_bytes}"
    );
    assert_eq!(stats.counter("bytes_copied"), Some(0));

    assert_reads_no_device_memory_behind_a_copy(fir::<DefaultCpuReader<Cf32>>(), |b| b.input());
}

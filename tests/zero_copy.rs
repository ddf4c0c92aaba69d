//! Zero-copy is proven, not assumed: the converter's input slices lie inside the simulated
//! device's mapped blocks, and the simulator copied nothing.

use std::ops::Range;
use std::sync::Arc;

use futuresdr::runtime::Flowgraph;
use futuresdr::runtime::dev::DefaultCpuReader;
use weir_core::{BlockStats, Cf32, Ci16, MappedBlockReader, runtime};
use weir_iio::sim::{SimConfig, SimRx};
use weir_iio::transport::Transport;
use weir_plugin_dsp::{AddressLog, Head, IqToComplex, NullSink};
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
    let conv = fg.add(
        IqToComplex::<MappedBlockReader<Ci16>>::new(1.0 / 32768.0, Arc::default())
            .with_address_log(log.clone()),
    );
    let head = fg.add(Head::<Cf32>::new(SAMPLES, Arc::default()));
    let sink = fg.add(NullSink::<Cf32>::new(Arc::default()));
    fg.stream_dyn(src, "output", conv, "input")
        .expect("connect");
    fg.stream_dyn(conv, "output", head, "input")
        .expect("connect");
    fg.stream_dyn(head, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");

    let log = log.lock().expect("log");
    assert!(!log.is_empty(), "the converter read something");
    for r in log.iter() {
        assert!(
            inside(r, &device_blocks),
            "input slice {r:x?} is not inside a device block {device_blocks:x?}"
        );
    }
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
    let conv = fg.add(
        IqToComplex::<DefaultCpuReader<Ci16>>::new(1.0 / 32768.0, Arc::default())
            .with_address_log(log.clone()),
    );
    let sink = fg.add(NullSink::<Cf32>::new(Arc::default()));
    fg.stream_dyn(src, "output", head, "input")
        .expect("connect");
    fg.stream_dyn(head, "output", conv, "input")
        .expect("connect");
    fg.stream_dyn(conv, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");

    let log = log.lock().expect("log");
    assert!(!log.is_empty());
    assert!(log.iter().all(|r| !inside(r, &device_blocks)));
}

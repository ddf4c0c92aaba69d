//! DMABUF TX: exact transmission (partial last block), back-pressure bounded by the queue
//! depth, cyclic mode, and RX fan-out to two consumers.

use std::path::Path;

use weir_core::FlowgraphSpec;
use weir_core::testing::wait_until;

use crate::support::{head_block, ramp_bytes, shipped_flowgraph, start};

fn run(text: &str, set: &[(&str, String)]) -> weir_core::RunReport {
    let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (*k, v.as_str())).collect();
    weir_core::testing::run_toml_with(&weir::registry(), "tx.toml", text, &set)
}

/// A shipped flowgraph's text (`flowgraphs/<name>`).
fn shipped(name: &str) -> String {
    std::fs::read_to_string(shipped_flowgraph(name)).expect("flowgraph")
}

/// Runs `text` (a shipped TX flowgraph) with its `samples` variable set and its `out` a file
/// of a temporary directory: the report and what the simulated DAC sent, which is every
/// sample and not a byte more (`bytes_used` honoured for the partial last block, nothing
/// padded).
fn send_shipped(text: &str, samples: u64) -> (weir_core::RunReport, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dac.ci16");
    let report = run(
        text,
        &[
            ("samples", samples.to_string()),
            ("out", out.display().to_string()),
        ],
    );
    let sent = std::fs::read(&out).expect("DAC output");
    assert_eq!(
        sent.len() as u64,
        samples * 4,
        "every sample, the last block partial: bytes_used honoured, nothing padded"
    );
    (report, sent)
}

/// `rx` (a `dmabuf_source` with the parameter lines `rx`) -> `head` (`items` ci16 samples)
/// -> `tx` (a `dmabuf_sink` with the parameter lines `tx`).
fn through_the_dac(rx: &str, items: u64, tx: &str) -> String {
    format!(
        r#"connections = ["rx.out -> head.in", "head.out -> tx.in"]
[blocks.rx]
type = "dmabuf_source"
{rx}
{}[blocks.tx]
type = "dmabuf_sink"
{tx}
"#,
        head_block("ci16", items)
    )
}

#[test]
fn loopback_sends_every_byte_and_the_partial_last_block_exactly() {
    let samples = 1_000_003u64;
    let (report, sent) = send_shipped(&shipped("loopback.toml"), samples);
    assert!(
        sent == ramp_bytes(samples),
        "the DAC sent the ramp byte for byte"
    );
    let tx = report.block("tx").expect("tx");
    assert_eq!(tx.counter("bytes"), Some(samples * 4));
    assert_eq!(tx.counter("blocks"), Some(samples.div_ceil(16384)));
    assert_eq!(
        tx.counter("in_flight"),
        Some(0),
        "everything sent before the end"
    );
}

#[test]
fn a_slow_dac_back_pressures_upstream_within_the_queue_depth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dac.ci16");
    let samples = 100_000u64;
    let text = through_the_dac(
        "samples_per_block = 1000",
        samples,
        &format!(
            "samples_per_block = 1000\nblocks = 3\nsample_rate = 2e6\nsim_output = \"{}\"",
            out.display()
        ),
    );
    let report = run(&text, &[]);
    let tx = report.block("tx").expect("tx");
    assert!(tx.counter("max_in_flight").expect("counted") <= 3);
    let rx = report.block("rx").expect("rx");
    assert_eq!(
        rx.counter("overruns"),
        Some(0),
        "an unpaced ADC waits, never loses"
    );
    assert!(std::fs::read(&out).expect("output") == ramp_bytes(samples));
}

#[test]
fn cyclic_mode_repeats_the_stream_until_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dac.ci16");
    let text = through_the_dac(
        "samples_per_block = 100",
        100,
        &format!(
            "samples_per_block = 128\ncyclic = true\nsample_rate = 1e6\nsim_output = \"{}\"",
            out.display()
        ),
    );
    let running = start("cyclic.toml", &text);
    wait_until("five repetitions", || {
        std::fs::metadata(&out).map_or(0, |m| m.len()) >= 400 * 5
    });
    running.stop().expect("stop");
    running.wait().expect("ends");
    let sent = std::fs::read(&out).expect("output");
    assert!(sent.len() >= 400 * 5);
    assert_eq!(
        sent.len() % 400,
        0,
        "whole repetitions of the 100-sample stream"
    );
    let once = ramp_bytes(100);
    for (i, rep) in sent.chunks(400).enumerate() {
        assert!(rep == once.as_slice(), "repetition {i} differs");
    }
}

#[test]
fn rx_fans_out_to_two_consumers_both_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.ci16");
    let b = dir.path().join("b.ci16");
    let samples = 300_000u64;
    // Each consumer `X` is a head `hX` taking `samples` into a file sink `X` writing `path`.
    let consumer = |x: &str, path: &Path| {
        format!(
            "[blocks.h{x}]\ntype = \"head\"\nitem = \"ci16\"\nitems = {samples}\n\
             [blocks.{x}]\ntype = \"file_sink\"\nitem = \"ci16\"\npath = \"{}\"\n",
            path.display()
        )
    };
    let text = format!(
        r#"
connections = ["rx.out -> ha.in", "rx.out -> hb.in", "ha.out -> a.in", "hb.out -> b.in"]
[blocks.rx]
type = "dmabuf_source"
samples_per_block = 4096
{}{}"#,
        consumer("a", &a),
        consumer("b", &b)
    );
    let report = run(&text, &[]);
    let expected = ramp_bytes(samples);
    for path in [Path::new(&a), Path::new(&b)] {
        assert!(
            std::fs::read(path).expect("output") == expected,
            "{}",
            path.display()
        );
    }
    // With two readers, each block's latency is recorded once (its first release).
    let rx = report.block("rx").expect("rx");
    let latency = rx.latency.expect("RX latency measured");
    assert_eq!(Some(latency.count), rx.counter("blocks"));
    assert!(latency.p50_ns <= latency.p99_ns);
}

#[test]
fn zero_copy_mode_fills_dma_blocks_in_place_and_sends_them_exactly() {
    let text = shipped("loopback.toml").replace(
        "sim_output = \"${out}\"",
        "sim_output = \"${out}\"\nmode = \"zero_copy\"",
    );
    let samples = 1_000_003u64;
    let (report, sent) = send_shipped(&text, samples);
    // The sink only ever sees DMA blocks the head wrote into: intact data proves the path.
    assert!(
        sent == ramp_bytes(samples),
        "the DAC sent the ramp byte for byte"
    );
    let tx = report.block("tx").expect("tx");
    assert!(
        tx.notes
            .iter()
            .any(|(k, v)| *k == "mode" && v == "zero_copy")
    );
    assert_eq!(tx.counter("blocks"), Some(samples.div_ceil(16384)));
    assert!(tx.counter("max_in_flight").expect("counted") <= 4);
    assert_eq!(tx.items_in, samples);
    // Every block lent, filled in place and sent completed: one latency record each.
    let latency = tx.latency.expect("TX latency measured");
    assert_eq!(latency.span, "enqueue→completion");
    assert_eq!(Some(latency.count), tx.counter("blocks"));
    assert!(latency.p50_ns <= latency.p99_ns);
}

#[test]
fn zero_copy_mode_needs_an_upstream_block_that_can_fill() {
    let registry = weir::registry();
    // (flowgraph, the block refused, why)
    for (text, block, why) in [
        (
            r#"
connections = ["rx.out -> tx.in"]
[blocks.rx]
type = "dmabuf_source"
[blocks.tx]
type = "dmabuf_sink"
mode = "zero_copy"
"#,
            "tx",
            "cannot write into them",
        ),
        (
            r#"
connections = ["rx.out -> head.in", "head.out -> tx.in", "head.out -> sink.in"]
[blocks.rx]
type = "dmabuf_source"
[blocks.head]
type = "head"
item = "ci16"
items = 10
[blocks.tx]
type = "dmabuf_sink"
mode = "zero_copy"
[blocks.sink]
type = "null_sink"
item = "ci16"
"#,
            "head",
            "cannot also feed other inputs",
        ),
    ] {
        let e = FlowgraphSpec::parse(text, "zc.toml", &registry).expect_err("refused");
        assert_eq!(e.block.as_deref(), Some(block), "{e}");
        assert!(e.message.contains(why), "{e}");
    }
}

#[test]
fn tx_tone_flowgraph_sends_the_tone() {
    let samples = 100_001u64;
    let (report, sent) = send_shipped(&shipped("tx_tone.toml"), samples);
    // A tone at 100 kHz sampled at 2 MS/s advances 2π/20 per sample at amplitude 0.5 of
    // full scale. FutureSDR's NCO is fixed point, so check each sample's magnitude and the
    // phase step between neighbours rather than an absolute phase that may drift slowly.
    let step = std::f64::consts::TAU / 20.0;
    let iq: Vec<(f64, f64)> = sent
        .chunks_exact(4)
        .map(|s| {
            (
                i16::from_le_bytes([s[0], s[1]]) as f64,
                i16::from_le_bytes([s[2], s[3]]) as f64,
            )
        })
        .collect();
    assert!(
        (iq[0].0 - 16383.5).abs() < 2.0 && iq[0].1.abs() < 2.0,
        "{:?}",
        iq[0]
    );
    for (k, w) in iq.windows(2).enumerate() {
        let (i, q) = w[1];
        let magnitude = (i * i + q * q).sqrt();
        assert!(
            (magnitude - 16383.5).abs() < 4.0,
            "sample {}: |z| = {magnitude}",
            k + 1
        );
        let (pi, pq) = w[0];
        let advance = (q * pi - i * pq).atan2(i * pi + q * pq);
        assert!(
            (advance - step).abs() < 1e-3,
            "sample {}: step {advance}",
            k + 1
        );
    }
    let dac = report.block("dac").expect("dac");
    assert_eq!(dac.counter("bytes"), Some(samples * 4));
}

#[test]
fn the_sink_says_when_each_block_was_sent() {
    use futuresdr::runtime::Pmt;
    use futuresdr::runtime::dev::prelude::mpsc;

    // 10 000 samples in 1024-sample blocks: 9 whole blocks and a partial one of 784.
    let text = through_the_dac(
        "samples_per_block = 1024",
        10000,
        "samples_per_block = 1024\nblocks = 2",
    );
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(&text, "completed.toml", &registry).expect("loads");
    // The pipe goes in before the file's blocks, so it is initialised before the sink sends.
    let (tx, rx) = mpsc::channel(64);
    let mut fg = futuresdr::runtime::Flowgraph::new();
    let pipe = fg.add(futuresdr::blocks::MessagePipe::new(tx)).id();
    let mut built = spec.build_into(&registry, fg).expect("builds");
    let sink = built
        .blocks()
        .iter()
        .find(|b| b.name == "tx")
        .expect("tx")
        .id;
    built
        .flowgraph_mut()
        .message(sink, "completed", pipe, "in")
        .expect("connect");
    let running = built.start().expect("starts");
    let got: Vec<Pmt> = (0..10)
        .map(|_| futuresdr::futures::executor::block_on(rx.recv()).expect("a message"))
        .collect();
    running.stop().expect("stop");
    running.wait().expect("ends");
    let mut last_ns = 0;
    for (k, m) in got.iter().enumerate() {
        let Pmt::MapStrPmt(map) = m else {
            panic!("message {k}: {m:?}");
        };
        assert_eq!(map["sequence"], Pmt::U64(k as u64));
        let bytes = if k == 9 { 784 * 4 } else { 1024 * 4 };
        assert_eq!(map["bytes"], Pmt::Usize(bytes), "block {k}");
        let Pmt::U64(ns) = map["completed_ns"] else {
            panic!("{map:?}");
        };
        assert!(ns >= last_ns, "completion times in order");
        last_ns = ns;
    }
}

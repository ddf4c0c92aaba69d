//! Variables and `--set`, ranges, message ports, Graphviz output and the embedding API.

use std::time::{Duration, Instant};

use futuresdr::runtime::Pmt;
use weir_core::FlowgraphSpec;

const RAMP_TO_NULL: &str = r#"
connections = ["src.out -> head.in", "head.out -> sink.in"]

[vars]
samples = 1000
block = 256

[blocks.src]
type = "dmabuf_source"
samples_per_block = "${block}"

[blocks.head]
type = "head"
item = "ci16"
items = "${samples}"

[blocks.sink]
type = "null_sink"
item = "ci16"
"#;

fn parse(text: &str, set: &[(&str, &str)]) -> Result<FlowgraphSpec, weir_core::LoadError> {
    let set: Vec<(String, String)> = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    FlowgraphSpec::parse_with(text, "vars.toml", &weir::registry(), &set)
}

fn items_through(spec: &FlowgraphSpec) -> u64 {
    let report = spec
        .build(&weir::registry())
        .expect("builds")
        .run()
        .expect("runs");
    report.block("sink").expect("sink").items_in
}

#[test]
fn variables_are_typed_and_overridable() {
    let spec = parse(RAMP_TO_NULL, &[]).expect("loads");
    assert_eq!(items_through(&spec), 1000);
    let spec = parse(RAMP_TO_NULL, &[("samples", "4321")]).expect("loads");
    assert_eq!(items_through(&spec), 4321);
}

#[test]
fn bad_overrides_are_refused() {
    let e = parse(RAMP_TO_NULL, &[("sample", "5")]).expect_err("unknown variable");
    assert!(e.message.contains("no variable `sample`"), "{e}");
    assert!(e.message.contains("did you mean `samples`"), "{e}");
    let e = parse(RAMP_TO_NULL, &[("samples", "many")]).expect_err("wrong type");
    assert!(e.message.contains("expected integer"), "{e}");
    assert_eq!(e.line, 5, "points at the variable's declaration: {e}");
}

#[test]
fn unknown_variable_reference_is_located() {
    let text = RAMP_TO_NULL.replace("\"${samples}\"", "\"${sampels}\"");
    let e = parse(&text, &[]).expect_err("unknown reference");
    assert_eq!((e.line, e.column), (15, 9), "{e}");
    assert_eq!(e.block.as_deref(), Some("head"));
    assert!(e.message.contains("did you mean `samples`"), "{e}");
}

#[test]
fn variables_interpolate_into_strings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        r#"
connections = ["src.out -> head.in", "head.out -> sink.in"]
[vars]
dir = "{}"
n = 7
[blocks.src]
type = "dmabuf_source"
[blocks.head]
type = "head"
item = "ci16"
items = "${{n}}"
[blocks.sink]
type = "file_sink"
item = "ci16"
path = "${{dir}}/out-${{n}}.ci16"
"#,
        dir.path().display()
    );
    let spec = parse(&text, &[]).expect("loads");
    items_through(&spec);
    let written = std::fs::read(dir.path().join("out-7.ci16")).expect("file named from vars");
    assert_eq!(written.len(), 7 * 4);
}

#[test]
fn out_of_range_values_are_refused() {
    let text = RAMP_TO_NULL.replace("samples_per_block = \"${block}\"", "blocks = 0");
    let e = parse(&text, &[]).expect_err("out of range");
    assert_eq!(e.block.as_deref(), Some("src"));
    assert!(e.message.contains("must be 1 ..= 1024, found 0"), "{e}");
    let e = parse(RAMP_TO_NULL, &[("block", "0")]).expect_err("out of range via --set");
    assert!(e.message.contains("must be >= 1"), "{e}");
}

#[test]
fn message_ports_are_checked() {
    let text = r#"
connections = ["src.out -> conv.in", "conv.out -> amp.in", "amp.out -> sink.in", "strobe.out => amp.gian"]
[blocks.src]
type = "dmabuf_source"
[blocks.conv]
type = "ci16_to_cf32"
[blocks.amp]
type = "multiply_const"
[blocks.sink]
type = "null_sink"
[blocks.strobe]
type = "message_strobe"
value = 1.0
"#;
    let e = parse(text, &[]).expect_err("bad message port");
    assert_eq!(e.block.as_deref(), Some("amp"));
    assert!(e.message.contains("no message input `gian`"), "{e}");
    assert!(e.message.contains("did you mean `gain`"), "{e}");
}

#[test]
fn shipped_tone_gain_flowgraph_changes_gain_by_message() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/tone_gain.toml");
    let registry = weir::registry();
    let spec = FlowgraphSpec::load_with(
        std::path::Path::new(path),
        &registry,
        &[("samples".into(), "2000000".into())],
    )
    .expect("loads");
    let report = spec.build(&registry).expect("builds").run().expect("runs");
    let amp = report.block("amp").expect("amp");
    assert_eq!(amp.items_in, amp.items_out);
    assert!(
        amp.notes.iter().any(|(k, v)| *k == "gain" && v == "2"),
        "the strobe's message set the gain: {:?}",
        amp.notes
    );
}

#[test]
fn graph_is_graphviz() {
    let spec = parse(RAMP_TO_NULL, &[]).expect("loads");
    let dot = spec.to_dot();
    assert!(dot.starts_with("digraph flowgraph {"), "{dot}");
    assert!(
        dot.contains("\"src\" -> \"head\" [label=\"out → in (ci16)\"]"),
        "{dot}"
    );
    assert!(dot.contains("\"head\" -> \"sink\""), "{dot}");
}

/// Wait (with a generous deadline) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn embedding_changes_a_parameter_while_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.cf32");
    let text = format!(
        r#"
connections = ["src.out -> conv.in", "conv.out -> amp.in", "amp.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
pattern = "tone"
tone_frequency = 0.01
tone_amplitude = 8192
sample_rate = 2e6
samples_per_block = 1024
[blocks.conv]
type = "ci16_to_cf32"
[blocks.amp]
type = "multiply_const"
gain = 1.0
[blocks.sink]
type = "file_sink"
path = "{}"
"#,
        out.display()
    );
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(&text, "embed.toml", &registry).expect("loads");
    let running = spec
        .build(&registry)
        .expect("builds")
        .start()
        .expect("starts");
    let sink_items =
        |r: &weir_core::RunningFlowgraph| r.stats().block("sink").map_or(0, |b| b.items_in);

    wait_until("samples at gain 1", || sink_items(&running) >= 50_000);
    let answer = running
        .call("amp", "gain", Pmt::F64(3.0))
        .expect("gain message handled");
    assert_eq!(answer, Pmt::F32(3.0));
    let at_change = sink_items(&running);
    wait_until("samples at gain 3", || {
        sink_items(&running) >= at_change + 50_000
    });
    assert!(running.call("nope", "gain", Pmt::F64(1.0)).is_err());
    running.stop().expect("stop");
    let report = running.wait().expect("ends cleanly");
    assert!(report.block("sink").expect("sink").items_in >= at_change + 50_000);

    // The data shows the change: magnitude 0.25 before, 0.75 after, one switch point.
    let bytes = std::fs::read(&out).expect("output");
    let mags: Vec<f32> = bytes
        .chunks_exact(8)
        .map(|b| {
            let re = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let im = f32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            (re * re + im * im).sqrt()
        })
        .collect();
    let switch = mags
        .iter()
        .position(|m| (m - 0.75).abs() < 0.01)
        .expect("samples at the new gain");
    assert!(switch >= 50_000, "switched at {switch}");
    for (i, m) in mags.iter().enumerate() {
        let expected = if i < switch { 0.25 } else { 0.75 };
        assert!(
            (m - expected).abs() < 0.01,
            "sample {i}: |z| = {m}, expected {expected}"
        );
    }
}

const FFT_CHAIN: &str = r#"
connections = ["src.out -> conv.in", "conv.out -> fft.in", "fft.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
pattern = "tone"
tone_frequency = 0.125
tone_amplitude = 8192
[blocks.conv]
type = "ci16_to_cf32"
[blocks.fft]
type = "fft"
len = 64
[blocks.head]
type = "head"
items = 640
[blocks.sink]
type = "file_sink"
path = "PATH"
"#;

#[test]
fn stock_fft_finds_the_tone_in_its_bin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fft.cf32");
    let text = FFT_CHAIN.replace("PATH", &out.display().to_string());
    let spec = parse(&text, &[]).expect("loads");
    spec.build(&weir::registry())
        .expect("builds")
        .run()
        .expect("runs");
    let bytes = std::fs::read(&out).expect("output");
    assert_eq!(bytes.len(), 640 * 8);
    for (f, frame) in bytes.chunks_exact(64 * 8).enumerate() {
        let power: Vec<f32> = frame
            .chunks_exact(8)
            .map(|b| {
                let re = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let im = f32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                re * re + im * im
            })
            .collect();
        let peak = (0..64)
            .max_by(|a, b| power[*a].total_cmp(&power[*b]))
            .expect("bins");
        // 0.125 cycles/sample in a 64-point FFT is bin 8.
        assert_eq!(peak, 8, "frame {f}");
    }
}

#[test]
fn buffers_smaller_than_a_blocks_chunk_are_refused() {
    let text = FFT_CHAIN.replace(
        "\"conv.out -> fft.in\"",
        "{ connect = \"conv.out -> fft.in\", buffer = 32 }",
    );
    let e = parse(&text, &[]).expect_err("buffer too small");
    assert_eq!(e.block.as_deref(), Some("fft"));
    assert!(
        e.message
            .contains("`fft.in` needs 64 items per call but the buffer from `conv.out` holds 32"),
        "{e}"
    );

    // A DMA block smaller than an FFT frame read in place would stall the same way.
    let text = r#"
connections = ["src.out -> fft.in", "fft.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
item = "cf32"
samples_per_block = 512
[blocks.fft]
type = "fft"
len = 1024
[blocks.sink]
type = "null_sink"
"#;
    let e = parse(text, &[]).expect_err("DMA block smaller than the FFT");
    assert!(e.message.contains("needs 1024 items per call"), "{e}");
    assert!(e.message.contains("`src.out` holds 256"), "{e}");

    let text = text.replace(
        "\"src.out -> fft.in\"",
        "{ connect = \"src.out -> fft.in\", buffer = 4096 }",
    );
    let e = parse(&text, &[]).expect_err("buffer on a DMA connection");
    assert!(e.message.contains("fixed-size device blocks"), "{e}");
}

/// A test block: a source that records how much room its output buffer offers on its first call
/// (the whole buffer), then ends.
mod probe {
    use std::sync::Arc;

    use futuresdr::runtime::dev::prelude::*;
    use weir_core::{
        BlockDescriptor, BlockStats, BufferKind, BuildContext, BuildError, Cf32, ItemType, Params,
        PortSpec, Ports,
    };

    #[derive(Block)]
    pub struct RoomProbe {
        #[output]
        output: DefaultCpuWriter<Cf32>,
        stats: Arc<BlockStats>,
    }

    impl Kernel for RoomProbe {
        async fn work(
            &mut self,
            _io: &mut WorkIo,
            _mo: &mut MessageOutputs,
            _meta: &mut BlockMeta,
        ) -> Result<()> {
            // Record and stay idle (the test stops the flowgraph). Finishing at once would
            // race FutureSDR 0.0.40, which drops a StreamInputDone that reaches a block still
            // in init, leaving the sink waiting forever.
            let room = self.output.slice().len();
            self.stats.set_counter("room", room as u64);
            Ok(())
        }
    }

    fn ports(_: &Params) -> Result<Ports, BuildError> {
        Ok(Ports {
            outputs: vec![PortSpec::output(
                "out",
                "output",
                ItemType::Cf32,
                BufferKind::Circular,
            )],
            ..Ports::default()
        })
    }

    fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
        let stats = ctx.stats();
        Ok(ctx.add(RoomProbe {
            output: DefaultCpuWriter::default(),
            stats,
        }))
    }

    pub fn descriptor() -> BlockDescriptor {
        BlockDescriptor {
            type_name: "room_probe",
            doc: "test: records its output buffer's room",
            params: vec![],
            ports,
            build,
        }
    }
}

fn output_room(connection: &str) -> u64 {
    let mut registry = weir::registry();
    registry.register(probe::descriptor());
    let text = format!(
        "connections = [{connection}]\n[blocks.p]\ntype = \"room_probe\"\n[blocks.sink]\ntype = \"null_sink\"\n"
    );
    let spec = FlowgraphSpec::parse(&text, "probe.toml", &registry).expect("loads");
    let running = spec
        .build(&registry)
        .expect("builds")
        .start()
        .expect("starts");
    let room =
        |r: &weir_core::RunningFlowgraph| r.stats().block("p").and_then(|b| b.counter("room"));
    wait_until("the probe's first call", || room(&running).is_some());
    let value = room(&running).expect("room");
    running.stop().expect("stop");
    running.wait().expect("ends");
    value
}

#[test]
fn a_connection_buffer_size_is_applied() {
    let default = output_room("\"p.out -> sink.in\"");
    let asked = output_room("{ connect = \"p.out -> sink.in\", buffer = 65536 }");
    assert!(default < 65536, "default buffer holds {default} items");
    assert!(asked >= 65536, "buffer = 65536 gave room for {asked} items");
}

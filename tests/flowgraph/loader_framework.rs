//! Variables and `--set`, ranges, message ports, Graphviz output and the embedding API.

use std::time::Duration;

use futuresdr::runtime::Pmt;
use weir_core::FlowgraphSpec;
use weir_core::testing::{start_toml, wait_until};

use crate::support::{assert_note, cf32_file, items_in};

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
    assert!(e.message.contains("must be 1 ..= 16777216"), "{e}");
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
    assert_note(
        &report,
        "amp",
        "gain",
        "2",
        "the strobe's message set the gain",
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
    let running = start_toml(&registry, "embed.toml", &text);

    wait_until("samples at gain 1", || items_in(&running, "sink") >= 50_000);
    let answer = running
        .call("amp", "gain", Pmt::F64(3.0))
        .expect("gain message handled");
    assert_eq!(answer, Pmt::F32(3.0));
    let at_change = items_in(&running, "sink");
    wait_until("samples at gain 3", || {
        items_in(&running, "sink") >= at_change + 50_000
    });
    assert!(running.call("nope", "gain", Pmt::F64(1.0)).is_err());
    running.stop().expect("stop");
    let report = running.wait().expect("ends cleanly");
    assert!(report.block("sink").expect("sink").items_in >= at_change + 50_000);

    // The data shows the change: magnitude 0.25 before, 0.75 after, one switch point.
    let mags: Vec<f32> = cf32_file(&out)
        .iter()
        .map(|x| x.norm_sqr().sqrt())
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
    let samples = cf32_file(&out);
    assert_eq!(samples.len(), 640);
    for (f, frame) in samples.chunks_exact(64).enumerate() {
        let power: Vec<f32> = frame.iter().map(|x| x.norm_sqr()).collect();
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
    first_room(start_toml(&registry, "probe.toml", &text))
}

/// The room the probe `p` of a running flowgraph saw on its first call; stops the flowgraph.
fn first_room(running: weir_core::RunningFlowgraph) -> u64 {
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

// ---- Flowgraphs built in code ------------------------------------------------------------

use weir_core::{FlowgraphBuilder, LoadError, Value};

const RAMP_GAIN_TOML: &str = r#"
connections = ["src.out -> conv.in", "conv.out -> amp.in", "amp.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
samples_per_block = 1024
[blocks.conv]
type = "ci16_to_cf32"
[blocks.amp]
type = "multiply_const"
gain = 2.5
[blocks.head]
type = "head"
items = 10000
[blocks.sink]
type = "file_sink"
path = "PATH"
"#;

#[test]
fn a_flowgraph_built_in_code_matches_its_toml_twin() {
    let registry = weir::registry();
    let dir = tempfile::tempdir().expect("tempdir");
    let from_toml = dir.path().join("toml.cf32");
    let from_code = dir.path().join("code.cf32");

    let text = RAMP_GAIN_TOML.replace("PATH", &from_toml.display().to_string());
    let toml_spec = FlowgraphSpec::parse(&text, "twin.toml", &registry).expect("loads");
    let code_spec = FlowgraphBuilder::new(&registry)
        .block("src", "dmabuf_source", [("samples_per_block", 1024.into())])
        .block("conv", "ci16_to_cf32", [])
        .block("amp", "multiply_const", [("gain", 2.5.into())])
        .block("head", "head", [("items", 10000.into())])
        .block(
            "sink",
            "file_sink",
            [("path", from_code.display().to_string().into())],
        )
        .connect("src.out", "conv.in")
        .connect("conv.out", "amp.in")
        .connect("amp.out", "head.in")
        .connect("head.out", "sink.in")
        .spec()
        .expect("checks");

    // The same checked model: blocks, resolved parameters (defaults included) and ports.
    assert_eq!(code_spec.file_name(), "");
    assert_eq!(code_spec.blocks.len(), toml_spec.blocks.len());
    for (c, t) in code_spec.blocks.iter().zip(&toml_spec.blocks) {
        assert_eq!((&c.name, &c.type_name), (&t.name, &t.type_name));
        assert_eq!(c.ports, t.ports, "block {}", c.name);
        if c.name != "sink" {
            assert_eq!(
                format!("{:?}", c.params),
                format!("{:?}", t.params),
                "block {}",
                c.name
            );
        }
    }
    assert_eq!(
        code_spec.to_dot(),
        toml_spec.to_dot(),
        "same blocks and connections"
    );

    for spec in [&toml_spec, &code_spec] {
        let report = spec.build(&registry).expect("builds").run().expect("runs");
        assert_eq!(report.block("sink").expect("sink").items_in, 10000);
    }
    let toml_bytes = std::fs::read(&from_toml).expect("toml output");
    let code_bytes = std::fs::read(&from_code).expect("code output");
    assert_eq!(toml_bytes.len(), 10000 * 8);
    assert!(
        toml_bytes.iter().any(|b| *b != 0),
        "the ramp is not all zeros"
    );
    assert!(
        toml_bytes == code_bytes,
        "same samples from both flowgraphs"
    );
}

#[test]
fn a_flowgraph_built_in_code_takes_messages_while_running() {
    let registry = weir::registry();
    let running = FlowgraphBuilder::new(&registry)
        .block("src", "dmabuf_source", [("samples_per_block", 1024.into())])
        .block("conv", "ci16_to_cf32", [])
        .block("amp", "multiply_const", [])
        .block("strobe", "message_strobe", [("value", 2.0.into())])
        .block("sink", "null_sink", [])
        .connect("src.out", "conv.in")
        .connect("conv.out", "amp.in")
        .connect("amp.out", "sink.in")
        .message("strobe.out", "amp.gain")
        .build()
        .expect("builds")
        .start()
        .expect("starts");
    assert_eq!(
        running.call("amp", "gain", Pmt::F64(0.5)).expect("handled"),
        Pmt::F32(0.5)
    );
    running.stop().expect("stop");
    running.wait().expect("ends");
}

/// The error of a flowgraph built in code: no file, no position.
fn code_error(builder: FlowgraphBuilder<'_>) -> LoadError {
    let e = builder.spec().expect_err("must be refused");
    assert_eq!(e.position(), None, "{e}");
    assert_eq!((e.file.as_str(), e.line, e.column), ("", 0, 0), "{e}");
    if let Some(block) = &e.block {
        assert!(
            e.to_string().starts_with(&format!("block `{block}`: ")),
            "{e}"
        );
    }
    e
}

fn source_and_sink<'r>(registry: &'r weir_core::Registry, sink_item: &str) -> FlowgraphBuilder<'r> {
    FlowgraphBuilder::new(registry)
        .block("src", "dmabuf_source", [])
        .block("sink", "null_sink", [("item", sink_item.into())])
}

#[test]
fn builder_errors_name_the_block() {
    let registry = weir::registry();
    let check = |builder: FlowgraphBuilder<'_>, block: Option<&str>, words: &[&str]| {
        let e = code_error(builder);
        assert_eq!(e.block.as_deref(), block, "{e}");
        for w in words {
            assert!(e.message.contains(w), "`{w}` not in: {e}");
        }
    };
    let reg = &registry;

    check(
        FlowgraphBuilder::new(reg).block("src", "dmabuf_sorce", []),
        Some("src"),
        &[
            "unknown block type `dmabuf_sorce`",
            "did you mean `dmabuf_source`",
        ],
    );
    check(
        FlowgraphBuilder::new(reg).block("src", "dmabuf_source", [("samples_per_blok", 1.into())]),
        Some("src"),
        &[
            "parameter `samples_per_blok`: unknown parameter for block type `dmabuf_source`",
            "did you mean `samples_per_block`",
        ],
    );
    check(
        FlowgraphBuilder::new(reg).block("src", "dmabuf_source", [("blocks", "four".into())]),
        Some("src"),
        &[
            "parameter `blocks`",
            "expects integer, found string \"four\"",
        ],
    );
    check(
        FlowgraphBuilder::new(reg).block("src", "dmabuf_source", [("blocks", 0.into())]),
        Some("src"),
        &["parameter `blocks`: must be 1 ..= 1024, found 0"],
    );
    check(
        FlowgraphBuilder::new(reg).block("h", "head", []),
        Some("h"),
        &[
            "parameter `items`",
            "required by block type `head` but not given",
        ],
    );
    check(
        FlowgraphBuilder::new(reg)
            .block("src", "dmabuf_source", [])
            .block("src", "null_sink", []),
        Some("src"),
        &["already a block named `src`"],
    );
    check(
        source_and_sink(reg, "ci16").connect("src.output", "sink.in"),
        Some("src"),
        &["no output port `output` on `src` (dmabuf_source); outputs: out"],
    );
    check(
        source_and_sink(reg, "ci16").connect("src.out", "sink.input"),
        Some("sink"),
        &["no input port `input` on `sink` (null_sink); inputs: in"],
    );
    check(
        source_and_sink(reg, "ci16").connect("scr.out", "sink.in"),
        None,
        &[
            "unknown block `scr` in connection `scr.out -> sink.in`",
            "did you mean `src`",
        ],
    );
    check(
        source_and_sink(reg, "ci16").connect("src", "sink.in"),
        None,
        &["`src` is not `block.port` in connection `src -> sink.in`"],
    );
    check(
        source_and_sink(reg, "cf32").connect("src.out", "sink.in"),
        Some("sink"),
        &["item types differ: `src.out` produces ci16 but `sink.in` takes cf32"],
    );
    check(
        source_and_sink(reg, "ci16"),
        Some("sink"),
        &["input `in` is not connected"],
    );
    let twice = source_and_sink(reg, "ci16")
        .block("b", "dmabuf_source", [])
        .connect("src.out", "sink.in")
        .connect("b.out", "sink.in");
    let e = code_error(twice);
    assert_eq!(e.block.as_deref(), Some("sink"));
    assert_eq!(
        e.message,
        "input `in` is connected twice: `b.out -> sink.in` after `src.out -> sink.in`"
    );
    check(
        source_and_sink(reg, "ci16")
            .block("strobe", "message_strobe", [("value", 1.0.into())])
            .connect("src.out", "sink.in")
            .message("strobe.out", "sink.gain"),
        Some("sink"),
        &["no message input `gain` on `sink` (null_sink); message inputs: none"],
    );
    let fft = |buffer: usize| {
        FlowgraphBuilder::new(reg)
            .block("src", "dmabuf_source", [("item", "cf32".into())])
            .block("fft", "fft", [("len", 64.into())])
            .block("conv", "multiply_const", [])
            .block("sink", "null_sink", [])
            .connect("src.out", "conv.in")
            .connect_with_buffer("conv.out", "fft.in", buffer)
            .connect("fft.out", "sink.in")
    };
    check(
        fft(32),
        Some("fft"),
        &["`fft.in` needs 64 items per call but the buffer from `conv.out` holds 32"],
    );
    check(
        fft(0),
        None,
        &["`buffer` must be a positive number of items, found 0"],
    );
    fft(64).spec().expect("a buffer of one FFT frame is enough");
}

#[test]
fn values_convert_from_rust_types() {
    assert_eq!(Value::from(3), Value::Int(3));
    assert_eq!(Value::from(3u32), Value::Int(3));
    assert_eq!(Value::from(0.5f32), Value::Float(0.5));
    assert_eq!(Value::from(true), Value::Bool(true));
    assert_eq!(Value::from("x"), Value::Str("x".into()));
    assert_eq!(Value::from(vec![1.0, 2.0]), Value::List(vec![1.0, 2.0]));
    assert_eq!(
        Value::from(weir_core::ItemType::Cf32),
        Value::Str("cf32".into())
    );
}

// ---- One output feeding several inputs ----------------------------------------------------

/// A head feeding a null sink first and an FFT of `len` second. The FFT's output buffer holds
/// all it writes: FutureSDR 0.0.40's FFT ends as soon as its input has ended, dropping a frame
/// it had no output room for at that moment.
fn fan_out_to_fft(len: usize, path: &std::path::Path) -> String {
    format!(
        r#"
connections = [
    "src.out -> conv.in", "conv.out -> head.in", "head.out -> first.in", "head.out -> fft.in",
    {{ connect = "fft.out -> sink.in", buffer = {items} }},
]
[blocks.src]
type = "dmabuf_source"
pattern = "tone"
tone_frequency = 0.125
tone_amplitude = 8192
[blocks.conv]
type = "ci16_to_cf32"
[blocks.head]
type = "head"
items = {items}
[blocks.first]
type = "null_sink"
[blocks.fft]
type = "fft"
len = {len}
[blocks.sink]
type = "file_sink"
path = "{path}"
"#,
        items = 4 * len,
        path = path.display()
    )
}

#[test]
fn a_later_reader_with_a_large_minimum_gets_a_buffer_it_fits_in() {
    // FutureSDR 0.0.40 sizes a circular buffer for its first reader (here a null sink: the
    // default 64 KiB, 8192 cf32) and ignores the second's needs: an FFT of twice that many
    // points reading the same output would wait forever. Validation sizes the output for both.
    let default_items = futuresdr::runtime::config::config().buffer_size / 8;
    let len = 2 * default_items;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fft.cf32");
    let spec = parse(&fan_out_to_fft(len, &out), &[]).expect("loads");
    for c in spec.connections.iter().filter(|c| c.from.block == "head") {
        assert_eq!(c.buffer, None, "nothing asked for in the file");
        assert_eq!(c.effective_buffer, Some(len), "{} reader", c.to.block);
    }
    // Below the default, nothing is asked for: the runtime's default already fits.
    let small = parse(&fan_out_to_fft(64, &out), &[]).expect("loads");
    assert!(
        small
            .connections
            .iter()
            .filter(|c| c.from.block == "head")
            .all(|c| c.effective_buffer.is_none())
    );

    let mut running = spec
        .build(&weir::registry())
        .expect("builds")
        .start()
        .expect("starts");
    let report = running
        .wait_timeout(Duration::from_secs(120))
        .expect("runs")
        .expect("the FFT must not stall on a buffer smaller than its frame");
    assert_eq!(
        report.block("first").expect("first").items_in,
        4 * len as u64
    );
    // Starved of whole frames, the FFT would end with the head, having written nothing.
    let bytes = std::fs::read(&out).expect("output");
    assert_eq!(bytes.len(), 4 * len * 8, "every frame transformed");
    let frame = &bytes[..len * 8];
    let power = |k: usize| {
        let b = &frame[k * 8..k * 8 + 8];
        let re = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let im = f32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        re * re + im * im
    };
    let peak = (0..len)
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .expect("bins");
    assert_eq!(peak, len / 8, "0.125 cycles/sample");
}

#[test]
fn a_buffer_asked_for_on_a_later_reader_sizes_the_whole_output() {
    let mut registry = weir::registry();
    registry.register(probe::descriptor());
    let text = "connections = [\"p.out -> a.in\", { connect = \"p.out -> b.in\", buffer = 65536 }]\n[blocks.p]\ntype = \"room_probe\"\n[blocks.a]\ntype = \"null_sink\"\n[blocks.b]\ntype = \"null_sink\"\n";
    let spec = FlowgraphSpec::parse(text, "probe.toml", &registry).expect("loads");
    assert!(
        spec.connections
            .iter()
            .all(|c| c.effective_buffer == Some(65536)),
        "{:?}",
        spec.connections
    );
    let value = first_room(
        spec.build(&registry)
            .expect("builds")
            .start()
            .expect("starts"),
    );
    assert!(value >= 65536, "buffer = 65536 gave room for {value} items");
}

#[test]
fn different_buffers_on_one_output_are_refused() {
    let text = "connections = [\n  { connect = \"conv.out -> a.in\", buffer = 8192 },\n  { connect = \"conv.out -> b.in\", buffer = 4096 },\n  \"src.out -> conv.in\",\n]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.conv]\ntype = \"ci16_to_cf32\"\n[blocks.a]\ntype = \"null_sink\"\n[blocks.b]\ntype = \"null_sink\"\n";
    let e = parse(text, &[]).expect_err("conflicting buffers");
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("vars.toml", 3, 3),
        "{e}"
    );
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(
        e.message.contains(
            "`conv.out` has one buffer for all its readers, but `conv.out -> b.in` asks for buffer = 4096 and `conv.out -> a.in` (line 2, column 3) for buffer = 8192"
        ),
        "{e}"
    );
}

#[test]
fn a_buffer_asked_for_must_fit_every_reader_of_the_output() {
    let text = "connections = [\n  { connect = \"conv.out -> a.in\", buffer = 32 },\n  \"conv.out -> fft.in\",\n  \"src.out -> conv.in\",\n  \"fft.out -> b.in\",\n]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.conv]\ntype = \"ci16_to_cf32\"\n[blocks.a]\ntype = \"null_sink\"\n[blocks.fft]\ntype = \"fft\"\nlen = 64\n[blocks.b]\ntype = \"null_sink\"\n";
    let e = parse(text, &[]).expect_err("buffer too small for the FFT");
    assert_eq!((e.line, e.column), (3, 3), "at the FFT's connection: {e}");
    assert_eq!(e.block.as_deref(), Some("fft"));
    assert!(
        e.message
            .contains("`fft.in` needs 64 items per call but the buffer from `conv.out` holds 32"),
        "{e}"
    );
}

// ---- Self-description ----------------------------------------------------------------------

#[test]
fn every_registered_block_describes_its_ports() {
    let registry = weir::registry();
    let mut missing = Vec::new();
    for d in registry.iter() {
        let info = d.info();
        match &info.ports {
            Some(p) => assert!(
                !(p.inputs.is_empty()
                    && p.outputs.is_empty()
                    && p.message_inputs.is_empty()
                    && p.message_outputs.is_empty()),
                "`{}` describes no port at all",
                d.type_name
            ),
            None => missing.push(d.type_name),
        }
    }
    // `sigmf_source`'s output type is its recording's `core:datatype`: without a recording
    // there is nothing to describe (`weir check` reads the file; a missing one is refused).
    missing.retain(|&t| t != "sigmf_source");
    assert!(missing.is_empty(), "no ports described for {missing:?}");
}

#[test]
fn described_ports_say_what_they_depend_on() {
    let registry = weir::registry();
    let info = |t: &str| {
        registry
            .get(t)
            .expect("registered")
            .info()
            .ports
            .expect("ports")
    };
    // `fft` needs `len`: described with an example value, its item types fixed.
    let fft = info("fft");
    assert_eq!(fft.inputs, vec![("in".to_string(), "cf32".to_string())]);
    assert_eq!(fft.example_params, vec![("len", "1".to_string())]);
    assert!(fft.depends_on.is_empty(), "{:?}", fft.depends_on);
    // `head` passes any item type: its ports follow `item`.
    let head = info("head");
    assert_eq!(head.depends_on, vec!["item"]);
    assert_eq!(head.example_params, vec![("items", "1".to_string())]);
    // `null_sink` has no required parameter: nothing stands in for a default.
    let sink = info("null_sink");
    assert!(sink.example_params.is_empty());
    assert_eq!(sink.depends_on, vec!["item"]);
}

// ---- The async embedding API ---------------------------------------------------------------

#[test]
fn async_calls_and_wait() {
    let registry = weir::registry();
    let running = FlowgraphBuilder::new(&registry)
        .block("src", "dmabuf_source", [("samples_per_block", 1024.into())])
        .block("conv", "ci16_to_cf32", [])
        .block("amp", "multiply_const", [])
        .block("sink", "null_sink", [])
        .connect("src.out", "conv.in")
        .connect("conv.out", "amp.in")
        .connect("amp.out", "sink.in")
        .build()
        .expect("builds")
        .start()
        .expect("starts");
    let report = async_io::block_on(async {
        let answer = running
            .call_async("amp", "gain", Pmt::F64(0.25))
            .await
            .expect("gain handled");
        assert_eq!(answer, Pmt::F32(0.25));
        match running.call_async("nope", "gain", Pmt::F64(1.0)).await {
            Err(weir_core::RunError::NoSuchBlock(b)) => assert_eq!(b, "nope"),
            other => panic!("unknown block: {other:?}"),
        }
        match running.call_async("amp", "gian", Pmt::F64(1.0)).await {
            Err(weir_core::RunError::Message { block, port, .. }) => {
                assert_eq!((block.as_str(), port.as_str()), ("amp", "gian"));
            }
            other => panic!("unknown port: {other:?}"),
        }
        running.stop().expect("stop");
        running.wait_async().await.expect("ends cleanly")
    });
    assert_note(&report, "amp", "gain", "0.25", "the last call set the gain");
}

#[test]
fn wait_async_returns_the_final_statistics() {
    let registry = weir::registry();
    let running = FlowgraphBuilder::new(&registry)
        .block("src", "dmabuf_source", [])
        .block(
            "head",
            "head",
            [("items", 5000.into()), ("item", "ci16".into())],
        )
        .block("sink", "null_sink", [("item", "ci16".into())])
        .connect("src.out", "head.in")
        .connect("head.out", "sink.in")
        .build()
        .expect("builds")
        .start()
        .expect("starts");
    let report = async_io::block_on(running.wait_async()).expect("runs to the end");
    assert_eq!(report.block("sink").expect("sink").items_in, 5000);
    assert_eq!(report.block("head").expect("head").items_out, 5000);
}

/// FutureSDR 0.0.40 drops an end-of-stream that reaches a block before its `Initialize`, and
/// initialises blocks in the order they were added: weir adds every block after the blocks
/// downstream of it, so that an upstream block that finishes at once cannot hang its readers.
#[test]
fn blocks_are_added_downstream_first_and_reported_in_file_order() {
    let registry = weir::registry();
    let text = r#"
connections = [
    "src.out -> conv.in",
    "conv.out -> gain.in",
    "gain.out -> head.in",
    "head.out -> sink.in",
    "strobe.out => gain.gain",
]
[blocks.src]
type = "vector_source"
item = "ci16"
items = [1, 2, 3, 4]
[blocks.conv]
type = "ci16_to_cf32"
[blocks.strobe]
type = "message_strobe"
interval = 1.0
value = 2.0
[blocks.gain]
type = "multiply_const"
gain = 1.0
[blocks.head]
type = "head"
item = "cf32"
items = 2
[blocks.sink]
type = "null_sink"
item = "cf32"
"#;
    let spec = FlowgraphSpec::parse(text, "order.toml", &registry).expect("loads");
    let built = spec.build(&registry).expect("builds");
    let names: Vec<&str> = built.blocks().iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["src", "conv", "strobe", "gain", "head", "sink"]);
    let id = |name: &str| {
        built
            .blocks()
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.id.0)
            .expect("block")
    };
    for (up, down) in [
        ("src", "conv"),
        ("conv", "gain"),
        ("strobe", "gain"),
        ("gain", "head"),
        ("head", "sink"),
    ] {
        assert!(id(down) < id(up), "`{down}` must be added before `{up}`");
    }
}

/// A buffer size asked for on one reader of an output sizes the whole output, so every reader's
/// connection reports that capacity in the buffer fill.
#[test]
fn fan_out_connections_report_the_shared_buffer_capacity() {
    let text = "connections = [\n  \"src.out -> conv.in\",\n  \"conv.out -> a.in\",\n  { connect = \"conv.out -> b.in\", buffer = 65536 },\n]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.conv]\ntype = \"ci16_to_cf32\"\n[blocks.a]\ntype = \"null_sink\"\n[blocks.b]\ntype = \"null_sink\"\n";
    let registry = weir::registry();
    let built = parse(text, &[])
        .expect("loads")
        .build(&registry)
        .expect("builds");
    let capacity = |to: &str| {
        built
            .connections()
            .iter()
            .find(|c| c.to == to)
            .and_then(|c| c.capacity)
            .unwrap_or_else(|| panic!("no capacity for `{to}`"))
    };
    // 65536 cf32 are 512 KiB, a whole number of pages: exactly what was asked for.
    assert_eq!(capacity("b.in"), 65536);
    assert_eq!(
        capacity("a.in"),
        65536,
        "the other reader shares the buffer"
    );
}

#[test]
fn a_file_sink_gets_its_preferred_buffer_unless_the_connection_asks_for_one() {
    // A file sink writes every slice with one write(2) on its own thread: behind a converter,
    // the runtime's default 32 KiB buffer cost it a wake-up per 32 KiB (BENCHMARKS.md).
    let preferred = weir_core::sink_file::CAPTURE_BUFFER_BYTES / 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.cf32");
    let text = |connection: &str| {
        format!(
            "connections = [{connection}]\n[blocks.src]\ntype = \"vector_source\"\nitem = \"cf32\"\nitems = [1.0, 2.0, 3.0, 4.0, -5.0, 6.5]\n[blocks.sink]\ntype = \"file_sink\"\nitem = \"cf32\"\npath = \"{}\"\n",
            path.display()
        )
    };
    let spec = parse(&text("\"src.out -> sink.in\""), &[]).expect("loads");
    assert_eq!(spec.connections[0].buffer, None);
    assert_eq!(spec.connections[0].effective_buffer, Some(preferred));
    let asked = parse(
        &text("{ connect = \"src.out -> sink.in\", buffer = 4096 }"),
        &[],
    )
    .expect("loads");
    assert_eq!(asked.connections[0].effective_buffer, Some(4096));

    // And the data arrive as they were sent, through the larger buffer.
    spec.build(&weir::registry())
        .expect("builds")
        .start()
        .expect("starts")
        .wait_timeout(Duration::from_secs(60))
        .expect("runs")
        .expect("ends");
    let bytes = std::fs::read(&path).expect("output");
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, -5.0, 6.5]);
}

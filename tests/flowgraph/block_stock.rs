//! FutureSDR's stock blocks, registered by name: each runs from a TOML flowgraph with its output
//! checked, and each describes itself (parameters, defaults, ports).

use std::path::Path;

use weir_core::{FlowgraphSpec, RunReport};

use crate::support::processes::cf32s;
use crate::support::{head_block, head_to_file};

fn run(text: &str) -> RunReport {
    crate::support::run("stock.toml", text)
}

fn load_error(text: &str) -> weir_core::LoadError {
    weir_core::testing::load_error(&weir::registry(), "bad.toml", text)
}

fn f32s(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .expect("output file")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-4 * (1.0 + b.abs())
}

/// source -> BLOCK -> file_sink, for a block with one input and one output.
fn through(src: &str, block: &str, item: &str, out: &Path) -> String {
    format!(
        r#"
connections = ["src.out -> b.in", "b.out -> sink.in"]
[blocks.src]
{src}
[blocks.b]
{block}
[blocks.sink]
type = "file_sink"
item = "{item}"
path = "{}"
"#,
        out.display()
    )
}

#[test]
fn fir_with_given_taps_on_f32_and_cf32() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fir.f32");
    run(&through(
        "type = \"vector_source\"\nitem = \"f32\"\nitems = [1, 2, 3, 4, 5]",
        "type = \"fir\"\nitem = \"f32\"\ntaps = [1.0, 0.5, 0.25]",
        "f32",
        &out,
    ));
    // y[k] = h0 x[k+2] + h1 x[k+1] + h2 x[k]: one output per full window of 3 inputs.
    assert_eq!(f32s(&out), vec![4.25, 6.0, 7.75]);

    let out = dir.path().join("fir.cf32");
    run(&through(
        "type = \"vector_source\"\nitems = [1, -1, 2, 0, 0, 4]",
        "type = \"fir\"\ntaps = [2, 1]",
        "cf32",
        &out,
    ));
    // x = [1-j, 2, 4j]; y[k] = 2 x[k+1] + x[k].
    assert_eq!(cf32s(&out), vec![(5.0, -1.0), (2.0, 8.0)]);
}

#[test]
fn fir_designs_a_low_pass_with_unit_dc_gain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("lp.f32");
    let text = format!(
        r#"
connections = ["src.out -> lp.in", "lp.out -> head.in", "head.out -> sink.in"]
[blocks.src]
type = "vector_source"
item = "f32"
items = [1.0]
repeat = true
[blocks.lp]
type = "fir"
item = "f32"
cutoff = 1000
transition = 500
sample_rate = 10000
{}"#,
        head_to_file("f32", 1000, &out)
    );
    run(&text);
    let y = f32s(&out);
    assert_eq!(y.len(), 1000);
    // A constant input gives the sum of the taps: a low-pass passes DC with gain 1.
    for v in &y {
        assert!((v - 1.0).abs() < 1e-3, "{v}");
    }
}

#[test]
fn fir_taps_and_design_do_not_mix() {
    let base = "connections = [\"src.out -> f.in\", \"f.out -> sink.in\"]\n[blocks.src]\ntype = \"null_source\"\n[blocks.sink]\ntype = \"null_sink\"\n[blocks.f]\ntype = \"fir\"\n";
    let e = load_error(&format!("{base}taps = [1, 2]\ncutoff = 0.1\n"));
    assert_eq!(e.block.as_deref(), Some("f"));
    assert_eq!(e.line, 9, "at `cutoff`: {e}");
    assert!(e.message.contains("either `taps` or `cutoff`"), "{e}");

    let e = load_error(base);
    assert!(e.message.contains("no filter given"), "{e}");

    let e = load_error(&format!("{base}cutoff = 0.1\n"));
    assert!(e.message.contains("needs `transition`"), "{e}");

    let e = load_error(&format!("{base}cutoff = 0.3\ntransition = 0.3\n"));
    assert!(e.message.contains("below Nyquist"), "{e}");

    let e = load_error(&format!("{base}item = \"ci16\"\ntaps = [1]\n"));
    assert!(e.message.contains("f32 or cf32"), "{e}");

    let e = load_error(&format!("{base}taps = 1.0\n"));
    assert!(
        e.message.contains("expects list of floats, found float"),
        "{e}"
    );
}

#[test]
fn xlating_fir_moves_the_tone_to_dc_and_decimates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.cf32");
    let text = format!(
        r#"
connections = ["src.out -> head.in", "head.out -> x.in", "x.out -> sink.in"]
[blocks.src]
type = "signal_source"
frequency = 1000
sample_rate = 8000
[blocks.head]
type = "head"
items = 2000
[blocks.x]
type = "xlating_fir"
center_frequency = 1000
sample_rate = 8000
decimation = 2
taps = [1]
[blocks.sink]
type = "file_sink"
path = "{}"
"#,
        out.display()
    );
    run(&text);
    let y = cf32s(&out);
    assert_eq!(y.len(), 1000);
    // At DC: every output the same unit phasor (the rotator's fixed phase aside).
    let (re0, im0) = y[0];
    assert!(close((re0 * re0 + im0 * im0).sqrt(), 1.0), "{re0} + {im0}j");
    for (k, (re, im)) in y.iter().enumerate() {
        assert!(
            (re - re0).abs() < 1e-3 && (im - im0).abs() < 1e-3,
            "sample {k}: {re} + {im}j, sample 0: {re0} + {im0}j"
        );
    }
}

#[test]
fn pfb_arb_resampler_doubles_the_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.cf32");
    // One tap per filter: every filter passes the newest sample, so a constant stays constant.
    let text = through(
        "type = \"vector_source\"\nitems = [0.5, -0.25]\nrepeat = true",
        "type = \"pfb_arb_resampler\"\nrate = 2.0\nfilters = 4\ntaps = [1, 1, 1, 1]",
        "cf32",
        &out,
    )
    .replace(
        "\"src.out -> b.in\"",
        "\"src.out -> h.in\", \"h.out -> b.in\"",
    );
    run(&(text + "[blocks.h]\ntype = \"head\"\nitems = 1000\n"));
    let y = cf32s(&out);
    assert!((1990..=2000).contains(&y.len()), "{} outputs", y.len());
    for (re, im) in &y {
        assert!(close(*re, 0.5) && close(*im, -0.25), "{re} + {im}j");
    }
}

#[test]
fn pfb_channelizer_puts_dc_into_channel_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<_> = (0..4).map(|i| dir.path().join(format!("ch{i}"))).collect();
    let mut text = String::from(
        r#"
connections = ["src.out -> h.in", "h.out -> ch.in", "ch.out0 -> s0.in", "ch.out1 -> s1.in", "ch.out2 -> s2.in", "ch.out3 -> s3.in"]
[blocks.src]
type = "vector_source"
items = [1, 0]
repeat = true
[blocks.h]
type = "head"
items = 4000
[blocks.ch]
type = "pfb_channelizer"
channels = 4
taps = [1, 1, 1, 1]
"#,
    );
    for (i, p) in paths.iter().enumerate() {
        text += &format!(
            "[blocks.s{i}]\ntype = \"file_sink\"\npath = \"{}\"\n",
            p.display()
        );
    }
    run(&text);
    for (i, p) in paths.iter().enumerate() {
        let y = cf32s(p);
        assert!(y.len() >= 990, "channel {i}: {} outputs", y.len());
        // Every branch sees 1: the inverse FFT of four ones is (4, 0, 0, 0).
        let want = if i == 0 { 4.0 } else { 0.0 };
        for (re, im) in &y {
            assert!(
                close(*re, want) && close(*im, 0.0),
                "channel {i}: {re} + {im}j"
            );
        }
    }
}

#[test]
fn throttle_copy_and_vector_source_pass_items_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let items: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5 - 7.0).collect();
    let list = items
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    for block in [
        "type = \"throttle\"\nitem = \"f32\"\nrate = 1e6",
        "type = \"copy\"\nitem = \"f32\"",
    ] {
        let out = dir.path().join("out.f32");
        run(&through(
            &format!("type = \"vector_source\"\nitem = \"f32\"\nitems = [{list}]"),
            block,
            "f32",
            &out,
        ));
        assert_eq!(f32s(&out), items, "{block}");
    }
}

#[test]
fn vector_source_repeats_and_converts_item_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("v.ci16");
    let text = format!(
        r#"
connections = ["src.out -> h.in", "h.out -> sink.in"]
[vars]
iq = [1, -2, 32767, -32768]
[blocks.src]
type = "vector_source"
item = "ci16"
items = "${{iq}}"
repeat = true
[blocks.h]
type = "head"
item = "ci16"
items = 5
[blocks.sink]
type = "file_sink"
item = "ci16"
path = "{}"
"#,
        out.display()
    );
    run(&text);
    let v: Vec<i16> = std::fs::read(&out)
        .expect("output")
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(v, vec![1, -2, 32767, -32768, 1, -2, 32767, -32768, 1, -2]);

    let e = load_error("[blocks.src]\ntype = \"vector_source\"\nitem = \"u8\"\nitems = [1, 256]\n");
    assert_eq!((e.line, e.column), (4, 1), "{e}");
    assert!(e.message.contains("256 is not a u8 value"), "{e}");
    let e = load_error("[blocks.src]\ntype = \"vector_source\"\nitems = [1, 2, 3]\n");
    assert!(e.message.contains("interleaved re, im pairs"), "{e}");
}

#[test]
fn null_source_gives_zeros() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("z.f32");
    run(&through(
        "type = \"null_source\"\nitem = \"f32\"",
        "type = \"head\"\nitem = \"f32\"\nitems = 777",
        "f32",
        &out,
    ));
    assert_eq!(f32s(&out), vec![0.0; 777]);
}

#[test]
fn file_source_reads_back_what_file_sink_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.cf32");
    let again = dir.path().join("again.cf32");
    run(&through(
        "type = \"signal_source\"\nfrequency = 0.01\nsample_rate = 1",
        "type = \"head\"\nitems = 10007",
        "cf32",
        &first,
    ));
    let src = format!(
        "type = \"file_source\"\npath = \"{}\"\nrepeat = true",
        first.display()
    );
    run(&through(
        &src,
        "type = \"head\"\nitems = 30021",
        "cf32",
        &again,
    ));
    let written = std::fs::read(&first).expect("first");
    assert_eq!(written.len(), 10007 * 8);
    assert_eq!(std::fs::read(&again).expect("again"), written.repeat(3));

    run(&through(
        &src.replace("repeat = true", "repeat = false"),
        "type = \"copy\"",
        "cf32",
        &again,
    ));
    assert_eq!(std::fs::read(&again).expect("again"), written);

    // A file that is not whole items, or missing, is refused when building, not a panic.
    std::fs::write(dir.path().join("odd"), [0u8; 12]).expect("write");
    for (path, want) in [
        ("odd", "not a whole number of cf32"),
        ("missing", "cannot open"),
    ] {
        let text = through(
            &format!(
                "type = \"file_source\"\npath = \"{}\"",
                dir.path().join(path).display()
            ),
            "type = \"copy\"",
            "cf32",
            &again,
        );
        let registry = weir::registry();
        let spec = FlowgraphSpec::parse(&text, "f.toml", &registry).expect("loads");
        let Err(e) = spec.build(&registry) else {
            panic!("{path} must not build");
        };
        assert!(e.message.contains(want), "{e}");
    }
}

#[test]
fn stream_duplicator_outputs_are_equal_to_the_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<_> = (0..3).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut text = String::from(
        r#"
connections = ["src.out -> h.in", "h.out -> d.in", "d.out0 -> s0.in", "d.out1 -> s1.in", "d.out2 -> s2.in"]
[blocks.src]
type = "signal_source"
frequency = 0.0123
sample_rate = 1
[blocks.h]
type = "head"
items = 50000
[blocks.d]
type = "stream_duplicator"
outputs = 3
"#,
    );
    for (i, p) in paths.iter().enumerate() {
        text += &format!(
            "[blocks.s{i}]\ntype = \"file_sink\"\npath = \"{}\"\n",
            p.display()
        );
    }
    run(&text);
    let first = std::fs::read(&paths[0]).expect("out0");
    assert_eq!(first.len(), 50000 * 8);
    for p in &paths[1..] {
        assert_eq!(std::fs::read(p).expect("output"), first);
    }
    let e = load_error(&text.replace("outputs = 3", "outputs = 9"));
    assert!(e.message.contains("must be 2 ..= 8"), "{e}");
}

#[test]
fn moving_avg_averages_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("avg.f32");
    run(&through(
        "type = \"vector_source\"\nitem = \"f32\"\nitems = [2, 4, 4, 8, 0, 0]",
        "type = \"moving_avg\"\nwidth = 2\ndecay = 0.5",
        "f32",
        &out,
    ));
    // avg = 0.5 avg + 0.5 frame, from 0: [1, 2], [2.5, 5], [1.25, 2.5].
    assert_eq!(f32s(&out), vec![1.0, 2.0, 2.5, 5.0, 1.25, 2.5]);

    let out2 = dir.path().join("avg2.f32");
    run(&through(
        "type = \"vector_source\"\nitem = \"f32\"\nitems = [2, 4, 4, 8, 0, 0, 1, 1]",
        "type = \"moving_avg\"\nwidth = 2\ndecay = 0.5\nhistory = 2",
        "f32",
        &out2,
    ));
    // One output per two frames: after frames 2 and 4 ([1.25, 2.5] then [1.125, 1.75]).
    assert_eq!(f32s(&out2), vec![2.5, 5.0, 1.125, 1.75]);

    let e = load_error(&through(
        "type = \"null_source\"\nitem = \"f32\"",
        "type = \"moving_avg\"\nwidth = 100",
        "f32",
        &out,
    ));
    assert!(e.message.contains("power of two"), "{e}");
}

#[test]
fn tag_debug_prints_the_sources_block_tags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tags.toml");
    std::fs::write(
        &path,
        r#"
connections = ["src.out -> h.in", "h.out -> dbg.in"]
[blocks.src]
type = "dmabuf_source"
samples_per_block = 1024
[blocks.h]
type = "head"
item = "ci16"
items = 3000
[blocks.dbg]
type = "tag_debug"
item = "ci16"
"#,
    )
    .expect("write");
    let out = crate::support::weir(&["run", path.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // DMA blocks start at samples 0, 1024 and 2048, each tagged with its sequence number.
    for (abs, seq) in [(0, 0), (1024, 1), (2048, 2)] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("TagDebug dbg:") && l.contains(&format!("/abs {abs} ")))
            .unwrap_or_else(|| panic!("no tag at {abs} in\n{stdout}"));
        assert!(
            line.contains(&format!("NamedUsize(\"dmabuf_block\", {seq})")),
            "{line}"
        );
        // The block's time tag is printed as text, not as an opaque payload.
        let time = format!("/abs {abs} -- dmabuf_time: block {seq} completed at ");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("TagDebug dbg:") && l.contains(&time))
            .unwrap_or_else(|| panic!("no block time at {abs} in\n{stdout}"));
        assert!(line.ends_with(&format!("first sample {abs}")), "{line}");
    }
}

#[test]
fn message_burst_through_message_copy() {
    use futuresdr::runtime::Pmt;
    use futuresdr::runtime::dev::prelude::mpsc;

    let text = r#"
connections = ["burst.out => copy.in", "copy.out => sink.in"]
[blocks.burst]
type = "message_burst"
value = 2.5
count = 5
[blocks.copy]
type = "message_copy"
[blocks.sink]
type = "message_sink"
"#;
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(text, "msg.toml", &registry).expect("loads");
    // Watch what message_copy forwards, next to the sink. The pipe goes into the flowgraph
    // before the file's blocks, so that it is initialised before the burst starts sending.
    let (tx, rx) = mpsc::channel(16);
    let mut fg = futuresdr::runtime::Flowgraph::new();
    let pipe = fg.add(futuresdr::blocks::MessagePipe::new(tx)).id();
    let mut built = spec.build_into(&registry, fg).expect("builds");
    let copy = built
        .blocks()
        .iter()
        .find(|b| b.name == "copy")
        .expect("copy")
        .id;
    let fg = built.flowgraph_mut();
    fg.message(copy, "out", pipe, "in").expect("connect");
    // The pipe never ends by itself: take the five messages, then stop.
    let running = built.start().expect("starts");
    let got: Vec<Pmt> = (0..5)
        .map(|_| futuresdr::futures::executor::block_on(rx.recv()).expect("a message"))
        .collect();
    running.stop().expect("stop");
    running.wait().expect("ends");
    assert_eq!(got, vec![Pmt::F64(2.5); 5]);
}

#[test]
fn stock_blocks_describe_themselves() {
    let registry = weir::registry();
    // (type, [(param, type, default)], inputs, outputs) with default parameters; `None` ports
    // when a required parameter decides them.
    type Param = (&'static str, &'static str, Option<&'static str>);
    let taps: [Param; 5] = [
        ("taps", "list of floats", Some("[]")),
        ("cutoff", "float", Some("0")),
        ("transition", "float", Some("0")),
        ("ripple", "float", Some("0.0001")),
        ("sample_rate", "float", Some("0")),
    ];
    let item: Param = ("item", "item type", Some("\"cf32\""));
    /// Input and output item types.
    type PortItems = (Vec<&'static str>, Vec<&'static str>);
    let cases: Vec<(&str, Vec<Param>, Option<PortItems>)> = vec![
        (
            "fir",
            [vec![item], taps.to_vec()].concat(),
            Some((vec!["cf32"], vec!["cf32"])), // described with example taps: the default (empty) ones are not a filter
        ),
        (
            "xlating_fir",
            [
                vec![
                    ("decimation", "integer", Some("1")),
                    ("center_frequency", "float", None),
                    ("sample_rate", "float", None),
                ],
                taps[..4].to_vec(),
            ]
            .concat(),
            Some((vec!["cf32"], vec!["cf32"])),
        ),
        (
            "pfb_arb_resampler",
            [
                vec![("rate", "float", None), ("filters", "integer", Some("32"))],
                taps.to_vec(),
            ]
            .concat(),
            Some((vec!["cf32"], vec!["cf32"])),
        ),
        (
            "pfb_channelizer",
            [
                vec![
                    ("channels", "integer", None),
                    ("oversample", "float", Some("1")),
                ],
                taps.to_vec(),
            ]
            .concat(),
            Some((vec!["cf32"], vec!["cf32", "cf32", "cf32"])),
        ),
        (
            "throttle",
            vec![("rate", "float", None), item],
            Some((vec!["cf32"], vec!["cf32"])),
        ),
        (
            "file_source",
            vec![
                ("path", "string", None),
                item,
                ("repeat", "boolean", Some("false")),
            ],
            Some((vec![], vec!["cf32"])),
        ),
        (
            "vector_source",
            vec![
                ("items", "list of floats", None),
                item,
                ("repeat", "boolean", Some("false")),
            ],
            Some((vec![], vec!["cf32"])),
        ),
        ("null_source", vec![item], Some((vec![], vec!["cf32"]))),
        ("copy", vec![item], Some((vec!["cf32"], vec!["cf32"]))),
        (
            "stream_duplicator",
            vec![("outputs", "integer", Some("2")), item],
            Some((vec!["cf32"], vec!["cf32", "cf32"])),
        ),
        (
            "moving_avg",
            vec![
                ("width", "integer", None),
                ("decay", "float", Some("0.1")),
                ("history", "integer", Some("1")),
            ],
            Some((vec!["f32"], vec!["f32"])),
        ),
        ("tag_debug", vec![item], Some((vec!["cf32"], vec![]))),
        ("message_copy", vec![], Some((vec![], vec![]))),
        ("message_sink", vec![], Some((vec![], vec![]))),
        (
            "message_burst",
            vec![("value", "float", None), ("count", "integer", None)],
            Some((vec![], vec![])),
        ),
    ];
    for (name, params, ports) in cases {
        let info = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} is registered"))
            .info();
        let got: Vec<Param> = info
            .params
            .iter()
            .map(|p| (p.name, p.ty.as_str(), p.default.as_deref()))
            .map(|(n, t, d)| {
                // Leak-free comparison: map to the expected table's 'static strs.
                let t: &'static str = params
                    .iter()
                    .find(|e| e.0 == n)
                    .map_or("?", |e| if e.1 == t { e.1 } else { "mismatch" });
                let d = params
                    .iter()
                    .find(|e| e.0 == n)
                    .and_then(|e| if e.2 == d { e.2 } else { Some("mismatch") });
                (n, t, d)
            })
            .collect();
        assert_eq!(got, params, "{name}: {:?}", info.params);
        assert!(!info.doc.is_empty(), "{name}");
        match (ports, &info.ports) {
            (None, p) => assert!(p.is_none(), "{name}: {p:?}"),
            (Some((ins, outs)), Some(p)) => {
                let items = |v: &[(String, String)]| -> Vec<String> {
                    v.iter().map(|(_, t)| t.clone()).collect()
                };
                assert_eq!(items(&p.inputs), ins, "{name}");
                assert_eq!(items(&p.outputs), outs, "{name}");
            }
            (Some(_), None) => panic!("{name} has no ports with default parameters"),
        }
    }
    // Ports follow the parameters.
    let dup = registry.get("stream_duplicator").expect("dup");
    let p = dup
        .resolve([
            ("outputs", weir_core::Value::Int(4)),
            ("item", weir_core::Value::Str("f32".into())),
        ])
        .expect("resolves");
    let ports = (dup.ports)(&p).expect("ports");
    let names: Vec<_> = ports
        .outputs
        .iter()
        .map(|o| (o.name, o.item.name()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("out0", "f32"),
            ("out1", "f32"),
            ("out2", "f32"),
            ("out3", "f32")
        ]
    );
    let fir = registry.get("fir").expect("fir");
    let p = fir
        .resolve([("taps", weir_core::Value::List(vec![1.0; 7]))])
        .expect("resolves");
    assert_eq!((fir.ports)(&p).expect("ports").inputs[0].min_items, 7);
    let mc = registry.get("message_copy").expect("mc");
    let ports = (mc.ports)(&weir_core::Params::new()).expect("ports");
    assert_eq!(
        (ports.message_inputs, ports.message_outputs),
        (vec!["in"], vec!["out"])
    );
}

#[test]
fn vector_sink_hands_its_items_to_the_embedding_application() {
    let text = r#"
connections = ["src.out -> keep.in"]
[blocks.src]
type = "vector_source"
item = "f32"
items = [1.5, -2, 3.25, 0]
[blocks.keep]
type = "vector_sink"
item = "f32"
key = "stock_blocks::vector_sink"
"#;
    run(text);
    // The wrong item type is an error, and leaves the items there.
    let e = weir_plugin_dsp::vector_sink::take::<weir_core::Cf32>("stock_blocks::vector_sink")
        .expect_err("f32 items, not cf32");
    assert!(e.contains("holds other items than"), "{e}");
    assert_eq!(
        weir_plugin_dsp::vector_sink::take::<f32>("stock_blocks::vector_sink"),
        Ok(vec![1.5, -2.0, 3.25, 0.0])
    );
    // Taken: gone.
    let e = weir_plugin_dsp::vector_sink::take::<f32>("stock_blocks::vector_sink")
        .expect_err("taken already");
    assert!(
        e.contains("no finished vector_sink with key `stock_blocks::vector_sink`"),
        "{e}"
    );
}

#[test]
fn more_blocks_describe_themselves() {
    // (type, [(param, type, default)], ports with default parameters): ports only for blocks
    // without required parameters (those describe theirs only once the parameters are given).
    type Param = (&'static str, &'static str, Option<&'static str>);
    type PortItems = (Vec<&'static str>, Vec<&'static str>);
    let item: Param = ("item", "item type", Some("\"cf32\""));
    let address: Param = ("address", "string", None);
    let cases: Vec<(&str, Vec<Param>, Option<PortItems>)> = vec![
        (
            "fft",
            vec![
                ("len", "integer", None),
                ("direction", "forward|inverse", Some("\"forward\"")),
                ("shift", "boolean", Some("false")),
                ("normalize", "float", Some("0")),
            ],
            None,
        ),
        (
            "signal_source",
            vec![
                ("frequency", "float", None),
                ("sample_rate", "float", None),
                ("amplitude", "float", Some("1")),
                ("phase", "float", Some("0")),
            ],
            None,
        ),
        (
            "message_strobe",
            vec![
                ("value", "float", None),
                ("interval", "float", Some("1")),
                ("count", "integer", Some("0")),
            ],
            None,
        ),
        ("head", vec![("items", "integer", None), item], None),
        ("null_sink", vec![item], Some((vec!["cf32"], vec![]))),
        (
            "file_sink",
            vec![
                ("path", "string", None),
                item,
                ("items", "integer", Some("0")),
                ("o_direct", "boolean", Some("false")),
            ],
            None,
        ),
        (
            "vector_sink",
            vec![item, ("key", "string", Some("\"\""))],
            Some((vec!["cf32"], vec![])),
        ),
        (
            "zmq_pub_sink",
            // `linger`: weir's own zmq_pub_sink (main's f168d8c) bounds ZeroMQ's linger.
            vec![address, item, ("linger", "float", Some("1"))],
            None,
        ),
        (
            "zmq_sub_source",
            vec![address, item, ("timeout", "float", Some("10"))],
            None,
        ),
        (
            "tcp_sink",
            vec![address, item, ("timeout", "float", Some("0"))],
            None,
        ),
        (
            "tcp_source",
            vec![
                address,
                item,
                ("timeout", "float", Some("10")),
                ("on_close", "end|error", Some("\"end\"")),
            ],
            None,
        ),
    ];
    let registry = weir::registry();
    for (name, params, ports) in cases {
        let info = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} is registered"))
            .info();
        assert_eq!(info.type_name, name);
        assert!(info.doc.len() > 10, "{name}: {:?}", info.doc);
        let got: Vec<(String, String, Option<String>)> = info
            .params
            .iter()
            .map(|p| (p.name.to_string(), p.ty.clone(), p.default.clone()))
            .collect();
        let want: Vec<(String, String, Option<String>)> = params
            .iter()
            .map(|(n, t, d)| (n.to_string(), t.to_string(), d.map(str::to_string)))
            .collect();
        assert_eq!(got, want, "{name}");
        if let Some((ins, outs)) = ports {
            let p = info
                .ports
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: ports"));
            let items = |v: &[(String, String)]| -> Vec<String> {
                v.iter().map(|(_, t)| t.clone()).collect()
            };
            assert_eq!(items(&p.inputs), ins, "{name}");
            assert_eq!(items(&p.outputs), outs, "{name}");
        }
    }
}

/// Runs `text` and takes the items of its `vector_sink` with `key`.
fn run_and_take<T: 'static>(text: &str, key: &str) -> Vec<T> {
    run(text);
    weir_plugin_dsp::vector_sink::take::<T>(key).expect("vector_sink items")
}

/// `signal_source` (`tone`, cf32, 10 kHz sample rate) -> BLOCK -> head -> vector_sink `key`.
fn tone_through(tone: &str, block: &str, item: &str, items: usize, key: &str) -> String {
    format!(
        r#"
connections = ["src.out -> b.in", "b.out -> head.in", "head.out -> keep.in"]
[blocks.src]
type = "signal_source"
sample_rate = 10000
{tone}
[blocks.b]
{block}
{}[blocks.keep]
type = "vector_sink"
item = "{item}"
key = "{key}"
"#,
        head_block(item, items)
    )
}

#[test]
fn fir_cutoff_passes_the_passband_and_stops_the_stopband() {
    // Low-pass at 1 kHz (transition 500 Hz, ripple 1e-4) at 10 kHz: a 500 Hz tone passes with
    // gain 1, a 3 kHz tone is attenuated by the design's ~80 dB. Every output has a full window
    // of taps, so there is no start-up transient.
    let lp = "type = \"fir\"\ncutoff = 1000\ntransition = 500\nsample_rate = 10000";
    let pass: Vec<weir_core::Cf32> = run_and_take(
        &tone_through("frequency = 500", lp, "cf32", 2000, "stock::fir_pass"),
        "stock::fir_pass",
    );
    assert_eq!(pass.len(), 2000);
    for (k, y) in pass.iter().enumerate() {
        assert!((y.norm() - 1.0).abs() < 2e-3, "passband output {k}: |{y}|");
    }
    let stop: Vec<weir_core::Cf32> = run_and_take(
        &tone_through("frequency = 3000", lp, "cf32", 2000, "stock::fir_stop"),
        "stock::fir_stop",
    );
    assert_eq!(stop.len(), 2000);
    for (k, y) in stop.iter().enumerate() {
        assert!(y.norm() < 1e-3, "stopband output {k}: |{y}| = {}", y.norm());
    }
    // The same 3 kHz tone with the cutoff above it passes: the cutoff is what stopped it.
    let wide = "type = \"fir\"\ncutoff = 4000\ntransition = 500\nsample_rate = 10000";
    let passed: Vec<weir_core::Cf32> = run_and_take(
        &tone_through("frequency = 3000", wide, "cf32", 2000, "stock::fir_wide"),
        "stock::fir_wide",
    );
    for (k, y) in passed.iter().enumerate() {
        assert!(
            (y.norm() - 1.0).abs() < 2e-3,
            "wide passband output {k}: |{y}|"
        );
    }
}

#[test]
fn fft_direction_and_normalize_take_effect() {
    // x = δ[n − 1] over 4 points: forward X[k] = e^{−j2πk/4} = [1, −j, −1, j]; inverse
    // e^{+j2πk/4} = [1, j, −1, −j]; `normalize` scales every output.
    let fft = |params: &str, key: &str| -> Vec<(f32, f32)> {
        let text = format!(
            r#"
connections = ["src.out -> t.in", "t.out -> keep.in"]
[blocks.src]
type = "vector_source"
items = [0, 0, 1, 0, 0, 0, 0, 0]
[blocks.t]
type = "fft"
len = 4
{params}
[blocks.keep]
type = "vector_sink"
key = "{key}"
"#
        );
        run_and_take::<weir_core::Cf32>(&text, key)
            .iter()
            .map(|c| (c.re, c.im))
            .collect()
    };
    let check = |got: Vec<(f32, f32)>, want: [(f32, f32); 4]| {
        assert_eq!(got.len(), 4);
        for (g, w) in got.iter().zip(want) {
            assert!(
                close(g.0, w.0) && close(g.1, w.1),
                "{got:?}, expected {want:?}"
            );
        }
    };
    check(
        fft("", "stock::fft_fwd"),
        [(1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (0.0, 1.0)],
    );
    check(
        fft("direction = \"inverse\"", "stock::fft_inv"),
        [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)],
    );
    check(
        fft(
            "direction = \"inverse\"\nnormalize = 0.25",
            "stock::fft_inv_norm",
        ),
        [(0.25, 0.0), (0.0, 0.25), (-0.25, 0.0), (0.0, -0.25)],
    );
    // An unknown direction is refused when the flowgraph is loaded (what `weir check` refuses),
    // naming the parameter.
    let registry = weir::registry();
    let e = FlowgraphSpec::parse(
        "connections = [\"s.out -> t.in\", \"t.out -> n.in\"]\n[blocks.s]\ntype = \"null_source\"\n\
         [blocks.n]\ntype = \"null_sink\"\n[blocks.t]\ntype = \"fft\"\nlen = 4\ndirection = \"backward\"\n",
        "bad.toml",
        &registry,
    )
    .expect_err("refused at load time");
    assert_eq!(e.block.as_deref(), Some("t"), "{e}");
    assert_eq!(e.line, 9, "at `direction`: {e}");
    assert!(e.message.contains("`forward` or `inverse`"), "{e}");
    assert!(e.message.contains("direction"), "{e}");
}

#[test]
fn signal_source_amplitude_and_phase_take_effect() {
    // y[n] = a · e^{j(2π f/fs n + φ)}: 1 kHz at 8 kHz, a = 0.5, φ = π/3.
    let text = r#"
connections = ["src.out -> head.in", "head.out -> keep.in"]
[blocks.src]
type = "signal_source"
frequency = 1000
sample_rate = 8000
amplitude = 0.5
phase = 1.0471975511965976
[blocks.head]
type = "head"
items = 1000
[blocks.keep]
type = "vector_sink"
key = "stock::signal_source"
"#;
    let y: Vec<weir_core::Cf32> = run_and_take(text, "stock::signal_source");
    assert_eq!(y.len(), 1000);
    for (n, v) in y.iter().enumerate() {
        let p = std::f64::consts::TAU * 1000.0 / 8000.0 * n as f64 + std::f64::consts::PI / 3.0;
        let (re, im) = (0.5 * p.cos(), 0.5 * p.sin());
        assert!(
            (f64::from(v.re) - re).abs() < 1e-4 && (f64::from(v.im) - im).abs() < 1e-4,
            "sample {n}: {v}, expected {re} + {im}j"
        );
    }
}

#[test]
fn spectrum_in_parallel_equals_serial_and_finds_the_bin() {
    // A tone at exactly bin 5 of 64 (10000 · 5 / 64 Hz), unit amplitude: |X[5]| = 64, so
    // 10·log10(|X|²/64²) = 0 dB there and far below elsewhere.
    let spectrum = |parallel: bool, key: &str| -> Vec<f32> {
        run_and_take(
            &tone_through(
                "frequency = 781.25",
                &format!("type = \"spectrum\"\nlen = 64\nparallel = {parallel}"),
                "f32",
                64 * 50,
                key,
            ),
            key,
        )
    };
    let serial = spectrum(false, "stock::spectrum_serial");
    let parallel = spectrum(true, "stock::spectrum_parallel");
    assert_eq!(parallel.len(), 64 * 50);
    assert_eq!(
        parallel, serial,
        "frames in parallel give the serial result"
    );
    for (f, frame) in parallel.chunks_exact(64).enumerate() {
        assert!(frame[5].abs() < 0.01, "frame {f}: bin 5 at {} dB", frame[5]);
        for (k, db) in frame.iter().enumerate().filter(|(k, _)| *k != 5) {
            assert!(*db < -60.0, "frame {f}: bin {k} at {db} dB");
        }
    }
}

#[test]
fn dc_blocker_from_toml_removes_a_constant() {
    // A constant 1: y[0] = 1, then y[n] = α y[n−1] = α^n (the state starts at zero).
    let text = r#"
connections = ["src.out -> dc.in", "dc.out -> head.in", "head.out -> keep.in"]
[blocks.src]
type = "vector_source"
item = "f32"
items = [1.0]
repeat = true
[blocks.dc]
type = "dc_blocker"
item = "f32"
alpha = 0.9
[blocks.head]
type = "head"
item = "f32"
items = 200
[blocks.keep]
type = "vector_sink"
item = "f32"
key = "stock::dc_blocker"
"#;
    let y: Vec<f32> = run_and_take(text, "stock::dc_blocker");
    assert_eq!(y.len(), 200);
    for (n, v) in y.iter().enumerate() {
        let want = 0.9f64.powi(n as i32) as f32;
        assert!((v - want).abs() < 1e-5, "sample {n}: {v}, expected {want}");
    }
    assert!(y[199].abs() < 1e-8, "DC removed");
}

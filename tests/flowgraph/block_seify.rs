//! `seify_source` / `seify_sink` on seify's dummy driver: through the registry and the `weir`
//! binary, settings changed while running and read back, bad device arguments refused.

use std::time::{Duration, Instant};

use futuresdr::runtime::Pmt;
use weir_core::{FlowgraphSpec, Value};

use crate::support::{head_to_file, param_names, run, start, weir};

fn load(text: &str) -> Result<FlowgraphSpec, weir_core::LoadError> {
    FlowgraphSpec::parse(text, "seify.toml", &weir::registry())
}

/// A `seify_source` on the dummy driver at 100 MHz, 1 MS/s, gain 10 (a block's body).
const DUMMY_SOURCE: &str = r#"type = "seify_source"
args = "driver=dummy"
frequency = 100e6
sample_rate = 1e6
gain = 10
"#;

fn dummy_to_file(path: &std::path::Path, items: u64) -> String {
    format!(
        r#"
connections = ["src.out -> head.in", "head.out -> sink.in"]
[blocks.src]
{DUMMY_SOURCE}{}"#,
        head_to_file("cf32", items, path)
    )
}

/// The dummy driver delivers zeros: the file holds exactly `items` of them.
fn assert_zeros(path: &std::path::Path, items: u64) {
    let bytes = std::fs::read(path).expect("output file");
    assert_eq!(bytes.len() as u64, items * 8);
    assert!(bytes.iter().all(|b| *b == 0));
}

#[test]
fn seify_blocks_describe_themselves() {
    let registry = weir::registry();
    for name in ["seify_source", "seify_sink"] {
        let d = registry.get(name).expect(name);
        assert_eq!(
            param_names(d),
            [
                "args",
                "frequency",
                "sample_rate",
                "gain",
                "antenna",
                "bandwidth",
                "channels"
            ]
        );
        assert!(d.doc.contains("seify"), "{}", d.doc);
        let p = d
            .resolve([
                ("args", Value::Str("driver=dummy".into())),
                ("frequency", Value::Float(1e8)),
                ("sample_rate", Value::Float(1e6)),
            ])
            .expect("resolves");
        let ports = (d.ports)(&p).expect("ports");
        assert!(ports.message_inputs.contains(&"freq"));
        assert!(ports.message_inputs.contains(&"gain"));
        let streams = if name == "seify_source" {
            &ports.outputs
        } else {
            &ports.inputs
        };
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].item, weir_core::ItemType::Cf32);
        assert_eq!(
            streams[0].name,
            if name == "seify_source" { "out" } else { "in" }
        );
        let mut two = p.clone();
        two.set("channels", Value::Str("0, 1".into()));
        let ports = (d.ports)(&two).expect("ports");
        let streams = if name == "seify_source" {
            ports.outputs
        } else {
            ports.inputs
        };
        let names: Vec<&str> = streams.iter().map(|s| s.name).collect();
        if name == "seify_source" {
            assert_eq!(names, ["out0", "out1"]);
        } else {
            assert_eq!(names, ["in0", "in1"]);
        }
    }
}

#[test]
fn dummy_source_runs_through_the_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.cf32");
    let report = run("seify.toml", &dummy_to_file(&out, 100_000));
    assert_eq!(report.block("sink").expect("sink").items_in, 100_000);
    assert_zeros(&out, 100_000);
}

#[test]
fn dummy_source_runs_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.cf32");
    let file = dir.path().join("seify.toml");
    std::fs::write(&file, dummy_to_file(&out, 100_000)).expect("write flowgraph");
    let run = weir(&["run", file.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("seify_source"), "{stdout}");
    assert_zeros(&out, 100_000);
}

#[test]
fn dummy_sink_takes_a_finite_stream() {
    let text = r#"
connections = ["tone.out -> head.in", "head.out -> radio.in"]
[blocks.tone]
type = "signal_source"
frequency = 1000
sample_rate = 1e6
[blocks.head]
type = "head"
item = "cf32"
items = 50000
[blocks.radio]
type = "seify_sink"
args = "driver=dummy"
frequency = 433e6
sample_rate = 1e6
"#;
    let report = run("seify.toml", text);
    assert_eq!(report.block("head").expect("head").items_out, 50_000);
}

/// Frequency and gain set through the message ports while samples flow, read back through the
/// same ports (a null message asks for the device's current value).
#[test]
fn frequency_and_gain_change_while_running() {
    let text = format!(
        r#"
connections = ["src.out -> sink.in", "strobe.out => src.gain"]
[blocks.src]
{DUMMY_SOURCE}[blocks.sink]
type = "null_sink"
item = "cf32"
[blocks.strobe]
type = "message_strobe"
value = 33
interval = 0.01
count = 1
"#
    );
    let running = start("seify.toml", &text);
    // A null message asks for the current value.
    let query = |port: &str| running.call("src", port, Pmt::Null).expect("query");
    let set = |port: &str, value: Pmt| running.call("src", port, value).expect("set");

    assert_eq!(query("freq"), Pmt::F64(100e6));
    assert_eq!(set("freq", Pmt::F64(102.5e6)), Pmt::Ok);
    assert_eq!(query("freq"), Pmt::F64(102.5e6));

    // The strobe's message (gain 33) arrives through the flowgraph's message connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let gain = query("gain");
        if gain == Pmt::F64(33.0) {
            break;
        }
        assert_eq!(
            gain,
            Pmt::F64(10.0),
            "the initial gain until the strobe fires"
        );
        assert!(Instant::now() < deadline, "the strobe's gain never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(set("gain", Pmt::U32(7)), Pmt::Ok);
    assert_eq!(query("gain"), Pmt::F64(7.0));
    // The dummy device refuses a negative gain: the answer says so, the gain stays, and the
    // flowgraph keeps running (FutureSDR alone would end it).
    assert_eq!(set("gain", Pmt::F64(-5.0)), Pmt::InvalidValue);
    assert_eq!(query("gain"), Pmt::F64(7.0));

    running.stop().expect("stop");
    let report = running.wait().expect("stops cleanly");
    assert!(report.block("sink").expect("sink").items_in > 0);
    assert_eq!(
        report
            .block("src")
            .expect("src")
            .counter("rejected_messages"),
        Some(1)
    );
}

#[test]
fn bad_args_name_the_block() {
    let text = r#"
connections = ["radio.out -> sink.in"]
[blocks.radio]
type = "seify_source"
args = "ARGS"
frequency = 100e6
sample_rate = 1e6
[blocks.sink]
type = "null_sink"
item = "cf32"
"#;
    for (args, expected) in [
        ("driver=nosuch", "no seify device for \"driver=nosuch\""),
        // Without a driver, seify would fall back to the dummy device: refused.
        ("serial=1234", "say \"driver=dummy\""),
    ] {
        let spec = load(&text.replace("ARGS", args)).expect("loads");
        let e = spec.build(&weir::registry()).err().expect("no such device");
        assert_eq!(e.block.as_deref(), Some("radio"), "{e}");
        assert!(e.message.contains(expected), "{e}");
        assert!(e.to_string().contains("block `radio`"), "{e}");
    }

    // The dummy device has one channel: asking for channel 1 fails while configuring it.
    let spec = load(
        &text
            .replace("ARGS", "driver=dummy")
            .replace("sample_rate = 1e6", "sample_rate = 1e6\nchannels = \"1\""),
    )
    .expect("loads");
    let e = spec.build(&weir::registry()).err().expect("no channel 1");
    assert!(e.to_string().contains("block `radio`"), "{e}");
    assert!(e.message.contains("seify device \"driver=dummy\""), "{e}");

    // Through the CLI: an error, not a panic.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text.replace("ARGS", "driver=nosuch")).expect("write");
    let run = weir(&["run", file.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("block `radio`"), "{stderr}");
    assert!(stderr.contains("no seify device"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `seify_sink` frequency and gain set by message while samples flow, read back from the
/// dummy device through the sink's `config` port (its `freq`/`gain` ports only set).
#[test]
fn sink_frequency_and_gain_change_by_message() {
    let text = r#"
connections = ["tone.out -> radio.in"]
[blocks.tone]
type = "signal_source"
frequency = 1000
sample_rate = 1e6
[blocks.radio]
type = "seify_sink"
args = "driver=dummy"
frequency = 433e6
sample_rate = 1e6
gain = 10
"#;
    let running = start("seify.toml", text);
    let read_back = |key: &str| match running.call("radio", "config", Pmt::Null) {
        Ok(Pmt::MapStrPmt(m)) => m.get(key).cloned(),
        other => panic!("config: {other:?}"),
    };
    assert_eq!(read_back("freq"), Some(Pmt::F64(433e6)));
    assert_eq!(read_back("gain"), Some(Pmt::F64(10.0)));
    assert_eq!(
        running
            .call("radio", "freq", Pmt::F64(434.5e6))
            .expect("set"),
        Pmt::Ok
    );
    assert_eq!(
        running.call("radio", "gain", Pmt::F64(21.0)).expect("set"),
        Pmt::Ok
    );
    assert_eq!(read_back("freq"), Some(Pmt::F64(434.5e6)));
    assert_eq!(read_back("gain"), Some(Pmt::F64(21.0)));
    running.stop().expect("stop");
    running.wait().expect("stops cleanly");
}

//! `mixer`: output against the NCO formula, and a frequency change by message — through the
//! block's message handler directly, and through a running weir flowgraph.

use std::f64::consts::TAU;
use std::sync::Arc;

use futuresdr::runtime::Pmt;
use futuresdr::runtime::mocker::{Mocker, Reader, Writer};
use weir_core::testing::{start_toml, wait_until};
use weir_core::{Cf32, ItemType, Registry, Value};
use weir_plugin_dsp::{DspPlugin, Mixer, Nco, mixer};

use crate::support::{assert_in_out, assert_note, cf32_file, items_in, param_names};

type Mocked = Mixer<Reader<Cf32>, Writer<Cf32>>;

fn close(a: Cf32, b: (f64, f64), what: &str) {
    assert!(
        (f64::from(a.re) - b.0).abs() < 2e-6 && (f64::from(a.im) - b.1).abs() < 2e-6,
        "{what}: {a} vs {b:?}"
    );
}

/// Runs `input` through the mocked block and returns its output.
fn run(m: &mut Mocker<Mocked>, input: Vec<Cf32>) -> Vec<Cf32> {
    weir_core::testing::run_mocked(m, input, |k| k.input(), |k| k.output())
}

#[test]
fn output_is_the_nco_and_a_frequency_message_retunes_phase_continuously() {
    let fs = 48_000.0;
    let (f1, f2, phi) = (1000.0, -3000.0, 0.5);
    let mut m = Mocker::new(Mocked::new(Nco::new(f1, fs, phi), Arc::default()));
    // Input 2 − 1j: the output is that times the oscillator.
    let x = Cf32::new(2.0, -1.0);
    let first = run(&mut m, vec![x; 1000]);
    assert_eq!(first.len(), 1000);
    let expected = |angle: f64| {
        let (s, c) = angle.sin_cos();
        (2.0 * c + s, 2.0 * s - c) // (2 − j)(c + js)
    };
    for (n, y) in first.iter().enumerate() {
        close(
            *y,
            expected(TAU * f1 * n as f64 / fs + phi),
            &format!("sample {n}"),
        );
    }

    // A query (a non-number) answers with the frequency and changes nothing.
    assert_eq!(m.post("frequency", Pmt::Null).expect("query"), Pmt::F64(f1));
    assert_eq!(
        m.post("frequency", Pmt::F64(f64::NAN)).expect("refused"),
        Pmt::InvalidValue
    );
    assert_eq!(
        m.post("frequency", Pmt::F64(f2)).expect("set"),
        Pmt::F64(f2)
    );
    assert_eq!(m.state().current_frequency(), f2);

    // From the next sample on, the phase advances by the new increment, starting where the
    // old one left off.
    let second = run(&mut m, vec![x; 1000]);
    let start = TAU * f1 * 1000.0 / fs + phi;
    for (k, y) in second.iter().enumerate() {
        close(
            *y,
            expected(start + TAU * f2 * k as f64 / fs),
            &format!("sample {} after the change", 1000 + k),
        );
    }
    // No jump at the change: sample 1000 is one old increment past sample 999 (its phase was
    // due before the message), and every step from there on is the new increment.
    let step = |a: Cf32, b: Cf32| f64::from((b / a).arg());
    assert!((step(first[999], second[0]) - TAU * f1 / fs).abs() < 1e-5);
    for k in 1..second.len() {
        let d = step(second[k - 1], second[k]);
        assert!((d - TAU * f2 / fs).abs() < 1e-5, "step {k}: {d}");
    }
}

#[test]
fn phase_stays_accurate_over_a_long_run() {
    // 10⁷ samples at an awkward frequency: the wrapped f64 phase keeps the output on the exact
    // formula (an f32 phase accumulator would be off by radians by now).
    let fs = 1e6;
    let f = 123_456.789;
    let mut m = Mocker::new(Mocked::new(Nco::new(f, fs, 0.0), Arc::default()));
    let n = 10_000_000usize;
    let chunk = 1_000_000;
    let mut last = Vec::new();
    for _ in 0..n / chunk {
        last = run(&mut m, vec![Cf32::new(1.0, 0.0); chunk]);
    }
    for (k, y) in last.iter().enumerate().skip(chunk - 100) {
        let idx = (n - chunk + k) as f64;
        // f·n/fs in cycles, reduced exactly enough in f64 for this range.
        let cycles = (f * idx / fs).fract();
        let (s, c) = (TAU * cycles).sin_cos();
        assert!(
            (f64::from(y.re) - c).abs() < 1e-5 && (f64::from(y.im) - s).abs() < 1e-5,
            "sample {idx}: {y} vs ({c}, {s})"
        );
    }
}

#[test]
fn frequency_message_through_a_running_flowgraph() {
    // A tone at fs/64 mixed down by the same frequency is DC (1 + 0j). Retuning the mixer to 0
    // by message lets the tone through: from one sample on, the output turns by 2π/64 per sample.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mixed.cf32");
    let text = format!(
        r#"
connections = ["src.out -> mix.in", "mix.out -> sink.in"]
[blocks.src]
type = "signal_source"
frequency = 1000.0
sample_rate = 64000.0
[blocks.mix]
type = "mixer"
frequency = -1000.0
sample_rate = 64000.0
[blocks.sink]
type = "file_sink"
path = "{}"
"#,
        out.display()
    );
    let registry = Registry::new().with_plugin(&DspPlugin);
    let running = start_toml(&registry, "mixer.toml", &text);
    wait_until("samples at DC", || items_in(&running, "sink") >= 50_000);
    assert_eq!(
        running
            .call("mix", "frequency", Pmt::F64(0.0))
            .expect("handled"),
        Pmt::F64(0.0)
    );
    let at_change = items_in(&running, "sink");
    wait_until("samples after the change", || {
        items_in(&running, "sink") >= at_change + 50_000
    });
    running.stop().expect("stop");
    let report = running.wait().expect("ends cleanly");
    assert_note(
        &report,
        "mix",
        "frequency",
        "0",
        "the message retuned the mixer",
    );

    let y = cf32_file(&out);
    assert!(y.len() >= 100_000);
    let step = std::f32::consts::TAU / 64.0;
    // Every sample has magnitude 1, and every per-sample rotation is either 0 (before) or 2π/64
    // (after), switching exactly once.
    let mut switch = None;
    for n in 1..y.len() {
        assert!((y[n].norm() - 1.0).abs() < 1e-3, "sample {n}: {}", y[n]);
        let d = (y[n] / y[n - 1]).arg();
        match switch {
            None if d.abs() < 1e-3 => {}
            None if (d - step).abs() < 1e-3 => switch = Some(n),
            Some(_) if (d - step).abs() < 1e-3 => {}
            _ => panic!("sample {n}: rotation {d} (switched at {switch:?})"),
        }
    }
    let switch = switch.expect("the change shows in the output");
    assert!(switch >= 50_000, "switched at {switch}");
    // Before the switch the output is DC at the source's starting phase: 1 + 0j.
    for (n, v) in y[..switch].iter().enumerate() {
        assert!((v - Cf32::new(1.0, 0.0)).norm() < 1e-3, "sample {n}: {v}");
    }
}

#[test]
fn self_description_and_bad_parameters() {
    let d = mixer::descriptor();
    assert_eq!(param_names(&d), ["frequency", "sample_rate", "phase"]);
    assert_eq!(d.params[0].default, None);
    assert_eq!(d.params[1].default, None);
    // sample_rate > 0: 0 excluded, every positive rate allowed.
    assert_eq!(d.params[1].min, Some(0.0));
    assert!(d.params[1].min_exclusive);
    assert_eq!(d.params[2].default, Some(Value::Float(0.0)));
    let p = d
        .resolve([
            ("frequency", Value::Float(100.0)),
            ("sample_rate", Value::Int(1000)),
        ])
        .expect("resolves");
    let ports = (d.ports)(&p).expect("ports");
    assert_in_out(&ports, ItemType::Cf32, ItemType::Cf32);
    assert_eq!(ports.message_inputs, ["frequency"]);
    let e = d
        .resolve([
            ("frequency", Value::Float(100.0)),
            ("sample_rate", Value::Float(0.0)),
        ])
        .expect_err("zero rate");
    assert!(e.to_string().contains("sample_rate"), "{e}");
    let e = d
        .resolve([("frequency", Value::Float(100.0))])
        .expect_err("no rate");
    assert!(e.to_string().contains("sample_rate"), "{e}");
}

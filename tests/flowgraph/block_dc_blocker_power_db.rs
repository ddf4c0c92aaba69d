//! `dc_blocker` and `power_db` against hand-computed values, through real FutureSDR flowgraphs.

use std::f64::consts::TAU;
use std::sync::Arc;

use futuresdr::runtime::__private::KernelInterface;
use futuresdr::runtime::dev::{CpuSample, DefaultCpuReader, DefaultCpuWriter, Kernel};
use weir_core::{BuildError, Cf32, ItemType, Value};
use weir_plugin_dsp::{DcBlocker, DcFilter, PowerDb, ToDb, dc_blocker, power_db};

use crate::support::{assert_in_out, param_names};

/// VectorSource → `block` → VectorSink.
fn run_through<A, B, K>(input: Vec<A>, block: K) -> Vec<B>
where
    A: CpuSample + Copy + Sync + std::fmt::Debug,
    B: CpuSample + Copy + Sync + std::fmt::Debug,
    K: Kernel + KernelInterface + 'static,
    K: HasPorts<A, B>,
{
    weir_core::testing::run_through(input, block, K::in_port, K::out_port)
}

/// The circular-buffer ports of the blocks under test.
trait HasPorts<A: CpuSample, B: CpuSample> {
    fn in_port(&mut self) -> &mut DefaultCpuReader<A>;
    fn out_port(&mut self) -> &mut DefaultCpuWriter<B>;
}

impl<T: dc_blocker::DcItem> HasPorts<T, T> for DcBlocker<T> {
    fn in_port(&mut self) -> &mut DefaultCpuReader<T> {
        self.input()
    }
    fn out_port(&mut self) -> &mut DefaultCpuWriter<T> {
        self.output()
    }
}

impl HasPorts<Cf32, f32> for PowerDb {
    fn in_port(&mut self) -> &mut DefaultCpuReader<Cf32> {
        self.input()
    }
    fn out_port(&mut self) -> &mut DefaultCpuWriter<f32> {
        self.output()
    }
}

/// The filter's response H(e^jω) = (1 − e^−jω) / (1 − α e^−jω).
fn response(alpha: f64, w: f64) -> (f64, f64) {
    let (s, c) = (-w).sin_cos();
    let (nr, ni) = (1.0 - c, -s);
    let (dr, di) = (1.0 - alpha * c, -alpha * s);
    let d = dr * dr + di * di;
    ((nr * dr + ni * di) / d, (ni * dr - nr * di) / d)
}

#[test]
fn dc_blocker_removes_the_offset_and_keeps_the_tone() {
    let alpha = 0.99;
    let w = TAU * 0.05;
    let (dc_re, dc_im, amp) = (0.5, -0.25, 0.3);
    let n = 6000;
    let x: Vec<Cf32> = (0..n)
        .map(|k| {
            let (s, c) = (w * k as f64).sin_cos();
            Cf32::new((dc_re + amp * c) as f32, (dc_im + amp * s) as f32)
        })
        .collect();
    let y = run_through::<Cf32, Cf32, _>(
        x.clone(),
        DcBlocker::<Cf32>::new(DcFilter::new(alpha as f32), Arc::default()),
    );
    assert_eq!(y.len(), n);
    // The recursion by hand for the first samples (state starts at zero).
    assert_eq!(y[0], x[0]);
    assert!((y[1] - (x[1] - x[0] + y[0] * alpha as f32)).norm() < 1e-6);
    // Settled (α^2000 ≈ 2e-9): the output is exactly the tone through H(e^jω), no DC.
    let (hr, hi) = response(alpha, w);
    let gain = (hr * hr + hi * hi).sqrt();
    assert!(
        (gain - 1.0).abs() < 0.01,
        "|H| = {gain}: the tone's amplitude is kept"
    );
    for (k, v) in y.iter().enumerate().skip(2000) {
        let (s, c) = (w * k as f64).sin_cos();
        let (er, ei) = (amp * (hr * c - hi * s), amp * (hr * s + hi * c));
        assert!(
            (f64::from(v.re) - er).abs() < 1e-4 && (f64::from(v.im) - ei).abs() < 1e-4,
            "sample {k}: {v} vs ({er}, {ei})"
        );
        assert!(
            (f64::from(v.norm()) - amp * gain).abs() < 1e-4,
            "sample {k}"
        );
    }
    // The mean over whole periods (20 samples each) is the DC left: none.
    let tail = &y[2000..];
    let mean = tail.iter().sum::<Cf32>() / tail.len() as f32;
    assert!(mean.norm() < 1e-4, "DC left: {mean}");
}

#[test]
fn dc_blocker_on_real_samples() {
    let alpha = 0.995f32;
    let n = 8000;
    let w = TAU / 25.0;
    let x: Vec<f32> = (0..n)
        .map(|k| (1.5 + 0.2 * (w * k as f64).sin()) as f32)
        .collect();
    let y = run_through::<f32, f32, _>(
        x.clone(),
        DcBlocker::<f32>::new(DcFilter::new(alpha), Arc::default()),
    );
    // Sample for sample against the recursion in f64.
    let (mut xp, mut yp) = (0.0f64, 0.0f64);
    for (k, (xi, yi)) in x.iter().zip(&y).enumerate() {
        yp = f64::from(*xi) - xp + f64::from(alpha) * yp;
        xp = f64::from(*xi);
        assert!(
            (f64::from(*yi) - yp).abs() < 1e-4,
            "sample {k}: {yi} vs {yp}"
        );
    }
    // Settled (0.995^4000 ≈ 2e-9): mean over whole periods is 0, peak is the tone's.
    let tail = &y[4000..];
    let mean: f32 = tail.iter().sum::<f32>() / tail.len() as f32;
    assert!(mean.abs() < 1e-4, "DC left: {mean}");
    let peak = tail.iter().fold(0f32, |m, v| m.max(v.abs()));
    let (hr, hi) = response(f64::from(alpha), w);
    let gain = (hr * hr + hi * hi).sqrt();
    assert!((f64::from(peak) - 0.2 * gain).abs() < 1e-3, "peak {peak}");
}

#[test]
fn power_db_by_hand() {
    let x = vec![
        Cf32::new(1.0, 0.0),  // |x|² = 1 → 0 dB
        Cf32::new(0.1, 0.0),  // 0.01 → -20 dB
        Cf32::new(3.0, 4.0),  // 25 → 13.9794 dB
        Cf32::new(0.0, -2.0), // 4 → 6.0206 dB
        Cf32::new(0.0, 0.0),  // 0 → -inf → floor
        Cf32::new(1e-3, 0.0), // 1e-6 → -60 dB
    ];
    let y = run_through::<Cf32, f32, _>(
        x.clone(),
        PowerDb::new(ToDb::new(0.0, -200.0), Arc::default()),
    );
    let expected = [0.0, -20.0, 13.9794, 6.0206, -200.0, -60.0];
    for (k, (a, b)) in y.iter().zip(expected).enumerate() {
        assert!((a - b).abs() < 1e-4, "sample {k}: {a} vs {b}");
    }
    // Offset +30 (dBm from dBW, say) and a floor of -25: the -60 dB sample becomes -30 after
    // the offset and is clipped to -25, as is the zero sample.
    let y = run_through::<Cf32, f32, _>(x, PowerDb::new(ToDb::new(30.0, -25.0), Arc::default()));
    let expected = [30.0, 10.0, 43.9794, 36.0206, -25.0, -25.0];
    for (k, (a, b)) in y.iter().zip(expected).enumerate() {
        assert!((a - b).abs() < 1e-4, "sample {k}: {a} vs {b}");
    }
    assert_eq!(
        power_db::power_db(Cf32::new(f32::NAN, 0.0), 0.0, -99.0),
        -99.0
    );
}

fn param_error(e: BuildError) -> (String, String) {
    match e {
        BuildError::Param { name, message } => (name, message),
        other => panic!("not a parameter error: {other}"),
    }
}

#[test]
fn dc_blocker_self_description_and_bad_parameters() {
    let d = dc_blocker::descriptor();
    assert_eq!(param_names(&d), ["alpha", "item"]);
    assert_eq!(d.params[0].default, Some(Value::Float(0.999)));
    assert_eq!((d.params[0].min, d.params[0].max), (Some(0.0), Some(1.0)));
    assert_eq!(d.params[1].default, Some(Value::Str("cf32".into())));
    for (item, ty) in [("cf32", ItemType::Cf32), ("f32", ItemType::F32)] {
        let p = d
            .resolve([("item", Value::Str(item.into()))])
            .expect("resolves");
        let ports = (d.ports)(&p).expect("ports");
        assert_in_out(&ports, ty, ty);
    }
    let p = d
        .resolve([("alpha", Value::Float(1.0))])
        .expect("in the declared range");
    let (name, msg) = param_error((d.ports)(&p).expect_err("alpha = 1 passes DC"));
    assert_eq!(name, "alpha");
    assert!(msg.contains("< 1"), "{msg}");
    let e = d
        .resolve([("alpha", Value::Float(-0.5))])
        .expect_err("negative");
    assert!(e.to_string().contains("alpha"), "{e}");
    let p = d
        .resolve([("item", Value::Str("ci16".into()))])
        .expect("an item type");
    let (name, msg) = param_error((d.ports)(&p).expect_err("not filterable"));
    assert_eq!(name, "item");
    assert!(msg.contains("`cf32` or `f32`"), "{msg}");
}

#[test]
fn power_db_self_description_and_bad_parameters() {
    let d = power_db::descriptor();
    assert_eq!(param_names(&d), ["offset", "floor"]);
    assert_eq!(d.params[0].default, Some(Value::Float(0.0)));
    assert_eq!(d.params[1].default, Some(Value::Float(-200.0)));
    let p = d.resolve([]).expect("resolves");
    let ports = (d.ports)(&p).expect("ports");
    assert_in_out(&ports, ItemType::Cf32, ItemType::F32);
    // Refused when the parameters are resolved (so `weir check` refuses it), not only by ports.
    let (name, msg) = param_error(
        d.resolve([("floor", Value::Float(f64::NEG_INFINITY))])
            .expect_err("infinite floor"),
    );
    assert_eq!(name, "floor");
    assert!(msg.contains("finite"), "{msg}");
}

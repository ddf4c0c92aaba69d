//! Filter taps for the FIR-based blocks: given as a list, or designed from a cutoff.
//!
//! One scheme for every block that takes taps, so flowgraph files read the same everywhere:
//!
//! - `taps = [0.25, 0.5, 0.25]`: the taps themselves; or
//! - `cutoff` and `transition` (and optionally `ripple`): a low-pass designed with futuredsp's
//!   Kaiser-window `firdes`. Frequencies are in cycles per sample (0 < cutoff, cutoff +
//!   transition < 0.5), or in Hz when the block's `sample_rate` is given (for `xlating_fir`,
//!   whose `sample_rate` is required, always in Hz).
//!
//! Giving both `taps` and `cutoff`, or neither, is an error, as is `transition` without `cutoff`.

use futuresdr::futuredsp::firdes;
use weir_core::{BuildError, ParamSpec, ParamType, Params, Value};

/// The taps parameters, for a block's parameter list. `rate_param` says whether the block
/// declares a `sample_rate` of its own (then it is not added here).
pub(crate) fn params(with_sample_rate: bool) -> Vec<ParamSpec> {
    let mut v = vec![
        ParamSpec::optional(
            "taps",
            ParamType::FloatList,
            Value::List(Vec::new()),
            "filter taps; leave empty to design a low-pass from `cutoff` and `transition`",
        )
        // Enough taps for every filter bank's channels/filters, to describe its ports with.
        .with_example(Value::List(vec![1.0 / 64.0; 64])),
        ParamSpec::float(
            "cutoff",
            0.0,
            "low-pass design: cutoff frequency, cycles/sample or Hz with `sample_rate` (0 = use `taps`)",
        )
        .within(0.0, 1e12),
        ParamSpec::float(
            "transition",
            0.0,
            "low-pass design: transition band width, same unit as `cutoff`",
        )
        .within(0.0, 1e12),
        ParamSpec::float(
            "ripple",
            0.0001,
            "low-pass design: maximum pass/stop band ripple (Kaiser window)",
        )
        .range(Some(1e-12), Some(0.5)),
    ];
    if with_sample_rate {
        v.push(
            ParamSpec::float(
                "sample_rate",
                0.0,
                "low-pass design: sample rate in Hz for `cutoff`/`transition` (0 = they are in cycles/sample)",
            )
            .within(0.0, 1e12),
        );
    }
    v
}

/// The taps the parameters ask for, or a parameter error naming what is wrong.
pub(crate) fn resolve(p: &Params) -> Result<Vec<f32>, BuildError> {
    let taps = p.float_list("taps")?;
    let cutoff = p.float("cutoff")?;
    let transition = p.float("transition")?;
    if !taps.is_empty() {
        if cutoff != 0.0 {
            return Err(BuildError::param(
                "cutoff",
                "give either `taps` or `cutoff`/`transition` (a designed low-pass), not both",
            ));
        }
        if transition != 0.0 {
            return Err(BuildError::param(
                "transition",
                "`transition` belongs to a designed low-pass (`cutoff`); it has no effect with `taps`",
            ));
        }
        if let Some(bad) = taps.iter().find(|t| !t.is_finite()) {
            return Err(BuildError::param(
                "taps",
                format!("taps must be finite, found {bad}"),
            ));
        }
        return Ok(taps.iter().map(|&t| t as f32).collect());
    }
    if cutoff == 0.0 {
        return Err(BuildError::param(
            "taps",
            "no filter given: set `taps = [...]`, or `cutoff` and `transition` to design a low-pass",
        ));
    }
    if transition == 0.0 {
        return Err(BuildError::param(
            "transition",
            "a designed low-pass needs `transition` (the transition band width) > 0",
        ));
    }
    let rate = p.float("sample_rate")?;
    let (c, t, unit) = if rate > 0.0 {
        (cutoff / rate, transition / rate, "Hz")
    } else {
        (cutoff, transition, "cycles/sample")
    };
    if c + t >= 0.5 {
        let nyquist = if rate > 0.0 { rate / 2.0 } else { 0.5 };
        return Err(BuildError::param(
            "cutoff",
            format!(
                "cutoff + transition must be below Nyquist ({nyquist} {unit}), found {cutoff} + {transition}"
            ),
        ));
    }
    // The Kaiser design's length grows as 1/transition: bound it before it exhausts memory.
    if t < 1e-4 {
        return Err(BuildError::param(
            "transition",
            format!(
                "transition must be at least 1e-4 of the sample rate (a filter of about 10^5 taps or more), found {transition} {unit}"
            ),
        ));
    }
    let ripple = p.float("ripple")?;
    Ok(firdes::kaiser::lowpass::<f32>(c, t, ripple))
}

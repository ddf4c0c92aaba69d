//! `mixer`: complex NCO mixer, frequency settable while running.

use futuresdr::runtime::{BlockId, Pmt};
use weir_core::sync_block::{SyncFn, message_number};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, Ports, add_sync, sync_block,
};

/// A numerically controlled oscillator multiplying every sample:
/// `y[n] = x[n] · exp(j(2π f n / fs + φ))`.
///
/// The phase is kept in cycles as an `f64` wrapped to [-0.5, 0.5) after every sample, so it
/// neither loses precision over long runs (an unwrapped `f32` phase would after ~10⁷ samples)
/// nor drifts; only the final angle is rounded to `f32` for `sin_cos`. A message on the
/// `frequency` port (a number, in Hz) changes the increment from the next sample on, and the
/// phase carries on from where it was: the output is phase-continuous. Any other message is a
/// query answered with the current frequency.
pub struct Nco {
    frequency: f64,
    sample_rate: f64,
    /// Current phase in cycles, in [-0.5, 0.5).
    phase: f64,
    /// Phase increment per sample in cycles.
    increment: f64,
}

/// Wraps a phase in cycles to [-0.5, 0.5).
fn wrap(cycles: f64) -> f64 {
    cycles - (cycles + 0.5).floor()
}

impl Nco {
    /// An oscillator at `frequency` Hz at `sample_rate` samples/s, starting at `phase` radians.
    pub fn new(frequency: f64, sample_rate: f64, phase: f64) -> Self {
        Self {
            frequency,
            sample_rate,
            phase: wrap(phase / std::f64::consts::TAU),
            increment: wrap(frequency / sample_rate),
        }
    }

    /// The current frequency in Hz.
    pub fn current_frequency(&self) -> f64 {
        self.frequency
    }

    /// The `frequency` message: a finite number retunes, a non-finite one is refused
    /// (`InvalidValue`), anything else is a query answered with the current frequency.
    pub fn frequency(&mut self, p: Pmt, stats: &BlockStats) -> Pmt {
        let Some(f) = message_number(&p) else {
            return Pmt::F64(self.frequency);
        };
        if !f.is_finite() {
            return Pmt::InvalidValue;
        }
        self.frequency = f;
        self.increment = wrap(f / self.sample_rate);
        stats.set_note("frequency", f.to_string());
        Pmt::F64(f)
    }
}

impl SyncFn for Nco {
    type In = Cf32;
    type Out = Cf32;

    fn process(&mut self, input: &[Cf32], output: &mut [Cf32]) {
        let mut p = self.phase;
        for (x, y) in input.iter().zip(output) {
            let (s, c) = ((p * std::f64::consts::TAU) as f32).sin_cos();
            *y = x * Cf32::new(c, s);
            p = wrap(p + self.increment);
        }
        self.phase = p;
    }

    fn describe(&self, stats: &BlockStats) {
        stats.set_note("frequency", self.frequency.to_string());
    }
}

sync_block! {
    /// The `mixer` block: an [`Nco`] with its `frequency` message port.
    pub struct Mixer(Nco) messages(frequency);
}

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        message_inputs: vec!["frequency"],
        ..Ports::sync(ItemType::Cf32, ItemType::Cf32)
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let frequency = ctx.params.float("frequency")?;
    let rate = ctx.params.float("sample_rate")?;
    let phase = ctx.params.float("phase")?;
    let nco = Nco::new(frequency, rate, phase);
    Ok(add_sync!(ctx, Cf32 => Cf32, Mixer(nco)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "mixer",
        doc: "Complex NCO mixer y = x·exp(j(2π f n/fs + φ)); message port `frequency` retunes it phase-continuously",
        params: vec![
            ParamSpec::required(
                "frequency",
                ParamType::Float,
                "frequency shift in Hz (negative shifts down)",
            )
            .within(-1e12, 1e12),
            ParamSpec::sample_rate("sample rate in samples/s (at most 1 THz)"),
            ParamSpec::float("phase", 0.0, "initial phase φ in radians").within(-1e6, 1e6),
        ],
        ports,
        build,
    }
}

//! `mixer`: complex NCO mixer, frequency settable while running.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::sync_block::sync_work;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, Ports, Value, add_sync,
};

/// Multiplies every sample by a numerically controlled oscillator:
/// `y[n] = x[n] · exp(j(2π f n / fs + φ))`.
///
/// The phase is kept in cycles as an `f64` wrapped to [-0.5, 0.5) after every sample, so it
/// neither loses precision over long runs (an unwrapped `f32` phase would after ~10⁷ samples)
/// nor drifts; only the final angle is rounded to `f32` for `sin_cos`. A message on the
/// `frequency` port (a number, in Hz) changes the increment from the next sample on, and the
/// phase carries on from where it was: the output is phase-continuous. Any other message is a
/// query answered with the current frequency.
#[derive(Block)]
#[message_inputs(frequency)]
pub struct Mixer<R = DefaultCpuReader<Cf32>, W = DefaultCpuWriter<Cf32>>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    #[input]
    input: R,
    #[output]
    output: W,
    frequency: f64,
    sample_rate: f64,
    /// Current phase in cycles, in [-0.5, 0.5).
    phase: f64,
    /// Phase increment per sample in cycles.
    increment: f64,
    stats: Arc<BlockStats>,
}

/// Wraps a phase in cycles to [-0.5, 0.5).
fn wrap(cycles: f64) -> f64 {
    cycles - (cycles + 0.5).floor()
}

impl<R, W> Mixer<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    /// A mixer shifting by `frequency` Hz at `sample_rate` samples/s, starting at `phase`
    /// radians.
    pub fn new(frequency: f64, sample_rate: f64, phase: f64, stats: Arc<BlockStats>) -> Self {
        stats.set_note("frequency", frequency.to_string());
        Self {
            input: R::default(),
            output: W::default(),
            frequency,
            sample_rate,
            phase: wrap(phase / std::f64::consts::TAU),
            increment: wrap(frequency / sample_rate),
            stats,
        }
    }

    /// The current frequency in Hz.
    pub fn current_frequency(&self) -> f64 {
        self.frequency
    }

    async fn frequency(
        &mut self,
        _io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
        p: Pmt,
    ) -> Result<Pmt> {
        let f = match p {
            Pmt::F32(v) => f64::from(v),
            Pmt::F64(v) => v,
            Pmt::U32(v) => f64::from(v),
            Pmt::U64(v) => v as f64,
            Pmt::Usize(v) => v as f64,
            Pmt::Isize(v) => v as f64,
            // Anything else is a query: answer with the current frequency.
            _ => return Ok(Pmt::F64(self.frequency)),
        };
        if !f.is_finite() {
            return Ok(Pmt::InvalidValue);
        }
        self.frequency = f;
        self.increment = wrap(f / self.sample_rate);
        self.stats.set_note("frequency", f.to_string());
        Ok(Pmt::F64(f))
    }
}

impl<R, W> Kernel for Mixer<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let inc = self.increment;
        let phase = &mut self.phase;
        sync_work(
            &mut self.input,
            &mut self.output,
            &self.stats,
            io,
            |i, o| {
                let mut p = *phase;
                for (x, y) in i.iter().zip(o) {
                    let (s, c) = ((p * std::f64::consts::TAU) as f32).sin_cos();
                    *y = x * Cf32::new(c, s);
                    p = wrap(p + inc);
                }
                *phase = p;
            },
        );
        Ok(())
    }
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
    let stats = ctx.stats();
    Ok(add_sync!(ctx, Cf32 => Cf32, |R, W| Mixer::<R, W>::new(frequency, rate, phase, stats)))
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
            ParamSpec::required(
                "sample_rate",
                ParamType::Float,
                "sample rate in samples/s (at most 1 THz)",
            )
            .above(0.0)
            .max(1e12),
            ParamSpec::optional(
                "phase",
                ParamType::Float,
                Value::Float(0.0),
                "initial phase φ in radians",
            )
            .within(-1e6, 1e6),
        ],
        ports,
        build,
    }
}

//! `power_db`: instantaneous power of complex samples in decibels.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::sync_block::sync_work;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, Ports, Value, add_sync,
};

/// `max(10·log10(|x|²) + offset, floor)` for one sample.
///
/// `floor` keeps a zero sample (whose power is −∞ dB) finite; `f32::max` also maps a NaN
/// sample to `floor`.
#[inline]
pub fn power_db(x: Cf32, offset: f32, floor: f32) -> f32 {
    (10.0 * x.norm_sqr().log10() + offset).max(floor)
}

/// Converts every complex sample to its power in dB: `max(10·log10(|x|²) + offset, floor)`.
///
/// `offset` calibrates (e.g. to dBm or dBFS); `floor` is the smallest value produced, so that
/// silence gives `floor` instead of −∞.
#[derive(Block)]
pub struct PowerDb<R = DefaultCpuReader<Cf32>, W = DefaultCpuWriter<f32>>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = f32>,
{
    #[input]
    input: R,
    #[output]
    output: W,
    offset: f32,
    floor: f32,
    stats: Arc<BlockStats>,
}

impl<R, W> PowerDb<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = f32>,
{
    /// A converter adding `offset` dB and never going below `floor` dB.
    pub fn new(offset: f32, floor: f32, stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            output: W::default(),
            offset,
            floor,
            stats,
        }
    }
}

impl<R, W> Kernel for PowerDb<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = f32>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let (offset, floor) = (self.offset, self.floor);
        sync_work(
            &mut self.input,
            &mut self.output,
            &self.stats,
            io,
            |i, o| {
                for (x, y) in i.iter().zip(o) {
                    *y = power_db(*x, offset, floor);
                }
            },
        );
        Ok(())
    }
}

fn finite(p: &Params, name: &str) -> Result<f32, BuildError> {
    let v = p.float(name)?;
    if v.is_finite() {
        Ok(v as f32)
    } else {
        Err(BuildError::param(
            name,
            format!("must be finite, found {v}"),
        ))
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    finite(p, "offset")?;
    finite(p, "floor")?;
    Ok(Ports::sync(ItemType::Cf32, ItemType::F32))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let offset = finite(ctx.params, "offset")?;
    let floor = finite(ctx.params, "floor")?;
    let stats = ctx.stats();
    Ok(add_sync!(ctx, Cf32 => f32, |R, W| PowerDb::<R, W>::new(offset, floor, stats)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "power_db",
        doc: "Complex samples to power in dB: max(10·log10(|x|²) + offset, floor)",
        params: vec![
            ParamSpec::optional(
                "offset",
                ParamType::Float,
                Value::Float(0.0),
                "dB added to every value (calibration)",
            )
            .within(-1000.0, 1000.0),
            ParamSpec::optional(
                "floor",
                ParamType::Float,
                Value::Float(-200.0),
                "smallest value produced, in dB, applied after the offset: a zero sample gives this instead of −∞",
            )
            .within(-1000.0, 1000.0),
        ],
        ports,
        build,
    }
}

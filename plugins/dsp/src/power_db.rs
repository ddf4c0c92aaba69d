//! `power_db`: instantaneous power of complex samples in decibels.

use futuresdr::runtime::BlockId;
use weir_core::sync_block::SyncFn;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, Params, Ports, add_sync,
    sync_block,
};

/// `max(10·log10(|x|²) + offset, floor)` for one sample.
///
/// `floor` keeps a zero sample (whose power is −∞ dB) finite; `f32::max` also maps a NaN
/// sample to `floor`.
#[inline]
pub fn power_db(x: Cf32, offset: f32, floor: f32) -> f32 {
    (10.0 * x.norm_sqr().log10() + offset).max(floor)
}

/// Every complex sample to its power in dB: `max(10·log10(|x|²) + offset, floor)`.
///
/// `offset` calibrates (e.g. to dBm or dBFS); `floor` is the smallest value produced, so that
/// silence gives `floor` instead of −∞.
pub struct ToDb {
    offset: f32,
    floor: f32,
}

impl ToDb {
    /// Adding `offset` dB and never going below `floor` dB.
    pub fn new(offset: f32, floor: f32) -> Self {
        Self { offset, floor }
    }
}

impl SyncFn for ToDb {
    type In = Cf32;
    type Out = f32;

    fn process(&mut self, input: &[Cf32], output: &mut [f32]) {
        for (x, y) in input.iter().zip(output) {
            *y = power_db(*x, self.offset, self.floor);
        }
    }
}

sync_block! {
    /// The `power_db` block: [`ToDb`], generic over its reader and writer.
    pub struct PowerDb(ToDb);
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
    let to_db = ToDb::new(offset, floor);
    Ok(add_sync!(ctx, Cf32 => f32, PowerDb(to_db)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "power_db",
        doc: "Complex samples to power in dB: max(10·log10(|x|²) + offset, floor)",
        params: vec![
            ParamSpec::float("offset", 0.0, "dB added to every value (calibration)")
            .within(-1000.0, 1000.0),
            ParamSpec::float(
                "floor",
                -200.0,
                "smallest value produced, in dB, applied after the offset: a zero sample gives this instead of −∞",
            )
            .within(-1000.0, 1000.0),
        ],
        ports,
        build,
    }
}

//! `dc_blocker`: remove the DC component of a real or complex stream.

use std::ops::{Add, Mul, Sub};

use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::CpuSample;
use weir_core::sync_block::SyncFn;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, Params, Ports, add_sync,
    sync_block,
};

/// An item the DC blocker filters: `f32` or `Cf32`.
pub trait DcItem:
    CpuSample + Copy + Default + Add<Output = Self> + Sub<Output = Self> + Mul<f32, Output = Self>
{
}
impl DcItem for f32 {}
impl DcItem for Cf32 {}

/// Single-pole DC blocking IIR filter:
///
/// ```text
///   y[n] = x[n] − x[n−1] + α · y[n−1]        H(z) = (1 − z⁻¹) / (1 − α z⁻¹)
/// ```
///
/// A zero at DC (z = 1) and a pole just inside it at z = α, 0 ≤ α < 1. The gain is exactly 0 at
/// DC and close to 1 away from it; the −3 dB corner is at about (1 − α)·fs / 2π (α = 0.999 at
/// 48 kHz: ≈ 7.6 Hz), and a step in the offset decays as αⁿ (time constant 1/(1 − α) samples).
/// This is the classic DC blocker (J. O. Smith, "Introduction to Digital Filters", "DC Blocker"),
/// not GNU Radio's `dc_blocker_cc`, which subtracts cascaded moving averages of length D.
/// The state starts at zero, so the first output sample is `x[0]`.
pub struct DcFilter<T> {
    alpha: f32,
    x_prev: T,
    y_prev: T,
}

impl<T: DcItem> DcFilter<T> {
    /// A DC blocker with pole `alpha` (0 ≤ α < 1; larger is a narrower notch).
    pub fn new(alpha: f32) -> Self {
        Self {
            alpha,
            x_prev: T::default(),
            y_prev: T::default(),
        }
    }
}

impl<T: DcItem> SyncFn for DcFilter<T> {
    type In = T;
    type Out = T;

    fn process(&mut self, input: &[T], output: &mut [T]) {
        let (mut xp, mut yp) = (self.x_prev, self.y_prev);
        for (x, y) in input.iter().zip(output) {
            yp = *x - xp + yp * self.alpha;
            xp = *x;
            *y = yp;
        }
        (self.x_prev, self.y_prev) = (xp, yp);
    }
}

sync_block! {
    /// The `dc_blocker` block: a [`DcFilter`] of `f32` or `Cf32` items.
    pub struct DcBlocker<T: DcItem>(DcFilter<T>);
}

fn item(p: &Params) -> Result<ItemType, BuildError> {
    match p.item("item")? {
        t @ (ItemType::Cf32 | ItemType::F32) => Ok(t),
        other => Err(BuildError::param(
            "item",
            format!("the DC blocker filters `cf32` or `f32`, not `{other}`"),
        )),
    }
}

fn alpha(p: &Params) -> Result<f32, BuildError> {
    let a = p.float("alpha")?;
    // α = 1 puts the pole on the zero: the filter would pass DC unchanged (and is only
    // marginally stable), so the range is half-open.
    if !(0.0..1.0).contains(&a) {
        return Err(BuildError::param(
            "alpha",
            format!("must be >= 0 and < 1, found {a}"),
        ));
    }
    Ok(a as f32)
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = item(p)?;
    alpha(p)?;
    Ok(Ports::sync(item, item))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let alpha = alpha(ctx.params)?;
    Ok(match item(ctx.params)? {
        ItemType::F32 => {
            add_sync!(ctx, f32 => f32, DcBlocker<f32>(DcFilter::new(alpha)))
        }
        _ => {
            add_sync!(ctx, Cf32 => Cf32, DcBlocker<Cf32>(DcFilter::new(alpha)))
        }
    })
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "dc_blocker",
        doc: "Remove DC: single-pole IIR y[n] = x[n] − x[n−1] + α·y[n−1] (cf32 or f32)",
        params: vec![
            ParamSpec::float(
                "alpha",
                0.999,
                "pole α, 0 ≤ α < 1: closer to 1 is a narrower notch and slower settling (corner ≈ (1−α)·fs/2π)",
            )
            .range(Some(0.0), Some(1.0)),
            ParamSpec::item(ItemType::Cf32, "item type: `cf32` or `f32`"),
        ],
        ports,
        build,
    }
}

//! `fir`: FutureSDR's FIR filter with real taps, on `f32` or `cf32` streams.

use futuresdr::blocks::Fir;
use futuresdr::futuredsp::FirFilter;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, ItemType, ParamSpec, Params,
    PortSpec, Ports, add_sync,
};

use crate::taps;

fn item(p: &Params) -> Result<ItemType, BuildError> {
    match p.item("item")? {
        t @ (ItemType::F32 | ItemType::Cf32) => Ok(t),
        other => Err(BuildError::param(
            "item",
            format!("fir filters f32 or cf32 streams, not {other}"),
        )),
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = item(p)?;
    let n = taps::resolve(p)?.len();
    Ok(Ports {
        // Each output needs `taps` consecutive inputs.
        inputs: vec![PortSpec::input("in", "input", item).with_min_items(n)],
        outputs: vec![
            PortSpec::output("out", "output", item, BufferKind::Circular).filling_blocks(),
        ],
        ..Ports::default()
    })
}

/// FutureSDR's FIR with `Vec<f32>` taps on items `T`, reading with `R` and writing with `W`.
type StockFir<T, R, W> = Fir<T, T, f32, FirFilter<T, T, Vec<f32>>, R, W>;

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let taps = taps::resolve(ctx.params)?;
    Ok(match item(ctx.params)? {
        ItemType::Cf32 => {
            add_sync!(ctx, Cf32 => Cf32, |R, W| StockFir::<Cf32, R, W>::new(FirFilter::new(taps)))
        }
        _ => add_sync!(ctx, f32 => f32, |R, W| StockFir::<f32, R, W>::new(FirFilter::new(taps))),
    })
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    let mut params = vec![ParamSpec::item(
        ItemType::Cf32,
        "item type: f32 or cf32 (taps are real)",
    )];
    params.extend(taps::params(true));
    BlockDescriptor {
        type_name: "fir",
        doc: "FIR filter with real taps, given as `taps` or designed from `cutoff`/`transition` (FutureSDR's Fir)",
        params,
        ports,
        build,
    }
}

//! `fir`: FutureSDR's FIR filter with real taps, on `f32` or `cf32` streams.

use futuresdr::blocks::Fir;
use futuresdr::futuredsp::FirFilter;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, PortSpec, Ports, Value, with_reader, with_writer,
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
    let kind = ctx.input_buffer("in");
    let out = ctx.output_buffer("out");
    Ok(match item(ctx.params)? {
        ItemType::Cf32 => with_reader!(kind, Cf32, R => with_writer!(out, Cf32, W => {
            let mut block = StockFir::<Cf32, R, W>::new(FirFilter::new(taps));
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })),
        _ => with_reader!(kind, f32, R => with_writer!(out, f32, W => {
            let mut block = StockFir::<f32, R, W>::new(FirFilter::new(taps));
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })),
    })
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    let mut params = vec![ParamSpec::optional(
        "item",
        ParamType::Item,
        Value::Str("cf32".into()),
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

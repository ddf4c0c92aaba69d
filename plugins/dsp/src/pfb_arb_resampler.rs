//! `pfb_arb_resampler`: FutureSDR's polyphase arbitrary-rate resampler.

use futuresdr::blocks::PfbArbResampler;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    Ports,
};

use crate::taps;

fn check(p: &Params) -> Result<(f32, Vec<f32>, usize), BuildError> {
    let rate = p.float("rate")?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(BuildError::param(
            "rate",
            format!("must be a positive number, found {rate}"),
        ));
    }
    let taps = taps::resolve(p)?;
    let filters = p.positive("filters")?;
    if taps.len() < filters {
        return Err(BuildError::param(
            "filters",
            format!(
                "the prototype filter has {} taps, fewer than `filters` = {filters}",
                taps.len()
            ),
        ));
    }
    Ok((rate as f32, taps, filters))
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    check(p)?;
    Ok(Ports::frames(ItemType::Cf32, ItemType::Cf32, 1))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let (rate, taps, filters) = check(ctx.params)?;
    if ctx.input_buffer("in") != BufferKind::Circular {
        // FutureSDR 0.0.40 implements this block for its default buffers only.
        return Err(BuildError::Other(
            "pfb_arb_resampler reads circular buffers only (FutureSDR implements it for its default buffers): put a `copy` block between it and the device source".into(),
        ));
    }
    let mut block = PfbArbResampler::new(rate, &taps, filters);
    ctx.configure_input("in", block.input());
    Ok(ctx.add(block))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    let mut params = vec![
        ParamSpec::required(
            "rate",
            ParamType::Float,
            "output rate / input rate, 1e-6 ..= 10000: as an f32 it must stay above 0 (FutureSDR asserts it) with a finite 1/rate, and every call needs ceil(rate) output items",
        )
        .within(1e-6, 1e4),
        ParamSpec::int(
            "filters",
            32,
            "number of polyphase filters (the prototype filter runs at `filters` × the input rate)",
        )
        .range(Some(1.0), Some(4096.0)),
    ];
    params.extend(taps::params(true));
    BlockDescriptor {
        type_name: "pfb_arb_resampler",
        doc: "Resample complex samples by any `rate` with a polyphase filter bank; taps are the prototype filter at `filters` × the input rate (FutureSDR's PfbArbResampler)",
        params,
        ports,
        build,
    }
}

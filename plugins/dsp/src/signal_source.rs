//! `signal_source`: FutureSDR's complex sinusoid source, registered by name.

use futuresdr::blocks::signal_source::SignalSourceBuilder;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType, Params, Ports,
    with_writer,
};

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::source(ItemType::Cf32))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let frequency = ctx.params.float("frequency")? as f32;
    let rate = ctx.params.float("sample_rate")? as f32;
    let amplitude = ctx.params.float("amplitude")? as f32;
    let phase = ctx.params.float("phase")? as f32;
    let out = ctx.output_buffer("out");
    Ok(with_writer!(out, Cf32, W => {
        ctx.add(SignalSourceBuilder::<Cf32, W>::sin(frequency, rate, amplitude, phase))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "signal_source",
        doc: "Complex sinusoid exp(j(2π f/fs n + phase)) × amplitude, endless (FutureSDR's SignalSource)",
        params: vec![
            ParamSpec::required("frequency", ParamType::Float, "frequency in Hz")
                .within(-1e12, 1e12),
            ParamSpec::sample_rate("sample rate in samples/s (at most 1 THz)"),
            ParamSpec::float("amplitude", 1.0, "amplitude").within(-1e9, 1e9),
            ParamSpec::float("phase", 0.0, "initial phase in radians").within(-1e6, 1e6),
        ],
        ports,
        build,
    }
}

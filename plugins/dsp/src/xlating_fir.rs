//! `xlating_fir`: FutureSDR's frequency-translating, decimating FIR filter.

use futuresdr::blocks::XlatingFir;
use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::CpuBufferReader;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType, Params,
    PortSpec, Ports, with_reader, with_writer,
};

use crate::taps;

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let n = taps::resolve(p)?.len();
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32).with_min_items(n)],
        ..Ports::sync(ItemType::Cf32, ItemType::Cf32)
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let taps = taps::resolve(ctx.params)?;
    let n = taps.len();
    let decimation = ctx.params.positive("decimation")?;
    let center = ctx.params.float("center_frequency")? as f32;
    let rate = ctx.params.float("sample_rate")? as f32;
    let kind = ctx.input_buffer("in");
    let out = ctx.output_buffer("out");
    Ok(with_reader!(kind, Cf32, R => with_writer!(out, Cf32, W => {
        let mut block = XlatingFir::<R, W>::with_taps_and_buffers(taps, decimation, center, rate);
        // FutureSDR's XlatingFir does not declare that it needs `taps` consecutive items; a
        // reader of device blocks uses this to bridge block ends.
        block.input().set_min_items(n);
        ctx.configure_input("in", block.input());
        ctx.add(block)
    })))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    let mut params = vec![
        ParamSpec::int("decimation", 1, "keep one output in `decimation`").within(1.0, 1e6),
        ParamSpec::required(
            "center_frequency",
            ParamType::Float,
            "frequency in Hz shifted to 0 before filtering",
        )
        .within(-1e12, 1e12),
        ParamSpec::sample_rate("input sample rate in Hz (at most 1 THz)"),
    ];
    params.extend(taps::params(false));
    BlockDescriptor {
        type_name: "xlating_fir",
        doc: "Shift `center_frequency` to 0, low-pass filter (`taps`, or `cutoff`/`transition` in Hz) and decimate (FutureSDR's XlatingFir)",
        params,
        ports,
        build,
    }
}

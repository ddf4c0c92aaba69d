//! `fft`: FutureSDR's FFT block, registered by name.

use futuresdr::blocks::{Fft, FftDirection};
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, PortSpec, Ports, Value, with_reader,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let len = p.positive("len")?;
    Ok(Ports {
        // The block transforms whole frames: it cannot make progress with fewer than `len` items.
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32).with_min_items(len)],
        outputs: vec![PortSpec::output(
            "out",
            "output",
            ItemType::Cf32,
            BufferKind::Circular,
        )],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let len = ctx.params.positive("len")?;
    let direction = match ctx.params.str("direction")? {
        "forward" => FftDirection::Forward,
        "inverse" => FftDirection::Inverse,
        other => {
            return Err(BuildError::param(
                "direction",
                format!("expected `forward` or `inverse`, found `{other}`"),
            ));
        }
    };
    let shift = ctx.params.bool("shift")?;
    let normalize = ctx.params.float("normalize")?;
    let normalize = (normalize != 0.0).then_some(normalize as f32);
    Ok(with_reader!(ctx.input_buffer("in"), Cf32, R => {
        let mut block = Fft::<R>::with_options_and_buffers(len, direction, shift, normalize);
        ctx.configure_input("in", block.input());
        ctx.add(block)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "fft",
        doc: "FFT of consecutive frames of `len` complex samples (FutureSDR's Fft)",
        params: vec![
            ParamSpec::required("len", ParamType::Int, "FFT length (items per frame)")
                .range(Some(1.0), None),
            ParamSpec::optional(
                "direction",
                ParamType::Str,
                Value::Str("forward".into()),
                "`forward` or `inverse`",
            ),
            ParamSpec::optional(
                "shift",
                ParamType::Bool,
                Value::Bool(false),
                "move the zero frequency to the middle of the frame",
            ),
            ParamSpec::optional(
                "normalize",
                ParamType::Float,
                Value::Float(0.0),
                "scale every output by this factor (0 = no scaling)",
            ),
        ],
        ports,
        build,
    }
}

//! `message_burst`: FutureSDR's MessageBurst, registered by name.

use futuresdr::blocks::MessageBurst;
use futuresdr::runtime::{BlockId, Pmt};
use weir_core::{BlockDescriptor, BuildContext, BuildError, ParamSpec, ParamType, Params, Ports};

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::messages(&[], &["out"]))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let value = ctx.params.float("value")?;
    let count = ctx.params.uint("count")?;
    Ok(ctx.add(MessageBurst::new(Pmt::F64(value), count)))
}

/// Registry entry of `message_burst`.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_burst",
        doc: "Post the number `value` `count` times on `out` at once, then end (FutureSDR's MessageBurst)",
        params: vec![
            ParamSpec::required("value", ParamType::Float, "number to post"),
            ParamSpec::required(
                "count",
                ParamType::Int,
                "how many times (at most a million: they are all queued at once)",
            )
            .within(0.0, 1e6),
        ],
        ports,
        build,
    }
}

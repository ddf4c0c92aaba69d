//! FutureSDR's message blocks that make sense in a flowgraph file: `message_copy`,
//! `message_sink` and `message_burst`.

use futuresdr::blocks::{MessageBurst, MessageCopy, MessageSink};
use futuresdr::runtime::{BlockId, Pmt};
use weir_core::{BlockDescriptor, BuildContext, BuildError, ParamSpec, ParamType, Params, Ports};

fn copy_ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        message_inputs: vec!["in"],
        message_outputs: vec!["out"],
        ..Ports::default()
    })
}

fn copy_build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Ok(ctx.add(MessageCopy::new()))
}

/// Registry entry of `message_copy`.
pub fn copy_descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_copy",
        doc: "Forward every message from `in` to `out` (FutureSDR's MessageCopy)",
        params: vec![],
        ports: copy_ports,
        build: copy_build,
    }
}

fn sink_ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        message_inputs: vec!["in"],
        ..Ports::default()
    })
}

fn sink_build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Ok(ctx.add(MessageSink::new()))
}

/// Registry entry of `message_sink`.
pub fn sink_descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_sink",
        doc: "Count and drop messages; a call to `in` answers the count so far (FutureSDR's MessageSink)",
        params: vec![],
        ports: sink_ports,
        build: sink_build,
    }
}

fn burst_ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        message_outputs: vec!["out"],
        ..Ports::default()
    })
}

fn burst_build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let value = ctx.params.float("value")?;
    let count = ctx.params.uint("count")?;
    Ok(ctx.add(MessageBurst::new(Pmt::F64(value), count)))
}

/// Registry entry of `message_burst`.
pub fn burst_descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_burst",
        doc: "Post the number `value` `count` times on `out` at once, then end (FutureSDR's MessageBurst)",
        params: vec![
            ParamSpec::required("value", ParamType::Float, "number to post"),
            ParamSpec::required("count", ParamType::Int, "how many times").range(Some(0.0), None),
        ],
        ports: burst_ports,
        build: burst_build,
    }
}

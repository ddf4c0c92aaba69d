//! `message_sink`: FutureSDR's MessageSink, registered by name.

use futuresdr::blocks::MessageSink;
use futuresdr::runtime::BlockId;
use weir_core::{BlockDescriptor, BuildContext, BuildError, Params, Ports};

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::messages(&["in"], &[]))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Ok(ctx.add(MessageSink::new()))
}

/// Registry entry of `message_sink`.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_sink",
        doc: "Count and drop messages; a call to `in` answers the count so far (FutureSDR's MessageSink)",
        params: vec![],
        ports,
        build,
    }
}

//! `message_copy`: FutureSDR's MessageCopy, registered by name.

use futuresdr::blocks::MessageCopy;
use futuresdr::runtime::BlockId;
use weir_core::{BlockDescriptor, BuildContext, BuildError, Params, Ports};

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::messages(&["in"], &["out"]))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Ok(ctx.add(MessageCopy::new()))
}

/// Registry entry of `message_copy`.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_copy",
        doc: "Forward every message from `in` to `out` (FutureSDR's MessageCopy)",
        params: vec![],
        ports,
        build,
    }
}

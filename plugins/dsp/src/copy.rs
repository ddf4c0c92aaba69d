//! `copy`: FutureSDR's Copy block: items in, the same items out.

use futuresdr::blocks::Copy;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, Params, Ports, add_sync,
    with_item_type,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = p.item("item")?;
    Ok(Ports::sync(item, item))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        add_sync!(ctx, T => T, |R, W| Copy::<T, R, W>::new())
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "copy",
        doc: "Copy items from input to output (FutureSDR's Copy); e.g. to move device blocks into a circular buffer",
        params: vec![ParamSpec::item(ItemType::Cf32, "item type")],
        ports,
        build,
    }
}

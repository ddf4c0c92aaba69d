//! `null_source`: FutureSDR's endless stream of zeros.

use futuresdr::blocks::NullSource;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, Params, Ports, with_item_type,
    with_writer,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::source(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let out = ctx.output_buffer("out");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_writer!(out, T, W => ctx.add(NullSource::<T, W>::new()))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "null_source",
        doc: "Endless stream of zeros (FutureSDR's NullSource); end it with a `head`",
        params: vec![ParamSpec::item(ItemType::Cf32, "item type")],
        ports,
        build,
    }
}

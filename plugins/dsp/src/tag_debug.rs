//! `tag_debug`: FutureSDR's TagDebug: drops items, printing their stream tags.

use futuresdr::blocks::TagDebug;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ParamSpec, ParamType, Params, PortSpec, Ports,
    Value, with_item_type, with_reader,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", p.item("item")?)],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let kind = ctx.input_buffer("in");
    let name = ctx.name.to_string();
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            let mut block = TagDebug::<T, R>::new(name);
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "tag_debug",
        doc: "Drop items, printing every stream tag with its position to stdout, prefixed with the block's name (FutureSDR's TagDebug)",
        params: vec![ParamSpec::optional(
            "item",
            ParamType::Item,
            Value::Str("cf32".into()),
            "item type",
        )],
        ports,
        build,
    }
}

//! `copy`: FutureSDR's Copy block: items in, the same items out.

use futuresdr::blocks::Copy;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, ParamSpec, ParamType, Params, PortSpec,
    Ports, Value, with_item_type, with_reader, with_writer,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = p.item("item")?;
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", item)],
        outputs: vec![
            PortSpec::output("out", "output", item, BufferKind::Circular).filling_blocks(),
        ],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let kind = ctx.input_buffer("in");
    let out = ctx.output_buffer("out");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => with_writer!(out, T, W => {
            let mut block = Copy::<T, R, W>::new();
            ctx.configure_input("in", block.input());
            ctx.add(block)
        }))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "copy",
        doc: "Copy items from input to output (FutureSDR's Copy); e.g. to move device blocks into a circular buffer",
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

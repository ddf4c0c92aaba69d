//! `throttle`: FutureSDR's rate limiter, for flowgraphs without hardware pacing them.

use futuresdr::blocks::Throttle;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    PortSpec, Ports, with_item_type, with_reader, with_writer,
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
    let rate = ctx.params.float("rate")?;
    let kind = ctx.input_buffer("in");
    let out = ctx.output_buffer("out");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => with_writer!(out, T, W => {
            let mut block = Throttle::<T, R, W>::new(rate);
            ctx.configure_input("in", block.input());
            ctx.add(block)
        }))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "throttle",
        doc: "Pass items unchanged at no more than `rate` items/s on average (FutureSDR's Throttle; wakes every 100 ms)",
        params: vec![
            ParamSpec::required("rate", ParamType::Float, "items per second (at most 10^12)")
                .above(0.0)
                .max(1e12),
            ParamSpec::item(ItemType::Cf32, "item type"),
        ],
        ports,
        build,
    }
}

//! `stream_duplicator`: FutureSDR's StreamDuplicator: one input copied to N outputs.

use futuresdr::blocks::StreamDuplicator;
use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::DefaultCpuWriter;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, ItemType, ParamSpec, Params, PortSpec,
    Ports, with_item_type, with_reader,
};

use crate::indexed;

/// The output counts supported: FutureSDR's block takes N as a const generic, so each count is
/// compiled in.
const MAX_OUTPUTS: usize = 8;

fn outputs(p: &Params) -> Result<usize, BuildError> {
    let n = p.positive("outputs")?;
    if !(2..=MAX_OUTPUTS).contains(&n) {
        return Err(BuildError::param(
            "outputs",
            format!("must be 2 ..= {MAX_OUTPUTS}, found {n}"),
        ));
    }
    Ok(n)
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = p.item("item")?;
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", item)],
        outputs: (0..outputs(p)?)
            .map(|i| {
                let (name, runtime) = indexed::output(i);
                PortSpec::output(name, runtime, item, BufferKind::Circular)
            })
            .collect(),
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let n = outputs(ctx.params)?;
    let kind = ctx.input_buffer("in");
    macro_rules! dup {
        ($T:ty, $R:ty, $($n:literal)*) => {
            match n {
                $($n => {
                    let mut block = StreamDuplicator::<$T, $n, $R, DefaultCpuWriter<$T>>::new();
                    ctx.configure_input("in", block.input());
                    ctx.add(block)
                })*
                _ => unreachable!("`outputs` checked above"),
            }
        };
    }
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => dup!(T, R, 2 3 4 5 6 7 8))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "stream_duplicator",
        doc: "Copy the input to each of `outputs` outputs out0, out1, ... (FutureSDR's StreamDuplicator)",
        params: vec![
            ParamSpec::int("outputs", 2, "number of outputs")
                .range(Some(2.0), Some(MAX_OUTPUTS as f64)),
            ParamSpec::item(ItemType::Cf32, "item type"),
        ],
        ports,
        build,
    }
}

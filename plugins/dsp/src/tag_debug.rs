//! `tag_debug`: drops items, printing their stream tags.
//!
//! weir's own block rather than FutureSDR's `TagDebug`, whose `{:?}` prints every typed payload
//! (`Tag::NamedAny`) as `Box<dyn Any>`: this one prints weir's payloads — block times and
//! overruns with their evidence ([`weir_core::tags`]) — as text, and other tags as FutureSDR
//! does, in the same line format (`TagDebug NAME: buf I/abs N -- TAG`).

use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, Params, Ports, add_sink,
    sink_block,
};

sink_block! {
    /// Drops its input, printing each tag with its position on stdout.
    pub struct TagDebug<T> {
        name: String,
        received: usize,
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> TagDebug<T, R> {
    /// A block printing with `name` as prefix.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            input: R::default(),
            name: name.into(),
            received: 0,
        }
    }
}

/// The text of one tag: weir's payloads described, others as FutureSDR debug-prints them.
pub fn tag_text(tag: &Tag) -> String {
    match (tag, weir_core::tags::describe(tag)) {
        (Tag::NamedAny(name, _), Some(text)) => format!("{name}: {text}"),
        _ => format!("{tag:?}"),
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for TagDebug<T, R> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let (items, tags) = self.input.slice_with_tags();
        let n = items.len();
        for t in tags.iter().filter(|t| t.index < n) {
            println!(
                "TagDebug {}: buf {}/abs {} -- {}",
                self.name,
                t.index,
                self.received + t.index,
                tag_text(&t.tag)
            );
        }
        self.input.consume(n);
        self.received += n;
        if self.input.finished() {
            io.finished = true;
        }
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::sink(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let name = ctx.name.to_string();
    Ok(add_sink!(ctx, ctx.params.item("item")?, |T, R| {
        TagDebug::<T, R>::new(name)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "tag_debug",
        doc: "Drop items, printing every stream tag with its position to stdout, prefixed with the block's name; weir's block times and overruns as text",
        params: vec![ParamSpec::item(ItemType::Cf32, "item type")],
        ports,
        build,
    }
}

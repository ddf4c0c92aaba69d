//! `null_sink`: consume and discard.
//!
//! weir's own rather than FutureSDR's `NullSink` (0.0.40), which behaves the same but counts
//! into a private field: weir's counts into the block's [`BlockStats`], which is what the run
//! report (items in, rate) and `RunningFlowgraph::stats` read, e.g. to see how many samples
//! reached the end of a flowgraph.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, Params, Ports,
    add_sink, sink_block,
};

sink_block! {
    /// Consumes every item and discards it (counting them).
    pub struct NullSink<T> {
        stats: Arc<BlockStats>,
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> NullSink<T, R> {
    /// A null sink.
    pub fn new(stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            stats,
        }
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for NullSink<T, R> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let n = self.input.slice().len();
        self.input.consume(n);
        self.stats.add_in(n);
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
    let stats = ctx.stats();
    Ok(add_sink!(ctx, ctx.params.item("item")?, |T, R| {
        NullSink::<T, R>::new(stats)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "null_sink",
        doc: "Consume and discard items",
        params: vec![ParamSpec::item(ItemType::Cf32, "item type")],
        ports,
        build,
    }
}

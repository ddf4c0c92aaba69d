//! `null_sink`: consume and discard.
//!
//! weir's own rather than FutureSDR's `NullSink` (0.0.40), which behaves the same but counts
//! into a private field: weir's counts into the block's [`BlockStats`], which is what the run
//! report (items in, rate) and `RunningFlowgraph::stats` read, e.g. to see how many samples
//! reached the end of a flowgraph.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, Params, Ports,
    with_item_type, with_reader,
};

/// Consumes every item and discards it (counting them).
#[derive(Block)]
pub struct NullSink<T, R = DefaultCpuReader<T>>
where
    T: CpuSample,
    R: CpuBufferReader<Item = T>,
{
    #[input]
    input: R,
    stats: Arc<BlockStats>,
}

impl<T, R> NullSink<T, R>
where
    T: CpuSample,
    R: CpuBufferReader<Item = T>,
{
    /// A null sink.
    pub fn new(stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            stats,
        }
    }
}

impl<T, R> Kernel for NullSink<T, R>
where
    T: CpuSample,
    R: CpuBufferReader<Item = T>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
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
    let kind = ctx.input_buffer("in");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            let mut block = NullSink::<T, R>::new(stats);
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })
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

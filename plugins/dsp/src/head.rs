//! `head`: pass the first N items, then end the stream.
//!
//! weir's own rather than FutureSDR's `Head` (0.0.40), which it would otherwise register:
//! FutureSDR's drops stream tags (it copies `slice()` only), so the DMABUF source's
//! `dmabuf_block` / `dmabuf_overrun` tags would stop at a head; it never finishes when its input
//! ends before `n` items (it does not look at `finished()`), so a finite source shorter than
//! `items` would hang the flowgraph, and neither does it with `items = 0`; and it keeps no
//! [`BlockStats`], so the run report would show nothing for it.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    Ports, add_sync, with_item_type,
};

/// Copies the first `n` items from input to output and then finishes, which ends the flowgraph.
#[derive(Block)]
pub struct Head<T, R = DefaultCpuReader<T>, W = DefaultCpuWriter<T>>
where
    T: CpuSample + Copy,
    R: CpuBufferReader<Item = T>,
    W: CpuBufferWriter<Item = T>,
{
    #[input]
    input: R,
    #[output]
    output: W,
    remaining: u64,
    stats: Arc<BlockStats>,
}

impl<T, R, W> Head<T, R, W>
where
    T: CpuSample + Copy,
    R: CpuBufferReader<Item = T>,
    W: CpuBufferWriter<Item = T>,
{
    /// A head passing `n` items.
    pub fn new(n: u64, stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            output: W::default(),
            remaining: n,
            stats,
        }
    }
}

impl<T, R, W> Kernel for Head<T, R, W>
where
    T: CpuSample + Copy,
    R: CpuBufferReader<Item = T>,
    W: CpuBufferWriter<Item = T>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let (i, i_tags) = self.input.slice_with_tags();
        let (o, mut o_tags) = self.output.slice_with_tags();
        let n = i
            .len()
            .min(o.len())
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if n > 0 {
            o[..n].copy_from_slice(&i[..n]);
            for t in i_tags.iter().filter(|t| t.index < n) {
                o_tags.add_tag(t.index, t.tag.clone());
            }
        }
        let input_left = i.len() - n;
        self.input.consume(n);
        self.output.produce(n);
        self.stats.add_in(n);
        self.stats.add_out(n);
        self.remaining -= n as u64;
        if self.remaining == 0 || (self.input.finished() && input_left == 0) {
            io.finished = true;
        }
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = p.item("item")?;
    Ok(Ports::sync(item, item))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let n = ctx.params.uint("items")?;
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        add_sync!(ctx, T => T, Head<T>(n))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "head",
        doc: "Pass the first `items` items, then end the stream",
        params: vec![
            ParamSpec::required(
                "items",
                ParamType::Int,
                "number of items to pass (at most 2^53, 104 days at 1 G items/s)",
            )
            .within(0.0, 2f64.powi(53)),
            ParamSpec::item(ItemType::Cf32, "item type"),
        ],
        ports,
        build,
    }
}

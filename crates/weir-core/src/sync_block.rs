//! The `work()` of a synchronous one-in, one-out block: one output item for every input item.
//!
//! A block supplies its per-chunk function; [`sync_work`] does the rest the same way for every
//! such block: it takes as many items as both buffers allow, hands the input slice (a DMA
//! block's memory read in place, when the reader is the by-reference one) and the output slice
//! to the function, forwards every tag to the output item of the same index, consumes and
//! produces, counts the items in the block's [`BlockStats`], and ends the block when its input
//! has ended and nothing is left.
//!
//! ```
//! use std::sync::Arc;
//!
//! use futuresdr::runtime::dev::prelude::*;
//! use weir_core::{BlockStats, Cf32, sync_block::sync_work};
//!
//! /// `y = x * gain`.
//! #[derive(Block)]
//! pub struct Scale<R = DefaultCpuReader<Cf32>, W = DefaultCpuWriter<Cf32>>
//! where
//!     R: CpuBufferReader<Item = Cf32>,
//!     W: CpuBufferWriter<Item = Cf32>,
//! {
//!     #[input]
//!     input: R,
//!     #[output]
//!     output: W,
//!     gain: f32,
//!     stats: Arc<BlockStats>,
//! }
//!
//! impl<R, W> Kernel for Scale<R, W>
//! where
//!     R: CpuBufferReader<Item = Cf32>,
//!     W: CpuBufferWriter<Item = Cf32>,
//! {
//!     async fn work(
//!         &mut self,
//!         io: &mut WorkIo,
//!         _mo: &mut MessageOutputs,
//!         _meta: &mut BlockMeta,
//!     ) -> Result<()> {
//!         let gain = self.gain;
//!         sync_work(&mut self.input, &mut self.output, &self.stats, io, |x, y| {
//!             for (x, y) in x.iter().zip(y) {
//!                 *y = x * gain;
//!             }
//!         });
//!         Ok(())
//!     }
//! }
//! ```

use futuresdr::runtime::dev::{CpuBufferReader, CpuBufferWriter, WorkIo};

use crate::stats::BlockStats;

/// One `work()` call of a synchronous block: `f(input, output)` on the next
/// `min(input available, output space)` items (never called with none), tags forwarded to the
/// same index, items consumed, produced and counted in `stats`, and `io.finished` set once the
/// input has ended and every item has been processed.
pub fn sync_work<R, W>(
    input: &mut R,
    output: &mut W,
    stats: &BlockStats,
    io: &mut WorkIo,
    f: impl FnOnce(&[R::Item], &mut [W::Item]),
) where
    R: CpuBufferReader,
    W: CpuBufferWriter,
{
    let (i, i_tags) = input.slice_with_tags();
    let (o, mut o_tags) = output.slice_with_tags();
    let n = i.len().min(o.len());
    if n > 0 {
        f(&i[..n], &mut o[..n]);
        for t in i_tags.iter().filter(|t| t.index < n) {
            o_tags.add_tag(t.index, t.tag.clone());
        }
    }
    let remaining = i.len() - n;
    input.consume(n);
    output.produce(n);
    stats.add_in(n);
    stats.add_out(n);
    if input.finished() && remaining == 0 {
        io.finished = true;
    }
}

/// Builds a one-in, one-out kernel (ports as [`Ports::sync`](crate::Ports::sync)) with the reader and writer its
/// connections need, applies the input connection's buffer size and adds it:
/// `add_sync!(ctx, Cf32 => Ci16, |R, W| ComplexToIq::<R, W>::new(scale, stats))` evaluates
/// to the block's id. `R` and `W` name the reader and writer types inside the expression.
#[macro_export]
macro_rules! add_sync {
    ($ctx:expr, $I:ty => $O:ty, |$R:ident, $W:ident| $kernel:expr) => {{
        let out = $ctx.output_buffer("out");
        $crate::with_reader!($ctx.input_buffer("in"), $I, $R => $crate::with_writer!(out, $O, $W => {
            let mut block = $kernel;
            $ctx.configure_input("in", block.input());
            $ctx.add(block)
        }))
    }};
}

//! Synchronous one-in, one-out blocks: one output item for every input item.
//!
//! A block supplies its state and its per-chunk function, a [`SyncFn`];
//! [`sync_block!`](crate::sync_block!) declares the FutureSDR block around it, and
//! [`sync_work`] (its `work()`) does the rest the same way for every such block: it takes as many items as both buffers allow (whole frames,
//! for a block working on frames), hands the input slice (a DMA block's memory read in place,
//! when the reader is the by-reference one) and the output slice to the function, forwards
//! every tag to the output item of the same index (or where [`SyncFn::tag_index`] says),
//! consumes and produces, counts the items in the block's [`BlockStats`], and ends the block
//! when its input has ended and no whole frame is left — counting the items of a partial frame
//! left then ([`PARTIAL_FRAME_ITEMS`], exact), so that no block working on frames loses them
//! silently.
//!
//! ```
//! use weir_core::{Cf32, sync_block, sync_block::SyncFn};
//!
//! /// `y = x * gain`.
//! pub struct Gain(pub f32);
//!
//! impl SyncFn for Gain {
//!     type In = Cf32;
//!     type Out = Cf32;
//!     fn process(&mut self, input: &[Cf32], output: &mut [Cf32]) {
//!         for (x, y) in input.iter().zip(output) {
//!             *y = x * self.0;
//!         }
//!     }
//! }
//!
//! sync_block! {
//!     /// The block around [`Gain`], generic over its reader and writer.
//!     pub struct Scale(Gain);
//! }
//!
//! let block = Scale::<
//!     futuresdr::runtime::dev::DefaultCpuReader<Cf32>,
//!     futuresdr::runtime::dev::DefaultCpuWriter<Cf32>,
//! >::new(Gain(2.0), Default::default());
//! assert_eq!(block.state().0, 2.0);
//! ```

use futuresdr::runtime::Pmt;
use futuresdr::runtime::dev::{CpuBufferReader, CpuBufferWriter, CpuSample, WorkIo};

use crate::stats::{BlockStats, CounterLabel};

/// The state and per-chunk function of a synchronous block (see the [module](self) and
/// [`sync_block!`](crate::sync_block!)).
pub trait SyncFn: Send + 'static {
    /// The input item.
    type In: CpuSample;
    /// The output item.
    type Out: CpuSample;

    /// Computes `output` from `input`, both of the same length: a whole number of
    /// [`frame`](Self::frame)s, never empty. State carried from one chunk to the next (a
    /// filter's history, an oscillator's phase) lives in `self`.
    fn process(&mut self, input: &[Self::In], output: &mut [Self::Out]);

    /// The items the function needs at once (1, the default; an FFT length): it is handed
    /// whole frames only, the block asks its buffers for at least one frame, and it ends when
    /// less than a frame is left after its input has ended.
    fn frame(&self) -> usize {
        1
    }

    /// The output index of a tag on input item `index` (the same, the default).
    fn tag_index(&self, index: usize) -> usize {
        index
    }

    /// Called once, when the block is made: set notes and label counters in `stats`.
    fn describe(&self, _stats: &BlockStats) {}
}

/// The counter of a block working on frames (a [`SyncFn::frame`] of more than one item) whose
/// input ended inside a frame: the items of that partial frame, which the block never
/// processed (exact: the block counts what it was handed). Not set when the input ended on a
/// frame boundary.
pub const PARTIAL_FRAME_ITEMS: &str = "partial_frame_items";

/// One `work()` call of a synchronous block: [`SyncFn::process`] on the next
/// `min(input available, output space)` items rounded down to whole frames (never called with
/// none), tags forwarded to [`SyncFn::tag_index`], items consumed, produced and counted in
/// `stats`, and `io.finished` set once the input has ended and less than a frame is left
/// (those items counted in [`PARTIAL_FRAME_ITEMS`] and logged, when there are any).
pub fn sync_work<F, R, W>(
    f: &mut F,
    input: &mut R,
    output: &mut W,
    stats: &BlockStats,
    io: &mut WorkIo,
) where
    F: SyncFn,
    R: CpuBufferReader<Item = F::In>,
    W: CpuBufferWriter<Item = F::Out>,
{
    let frame = f.frame();
    let (i, i_tags) = input.slice_with_tags();
    let (o, mut o_tags) = output.slice_with_tags();
    let n = i.len().min(o.len()) / frame * frame;
    if n > 0 {
        f.process(&i[..n], &mut o[..n]);
        for t in i_tags.iter().filter(|t| t.index < n) {
            o_tags.add_tag(f.tag_index(t.index), t.tag.clone());
        }
    }
    let remaining = i.len() - n;
    input.consume(n);
    output.produce(n);
    stats.add_in(n);
    stats.add_out(n);
    if input.finished() && remaining < frame {
        if remaining > 0 {
            stats.set_counter(PARTIAL_FRAME_ITEMS, remaining as u64);
            tracing::warn!(
                "the input ended {remaining} items into a frame of {frame}: not processed \
                 ({PARTIAL_FRAME_ITEMS})"
            );
        }
        io.finished = true;
    }
}

/// The number a message carries (`f32`, `f64`, `u32`, `u64`, `usize` or `isize`), as `f64`;
/// `None` for any other message (which a handler usually answers as a query).
pub fn message_number(p: &Pmt) -> Option<f64> {
    match *p {
        Pmt::F32(v) => Some(f64::from(v)),
        Pmt::F64(v) => Some(v),
        Pmt::U32(v) => Some(f64::from(v)),
        Pmt::U64(v) => Some(v as f64),
        Pmt::Usize(v) => Some(v as f64),
        Pmt::Isize(v) => Some(v as f64),
        _ => None,
    }
}

/// The reader and writer of a new [`sync_block!`](crate::sync_block!) block with state `f`,
/// asking for a frame at least when [`SyncFn::frame`] is more than one item (and labelling
/// [`PARTIAL_FRAME_ITEMS`] exact then); and `f`'s [`SyncFn::describe`] called.
#[doc(hidden)]
pub fn sync_buffers<F, R, W>(f: &F, stats: &BlockStats) -> (R, W)
where
    F: SyncFn,
    R: CpuBufferReader<Item = F::In>,
    W: CpuBufferWriter<Item = F::Out>,
{
    let (mut input, mut output) = (R::default(), W::default());
    let frame = f.frame();
    if frame > 1 {
        input.set_min_items(frame);
        output.set_min_items(frame);
        stats.label_counter(
            PARTIAL_FRAME_ITEMS,
            CounterLabel {
                approximate: false,
                evidence: Some("exact".into()),
            },
        );
    }
    f.describe(stats);
    (input, output)
}

/// Declares a synchronous block: a FutureSDR block (`#[derive(Block)]`) named `$name`,
/// generic over its reader `R` and writer `W` (defaults: FutureSDR's circular buffer), with the
/// stream ports `input` and `output`, a [`SyncFn`] state and the block's [`BlockStats`], whose
/// `work()` is [`sync_work`].
///
/// ```text
/// sync_block! {
///     /// doc
///     pub struct Mixer(Nco) messages(frequency);
/// }
/// sync_block! {
///     pub struct DcBlocker<T: DcItem>(DcFilter<T>);
/// }
/// ```
///
/// `messages(a, b)` adds FutureSDR message inputs named `a` and `b`, each handled by the
/// state's method of the same name, `fn a(&mut self, p: Pmt, stats: &BlockStats) -> Pmt`.
/// One generic parameter with one bound may precede the state. The block has
/// `new(state, stats)` (which calls [`SyncFn::describe`] and, for frames of more than one
/// item, asks both buffers for a frame at least), `state()` and `state_mut()`, and the
/// derive's `input()` and `output()`.
#[macro_export]
macro_rules! sync_block {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident $(<$g:ident : $bound:path>)? ($state:ty)
            $(messages($($handler:ident),+ $(,)?))?;
    ) => {
        $(#[$attr])*
        #[derive($crate::futuresdr::runtime::macros::Block)]
        $(#[message_inputs($($handler),+)])?
        $vis struct $name<
            $($g: $bound,)?
            R = $crate::futuresdr::runtime::dev::DefaultCpuReader<<$state as $crate::sync_block::SyncFn>::In>,
            W = $crate::futuresdr::runtime::dev::DefaultCpuWriter<<$state as $crate::sync_block::SyncFn>::Out>,
        >
        where
            R: $crate::futuresdr::runtime::dev::CpuBufferReader<Item = <$state as $crate::sync_block::SyncFn>::In>,
            W: $crate::futuresdr::runtime::dev::CpuBufferWriter<Item = <$state as $crate::sync_block::SyncFn>::Out>,
        {
            #[input]
            input: R,
            #[output]
            output: W,
            state: $state,
            stats: ::std::sync::Arc<$crate::BlockStats>,
        }

        impl<$($g: $bound,)? R, W> $name<$($g,)? R, W>
        where
            R: $crate::futuresdr::runtime::dev::CpuBufferReader<Item = <$state as $crate::sync_block::SyncFn>::In>,
            W: $crate::futuresdr::runtime::dev::CpuBufferWriter<Item = <$state as $crate::sync_block::SyncFn>::Out>,
        {
            /// The block around `state`, counting its items in `stats`.
            pub fn new(state: $state, stats: ::std::sync::Arc<$crate::BlockStats>) -> Self {
                let (input, output) = $crate::sync_block::sync_buffers(&state, &stats);
                Self { input, output, state, stats }
            }

            /// The block's state.
            pub fn state(&self) -> &$state {
                &self.state
            }

            /// The block's state, to change.
            pub fn state_mut(&mut self) -> &mut $state {
                &mut self.state
            }

            $($(
                async fn $handler(
                    &mut self,
                    _io: &mut $crate::futuresdr::runtime::dev::WorkIo,
                    _mo: &mut $crate::futuresdr::runtime::dev::MessageOutputs,
                    _meta: &mut $crate::futuresdr::runtime::dev::BlockMeta,
                    p: $crate::futuresdr::runtime::Pmt,
                ) -> $crate::futuresdr::runtime::Result<$crate::futuresdr::runtime::Pmt> {
                    Ok(self.state.$handler(p, &self.stats))
                }
            )+)?
        }

        impl<$($g: $bound,)? R, W> $crate::futuresdr::runtime::dev::Kernel for $name<$($g,)? R, W>
        where
            R: $crate::futuresdr::runtime::dev::CpuBufferReader<Item = <$state as $crate::sync_block::SyncFn>::In>,
            W: $crate::futuresdr::runtime::dev::CpuBufferWriter<Item = <$state as $crate::sync_block::SyncFn>::Out>,
        {
            async fn work(
                &mut self,
                io: &mut $crate::futuresdr::runtime::dev::WorkIo,
                _mo: &mut $crate::futuresdr::runtime::dev::MessageOutputs,
                _meta: &mut $crate::futuresdr::runtime::dev::BlockMeta,
            ) -> $crate::futuresdr::runtime::Result<()> {
                $crate::sync_block::sync_work(
                    &mut self.state,
                    &mut self.input,
                    &mut self.output,
                    &self.stats,
                    io,
                );
                Ok(())
            }
        }
    };
}

/// Builds a one-in, one-out kernel (ports as [`Ports::sync`](crate::Ports::sync)) with the reader and writer its
/// connections need, applies the input connection's buffer size and adds it, evaluating to
/// the block's id.
///
/// A [`sync_block!`] kernel is named with its state: `add_sync!(ctx, Cf32 => Ci16,
/// ComplexToIq(scale))` makes `ComplexToIq::<R, W>::new(scale, ctx.stats())`, and a generic
/// one takes its parameter first, `add_sync!(ctx, T => T, Head<T>(n))`. Any other kernel is an
/// expression in which `R` and `W` name the reader and writer types: `add_sync!(ctx, f32 =>
/// f32, |R, W| StockFir::<f32, R, W>::new(filter))`.
#[macro_export]
macro_rules! add_sync {
    ($ctx:expr, $I:ty => $O:ty, $block:ident $(<$G:ty>)? ($state:expr)) => {{
        let stats = $ctx.stats();
        $crate::add_sync!($ctx, $I => $O, |R, W| $block::<$($G,)? R, W>::new($state, stats))
    }};
    ($ctx:expr, $I:ty => $O:ty, |$R:ident, $W:ident| $kernel:expr) => {{
        let out = $ctx.output_buffer("out");
        $crate::with_reader!($ctx.input_buffer("in"), $I, $R => $crate::with_writer!(out, $O, $W => {
            let mut block = $kernel;
            $ctx.configure_input("in", block.input());
            $ctx.add(block)
        }))
    }};
}

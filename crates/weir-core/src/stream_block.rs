//! Sources and sinks: blocks with one stream port that move raw items to or from the outside
//! (a file, a socket, a device), or just consume them.
//!
//! Such a block is its state and three steps, a [`StreamKernel`]; [`source_block!`](crate::source_block!) and
//! [`sink_block!`](crate::sink_block!) declare the FutureSDR block around it the same way for every one: generic
//! over its item `T` ([`RawItem`]) and over its writer `W` or reader `R` (so a sink fed by a
//! device source reads the DMA block in place), with the port `output` or `input`, and a
//! `Kernel` that hands `init`, `work` and `deinit` to the state's steps. [`ItemCarry`] is the
//! step a source shares whose reads end anywhere, not on item boundaries; [`add_source!`](crate::add_source!) and
//! [`add_sink!`](crate::add_sink!) build such a block with the writer or reader its connection needs.
//!
//! ```
//! use futuresdr::runtime::Result;
//! use futuresdr::runtime::dev::prelude::*;
//! use weir_core::sink_block;
//! use weir_core::stream_block::{RawItem, StreamKernel};
//!
//! sink_block! {
//!     /// Counts its input.
//!     pub struct Count<T> {
//!         seen: usize,
//!     }
//! }
//!
//! impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for Count<T, R> {
//!     fn step(&mut self, io: &mut WorkIo) -> Result<()> {
//!         let n = self.input.slice().len();
//!         self.input.consume(n);
//!         self.seen += n;
//!         io.finished = self.input.finished();
//!         Ok(())
//!     }
//! }
//!
//! let block = Count::<f32> { input: Default::default(), seen: 0 };
//! assert_eq!(block.seen, 0);
//! ```

use std::future::Future;

use futuresdr::runtime::Result;
use futuresdr::runtime::dev::{CpuSample, WorkIo};

/// An item a source or sink moves as its bytes: in its in-memory (little-endian) layout.
pub trait RawItem: CpuSample + bytemuck::Pod {}

impl<T: CpuSample + bytemuck::Pod> RawItem for T {}

/// The steps of a block declared with [`source_block!`](crate::source_block!) or [`sink_block!`](crate::sink_block!): its `Kernel`'s
/// `init`, `work` and `deinit`, without FutureSDR's message outputs and block metadata, which
/// none of these blocks use.
pub trait StreamKernel: Send {
    /// When the flowgraph starts (connect, start a clock); nothing by default.
    fn init(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// One `work()` call: move what can be moved, set `io.finished` at the end of the stream.
    fn step(&mut self, io: &mut WorkIo) -> Result<()>;

    /// When the flowgraph stops, at the end of the stream or before it (close, write what is
    /// left); nothing by default.
    fn deinit(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The bytes of an item a read ended inside of, completed by the next read: for a source
/// reading something (a file, a stream socket) whose reads end anywhere, not on item
/// boundaries.
#[derive(Debug, Default)]
pub struct ItemCarry(Vec<u8>);

/// What one [`ItemCarry::read_into`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    /// The bytes the read returned: 0 at the end (of the file, of the connection).
    pub read: usize,
    /// The whole items now at the start of the output, to produce.
    pub items: usize,
}

impl ItemCarry {
    /// The bytes carried: of an item whose rest has not been read yet.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no bytes are carried: the last read ended on an item boundary.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One read into `out`, an output slice of at least one item: the carried bytes first,
    /// then `read` into the rest, once (a short read is fine, the next call goes on). The
    /// bytes of a partial item at the end are carried to the next call; on an error nothing
    /// changes.
    pub fn read_into<T: RawItem>(
        &mut self,
        out: &mut [T],
        read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<Filled> {
        let item = size_of::<T>();
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
        let have = self.0.len();
        bytes[..have].copy_from_slice(&self.0);
        let n = read(&mut bytes[have..])?;
        let filled = have + n;
        let items = filled / item;
        self.0.clear();
        self.0.extend_from_slice(&bytes[items * item..filled]);
        Ok(Filled { read: n, items })
    }
}

/// Declares a source: a FutureSDR block (`#[derive(Block)]`) named `$name`, generic over its
/// item `T` ([`RawItem`]) and writer `W` (default: FutureSDR's circular buffer), with the
/// stream output `output` and the given fields, whose `Kernel` is its [`StreamKernel`] (which
/// the block implements). Attributes after the doc comment (`#[blocking]`: a thread of its own,
/// for blocking I/O) go to the block.
///
/// ```text
/// source_block! {
///     /// doc
///     #[blocking]
///     pub struct FileSource<T> {
///         file: File,
///     }
/// }
/// ```
#[macro_export]
macro_rules! source_block {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident<$T:ident> {
            $($(#[$fattr:meta])* $field:ident: $fty:ty),* $(,)?
        }
    ) => {
        $crate::__stream_block!(
            $(#[$attr])* $vis $name $T, W, output,
            CpuBufferWriter, DefaultCpuWriter,
            { $($(#[$fattr])* $field: $fty,)* }
        );
    };
}

/// Declares a sink: as [`source_block!`](crate::source_block!), with the stream input `input` read through `R`
/// (default: FutureSDR's circular buffer; a device source's blocks in place with
/// [`MappedBlockReader`](crate::MappedBlockReader)).
#[macro_export]
macro_rules! sink_block {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident<$T:ident> {
            $($(#[$fattr:meta])* $field:ident: $fty:ty),* $(,)?
        }
    ) => {
        $crate::__stream_block!(
            $(#[$attr])* $vis $name $T, R, input,
            CpuBufferReader, DefaultCpuReader,
            { $($(#[$fattr])* $field: $fty,)* }
        );
    };
}

/// The one body of [`source_block!`](crate::source_block!) and [`sink_block!`](crate::sink_block!): `$B` is the writer or reader, `$port`
/// its field and port (`#[output] output` or `#[input] input`).
#[doc(hidden)]
#[macro_export]
macro_rules! __stream_block {
    (
        $(#[$attr:meta])* $vis:vis $name:ident $T:ident, $B:ident, $port:ident,
        $bound:ident, $default:ident, { $($fields:tt)* }
    ) => {
        #[derive($crate::futuresdr::runtime::macros::Block)]
        $(#[$attr])*
        $vis struct $name<$T, $B = $crate::futuresdr::runtime::dev::$default<$T>>
        where
            $T: $crate::stream_block::RawItem,
            $B: $crate::futuresdr::runtime::dev::$bound<Item = $T>,
        {
            #[$port]
            $port: $B,
            $($fields)*
        }

        impl<$T, $B> $crate::futuresdr::runtime::dev::Kernel for $name<$T, $B>
        where
            $T: $crate::stream_block::RawItem,
            $B: $crate::futuresdr::runtime::dev::$bound<Item = $T>,
            Self: $crate::stream_block::StreamKernel,
        {
            async fn init(
                &mut self,
                _mo: &mut $crate::futuresdr::runtime::dev::MessageOutputs,
                _meta: &mut $crate::futuresdr::runtime::dev::BlockMeta,
            ) -> $crate::futuresdr::runtime::Result<()> {
                $crate::stream_block::StreamKernel::init(self).await
            }

            async fn work(
                &mut self,
                io: &mut $crate::futuresdr::runtime::dev::WorkIo,
                _mo: &mut $crate::futuresdr::runtime::dev::MessageOutputs,
                _meta: &mut $crate::futuresdr::runtime::dev::BlockMeta,
            ) -> $crate::futuresdr::runtime::Result<()> {
                $crate::stream_block::StreamKernel::step(self, io)
            }

            async fn deinit(
                &mut self,
                _mo: &mut $crate::futuresdr::runtime::dev::MessageOutputs,
                _meta: &mut $crate::futuresdr::runtime::dev::BlockMeta,
            ) -> $crate::futuresdr::runtime::Result<()> {
                $crate::stream_block::StreamKernel::deinit(self)
            }
        }
    };
}

/// Builds a source for items of `$item` (an [`ItemType`](crate::ItemType)) with the writer its
/// output connection needs and adds it: `add_source!(ctx, item, |T, W| FileSource::<T,
/// W>::new(file))` evaluates to the block's id. `T` and `W` name the item and writer types
/// inside the expression.
#[macro_export]
macro_rules! add_source {
    ($ctx:expr, $item:expr, |$T:ident, $W:ident| $kernel:expr) => {{
        let out = $ctx.output_buffer("out");
        $crate::with_item_type!($item, $T => {
            $crate::with_writer!(out, $T, $W => $ctx.add($kernel))
        })
    }};
}

/// Builds a sink for items of `$item` with the reader its input connection needs, applies
/// the connection's buffer size and adds it: `add_sink!(ctx, item, |T, R| NullSink::<T,
/// R>::new(stats))` evaluates to the block's id.
#[macro_export]
macro_rules! add_sink {
    ($ctx:expr, $item:expr, |$T:ident, $R:ident| $kernel:expr) => {{
        let kind = $ctx.input_buffer("in");
        $crate::with_item_type!($item, $T => {
            $crate::with_reader!(kind, $T, $R => {
                let mut block = $kernel;
                $ctx.configure_input("in", block.input());
                $ctx.add(block)
            })
        })
    }};
}

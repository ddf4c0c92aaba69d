//! `file_sink`: write raw items to a file.
//!
//! weir's own rather than FutureSDR's `FileSink` (0.0.40): that one opens the file only when
//! the flowgraph starts, `unwrap()`s the handle and `panic!`s on a write error (a full disk
//! takes its executor thread down), and keeps no statistics. weir's creates the file when the
//! flowgraph is built, so a bad `path` is a load error naming the parameter; a write error
//! ends the run with an error naming the block and the file; and items are counted in the
//! block's [`BlockStats`].
//!
//! Each input slice is written with one `write` from where it is ([`SinkFile`]): fed by
//! `dmabuf_source`, straight from the DMA block's mapped memory, with no buffer in user space.
//! So every item counted in the report is in the file, however the run ends (its end, an
//! error, a signal, or a second Ctrl-C that quits at once). With `o_direct = true` the writes
//! bypass the page cache (the loader checks that the input is whole device blocks of a
//! multiple of [`O_DIRECT_ALIGN`](weir_core::sink_file::O_DIRECT_ALIGN) bytes). Samples the device lost (its overruns, the writer
//! falling behind among them) are counted from the source's stream tags: the report says
//! what the file is missing.

use std::path::Path;
use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::sink_file::{capture_input, capture_items, capture_params};
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::tags::Overrun;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    Ports, SinkFile, add_sink, sink_block,
};

sink_block! {
    /// Writes items to a file in their in-memory (little-endian) layout, as GNU Radio's file sink.
    ///
    /// A blocking block: it gets its own thread, so file I/O never stalls the async executor.
    #[blocking]
    pub struct FileSink<T> {
        file: SinkFile,
        path: String,
        /// Items still to write before ending the stream (`u64::MAX`: until it ends).
        remaining: u64,
        lost_samples: u64,
        gaps: u64,
        stats: Arc<BlockStats>,
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> FileSink<T, R> {
    /// A sink writing to `file` (named `path` in errors), `items` of them (`None`: until the
    /// stream ends).
    pub fn new(file: SinkFile, path: String, items: Option<u64>, stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            file,
            path,
            remaining: items.unwrap_or(u64::MAX),
            lost_samples: 0,
            gaps: 0,
            stats,
        }
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for FileSink<T, R> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let block = self.input.block_id();
        let (items, tags) = self.input.slice_with_tags();
        let n = items
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let items = &items[..n];
        if n > 0 {
            for o in tags
                .iter()
                .filter(|t| t.index < n)
                .filter_map(|t| Overrun::from_tag(&t.tag))
            {
                self.lost_samples += o.lost_samples.unwrap_or(0);
                self.gaps += o.events;
                self.stats.set_counter("lost_samples", self.lost_samples);
                self.stats.set_counter("gaps", self.gaps);
            }
            self.file
                .write_from(block, bytemuck::cast_slice(items))
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.path))?;
            self.input.consume(n);
            self.remaining -= n as u64;
            self.stats.add_in(n);
        }
        if self.input.finished() || self.remaining == 0 {
            io.finished = true;
        }
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![capture_input(p, p.item("item")?)?],
        outputs: vec![],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let path = ctx.params.str("path")?.to_string();
    let stats = ctx.stats();
    let file = SinkFile::for_sink(ctx.params, Path::new(&path), stats.clone())?;
    let items = capture_items(ctx.params)?;
    Ok(add_sink!(ctx, ctx.params.item("item")?, |T, R| {
        FileSink::<T, R>::new(file, path, items, stats)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "file_sink",
        doc: "Write raw items (little-endian, in-memory layout) to a file, each input slice \
              from its own memory (DMA blocks in place); samples the device lost are counted",
        params: vec![
            ParamSpec::required("path", ParamType::Str, "file to create or truncate"),
            ParamSpec::item(ItemType::Cf32, "item type"),
        ]
        .into_iter()
        .chain(capture_params())
        .collect(),
        ports,
        build,
    }
}

//! `file_sink`: write raw items to a file.
//!
//! weir's own rather than FutureSDR's `FileSink` (0.0.40): that one opens the file only when
//! the flowgraph starts, `unwrap()`s the handle and `panic!`s on a write error (a full disk
//! takes its executor thread down), and keeps no statistics. weir's creates the file when the
//! flowgraph is built, so a bad `path` is a load error naming the parameter; a write error
//! ends the run with an error naming the block and the file; and items are counted in the
//! block's [`BlockStats`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ParamSpec, ParamType, Params, PortSpec,
    Ports, Value, with_item_type, with_reader,
};

/// Writes items to a file in their in-memory (little-endian) layout, as GNU Radio's file sink.
///
/// A blocking block: it gets its own thread, so file I/O never stalls the async executor.
#[derive(Block)]
#[blocking]
pub struct FileSink<T, R = DefaultCpuReader<T>>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    #[input]
    input: R,
    file: Option<BufWriter<File>>,
    path: String,
    stats: Arc<BlockStats>,
}

impl<T, R> FileSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    /// A sink writing to `file` (named `path` in errors).
    pub fn new(file: File, path: String, stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            path,
            stats,
        }
    }
}

impl<T, R> FileSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    /// One `work()` call; errors are recorded in the block statistics by the caller.
    async fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let i = self.input.slice();
        let n = i.len();
        if n > 0 {
            if let Some(f) = self.file.as_mut() {
                f.write_all(bytemuck::cast_slice(i))
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.path))?;
            }
            self.input.consume(n);
            self.stats.add_in(n);
        }
        if self.input.finished() {
            io.finished = true;
        }
        Ok(())
    }
}

impl<T, R> Kernel for FileSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        self.step(io).await
    }

    async fn deinit(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.path))?;
        }
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", p.item("item")?)],
        outputs: vec![],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let path = ctx.params.str("path")?.to_string();
    let file = File::create(&path)
        .map_err(|e| BuildError::param("path", format!("cannot create `{path}`: {e}")))?;
    let stats = ctx.stats();
    let kind = ctx.input_buffer("in");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            let mut block = FileSink::<T, R>::new(file, path, stats);
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "file_sink",
        doc: "Write raw items (little-endian, in-memory layout) to a file",
        params: vec![
            ParamSpec::required("path", ParamType::Str, "file to create or truncate"),
            ParamSpec::optional(
                "item",
                ParamType::Item,
                Value::Str("cf32".into()),
                "item type",
            ),
        ],
        ports,
        build,
    }
}

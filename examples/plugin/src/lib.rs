//! An example weir plugin built as a shared library: put `libweir_plugin_example.so` in a
//! directory listed in `WEIR_PLUGIN_PATH` and the `conjugate` block can be used in flowgraph
//! files like any bundled block.
//!
//! A plugin loads only into a weir built from the same weir-core and FutureSDR by the same
//! compiler (weir checks; see `weir_core::dynamic`), so build it in weir's cargo workspace with
//! the same profile as the `weir` that loads it.

#![warn(missing_docs)]

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir::core::{
    BlockDescriptor, BlockStats, BufferKind, BuildContext, BuildError, Cf32, ItemType, Params,
    Plugin, PortSpec, Ports, Registry, with_reader,
};

/// Complex conjugate: `re - j im` (spectral inversion).
#[derive(Block)]
pub struct Conjugate<R = DefaultCpuReader<Cf32>>
where
    R: CpuBufferReader<Item = Cf32>,
{
    #[input]
    input: R,
    #[output]
    output: DefaultCpuWriter<Cf32>,
    stats: Arc<BlockStats>,
}

impl<R> Kernel for Conjugate<R>
where
    R: CpuBufferReader<Item = Cf32>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let i = self.input.slice();
        let o = self.output.slice();
        let n = i.len().min(o.len());
        for (x, y) in i[..n].iter().zip(o[..n].iter_mut()) {
            *y = x.conj();
        }
        let rest = i.len() - n;
        self.input.consume(n);
        self.output.produce(n);
        self.stats.add_in(n);
        self.stats.add_out(n);
        if self.input.finished() && rest == 0 {
            io.finished = true;
        }
        Ok(())
    }
}

fn ports(_: &Params) -> std::result::Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32)],
        outputs: vec![PortSpec::output(
            "out",
            "output",
            ItemType::Cf32,
            BufferKind::Circular,
        )],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> std::result::Result<BlockId, BuildError> {
    let stats = ctx.stats();
    Ok(with_reader!(ctx.input_buffer("in"), Cf32, R => {
        let mut block = Conjugate::<R> {
            input: R::default(),
            output: DefaultCpuWriter::default(),
            stats,
        };
        ctx.configure_input("in", block.input());
        ctx.add(block)
    }))
}

/// The plugin: one block type, `conjugate`.
pub struct ExamplePlugin;

impl Plugin for ExamplePlugin {
    fn name(&self) -> &'static str {
        "example"
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(BlockDescriptor {
            type_name: "conjugate",
            doc: "Complex conjugate of every sample (example plugin loaded from WEIR_PLUGIN_PATH)",
            params: vec![],
            ports,
            build,
        });
    }
}

weir::core::export_plugin!(ExamplePlugin);

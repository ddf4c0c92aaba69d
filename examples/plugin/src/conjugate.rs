//! `conjugate`: the complex conjugate of every sample, `re - j im` (spectral inversion).

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir::core::sync_block::sync_work;
use weir::core::{
    BlockDescriptor, BlockStats, BufferKind, BuildContext, BuildError, Cf32, ItemType, Params,
    PortSpec, Ports, with_reader, with_writer,
};

/// `y = conj(x)`, generic over its reader and writer: it reads a DMABUF block in place
/// when a `dmabuf_source` feeds it, and writes into a zero-copy sink's DMA block.
#[derive(Block)]
pub struct Conjugate<R = DefaultCpuReader<Cf32>, W = DefaultCpuWriter<Cf32>>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    #[input]
    input: R,
    #[output]
    output: W,
    stats: Arc<BlockStats>,
}

impl<R, W> Conjugate<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    /// A block counting its items in `stats`.
    pub fn new(stats: Arc<BlockStats>) -> Self {
        Self {
            input: R::default(),
            output: W::default(),
            stats,
        }
    }
}

impl<R, W> Kernel for Conjugate<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        // `sync_work` takes what both buffers allow, forwards every tag (the DMABUF source's
        // `dmabuf_block`, `dmabuf_time`, `dmabuf_overrun`) to the same sample, counts the items
        // and ends the block with its input: the block only says what one chunk becomes.
        sync_work(
            &mut self.input,
            &mut self.output,
            &self.stats,
            io,
            |x, y| {
                for (x, y) in x.iter().zip(y) {
                    *y = x.conj();
                }
            },
        );
        Ok(())
    }
}

fn ports(_: &Params) -> std::result::Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32)],
        outputs: vec![
            PortSpec::output("out", "output", ItemType::Cf32, BufferKind::Circular)
                .filling_blocks(),
        ],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> std::result::Result<BlockId, BuildError> {
    let stats = ctx.stats();
    let out = ctx.output_buffer("out");
    Ok(
        with_reader!(ctx.input_buffer("in"), Cf32, R => with_writer!(out, Cf32, W => {
            let mut block = Conjugate::<R, W>::new(stats);
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })),
    )
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "conjugate",
        doc: "Complex conjugate of every sample (example plugin loaded from WEIR_PLUGIN_PATH)",
        params: vec![],
        ports,
        build,
    }
}

#[cfg(test)]
mod tests {
    use futuresdr::runtime::dev::Tag;
    use futuresdr::runtime::mocker::{Mocker, Reader, Writer};
    use weir::core::tags::BlockTime;

    use super::*;

    #[test]
    fn conjugates_every_sample_and_forwards_dmabuf_tags_to_the_same_sample() {
        let input: Vec<Cf32> = (0..1000)
            .map(|n| Cf32::new(n as f32, -2.0 * n as f32 + 1.0))
            .collect();
        let time = BlockTime {
            sequence: 1,
            completed_ns: 42,
            first_sample: 500,
            device_timestamp_ns: None,
        };
        let tags = vec![
            ItemTag {
                index: 0,
                tag: Tag::NamedUsize("dmabuf_block".into(), 0),
            },
            ItemTag {
                index: 500,
                tag: Tag::NamedUsize("dmabuf_block".into(), 1),
            },
            ItemTag {
                index: 500,
                tag: time.tag(),
            },
        ];
        let stats = Arc::new(BlockStats::default());
        let mut m = Mocker::new(Conjugate::<Reader<Cf32>, Writer<Cf32>>::new(stats.clone()));
        m.input().set_with_tags(input.clone(), tags);
        m.output().reserve(input.len());
        m.run();
        let (output, out_tags) = m.output().take();

        assert_eq!(output.len(), input.len());
        for (n, (x, y)) in input.iter().zip(&output).enumerate() {
            assert_eq!(*y, Cf32::new(x.re, -x.im), "sample {n}");
        }
        let blocks: Vec<(usize, usize)> = out_tags
            .iter()
            .filter_map(|t| match &t.tag {
                Tag::NamedUsize(name, seq) if name == "dmabuf_block" => Some((t.index, *seq)),
                _ => None,
            })
            .collect();
        assert_eq!(blocks, [(0, 0), (500, 1)]);
        let times: Vec<(usize, BlockTime)> = out_tags
            .iter()
            .filter_map(|t| BlockTime::from_tag(&t.tag).map(|b| (t.index, *b)))
            .collect();
        assert_eq!(times, [(500, time)]);
        assert_eq!((stats.items_in(), stats.items_out()), (1000, 1000));
    }
}

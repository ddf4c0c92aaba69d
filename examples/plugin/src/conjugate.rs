//! `conjugate`: the complex conjugate of every sample, `re - j im` (spectral inversion).

use futuresdr::runtime::BlockId;
use weir::core::sync_block::SyncFn;
use weir::core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, Params, Ports, add_sync, sync_block,
};

/// `y = conj(x)`: the per-chunk function, and the state (none here) it keeps between chunks.
pub struct Conj;

impl SyncFn for Conj {
    type In = Cf32;
    type Out = Cf32;

    fn process(&mut self, input: &[Cf32], output: &mut [Cf32]) {
        for (x, y) in input.iter().zip(output) {
            *y = x.conj();
        }
    }
}

sync_block! {
    /// The `conjugate` block: [`Conj`] generic over its reader and writer, so it reads a DMABUF
    /// block in place when a `dmabuf_source` feeds it, and writes into a zero-copy sink's DMA
    /// block. Its `work()` takes what both buffers allow, forwards every tag (the DMABUF
    /// source's `dmabuf_block`, `dmabuf_time`, `dmabuf_overrun`) to the same sample, counts the
    /// items and ends the block with its input.
    pub struct Conjugate(Conj);
}

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::sync(ItemType::Cf32, ItemType::Cf32))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Ok(add_sync!(ctx, Cf32 => Cf32, Conjugate(Conj)))
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
    use std::sync::Arc;

    use futuresdr::runtime::dev::{ItemTag, Tag};
    use futuresdr::runtime::mocker::{Mocker, Reader, Writer};
    use weir::core::BlockStats;
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
        let mut m = Mocker::new(Conjugate::<Reader<Cf32>, Writer<Cf32>>::new(
            Conj,
            stats.clone(),
        ));
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

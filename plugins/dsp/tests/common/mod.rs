//! Test blocks shared by the DSP plugin's integration tests.

#![allow(dead_code)]

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{MappedBlock, MappedBlockWriter};

/// Device memory stand-in: a byte vector lent to readers by reference.
pub struct Bytes(pub Vec<u8>);

impl MappedBlock for Bytes {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A source handing out the given blocks through the by-reference buffer, exactly as the DMABUF
/// source does: every block is one input slice downstream, so the blocks' sizes decide where
/// the consumer's chunks end.
#[derive(Block)]
pub struct MappedSource {
    #[output]
    output: MappedBlockWriter<u8>,
    blocks: Vec<(Vec<u8>, Vec<ItemTag>)>,
}

impl MappedSource {
    /// A source of `blocks` (bytes, tags with byte indices within the block).
    pub fn new(blocks: Vec<(Vec<u8>, Vec<ItemTag>)>) -> Self {
        Self {
            output: MappedBlockWriter::default(),
            blocks,
        }
    }
}

impl Kernel for MappedSource {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        for (bytes, tags) in self.blocks.drain(..) {
            self.output.submit(Arc::new(Bytes(bytes)), tags)?;
        }
        io.finished = true;
        Ok(())
    }
}

/// A sink keeping every item and every tag (with its absolute item index).
#[derive(Block)]
pub struct CollectSink<T: CpuSample + Copy, R: CpuBufferReader<Item = T> = DefaultCpuReader<T>> {
    #[input]
    input: R,
    /// Items received.
    pub items: Vec<T>,
    /// Tags received, at absolute item indices.
    pub tags: Vec<(usize, Tag)>,
}

impl<T: CpuSample + Copy, R: CpuBufferReader<Item = T>> Default for CollectSink<T, R> {
    fn default() -> Self {
        Self {
            input: R::default(),
            items: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl<T: CpuSample + Copy, R: CpuBufferReader<Item = T>> Kernel for CollectSink<T, R> {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let (i, tags) = self.input.slice_with_tags();
        let base = self.items.len();
        self.items.extend_from_slice(i);
        self.tags
            .extend(tags.iter().map(|t| (base + t.index, t.tag.clone())));
        let n = i.len();
        self.input.consume(n);
        if self.input.finished() {
            io.finished = true;
        }
        Ok(())
    }
}

/// The numeric ids of `tags` with their indices.
pub fn tag_ids(tags: &[(usize, Tag)]) -> Vec<(usize, u64)> {
    tags.iter()
        .map(|(i, t)| match t {
            Tag::Id(id) => (*i, *id),
            other => panic!("unexpected tag {other:?}"),
        })
        .collect()
}

/// A tag with id `id` at `index`.
pub fn id_tag(index: usize, id: u64) -> ItemTag {
    ItemTag {
        index,
        tag: Tag::Id(id),
    }
}

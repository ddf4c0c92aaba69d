//! `sigmf_source`: play a SigMF recording back.
//!
//! The item type is the recording's `core:datatype`, read when the flowgraph is checked, so a
//! recording connected to a block of another type is refused at load time. The first item
//! carries a [`StreamInfo`] tag with the recording's rate, and every annotation `sigmf_sink`
//! wrote for an overrun becomes an [`Overrun`] tag again at its sample: a recording played into
//! `sigmf_sink` keeps its rate and its losses.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::tags::{Evidence, Overrun, StreamInfo};
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params, Ports,
    add_source, source_block,
};

use crate::meta::{self, Meta};

source_block! {
    /// Emits the samples of a recording's data file, then ends the stream.
    #[blocking]
    pub struct SigmfSource<T> {
        data: File,
        data_path: PathBuf,
        /// Items not read yet.
        remaining: u64,
        /// Items emitted so far.
        emitted: u64,
        /// Tags still to come, by item index, in order.
        tags: Vec<(u64, Tag)>,
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> SigmfSource<T, W> {
    /// A source playing `items` items of `data`, with the tags `meta` implies.
    pub fn new(data: File, data_path: PathBuf, items: u64, meta: &Meta) -> Self {
        Self {
            output: W::default(),
            data,
            data_path: data_path.clone(),
            remaining: items,
            emitted: 0,
            tags: tags(&data_path, meta),
        }
    }
}

/// The tags a recording's metadata implies, in item order: its description at item 0, each
/// overrun annotation at its sample.
fn tags(data_path: &std::path::Path, meta: &Meta) -> Vec<(u64, Tag)> {
    let mut tags = vec![(
        0,
        StreamInfo {
            device: format!(
                "SigMF recording {}{}",
                data_path.display(),
                meta.global
                    .hw
                    .as_ref()
                    .map(|hw| format!(" (of {hw})"))
                    .unwrap_or_default()
            ),
            sample_rate: meta.global.sample_rate,
            channels: Vec::new(),
        }
        .tag(),
    )];
    for a in &meta.annotations {
        if a.label.as_deref() != Some("overrun") {
            continue;
        }
        let evidence = match a.evidence.as_deref() {
            Some("exact") => Evidence::Exact,
            Some("hardware status") => Evidence::HardwareStatus,
            _ => Evidence::Estimate,
        };
        tags.push((
            a.sample_start,
            Overrun {
                lost_samples: a.lost_samples,
                events: a.gaps.unwrap_or(1),
                evidence,
            }
            .tag(),
        ));
    }
    tags.sort_by_key(|(at, _)| *at);
    tags
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> StreamKernel for SigmfSource<T, W> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        if self.remaining == 0 {
            io.finished = true;
            return Ok(());
        }
        let (out, mut out_tags) = self.output.slice_with_tags();
        let n = (out.len() as u64).min(self.remaining) as usize;
        if n == 0 {
            return Ok(());
        }
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out[..n]);
        self.data
            .read_exact(bytes)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", self.data_path.display()))?;
        let end = self.emitted + n as u64;
        while let Some((at, _)) = self.tags.first()
            && *at < end
        {
            let (at, tag) = self.tags.remove(0);
            out_tags.add_tag(at.saturating_sub(self.emitted) as usize, tag);
        }
        self.output.produce(n);
        self.emitted = end;
        self.remaining -= n as u64;
        if self.remaining == 0 {
            io.finished = true;
        } else {
            io.call_again = true;
        }
        Ok(())
    }
}

/// The recording named by `path`: its data path, its metadata, and its item type.
fn recording(path: &str) -> Result<(PathBuf, Meta, ItemType), BuildError> {
    let (data_path, meta_path) = meta::paths(path);
    let meta = meta::read(&meta_path).map_err(|e| BuildError::param("path", e))?;
    let item = meta::item_type(&meta.global.datatype).map_err(|e| BuildError::param("path", e))?;
    if meta.global.trailing_bytes.is_some_and(|b| b > 0)
        || meta
            .captures
            .iter()
            .any(|c| c.header_bytes.is_some_and(|b| b > 0))
    {
        return Err(BuildError::param(
            "path",
            format!(
                "`{}` has header or trailing bytes in its data file, which sigmf_source does \
                 not skip",
                meta_path.display()
            ),
        ));
    }
    Ok((data_path, meta, item))
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let (_, _, item) = recording(p.str("path")?)?;
    Ok(Ports::source(item))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let (data_path, meta, item) = recording(ctx.params.str("path")?)?;
    let data = File::open(&data_path).map_err(|e| {
        BuildError::param(
            "path",
            format!("cannot open `{}`: {e}", data_path.display()),
        )
    })?;
    let len = data
        .metadata()
        .map_err(|e| BuildError::param("path", format!("`{}`: {e}", data_path.display())))?
        .len();
    let size = item.size() as u64;
    if !len.is_multiple_of(size) {
        return Err(BuildError::param(
            "path",
            format!(
                "`{}` has {len} bytes, not a whole number of {} samples ({size} bytes each)",
                data_path.display(),
                meta.global.datatype
            ),
        ));
    }
    Ok(add_source!(ctx, item, |T, W| SigmfSource::<T, W>::new(
        data,
        data_path.clone(),
        len / size,
        &meta,
    )))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "sigmf_source",
        doc: "Play a SigMF recording: the item type is its core:datatype; its rate and overrun \
              annotations go downstream as tags (dmabuf_stream, dmabuf_overrun)",
        params: vec![ParamSpec::required(
            "path",
            ParamType::Str,
            "the recording: PATH, PATH.sigmf-meta or PATH.sigmf-data",
        )],
        ports,
        build,
    }
}

//! `sigmf_sink`: record the input as a SigMF recording.
//!
//! The data is written from the input's own memory ([`SinkFile`]): fed by `dmabuf_source`, a
//! chunk is the DMA block's mapped memory, and it goes to the file with one `write` from there,
//! never through a buffer, so every item accounted for is in the data file however the run
//! ends. With `o_direct = true` the writes bypass the page cache; `items` ends the recording
//! after that many items without a `head` (which would copy) in between, and with `o_direct`
//! the tail of the last DMA block is written after clearing `O_DIRECT`.
//!
//! The metadata says what the device said: its rate, its channel formats, and every loss it
//! reported, from the stream tags of weir's sources ([`weir_core::tags`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use futuresdr::runtime::dev::prelude::*;
use weir_core::sink_file::{capture_input, capture_items, capture_params};
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::tags::{BlockTime, Overrun, StreamInfo};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    Ports, SinkFile, Value, add_sink, sink_block,
};

use crate::meta::{self, Annotation, Capture, Extension, Global, Meta};

/// What the recording's metadata is made of, as the stream tells it.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The item type recorded.
    pub item: ItemType,
    /// The rate given by the flowgraph (`sample_rate` parameter), if any.
    pub sample_rate: Option<f64>,
    /// `core:frequency` of the first capture, if given.
    pub frequency: Option<f64>,
    /// `core:description`, if given.
    pub description: Option<String>,
    /// Items to record before ending the stream (`None`: until the stream ends).
    pub items: Option<u64>,
}

sink_block! {
    /// Writes its input to `PATH.sigmf-data` and, at the end of the stream (or when the flowgraph
    /// is stopped), `PATH.sigmf-meta`.
    #[blocking]
    pub struct SigmfSink<T> {
        data: SinkFile,
        data_path: PathBuf,
        meta_path: PathBuf,
        recording: Recording,
        /// Items written so far: the data file's sample index of the next item.
        written: u64,
        /// The device's description, from its stream's first tag.
        stream: Option<StreamInfo>,
        started: Option<SystemTime>,
        first_global_index: Option<u64>,
        captures: Vec<Capture>,
        annotations: Vec<Annotation>,
        meta_written: bool,
        stats: Arc<BlockStats>,
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> SigmfSink<T, R> {
    /// A sink writing `data` (the created `PATH.sigmf-data`) and later `meta_path`.
    pub fn new(
        data: SinkFile,
        data_path: PathBuf,
        meta_path: PathBuf,
        recording: Recording,
        stats: Arc<BlockStats>,
    ) -> Self {
        Self {
            input: R::default(),
            data,
            data_path,
            meta_path,
            recording,
            written: 0,
            stream: None,
            started: None,
            first_global_index: None,
            captures: Vec::new(),
            annotations: Vec::new(),
            meta_written: false,
            stats,
        }
    }

    /// The tags of the chunk: the stream's description, and a capture segment and an
    /// annotation for every loss.
    fn note_tags(&mut self, tags: &[ItemTag], n: usize) -> Result<()> {
        for t in tags.iter().filter(|t| t.index < n) {
            if let Some(info) = StreamInfo::from_tag(&t.tag) {
                check_stream(self.recording.item, info)?;
                self.stream = Some(info.clone());
            }
        }
        for t in tags.iter().filter(|t| t.index < n) {
            let at = self.written + t.index as u64;
            let global = || {
                tags.iter()
                    .filter(|o| o.index == t.index)
                    .find_map(|o| BlockTime::from_tag(&o.tag))
                    .map(|b| b.first_sample)
            };
            if BlockTime::from_tag(&t.tag).is_some() && self.first_global_index.is_none() {
                self.first_global_index = global();
            }
            if let Some(o) = Overrun::from_tag(&t.tag) {
                self.stats
                    .set_counter("annotations", self.annotations.len() as u64 + 1);
                self.annotations.push(Annotation {
                    sample_start: at,
                    label: Some("overrun".into()),
                    comment: Some(format!("{o} before this sample")),
                    generator: Some(recorder()),
                    lost_samples: o.lost_samples,
                    gaps: Some(o.events),
                    evidence: Some(o.evidence.to_string()),
                });
                // The samples from here on are not contiguous with those before: a new capture
                // segment, placed in the device's stream when the source said where.
                if at > 0 {
                    self.captures.push(Capture {
                        sample_start: at,
                        global_index: global(),
                        datetime: None,
                        frequency: None,
                        header_bytes: None,
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes the metadata, once (the data is in the file already).
    fn finish(&mut self) -> Result<()> {
        if self.meta_written {
            return Ok(());
        }
        self.meta_written = true;
        let meta = self.metadata();
        if let Some(rate) = meta.global.sample_rate {
            self.stats.set_note("sample_rate", format!("{rate} Hz"));
        } else {
            self.stats.set_note(
                "sample_rate",
                "unknown: no device said, and no sample_rate was given",
            );
        }
        meta::write(&self.meta_path, &meta)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.meta_path.display()))
    }

    /// The metadata of what was recorded.
    pub fn metadata(&self) -> Meta {
        let device_rate = self.stream.as_ref().and_then(|s| s.sample_rate);
        if let (Some(device), Some(given)) = (device_rate, self.recording.sample_rate)
            && device != given
        {
            tracing::warn!(
                "sigmf_sink: the device runs at {device} samples/s, not the {given} given: \
                 recording the device's rate"
            );
        }
        let num_channels = self
            .stream
            .as_ref()
            .map(|s| channels_per_item(self.recording.item, s.channels.len()))
            .filter(|&c| c > 1);
        let mut captures = vec![Capture {
            sample_start: 0,
            global_index: self.first_global_index,
            datetime: self
                .started
                .map(|t| humantime::format_rfc3339_micros(t).to_string()),
            frequency: self.recording.frequency,
            header_bytes: None,
        }];
        captures.extend(self.captures.iter().cloned());
        Meta {
            global: Global {
                datatype: meta::datatype(self.recording.item).to_string(),
                version: meta::SPEC_VERSION.to_string(),
                sample_rate: device_rate.or(self.recording.sample_rate),
                num_channels: num_channels.map(|c| c as u64),
                hw: self.stream.as_ref().map(ToString::to_string),
                recorder: Some(recorder()),
                description: self.recording.description.clone(),
                extensions: vec![Extension {
                    name: meta::EXTENSION.to_string(),
                    version: meta::EXTENSION_VERSION.to_string(),
                    optional: true,
                }],
                trailing_bytes: None,
            },
            captures,
            annotations: self.annotations.clone(),
        }
    }
}

/// `core:recorder`.
fn recorder() -> String {
    format!("weir {}", env!("CARGO_PKG_VERSION"))
}

/// Interleaved channels in one item: a device's channels are paired into complex items for
/// `ci16`, and are one each for `i16`.
fn channels_per_item(item: ItemType, device_channels: usize) -> usize {
    match item {
        ItemType::Ci16 => device_channels / 2,
        ItemType::I16 => device_channels,
        _ => 1,
    }
}

/// A device's raw samples recorded as `i16`/`ci16` must be what SigMF's `ri16_le`/`ci16_le`
/// say: 16-bit little-endian two's complement, unshifted, one per storage word; anything else
/// would be a recording that lies about its data.
fn check_stream(item: ItemType, info: &StreamInfo) -> Result<()> {
    if !matches!(item, ItemType::I16 | ItemType::Ci16) {
        return Ok(());
    }
    for (id, format) in &info.channels {
        // `le:s16/16>>0`, or `le:S12/16>>0`: upper case, the device sign-extends into all 16
        // bits (libiio's "fully defined"); a lower-case `s12` leaves the top bits undefined.
        let ok = weir_iio::ScanFormat::parse(format).is_ok_and(|f| {
            f.endianness == weir_iio::Endianness::Little
                && f.signed
                && f.storage_bits == 16
                && (f.real_bits == 16 || f.fully_defined)
                && f.repeat == 1
                && f.shift == 0
        });
        if !ok {
            anyhow::bail!(
                "{}: channel {id} is `{format}`, which SigMF's {} cannot describe; convert first \
                 (scan_to_cf32) and record cf32",
                info.device,
                meta::datatype(item)
            );
        }
    }
    if item == ItemType::Ci16 && !info.channels.len().is_multiple_of(2) {
        anyhow::bail!(
            "{}: {} channels cannot be paired into complex ci16 items",
            info.device,
            info.channels.len()
        );
    }
    Ok(())
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for SigmfSink<T, R> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let block = self.input.block_id();
        let (items, tags) = self.input.slice_with_tags();
        let wanted = self.recording.items.map_or(usize::MAX, |m| {
            usize::try_from(m - self.written).unwrap_or(usize::MAX)
        });
        let n = items.len().min(wanted);
        if n > 0 {
            if self.started.is_none() {
                self.started = Some(SystemTime::now());
            }
            let tags: Vec<ItemTag> = tags.iter().filter(|t| t.index < n).cloned().collect();
            self.note_tags(&tags, n)?;
            // The slice again (the tags borrowed it), cut to the `n` items accounted for: more
            // may have arrived since, and they belong to the next call.
            let (items, _) = self.input.slice_with_tags();
            let items = &items[..n];
            self.data
                .write_from(block, bytemuck::cast_slice(items))
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.data_path.display()))?;
            self.input.consume(n);
            self.written += n as u64;
            self.stats.add_in(n);
        }
        if self.input.finished() || self.recording.items == Some(self.written) {
            self.finish()?;
            io.finished = true;
        }
        Ok(())
    }

    fn deinit(&mut self) -> Result<()> {
        // Stopped before the end of the stream (--duration, Ctrl-C): what was written is still
        // a recording, and its metadata says so.
        self.finish()
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let item = p.item("item")?;
    let input = capture_input(p, item)?;
    if item == ItemType::U8 {
        return Err(BuildError::param(
            "item",
            "raw scan bytes have no SigMF datatype: record `ci16` (16-bit I/Q channel pairs), \
             or convert with scan_to_cf32 and record `cf32`",
        ));
    }
    Ok(Ports {
        inputs: vec![input],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let path = ctx.params.str("path")?.to_string();
    let (data_path, meta_path) = meta::paths(&path);
    let stats = ctx.stats();
    let file = SinkFile::for_sink(ctx.params, &data_path, stats.clone())?;
    let item = ctx.params.item("item")?;
    let rate = ctx.params.float("sample_rate")?;
    let recording = Recording {
        item,
        sample_rate: (rate > 0.0).then_some(rate),
        frequency: if ctx.params.is_set("frequency") {
            Some(ctx.params.float("frequency")?)
        } else {
            None
        },
        description: Some(ctx.params.str("description")?.to_string()).filter(|d| !d.is_empty()),
        items: capture_items(ctx.params)?,
    };
    stats.set_note("datatype", meta::datatype(item));
    Ok(add_sink!(ctx, item, |T, R| SigmfSink::<T, R>::new(
        file,
        data_path.clone(),
        meta_path.clone(),
        recording.clone(),
        stats.clone(),
    )))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "sigmf_sink",
        doc: "Record the input as SigMF: PATH.sigmf-data (written from the input's memory, DMA \
              blocks in place) and PATH.sigmf-meta with the datatype, the device's rate and \
              channel formats, and one annotation per overrun",
        params: vec![
            ParamSpec::required(
                "path",
                ParamType::Str,
                "recording to create: PATH.sigmf-data and PATH.sigmf-meta (PATH may name either)",
            ),
            ParamSpec::item(
                ItemType::Cf32,
                "item type (cf32 → cf32_le, ci16 → ci16_le, f32 → rf32_le, i16 → ri16_le)",
            ),
            ParamSpec::optional(
                "sample_rate",
                ParamType::Float,
                Value::Float(0.0),
                "samples/s, for core:sample_rate when no device upstream says its rate (a \
                 device's own rate wins); 0 = none",
            )
            .range(Some(0.0), Some(1e12)),
            ParamSpec::float(
                "frequency",
                0.0,
                "centre frequency in Hz for the capture's core:frequency (left out unless given)",
            )
            .range(Some(-1e15), Some(1e15)),
            ParamSpec::string("description", "", "core:description (left out when empty)"),
        ]
        .into_iter()
        .chain(capture_params())
        .collect(),
        ports,
        build,
    }
}

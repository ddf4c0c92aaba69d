//! The scan decoder shared by `scan_to_cf32` and `scan_to_f32`: raw IIO scan bytes, laid out as
//! the kernel describes them (`le:s12/16>>4`, ...), to floats.
//!
//! The decoding itself is weir-iio's ([`ScanFormat::decode`], [`ScanLayout`]); this module
//! finds the layout — the device's, handed over by the flowgraph loader from the source that
//! feeds the converter ([`weir_core::Params::input_layout`]), or the block parameters — and
//! runs the stream bookkeeping: whole scans only, partial scans carried over between input
//! chunks, tags moved from byte to scan indices.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockStats, BuildError, Cf32, ChannelLayout, ItemType, ParamSpec, Params, PeerLayout, PortSpec,
    Ports,
};
use weir_iio::{Endianness, ScanFormat, ScanLayout};

use crate::AddressLog;
use crate::sample_convert::{WordDecoder, decode_iq16, decode_real16, decode_scans};

/// One element (channel) of a scan to decode: where it is and how to scale it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElementDecoder {
    /// Byte offset of the element in a scan.
    pub offset: usize,
    /// Its storage format.
    pub format: ScanFormat,
    /// Factor applied to the decoded integer.
    pub scale: f32,
}

impl ElementDecoder {
    /// The scaled value of this element in `scan` (one whole scan).
    #[inline]
    pub fn value(&self, scan: &[u8]) -> f32 {
        self.format.decode(&scan[self.offset..]) as f32 * self.scale
    }

    /// The shift decoder of this element, when its storage is at most 32 bits.
    pub fn word_decoder(&self) -> Option<WordDecoder> {
        WordDecoder::new(self.offset, self.format, self.scale)
    }
}

/// The scan layout and the elements a converter reads, from the block parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSpec {
    /// Bytes per scan.
    pub scan_bytes: usize,
    /// The decoded elements: I then Q for `scan_to_cf32`, the one element for `scan_to_f32`.
    pub elements: Vec<ElementDecoder>,
}

/// The formats of every channel in a scan, from `format` (one type string for all channels, or a
/// comma-separated list, one per channel in scan order) and `channels`.
pub fn channel_formats(p: &Params) -> Result<Vec<ScanFormat>, BuildError> {
    let channels = p.positive("channels")?;
    let text = p.str("format")?;
    let parse = |s: &str| {
        ScanFormat::parse(s.trim()).map_err(|e| BuildError::param("format", e.to_string()))
    };
    let formats: Vec<ScanFormat> = if text.contains(',') {
        let list = text.split(',').map(parse).collect::<Result<Vec<_>, _>>()?;
        if list.len() != channels {
            return Err(BuildError::param(
                "format",
                format!(
                    "lists {} channel formats but `channels` is {channels}",
                    list.len()
                ),
            ));
        }
        list
    } else {
        vec![parse(text)?; channels]
    };
    Ok(formats)
}

/// A device's channel layout as weir-core carries it, decoded: every type string parsed and the
/// channels laid out by the kernel's rule.
pub fn device_scan_layout(layout: &ChannelLayout) -> Result<ScanLayout, String> {
    let formats = layout
        .channels
        .iter()
        .map(|c| ScanFormat::parse(&c.format).map_err(|e| format!("channel {}: {e}", c.id)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ScanLayout::new(
        layout
            .channels
            .iter()
            .zip(formats)
            .map(|(c, f)| (c.id.as_str(), c.scan_index, f)),
    ))
}

/// Whether the `format` parameter was written (an empty string counts as not written).
pub fn format_written(p: &Params) -> Result<bool, BuildError> {
    Ok(p.given("format") && !p.str("format")?.trim().is_empty())
}

/// The layout of the scans on input `in`: the device's, when the block feeding it publishes
/// one, checked against a hand-written `format`/`channels` (a disagreement is refused, naming
/// both); otherwise the parameters' (`format` must then be written).
pub fn converter_layout(p: &Params) -> Result<ScanLayout, BuildError> {
    let written = format_written(p)?;
    let peer = p.input_layout("in");
    match peer.map(|l| (l, &l.layout)) {
        Some((peer, Ok(device))) => checked_device_layout(p, peer, device, written),
        Some((peer, Err(why))) if !written => Err(BuildError::param(
            "format",
            format!(
                "not written, and the channel layout of {} is unknown ({why}); write the scan format, e.g. `format = \"le:s12/16>>4\"`",
                peer.describe()
            ),
        )),
        None if !written => Err(BuildError::param(
            "format",
            "not written, and the block feeding `in` publishes no channel layout (a device's `dmabuf_source` does); write the scan format, e.g. `format = \"le:s12/16>>4\"`",
        )),
        _ => hand_written_layout(p),
    }
}

/// The layout `format` and `channels` describe: channel k at scan index k.
fn hand_written_layout(p: &Params) -> Result<ScanLayout, BuildError> {
    let formats = channel_formats(p)?;
    let names: Vec<String> = (0..formats.len()).map(|i| i.to_string()).collect();
    Ok(ScanLayout::new(
        names
            .iter()
            .zip(&formats)
            .enumerate()
            .map(|(i, (n, f))| (n.as_str(), i as u32, *f)),
    ))
}

fn checked_device_layout(
    p: &Params,
    peer: &PeerLayout,
    device: &ChannelLayout,
    format_written: bool,
) -> Result<ScanLayout, BuildError> {
    let layout = device_scan_layout(device)
        .map_err(|m| BuildError::Other(format!("{}: {m}", peer.describe())))?;
    let count = layout.elements().len();
    let from = || format!("{} delivers {device}", peer.describe());
    if p.given("channels") {
        let channels = p.positive("channels")?;
        if channels != count {
            return Err(BuildError::param(
                "channels",
                format!(
                    "{channels} disagrees with the device: {} ({count} channels); leave `channels` out to take them from the device",
                    from()
                ),
            ));
        }
    }
    if format_written {
        let text = p.str("format")?;
        let parse = |s: &str| {
            ScanFormat::parse(s.trim()).map_err(|e| BuildError::param("format", e.to_string()))
        };
        let written: Vec<ScanFormat> = if text.contains(',') {
            text.split(',').map(parse).collect::<Result<_, _>>()?
        } else {
            vec![parse(text)?; count]
        };
        let agrees = written.len() == count
            && written
                .iter()
                .zip(layout.elements())
                .all(|(w, e)| *w == e.format);
        if !agrees {
            return Err(BuildError::param(
                "format",
                format!(
                    "{text:?} disagrees with the device: {}; write `format = \"{}\"` or leave `format` out to take it from the device",
                    from(),
                    device.formats()
                ),
            ));
        }
    }
    Ok(layout)
}

/// Why `layout` is not two 16-bit sign-extended I/Q channels that `ci16` items read (or write)
/// exactly: 16 storage bits in host byte order, each either 16 valid signed bits unshifted or
/// Analog Devices' sign-extended `S` (e.g. `le:S12/16>>0`), no repeat, exactly two channels.
/// `Ok`: the valid bits of the channels (16, or the `S` channels' fewer), for the full scale.
pub fn ci16_pairs(layout: &ScanLayout) -> Result<u32, String> {
    let elements = layout.elements();
    if elements.len() != 2 {
        return Err(format!("{} channels, not I and Q", elements.len()));
    }
    let host = if cfg!(target_endian = "little") {
        Endianness::Little
    } else {
        Endianness::Big
    };
    let mut bits = 16;
    for e in elements {
        let f = e.format;
        let why = if f.storage_bits != 16 {
            Some(format!("{} storage bits", f.storage_bits))
        } else if f.repeat != 1 {
            Some(format!("{} repeated values", f.repeat))
        } else if f.endianness != host {
            Some("the other byte order than this machine's".to_string())
        } else if !f.signed {
            Some("unsigned values".to_string())
        } else if f.shift != 0 {
            Some(format!("a shift of {}", f.shift))
        } else if f.real_bits != 16 && !f.fully_defined {
            Some(format!(
                "{} valid bits not sign-extended to 16 (the bits above them are not defined)",
                f.real_bits
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(format!("{} ({}) has {why}", e.channel, f));
        }
        if elements[0].format.real_bits != f.real_bits {
            return Err(format!(
                "{} and {} have different valid bits",
                elements[0].channel, e.channel
            ));
        }
        bits = f.real_bits;
    }
    Ok(bits)
}

/// Lays out the scan (the device's, or by the kernel's alignment rules from the parameters) and
/// picks the elements named by the parameters in `element_params` (e.g. `["i", "q"]`), each a
/// position in the scan (scan-index order).
///
/// `scale` = 0 means "1 / full scale of the element's format", so full scale maps to ±1.0
/// (0 ≤ x < 1 for unsigned channels).
pub fn scan_spec(p: &Params, element_params: &[&str]) -> Result<ScanSpec, BuildError> {
    let layout = converter_layout(p)?;
    let scale = p.float("scale")?;
    if !scale.is_finite() {
        return Err(BuildError::param(
            "scale",
            format!("must be finite, found {scale}"),
        ));
    }
    let mut elements = Vec::with_capacity(element_params.len());
    for &name in element_params {
        let index = p.uint(name)?;
        let element = usize::try_from(index)
            .ok()
            .and_then(|i| layout.elements().get(i))
            .ok_or_else(|| {
                BuildError::param(
                    name,
                    format!(
                        "element {index} is not in a scan of {} channels",
                        layout.elements().len()
                    ),
                )
            })?;
        if element.format.repeat != 1 {
            // A repeated element (`X n`) is n values per scan: no single sample to convert.
            return Err(BuildError::param(
                name,
                format!(
                    "element {index} has repeated storage ({}); only single values can be converted",
                    element.format
                ),
            ));
        }
        elements.push(ElementDecoder {
            offset: element.offset,
            format: element.format,
            scale: if scale == 0.0 {
                (1.0 / element.format.full_scale()) as f32
            } else {
                scale as f32
            },
        });
    }
    Ok(ScanSpec {
        scan_bytes: layout.scan_bytes(),
        elements,
    })
}

/// An output item a scan converts to.
pub trait FromScan: CpuSample + Copy {
    /// The item for one whole `scan`, from the spec's elements.
    fn from_scan(elements: &[ElementDecoder], scan: &[u8]) -> Self;

    /// The items of the first `out.len()` whole scans of `scan_bytes` in `data` (which holds
    /// at least that many): one [`decode_scans`] loop per element where every element has a
    /// shift decoder (storage of at most 32 bits), else [`Self::from_scan`] per scan.
    fn from_scans(elements: &[ElementDecoder], data: &[u8], scan_bytes: usize, out: &mut [Self]);
}

/// `out`'s items from `data`'s scans one at a time, by the elements' [`ScanFormat::decode`].
fn each_scan<O: FromScan>(elements: &[ElementDecoder], data: &[u8], sb: usize, out: &mut [O]) {
    for (scan, y) in data.chunks_exact(sb).zip(out.iter_mut()) {
        *y = O::from_scan(elements, scan);
    }
}

/// I/Q scans to `Cf32` as [`ScanConverter`] converts them (`elements` = I, Q): for benchmarks,
/// compiled here rather than in the caller.
pub fn scans_to_cf32(
    elements: &[ElementDecoder],
    data: &[u8],
    scan_bytes: usize,
    out: &mut [Cf32],
) {
    Cf32::from_scans(elements, data, scan_bytes, out);
}

/// The reference for [`scans_to_cf32`]: one scan at a time through [`ScanFormat::decode`], as
/// the converters did before.
pub fn scans_to_cf32_scalar(
    elements: &[ElementDecoder],
    data: &[u8],
    scan_bytes: usize,
    out: &mut [Cf32],
) {
    each_scan(elements, data, scan_bytes, out);
}

/// Scans to `f32` as [`ScanConverter`] converts them (`elements` = the one element): for
/// benchmarks, compiled here rather than in the caller.
pub fn scans_to_f32(elements: &[ElementDecoder], data: &[u8], scan_bytes: usize, out: &mut [f32]) {
    f32::from_scans(elements, data, scan_bytes, out);
}

/// The reference for [`scans_to_f32`]: one scan at a time through [`ScanFormat::decode`].
pub fn scans_to_f32_scalar(
    elements: &[ElementDecoder],
    data: &[u8],
    scan_bytes: usize,
    out: &mut [f32],
) {
    each_scan(elements, data, scan_bytes, out);
}

impl FromScan for Cf32 {
    #[inline]
    fn from_scan(e: &[ElementDecoder], scan: &[u8]) -> Self {
        Cf32::new(e[0].value(scan), e[1].value(scan))
    }

    fn from_scans(e: &[ElementDecoder], data: &[u8], sb: usize, out: &mut [Self]) {
        let (Some(i), Some(q)) = (e[0].word_decoder(), e[1].word_decoder()) else {
            return each_scan(e, data, sb, out);
        };
        if decode_iq16(&i, &q, data, sb, out).is_some() {
            return;
        }
        let floats: &mut [f32] = bytemuck::cast_slice_mut(out);
        decode_scans(&i, data, sb, floats, 0, 2);
        decode_scans(&q, data, sb, floats, 1, 2);
    }
}

impl FromScan for f32 {
    #[inline]
    fn from_scan(e: &[ElementDecoder], scan: &[u8]) -> Self {
        e[0].value(scan)
    }

    fn from_scans(e: &[ElementDecoder], data: &[u8], sb: usize, out: &mut [Self]) {
        match e[0].word_decoder() {
            Some(d) => {
                if decode_real16(&d, data, sb, out).is_none() {
                    decode_scans(&d, data, sb, out, 0, 1);
                }
            }
            None => each_scan(e, data, sb, out),
        }
    }
}

/// Converts a stream of raw scan bytes to one item per scan.
///
/// Only whole scans are converted. When an input chunk ends mid-scan (a DMA block that is not a
/// multiple of the scan size, read by reference, never joins up with the next block), the
/// partial scan is copied aside — at most one scan's bytes — and completed from the next chunk.
/// A partial scan left when the stream ends is dropped (and counted as `partial_bytes_dropped`).
/// Tags move from their byte index to the index of the scan holding that byte.
#[derive(Block)]
pub struct ScanConverter<O, R = DefaultCpuReader<u8>, W = DefaultCpuWriter<O>>
where
    O: FromScan,
    R: CpuBufferReader<Item = u8>,
    W: CpuBufferWriter<Item = O>,
{
    #[input]
    input: R,
    #[output]
    output: W,
    spec: ScanSpec,
    /// Bytes of a scan begun in an earlier chunk.
    carry: Vec<u8>,
    /// Tags of the bytes in `carry`; they go on the scan it completes.
    carry_tags: Vec<Tag>,
    stats: Arc<BlockStats>,
    address_log: Option<AddressLog>,
}

impl<O, R, W> ScanConverter<O, R, W>
where
    O: FromScan,
    R: CpuBufferReader<Item = u8>,
    W: CpuBufferWriter<Item = O>,
{
    /// A converter for scans described by `spec`.
    pub fn new(spec: ScanSpec, stats: Arc<BlockStats>) -> Self {
        stats.set_note("scan_bytes", spec.scan_bytes.to_string());
        Self {
            input: R::default(),
            output: W::default(),
            carry: Vec::with_capacity(spec.scan_bytes),
            spec,
            carry_tags: Vec::new(),
            stats,
            address_log: None,
        }
    }

    /// Record the address range of every input slice read into `log`.
    pub fn with_address_log(mut self, log: AddressLog) -> Self {
        self.address_log = Some(log);
        self
    }
}

impl<O, R, W> Kernel for ScanConverter<O, R, W>
where
    O: FromScan,
    R: CpuBufferReader<Item = u8>,
    W: CpuBufferWriter<Item = O>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let sb = self.spec.scan_bytes;
        let elements = &self.spec.elements;
        let (i, i_tags) = self.input.slice_with_tags();
        let (o, mut o_tags) = self.output.slice_with_tags();
        if !i.is_empty()
            && let Some(log) = &self.address_log
        {
            let start = i.as_ptr() as usize;
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(start..start + i.len());
        }
        let mut consumed = 0;
        let mut produced = 0;

        // Complete a scan begun in an earlier chunk.
        if !self.carry.is_empty() && !o.is_empty() {
            let take = (sb - self.carry.len()).min(i.len());
            self.carry.extend_from_slice(&i[..take]);
            self.carry_tags.extend(
                i_tags
                    .iter()
                    .filter(|t| t.index < take)
                    .map(|t| t.tag.clone()),
            );
            consumed = take;
            if self.carry.len() == sb {
                o[0] = O::from_scan(elements, &self.carry);
                for tag in self.carry_tags.drain(..) {
                    o_tags.add_tag(0, tag);
                }
                self.carry.clear();
                produced = 1;
            }
        }

        // Whole scans straight from the input.
        if self.carry.is_empty() {
            let rest = &i[consumed..];
            let n = (rest.len() / sb).min(o.len() - produced);
            O::from_scans(elements, rest, sb, &mut o[produced..produced + n]);
            let end = consumed + n * sb;
            for t in i_tags
                .iter()
                .filter(|t| t.index >= consumed && t.index < end)
            {
                o_tags.add_tag(produced + (t.index - consumed) / sb, t.tag.clone());
            }
            consumed = end;
            produced += n;
            // A partial scan at the end of the chunk: set it aside (see the type's doc).
            let tail = i.len() - consumed;
            if tail > 0 && tail < sb {
                self.carry.extend_from_slice(&i[consumed..]);
                self.carry_tags.extend(
                    i_tags
                        .iter()
                        .filter(|t| t.index >= consumed)
                        .map(|t| t.tag.clone()),
                );
                consumed = i.len();
            }
        }

        let remaining = i.len() - consumed;
        self.input.consume(consumed);
        self.output.produce(produced);
        self.stats.add_in(consumed);
        self.stats.add_out(produced);
        if self.input.finished() && remaining == 0 {
            if !self.carry.is_empty() {
                self.stats
                    .set_counter("partial_bytes_dropped", self.carry.len() as u64);
                self.carry.clear();
            }
            io.finished = true;
        }
        Ok(())
    }
}

/// The ports of a scan converter: raw scan bytes in (reading the device's layout), `item`s
/// out. The format and the element parameters `elements` are validated when the flowgraph is
/// loaded: against the device's layout once the loader has handed it over, and at once when
/// written by hand.
pub fn converter_ports(p: &Params, elements: &[&str], item: ItemType) -> Result<Ports, BuildError> {
    if p.layouts_known() || format_written(p)? {
        scan_spec(p, elements)?;
    }
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::U8).reading_layout()],
        ..Ports::sync(ItemType::U8, item)
    })
}

/// The parameters both scan converters take, followed by `elements` (which scan elements to
/// convert).
pub fn common_params(elements: Vec<ParamSpec>) -> Vec<ParamSpec> {
    let mut params = vec![
        ParamSpec::string(
            "format",
            "",
            "kernel scan type string, e.g. `le:s12/16>>4`, for every channel; or a comma-separated list, one per channel in scan order; empty: the device's, from the `dmabuf_source` feeding the block (written, it must agree with the device's)",
        ),
        ParamSpec::int(
            "channels",
            2,
            "number of channels (elements) in one scan, at most 1024 (an IIO scan mask is far smaller); not written: the device's, when its source feeds the block (written, it must agree)",
        )
        .within(1.0, 1024.0),
    ];
    params.extend(elements);
    params.push(ParamSpec::float(
        "scale",
        0.0,
        "factor applied to the decoded integers; 0 = 1/full scale of the element's format (signed full scale → ±1.0, unsigned → 0..1)",
    )
    .within(-1e9, 1e9));
    params
}

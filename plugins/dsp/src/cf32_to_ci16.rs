//! `cf32_to_ci16`: complex float to interleaved 16-bit I/Q, e.g. for a DAC.

use futuresdr::runtime::BlockId;
use weir_core::sync_block::SyncFn;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, Ci16, ItemType, ParamSpec, Params,
    PortSpec, Ports, add_sync, sync_block,
};

/// `Complex<f32>` to interleaved i16 I/Q: each part times `scale`, rounded and saturated to the
/// i16 range (full scale ±1.0 by default).
pub struct Cf32Scale {
    scale: f32,
}

impl Cf32Scale {
    /// A conversion multiplying by `scale` before rounding.
    pub fn new(scale: f32) -> Self {
        Self { scale }
    }
}

impl SyncFn for Cf32Scale {
    type In = Cf32;
    type Out = Ci16;

    fn process(&mut self, input: &[Cf32], output: &mut [Ci16]) {
        crate::sample_convert::cf32_to_ci16(input, output, self.scale);
    }
}

sync_block! {
    /// The `cf32_to_ci16` block: [`Cf32Scale`], generic over its writer, so it can write
    /// straight into the DMA blocks of a zero-copy `dmabuf_sink`.
    pub struct ComplexToIq(Cf32Scale);
}

/// The valid bits of the device channels `out` feeds (16 when no device says), or why `ci16`
/// items would not be written to them exactly.
fn device_bits(p: &Params) -> Result<u32, BuildError> {
    let mut bits = None;
    for peer in p.output_layouts("out") {
        // Unknown now (the device is absent): the build opens it and reports why.
        let Ok(device) = &peer.layout else {
            continue;
        };
        let layout = crate::scan::device_scan_layout(device)
            .map_err(|m| BuildError::Other(format!("{}: {m}", peer.describe())))?;
        let b = crate::scan::ci16_pairs(&layout).map_err(|why| {
            BuildError::Other(format!(
                "{} takes {device}, not two 16-bit sign-extended I/Q channels in this machine's byte order ({why}): cf32_to_ci16 would send wrong samples, and no weir block encodes that format yet",
                peer.describe()
            ))
        })?;
        if bits.is_some_and(|other| other != b) {
            return Err(BuildError::Other(format!(
                "the devices fed by `out` differ in their valid bits ({} has {b}); one scale cannot fit both",
                peer.describe()
            )));
        }
        bits = Some(b);
    }
    Ok(bits.unwrap_or(16))
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    // Refuse, at load time, a device whose samples are not what `ci16` items mean.
    device_bits(p)?;
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32)],
        outputs: vec![
            PortSpec::output("out", "output", ItemType::Ci16, BufferKind::Circular)
                .filling_blocks()
                .reading_layout(),
        ],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    // Not written: ±1.0 maps to the device's full scale (a sign-extended 12-bit
    // `le:S12/16>>0` DAC takes ±2047, not ±32767).
    let scale = if ctx.params.given("scale") {
        ctx.params.float("scale")? as f32
    } else {
        ((1u32 << (device_bits(ctx.params)? - 1)) - 1) as f32
    };
    Ok(add_sync!(ctx, Cf32 => Ci16, ComplexToIq(Cf32Scale::new(scale))))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "cf32_to_ci16",
        doc: "Complex float to interleaved 16-bit I/Q (rounded, saturated); can fill DMA blocks in place",
        params: vec![ParamSpec::float(
            "scale",
            32767.0,
            "factor applied before rounding; not written: the full scale of the device's channels (32767 for 16 bits, 2047 for `le:S12/16>>0`), so ±1.0 maps to full scale",
        )
        .within(-1e9, 1e9)],
        ports,
        build,
    }
}

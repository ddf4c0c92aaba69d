//! `ci16_to_cf32`: interleaved 16-bit I/Q to complex float.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use futuresdr::runtime::BlockId;
use weir_core::sync_block::SyncFn;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, Ci16, ItemType, ParamSpec, Params, PortSpec,
    Ports, add_sync, sync_block,
};

/// Address ranges of the input slices a block read, for proving that it read device memory in
/// place (tests compare them with the device's mapped blocks).
pub type AddressLog = Arc<Mutex<Vec<Range<usize>>>>;

/// Interleaved i16 I/Q to `Complex<f32>`, multiplied by `scale`.
pub struct Ci16Scale {
    scale: f32,
    address_log: Option<AddressLog>,
}

impl Ci16Scale {
    /// A conversion whose output is `scale * (i + j q)`.
    pub fn new(scale: f32) -> Self {
        Self {
            scale,
            address_log: None,
        }
    }

    /// Record the address range of every input slice read into `log`.
    pub fn with_address_log(mut self, log: AddressLog) -> Self {
        self.address_log = Some(log);
        self
    }
}

impl SyncFn for Ci16Scale {
    type In = Ci16;
    type Out = Cf32;

    fn process(&mut self, input: &[Ci16], output: &mut [Cf32]) {
        if let Some(log) = &self.address_log {
            let start = input.as_ptr() as usize;
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(start..start + std::mem::size_of_val(input));
        }
        crate::sample_convert::ci16_to_cf32(input, output, self.scale);
    }
}

sync_block! {
    /// The `ci16_to_cf32` block: [`Ci16Scale`], generic over its reader, so it reads a DMABUF
    /// block by reference when it is connected to the DMABUF source.
    pub struct IqToComplex(Ci16Scale);
}

/// The valid bits of the device's I/Q channels feeding `in` (16 when no device says), or why
/// `ci16` items cannot read them exactly.
fn device_bits(p: &Params) -> Result<u32, BuildError> {
    let Some(peer) = p.input_layout("in") else {
        return Ok(16);
    };
    // Unknown now (the device is absent): the build opens it and reports why.
    let Ok(device) = &peer.layout else {
        return Ok(16);
    };
    let layout = crate::scan::device_scan_layout(device)
        .map_err(|m| BuildError::Other(format!("{}: {m}", peer.describe())))?;
    crate::scan::ci16_pairs(&layout).map_err(|why| {
        BuildError::Other(format!(
            "{} delivers {device}, not two 16-bit sign-extended I/Q channels in this machine's byte order ({why}): ci16_to_cf32 would read wrong samples; use `scan_to_cf32`, which decodes the device's format (with `item = \"u8\"` on `{}`)",
            peer.describe(),
            peer.peer.split('.').next().unwrap_or_default()
        ))
    })
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    // Refuse, at load time, a device whose samples are not what `ci16` items mean.
    device_bits(p)?;
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::Ci16).reading_layout()],
        outputs: vec![
            PortSpec::output(
                "out",
                "output",
                ItemType::Cf32,
                weir_core::BufferKind::Circular,
            )
            .filling_blocks(),
        ],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    // Not written: full scale of the device's channels maps to ±1.0 (a sign-extended 12-bit
    // `le:S12/16>>0` device's full scale is 2^11, not 2^15).
    let scale = if ctx.params.given("scale") {
        ctx.params.float("scale")? as f32
    } else {
        1.0 / (1u32 << (device_bits(ctx.params)? - 1)) as f32
    };
    Ok(add_sync!(ctx, Ci16 => Cf32, IqToComplex(Ci16Scale::new(scale))))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "ci16_to_cf32",
        doc: "Interleaved 16-bit I/Q to complex float; reads DMABUF blocks in place",
        params: vec![ParamSpec::float(
            "scale",
            1.0 / 32768.0,
            "factor applied to I and Q; not written: 1/full scale of the device's channels (1/32768 for 16 bits, 1/2048 for `le:S12/16>>0`), so full scale maps to ±1.0",
        )
        .within(-1e9, 1e9)],
        ports,
        build,
    }
}

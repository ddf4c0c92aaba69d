//! `scan_to_f32`: raw IIO scans (one element) to real float.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, Params, Ports, add_sync,
};

use crate::scan::{ScanConverter, scan_spec};

/// Raw scan bytes to `f32`: one element decoded from every scan.
pub type ScanToF32<R, W> = ScanConverter<f32, R, W>;

fn ports(p: &Params) -> Result<Ports, BuildError> {
    crate::scan::converter_ports(p, &["element"], ItemType::F32)
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let spec = scan_spec(ctx.params, &["element"])?;
    Ok(add_sync!(ctx, u8 => f32, ScanToF32(spec)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "scan_to_f32",
        doc: "Raw IIO scan bytes to real float, one scan element; the format (kernel type strings such as `le:s12/16>>4`) is the device's, or written by hand",
        params: crate::scan::common_params(vec![
            ParamSpec::int(
                "element",
                0,
                "position in the scan of the element to convert",
            )
            .within(0.0, 1023.0),
        ]),
        ports,
        build,
    }
}

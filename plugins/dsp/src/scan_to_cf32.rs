//! `scan_to_cf32`: raw IIO scans (two elements as I and Q) to complex float.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, Params, Ports, add_sync,
};

use crate::scan::{ScanConverter, scan_spec};

/// Raw scan bytes to `Cf32`: I and Q decoded from two elements of every scan.
pub type ScanToCf32<R, W> = ScanConverter<Cf32, R, W>;

fn ports(p: &Params) -> Result<Ports, BuildError> {
    crate::scan::converter_ports(p, &["i", "q"], ItemType::Cf32)
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let spec = scan_spec(ctx.params, &["i", "q"])?;
    Ok(add_sync!(ctx, u8 => Cf32, ScanToCf32(spec)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "scan_to_cf32",
        doc: "Raw IIO scan bytes to complex float, I and Q from two scan elements; the format (kernel type strings such as `le:s12/16>>4`) is the device's, or written by hand",
        params: crate::scan::common_params(vec![
            ParamSpec::int("i", 0, "position in the scan of the element holding I")
                .within(0.0, 1023.0),
            ParamSpec::int("q", 1, "position in the scan of the element holding Q")
                .within(0.0, 1023.0),
        ]),
        ports,
        build,
    }
}

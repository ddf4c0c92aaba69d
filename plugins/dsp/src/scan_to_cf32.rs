//! `scan_to_cf32`: raw IIO scans (two elements as I and Q) to complex float.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType, Params,
    PortSpec, Ports, add_sync,
};

use crate::scan::{ScanConverter, scan_spec};

/// Raw scan bytes to `Cf32`: I and Q decoded from two elements of every scan.
pub type ScanToCf32<R, W> = ScanConverter<Cf32, R, W>;

fn ports(p: &Params) -> Result<Ports, BuildError> {
    // Validate the format and element parameters when the flowgraph is loaded: against the
    // device's layout once the loader has handed it over, and at once when written by hand.
    if p.layouts_known() || crate::scan::format_written(p)? {
        scan_spec(p, &["i", "q"])?;
    }
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::U8).reading_layout()],
        ..Ports::sync(ItemType::U8, ItemType::Cf32)
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let spec = scan_spec(ctx.params, &["i", "q"])?;
    let stats = ctx.stats();
    Ok(add_sync!(ctx, u8 => Cf32, |R, W| ScanToCf32::<R, W>::new(spec, stats)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "scan_to_cf32",
        doc: "Raw IIO scan bytes to complex float, I and Q from two scan elements; the format (kernel type strings such as `le:s12/16>>4`) is the device's, or written by hand",
        params: crate::scan::common_params(vec![
            ParamSpec::optional(
                "i",
                ParamType::Int,
                weir_core::Value::Int(0),
                "position in the scan of the element holding I",
            )
            .within(0.0, 1023.0),
            ParamSpec::optional(
                "q",
                ParamType::Int,
                weir_core::Value::Int(1),
                "position in the scan of the element holding Q",
            )
            .within(0.0, 1023.0),
        ]),
        ports,
        build,
    }
}

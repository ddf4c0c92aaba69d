//! `scan_to_f32`: raw IIO scans (one element) to real float.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params, PortSpec,
    Ports, add_sync,
};

use crate::scan::{ScanConverter, scan_spec};

/// Raw scan bytes to `f32`: one element decoded from every scan.
pub type ScanToF32<R, W> = ScanConverter<f32, R, W>;

fn ports(p: &Params) -> Result<Ports, BuildError> {
    // Validate the format and element parameters when the flowgraph is loaded: against the
    // device's layout once the loader has handed it over, and at once when written by hand.
    if p.layouts_known() || crate::scan::format_written(p)? {
        scan_spec(p, &["element"])?;
    }
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", ItemType::U8).reading_layout()],
        ..Ports::sync(ItemType::U8, ItemType::F32)
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let spec = scan_spec(ctx.params, &["element"])?;
    let stats = ctx.stats();
    Ok(add_sync!(ctx, u8 => f32, |R, W| ScanToF32::<R, W>::new(spec, stats)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "scan_to_f32",
        doc: "Raw IIO scan bytes to real float, one scan element; the format (kernel type strings such as `le:s12/16>>4`) is the device's, or written by hand",
        params: crate::scan::common_params(vec![
            ParamSpec::optional(
                "element",
                ParamType::Int,
                weir_core::Value::Int(0),
                "position in the scan of the element to convert",
            )
            .within(0.0, 1023.0),
        ]),
        ports,
        build,
    }
}

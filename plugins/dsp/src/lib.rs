//! weir-plugin-dsp: DSP and utility blocks, one file per block.
//!
//! Every block is generic over its input reader, so the registry instantiates it with the
//! by-reference reader when it is the first block after a DMABUF source.

#![warn(missing_docs)]
#![deny(unsafe_code)]

use weir_core::Registry;

mod indexed;
pub mod sample_convert;
pub mod scan;
mod taps;

// Every block file's `pub mod` line and `register_blocks` (which registers them all, for
// `plugin!`, naming the `Registry` imported above): written by weir-plugin-build (build.rs) from
// the files of src/ that define `pub fn descriptor()`.
include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

pub use cf32_to_ci16::{Cf32Scale, ComplexToIq};
pub use ci16_to_cf32::{AddressLog, Ci16Scale, IqToComplex};
pub use dc_blocker::{DcBlocker, DcFilter};
pub use file_sink::FileSink;
pub use head::Head;
pub use mixer::{Mixer, Nco};
pub use multiply_const::{Gain, MultiplyConst};
pub use null_sink::NullSink;
pub use power_db::{PowerDb, ToDb};
pub use scan::{ScanConverter, ScanSpec};
pub use scan_to_cf32::ScanToCf32;
pub use scan_to_f32::ScanToF32;
pub use spectrum::{Spectrum, SpectrumFrames, SpectrumKernel};

weir_core::plugin! {
    /// Registers the DSP blocks.
    pub struct DspPlugin = "dsp";
}

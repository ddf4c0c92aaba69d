//! weir-plugin-dsp: DSP and utility blocks, one file per block.
//!
//! Every block is generic over its input reader, so the registry instantiates it with the
//! by-reference reader when it is the first block after a DMABUF source.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod complex_to_iq;
pub mod dc_blocker;
pub mod fft;
pub mod file_sink;
pub mod head;
pub mod iq_to_complex;
pub mod message_strobe;
pub mod mixer;
pub mod multiply_const;
pub mod null_sink;
pub mod power_db;
pub mod scan;
pub mod scan_to_cf32;
pub mod scan_to_f32;
pub mod signal_source;
pub mod spectrum;

pub use complex_to_iq::ComplexToIq;
pub use dc_blocker::DcBlocker;
pub use file_sink::FileSink;
pub use head::Head;
pub use iq_to_complex::{AddressLog, IqToComplex};
pub use mixer::Mixer;
pub use multiply_const::MultiplyConst;
pub use null_sink::NullSink;
pub use power_db::PowerDb;
pub use scan::{ScanConverter, ScanSpec};
pub use scan_to_cf32::ScanToCf32;
pub use scan_to_f32::ScanToF32;
pub use spectrum::{Spectrum, SpectrumKernel};

/// Registers the DSP blocks.
pub struct DspPlugin;

impl weir_core::Plugin for DspPlugin {
    fn name(&self) -> &'static str {
        "dsp"
    }

    fn register(&self, registry: &mut weir_core::Registry) {
        registry.register(iq_to_complex::descriptor());
        registry.register(head::descriptor());
        registry.register(null_sink::descriptor());
        registry.register(file_sink::descriptor());
        registry.register(multiply_const::descriptor());
        registry.register(message_strobe::descriptor());
        registry.register(fft::descriptor());
        registry.register(signal_source::descriptor());
        registry.register(complex_to_iq::descriptor());
        registry.register(scan_to_cf32::descriptor());
        registry.register(scan_to_f32::descriptor());
        registry.register(mixer::descriptor());
        registry.register(dc_blocker::descriptor());
        registry.register(power_db::descriptor());
        registry.register(spectrum::descriptor());
    }
}

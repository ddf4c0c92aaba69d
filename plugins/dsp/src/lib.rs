//! weir-plugin-dsp: DSP and utility blocks, one file per block.
//!
//! Every block is generic over its input reader, so the registry instantiates it with the
//! by-reference reader when it is the first block after a DMABUF source.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod cf32_to_ci16;
pub mod ci16_to_cf32;
pub mod copy;
pub mod dc_blocker;
pub mod fft;
pub mod file_sink;
pub mod file_source;
pub mod fir;
pub mod head;
mod indexed;
pub mod message_burst;
pub mod message_copy;
pub mod message_sink;
pub mod message_strobe;
pub mod mixer;
pub mod moving_avg;
pub mod multiply_const;
pub mod null_sink;
pub mod null_source;
pub mod pfb_arb_resampler;
pub mod pfb_channelizer;
pub mod power_db;
pub mod sample_convert;
pub mod scan;
pub mod scan_to_cf32;
pub mod scan_to_f32;
pub mod signal_source;
pub mod spectrum;
pub mod stream_duplicator;
pub mod tag_debug;
mod taps;
pub mod throttle;
pub mod vector_sink;
pub mod vector_source;
pub mod xlating_fir;

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

/// Registers the DSP blocks.
pub struct DspPlugin;

impl weir_core::Plugin for DspPlugin {
    fn name(&self) -> &'static str {
        "dsp"
    }

    fn register(&self, registry: &mut weir_core::Registry) {
        registry.register(ci16_to_cf32::descriptor());
        registry.register(head::descriptor());
        registry.register(null_sink::descriptor());
        registry.register(file_sink::descriptor());
        registry.register(multiply_const::descriptor());
        registry.register(message_strobe::descriptor());
        registry.register(fft::descriptor());
        registry.register(signal_source::descriptor());
        registry.register(cf32_to_ci16::descriptor());
        registry.register(scan_to_cf32::descriptor());
        registry.register(scan_to_f32::descriptor());
        registry.register(mixer::descriptor());
        registry.register(dc_blocker::descriptor());
        registry.register(power_db::descriptor());
        registry.register(spectrum::descriptor());
        registry.register(fir::descriptor());
        registry.register(xlating_fir::descriptor());
        registry.register(pfb_arb_resampler::descriptor());
        registry.register(pfb_channelizer::descriptor());
        registry.register(throttle::descriptor());
        registry.register(file_source::descriptor());
        registry.register(vector_source::descriptor());
        registry.register(vector_sink::descriptor());
        registry.register(null_source::descriptor());
        registry.register(copy::descriptor());
        registry.register(stream_duplicator::descriptor());
        registry.register(moving_avg::descriptor());
        registry.register(tag_debug::descriptor());
        registry.register(message_copy::descriptor());
        registry.register(message_sink::descriptor());
        registry.register(message_burst::descriptor());
    }
}

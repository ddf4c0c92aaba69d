//! weir-plugin-seify: radio hardware through [seify](https://github.com/FutureSDR/seify), with
//! FutureSDR's seify source and sink registered by name (`seify_source`, `seify_sink`).
//!
//! seify's `dummy` driver is always built in: `args = "driver=dummy"` gives an endless stream of
//! zeros (source) or swallows samples (sink) on any machine, for tests and dry runs. Hardware
//! drivers (Soapy, RTL-SDR, HackRF) need system libraries and are opt-in cargo features of this
//! package.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod device;
pub mod seify_sink;
pub mod seify_source;

/// Registers `seify_source` and `seify_sink`.
pub struct SeifyPlugin;

impl weir_core::Plugin for SeifyPlugin {
    fn name(&self) -> &'static str {
        "seify"
    }

    fn register(&self, registry: &mut weir_core::Registry) {
        registry.register(seify_source::descriptor());
        registry.register(seify_sink::descriptor());
    }
}

//! weir-plugin-seify: radio hardware through [seify](https://github.com/FutureSDR/seify), with
//! FutureSDR's seify source and sink registered by name (`seify_source`, `seify_sink`).
//!
//! seify's `dummy` driver is always built in: `args = "driver=dummy"` gives an endless stream of
//! zeros (source) or swallows samples (sink) on any machine, for tests and dry runs. Hardware
//! drivers (Soapy, RTL-SDR, HackRF) need system libraries and are opt-in cargo features of this
//! package.

#![warn(missing_docs)]
#![deny(unsafe_code)]

use weir_core::Registry;

pub mod device;

// Every block file's `pub mod` line and `register_blocks` (which registers them all, for
// `plugin!`, naming the `Registry` imported above): written by weir-plugin-build (build.rs) from
// the files of src/ that define `pub fn descriptor()`.
include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

weir_core::plugin! {
    /// Registers `seify_source` and `seify_sink`.
    pub struct SeifyPlugin = "seify";
}

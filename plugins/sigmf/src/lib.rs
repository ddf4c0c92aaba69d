//! weir-plugin-sigmf: SigMF recordings, one file per block.
//!
//! - `sigmf_sink`: records its input as `PATH.sigmf-data` + `PATH.sigmf-meta`, the data written
//!   from the input's own memory, the metadata from what the device said (rate, channel
//!   formats, losses) through the stream tags of [`weir_core::tags`].
//! - `sigmf_source`: plays a recording back, typed by its `core:datatype`.

#![warn(missing_docs)]
#![deny(unsafe_code)]

use weir_core::Registry;

pub mod meta;

// Every block file's `pub mod` line and `register_blocks` (which registers them all, for
// `plugin!`, naming the `Registry` imported above): written by weir-plugin-build (build.rs) from
// the files of src/ that define `pub fn descriptor()`.
include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

pub use sigmf_sink::SigmfSink;
pub use sigmf_source::SigmfSource;

weir_core::plugin! {
    /// Registers the SigMF blocks.
    pub struct SigmfPlugin = "sigmf";
}

//! weir-plugin-iio: the IIO DMABUF blocks.
//!
//! [`DmabufSource`] streams from a [`weir_iio`] transport and hands every completed DMA block to
//! its readers by reference, through weir-core's mapped-block buffer.

#![warn(missing_docs)]
#![deny(unsafe_code)]

use weir_core::Registry;

pub mod accounting;
pub mod block_latency;
pub mod completion;
pub mod device;
pub mod dmabuf_fill_sink;
pub mod latency_budget;
mod tx_ring;

// Every block file's `pub mod` line and `register_blocks` (which registers them all, for
// `plugin!`, naming the `Registry` imported above): written by weir-plugin-build (build.rs) from
// the files of src/ that define `pub fn descriptor()`.
include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

pub use dmabuf_fill_sink::DmabufFillSink;
pub use dmabuf_sink::DmabufSink;
pub use dmabuf_source::DmabufSource;

weir_core::plugin! {
    /// Registers the IIO blocks.
    pub struct IioPlugin = "iio";
}

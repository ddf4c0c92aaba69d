//! weir-plugin-iio: the IIO DMABUF blocks.
//!
//! [`DmabufSource`] streams from a [`weir_iio`] transport and hands every completed DMA block to
//! its readers by reference, through weir-core's mapped-block buffer.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod accounting;
pub mod block_latency;
pub mod completion;
pub mod device;
pub mod dmabuf_fill_sink;
pub mod dmabuf_sink;
pub mod dmabuf_source;
pub mod latency_budget;
mod tx_ring;

pub use dmabuf_fill_sink::DmabufFillSink;
pub use dmabuf_sink::DmabufSink;
pub use dmabuf_source::DmabufSource;

/// Registers the IIO blocks.
pub struct IioPlugin;

impl weir_core::Plugin for IioPlugin {
    fn name(&self) -> &'static str {
        "iio"
    }

    fn register(&self, registry: &mut weir_core::Registry) {
        registry.register(dmabuf_source::descriptor());
        registry.register(dmabuf_sink::descriptor());
    }
}

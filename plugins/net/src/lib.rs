//! weir-plugin-net: network blocks, one file per block.
//!
//! - `zmq_pub_sink` / `zmq_sub_source`: ZeroMQ PUB/SUB, weir's own blocks: the sink closes
//!   with a bounded linger, so a subscriber that stopped reading cannot keep the flowgraph from
//!   ending (FutureSDR's `PubSink` keeps ZeroMQ's infinite default); the source takes a
//!   `timeout`, because a SUB socket never fails to connect, after which it fails with "no data
//!   from ... within N s" instead of waiting forever.
//! - `tcp_sink` / `tcp_source`: raw items over one TCP connection; the sink listens, the source
//!   connects, and a refused connection fails the flowgraph naming the block and address.
//!
//! Every block sends items in their in-memory (little-endian) layout, as GNU Radio's ZeroMQ and
//! TCP blocks do, so the two ends must agree on the item type.

#![warn(missing_docs)]
#![deny(unsafe_code)]

use weir_core::Registry;

mod zmq_option;

// Every block file's `pub mod` line and `register_blocks` (which registers them all, for
// `plugin!`, naming the `Registry` imported above): written by weir-plugin-build (build.rs) from
// the files of src/ that define `pub fn descriptor()`.
include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

pub use tcp_sink::TcpSink;
pub use tcp_source::TcpSource;
pub use zmq_pub_sink::ZmqPubSink;
pub use zmq_sub_source::ZmqSubSource;

weir_core::plugin! {
    /// Registers the network blocks.
    pub struct NetPlugin = "net";
}

/// The `timeout` parameter as a duration; `None` for 0 (wait forever).
pub(crate) fn timeout(
    p: &weir_core::Params,
) -> Result<Option<std::time::Duration>, weir_core::BuildError> {
    let secs = p.float("timeout")?;
    Ok((secs > 0.0).then(|| std::time::Duration::from_secs_f64(secs)))
}

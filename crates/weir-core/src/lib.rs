//! weir-core: the framework half of weir.
//!
//! - [`Registry`] of block types, filled by [`Plugin`]s, each type describing its parameters and
//!   ports and building itself onto a FutureSDR [`Flowgraph`](futuresdr::runtime::Flowgraph);
//! - [`FlowgraphSpec`]: TOML flowgraph files, checked against the registry before anything runs,
//!   every error located at file:line:column; [`FlowgraphBuilder`]: the same, built in code;
//! - [`BuiltFlowgraph`] / [`RunReport`]: run on FutureSDR and report per-block statistics;
//! - [`buffer`]: the by-reference buffer through which device memory reaches DSP blocks
//!   without a copy;
//! - [`dynamic`]: plugins built as shared libraries, loaded from `WEIR_PLUGIN_PATH` after checking
//!   they were built against this weir by this compiler;
//! - `testing` (feature `testing`): the test kit — flowgraphs from TOML strings, one block
//!   between a source and a sink or over FutureSDR's Mocker, shared test blocks.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod buffer;
pub mod builder;
pub mod config;
pub mod describe;
pub mod dynamic;
pub mod error;
pub mod fill_buffer;
pub mod flowgraph;
pub mod guard;
pub mod item;
pub mod latency;
pub mod port_shapes;
pub mod registry;
pub mod run;
pub mod runtime_config;
pub mod sink_file;
pub mod stats;
pub mod stream_block;
pub mod suggest;
pub mod sync_block;
pub mod tags;
#[cfg(feature = "testing")]
pub mod testing;

pub use buffer::{BufferKind, MappedBlock, MappedBlockReader, MappedBlockWriter};
pub use builder::FlowgraphBuilder;
pub use config::{BlockConfig, ParamValue};
pub use error::{LoadError, RunError};
pub use fill_buffer::{EmptyBlock, FillBlockReader, FillBlockWriter, FillableBlock, FilledBlock};
pub use flowgraph::FlowgraphSpec;
pub use guard::Guarded;
pub use item::{Cf32, Ci16, ItemType};
pub use latency::{LatencyHistogram, LatencySummary};
pub use registry::{
    BlockDescriptor, BuildContext, BuildError, ChannelLayout, LayoutChannel, ParamSpec, ParamType,
    Params, PeerLayout, PeerLayouts, Plugin, PortLayout, PortSpec, Ports, Registry, Value,
};
pub use run::{
    BlockHandle, BlockReport, BuiltFlowgraph, ConnectionHandle, ConnectionReport, RunReport,
    RunningFlowgraph, runtime, runtime_with_threads,
};
pub use sink_file::SinkFile;
pub use stats::{BlockStats, CounterLabel};

/// Re-exported so plugins build against exactly the runtime weir-core uses.
pub use futuresdr;

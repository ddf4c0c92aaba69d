//! Flowgraphs built in code, with the same registry and the same checks as flowgraph files.
//!
//! ```no_run
//! # fn main() -> Result<(), weir_core::LoadError> {
//! # let registry = weir_core::Registry::new();
//! use weir_core::FlowgraphBuilder;
//!
//! let spec = FlowgraphBuilder::new(&registry)
//!     .block("src", "dmabuf_source", [("samples_per_block", 65536.into())])
//!     .block("conv", "ci16_to_cf32", [])
//!     .block("sink", "null_sink", [])
//!     .connect("src.out", "conv.in")
//!     .connect("conv.out", "sink.in")
//!     .spec()?;
//! # Ok(())
//! # }
//! ```

use crate::error::LoadError;
use crate::flowgraph::{BlockSpec, ConnectionKind, FlowgraphSpec, Origin, RawBlock, RawConnection};
use crate::registry::{Registry, Value};
use crate::run::BuiltFlowgraph;

/// Builds a flowgraph in code: blocks by type name with their parameters, stream and message
/// connections by `block.port`.
///
/// [`spec`](Self::spec) checks it exactly as a flowgraph file is checked (block types,
/// parameters, ports, item types, inputs connected once, buffer sizes) and gives the same
/// [`FlowgraphSpec`]; errors name the block, without a file position. Nothing is checked
/// before then, so calls can come in any order.
pub struct FlowgraphBuilder<'r> {
    registry: &'r Registry,
    // The same raw model a flowgraph file is read into, without positions (spans 0..0).
    blocks: Vec<RawBlock>,
    connections: Vec<RawConnection>,
}

impl<'r> FlowgraphBuilder<'r> {
    /// An empty flowgraph whose blocks come from `registry`.
    pub fn new(registry: &'r Registry) -> Self {
        Self {
            registry,
            blocks: Vec::new(),
            connections: Vec::new(),
        }
    }

    /// Add block `name` of type `type_name` with `params` (as in a `[blocks.NAME]` table;
    /// parameters left out take their defaults).
    pub fn block<'p>(
        mut self,
        name: &str,
        type_name: &str,
        params: impl IntoIterator<Item = (&'p str, Value)>,
    ) -> Self {
        let params = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v, 0..0))
            .collect();
        self.blocks.push(RawBlock {
            name: name.to_string(),
            type_name: type_name.to_string(),
            type_span: 0..0,
            table_span: 0..0,
            params,
        });
        self
    }

    /// Connect stream output `from` to stream input `to`, both written `block.port`.
    pub fn connect(self, from: &str, to: &str) -> Self {
        self.add_connection(from, to, ConnectionKind::Stream, None)
    }

    /// [`connect`](Self::connect) with a buffer of at least `items` items (a file's
    /// `{ connect = "...", buffer = N }`).
    pub fn connect_with_buffer(self, from: &str, to: &str, items: usize) -> Self {
        self.add_connection(from, to, ConnectionKind::Stream, Some(items))
    }

    /// Connect message output `from` to message input `to`, both written `block.port`.
    pub fn message(self, from: &str, to: &str) -> Self {
        self.add_connection(from, to, ConnectionKind::Message, None)
    }

    fn add_connection(
        mut self,
        from: &str,
        to: &str,
        kind: ConnectionKind,
        buffer: Option<usize>,
    ) -> Self {
        let arrow = match kind {
            ConnectionKind::Stream => "->",
            ConnectionKind::Message => "=>",
        };
        self.connections.push(RawConnection {
            text: format!("{from} {arrow} {to}"),
            from: from.to_string(),
            to: to.to_string(),
            kind,
            // Beyond i64::MAX items no buffer fits anyway; keep the request absurdly large.
            buffer: buffer.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            span: 0..0,
        });
        self
    }

    /// Check the flowgraph against the registry.
    pub fn spec(self) -> Result<FlowgraphSpec, LoadError> {
        let origin = Origin::Code;
        let mut blocks: Vec<BlockSpec> = Vec::with_capacity(self.blocks.len());
        for raw in self.blocks {
            // A file cannot name a block twice (TOML refuses duplicate keys); code can.
            if blocks.iter().any(|b| b.name == raw.name) {
                return Err(LoadError::in_code(
                    Some(&raw.name),
                    format!("there is already a block named `{}`", raw.name),
                ));
            }
            blocks.push(FlowgraphSpec::check_block(&origin, self.registry, raw)?);
        }
        FlowgraphSpec::assemble(origin, self.registry, blocks, self.connections)
    }

    /// Check the flowgraph and build it onto FutureSDR, ready to run.
    pub fn build(self) -> Result<BuiltFlowgraph, LoadError> {
        let registry = self.registry;
        self.spec()?.build(registry)
    }
}

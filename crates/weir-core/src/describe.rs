//! Self-descriptions for `weir blocks` and Graphviz output for `weir graph`.

use serde::Serialize;

use crate::flowgraph::{ConnectionKind, FlowgraphSpec};
use crate::registry::{BlockDescriptor, Params, Value};

/// A block type as `weir blocks --json` prints it.
#[derive(Debug, Serialize)]
pub struct BlockInfo {
    /// Type name.
    pub type_name: &'static str,
    /// One-line documentation.
    pub doc: &'static str,
    /// Parameters.
    pub params: Vec<ParamInfo>,
    /// Ports with the default parameters; `None` when a required parameter decides them.
    pub ports: Option<PortsInfo>,
}

/// One parameter.
#[derive(Debug, Serialize)]
pub struct ParamInfo {
    /// Name.
    pub name: &'static str,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Default, as TOML text; `None` when required.
    pub default: Option<String>,
    /// Allowed range, if any.
    pub range: Option<String>,
    /// Documentation.
    pub doc: &'static str,
}

/// Ports of a block type.
#[derive(Debug, Serialize)]
pub struct PortsInfo {
    /// Stream inputs: name and item type.
    pub inputs: Vec<(String, String)>,
    /// Stream outputs: name and item type.
    pub outputs: Vec<(String, String)>,
    /// Message inputs.
    pub message_inputs: Vec<&'static str>,
    /// Message outputs.
    pub message_outputs: Vec<&'static str>,
}

impl BlockDescriptor {
    /// Describe this block type (ports as they are with the default parameters).
    pub fn info(&self) -> BlockInfo {
        let mut defaults = Params::new();
        let mut complete = true;
        for p in &self.params {
            match &p.default {
                Some(v) => defaults.set(p.name, v.clone()),
                None => complete = false,
            }
        }
        let ports = complete
            .then(|| (self.ports)(&defaults).ok())
            .flatten()
            .map(|p| PortsInfo {
                inputs: p
                    .inputs
                    .iter()
                    .map(|s| (s.name.to_string(), s.item.to_string()))
                    .collect(),
                outputs: p
                    .outputs
                    .iter()
                    .map(|s| (s.name.to_string(), s.item.to_string()))
                    .collect(),
                message_inputs: p.message_inputs,
                message_outputs: p.message_outputs,
            });
        BlockInfo {
            type_name: self.type_name,
            doc: self.doc,
            params: self
                .params
                .iter()
                .map(|p| ParamInfo {
                    name: p.name,
                    ty: p.ty.to_string(),
                    default: p.default.as_ref().map(Value::to_string),
                    range: p.range_text(),
                    doc: p.doc,
                })
                .collect(),
            ports,
        }
    }
}

/// `s` escaped for the inside of a DOT quoted string: only `"` and `\` are special there.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

impl FlowgraphSpec {
    /// The flowgraph as a Graphviz digraph: blocks as boxes, streams labelled with their item
    /// type, message connections dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph flowgraph {\n  rankdir=LR;\n  node [shape=box];\n");
        for b in &self.blocks {
            // The `\n` between the parts is Graphviz's line break: it must reach the DOT text
            // unescaped, so the parts are escaped one by one.
            out.push_str(&format!(
                "  {} [label=\"{}\\n{}\"];\n",
                quote(&b.name),
                escape(&b.name),
                escape(&b.type_name)
            ));
        }
        for c in &self.connections {
            let label = match c.kind {
                ConnectionKind::Stream => self
                    .block(&c.from.block)
                    .and_then(|b| b.ports.outputs.iter().find(|p| p.name == c.from.port))
                    .map(|p| {
                        format!(
                            "label={}",
                            quote(&format!("{} → {} ({})", c.from.port, c.to.port, p.item))
                        )
                    })
                    .unwrap_or_default(),
                ConnectionKind::Message => format!(
                    "label={}, style=dashed",
                    quote(&format!("{} ⇒ {}", c.from.port, c.to.port))
                ),
            };
            out.push_str(&format!(
                "  {} -> {} [{label}];\n",
                quote(&c.from.block),
                quote(&c.to.block)
            ));
        }
        out.push_str("}\n");
        out
    }
}

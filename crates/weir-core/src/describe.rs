//! Self-descriptions for `weir blocks` and Graphviz output for `weir graph`.

use serde::Serialize;

use crate::flowgraph::{ConnectionKind, FlowgraphSpec};
use crate::item::ItemType;
use crate::registry::{BlockDescriptor, ParamSpec, ParamType, Params, Ports, Value};

/// A block type as `weir blocks --json` prints it.
#[derive(Debug, Serialize)]
pub struct BlockInfo {
    /// Type name.
    pub type_name: &'static str,
    /// One-line documentation.
    pub doc: &'static str,
    /// Parameters.
    pub params: Vec<ParamInfo>,
    /// Ports with the default parameters, and example values where there is no default
    /// (see [`PortsInfo::example_params`]); `None` only when no such values give ports.
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
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PortsInfo {
    /// Stream inputs: name and item type.
    pub inputs: Vec<(String, String)>,
    /// Stream outputs: name and item type.
    pub outputs: Vec<(String, String)>,
    /// Message inputs.
    pub message_inputs: Vec<&'static str>,
    /// Message outputs.
    pub message_outputs: Vec<&'static str>,
    /// Parameters not at their default in this description (required ones, and lists whose
    /// default gives no ports), with the example value used, as TOML text.
    pub example_params: Vec<(&'static str, String)>,
    /// Parameters that change these ports' names or item types (found by trying every item
    /// type, both booleans and a few integers), e.g. `item`.
    pub depends_on: Vec<&'static str>,
}

impl PortsInfo {
    fn new(p: Ports) -> Self {
        let named = |ports: &[crate::registry::PortSpec]| {
            ports
                .iter()
                .map(|s| (s.name.to_string(), s.item.to_string()))
                .collect()
        };
        Self {
            inputs: named(&p.inputs),
            outputs: named(&p.outputs),
            message_inputs: p.message_inputs,
            message_outputs: p.message_outputs,
            example_params: Vec::new(),
            depends_on: Vec::new(),
        }
    }
}

impl BlockDescriptor {
    /// Parameters to describe the ports with: defaults, examples for required parameters, and
    /// with `lists` examples for list parameters too (an empty default list of taps is not a
    /// filter); `None` when they give no ports.
    fn example_ports(&self, lists: bool) -> Option<(Params, Vec<(&'static str, String)>)> {
        let mut params = Params::new();
        let mut examples = Vec::new();
        for p in &self.params {
            let value = match &p.default {
                Some(v) if !(lists && p.ty == ParamType::FloatList) => v.clone(),
                _ => {
                    let v = p.example_value();
                    examples.push((p.name, v.to_string()));
                    v
                }
            };
            params.set(p.name, value);
        }
        (self.ports)(&params).ok().map(|_| (params, examples))
    }

    /// Describe this block type (ports as they are with the default parameters, or example
    /// values where those give none).
    pub fn info(&self) -> BlockInfo {
        let ports = self
            .example_ports(false)
            .or_else(|| self.example_ports(true))
            .and_then(|(params, examples)| {
                let shown = PortsInfo::new((self.ports)(&params).ok()?);
                let depends_on = self
                    .params
                    .iter()
                    .filter(|p| {
                        alternatives(p).into_iter().any(|v| {
                            let mut other = params.clone();
                            other.set(p.name, v);
                            (self.ports)(&other).is_ok_and(|ports| PortsInfo::new(ports) != shown)
                        })
                    })
                    .map(|p| p.name)
                    .collect();
                Some(PortsInfo {
                    example_params: examples,
                    depends_on,
                    ..shown
                })
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

/// Other valid values of `p` that might change a block's ports.
fn alternatives(p: &ParamSpec) -> Vec<Value> {
    match p.ty {
        ParamType::Item => ItemType::ALL
            .iter()
            .map(|t| Value::Str(t.name().to_string()))
            .collect(),
        ParamType::Bool => vec![Value::Bool(false), Value::Bool(true)],
        ParamType::Choice(names) => names.iter().map(|n| Value::Str(n.to_string())).collect(),
        ParamType::Int => [0, 1, 2, 3, 4, 8, 16]
            .into_iter()
            .map(Value::Int)
            .filter_map(|v| p.check(v).ok())
            .collect(),
        _ => Vec::new(),
    }
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

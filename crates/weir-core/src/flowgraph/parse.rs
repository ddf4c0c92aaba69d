//! The file model: TOML with the span of every key and value, read into [`RawBlock`]s and
//! [`RawConnection`]s.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::vars::Vars;
use super::{ConnectionKind, FlowgraphSpec, Origin, RawBlock, RawConnection, read_flowgraph_file};
use crate::error::{LoadError, SourceFile};
use crate::registry::{Registry, Value};

/// An entry of `connections`: `"a.out -> b.in"` or `{ connect = "a.out -> b.in", buffer = N }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ConnectionEntry {
    Text(String),
    Table {
        connect: String,
        #[serde(default)]
        buffer: Option<i64>,
    },
}

/// A `[blocks.NAME]` table: `type` and the parameters, every key and value with its span.
type BlockTable = BTreeMap<Spanned<String>, Spanned<RawValue>>;

/// A value as written in the file. Arrays keep the span of every element, so a wrong element
/// type is reported at the element rather than at the start of a long list of taps.
pub(super) enum RawValue {
    Array(Vec<Spanned<toml::Value>>),
    Other(toml::Value),
}

impl RawValue {
    fn as_str(&self) -> Option<&str> {
        match self {
            RawValue::Other(v) => v.as_str(),
            RawValue::Array(_) => None,
        }
    }

    /// The parameter value, or an error with the span of the offending element (`None`: the
    /// whole value).
    pub(super) fn to_value(&self) -> Result<Value, (Option<Range<usize>>, String)> {
        match self {
            RawValue::Other(v) => to_value(v).map_err(|m| (None, m)),
            RawValue::Array(elements) => elements
                .iter()
                .enumerate()
                .map(|(i, e)| list_element(i, e.get_ref()).map_err(|m| (Some(e.span()), m)))
                .collect::<Result<Vec<f64>, _>>()
                .map(Value::List),
        }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a TOML value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawValue, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = seq.next_element::<Spanned<toml::Value>>()? {
                    v.push(e);
                }
                Ok(RawValue::Array(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawValue, E> {
                Ok(RawValue::Other(toml::Value::Boolean(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawValue, E> {
                Ok(RawValue::Other(toml::Value::Integer(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawValue, E> {
                i64::try_from(v)
                    .map(|v| RawValue::Other(toml::Value::Integer(v)))
                    .map_err(|_| E::custom(format!("integer {v} is too large")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawValue, E> {
                Ok(RawValue::Other(toml::Value::Float(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::Other(toml::Value::String(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RawValue, E> {
                Ok(RawValue::Other(toml::Value::String(v)))
            }
            // Tables and dates: let toml::Value take them, so they are reported as unsupported
            // with their TOML type name like before.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawValue, A::Error> {
                toml::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawValue::Other)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default)]
    vars: BTreeMap<Spanned<String>, Spanned<RawValue>>,
    #[serde(default)]
    connections: Vec<Spanned<ConnectionEntry>>,
    #[serde(default)]
    blocks: BTreeMap<Spanned<String>, Spanned<BlockTable>>,
}

pub(super) fn to_value(v: &toml::Value) -> Result<Value, String> {
    match v {
        toml::Value::Integer(i) => Ok(Value::Int(*i)),
        toml::Value::Float(f) => Ok(Value::Float(*f)),
        toml::Value::String(s) => Ok(Value::Str(s.clone())),
        toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, e)| list_element(i, e))
            .collect::<Result<Vec<f64>, _>>()
            .map(Value::List),
        other => Err(format!(
            "unsupported value type {} (use an integer, float, string, boolean or a list of numbers)",
            other.type_str()
        )),
    }
}

/// Element `i` (0-based) of a list: lists hold numbers only.
fn list_element(i: usize, v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Integer(x) => Ok(*x as f64),
        toml::Value::Float(x) => Ok(*x),
        other => Err(format!(
            "list element {} is a {} ({other}); lists hold numbers only",
            i + 1,
            other.type_str()
        )),
    }
}

impl FlowgraphSpec {
    /// Read and check a flowgraph file.
    pub fn load(path: &Path, registry: &Registry) -> Result<Self, LoadError> {
        Self::load_with(path, registry, &[])
    }

    /// Read and check a flowgraph file, overriding `[vars]` with `name=value` pairs (as
    /// `weir run --set name=value`).
    pub fn load_with(
        path: &Path,
        registry: &Registry,
        overrides: &[(String, String)],
    ) -> Result<Self, LoadError> {
        let name = path.display().to_string();
        let text = read_flowgraph_file(path)
            .map_err(|m| LoadError::unlocated(&name, None, format!("cannot read file: {m}")))?;
        Self::parse_with(&text, &name, registry, overrides)
    }

    /// Check flowgraph text; `name` is used in error messages.
    pub fn parse(text: &str, name: &str, registry: &Registry) -> Result<Self, LoadError> {
        Self::parse_with(text, name, registry, &[])
    }

    /// Check flowgraph text with `[vars]` overrides.
    pub fn parse_with(
        text: &str,
        name: &str,
        registry: &Registry,
        overrides: &[(String, String)],
    ) -> Result<Self, LoadError> {
        let source = Arc::new(SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        });
        let origin = Origin::File(source.clone());
        let model: FileModel = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            LoadError::at(&source, span, None, e.message().trim_end().to_string())
        })?;

        let vars = Vars::resolve(&source, &model.vars, overrides)?;

        let mut entries: Vec<_> = model.blocks.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);

        let mut blocks = Vec::with_capacity(entries.len());
        for (name, table) in entries {
            let raw = Self::read_block(&source, &vars, &name, table)?;
            blocks.push(Self::check_block(&origin, registry, raw)?);
        }

        let mut connections = Vec::with_capacity(model.connections.len());
        for c in &model.connections {
            connections.push(Self::read_connection(&origin, c)?);
        }
        Self::assemble(origin, registry, blocks, connections)
    }

    /// A `[blocks.NAME]` table as a [`RawBlock`]: its `type`, and its parameters with
    /// variables substituted.
    fn read_block(
        source: &Arc<SourceFile>,
        vars: &Vars,
        name: &Spanned<String>,
        table: Spanned<BlockTable>,
    ) -> Result<RawBlock, LoadError> {
        let block = name.get_ref().as_str();
        let table_span = table.span();
        let table = table.into_inner();
        let Some((_, type_value)) = table.iter().find(|(k, _)| k.get_ref() == "type") else {
            return Err(LoadError::at(
                source,
                name.span(),
                Some(block),
                "missing `type = \"...\"`",
            ));
        };
        let type_span = type_value.span();
        let Some(type_name) = type_value.get_ref().as_str() else {
            return Err(LoadError::at(
                source,
                type_span,
                Some(block),
                "`type` must be a string naming a block type",
            ));
        };
        let mut params = Vec::new();
        for (k, v) in &table {
            if k.get_ref() == "type" {
                continue;
            }
            let value = v.get_ref().to_value().map_err(|(at, m)| {
                LoadError::at(source, at.unwrap_or_else(|| v.span()), Some(block), m)
            })?;
            let value = vars
                .substitute(value)
                .map_err(|m| LoadError::at(source, v.span(), Some(block), m))?;
            params.push((k.get_ref().clone(), value, k.span()));
        }
        Ok(RawBlock {
            name: block.to_string(),
            type_name: type_name.to_string(),
            type_span,
            table_span,
            params,
        })
    }

    /// An entry of `connections` as a [`RawConnection`]: split at its arrow.
    fn read_connection(
        origin: &Origin,
        c: &Spanned<ConnectionEntry>,
    ) -> Result<RawConnection, LoadError> {
        let span = c.span();
        let (text, buffer) = match c.get_ref() {
            ConnectionEntry::Text(t) => (t, None),
            ConnectionEntry::Table { connect, buffer } => (connect, *buffer),
        };
        let (kind, (from, to)) = if let Some(ends) = text.split_once("->") {
            (ConnectionKind::Stream, ends)
        } else if let Some(ends) = text.split_once("=>") {
            (ConnectionKind::Message, ends)
        } else {
            return Err(origin.error(
                span,
                None,
                format!(
                    "`{text}` is not a connection; write \"block.port -> block.port\" for streams or \"block.port => block.port\" for messages"
                ),
            ));
        };
        Ok(RawConnection {
            text: text.clone(),
            from: from.to_string(),
            to: to.to_string(),
            kind,
            buffer,
            span,
        })
    }
}

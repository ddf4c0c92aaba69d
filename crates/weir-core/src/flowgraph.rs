//! Flowgraph files: parse TOML, check it against the registry, keep every location for errors.
//!
//! ```toml
//! connections = ["src.out -> conv.in", "conv.out -> sink.in"]
//!
//! [blocks.src]
//! type = "dmabuf_source"
//! samples_per_block = 16384
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::buffer::BufferKind;
use crate::error::{LoadError, SourceFile};
use crate::registry::{
    BuildError, Params, PeerLayout, PeerLayouts, PortLayout, PortSpec, Ports, Registry, Value,
};
use crate::suggest::did_you_mean;

/// The largest flowgraph file read: far beyond any hand-written or generated flowgraph (a
/// 50 000-block chain is about 3 MiB), small enough that reading it cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The most bytes the values of a flowgraph may hold once its `${variables}` are expanded,
/// all parameters together (a list counts 8 bytes an element). A variable referenced
/// thousands of times would otherwise multiply the file's size without bound.
pub const MAX_EXPANDED_BYTES: usize = 64 << 20;

/// The largest buffer a connection may ask for, in bytes (`buffer` × the item size): 1 GiB.
pub const MAX_BUFFER_BYTES: usize = 1 << 30;

/// What kind of file `ty` is, for messages refusing one that is not a regular file: "a FIFO",
/// "a character device", "a block device", "a directory", "a socket" (or "a regular file").
pub fn file_kind(ty: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ty.is_file() {
        "a regular file"
    } else if ty.is_fifo() {
        "a FIFO"
    } else if ty.is_char_device() {
        "a character device"
    } else if ty.is_block_device() {
        "a block device"
    } else if ty.is_dir() {
        "a directory"
    } else if ty.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Read a flowgraph file as text: only a regular file (a FIFO or a device would block or
/// never end), at most [`MAX_FILE_BYTES`], in UTF-8.
///
/// The file is opened without blocking (`O_NONBLOCK`: opening a FIFO for reading otherwise
/// waits for a writer) and its type is checked on the open descriptor, so nothing can swap it
/// between the check and the read.
pub fn read_flowgraph_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let ty = meta.file_type();
    if !ty.is_file() {
        return Err(format!("not a regular file ({})", file_kind(ty)));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} bytes, more than a flowgraph file may have ({MAX_FILE_BYTES})",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    // The size can change after the check: read one byte past the limit at most.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "more than a flowgraph file may have ({MAX_FILE_BYTES} bytes)"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        format!("not UTF-8 (invalid byte at offset {at})")
    })
}

/// One block instance of a checked flowgraph.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    /// Instance name.
    pub name: String,
    /// Block type name.
    pub type_name: String,
    /// Resolved parameters.
    pub params: Params,
    /// Ports, as described for these parameters.
    pub ports: Ports,
    /// Where the block's `type` is written (for errors raised while building it).
    pub span: Range<usize>,
    /// Where each parameter is written, for errors about one parameter.
    pub param_spans: HashMap<String, Range<usize>>,
}

/// One end of a stream connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Block instance name.
    pub block: String,
    /// Port name.
    pub port: String,
}

/// What a connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionKind {
    /// A sample stream, written `a.out -> b.in`.
    Stream,
    /// Messages, written `a.out => b.in`.
    Message,
}

/// A connection `from -> to` (stream) or `from => to` (message).
#[derive(Debug, Clone)]
pub struct Connection {
    /// Output end.
    pub from: Endpoint,
    /// Input end.
    pub to: Endpoint,
    /// Stream or message.
    pub kind: ConnectionKind,
    /// Buffer size in items asked for on this (stream) connection, as written.
    pub buffer: Option<usize>,
    /// Buffer size in items the build asks for on this connection's reader: the size asked for
    /// on any connection from the same output, or what the output's most demanding reader
    /// needs when that exceeds the runtime's default. FutureSDR 0.0.40 sizes an output's
    /// buffer when its *first* reader connects and ignores what later readers ask for, so
    /// every reader of an output asks for the same size.
    pub effective_buffer: Option<usize>,
}

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

/// A flowgraph checked against a registry: every type, parameter, port and connection is valid.
#[derive(Debug, Clone)]
pub struct FlowgraphSpec {
    /// Blocks, in file order.
    pub blocks: Vec<BlockSpec>,
    /// Stream and message connections.
    pub connections: Vec<Connection>,
    pub(crate) origin: Origin,
    /// Block positions by name, so that looking a block up costs the same in a 50 000-block
    /// flowgraph as in a small one (checked against `blocks`, which callers may change).
    index: HashMap<String, usize>,
}

/// Where a flowgraph came from, so errors can point into it.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// A flowgraph file: errors carry file:line:column and show the line.
    File(Arc<SourceFile>),
    /// Built in code: there is no text, errors name the block alone.
    Code,
}

impl Origin {
    /// An error at `span` (ignored for code) concerning `block`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        block: Option<&str>,
        message: impl Into<String>,
    ) -> LoadError {
        match self {
            Origin::File(source) => LoadError::at(source, span, block, message),
            Origin::Code => LoadError::in_code(block, message),
        }
    }

    /// ` (line L, column C)` for a file, nothing for code: to mention a second place in a
    /// message.
    fn position(&self, span: &Range<usize>) -> String {
        match self {
            Origin::File(source) => {
                let (line, column) = source.line_column(span.start);
                format!(" (line {line}, column {column})")
            }
            Origin::Code => String::new(),
        }
    }
}

/// A block before checking: the same for a file and for code.
pub(crate) struct RawBlock {
    pub(crate) name: String,
    pub(crate) type_name: String,
    /// Where the type is written (for a file).
    pub(crate) type_span: Range<usize>,
    /// The whole block (for a file): where a missing parameter is reported.
    pub(crate) table_span: Range<usize>,
    /// Parameters with the span of each key.
    pub(crate) params: Vec<(String, Value, Range<usize>)>,
}

/// A connection before checking.
pub(crate) struct RawConnection {
    /// As written, for messages.
    pub(crate) text: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) kind: ConnectionKind,
    pub(crate) buffer: Option<i64>,
    pub(crate) span: Range<usize>,
}

/// A `[blocks.NAME]` table: `type` and the parameters, every key and value with its span.
type BlockTable = BTreeMap<Spanned<String>, Spanned<RawValue>>;

/// A value as written in the file. Arrays keep the span of every element, so a wrong element
/// type is reported at the element rather than at the start of a long list of taps.
enum RawValue {
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
    fn to_value(&self) -> Result<Value, (Option<Range<usize>>, String)> {
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

fn to_value(v: &toml::Value) -> Result<Value, String> {
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

    /// Check every connection against the checked blocks, then the flowgraph as a whole:
    /// inputs connected once, fill-in-place outputs feeding one input, device channel layouts
    /// accepted by the blocks that read them, and buffer sizes every reader of an output can
    /// live with. Shared by files and [`FlowgraphBuilder`](crate::builder::FlowgraphBuilder).
    pub(crate) fn assemble(
        origin: Origin,
        registry: &Registry,
        mut blocks: Vec<BlockSpec>,
        raw_connections: Vec<RawConnection>,
    ) -> Result<Self, LoadError> {
        let index = name_index(&blocks);
        let mut connections = Vec::with_capacity(raw_connections.len());
        let mut spans = Vec::with_capacity(raw_connections.len());
        let mut driven: HashMap<(String, String), (Range<usize>, String)> = HashMap::new();
        for c in &raw_connections {
            let conn = Self::check_connection(&origin, &blocks, &index, c)?;
            if conn.kind == ConnectionKind::Stream {
                // A message input may have any number of senders; a stream input only one.
                let key = (conn.to.block.clone(), conn.to.port.clone());
                if let Some((first, first_text)) = driven.get(&key) {
                    return Err(origin.error(
                        c.span.clone(),
                        Some(&conn.to.block),
                        format!(
                            "input `{}` is connected twice: `{}` after `{}`{}",
                            conn.to.port,
                            c.text,
                            first_text,
                            origin.position(first)
                        ),
                    ));
                }
                driven.insert(key, (c.span.clone(), c.text.clone()));
            }
            connections.push(conn);
            spans.push(c.span.clone());
        }

        Self::refuse_loops(&origin, &blocks, &index, &connections, &spans)?;

        // An output writing into a sink's device memory cannot feed anything else.
        let mut fan_out: HashMap<&Endpoint, usize> = HashMap::new();
        for c in connections
            .iter()
            .filter(|c| c.kind == ConnectionKind::Stream)
        {
            *fan_out.entry(&c.from).or_default() += 1;
        }
        for c in &connections {
            let fills = index
                .get(&c.to.block)
                .and_then(|&b| blocks[b].ports.inputs.iter().find(|p| p.name == c.to.port))
                .is_some_and(|p| p.buffer == BufferKind::FillBlock);
            if fills && fan_out.get(&c.from).copied().unwrap_or(0) > 1 {
                let b = index
                    .get(&c.from.block)
                    .map_or(0..0, |&b| blocks[b].span.clone());
                return Err(origin.error(
                    b,
                    Some(&c.from.block),
                    format!(
                        "`{}.{}` writes into `{}`'s device blocks in place, so it cannot also feed other inputs",
                        c.from.block, c.from.port, c.to.block
                    ),
                ));
            }
        }

        for b in &blocks {
            for input in &b.ports.inputs {
                if !driven.contains_key(&(b.name.clone(), input.name.to_string())) {
                    return Err(origin.error(
                        b.span.clone(),
                        Some(&b.name),
                        format!("input `{}` is not connected", input.name),
                    ));
                }
            }
        }

        Self::flow_layouts(&origin, registry, &mut blocks, &index, &connections, &spans)?;
        Self::size_shared_buffers(&origin, &blocks, &index, &mut connections, &spans)?;

        Ok(Self {
            blocks,
            connections,
            origin,
            index,
        })
    }

    /// Refuse connections that close a loop of one kind: a block connected to itself, or a
    /// cycle of stream connections (every block in it waits for input from the one before, so
    /// none ever starts) or of message connections (a message going round would be forwarded
    /// for ever, as by two `message_copy` blocks feeding each other). A loop through a stream
    /// and a message connection is feedback a flowgraph may want (a detector retuning a mixer
    /// upstream) and is allowed.
    ///
    /// Linear in blocks and connections: one depth-first search per kind.
    fn refuse_loops(
        origin: &Origin,
        blocks: &[BlockSpec],
        index: &HashMap<String, usize>,
        connections: &[Connection],
        spans: &[Range<usize>],
    ) -> Result<(), LoadError> {
        for kind in [ConnectionKind::Stream, ConnectionKind::Message] {
            let arrow = if kind == ConnectionKind::Stream {
                "->"
            } else {
                "=>"
            };
            let text = |c: &Connection| {
                format!(
                    "{}.{} {arrow} {}.{}",
                    c.from.block, c.from.port, c.to.block, c.to.port
                )
            };
            // Outgoing connections (by position) of every block.
            let mut out: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
            for (i, c) in connections.iter().enumerate() {
                if c.kind != kind {
                    continue;
                }
                if c.from.block == c.to.block {
                    let why = if kind == ConnectionKind::Stream {
                        "its input would wait for its own output, so it can never start"
                    } else {
                        "each message it forwards would come back to it for ever"
                    };
                    return Err(origin.error(
                        spans[i].clone(),
                        Some(&c.from.block),
                        format!(
                            "`{}` connects block `{}` to itself: {why}",
                            text(c),
                            c.from.block
                        ),
                    ));
                }
                if let Some(&from) = index.get(&c.from.block) {
                    out[from].push(i);
                }
            }
            // Iterative depth-first search: 0 unvisited, 1 on the current path, 2 done.
            let mut state = vec![0u8; blocks.len()];
            // The path: (block, next of its outgoing connections to try).
            let mut path: Vec<(usize, usize)> = Vec::new();
            for root in 0..blocks.len() {
                if state[root] != 0 {
                    continue;
                }
                state[root] = 1;
                path.push((root, 0));
                while let Some(top) = path.len().checked_sub(1) {
                    let (b, next) = path[top];
                    let Some(&c) = out[b].get(next) else {
                        state[b] = 2;
                        path.pop();
                        continue;
                    };
                    path[top].1 += 1;
                    let Some(&to) = index.get(&connections[c].to.block) else {
                        continue;
                    };
                    match state[to] {
                        0 => {
                            state[to] = 1;
                            path.push((to, 0));
                        }
                        1 => {
                            // A cycle: the path from `to` back to `to` through `c`.
                            let first = path.iter().position(|&(p, _)| p == to).unwrap_or(0);
                            let mut names: Vec<&str> = path[first..]
                                .iter()
                                .map(|&(p, _)| blocks[p].name.as_str())
                                .collect();
                            names.push(blocks[to].name.as_str());
                            let why = if kind == ConnectionKind::Stream {
                                "every block in it waits for input from the one before, so none can start"
                            } else {
                                "a message sent round it would be forwarded for ever"
                            };
                            return Err(origin.error(
                                spans[c].clone(),
                                Some(&blocks[to].name),
                                format!(
                                    "`{}` closes a cycle of {} connections {}: {why}",
                                    text(&connections[c]),
                                    if kind == ConnectionKind::Stream {
                                        "stream"
                                    } else {
                                        "message"
                                    },
                                    names
                                        .iter()
                                        .map(|n| format!("`{n}`"))
                                        .collect::<Vec<_>>()
                                        .join(&format!(" {arrow} "))
                                ),
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Hand every device channel layout a port publishes ([`PortSpec::layout`]) to the block
    /// at the other end of its connections, and describe the blocks that read layouts
    /// ([`PortSpec::reads_layout`]) again with them, so that they refuse a layout they cannot
    /// decode, or settings that disagree with it, now rather than with wrong samples later.
    ///
    /// Layouts go both ways: downstream from an RX device's output, upstream from a TX device's
    /// input. A block described again may publish a layout itself (one that passes its input's
    /// on), so this runs until nothing changes; the build order of `run` plays no part, every
    /// block's layouts are in its [`BlockSpec::params`] before anything is built.
    fn flow_layouts(
        origin: &Origin,
        registry: &Registry,
        blocks: &mut [BlockSpec],
        index: &HashMap<String, usize>,
        connections: &[Connection],
        spans: &[Range<usize>],
    ) -> Result<(), LoadError> {
        let reads = |b: &BlockSpec| {
            let p = &b.ports;
            p.inputs.iter().chain(&p.outputs).any(|p| p.reads_layout)
        };
        // The stream connections of every block, either end.
        let mut links: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
        for (i, c) in connections.iter().enumerate() {
            if c.kind != ConnectionKind::Stream {
                continue;
            }
            for end in [&c.from.block, &c.to.block] {
                if let Some(&b) = index.get(end) {
                    links[b].push(i);
                }
            }
        }
        // A work list: the readers, then every reader next to a block whose ports changed.
        // Each visit costs the block's own connections, so a chain of n readers settles in
        // O(n); a bound on the visits catches blocks that keep changing each other's
        // layouts (a plugin's bug).
        let mut queue: std::collections::VecDeque<usize> =
            (0..blocks.len()).filter(|&i| reads(&blocks[i])).collect();
        let mut queued = vec![false; blocks.len()];
        for &b in &queue {
            queued[b] = true;
        }
        let mut budget = 8 * (queue.len() + connections.len()) + 16;
        let first_reader = queue.front().copied();
        while let Some(b) = queue.pop_front() {
            queued[b] = false;
            if budget == 0 {
                let b = first_reader.unwrap_or(b);
                return Err(origin.error(
                    blocks[b].span.clone(),
                    Some(&blocks[b].name),
                    "the channel layouts between blocks never settle: blocks keep changing each other's",
                ));
            }
            budget -= 1;
            let peers = peer_layouts(blocks, index, connections, &links[b], &blocks[b].name);
            if blocks[b].params.peer_layouts() == Some(&peers) {
                continue;
            }
            let block = &blocks[b];
            let Some(descriptor) = registry.get(&block.type_name) else {
                continue;
            };
            // A parameter written in the file is where the user can fix a mismatch; anything
            // else is about the connection that brought the layout.
            let at = links[b]
                .iter()
                .map(|&i| (&connections[i], &spans[i]))
                .find(|(c, _)| {
                    c.to.block == block.name && peers.inputs.contains_key(&c.to.port)
                        || c.from.block == block.name && peers.outputs.contains_key(&c.from.port)
                })
                .map_or_else(|| block.span.clone(), |(_, s)| s.clone());
            let locate = |e: BuildError| {
                let span = match &e {
                    BuildError::Param { name, .. } => block.param_spans.get(name).cloned(),
                    BuildError::Other(_) => None,
                };
                origin.error(
                    span.unwrap_or_else(|| at.clone()),
                    Some(&block.name),
                    e.to_string(),
                )
            };
            let mut params = block.params.clone();
            params.set_peer_layouts(peers);
            let ports = (descriptor.ports)(&params).map_err(locate)?;
            let shape = |p: &[PortSpec]| -> Vec<_> {
                p.iter().map(|p| (p.name, p.item, p.buffer)).collect()
            };
            if shape(&ports.inputs) != shape(&block.ports.inputs)
                || shape(&ports.outputs) != shape(&block.ports.outputs)
            {
                return Err(origin.error(
                    block.span.clone(),
                    Some(&block.name),
                    format!(
                        "block type `{}` changed its ports' names or item types when given its peers' channel layouts; it may only check or derive settings from them",
                        block.type_name
                    ),
                ));
            }
            let layouts_changed = ports
                .inputs
                .iter()
                .chain(&ports.outputs)
                .map(|p| &p.layout)
                .ne(block
                    .ports
                    .inputs
                    .iter()
                    .chain(&block.ports.outputs)
                    .map(|p| &p.layout));
            blocks[b].params = params;
            blocks[b].ports = ports;
            if layouts_changed {
                // What its neighbours see of it changed: describe the readers among them again.
                for &i in &links[b] {
                    let c = &connections[i];
                    let other = if c.from.block == blocks[b].name {
                        &c.to.block
                    } else {
                        &c.from.block
                    };
                    if let Some(&o) = index.get(other)
                        && !queued[o]
                        && reads(&blocks[o])
                    {
                        queued[o] = true;
                        queue.push_back(o);
                    }
                }
            }
        }
        Ok(())
    }

    /// Decide the buffer size of every circular output once for all its readers.
    ///
    /// FutureSDR 0.0.40 creates an output's circular buffer when the first reader connects,
    /// sized for the writer, that reader and their `buffer` requests; a later reader's request
    /// and minimum chunk are only logged as a warning (`runtime/buffer/circular.rs`). So an
    /// explicit `buffer` applies to the whole output (two different ones are refused), must
    /// hold every reader's minimum chunk, and without one the output is sized for its most
    /// demanding reader when the runtime's default buffer is too small for it.
    fn size_shared_buffers(
        origin: &Origin,
        blocks: &[BlockSpec],
        index: &HashMap<String, usize>,
        connections: &mut [Connection],
        spans: &[Range<usize>],
    ) -> Result<(), LoadError> {
        let port = |e: &Endpoint, outputs: bool| {
            index
                .get(&e.block)
                .map(|&b| &blocks[b])
                .and_then(|b| {
                    let ports = if outputs {
                        &b.ports.outputs
                    } else {
                        &b.ports.inputs
                    };
                    ports.iter().find(|p| p.name == e.port)
                })
                .cloned()
        };
        let describe = |c: &Connection| {
            format!(
                "{}.{} -> {}.{}",
                c.from.block, c.from.port, c.to.block, c.to.port
            )
        };
        // The stream connections of every output, in file order.
        let mut by_output: HashMap<Endpoint, Vec<usize>> = HashMap::new();
        for (j, c) in connections.iter().enumerate() {
            if c.kind == ConnectionKind::Stream {
                by_output.entry(c.from.clone()).or_default().push(j);
            }
        }
        for i in 0..connections.len() {
            let from = connections[i].from.clone();
            if connections[i].kind != ConnectionKind::Stream {
                continue;
            }
            // Each output once, at its first connection.
            let Some(readers) = by_output.remove(&from) else {
                continue;
            };
            let Some(out) = port(&from, true) else {
                continue;
            };
            // Device blocks have their own size, checked per connection.
            if out.fixed_buffer_items.is_some() {
                continue;
            }
            let mut asked: Option<usize> = None;
            for &j in &readers {
                let Some(size) = connections[j].buffer else {
                    continue;
                };
                match asked {
                    Some(first) if first != size => {
                        let k = readers
                            .iter()
                            .copied()
                            .find(|&k| connections[k].buffer == Some(first))
                            .unwrap_or(i);
                        return Err(origin.error(
                            spans[j].clone(),
                            Some(&from.block),
                            format!(
                                "`{}.{}` has one buffer for all its readers, but `{}` asks for buffer = {size} and `{}`{} for buffer = {first}; ask for one size (on one connection is enough)",
                                from.block,
                                from.port,
                                describe(&connections[j]),
                                describe(&connections[k]),
                                origin.position(&spans[k]),
                            ),
                        ));
                    }
                    _ => asked = Some(size),
                }
            }
            let effective = match asked {
                Some(size) => {
                    for &j in &readers {
                        let c = &connections[j];
                        let min = port(&c.to, false).map_or(1, |p| p.min_items);
                        if size < min {
                            return Err(origin.error(
                                spans[j].clone(),
                                Some(&c.to.block),
                                format!(
                                    "`{}.{}` needs {min} items per call but the buffer from `{}.{}` holds {size}: the flowgraph would stall",
                                    c.to.block, c.to.port, from.block, from.port
                                ),
                            ));
                        }
                    }
                    Some(size)
                }
                None => {
                    // The writer and a reader each hold up to their minimum less one item
                    // while waiting for the other: the buffer needs room for both.
                    let need = readers
                        .iter()
                        .map(|&j| port(&connections[j].to, false).map_or(1, |p| p.min_items))
                        .max()
                        .unwrap_or(1)
                        + out.min_items.max(1)
                        - 1;
                    let default =
                        futuresdr::runtime::config::config().buffer_size / out.item.size().max(1);
                    (need > default).then_some(need)
                }
            };
            for &j in &readers {
                connections[j].effective_buffer = effective;
            }
        }
        Ok(())
    }

    /// Check one block against the registry: its type, parameters and ports.
    pub(crate) fn check_block(
        origin: &Origin,
        registry: &Registry,
        raw: RawBlock,
    ) -> Result<BlockSpec, LoadError> {
        let block = raw.name.as_str();
        let type_name = raw.type_name.as_str();
        let type_span = raw.type_span.clone();
        // A name is printed in every message and report about the block: no control
        // characters (they could rewrite the terminal), and written in a connection as
        // `name.port`, so no dot, no blank, not empty.
        if block.is_empty()
            || block
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '.')
        {
            return Err(origin.error(
                raw.table_span.clone(),
                Some(block),
                "block names may not be empty nor contain control characters, blanks or `.` (write letters, digits, `_` or `-`)",
            ));
        }
        let Some(descriptor) = registry.get(type_name) else {
            return Err(origin
                .error(
                    type_span,
                    Some(block),
                    format!(
                        "unknown block type `{type_name}`{}",
                        did_you_mean(type_name, &registry.type_names())
                    ),
                )
                .with_help("`weir blocks` lists the block types"));
        };
        let spans: HashMap<&str, Range<usize>> = raw
            .params
            .iter()
            .map(|(k, _, span)| (k.as_str(), span.clone()))
            .collect();
        let locate = |e: BuildError| match &e {
            BuildError::Param { name, .. } => {
                // Parameter errors point at the parameter's key (the block table when the
                // parameter is missing altogether).
                let span = spans
                    .get(name.as_str())
                    .cloned()
                    .unwrap_or_else(|| raw.table_span.clone());
                origin.error(span, Some(block), e.to_string())
            }
            BuildError::Other(m) => origin.error(type_span.clone(), Some(block), m),
        };
        let params = descriptor
            .resolve(raw.params.iter().map(|(k, v, _)| (k.as_str(), v.clone())))
            .map_err(locate)?;
        let ports = (descriptor.ports)(&params).map_err(locate)?;
        let param_spans = spans.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Ok(BlockSpec {
            name: block.to_string(),
            type_name: type_name.to_string(),
            params,
            ports,
            span: type_span,
            param_spans,
        })
    }

    fn check_connection(
        origin: &Origin,
        blocks: &[BlockSpec],
        index: &HashMap<String, usize>,
        c: &RawConnection,
    ) -> Result<Connection, LoadError> {
        let text = &c.text;
        let kind = c.kind;
        let buffer = c.buffer;
        let err = |block: Option<&str>, m: String| origin.error(c.span.clone(), block, m);
        let endpoint = |s: &str| -> Result<Endpoint, LoadError> {
            let s = s.trim();
            let Some((block, port)) = s
                .split_once('.')
                .filter(|(b, p)| !b.trim().is_empty() && !p.trim().is_empty())
            else {
                return Err(err(
                    None,
                    format!("`{s}` is not `block.port` in connection `{text}`"),
                ));
            };
            Ok(Endpoint {
                block: block.trim().to_string(),
                port: port.trim().to_string(),
            })
        };
        let from = endpoint(&c.from)?;
        let to = endpoint(&c.to)?;
        let find = |e: &Endpoint| {
            index.get(&e.block).map(|&i| &blocks[i]).ok_or_else(|| {
                let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
                err(
                    None,
                    format!(
                        "unknown block `{}` in connection `{text}`{}",
                        e.block,
                        did_you_mean(&e.block, &names)
                    ),
                )
            })
        };
        let src = find(&from)?;
        let dst = find(&to)?;
        if kind == ConnectionKind::Message {
            let check = |b: &BlockSpec, port: &str, ports: &[&'static str], what: &str| {
                if ports.contains(&port) {
                    Ok(())
                } else {
                    Err(err(
                        Some(&b.name),
                        format!(
                            "no message {what} `{port}` on `{}` ({}); message {what}s: {}{}",
                            b.name,
                            b.type_name,
                            list(ports),
                            did_you_mean(port, ports)
                        ),
                    ))
                }
            };
            check(src, &from.port, &src.ports.message_outputs, "output")?;
            check(dst, &to.port, &dst.ports.message_inputs, "input")?;
            if buffer.is_some() {
                return Err(err(
                    None,
                    "`buffer` applies to stream connections, not messages".to_string(),
                ));
            }
            return Ok(Connection {
                from,
                to,
                kind,
                buffer: None,
                effective_buffer: None,
            });
        }
        let out = src
            .ports
            .outputs
            .iter()
            .find(|p| p.name == from.port)
            .ok_or_else(|| {
                let names: Vec<&str> = src.ports.outputs.iter().map(|p| p.name).collect();
                err(
                    Some(&src.name),
                    format!(
                        "no output port `{}` on `{}` ({}); outputs: {}{}",
                        from.port,
                        src.name,
                        src.type_name,
                        list(&names),
                        did_you_mean(&from.port, &names)
                    ),
                )
            })?;
        let inp = dst
            .ports
            .inputs
            .iter()
            .find(|p| p.name == to.port)
            .ok_or_else(|| {
                let names: Vec<&str> = dst.ports.inputs.iter().map(|p| p.name).collect();
                err(
                    Some(&dst.name),
                    format!(
                        "no input port `{}` on `{}` ({}); inputs: {}{}",
                        to.port,
                        dst.name,
                        dst.type_name,
                        list(&names),
                        did_you_mean(&to.port, &names)
                    ),
                )
            })?;
        if inp.buffer == BufferKind::FillBlock && !out.fills_blocks {
            return Err(err(
                Some(&dst.name),
                format!(
                    "`{}.{}` fills device blocks in place, but `{}` ({}) cannot write into them; use `mode = \"copy\"` on `{}` or put a block that can (e.g. head) in between",
                    dst.name, inp.name, src.name, src.type_name, dst.name
                ),
            ));
        }
        if out.item != inp.item {
            return Err(err(
                Some(&dst.name),
                format!(
                    "item types differ: `{}.{}` produces {} but `{}.{}` takes {}",
                    src.name, out.name, out.item, dst.name, inp.name, inp.item
                ),
            ));
        }
        if let Some(align) = inp.aligned_blocks {
            let block_bytes = out
                .fixed_buffer_items
                .map(|n| n.saturating_mul(out.item.size()));
            match block_bytes {
                None => {
                    return Err(err(
                        Some(&dst.name),
                        format!(
                            "`{}.{}` writes with O_DIRECT, which takes whole device blocks, but `{}.{}` ({}) hands over an ordinary stream; connect it straight to a DMA source (dmabuf_source) or leave o_direct off",
                            dst.name, inp.name, src.name, out.name, src.type_name
                        ),
                    ));
                }
                Some(bytes) if !bytes.is_multiple_of(align) => {
                    return Err(err(
                        Some(&src.name),
                        format!(
                            "`{}.{}` writes with O_DIRECT in {align}-byte units, but the device blocks of `{}.{}` are {bytes} bytes; choose samples_per_block so that a block is a multiple of {align} bytes, or leave o_direct off",
                            dst.name, inp.name, src.name, out.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let buffer = match buffer {
            None => None,
            Some(b) if out.fixed_buffer_items.is_some() => {
                return Err(err(
                    Some(&src.name),
                    format!(
                        "`{}.{}` hands over fixed-size device blocks; set their size on `{}` instead of `buffer = {b}`",
                        src.name, out.name, src.name
                    ),
                ));
            }
            Some(b) => {
                let items = usize::try_from(b).ok().filter(|b| *b > 0).ok_or_else(|| {
                    err(
                        None,
                        format!("`buffer` must be a positive number of items, found {b}"),
                    )
                })?;
                let fits = items
                    .checked_mul(out.item.size().max(1))
                    .is_some_and(|bytes| bytes <= MAX_BUFFER_BYTES);
                if !fits {
                    return Err(err(
                        None,
                        format!(
                            "`buffer = {b}` items of {} is more than a buffer may hold ({MAX_BUFFER_BYTES} bytes, {} items)",
                            out.item,
                            MAX_BUFFER_BYTES / out.item.size().max(1)
                        ),
                    ));
                }
                Some(items)
            }
        };
        // A buffer that can never hold the chunk the reader needs stalls the flowgraph silently.
        if let Some(size) = buffer.or(out.fixed_buffer_items)
            && size < inp.min_items
        {
            return Err(err(
                Some(&dst.name),
                format!(
                    "`{}.{}` needs {} items per call but the buffer from `{}.{}` holds {size}: the flowgraph would stall",
                    dst.name, inp.name, inp.min_items, src.name, out.name
                ),
            ));
        }
        Ok(Connection {
            from,
            to,
            kind,
            buffer,
            // Decided for the whole output by `size_shared_buffers`.
            effective_buffer: buffer,
        })
    }

    /// The file name this flowgraph came from; empty for a flowgraph built in code.
    pub fn file_name(&self) -> &str {
        match &self.origin {
            Origin::File(source) => &source.name,
            Origin::Code => "",
        }
    }

    /// A block by instance name.
    pub fn block(&self, name: &str) -> Option<&BlockSpec> {
        self.block_index(name).map(|i| &self.blocks[i])
    }

    /// The position of a block in file order, by instance name.
    pub(crate) fn block_index(&self, name: &str) -> Option<usize> {
        match self.index.get(name) {
            Some(&i) if self.blocks.get(i).is_some_and(|b| b.name == name) => Some(i),
            // `blocks` is public and may have been changed since the index was made.
            _ => self.blocks.iter().position(|b| b.name == name),
        }
    }

    pub(crate) fn error_at_block(&self, block: &BlockSpec, message: String) -> LoadError {
        self.origin
            .error(block.span.clone(), Some(&block.name), message)
    }

    /// A factory's error, located at the parameter it names when the file sets it.
    pub(crate) fn build_error(&self, block: &BlockSpec, e: BuildError) -> LoadError {
        let span = match &e {
            BuildError::Param { name, .. } => block.param_spans.get(name).cloned(),
            BuildError::Other(_) => None,
        };
        self.origin.error(
            span.unwrap_or_else(|| block.span.clone()),
            Some(&block.name),
            e.to_string(),
        )
    }
}

/// The layouts published at the other ends of block `name`'s stream connections (`links`:
/// the positions of its connections in `connections`).
fn peer_layouts(
    blocks: &[BlockSpec],
    index: &HashMap<String, usize>,
    connections: &[Connection],
    links: &[usize],
    name: &str,
) -> PeerLayouts {
    let port = |e: &Endpoint, outputs: bool| {
        let b = &blocks[*index.get(&e.block)?];
        let ports = if outputs {
            &b.ports.outputs
        } else {
            &b.ports.inputs
        };
        let p = ports.iter().find(|p| p.name == e.port)?;
        let layout = match &p.layout {
            PortLayout::None => return None,
            PortLayout::Known(l) => Ok(l.clone()),
            PortLayout::Unknown(why) => Err(why.clone()),
        };
        Some(PeerLayout {
            peer: format!("{}.{}", e.block, e.port),
            peer_type: b.type_name.clone(),
            layout,
        })
    };
    let mut peers = PeerLayouts::default();
    for c in links
        .iter()
        .map(|&i| &connections[i])
        .filter(|c| c.kind == ConnectionKind::Stream)
    {
        if c.to.block == name
            && let Some(l) = port(&c.from, true)
        {
            peers.inputs.insert(c.to.port.clone(), l);
        }
        if c.from.block == name
            && let Some(l) = port(&c.to, false)
        {
            peers
                .outputs
                .entry(c.from.port.clone())
                .or_default()
                .push(l);
        }
    }
    peers
}

/// Block positions by name.
fn name_index(blocks: &[BlockSpec]) -> HashMap<String, usize> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.name.clone(), i))
        .collect()
}

/// The names listed in a message: at most this many, then how many more there are.
const LISTED_NAMES: usize = 20;

fn list(names: &[&str]) -> String {
    match names.len() {
        0 => "none".to_string(),
        n if n > LISTED_NAMES => format!(
            "{} and {} more",
            names[..LISTED_NAMES].join(", "),
            n - LISTED_NAMES
        ),
        _ => names.join(", "),
    }
}

/// A string value for a message: quoted, escaped, and cut after 80 characters.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// The `[vars]` of a flowgraph, after command-line overrides.
struct Vars {
    values: BTreeMap<String, Value>,
    /// Bytes the substituted values hold so far, bounded by [`MAX_EXPANDED_BYTES`].
    expanded: std::cell::Cell<usize>,
}

/// The bytes a value holds, for the expansion bound.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len().saturating_mul(8),
        _ => 8,
    }
}

impl Vars {
    fn resolve(
        source: &Arc<SourceFile>,
        declared: &BTreeMap<Spanned<String>, Spanned<RawValue>>,
        overrides: &[(String, String)],
    ) -> Result<Self, LoadError> {
        let mut values = BTreeMap::new();
        let mut spans = HashMap::new();
        for (k, v) in declared {
            let value = v.get_ref().to_value().map_err(|(at, m)| {
                LoadError::at(
                    source,
                    at.unwrap_or_else(|| v.span()),
                    None,
                    format!("variable `{}`: {m}", k.get_ref()),
                )
            })?;
            spans.insert(k.get_ref().clone(), v.span());
            values.insert(k.get_ref().clone(), value);
        }
        for (name, raw) in overrides {
            let Some(current) = values.get(name) else {
                let names: Vec<&str> = values.keys().map(String::as_str).collect();
                return Err(LoadError::unlocated(
                    &source.name,
                    None,
                    format!(
                        "command line: --set {name}={raw}: the flowgraph has no variable `{name}` (variables: {}){}",
                        list(&names),
                        did_you_mean(name, &names)
                    ),
                ));
            };
            let span = spans.get(name).cloned().unwrap_or(0..0);
            let value = parse_override(raw, current).map_err(|m| {
                LoadError::at(source, span, None, format!("--set {name}={raw}: {m}"))
            })?;
            values.insert(name.clone(), value);
        }
        Ok(Self {
            values,
            expanded: std::cell::Cell::new(0),
        })
    }

    /// Replace `${name}` references: a value that is exactly one reference takes the variable's
    /// type; references inside a longer string are interpolated as text.
    fn substitute(&self, value: Value) -> Result<Value, String> {
        let Value::Str(text) = value else {
            return Ok(value);
        };
        if !text.contains("${") {
            return Ok(Value::Str(text));
        }
        let value = self.expand(&text)?;
        let total = self.expanded.get().saturating_add(value_bytes(&value));
        if total > MAX_EXPANDED_BYTES {
            return Err(format!(
                "the variables expand to more than {MAX_EXPANDED_BYTES} bytes in all (a variable referenced too many times?)"
            ));
        }
        self.expanded.set(total);
        Ok(value)
    }

    /// [`Self::substitute`] of a string holding `${`, without the bound on the whole file.
    fn expand(&self, text: &str) -> Result<Value, String> {
        let lookup = |name: &str| {
            self.values.get(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = self.values.keys().map(String::as_str).collect();
                format!(
                    "unknown variable `{name}` (variables: {}){}",
                    list(&names),
                    did_you_mean(name, &names)
                )
            })
        };
        if let Some(name) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
            && !name.contains('}')
        {
            return lookup(name);
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in {}", quoted(text)))?;
            match lookup(&after[..end])? {
                Value::Str(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            }
            // Checked as it grows: one string holding a long variable many times over would
            // otherwise be built whole before the file's bound is looked at.
            if self.expanded.get().saturating_add(out.len()) > MAX_EXPANDED_BYTES {
                return Err(format!(
                    "the variables expand to more than {MAX_EXPANDED_BYTES} bytes in all (a variable referenced too many times?)"
                ));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::Str(out))
    }
}

/// A `--set` value, read as TOML when it parses as one (numbers, booleans, quoted strings) and
/// as a plain string otherwise, and required to have the declared variable's type.
fn parse_override(raw: &str, current: &Value) -> Result<Value, String> {
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|t| t.get("v").and_then(|v| to_value(v).ok()));
    let value = match (current, parsed) {
        (Value::Str(_), Some(Value::Str(s))) => Value::Str(s),
        (Value::Str(_), _) => Value::Str(raw.to_string()),
        (Value::Float(_), Some(Value::Int(i))) => Value::Float(i as f64),
        (_, Some(v)) if std::mem::discriminant(&v) == std::mem::discriminant(current) => v,
        (_, _) => {
            return Err(format!(
                "expected {} like the variable's value {current} in [vars]",
                current.type_name()
            ));
        }
    };
    Ok(value)
}

//! Flowgraph files: parse TOML, check it against the registry, keep every location for errors.
//!
//! ```toml
//! connections = ["src.out -> conv.in", "conv.out -> sink.in"]
//!
//! [blocks.src]
//! type = "dmabuf_source"
//! samples_per_block = 16384
//! ```

mod check;
mod layout;
mod parse;
mod vars;

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::error::{LoadError, SourceFile};
use crate::registry::{BuildError, Params, Ports, Value};

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

impl FlowgraphSpec {
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

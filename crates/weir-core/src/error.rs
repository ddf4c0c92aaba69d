//! Errors of loading, building and running flowgraphs.

use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// The text of a flowgraph file, kept so every error can point into it.
#[derive(Debug)]
pub struct SourceFile {
    /// Path or name shown in messages.
    pub name: String,
    /// Full text.
    pub text: String,
}

impl SourceFile {
    /// 1-based line and column of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }
}

/// `text` with its control characters escaped (`\u{1b}`, `\n`): names and values from a
/// flowgraph file reach the terminal in error messages, and a raw escape sequence or carriage
/// return there could rewrite what the user sees (a forged `error:` line).
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` with every control character but newlines and tabs replaced by as many `?` as it
/// has bytes, so byte offsets into it stay valid: the source shown under an error.
fn neutralise_source(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_string();
    }
    text.chars()
        .flat_map(|c| {
            let keep = !c.is_control() || c == '\n' || c == '\t';
            let n = if keep { 1 } else { c.len_utf8() };
            std::iter::repeat_n(if keep { c } else { '?' }, n)
        })
        .collect()
}

/// A flowgraph problem, naming the block involved: in a flowgraph file located at
/// file:line:column, in a flowgraph built in code (see
/// [`FlowgraphBuilder`](crate::builder::FlowgraphBuilder)) by the block alone.
///
/// `Display` gives the one-line form (`file:3:7: block `conv`: ...`, or `block `conv`: ...` for a
/// flowgraph built in code); the miette [`Diagnostic`](miette::Diagnostic) renders the offending
/// line with a caret.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{}{}{message}", self.location(), block.as_ref().map(|b| format!("block `{b}`: ")).unwrap_or_default())]
pub struct LoadError {
    /// File name; empty for a flowgraph built in code.
    pub file: String,
    /// 1-based line; 0 when the error has no position (a flowgraph built in code, a
    /// command-line override).
    pub line: usize,
    /// 1-based column; 0 when the error has no position.
    pub column: usize,
    /// Block instance the problem concerns, if any.
    pub block: Option<String>,
    /// What is wrong.
    pub message: String,
    // Both absent for a flowgraph built in code: there is no text to show.
    #[source_code]
    src: Option<NamedSource<String>>,
    #[label("here")]
    span: Option<SourceSpan>,
    /// A hint on how to fix it.
    #[help]
    pub help: Option<String>,
}

impl LoadError {
    /// An error at byte range `span` of `source`.
    pub fn at(
        source: &Arc<SourceFile>,
        span: std::ops::Range<usize>,
        block: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = source.line_column(span.start);
        Self {
            file: escape_controls(&source.name),
            line,
            column,
            block: block.map(escape_controls),
            message: escape_controls(&message.into()),
            src: Some(NamedSource::new(
                escape_controls(&source.name),
                neutralise_source(&source.text),
            )),
            span: Some((span.start, span.end.saturating_sub(span.start)).into()),
            help: None,
        }
    }

    /// An error in a flowgraph built in code: no file position, only the block (if any) and
    /// what is wrong.
    pub fn in_code(block: Option<&str>, message: impl Into<String>) -> Self {
        Self::unlocated("", block, message)
    }

    /// An error about flowgraph `file` as a whole that no position in it can show, such as a
    /// command-line `--set` of a variable the file does not declare.
    pub fn unlocated(file: &str, block: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            file: escape_controls(file),
            line: 0,
            column: 0,
            block: block.map(escape_controls),
            message: escape_controls(&message.into()),
            src: None,
            span: None,
            help: None,
        }
    }

    /// Line and column in the flowgraph file; `None` for a flowgraph built in code.
    pub fn position(&self) -> Option<(usize, usize)> {
        (self.line > 0).then_some((self.line, self.column))
    }

    /// `file:line:column: `, `file: ` without a position, nothing without a file.
    fn location(&self) -> String {
        match self.position() {
            Some((line, column)) => format!("{}:{line}:{column}: ", self.file),
            None if !self.file.is_empty() => format!("{}: ", self.file),
            None => String::new(),
        }
    }

    /// Add a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(escape_controls(&help.into()));
        self
    }
}

/// A flowgraph that loaded but failed while running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The runtime reported an error (a block's `work()` failed, ...).
    #[error("flowgraph failed: {0}")]
    Runtime(String),
    /// A block failed and said why.
    #[error("block `{block}` failed: {message}")]
    Block {
        /// Block instance name.
        block: String,
        /// Its error.
        message: String,
    },
    /// No block of that name in the flowgraph.
    #[error("no block named `{0}` in this flowgraph")]
    NoSuchBlock(String),
    /// A message could not be delivered or was refused by the block.
    #[error("message to `{block}.{port}`: {message}")]
    Message {
        /// Block instance name.
        block: String,
        /// Message port.
        port: String,
        /// What went wrong.
        message: String,
    },
}

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

/// A flowgraph file problem, located at file:line:column and naming the block involved.
///
/// `Display` gives the one-line form (`file:3:7: block `conv`: ...`); the miette
/// [`Diagnostic`](miette::Diagnostic) renders the offending line with a caret.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{file}:{line}:{column}: {}{message}", block.as_ref().map(|b| format!("block `{b}`: ")).unwrap_or_default())]
pub struct LoadError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Block instance the problem concerns, if any.
    pub block: Option<String>,
    /// What is wrong.
    pub message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("here")]
    span: SourceSpan,
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
            file: source.name.clone(),
            line,
            column,
            block: block.map(str::to_string),
            message: message.into(),
            src: NamedSource::new(source.name.clone(), source.text.clone()),
            span: (span.start, span.end.saturating_sub(span.start)).into(),
            help: None,
        }
    }

    /// Add a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
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

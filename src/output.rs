//! How the `weir` command writes: stdout that ends quietly when its reader goes away, and
//! errors printed once.

use std::fmt;
use std::io::{ErrorKind, IsTerminal, Write};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, ThemeCharacters};

/// Writes to stdout. When the reader has gone (`weir blocks | head`), the process ends at once
/// with status 0, as `ls | head` does: the output nobody reads is not an error of ours, and
/// Rust's `print!` would panic there. Any other write error is reported once, status 1.
pub fn stdout(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // stderr may be gone too; there is nothing better to do then than to exit.
        let _ = writeln!(std::io::stderr(), "error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// `println!` through [`stdout`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
/// `print!` through [`stdout`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}
pub(crate) use {out, outln};

/// Prints an error with its source snippet on stderr, once: `error: FILE:LINE:COL: message`
/// (the line editors and `grep` look for), then the snippet and any help. miette's default
/// handler marks the message with `×`; printing our own `error:` line before it said
/// everything twice.
pub fn error(diagnostic: &dyn Diagnostic) {
    let terminal = std::io::stderr().is_terminal();
    let mut theme = if terminal && std::env::var_os("NO_COLOR").is_none() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    theme.characters = ThemeCharacters {
        error: "error:".into(),
        ..theme.characters
    };
    let mut text = String::new();
    let rendered = GraphicalReportHandler::new_themed(theme)
        .render_report(&mut text, diagnostic)
        .is_ok();
    let mut err = std::io::stderr().lock();
    if rendered {
        // The handler indents its first line by two columns; the message line starts at the
        // margin like every other `error:` line weir prints.
        let _ = write!(err, "{}", text.strip_prefix("  ").unwrap_or(&text));
    } else {
        let _ = writeln!(err, "error: {diagnostic}");
    }
}

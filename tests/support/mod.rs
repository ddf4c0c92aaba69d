//! Helpers shared by weir's test binaries (`tests/cli`, `tests/flowgraph`, ...), included by
//! each with `#[path = "../support/mod.rs"] mod support;`. Each binary uses some of them.
//!
//! Flowgraphs from TOML strings, one block between a source and a sink, and the shared test
//! blocks are weir-core's test kit (`weir_core::testing`, feature `testing`); what is here
//! needs the `weir` package itself: its binary, its registry, its shipped flowgraphs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weir_core::RunReport;

pub mod processes;

/// The shipped flowgraph `flowgraphs/tone_gain.toml`.
pub const TONE_GAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/tone_gain.toml");

/// A shipped flowgraph, `flowgraphs/<name>`.
pub fn shipped_flowgraph(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("flowgraphs")
        .join(name)
}

/// Runs the `weir` binary under test with `args` to completion.
pub fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("run weir")
}

/// Checks, builds and runs `text` (named `name` in errors) with weir's full registry.
pub fn run(name: &str, text: &str) -> RunReport {
    weir_core::testing::run_toml(&weir::registry(), name, text)
}

/// The simulator's i16 ramp (16-bit word n = n, wrapping) as little-endian bytes, `samples`
/// I/Q samples (two words each).
pub fn ramp_bytes(samples: u64) -> Vec<u8> {
    (0..samples * 2)
        .flat_map(|n| (n as u16).to_le_bytes())
        .collect()
}

/// Whether `python` can run `import` (e.g. `from gnuradio import gr`).
pub fn python_imports(python: &str, import: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", import])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a test that needs an optional tool goes on: `true` when the tool is `available`;
/// otherwise the test is skipped with a visible `skipped: {missing}` line, unless the
/// environment variable `require` is set (as `.ci/run` sets it), where a missing tool fails
/// the test.
pub fn tool_available(available: bool, require: &str, missing: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var_os(require).is_none(),
        "{require} is set, but {missing}"
    );
    eprintln!("skipped: {missing}");
    false
}

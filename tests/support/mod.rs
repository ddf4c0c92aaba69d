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

/// Runs the `weir` binary under test with `args` in directory `dir` with the extra environment
/// `env`, killed (and the test failed) if it has not exited within `deadline`: for inputs that
/// used to hang it.
pub fn weir_in(
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    deadline: std::time::Duration,
) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start weir");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => out.expect("wait for weir"),
        Err(_) => {
            // The child is ours and has not been reaped (its waiter is still blocked).
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("weir {args:?} did not exit within {deadline:?}");
        }
    }
}

/// Makes a FIFO at `path` (mode 0600): a path that blocks whoever opens it for reading until a
/// writer comes, and the other way round.
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}

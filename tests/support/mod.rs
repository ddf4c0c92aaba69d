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

/// How a `weir` process run by [`weir_within`] ended.
pub struct Finished {
    /// Its exit status; `None` when it was still running at the deadline and was killed.
    pub status: Option<std::process::ExitStatus>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs the `weir` binary with `args`, killing it if it has not exited within `deadline` (a
/// hang is then reported as `status: None` rather than hanging the test). stdout and stderr
/// are drained while it runs, so a chatty process cannot block on a full pipe.
pub fn weir_within(args: &[&std::ffi::OsStr], deadline: std::time::Duration) -> Finished {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weir");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

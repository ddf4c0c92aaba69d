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

/// A latency budget on both DMABUF blocks, simulated at 1 MS/s: `src` (RX, 2 ms: 500 samples
/// x 4 blocks) -> 5000 samples -> `tx` (TX, 2 ms: 250 samples x 6 blocks).
pub const LATENCY_BUDGET_TOML: &str = r#"
connections = ["src.out -> head.in", "head.out -> tx.in"]
[blocks.src]
type = "dmabuf_source"
sample_rate = 1e6
latency = "2ms"
[blocks.head]
type = "head"
item = "ci16"
items = 5000
[blocks.tx]
type = "dmabuf_sink"
sample_rate = 1e6
latency = "2ms"
"#;

/// A shipped flowgraph, `flowgraphs/<name>`.
pub fn shipped_flowgraph(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("flowgraphs")
        .join(name)
}

/// Asserts that block `block` of `report` ended with the note `key` = `value` (a parameter a
/// message changed while it ran), `why` saying what that shows; the panic lists its notes.
pub fn assert_note(report: &RunReport, block: &str, key: &str, value: &str, why: &str) {
    let notes = &report.block(block).expect(block).notes;
    assert!(
        notes.iter().any(|(k, v)| *k == key && v == value),
        "{block}: {why}: no {key} = {value} in {notes:?}"
    );
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
/// hang is then reported as `status: None` rather than hanging the test).
pub fn weir_within(args: &[&std::ffi::OsStr], deadline: std::time::Duration) -> Finished {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command.args(args);
    let (status, out) = output_within(command, deadline);
    Finished {
        status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `command` (stdin closed, stdout and stderr collected while it runs, so a chatty process
/// cannot block on a full pipe); if it has not exited within `deadline` it is killed and the
/// status is `None`, with what it wrote until then.
fn output_within(
    mut command: Command,
    deadline: std::time::Duration,
) -> (Option<std::process::ExitStatus>, Output) {
    wait_within(processes::start_piped(&mut command, "weir"), deadline)
}

/// Waits for `child` to exit, collecting whatever of its stdout and stderr is piped while it
/// runs; if it has not exited within `deadline` it is killed and the status is `None`, with
/// what it wrote until then.
pub fn wait_within(
    child: std::process::Child,
    deadline: std::time::Duration,
) -> (Option<std::process::ExitStatus>, Output) {
    let pid = rustix::process::Pid::from_child(&child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => {
            let out = out.expect("wait for weir");
            (Some(out.status), out)
        }
        Err(_) => {
            // The child is ours and not reaped yet (its waiter is still blocked in wait), so
            // the pid is still its own.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let out = rx.recv().expect("the waiter ends").expect("wait for weir");
            (None, out)
        }
    }
}

/// Loads `text` (named `name` in errors) with weir's full registry, builds and starts it.
pub fn start(name: &str, text: &str) -> weir_core::RunningFlowgraph {
    weir_core::testing::start_toml(&weir::registry(), name, text)
}

/// The error the run of `text` (loaded with weir's full registry, and built) fails with.
pub fn run_error(name: &str, text: &str) -> weir_core::RunError {
    weir_core::testing::run_error(&weir::registry(), name, text)
}

/// The items block `block` of a running flowgraph has taken in so far (0 before its first).
pub fn items_in(running: &weir_core::RunningFlowgraph, block: &str) -> u64 {
    running.stats().block(block).map_or(0, |b| b.items_in)
}

/// A file of little-endian `cf32` samples (as `file_sink` writes them), sample by sample.
pub fn cf32_file(path: &Path) -> Vec<weir_core::Cf32> {
    std::fs::read(path)
        .expect("output file")
        .chunks_exact(8)
        .map(|b| {
            weir_core::Cf32::new(
                f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                f32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            )
        })
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
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied());
    match output_within(command, deadline) {
        (Some(_), out) => out,
        (None, _) => panic!("weir {args:?} did not exit within {deadline:?}"),
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

/// The device sample that sample `k` of a SigMF recording holds, from its metadata's capture
/// segments: weir starts a segment at every gap, its `core:global_index` the device sample it
/// resumes at. A test of a recording from a paced simulator maps through it, because a loaded
/// machine can overrun the device: a declared gap passes, an undeclared one still fails.
pub fn sigmf_device_index(meta: &serde_json::Value, k: u64) -> u64 {
    let captures = meta["captures"].as_array().expect("captures");
    let c = captures
        .iter()
        .rev()
        .find(|c| c["core:sample_start"].as_u64().expect("sample_start") <= k)
        .expect("a capture segment covers sample 0");
    let start = c["core:sample_start"].as_u64().expect("sample_start");
    c["core:global_index"].as_u64().unwrap_or(start) + (k - start)
}

/// A capture that loses samples, with `sink` (the TOML of a block named `sink`, input `in`)
/// recording `items` ci16 samples: the ADC runs at 4 MS/s with two blocks of 4096 samples;
/// `head` also feeds a throttle at 2 MS/s, and a DMA block is requeued only when every reader has
/// released it, so the simulator loses samples whenever both blocks wait for the throttle, and
/// counts them exactly. (The sink hangs off `head`, not the throttle: FutureSDR's stock Throttle
/// does not forward stream tags.)
pub fn lossy_capture(items: u64, sink: &str) -> String {
    format!(
        r#"
connections = [
    "src.out -> head.in",
    "head.out -> sink.in",
    "head.out -> slow.in",
    "slow.out -> null.in",
]
[blocks.src]
type = "dmabuf_source"
sample_rate = 4e6
samples_per_block = 4096
blocks = 2
[blocks.slow]
type = "throttle"
item = "ci16"
rate = 2e6
[blocks.head]
type = "head"
item = "ci16"
items = {items}
[blocks.null]
type = "null_sink"
item = "ci16"
[blocks.sink]
{sink}
"#
    )
}

/// The TOML of the usual end of a test flowgraph: `head` (`item`, `items` of them) feeding
/// `sink`, a `file_sink` writing them to `path`. The flowgraph's connections end in
/// `"... -> head.in", "head.out -> sink.in"`.
pub fn head_to_file(item: &str, items: impl std::fmt::Display, path: &Path) -> String {
    format!(
        "{}[blocks.sink]\ntype = \"file_sink\"\nitem = \"{item}\"\npath = \"{}\"\n",
        head_block(item, items),
        path.display()
    )
}

/// The TOML of a block `head` passing `items` items of type `item`, then ending the stream.
pub fn head_block(item: &str, items: impl std::fmt::Display) -> String {
    format!("[blocks.head]\ntype = \"head\"\nitem = \"{item}\"\nitems = {items}\n")
}

/// Every 16-bit word of `bytes` (little-endian) is the simulator's ramp from word 0 on
/// (word n = n, wrapping); a failure names the first word that is not.
pub fn assert_ramp(bytes: &[u8]) {
    for (n, b) in bytes.chunks_exact(2).enumerate() {
        assert_eq!(
            i16::from_le_bytes([b[0], b[1]]),
            n as u16 as i16,
            "value {n}"
        );
    }
}

/// The line of block `block` in a run report (`weir run`'s stdout, or a [`RunReport`]
/// printed): the one that starts with the block's name and a space. Panics naming the block,
/// with the whole report, when there is none.
pub fn report_line<'a>(report: &'a str, block: &str) -> &'a str {
    report
        .lines()
        .find(|l| {
            l.strip_prefix(block)
                .is_some_and(|rest| rest.starts_with(' '))
        })
        .unwrap_or_else(|| panic!("no report line of {block} in\n{report}"))
}

/// Runs `weir check FILE` to completion.
pub fn weir_check(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("check")
        .arg(file)
        .output()
        .expect("run weir check")
}

/// `weir check FILE` passes; a failure shows its stderr.
pub fn assert_check_passes(file: &Path) {
    let out = weir_check(file);
    assert!(
        out.status.success(),
        "weir check {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The parameter lines that point a `dmabuf_source` or `dmabuf_sink` at the fake sysfs tree
/// `fake` (`sysfs_root`, `dev_root`) and at a DMA heap that does not exist (`dma_heap`).
pub fn fake_tree_params(fake: &weir_iio::testing::FakeSysfs) -> String {
    format!(
        "sysfs_root = \"{}\"\ndev_root = \"{}\"\ndma_heap = \"{}/no-heap\"\n",
        fake.root().display(),
        fake.dev_root().display(),
        fake.base().display(),
    )
}

/// The exit status of `weir` for bad input (README: "2: the flowgraph is invalid").
pub const EXIT_BAD_INPUT: i32 = 2;

/// `weir check FILE` refuses the file as bad input (exit 2, [`EXIT_BAD_INPUT`]); returns its
/// stderr. A failure names `what` and shows everything it wrote.
pub fn check_refuses(file: &Path, what: &str) -> String {
    let out = weir_check(file);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(EXIT_BAD_INPUT),
        "{what}: weir check {}:\nstdout:\n{}\nstderr:\n{stderr}",
        file.display(),
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// `ports` has its first stream input `in` of items `input` and its first stream output `out`
/// of items `output`.
pub fn assert_in_out(
    ports: &weir_core::Ports,
    input: weir_core::ItemType,
    output: weir_core::ItemType,
) {
    assert_eq!((ports.inputs[0].name, ports.inputs[0].item), ("in", input));
    assert_eq!(
        (ports.outputs[0].name, ports.outputs[0].item),
        ("out", output)
    );
}

/// The names of `block`'s parameters, in the order it declares them.
pub fn param_names(block: &weir_core::BlockDescriptor) -> Vec<&'static str> {
    block.params.iter().map(|p| p.name).collect()
}

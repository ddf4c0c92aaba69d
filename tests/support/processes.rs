//! Running `weir` and its network peers as processes: a free port, waiting for a listener or
//! a connection, waiting for a process with a deadline that turns a hang into a failure, and
//! the checks of the simulator's ramp as it arrives at the other end.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// Longest any step may take before the test gives up (a bound, not an expected duration).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A port no one listens on right now (the OS picks it; the listener is closed again).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write flowgraph");
    path
}

pub fn spawn(file: &Path) -> Child {
    spawn_with(file, &[])
}

/// `weir run --stats-interval 0 ARGS FILE` with piped stdout and stderr.
pub fn spawn_with(file: &Path, args: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command
        .args(["run", "--stats-interval", "0"])
        .args(args)
        .arg(file);
    start_piped(&mut command, "weir")
}

/// Starts `command` (`what` in the failure) with stdin closed and stdout and stderr piped.
pub fn start_piped(command: &mut Command, what: &str) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"))
}

/// A flowgraph publishing the simulator's ramp (ci16) as fast as it can on ZeroMQ `address`.
pub fn unpaced_publisher(address: &str) -> String {
    publisher(address, "")
}

/// A flowgraph publishing the simulator's ramp (ci16) on ZeroMQ `address` in blocks of
/// [`ZMQ_BLOCK`] samples, paced at 2 M samples/s so the publisher never outruns ZeroMQ's
/// high-water mark (that would lose messages, and fail a test checking the ramp); the DMABUF
/// source feeds the publisher directly.
pub fn paced_publisher(address: &str) -> String {
    publisher(
        address,
        &format!("samples_per_block = {ZMQ_BLOCK}\nblocks = 8\nsample_rate = 2e6\n"),
    )
}

/// `dmabuf_source` (with `source` parameter lines) -> `zmq_pub_sink` on `address`, ci16.
fn publisher(address: &str, source: &str) -> String {
    format!(
        r#"
connections = ["src.out -> tx.in"]
[blocks.src]
type = "dmabuf_source"
{source}[blocks.tx]
type = "zmq_pub_sink"
item = "ci16"
address = "{address}"
"#
    )
}

/// Little-endian complex floats (cf32 items) of a file.
pub fn cf32s(path: &Path) -> Vec<(f32, f32)> {
    super::cf32_file(path)
        .iter()
        .map(|c| (c.re, c.im))
        .collect()
}

/// Wait for `child` to exit, at most [`DEADLINE`]; kill it if it does not (and fail, showing
/// what it wrote).
pub fn finish(child: Child, what: &str) -> Output {
    match super::wait_within(child, DEADLINE) {
        (Some(_), out) => out,
        (None, out) => panic!(
            "{what} still running after {DEADLINE:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

pub fn kill(mut child: Child) {
    child.kill().ok();
    child.wait().ok();
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether something listens on TCP `port` of 127.0.0.1 (Linux: `/proc/net/tcp`, state 0A).
pub fn listening(port: u16) -> bool {
    tcp_socket(1, port, "0A")
}

/// Whether `/proc/net/tcp` has a socket whose address in column `column` (1 local, 2 remote)
/// is 127.0.0.1:`port`, in `state` (hex, as the kernel writes it).
fn tcp_socket(column: usize, port: u16, state: &str) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let address = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[column] == address && f[3] == state
    })
}

/// Wait until `child` listens on `port`; fail if it exits first or takes too long.
pub fn wait_listening(child: &mut Child, port: u16) {
    let start = Instant::now();
    while !listening(port) {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the sender exited ({status}) before listening on {port}");
        }
        assert!(start.elapsed() < DEADLINE, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The received ci16 items as the simulator's i16 ramp values.
pub fn ramp_values(path: &Path, items: usize) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("output file");
    assert_eq!(bytes.len(), items * 4, "{items} ci16 items received");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Every value follows the one before it on the simulator's ramp (+1, wrapping).
pub fn assert_contiguous(values: &[i16]) {
    for (n, w) in values.windows(2).enumerate() {
        assert_eq!(
            w[1],
            w[0].wrapping_add(1),
            "ramp broken after value {n} of {}",
            values.len()
        );
    }
}

/// Whether a connection to 127.0.0.1:`port` is established (`/proc/net/tcp`, state 01).
pub fn connected(port: u16) -> bool {
    tcp_socket(2, port, "01")
}

/// The lines of `stream` (a child's stdout or stderr), arriving on the returned channel as
/// they are written.
pub fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Wait (at most [`DEADLINE`]) for a line that satisfies `pred`; every line read so far is
/// kept in `seen`.
pub fn wait_line(rx: &Receiver<String>, seen: &mut Vec<String>, pred: impl Fn(&str) -> bool) {
    loop {
        match rx.recv_timeout(DEADLINE) {
            Ok(line) => {
                let done = pred(&line);
                seen.push(line);
                if done {
                    return;
                }
            }
            Err(e) => panic!("no such line ({e}); got:\n{}", seen.join("\n")),
        }
    }
}

/// DMA block size of the ZeroMQ test, in ci16 samples: odd, so that whole blocks never add up
/// to the ramp's period (32768 samples) within a run (see `cli_net`'s
/// `zeromq_carries_the_dmabuf_ramp`).
pub const ZMQ_BLOCK: usize = 10_007;

/// `weir run --stats-interval 0 ARGS FILE` to completion; it must exit 0 (a failure shows
/// everything it wrote).
pub fn run_ok(file: &Path, args: &[&str]) -> Output {
    output_ok(
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--stats-interval", "0"])
            .args(args)
            .arg(file),
        &format!("weir run {}", file.display()),
    )
}

/// Runs `command` to completion; it must exit 0 (a failure names `what` and shows everything
/// it wrote).
pub fn output_ok(command: &mut Command, what: &str) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
    assert!(out.status.success(), "{what}: {}", text(&out));
    out
}

/// `path` holds `items` ci16 items of the simulator's ramp joined late: from a whole sample on
/// (sample k of the ramp has I = 2k and Q = 2k + 1, mod 2^16, so the first value is even),
/// every value following the one before it.
pub fn assert_ramp_joined_late(path: &Path, items: usize) {
    let values = ramp_values(path, items);
    assert_eq!(
        values[0] % 2,
        0,
        "the first value {} is a Q value: a partial sample",
        values[0]
    );
    assert_contiguous(&values);
}

/// A flowgraph subscribing to ZeroMQ on 127.0.0.1:`port` (`zmq_sub_source` of `item`s,
/// `timeout` seconds) and writing the first `items` items it receives to `out`.
pub fn subscriber(item: &str, port: u16, out: &Path, items: u64, timeout: f64) -> String {
    format!(
        r#"
connections = ["rx.out -> head.in", "head.out -> sink.in"]
{}[blocks.rx]
type = "zmq_sub_source"
item = "{item}"
address = "tcp://127.0.0.1:{port}"
timeout = {timeout}
"#,
        super::head_to_file(item, items, out)
    )
}

//! Network blocks between two `weir run` processes over loopback: the simulated ADC's ramp
//! goes out through `tcp_sink` / `zmq_pub_sink` and must arrive sample for sample; a missing
//! peer fails the flowgraph with an error naming the block and the address.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::processes::{
    DEADLINE, assert_contiguous, assert_ramp_joined_late, connected, finish, free_port, kill,
    paced_publisher, ramp_values, spawn, spawn_with, subscriber, text, unpaced_publisher,
    wait_listening, write,
};
use crate::support::report_line;

fn sender(port: u16, head: Option<u64>) -> String {
    // With `head`, the sender ends after that many items and closes the connection; without,
    // the DMABUF source feeds the sink directly (by reference) until the receiver goes away.
    let (connections, head) = match head {
        Some(n) => (
            r#"["src.out -> head.in", "head.out -> tx.in"]"#.to_string(),
            format!("[blocks.head]\ntype = \"head\"\nitem = \"ci16\"\nitems = {n}\n"),
        ),
        None => (r#"["src.out -> tx.in"]"#.to_string(), String::new()),
    };
    format!(
        r#"
connections = {connections}
[blocks.src]
type = "dmabuf_source"
samples_per_block = 4096
[blocks.tx]
type = "tcp_sink"
item = "ci16"
address = "127.0.0.1:{port}"
timeout = 100
{head}"#
    )
}

fn receiver(port: u16, out: &Path, head: Option<u64>) -> String {
    let (connections, head) = match head {
        Some(n) => (
            r#"["rx.out -> head.in", "head.out -> sink.in"]"#.to_string(),
            format!("[blocks.head]\ntype = \"head\"\nitem = \"ci16\"\nitems = {n}\n"),
        ),
        None => (r#"["rx.out -> sink.in"]"#.to_string(), String::new()),
    };
    format!(
        r#"
connections = {connections}
[blocks.rx]
type = "tcp_source"
item = "ci16"
address = "127.0.0.1:{port}"
[blocks.sink]
type = "file_sink"
item = "ci16"
path = "{}"
{head}"#,
        out.display()
    )
}

/// A finite stream: everything the sender sends arrives, then both ends finish cleanly.
#[test]
fn tcp_carries_a_finite_ramp_completely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rx.ci16");
    // Not a multiple of the block or buffer size: the last partial buffer must arrive too.
    let items = 1_000_003u64;
    let port = free_port();
    let mut tx = spawn(&write(dir.path(), "tx.toml", &sender(port, Some(items))));
    wait_listening(&mut tx, port);
    let rx = spawn(&write(dir.path(), "rx.toml", &receiver(port, &out, None)));
    let rx = finish(rx, "receiver");
    assert!(rx.status.success(), "{}", text(&rx));
    let tx = finish(tx, "sender");
    assert!(tx.status.success(), "{}", text(&tx));

    let values = ramp_values(&out, items as usize);
    assert_eq!(values[0], 0, "the stream starts at the ramp's start");
    assert_contiguous(&values);
}

/// An endless stream read by reference from the DMABUF source: the receiver takes what it
/// needs, and the sender then fails, saying its client went away.
#[test]
fn tcp_carries_the_dmabuf_ramp_and_the_sender_sees_the_receiver_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rx.ci16");
    let items = 500_000u64;
    let port = free_port();
    let mut tx = spawn(&write(dir.path(), "tx.toml", &sender(port, None)));
    wait_listening(&mut tx, port);
    let rx = spawn(&write(
        dir.path(),
        "rx.toml",
        &receiver(port, &out, Some(items)),
    ));
    let rx = finish(rx, "receiver");
    assert!(rx.status.success(), "{}", text(&rx));
    let values = ramp_values(&out, items as usize);
    assert_eq!(values[0], 0);
    assert_contiguous(&values);

    let tx = finish(tx, "sender");
    assert_eq!(tx.status.code(), Some(1), "{}", text(&tx));
    let stderr = String::from_utf8_lossy(&tx.stderr);
    assert!(stderr.contains("block `tx` failed"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn tcp_source_with_nobody_listening_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let file = write(
        dir.path(),
        "rx.toml",
        &receiver(port, &dir.path().join("rx.ci16"), Some(10)),
    );
    let rx = finish(spawn(&file), "receiver");
    assert_eq!(rx.status.code(), Some(1), "{}", text(&rx));
    let stderr = String::from_utf8_lossy(&rx.stderr);
    assert!(stderr.contains("block `rx` failed"), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The subscriber starts first; it may still miss the first messages (PUB/SUB joins late), so
/// it may start at any block, but from its first sample on the data must be exact:
///
/// - the publisher reads the DMABUF blocks by reference, so each ZeroMQ message is one whole
///   DMA block, and ZeroMQ delivers whole messages or none: the stream starts on a whole
///   sample, an I value (even on the ramp);
/// - from there every value follows on the ramp. The ramp repeats every 32768 samples; losing
///   `L` whole blocks of 10007 samples keeps the ramp unbroken only if 32768 divides
///   `L × 10007`, i.e. `L` is a multiple of 32768 blocks (10007 is odd) — more blocks than the
///   publisher produces within the test's deadline. So any lost message breaks the check;
/// - exactly `items` items arrive (the subscriber's head ends the run).
#[test]
fn zeromq_carries_the_dmabuf_ramp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rx.ci16");
    let items = 300_000u64;
    let port = free_port();
    let rx = spawn(&write(
        dir.path(),
        "rx.toml",
        &subscriber("ci16", port, &out, items, 100.0),
    ));
    let tx = spawn(&write(
        dir.path(),
        "tx.toml",
        &paced_publisher(&format!("tcp://127.0.0.1:{port}")),
    ));
    let rx = finish(rx, "subscriber");
    kill(tx);
    assert!(rx.status.success(), "{}", text(&rx));
    assert_ramp_joined_late(&out, items as usize);
}

#[test]
fn zeromq_source_with_nobody_publishing_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let file = write(
        dir.path(),
        "rx.toml",
        &subscriber("ci16", port, &dir.path().join("rx.ci16"), 10, 0.5),
    );
    let rx = finish(spawn(&file), "subscriber");
    assert_eq!(rx.status.code(), Some(1), "{}", text(&rx));
    let stderr = String::from_utf8_lossy(&rx.stderr);
    assert!(stderr.contains("block `rx` failed"), "{stderr}");
    assert!(
        stderr.contains(&format!("no data from tcp://127.0.0.1:{port} within 0.5 s")),
        "{stderr}"
    );
}

/// A subscriber that connects and then stops reading (a stuck viewer; GNU Radio's `head`
/// finishing) must not keep the publisher from ending: the subscriber is frozen with SIGSTOP
/// while the publisher streams as fast as it can, so ZeroMQ's queue towards it fills; the
/// publisher's `--duration` must still end it, with status 0 and its report. ZeroMQ's default
/// linger is infinite: closing the socket then waited forever for the frozen peer.
#[test]
fn zeromq_publisher_ends_while_a_subscriber_has_stopped_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut tx = spawn_with(
        &write(
            dir.path(),
            "tx.toml",
            &unpaced_publisher(&format!("tcp://127.0.0.1:{port}")),
        ),
        &["--duration", "3"],
    );
    wait_listening(&mut tx, port);
    let rx = spawn(&write(
        dir.path(),
        "rx.toml",
        &subscriber("ci16", port, &dir.path().join("rx.ci16"), 1 << 52, 100.0),
    ));
    let start = Instant::now();
    while !connected(port) {
        assert!(start.elapsed() < DEADLINE, "the subscriber never connected");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Data arrived: the subscription reached the publisher, so its messages now have a queue
    // towards this subscriber to fill.
    let received = dir.path().join("rx.ci16");
    while std::fs::metadata(&received).map_or(0, |m| m.len()) == 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "the subscriber never received anything"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let rx_pid = rustix::process::Pid::from_child(&rx);
    rustix::process::kill_process(rx_pid, rustix::process::Signal::STOP).expect("SIGSTOP");
    let out = finish(tx, "publisher");
    rustix::process::kill_process(rx_pid, rustix::process::Signal::CONT).ok();
    kill(rx);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("items in"), "the report: {}", text(&out));
    // What the frozen subscriber's full queue made the publisher drop is counted, exactly.
    let tx_line = stdout
        .lines()
        .find(|l| l.starts_with("tx "))
        .unwrap_or_else(|| panic!("no line for tx: {}", text(&out)));
    let dropped: u64 = tx_line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("hwm_dropped_items="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no hwm_dropped_items counter: {tx_line}"));
    assert!(dropped > 0, "{tx_line}");
    assert!(
        tx_line.contains(&format!("hwm_dropped_items={dropped} (exact)")),
        "{tx_line}"
    );
}

/// A TCP client that connects to `tcp_sink` and then never reads (a stuck viewer): the sink's
/// writes stop once the socket buffers are full (back-pressure reaches the source), and still
/// `--duration` ends the run with status 0 and the report naming the client.
#[test]
fn tcp_sink_ends_on_time_while_its_client_has_stopped_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut tx = spawn_with(
        &write(dir.path(), "tx.toml", &sender(port, None)),
        &["--duration", "2"],
    );
    wait_listening(&mut tx, port);
    // Connected, never read from; held until the sender has exited.
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let out = finish(tx, "sender");
    drop(client);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        report_line(&stdout, "tx").contains("client=127.0.0.1:"),
        "{stdout}"
    );
}

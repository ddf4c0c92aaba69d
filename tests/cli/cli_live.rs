//! `weir run` while it runs: live statistics (plain lines and terminal redraw), Ctrl-C, and the
//! exit status of each kind of failure.

use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::Receiver;

use crate::support::processes::{self, lines, start_piped, wait_line};
use crate::support::{TONE_GAIN, report_line, weir};

/// Start `weir` with piped stdout and stderr; stderr's lines arrive on the returned channel
/// as they are written.
fn spawn(args: &[&str]) -> (Child, Receiver<String>) {
    let mut child = start_piped(Command::new(env!("CARGO_BIN_EXE_weir")).args(args), "weir");
    let rx = lines(child.stderr.take().expect("stderr"));
    (child, rx)
}

/// Wait for `child` to exit (within the guard deadline) and return its status and stdout.
fn finish(child: Child) -> (ExitStatus, String) {
    let out = processes::finish(child, "weir");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The arguments of a `weir run` of `tone_gain.toml` with a stream far too long to end by
/// itself (about 10^12 samples): `extra`, then live statistics every 0.1 s with `--progress
/// progress`.
fn endless_tone_gain<'a>(extra: &[&'a str], progress: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", TONE_GAIN, "--set", "samples=1000000000000"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--stats-interval", "0.1", "--progress", progress]);
    args
}

/// Starts the endless run ([`endless_tone_gain`], no `--duration`: only a signal can stop it)
/// and waits until it is running for sure: a live statistics line of the sink has been
/// printed. Returns the process, its stderr lines to come and those read so far.
fn start_streaming() -> (Child, Receiver<String>, Vec<String>) {
    let (child, rx) = spawn(&endless_tone_gain(&[], "never"));
    let mut seen = Vec::new();
    wait_line(&rx, &mut seen, |l| {
        l.contains("] sink ") && l.contains("M/s")
    });
    (child, rx, seen)
}

/// Starts the endless run ([`start_streaming`]), sends it `signal` and waits for it to exit:
/// its status, stdout and all of its stderr.
fn stop_streaming_by(signal: rustix::process::Signal) -> (ExitStatus, String, String) {
    let (child, rx, mut seen) = start_streaming();
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal)
        .expect("send the signal");
    let (status, stdout) = finish(child);
    // The rest of stderr, up to its end (the reader thread stops at end of file).
    seen.extend(rx.iter());
    (status, stdout, seen.join("\n"))
}

#[test]
fn ctrl_c_stops_the_run_and_prints_the_final_report() {
    let (status, stdout, stderr) = stop_streaming_by(rustix::process::Signal::INT);
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Ctrl-C: stopping the flowgraph"),
        "{stderr}"
    );
    assert!(stdout.contains("items in"), "{stdout}");
    for name in ["src", "conv", "amp", "head", "sink"] {
        let line = report_line(&stdout, name);
        let items: u64 = line
            .split_whitespace()
            .nth(if name == "src" { 3 } else { 2 })
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no item count in `{line}`"));
        assert!(items > 0, "{line}");
        assert!(items < 1_000_000_000_000, "stopped early: {line}");
    }
    assert_eq!(stdout.lines().last(), Some("stopped by Ctrl-C"), "{stdout}");
}

/// `signal` to a `weir run` streaming from the simulated ADC: the flowgraph stops as for
/// Ctrl-C, the final report is printed and names the signal, and the exit status is 0.
fn stopped_by(signal: rustix::process::Signal, name: &str) {
    let (status, stdout, stderr) = stop_streaming_by(signal);
    // Stopped, not killed by the signal (that would be no code and the signal's number).
    assert_eq!(status.code(), Some(0), "{status}\n{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "{name}: stopping the flowgraph (a second signal quits at once)"
        )),
        "{stderr}"
    );
    for block in ["src", "conv", "amp", "head", "sink"] {
        let line = report_line(&stdout, block);
        assert!(line.split_whitespace().count() > 2, "{line}");
    }
    assert_eq!(
        stdout.lines().last(),
        Some(format!("stopped by {name}").as_str()),
        "{stdout}"
    );
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c_and_names_the_signal() {
    stopped_by(rustix::process::Signal::TERM, "SIGTERM");
}

#[test]
fn sighup_stops_the_run_like_ctrl_c_and_names_the_signal() {
    stopped_by(rustix::process::Signal::HUP, "SIGHUP");
}

#[test]
fn a_second_signal_quits_at_once_with_128_plus_its_number() {
    // The first signal asks for the stop; the second, sent right after it, may come before
    // the flowgraph stopped (then weir quits with 128 + SIGTERM) or after (then weir has
    // exited 0 already). Either way weir never dies by the signal itself.
    let (child, rx, mut seen) = start_streaming();
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    // The second only once the first was handled (weir said so), so that it is a second.
    wait_line(&rx, &mut seen, |l| {
        l.contains("Ctrl-C: stopping the flowgraph")
    });
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let (status, stdout) = finish(child);
    seen.extend(rx.iter());
    let stderr = seen.join("\n");
    match status.code() {
        Some(143) => assert!(
            stderr.contains("second signal (SIGTERM): quitting without waiting"),
            "{stderr}"
        ),
        Some(0) => assert_eq!(stdout.lines().last(), Some("stopped by Ctrl-C"), "{stdout}"),
        other => panic!("exit {other:?} ({status})\n{stdout}\n{stderr}"),
    }
}

#[test]
fn plain_live_lines_show_rates_and_buffer_fill_without_escapes() {
    let out = weir(&endless_tone_gain(&["--duration", "0.5"], "never"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(!stderr.contains('\x1b'), "no ANSI escapes: {stderr:?}");
    for name in ["src", "conv", "amp", "head", "sink"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("] {name} ")) && l.contains(" M/s")),
            "no live line with a rate for {name}:\n{stderr}"
        );
    }
    // The message strobe does not count items: shown as unknown, not as 0.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("] strobe ") && l.contains(" - items")),
        "{stderr}"
    );
    // Every stream connection's fill, with its capacity: the DMA source's 4 blocks of 16384
    // samples (its defaults), and weir's default 64 KiB circular buffers (8192 cf32).
    for (conn, capacity) in [
        ("src.out -> conv.in", 4 * 16384),
        ("conv.out -> amp.in", 8192),
        ("amp.out -> head.in", 8192),
        ("head.out -> sink.in", 8192),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("buffer {conn}  fill ")))
            .unwrap_or_else(|| panic!("no fill line for {conn}:\n{stderr}"));
        let fill = line.split("fill ").nth(1).expect("fill");
        let (items, rest) = fill.split_once('/').expect("items/capacity");
        let items: u64 = items.parse().expect("items");
        let cap: u64 = rest
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
            .expect("capacity");
        assert_eq!(cap, capacity, "{line}");
        assert!(items <= cap, "{line}");
        assert!(rest.ends_with("%)"), "{line}");
    }
    // The final report has the fill table too.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("src.out -> conv.in") && l.contains("/65536 (")),
        "{stdout}"
    );
}

#[test]
fn progress_always_redraws_in_place() {
    let out = weir(&endless_tone_gain(&["--duration", "0.5"], "always"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Each redraw moves the cursor up over the previous table (5 blocks, 1 message block,
    // 4 connections) and clears to the end of the screen.
    assert!(stderr.contains("\x1b[10A\x1b[J"), "{stderr:?}");
    assert!(stderr.contains(" M/s"), "{stderr:?}");
}

fn write_flowgraph(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("fg.toml");
    std::fs::write(&path, text).expect("write flowgraph");
    path.to_str().expect("utf-8 path").to_string()
}

#[test]
fn exit_status_2_for_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No such flowgraph file.
    let missing = dir.path().join("nope.toml");
    let missing = missing.to_str().expect("utf-8 path");
    for cmd in ["run", "check", "graph"] {
        let out = weir(&[cmd, missing]);
        assert_eq!(out.status.code(), Some(2), "{cmd} {missing}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
    }
    // A parameter out of range.
    let file = write_flowgraph(
        &dir,
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\nblocks = 0\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"ci16\"\n",
    );
    let out = weir(&["run", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blocks"));
    // A bad --set, and a bad command line.
    let out = weir(&["graph", TONE_GAIN, "--set", "samples=lots"]);
    assert_eq!(out.status.code(), Some(2));
    let out = weir(&["run", TONE_GAIN, "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn exit_status_1_when_a_device_cannot_be_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A seify driver this build does not have.
    let file = write_flowgraph(
        &dir,
        "connections = [\"radio.out -> sink.in\"]\n[blocks.radio]\ntype = \"seify_source\"\nargs = \"driver=nosuch\"\nfrequency = 100e6\nsample_rate = 1e6\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"cf32\"\n",
    );
    // The file itself is fine...
    assert_eq!(weir(&["check", &file]).status.code(), Some(0));
    // ...but the device is not there.
    let out = weir(&["run", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no seify device"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A real IIO device that is absent (an empty sysfs tree).
    let sysfs = tempfile::tempdir().expect("tempdir");
    let file = write_flowgraph(
        &dir,
        &format!(
            "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\ndevice = \"iio:device7\"\nsysfs_root = \"{}\"\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"ci16\"\n",
            sysfs.path().display()
        ),
    );
    assert_eq!(weir(&["check", &file]).status.code(), Some(0));
    let out = weir(&["run", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open IIO device `iio:device7`"),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_exit_status_and_progress() {
    let out = weir(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit status: 0"), "{help}");
    assert!(help.contains("2 bad input"), "{help}");
    assert!(help.contains("130"), "{help}");
    let out = weir(&["run", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--progress"), "{help}");
}

/// `dmabuf_source` -> `file_sink` writing to `path`.
fn into_file(path: &std::path::Path) -> String {
    format!(
        "connections = [\"src.out -> sink.in\"]\n\
         [blocks.src]\ntype = \"dmabuf_source\"\n\
         [blocks.sink]\ntype = \"file_sink\"\nitem = \"ci16\"\npath = \"{}\"\n",
        path.display()
    )
}

/// `file_sink` on a FIFO that nobody reads: opening it for writing would wait for a reader
/// forever (the build hung); it fails at once instead, saying why.
#[test]
fn file_sink_on_a_fifo_without_a_reader_fails_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("unread.fifo");
    crate::support::mkfifo(&fifo);
    let file = write_flowgraph(&dir, &into_file(&fifo));
    let (child, rx) = spawn(&["run", &file, "--stats-interval", "0"]);
    let (status, _stdout) = finish(child);
    let stderr = rx.iter().collect::<Vec<String>>().join("\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("block `sink`")
            && stderr.contains("is a FIFO that no process has open for reading"),
        "{stderr}"
    );
}

#[test]
fn a_flowgraph_that_does_not_stop_is_left_behind_after_the_stop_deadline() {
    // A block stuck in a system call that no stop request can interrupt: `file_sink` writing
    // into a FIFO whose reader never reads blocks in write() once the pipe is full.
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("stuck.fifo");
    crate::support::mkfifo(&fifo);
    // Held open for reading (so that weir's open for writing does not wait), never read.
    let _reader = rustix::fs::open(
        &fifo,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK,
        rustix::fs::Mode::empty(),
    )
    .expect("open the FIFO for reading");
    let file = write_flowgraph(&dir, &into_file(&fifo));
    let (child, rx) = spawn(&["run", &file, "--duration", "0.5", "--stats-interval", "0"]);
    let (status, stdout) = finish(child);
    let stderr: Vec<String> = rx.iter().collect();
    let stderr = stderr.join("\n");
    assert_eq!(status.code(), Some(1), "{status}\n{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "error: the flowgraph did not stop within 10s of the stop request (--duration): \
             block `sink` (file_sink) did not finish;"
        ),
        "{stderr}"
    );
    // The statistics up to then, and what they are.
    assert!(stdout.contains("items in"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("sink ")), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some(
            "not stopped: the flowgraph was still running 10s after the stop (--duration): \
             block `sink` (file_sink) did not finish"
        ),
        "{stdout}"
    );
}

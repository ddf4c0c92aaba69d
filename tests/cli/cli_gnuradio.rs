//! Real GNU Radio 3.10 (Debian's `gnuradio`, with gr-zeromq) against the `weir` binary: GNU
//! Radio's ZeroMQ PUB feeding weir's `zmq_sub_source` and weir's `zmq_pub_sink` feeding GNU
//! Radio's SUB, samples checked exactly; a weir SigMF recording read by GNU Radio's
//! `file_source` with the item type its `core:datatype` names; and a GNU Radio subscriber that
//! stops reading while weir publishes, which must not keep `weir run --duration` from ending.
//!
//! The GNU Radio side is `tests/gnuradio/peer.py`, run with `WEIR_GNURADIO_PYTHON` (default
//! `/usr/bin/python3`, where Debian's GNU Radio lives). Without GNU Radio each test prints
//! `skipped: GNU Radio not installed` and passes, unless `WEIR_REQUIRE_GNURADIO` is set (as
//! `.ci/run` sets it), where that is a failure.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc::Receiver;

use crate::support::processes::{
    assert_ramp_joined_late, cf32s, connected, finish, free_port, kill, lines, paced_publisher,
    spawn, spawn_with, start_piped, subscriber, text, unpaced_publisher, wait_line, wait_listening,
    write,
};
use crate::support::{python_imports, sigmf_device_index, tool_available, weir};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gnuradio/peer.py");

/// The Python with GNU Radio, or `None` (the test is skipped) when there is none.
fn gnuradio() -> Option<String> {
    let python =
        std::env::var("WEIR_GNURADIO_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    tool_available(
        python_imports(&python, "from gnuradio import blocks, gr, zeromq"),
        "WEIR_REQUIRE_GNURADIO",
        &format!("GNU Radio not installed (`{python}` cannot import gnuradio.zeromq)"),
    )
    .then_some(python)
}

/// `peer.py ARGS` with its stdout lines on the returned channel.
fn peer(python: &str, args: &[&str]) -> (Child, Receiver<String>) {
    let mut child = start_piped(Command::new(python).arg(PEER).args(args), "GNU Radio");
    let rx = lines(child.stdout.take().expect("stdout"));
    (child, rx)
}

/// GNU Radio publishes complex floats `n - j·n`, n = 0, 1, … (exact in float32 up to 2^24):
/// weir may join late, but from its first item on it must hold every item, in order, exactly.
#[test]
fn gnuradio_zeromq_pub_sink_feeds_weir_zmq_sub_source_exactly() {
    let Some(python) = gnuradio() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rx.cf32");
    let (published, received) = (2_000_000u64, 500_000usize);
    let port = free_port();
    // weir first: its SUB socket retries the connection until GNU Radio has bound.
    let rx = spawn(&write(
        dir.path(),
        "rx.toml",
        &subscriber("cf32", port, &out, received as u64, 100.0),
    ));
    let (pub_, _) = peer(
        &python,
        &[
            "pub",
            &format!("tcp://127.0.0.1:{port}"),
            &published.to_string(),
        ],
    );
    let rx = finish(rx, "weir subscriber");
    kill(pub_);
    assert!(rx.status.success(), "{}", text(&rx));
    let items = cf32s(&out);
    assert_eq!(items.len(), received, "items received");
    let first = items[0].0;
    assert!(
        first >= 0.0 && first.fract() == 0.0 && items[0].1 == -first,
        "the first item {:?} is not one GNU Radio published",
        items[0]
    );
    let first = first as u64;
    assert!(
        first + received as u64 <= published,
        "joined at item {first}"
    );
    for (i, &(re, im)) in items.iter().enumerate() {
        let n = (first + i as u64) as f32;
        assert_eq!((re, im), (n, -n), "item {i} after joining at {first}");
    }
}

/// weir publishes its simulated ADC's ramp (one ZeroMQ message per DMA block); GNU Radio's
/// `sub_source` → `head` → `file_sink` must hold an unbroken ramp from a whole sample on
/// (the reasoning of `cli_net`'s `zeromq_carries_the_dmabuf_ramp`).
#[test]
fn weir_zmq_pub_sink_feeds_gnuradio_sub_source_exactly() {
    let Some(python) = gnuradio() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("gr.ci16");
    let items = 300_000u64;
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let (sub, sub_lines) = peer(
        &python,
        &[
            "sub",
            &address,
            &items.to_string(),
            out.to_str().expect("utf-8"),
        ],
    );
    let mut seen = Vec::new();
    wait_line(&sub_lines, &mut seen, |l| l == "ready");
    let tx = spawn(&write(dir.path(), "tx.toml", &paced_publisher(&address)));
    wait_line(&sub_lines, &mut seen, |l| l.starts_with("done"));
    let sub = finish(sub, "GNU Radio subscriber");
    kill(tx);
    assert!(sub.status.success(), "{}", text(&sub));
    assert_ramp_joined_late(&out, items as usize);
}

/// Runs `peer.py read` on a recording; returns what it derived from the metadata and the
/// samples it read as complex floats.
fn gnuradio_reads(python: &str, base: &Path) -> (serde_json::Value, Vec<(f32, f32)>) {
    let out = base.with_extension("gr.cf32");
    let (reader, lines) = peer(
        python,
        &[
            "read",
            base.to_str().expect("utf-8"),
            out.to_str().expect("utf-8"),
        ],
    );
    let mut seen = Vec::new();
    wait_line(&lines, &mut seen, |l| l.starts_with('{'));
    let result = finish(reader, "GNU Radio reader");
    assert!(result.status.success(), "{}", text(&result));
    let derived = serde_json::from_str(seen.last().expect("line")).expect("JSON");
    (derived, cf32s(&out))
}

/// `weir record` as ci16 and as cf32; GNU Radio reads each with the item type `core:datatype`
/// names (interleaved shorts converted by `interleaved_short_to_complex`; `gr_complex`) and
/// gets the simulator's ramp: sample k is I = 2k, Q = 2k + 1 (16-bit, wrapping), as integers
/// from ci16 and as fractions of full scale (1/32768) from cf32.
#[test]
fn gnuradio_file_source_reads_weir_recordings_by_their_datatype() {
    let Some(python) = gnuradio() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = 100_000usize;
    let ramp = |k: usize| {
        (
            f32::from((2 * k) as u16 as i16),
            f32::from((2 * k + 1) as u16 as i16),
        )
    };
    for (format, datatype, itemsize, scale) in [
        ("ci16", "ci16_le", 4, 1.0),
        ("cf32", "cf32_le", 8, 1.0 / 32768.0),
    ] {
        let base = dir.path().join(format);
        let out = weir(&[
            "record",
            "--rate",
            "1e6",
            "--samples",
            &samples.to_string(),
            "--format",
            format,
            base.to_str().expect("utf-8"),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let (derived, items) = gnuradio_reads(&python, &base);
        assert_eq!(derived["datatype"], datatype);
        assert_eq!(derived["itemsize"], itemsize, "GNU Radio's item size");
        assert_eq!(derived["sample_rate"], 1e6);
        assert_eq!(derived["sample_start"], 0);
        assert_eq!(items.len(), samples, "{format}: samples GNU Radio read");
        // The simulator is paced at 1 MS/s: a loaded machine can overrun it, and the recording
        // then declares the gap in its capture segments.
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(base.with_extension("sigmf-meta")).expect("metadata"),
        )
        .expect("JSON metadata");
        for (k, &got) in items.iter().enumerate() {
            let (i, q) = ramp(sigmf_device_index(&meta, k as u64) as usize);
            assert_eq!(got, (i * scale, q * scale), "{format}: sample {k}");
        }
    }
}

/// A GNU Radio subscriber connects, takes 100 000 items and stops reading, its socket still
/// connected (a flowgraph whose `head` finished and that nobody tears down): `weir run
/// --duration 2` publishing as fast as it can must still end, with status 0 and its report.
/// The kill guard of `finish` only turns a hang into a failure.
#[test]
fn a_stalled_gnuradio_subscriber_does_not_keep_weir_from_ending() {
    let Some(python) = gnuradio() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let (stalled, stalled_lines) = peer(&python, &["stall", &address, "100000"]);
    let mut seen = Vec::new();
    wait_line(&stalled_lines, &mut seen, |l| l == "ready");
    let mut tx = spawn_with(
        &write(dir.path(), "tx.toml", &unpaced_publisher(&address)),
        &["--duration", "2"],
    );
    wait_listening(&mut tx, port);
    wait_line(&stalled_lines, &mut seen, |l| l == "stopped reading");
    // The stall must overlap the run, or the test would show nothing.
    assert!(
        tx.try_wait().expect("wait").is_none(),
        "weir ended before the subscriber stopped reading"
    );
    assert!(connected(port), "the stalled subscriber is still connected");
    let out = finish(tx, "weir publisher");
    kill(stalled);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("items in"), "the report: {}", text(&out));
}

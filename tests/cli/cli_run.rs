//! Every flowgraph in `flowgraphs/` loads and runs, through the `weir` binary as README.md says.

use std::process::Command;

use crate::support::{TONE_GAIN, report_line, weir};

#[test]
fn every_shipped_flowgraph_runs_through_the_cli() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("flowgraphs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    // A flowgraph that writes a file names it in its `out` variable: point it into a directory
    // of this test's own, not at a shared default path such as /tmp.
    let scratch = tempfile::tempdir().expect("tempdir");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("flowgraph file");
        let written = text.lines().any(|l| l.starts_with("out = ")).then(|| {
            let stem = file.file_stem().expect("file name").to_string_lossy();
            scratch.path().join(format!("{stem}.out"))
        });
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
        cmd.arg("run").arg(&file);
        if let Some(path) = &written {
            cmd.arg("--set").arg(format!("out={}", path.display()));
        }
        let out = cmd.output().expect("run weir");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{stderr}",
            file.display()
        );
        assert!(stdout.contains("items in"), "{stdout}");
        if let Some(path) = written {
            assert!(
                path.exists(),
                "{}: wrote no {}",
                file.display(),
                path.display()
            );
        }
    }
}

#[test]
fn sim_rx_reports_rates_blocks_and_overruns() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/sim_rx.toml"),
        ])
        .output()
        .expect("run weir");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let src = report_line(&stdout, "src");
    assert!(src.contains("M/s"), "{src}");
    assert!(src.contains("blocks="), "{src}");
    assert!(src.contains("overruns=0"), "{src}");
    assert!(src.contains("transport=sim"), "{src}");
    let sink = report_line(&stdout, "sink");
    assert!(sink.contains(" 100000000 "), "{sink}");
}

#[test]
fn blocks_lists_the_registry() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("blocks")
        .output()
        .expect("run weir");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in [
        "dmabuf_source",
        "ci16_to_cf32",
        "head",
        "null_sink",
        "file_sink",
    ] {
        assert!(stdout.contains(name), "{name} missing from\n{stdout}");
    }
}

#[test]
fn blocks_describes_one_type_as_json() {
    let out = weir(&["blocks", "multiply_const", "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let block = &json[0];
    assert_eq!(block["type_name"], "multiply_const");
    assert_eq!(block["params"][0]["name"], "gain");
    assert_eq!(block["params"][0]["type"], "float");
    assert_eq!(block["ports"]["inputs"][0][1], "cf32");
    assert_eq!(block["ports"]["message_inputs"][0], "gain");

    let out = weir(&["blocks", "multiply_cnst"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `multiply_const`"));
}

#[test]
fn run_takes_set_and_duration() {
    let out = weir(&[
        "run",
        TONE_GAIN,
        "--set",
        "samples=1e12",
        "--stats-interval",
        "0",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a float for an integer variable is bad input"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected integer"));

    // A stream far too long to finish: --duration stops it, and the final stats are printed.
    let out = weir(&[
        "run",
        TONE_GAIN,
        "--set",
        "samples=1000000000000",
        "--set",
        "gain=0.125",
        "--duration",
        "0.5",
        "--stats-interval",
        "0.1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("items in"), "{stdout}");
    assert!(
        stderr.contains(" M/s"),
        "live statistics on stderr: {stderr}"
    );
    let head = report_line(&stdout, "head");
    assert!(!head.contains("1000000000000 "), "{head}");
}

#[test]
fn graph_prints_dot() {
    let out = weir(&["graph", TONE_GAIN]);
    assert!(out.status.success());
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(
        dot.contains("\"strobe\" -> \"amp\" [label=\"out ⇒ gain\", style=dashed]"),
        "{dot}"
    );
    assert!(dot.contains("\"src\" -> \"conv\""), "{dot}");
}

#[test]
fn iio_list_reads_a_sysfs_tree() {
    use weir_iio::testing::{FakeChannel, FakeSysfs};
    let fake = FakeSysfs::new();
    fake.device(0)
        .name("ad9361-phy")
        .attr("in_voltage_sampling_frequency", "30720000");
    fake.device(1).name("cf-ad9361-lpc").label("rx").buffer(
        0,
        &[("length", "4096"), ("enable", "0"), ("watermark", "1")],
        &[
            FakeChannel::new("in_voltage0", 0, "le:s12/16>>4", true),
            FakeChannel::new("in_voltage1", 1, "le:s12/16>>4", true),
        ],
    );
    let root = fake.root().to_str().expect("utf-8 path");
    let out = weir(&["iio", "list", "--sysfs-root", root]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "iio:device1",
        "cf-ad9361-lpc",
        "rx",
        "voltage0",
        "le:s12/16>>4",
        "buffer0",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from\n{stdout}"
        );
    }

    let out = weir(&["iio", "list", "--sysfs-root", "/nonexistent/iio"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/iio"));
}

#[test]
fn run_on_one_executor_thread_moves_every_sample() {
    let sim_rx = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/sim_rx.toml");
    let out = weir(&["run", sim_rx, "--threads", "1", "--stats-interval", "0"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let head = report_line(&stdout, "head");
    assert!(
        head.split_whitespace().any(|f| f == "100000000"),
        "head passed 100 M samples: {head}"
    );
    // A bad thread count is bad input (clap), not a run-time failure.
    assert_eq!(
        weir(&["run", sim_rx, "--threads", "x"]).status.code(),
        Some(2)
    );
}

#[test]
fn blocks_text_shows_ports_of_blocks_with_required_parameters() {
    // `head` requires `items`, and its ports' item type is its `item` parameter.
    let out = weir(&["blocks", "head"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("    in  in ("), "{text}");
    assert!(text.contains("    out out ("), "{text}");
    let depends = text
        .lines()
        .find(|l| l.trim_start().starts_with("ports depend on:"))
        .unwrap_or_else(|| panic!("no `ports depend on` line: {text}"));
    assert!(depends.contains("item"), "{depends}");
    let shown = text
        .lines()
        .find(|l| l.trim_start().starts_with("ports shown for:"))
        .unwrap_or_else(|| panic!("no `ports shown for` line: {text}"));
    assert!(shown.contains("items = "), "{shown}");
}

/// Output into a pipe whose reader has gone (`weir blocks | head`, once `head` has exited) ends
/// quietly with status 0, as `ls | head` does: no panic, nothing on stderr. The read end is
/// closed before weir starts, so its first write meets EPIPE, whatever the pipe's capacity.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    for args in [
        &["blocks"][..],
        &["blocks", "--json"],
        &["graph", TONE_GAIN],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .stdout(writer)
            .output()
            .expect("run weir");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "weir {args:?}: {stderr}");
        assert!(stderr.is_empty(), "weir {args:?}: {stderr}");
    }
}

/// A load error is printed once: the `error: FILE:LINE:COL: message` line, then the snippet
/// (it was printed as a line and again as the report).
#[test]
fn a_load_error_is_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[blocks]\nsrc = { type = \"nope\" }\n").expect("write");
    let out = weir(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = "block `src`: unknown block type `nope`";
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    let first = stderr.lines().next().expect("an error line");
    assert!(
        first.starts_with("error: ") && first.ends_with(&format!("bad.toml:2:16: {message}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("src = { type = \"nope\" }"),
        "the snippet: {stderr}"
    );
}

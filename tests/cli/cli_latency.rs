//! `latency = "2ms"` on the DMABUF blocks: `weir check` refuses every budget that cannot be met
//! and every conflicting combination, located (file:line:col, block) with exit 2, and `weir run`
//! prints the chosen sizes and the measured latency on the block's report line.

use crate::support::{LATENCY_BUDGET_TOML, report_line, weir};

/// The exit status of `weir check` for bad input (README: "2: the flowgraph is invalid").
const EXIT_BAD_INPUT: i32 = 2;

/// `weir check` of a flowgraph whose block `b` is `block_type` with `params` (one per line,
/// from line 3): its error, whose first line must be located at `latency`'s `line`.
fn refused(block_type: &str, params: &[&str], line: usize) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("latency.toml");
    let text = format!(
        "[blocks.b]\ntype = \"{block_type}\"\n{}\n",
        params.join("\n")
    );
    std::fs::write(&file, &text).expect("write flowgraph");
    let out = weir(&["check", file.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(EXIT_BAD_INPUT), "{text}\n{stderr}");
    let first = stderr.lines().next().unwrap_or_default().to_string();
    assert!(
        first.starts_with(&format!("error: {}:{line}:1: block `b`: ", file.display())),
        "{text}\n{stderr}"
    );
    assert!(first.contains("`latency`"), "{text}\n{stderr}");
    // The message, which the report may wrap over several lines.
    stderr.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn weir_check_refuses_budgets_that_cannot_be_met_and_conflicting_sizes() {
    for block in ["dmabuf_source", "dmabuf_sink"] {
        // Two ways of sizing the same buffer: refused, whichever comes first in the file.
        let e = refused(
            block,
            &[
                "sample_rate = 1e6",
                "latency = \"2ms\"",
                "samples_per_block = 512",
            ],
            4,
        );
        assert!(e.contains("`samples_per_block` is set too"), "{e}");
        let e = refused(
            block,
            &["blocks = 8", "sample_rate = 1e6", "latency = \"2ms\""],
            5,
        );
        assert!(e.contains("`blocks` is set too"), "{e}");
        // Not a duration.
        let e = refused(block, &["sample_rate = 1e6", "latency = \"soon\""], 4);
        assert!(e.contains("is not a duration"), "{e}");
        // The unpaced simulator has no rate to size blocks by.
        let e = refused(block, &["latency = \"2ms\""], 3);
        assert!(e.contains("needs the device's rate"), "{e}");
        // Below the kernel's rescheduling time.
        let e = refused(block, &["sample_rate = 1e6", "latency = \"1ms\""], 4);
        assert!(e.contains("rescheduling time"), "{e}");
        // At 1 kS/s a block of well under a millisecond holds no whole sample.
        let e = refused(block, &["sample_rate = 1e3", "latency = \"2ms\""], 4);
        assert!(e.contains("smallest transfer"), "{e}");
    }
    // TX needs the whole queue inside the budget: 1.6 ms is enough for RX, not for TX.
    let e = refused(
        "dmabuf_sink",
        &["sample_rate = 1e6", "latency = \"1600us\""],
        4,
    );
    assert!(e.contains("a TX budget must exceed"), "{e}");
    // A cyclic block's size is the waveform's.
    let e = refused(
        "dmabuf_sink",
        &["cyclic = true", "sample_rate = 1e6", "latency = \"2ms\""],
        5,
    );
    assert!(e.contains("`cyclic`"), "{e}");
}

#[test]
fn weir_run_prints_the_sizes_chosen_and_the_latency_measured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("budget.toml");
    std::fs::write(&file, LATENCY_BUDGET_TOML).expect("write flowgraph");
    let out = weir(&["run", file.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = report_line(&stdout, "src");
    assert!(
        line.contains("latency_budget=2ms -> 500 samples x 4 blocks"),
        "{line}"
    );
    assert!(line.contains("latency(completion→release) p50="), "{line}");
    assert!(line.contains(" p99="), "{line}");
    let line = report_line(&stdout, "tx");
    assert!(
        line.contains("latency_budget=2ms -> 250 samples x 6 blocks"),
        "{line}"
    );
    assert!(
        line.contains("latency(enqueue→completion) p50=") && line.contains(" n=20 "),
        "{line}"
    );
}

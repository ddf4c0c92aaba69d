//! Every flowgraph in `flowgraphs/` loads and runs, through the `weir` binary as README.md says.

use std::process::Command;

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
    for file in files {
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("run")
            .arg(&file)
            .output()
            .expect("run weir");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{stderr}",
            file.display()
        );
        assert!(stdout.contains("items in"), "{stdout}");
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
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name} in\n{stdout}"))
            .to_string()
    };
    let src = line("src ");
    assert!(src.contains("M/s"), "{src}");
    assert!(src.contains("blocks="), "{src}");
    assert!(src.contains("overruns=0"), "{src}");
    assert!(src.contains("transport=sim"), "{src}");
    let sink = line("sink ");
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

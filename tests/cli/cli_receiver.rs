//! The receiver flowgraphs: a tone at a known offset comes out in the expected FFT bin, in one
//! process (`flowgraphs/receiver.toml`) and split over ZeroMQ (`flowgraphs/split/`).
//!
//! Numbers (see receiver.toml): ADC at 1.024 MS/s, tone at +150 kHz, tuned to +100 kHz and
//! decimated by 4 -> 256 kS/s, 1024-point shifted FFT -> 250 Hz per bin, the tone at
//! 50 kHz / 250 Hz = bin 200 above the centre bin 512.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::processes::{finish, free_port, start_piped, text};

const FFT: usize = 1024;

fn flowgraph(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("flowgraphs")
        .join(name)
}

fn weir_run(file: &Path, sets: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
    cmd.args(["run", "--stats-interval", "0"]).arg(file);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd
}

/// The spectra in `path`, averaged per bin: (strongest bin, its level, median level) in dB.
fn strongest_bin(path: &Path) -> (usize, f32, f32) {
    let bytes = std::fs::read(path).expect("read spectra");
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values.len() % FFT, 0, "whole spectra");
    let frames = values.len() / FFT;
    assert!(frames >= 16, "only {frames} spectra");
    let mut avg = vec![0f32; FFT];
    for frame in values.chunks_exact(FFT) {
        for (a, v) in avg.iter_mut().zip(frame) {
            *a += v / frames as f32;
        }
    }
    let (bin, level) = avg
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("bins");
    let mut sorted = avg.clone();
    sorted.sort_by(f32::total_cmp);
    (bin, level, sorted[FFT / 2])
}

fn assert_tone(path: &Path, expected_bin: usize) {
    let (bin, level, median) = strongest_bin(path);
    assert_eq!(bin, expected_bin, "tone at {level} dB, median {median} dB");
    // A tone, not a noise bump: far above the typical bin.
    assert!(level - median > 60.0, "peak {level} dB, median {median} dB");
}

#[test]
fn receiver_finds_the_tone_in_its_bin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("spectra.f32");
    let run = weir_run(
        &flowgraph("receiver.toml"),
        &[format!("out={}", out.display())],
    )
    .output()
    .expect("run weir");
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(std::fs::metadata(&out).expect("output").len(), 65536 * 4);
    assert_tone(&out, 512 + 200);

    // Tuning elsewhere moves the tone: at +50 kHz the tone is 100 kHz = 400 bins above centre.
    let run = weir_run(
        &flowgraph("receiver.toml"),
        &[format!("out={}", out.display()), "tune=50000.0".into()],
    )
    .output()
    .expect("run weir");
    assert!(run.status.success(), "{}", text(&run));
    assert_tone(&out, 512 + 400);
}

#[test]
fn split_receiver_finds_the_tone_over_zeromq() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("spectra.f32");
    let port = free_port();
    // The subscriber first, so it is connected (or connecting) when samples are published.
    let host = start_piped(
        &mut weir_run(
            &flowgraph("split/host.toml"),
            &[format!("out={}", out.display()), format!("port={port}")],
        ),
        "host",
    );
    let mut board = start_piped(
        &mut weir_run(&flowgraph("split/board.toml"), &[format!("port={port}")]),
        "board",
    );
    let host = finish(host, "host");
    // The board streams until stopped; the host is done with it.
    board.kill().ok();
    let board = board.wait_with_output().expect("board output");
    assert!(
        host.status.success(),
        "host: {}\nboard: {}",
        text(&host),
        text(&board)
    );
    assert_eq!(std::fs::metadata(&out).expect("output").len(), 65536 * 4);
    assert_tone(&out, 512 + 200);
}

//! The hostile corpus: every flowgraph in `tests/hostile/` is run by `weir check` and by
//! `weir run --duration 1`, and must end with the exit status and the message its leading
//! comment states — never a panic, a signal or a hang.
//!
//! A case is one file. Its leading comment says what it is, then:
//!
//! ```toml
//! # check: 2            exit status of `weir check` (2 bad input, 0 accepted)
//! # run: 2              exit status of `weir run --duration 1` (1: only the run can know)
//! # message: `timeout`  a fragment every failing run's stderr contains
//! ```
//!
//! Command-line cases (values of `--duration`, `--threads`, a FIFO as the flowgraph file) are
//! below the corpus test.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{Finished, TONE_GAIN, weir_within};

/// Longer than `run --duration 1` plus the run's own 10 s stop deadline: a case still running
/// then is a hang.
const HANG: Duration = Duration::from_secs(20);

/// One corpus file and what its comment expects.
struct Case {
    path: PathBuf,
    check: i32,
    run: i32,
    message: String,
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/hostile/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            // Read as bytes: a case may be deliberately not UTF-8 past its header.
            let bytes = std::fs::read(&path).expect("case file");
            let text = String::from_utf8_lossy(&bytes);
            let field = |key: &str| {
                text.lines()
                    .take_while(|l| l.starts_with('#'))
                    .find_map(|l| l.strip_prefix(&format!("# {key}:")))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| panic!("{}: no `# {key}:` line", path.display()))
            };
            let code = |key: &str| {
                field(key)
                    .parse()
                    .unwrap_or_else(|e| panic!("{}: `# {key}:` {e}", path.display()))
            };
            Case {
                check: code("check"),
                run: code("run"),
                message: field("message"),
                path,
            }
        })
        .collect()
}

/// How one run ended, in the classes the issue counts.
fn verdict(f: &Finished, expected: i32, message: &str, file: &Path) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = f.status else {
        return Err(format!("hang (killed after {HANG:?})"));
    };
    if f.stderr.contains("panicked at") {
        return Err(format!("panic: {}", f.stderr.trim()));
    }
    if let Some(signal) = status.signal() {
        return Err(format!("signal {signal}: {}", f.stderr.trim()));
    }
    let code = status.code().unwrap_or(-1);
    if code >= 128 {
        return Err(format!("exit {code} (a signal's): {}", f.stderr.trim()));
    }
    if code != expected {
        return Err(format!(
            "exit {code}, expected {expected}: {}{}",
            f.stdout.trim(),
            f.stderr.trim()
        ));
    }
    if code != 0 {
        if !f.stderr.contains(message) {
            return Err(format!("stderr lacks {message:?}: {}", f.stderr.trim()));
        }
        // Located: `FILE:LINE:COL: ` or at least `FILE: `.
        if !f.stderr.contains(&format!("{}:", file.display())) && code == 2 {
            return Err(format!(
                "error not located in the file: {}",
                f.stderr.trim()
            ));
        }
        // Nothing a value of the file holds reaches the terminal raw.
        if f.stderr.contains('\u{1b}') {
            return Err(format!("raw control character in: {:?}", f.stderr));
        }
    }
    Ok(())
}

fn args(words: &[&str], file: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = words.iter().map(OsString::from).collect();
    v.push(file.as_os_str().to_owned());
    v
}

fn run_args(v: &[OsString]) -> Vec<&OsStr> {
    v.iter().map(OsString::as_os_str).collect()
}

#[test]
fn every_hostile_flowgraph_is_refused_cleanly_by_check_and_run() {
    let cases = cases();
    assert!(cases.len() >= 30, "the corpus shrank: {}", cases.len());
    // (case, command, result), run a few at a time: most end at once, a hang takes HANG.
    let jobs: Vec<(usize, &str, Vec<OsString>, i32)> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            [
                (i, "check", args(&["check"], &c.path), c.check),
                (
                    i,
                    "run",
                    args(
                        &["run", "--duration", "1", "--stats-interval", "0"],
                        &c.path,
                    ),
                    c.run,
                ),
            ]
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((i, command, argv, expected)) = jobs.get(j) else {
                        break;
                    };
                    let c = &cases[*i];
                    let f = weir_within(&run_args(argv), HANG);
                    let v = verdict(&f, *expected, &c.message, &c.path);
                    results.lock().expect("results").push((
                        c.path
                            .file_name()
                            .expect("name")
                            .to_string_lossy()
                            .into_owned(),
                        *command,
                        v,
                    ));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, command, v)| {
            v.as_ref().err().map(|e| format!("{name} ({command}): {e}"))
        })
        .collect();
    let class = |word: &str| failures.iter().filter(|f| f.contains(word)).count();
    eprintln!(
        "hostile corpus: {} cases, {} runs; {} failed: {} panics, {} hangs, {} signals",
        cases.len(),
        results.len(),
        failures.len(),
        class("): panic"),
        class("): hang"),
        class("): signal") + class("(a signal's)"),
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// `weir run` with `extra` before the file, killed if it hangs.
fn run_tone_gain(extra: &[&str]) -> Finished {
    let mut argv: Vec<&OsStr> = vec![OsStr::new("run")];
    argv.extend(extra.iter().map(OsStr::new));
    argv.push(OsStr::new(TONE_GAIN));
    weir_within(&argv, HANG)
}

#[test]
fn absurd_command_line_numbers_are_clap_errors() {
    for (option, value) in [
        ("--duration", "inf"),
        ("--duration", "NaN"),
        ("--duration", "-1"),
        ("--duration", "1e300"),
        ("--stats-interval", "inf"),
        ("--stats-interval", "-0.5"),
        ("--stats-interval", "nan"),
        ("--threads", "1000000"),
        ("--threads", "-3"),
    ] {
        let f = run_tone_gain(&[option, value]);
        let what = format!("weir run {option} {value}");
        assert_eq!(
            f.status.and_then(|s| s.code()),
            Some(2),
            "{what}: {}",
            f.stderr
        );
        assert!(!f.stderr.contains("panicked"), "{what}: {}", f.stderr);
        assert!(
            f.stderr.contains("error: invalid value") && f.stderr.contains(option),
            "{what}: {}",
            f.stderr
        );
    }
}

#[test]
fn a_fifo_or_a_device_as_the_flowgraph_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("flowgraph.toml");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    for file in [fifo.as_path(), Path::new("/dev/zero")] {
        for command in ["check", "graph"] {
            let f = weir_within(&[OsStr::new(command), file.as_os_str()], HANG);
            let what = format!("weir {command} {}", file.display());
            assert_eq!(
                f.status.and_then(|s| s.code()),
                Some(2),
                "{what}: {}",
                f.stderr
            );
            assert!(
                f.stderr.contains(&format!("{}:", file.display()))
                    && f.stderr.contains("not a regular file"),
                "{what}: {}",
                f.stderr
            );
        }
    }
}

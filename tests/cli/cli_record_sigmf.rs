//! SigMF recordings through the `weir` command: the simulated ADC recorded while a slow
//! consumer makes it lose samples, its metadata checked field by field and its data sample for
//! sample against the capture segments; every metadata file validated by the reference `sigmf`
//! Python package; a recording played back and recorded again, byte for byte; and the
//! recordings weir cannot describe refused at load time.

use std::path::Path;
use std::process::Command;

use crate::support::processes::{output_ok, run_ok, text, write};
use crate::support::{
    check_refuses, lossy_capture, python_imports, sigmf_device_index, tool_available, weir,
};

fn meta(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("metadata file"))
        .expect("metadata is JSON")
}

/// Validates `meta` with the reference implementation (PyPI `sigmf`): the schema, sample-start
/// ordering, declared extensions, and the data file's size against the datatype. The Python is
/// `WEIR_PYTHON` (`.ci/run` installs `sigmf` into a virtual environment and sets it) or
/// `python3`. Without the package the check is skipped with a message, unless
/// `WEIR_REQUIRE_SIGMF` is set (as in CI), where that is a failure.
fn validate_with_reference(meta: &Path) {
    let python = std::env::var("WEIR_PYTHON").unwrap_or_else(|_| "python3".into());
    if !tool_available(
        python_imports(&python, "import sigmf"),
        "WEIR_REQUIRE_SIGMF",
        &format!("SigMF reference validation: `{python}` has no `sigmf` package"),
    ) {
        return;
    }
    // Warnings are errors: an undeclared extension is only a warning in sigmf 1.x.
    let script = r#"
import sys, warnings
warnings.simplefilter("error")
from sigmf import sigmffile
f = sigmffile.fromfile(sys.argv[1])
f.validate()
print(f.get_global_field("core:datatype"), f.sample_count)
"#;
    output_ok(
        Command::new(&python).args(["-c", script]).arg(meta),
        &format!("sigmf rejects {}", meta.display()),
    );
}

/// The simulated ADC's ramp: sample k of its stream is I = 2k, Q = 2k + 1 (mod 2^16).
fn ramp(k: u64) -> [u16; 2] {
    [(2 * k) as u16, (2 * k + 1) as u16]
}

#[test]
fn a_lossy_capture_records_the_device_rate_and_every_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("cap");
    let items = 600_000u64;
    let file = write(
        dir.path(),
        "cap.toml",
        &lossy_capture(
            items,
            &format!(
                r#"type = "sigmf_sink"
item = "ci16"
path = "{}"
frequency = 2.4e9
description = "weir test capture""#,
                base.display()
            ),
        ),
    );
    run_ok(&file, &[]);
    let meta_path = dir.path().join("cap.sigmf-meta");
    let m = meta(&meta_path);
    let g = &m["global"];
    assert_eq!(g["core:datatype"], "ci16_le");
    assert_eq!(g["core:sample_rate"], 4e6, "the rate the device runs at");
    assert_eq!(
        g["core:recorder"],
        format!("weir {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        g["core:hw"]
            .as_str()
            .is_some_and(|hw| hw.contains("simulated ADC") && hw.contains("voltage0 le:s16/16>>0")),
        "{g}"
    );
    assert_eq!(g["core:description"], "weir test capture");
    assert_eq!(g["core:extensions"][0]["name"], "weir");
    let captures = m["captures"].as_array().expect("captures");
    assert_eq!(captures[0]["core:sample_start"], 0);
    assert_eq!(captures[0]["core:frequency"], 2.4e9);
    let datetime = captures[0]["core:datetime"].as_str().expect("a start time");
    humantime_like(datetime);
    let annotations = m["annotations"].as_array().expect("annotations");
    assert!(
        !annotations.is_empty(),
        "a 2 MS/s consumer of a 4 MS/s ADC must lose samples: {m}"
    );
    // Every gap starts a capture segment: one annotation per segment after the first.
    assert_eq!(captures.len(), annotations.len() + 1, "{m}");

    // The data, sample for sample: within segment j, file sample i is the ramp at
    // global_index_j + (i - sample_start_j); between segments the global index jumps by
    // exactly the samples the annotation says were lost (the simulator counts exactly).
    let data = std::fs::read(dir.path().join("cap.sigmf-data")).expect("data file");
    assert_eq!(data.len() as u64, items * 4);
    let values: Vec<u16> = data
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let start = |c: &serde_json::Value| c["core:sample_start"].as_u64().expect("sample_start");
    let global = |c: &serde_json::Value| c["core:global_index"].as_u64().expect("global_index");
    for (j, c) in captures.iter().enumerate() {
        let end = captures.get(j + 1).map_or(items, start);
        for i in start(c)..end {
            let k = global(c) + (i - start(c));
            let got = [values[2 * i as usize], values[2 * i as usize + 1]];
            assert_eq!(got, ramp(k), "file sample {i} (segment {j})");
        }
        if j > 0 {
            let a = &annotations[j - 1];
            assert_eq!(a["core:sample_start"], c["core:sample_start"]);
            assert_eq!(a["weir:evidence"], "exact");
            let before = &captures[j - 1];
            let expected_global = global(before) + (start(c) - start(before));
            assert_eq!(
                a["weir:lost_samples"].as_u64(),
                Some(global(c) - expected_global),
                "annotation {a} against the jump in the stream position"
            );
        }
    }
    validate_with_reference(&meta_path);
}

/// `YYYY-MM-DDTHH:MM:SS[.frac]Z`, the only form SigMF allows.
fn humantime_like(s: &str) {
    let b = s.as_bytes();
    assert!(
        s.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && s.ends_with('Z'),
        "not an RFC 3339 UTC time: {s}"
    );
}

#[test]
fn a_recording_plays_back_and_records_again_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("a");
    let second = dir.path().join("b");
    let record = write(
        dir.path(),
        "rec.toml",
        &format!(
            r#"
connections = ["src.out -> conv.in", "conv.out -> head.in", "head.out -> rec.in"]
[blocks.src]
type = "dmabuf_source"
sample_rate = 1e6
[blocks.conv]
type = "ci16_to_cf32"
[blocks.head]
type = "head"
items = 100003
[blocks.rec]
type = "sigmf_sink"
path = "{}"
"#,
            first.display()
        ),
    );
    run_ok(&record, &[]);
    // Played back: the item type comes from core:datatype, the rate from core:sample_rate.
    let replay = write(
        dir.path(),
        "replay.toml",
        &format!(
            r#"
connections = ["src.out -> rec.in"]
[blocks.src]
type = "sigmf_source"
path = "{}.sigmf-meta"
[blocks.rec]
type = "sigmf_sink"
path = "{}"
"#,
            first.display(),
            second.display()
        ),
    );
    run_ok(&replay, &[]);
    let a = std::fs::read(dir.path().join("a.sigmf-data")).expect("first data");
    let b = std::fs::read(dir.path().join("b.sigmf-data")).expect("second data");
    assert_eq!(a.len(), 100_003 * 8);
    assert!(a == b, "the replayed recording differs from the original");
    let ma = meta(&dir.path().join("a.sigmf-meta"));
    // cf32 of the ramp: device sample n is (2n, 2n+1) mod 2^16 as i16, scaled by 1/32768. The
    // device is paced at 1 MS/s, so a loaded machine can overrun it: then the recording has a
    // capture segment per gap, whose `core:global_index` is the device sample it resumes at
    // (checked here, so a gap the metadata does not declare fails the test).
    for (k, s) in a.chunks_exact(8).enumerate().step_by(997) {
        let i = f32::from_le_bytes(s[..4].try_into().expect("4 bytes"));
        let [ri, _] = ramp(sigmf_device_index(&ma, k as u64));
        assert_eq!(i, f32::from(ri as i16) / 32768.0, "sample {k}");
    }
    let mb = meta(&dir.path().join("b.sigmf-meta"));
    assert_eq!(ma["global"]["core:datatype"], "cf32_le");
    assert_eq!(ma["global"]["core:sample_rate"], 1e6);
    assert_eq!(
        mb["global"]["core:sample_rate"], 1e6,
        "the rate survives playback"
    );
    assert!(
        mb["global"]["core:hw"]
            .as_str()
            .is_some_and(|hw| hw.contains("a.sigmf-data")),
        "{mb}"
    );
    validate_with_reference(&dir.path().join("a.sigmf-meta"));
    validate_with_reference(&dir.path().join("b.sigmf-meta"));
}

#[test]
fn recordings_weir_cannot_describe_are_refused_at_load_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Raw scan bytes have no SigMF datatype.
    let file = write(
        dir.path(),
        "raw.toml",
        &format!(
            r#"
connections = ["src.out -> rec.in"]
[blocks.src]
type = "dmabuf_source"
item = "u8"
[blocks.rec]
type = "sigmf_sink"
item = "u8"
path = "{}"
"#,
            dir.path().join("raw").display()
        ),
    );
    let stderr = check_refuses(&file, "raw scan bytes");
    assert!(
        stderr.contains("block `rec`") && stderr.contains("no SigMF datatype"),
        "{stderr}"
    );

    // A big-endian recording, and one whose type does not match the block it feeds.
    std::fs::write(dir.path().join("be.sigmf-data"), [0u8; 8]).expect("data");
    std::fs::write(
        dir.path().join("be.sigmf-meta"),
        r#"{"global": {"core:datatype": "ci16_be", "core:version": "1.2.0"}, "captures": [], "annotations": []}"#,
    )
    .expect("meta");
    std::fs::write(dir.path().join("le.sigmf-data"), [0u8; 8]).expect("data");
    std::fs::write(
        dir.path().join("le.sigmf-meta"),
        r#"{"global": {"core:datatype": "ci16_le", "core:version": "1.2.0"}, "captures": [], "annotations": []}"#,
    )
    .expect("meta");
    for (name, expected) in [
        ("be", "SigMF datatype `ci16_be` has no weir item type"),
        ("le", "ci16"),
    ] {
        let file = write(
            dir.path(),
            &format!("{name}.toml"),
            &format!(
                r#"
connections = ["src.out -> sink.in"]
[blocks.src]
type = "sigmf_source"
path = "{}"
[blocks.sink]
type = "null_sink"
item = "cf32"
"#,
                dir.path().join(name).display()
            ),
        );
        let stderr = check_refuses(&file, name);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

#[test]
fn weir_record_captures_the_simulator_as_sigmf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("rec");
    let out = weir(&[
        "record",
        "--rate",
        "2e6",
        "--samples",
        "100003",
        "--frequency",
        "915e6",
        "--stats-interval",
        "0",
        base.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rec.sigmf-meta"), "{stdout}");
    assert!(
        stdout.contains("src ") && stdout.contains("dmabuf_source"),
        "the report: {stdout}"
    );
    let data = std::fs::read(dir.path().join("rec.sigmf-data")).expect("data");
    assert_eq!(data.len(), 100_003 * 4);
    for (k, s) in data.chunks_exact(4).enumerate() {
        let got = [
            u16::from_le_bytes([s[0], s[1]]),
            u16::from_le_bytes([s[2], s[3]]),
        ];
        assert_eq!(got, ramp(k as u64), "sample {k}");
    }
    let meta_path = dir.path().join("rec.sigmf-meta");
    let m = meta(&meta_path);
    assert_eq!(m["global"]["core:datatype"], "ci16_le");
    assert_eq!(m["global"]["core:sample_rate"], 2e6);
    assert_eq!(m["captures"][0]["core:frequency"], 915e6);
    validate_with_reference(&meta_path);

    // Converted to cf32 from the device's own format.
    let out = weir(&[
        "record",
        "--format",
        "cf32",
        "--samples",
        "5000",
        "--stats-interval",
        "0",
        base.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let m = meta(&meta_path);
    assert_eq!(m["global"]["core:datatype"], "cf32_le");
    let data = std::fs::read(dir.path().join("rec.sigmf-data")).expect("data");
    assert_eq!(data.len(), 5000 * 8);
    let q = f32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
    assert_eq!(q, 1.0 / 32768.0, "sample 0's Q is ramp value 1");
    validate_with_reference(&meta_path);

    // Bad input is refused before anything runs, exit 2.
    let out = weir(&["record", "--samples", "-3", base.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

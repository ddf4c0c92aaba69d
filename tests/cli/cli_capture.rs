//! Captures to disk through the `weir` command: `O_DIRECT` on a disk (the unaligned tail
//! written after clearing it), refused at load time where the blocks cannot be aligned and at
//! build time on a file system that refuses it; every item the report counts is in the file
//! after SIGTERM, and a second signal leaves whole items; the samples the device lost are
//! counted by `file_sink` itself.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Instant;

use crate::support::processes::{DEADLINE, finish, run_ok, spawn, text, write};
use crate::support::{check_refuses, lossy_capture, ramp_bytes};

/// `items in` of block `name` in a run report.
fn items_in(report: &str, name: &str) -> u64 {
    report
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&name))
                .then(|| f[2].parse().ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no `{name}` line with items in: {report}"))
}

/// The value of counter `counter=N` on block `name`'s report line.
fn counter(report: &str, name: &str, counter: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no `{name}` line: {report}"));
    let at = line
        .find(&format!("{counter}="))
        .unwrap_or_else(|| panic!("no {counter} on `{line}`"));
    line[at + counter.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{counter} on `{line}`"))
}

fn direct_source(samples_per_block: usize) -> String {
    format!(
        "[blocks.src]\ntype = \"dmabuf_source\"\nitem = \"ci16\"\nsamples_per_block = \
         {samples_per_block}\n"
    )
}

/// On a disk (/var/tmp): `sigmf_sink` with `o_direct` records 1 000 000 samples from 16384-
/// sample blocks, the last 61 blocks' worth whole and then a tail of 576 samples written after
/// clearing O_DIRECT, which the report says; the data is the ramp, exactly. `file_sink` with
/// `o_direct`, stopped by `--duration`, holds every item its report counts.
#[test]
fn o_direct_captures_to_a_disk_exactly() {
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir in /var/tmp");
    let items = 1_000_000u64;
    let file = write(
        dir.path(),
        "rec.toml",
        &format!(
            "connections = [\"src.out -> rec.in\"]\n{}[blocks.rec]\ntype = \"sigmf_sink\"\n\
             item = \"ci16\"\nitems = {items}\no_direct = true\npath = \"{}\"\n",
            direct_source(16384),
            dir.path().join("rec").display()
        ),
    );
    let out = run_ok(&file, &[]);
    let report = String::from_utf8_lossy(&out.stdout);
    let whole = items * 4 / 4096 * 4096;
    assert!(
        report.contains(&format!(
            "o_direct=cleared at byte {whole} for an unaligned write"
        )),
        "{report}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("rec.sigmf-data")).expect("data"),
        ramp_bytes(items)
    );

    let path = dir.path().join("raw.ci16");
    let file = write(
        dir.path(),
        "raw.toml",
        &format!(
            "connections = [\"src.out -> sink.in\"]\n{}[blocks.sink]\ntype = \"file_sink\"\n\
             item = \"ci16\"\no_direct = true\npath = \"{}\"\n",
            direct_source(16384),
            path.display()
        ),
    );
    let out = run_ok(&file, &["--duration", "0.5"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("o_direct=on"), "{report}");
    let n = items_in(&report, "sink");
    assert!(n > 0, "{report}");
    assert_eq!(std::fs::read(&path).expect("data"), ramp_bytes(n));
}

/// `weir check` refuses `o_direct` where the writes could not be whole aligned blocks: an
/// ordinary stream (behind a `copy`), and DMA blocks of 4000 bytes.
#[test]
fn o_direct_off_aligned_device_blocks_is_refused_by_weir_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = |sink_type: &str| {
        format!(
            "[blocks.sink]\ntype = \"{sink_type}\"\nitem = \"ci16\"\no_direct = true\n\
             path = \"{}\"\n",
            dir.path().join("out").display()
        )
    };
    for sink_type in ["file_sink", "sigmf_sink"] {
        let copied = write(
            dir.path(),
            "copied.toml",
            &format!(
                "connections = [\"src.out -> c.in\", \"c.out -> sink.in\"]\n{}[blocks.c]\n\
                 type = \"copy\"\nitem = \"ci16\"\n{}",
                direct_source(16384),
                sink(sink_type)
            ),
        );
        let stderr = check_refuses(&copied, sink_type);
        assert!(
            stderr.contains("hands over an ordinary stream") && stderr.contains("`c.out` (copy)"),
            "{stderr}"
        );
        let unaligned = write(
            dir.path(),
            "unaligned.toml",
            &format!(
                "connections = [\"src.out -> sink.in\"]\n{}{}",
                direct_source(1000),
                sink(sink_type)
            ),
        );
        let stderr = check_refuses(&unaligned, sink_type);
        assert!(
            stderr.contains("4096-byte units") && stderr.contains("are 4000 bytes"),
            "{stderr}"
        );
        assert!(!dir.path().join("out").exists(), "check created no file");
    }
}

/// A file system that refuses O_DIRECT is found when the flowgraph is built (opening the file
/// is how to know): a ramfs mounted in a mount namespace of its own. (tmpfs refused it before
/// Linux 6.6 and takes it since.) Needs `unshare` and CAP_SYS_ADMIN; skipped visibly without.
#[test]
fn o_direct_on_a_file_system_that_refuses_it_is_a_clear_build_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("ramfs");
    std::fs::create_dir(&mnt).expect("mount point");
    let file = write(
        dir.path(),
        "ramfs.toml",
        &format!(
            "connections = [\"src.out -> sink.in\"]\n{}[blocks.sink]\ntype = \"file_sink\"\n\
             item = \"ci16\"\no_direct = true\npath = \"{}\"\n",
            direct_source(16384),
            mnt.join("cap.ci16").display()
        ),
    );
    let mounts = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t ramfs none \"$0\""])
        .arg(&mnt)
        .output();
    if !mounts.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: O_DIRECT refusal: cannot mount a ramfs here (unshare -m, CAP_SYS_ADMIN)"
        );
        return;
    }
    let out = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t ramfs none \"$0\" && exec \"$1\" run --stats-interval 0 \"$2\"",
        ])
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_weir"))
        .arg(&file)
        .output()
        .expect("run weir in a mount namespace");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("block `sink`: parameter `o_direct`")
            && stderr.contains("refuses O_DIRECT"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Samples per DMA block of the captures stopped by signals.
const CAPTURE_BLOCK: usize = 4096;

/// `weir run` of the simulator into `file_sink`, once the file has data.
fn capturing(dir: &Path) -> (Child, std::path::PathBuf) {
    let path = dir.join("cap.ci16");
    let file = write(
        dir,
        "cap.toml",
        &format!(
            "connections = [\"src.out -> sink.in\"]\n{}sample_rate = 20e6\n[blocks.sink]\n\
             type = \"file_sink\"\nitem = \"ci16\"\npath = \"{}\"\n",
            direct_source(CAPTURE_BLOCK),
            path.display()
        ),
    );
    let child = spawn(&file);
    let start = Instant::now();
    while std::fs::metadata(&path).map_or(0, |m| m.len()) == 0 {
        assert!(start.elapsed() < DEADLINE, "the capture never wrote");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, path)
}

fn signal(child: &Child, signal: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_child(child), signal)
        .expect("signal weir");
}

/// SIGTERM stops the run with its report, and every item the report counts for `file_sink` is
/// in the file, exactly.
#[test]
fn sigterm_leaves_every_counted_item_in_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, path) = capturing(dir.path());
    signal(&child, rustix::process::Signal::TERM);
    let out = finish(child, "weir");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let n = items_in(&String::from_utf8_lossy(&out.stdout), "sink");
    assert!(n > 0, "{}", text(&out));
    let data = std::fs::read(&path).expect("data");
    assert_eq!(data.len() as u64, n * 4, "{}", text(&out));
    assert_ramp_blocks(&data);
}

/// `data` is the simulator's ramp in whole DMA blocks of [`CAPTURE_BLOCK`] samples, each one
/// contiguous and starting on a block of the device's stream (the source is paced at 20 MS/s,
/// so a loaded machine can overrun it: then whole blocks are missing, never part of one), and
/// whole 4-byte items to the end (the last block may be cut short by the stop).
fn assert_ramp_blocks(data: &[u8]) {
    assert!(
        !data.is_empty() && data.len().is_multiple_of(4),
        "{} bytes",
        data.len()
    );
    for (b, block) in data.chunks(CAPTURE_BLOCK * 4).enumerate() {
        // Sample n of the device is (2n, 2n+1) mod 2^16: the first I value gives n mod 2^15.
        let first = u16::from_le_bytes([block[0], block[1]]);
        let n0 = u64::from(first / 2);
        assert!(
            first.is_multiple_of(2) && n0.is_multiple_of(CAPTURE_BLOCK as u64),
            "block {b} of the file starts inside a device block (I = {first})"
        );
        assert_eq!(
            block,
            &ramp_bytes(n0 + (block.len() / 4) as u64)[n0 as usize * 4..],
            "block {b}"
        );
    }
}

/// A second signal quits at once (status 143 when it comes before the stop completes), and
/// still the file holds whole items of the ramp, nothing lost in a buffer: `file_sink` keeps
/// none.
#[test]
fn a_second_sigterm_leaves_whole_items_in_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, path) = capturing(dir.path());
    signal(&child, rustix::process::Signal::TERM);
    signal(&child, rustix::process::Signal::TERM);
    let out = finish(child, "weir");
    assert!(matches!(out.status.code(), Some(143 | 0)), "{}", text(&out));
    assert_ramp_blocks(&std::fs::read(&path).expect("data"));
}

/// A writer that falls behind makes the device lose samples; `file_sink` counts them from the
/// source's tags (those before its last item), so the report says what the file lacks.
#[test]
fn file_sink_counts_the_samples_the_device_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A throttle at half the device's rate holds the DMA blocks (through `head`), so the
    // simulator loses samples and counts them exactly.
    let file = write(
        dir.path(),
        "lossy.toml",
        &lossy_capture(
            600_000,
            &format!(
                r#"type = "file_sink"
item = "ci16"
path = "{}""#,
                dir.path().join("lossy.ci16").display()
            ),
        ),
    );
    let out = run_ok(&file, &[]);
    let report = String::from_utf8_lossy(&out.stdout);
    let lost = counter(&report, "sink", "lost_samples");
    assert!(lost > 0, "the device lost samples: {report}");
    // The source may lose more after `head` has taken its last item: none of that is the
    // file's.
    assert!(
        lost <= counter(&report, "src", "dropped_samples"),
        "{report}"
    );
    assert!(counter(&report, "sink", "gaps") > 0, "{report}");
    assert_eq!(
        std::fs::metadata(dir.path().join("lossy.ci16"))
            .expect("file")
            .len(),
        items_in(&report, "sink") * 4
    );
}

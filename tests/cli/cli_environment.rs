//! weir owns FutureSDR's runtime configuration: a `config.toml` in the working directory and
//! `FUTURESDR_*` variables neither hang nor panic `weir` (FutureSDR 0.0.40 reads both, panics on
//! a value it cannot parse and hangs with a zero queue size).

use std::time::Duration;

use crate::support::weir_in;

/// A failure guard only: the runs below take well under a second.
const DEADLINE: Duration = Duration::from_secs(60);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A flowgraph that ends by itself: 5 items through `copy`.
fn flowgraph(dir: &std::path::Path) -> String {
    let file = dir.join("short.toml");
    std::fs::write(
        &file,
        "connections = [\"src.out -> c.in\", \"c.out -> keep.in\"]\n\
         [blocks.src]\ntype = \"vector_source\"\nitem = \"f32\"\nitems = [1, 2, 3, 4, 5]\n\
         [blocks.c]\ntype = \"copy\"\nitem = \"f32\"\n\
         [blocks.keep]\ntype = \"null_sink\"\nitem = \"f32\"\n",
    )
    .expect("write flowgraph");
    file.display().to_string()
}

#[test]
fn a_config_toml_with_a_zero_queue_size_in_the_working_directory_is_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        "queue_size = 0\nbuffer_size = 0\nctrlport_enable = true\n",
    )
    .expect("write config.toml");
    let file = flowgraph(dir.path());
    let out = weir_in(
        dir.path(),
        &[],
        &["run", &file, "--stats-interval", "0"],
        DEADLINE,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("keep ") && l.contains(" 5 ")),
        "{stdout}"
    );
    // And a value FutureSDR cannot parse there is not read either.
    std::fs::write(dir.path().join("config.toml"), "queue_size = \"many\"\n").expect("write");
    let out = weir_in(dir.path(), &[], &["check", &file], DEADLINE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn futuresdr_variables_are_overridden_or_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = flowgraph(dir.path());
    // Values FutureSDR parses: weir's own are in force (a zero queue size hung the run), and
    // each variable is named as ignored.
    let out = weir_in(
        dir.path(),
        &[
            ("FUTURESDR_QUEUE_SIZE", "0"),
            ("FUTURESDR_BUFFER_SIZE", "0"),
        ],
        &["run", &file, "--stats-interval", "0"],
        DEADLINE,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "warning: FUTURESDR_QUEUE_SIZE=0 is ignored: weir sets FutureSDR's runtime \
             configuration itself"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("FUTURESDR_BUFFER_SIZE=0 is ignored"),
        "{stderr}"
    );
    // A value FutureSDR cannot parse: refused as bad input, the variable named, no panic.
    for args in [vec!["run", file.as_str()], vec!["check", file.as_str()]] {
        let out = weir_in(
            dir.path(),
            &[("FUTURESDR_STACK_SIZE", "garbage")],
            &args,
            DEADLINE,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: FutureSDR cannot read its configuration"),
            "{stderr}"
        );
        assert!(stderr.contains("FUTURESDR_STACK_SIZE=garbage"), "{stderr}");
        assert!(
            stderr.contains("unset the FUTURESDR_* variables"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

//! `file_source` on paths that are not regular files: a FIFO (its open would block the build
//! until a writer came) and a character device are refused when the flowgraph is loaded, and a
//! file whose reads fail (`/proc/self/mem` answers `EIO`) fails the run naming the path and the
//! errno, never a panic.

use weir_core::FlowgraphSpec;

fn flowgraph(path: &std::path::Path) -> String {
    format!(
        "connections = [\"src.out -> sink.in\"]\n\
         [blocks.src]\ntype = \"file_source\"\nitem = \"u8\"\npath = \"{}\"\n\
         [blocks.sink]\ntype = \"null_sink\"\nitem = \"u8\"\n",
        path.display()
    )
}

#[test]
fn a_fifo_or_a_character_device_is_refused_at_load_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("in.fifo");
    crate::support::mkfifo(&fifo);
    let registry = weir::registry();
    for (path, want) in [
        (fifo.as_path(), "is a FIFO"),
        (std::path::Path::new("/dev/zero"), "is a character device"),
        (dir.path(), "is a directory"),
    ] {
        let e = weir_core::testing::load_error(&registry, "f.toml", &flowgraph(path));
        assert_eq!(e.block.as_deref(), Some("src"), "{e}");
        assert!(e.message.contains("parameter `path`"), "{e}");
        assert!(e.message.contains(want), "{path:?}: {e}");
        assert!(e.message.contains(&path.display().to_string()), "{e}");
    }
}

#[test]
fn a_read_error_fails_the_run_with_the_path_and_the_errno() {
    // A regular file of size 0 by stat, whose read at offset 0 fails with EIO (nothing is
    // mapped at address 0).
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(
        &flowgraph(std::path::Path::new("/proc/self/mem")),
        "f.toml",
        &registry,
    )
    .expect("a regular file: loads");
    let e = spec
        .build(&registry)
        .expect("opens")
        .run()
        .expect_err("the read fails");
    let text = e.to_string();
    assert!(text.contains("src"), "{text}");
    assert!(text.contains("reading `/proc/self/mem`"), "{text}");
    assert!(text.contains("os error 5"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

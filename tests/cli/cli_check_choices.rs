//! `weir check` refuses a wrong value of every string-choice parameter of every registered
//! block, as `build` would, with file:line:col, the block named, and exit 2 — not at `weir run`
//! time with exit 1 (`direction = "sideways"` on `fft` used to pass the check).

use weir_core::ParamType;

use crate::support::{assert_check_passes, check_refuses};

#[test]
fn every_string_choice_parameter_is_checked_by_weir_check() {
    let registry = weir::registry();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = Vec::new();
    for block in registry.iter() {
        for param in &block.params {
            let ParamType::Choice(names) = param.ty else {
                continue;
            };
            let wrong = "sideways";
            assert!(!names.contains(&wrong));
            // The wrong value is on line 3, column 1 (its key).
            let text = format!(
                "[blocks.b]\ntype = \"{}\"\n{} = \"{wrong}\"\n",
                block.type_name, param.name
            );
            let file = dir
                .path()
                .join(format!("{}_{}.toml", block.type_name, param.name));
            std::fs::write(&file, &text).expect("write flowgraph");
            let what = format!("{}.{}", block.type_name, param.name);
            let stderr = check_refuses(&file, &what);
            let first = stderr.lines().next().unwrap_or_default();
            assert!(
                first.starts_with(&format!("error: {}:3:1: block `b`: ", file.display())),
                "{what}: {stderr}"
            );
            assert!(
                first.contains(&format!("`{}`", param.name)) && first.contains("\"sideways\""),
                "{what}: {stderr}"
            );
            for name in names {
                assert!(first.contains(&format!("`{name}`")), "{what}: {stderr}");
            }
            checked.push(what);
        }
    }
    // The choices the issue found checked only by `build`, at least.
    for expected in [
        "fft.direction",
        "dmabuf_sink.mode",
        "dmabuf_sink.transport",
        "dmabuf_sink.allocator",
        "dmabuf_source.pattern",
        "dmabuf_source.transport",
        "dmabuf_source.allocator",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} is not a typed choice: {checked:?}"
        );
    }
}

#[test]
fn a_right_choice_passes_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("fft.toml");
    std::fs::write(
        &file,
        "connections = [\"src.out -> fft.in\", \"fft.out -> sink.in\"]\n\
         [blocks.src]\ntype = \"null_source\"\nitem = \"cf32\"\n\
         [blocks.fft]\ntype = \"fft\"\nlen = 64\ndirection = \"inverse\"\n\
         [blocks.sink]\ntype = \"null_sink\"\nitem = \"cf32\"\n",
    )
    .expect("write flowgraph");
    assert_check_passes(&file);
}

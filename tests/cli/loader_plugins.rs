//! Plugins built as shared libraries and loaded from `WEIR_PLUGIN_PATH`.
//!
//! The plugin is `examples/plugin` (block `conjugate`). It is a dev-dependency of this package,
//! so `cargo test` builds its shared library in the same invocation as the `weir` under test —
//! a plugin must be the very same build of weir-core and FutureSDR to load.
//!
//! The refusal cases use copies of that library in which the recorded weir version or compiler
//! is overwritten with another of the same length: exactly what a plugin built against another
//! weir, or by another rustc, presents to the loader (only one toolchain exists on this
//! machine, so a real second compiler is not available).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use num_complex::Complex32;

/// The plugin library cargo built for this test run, next to this test's executable.
fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    let lib = deps.join(format!(
        "{}weir_plugin_example{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        lib.is_file(),
        "{} missing: cargo builds it as a dev-dependency",
        lib.display()
    );
    lib
}

/// Copy the plugin into `dir` under `name`, replacing the one occurrence of `from` with `to`.
fn patched_copy(dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    assert_eq!(from.len(), to.len(), "a patch must keep the length");
    let mut bytes = std::fs::read(plugin_library()).expect("read plugin");
    let hits: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from.as_bytes())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "`{from}` must occur once in the plugin");
    bytes[hits[0]..hits[0] + to.len()].copy_from_slice(to.as_bytes());
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write patched plugin");
    path
}

fn weir(plugin_path: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_PLUGIN_PATH", plugin_path)
        .output()
        .expect("run weir")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read_cf32(path: &Path) -> Vec<Complex32> {
    let bytes = std::fs::read(path).expect("read output");
    bytes
        .chunks_exact(8)
        .map(|c| {
            Complex32::new(
                f32::from_le_bytes(c[..4].try_into().unwrap()),
                f32::from_le_bytes(c[4..].try_into().unwrap()),
            )
        })
        .collect()
}

const FLOWGRAPH: &str = r#"
connections = [
    "src.out -> head.in",
    "head.out -> raw.in",
    "head.out -> conj.in",
    "conj.out -> out.in",
]

[vars]
dir = "."

[blocks.src]
type = "signal_source"
frequency = 1000.0
sample_rate = 48000.0
phase = 0.3

[blocks.head]
type = "head"
item = "cf32"
items = 100000

[blocks.conj]
type = "conjugate"

[blocks.raw]
type = "file_sink"
item = "cf32"
path = "${dir}/raw.cf32"

[blocks.out]
type = "file_sink"
item = "cf32"
path = "${dir}/conj.cf32"
"#;

#[test]
fn plugin_block_runs_in_a_flowgraph_file() {
    let plugins = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        plugin_library(),
        plugins.path().join("libweir_plugin_example.so"),
    )
    .expect("copy plugin");
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("conjugate.toml");
    std::fs::write(&file, FLOWGRAPH).expect("write flowgraph");
    let dir = format!("dir={}", work.path().display());

    let out = weir(
        plugins.path(),
        &["run", file.to_str().unwrap(), "--set", &dir],
    );
    assert!(
        out.status.success(),
        "weir run failed:\n{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("plugin not loaded"),
        "{}",
        text(&out.stderr)
    );
    let raw = read_cf32(&work.path().join("raw.cf32"));
    let conj = read_cf32(&work.path().join("conj.cf32"));
    assert_eq!(raw.len(), 100_000);
    assert_eq!(conj.len(), raw.len());
    for (n, (x, y)) in raw.iter().zip(&conj).enumerate() {
        assert_eq!(*y, x.conj(), "sample {n}");
    }
    // A tone of non-zero phase: the check above would be vacuous on a zero imaginary part.
    assert!(raw.iter().any(|x| x.im.abs() > 0.5));

    // Without the plugin path the block type is unknown: the flowgraph is refused as bad input.
    let empty = tempfile::tempdir().expect("tempdir");
    let out = weir(
        empty.path(),
        &["check", file.to_str().unwrap(), "--set", &dir],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unknown block type `conjugate`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plugin_describes_its_block() {
    let mut registry = weir::registry();
    let loaded = registry
        .load_plugin(&plugin_library())
        .expect("plugin loads into this build");
    assert_eq!(loaded.name, "example");
    assert_eq!(loaded.blocks, vec!["conjugate"]);
    let info = registry.get("conjugate").expect("registered").info();
    assert!(info.doc.contains("conjugate"));
    assert!(info.params.is_empty());
    let ports = info.ports.expect("ports");
    assert_eq!(ports.inputs, vec![("in".to_string(), "cf32".to_string())]);
    assert_eq!(ports.outputs, vec![("out".to_string(), "cf32".to_string())]);

    // Loading it again would replace `conjugate`: refused, and the registry keeps one entry.
    let again = registry.load_plugin(&plugin_library());
    assert_eq!(
        again.unwrap_err(),
        weir_core::dynamic::PluginError::Duplicate("conjugate".into())
    );
}

#[test]
fn refused_plugins_are_listed_and_the_others_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(plugin_library(), dir.path().join("libgood.so")).expect("copy plugin");
    let host_version = weir_core::dynamic::WEIR_VERSION;
    let other_version = "9.9.9";
    assert_ne!(host_version, other_version);
    patched_copy(dir.path(), "libold_weir.so", host_version, other_version);
    let host_rustc = weir_core::dynamic::RUSTC_VERSION;
    // Same length, another release: "rustc 1.95.0 (...)" -> "rustc 0.95.0 (...)".
    let other_rustc = host_rustc.replacen("rustc 1", "rustc 0", 1);
    assert_ne!(host_rustc, other_rustc);
    patched_copy(dir.path(), "libother_rustc.so", host_rustc, &other_rustc);
    std::fs::write(dir.path().join("libnot_a_library.so"), "not ELF").expect("write");

    let out = weir(dir.path(), &["plugins"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let line = |prefix: &str, name: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(prefix) && l.contains(name))
            .unwrap_or_else(|| panic!("no `{prefix}` line for {name} in:\n{listing}"))
            .to_string()
    };
    assert!(line("loaded", "libgood.so").contains("example"));
    assert!(line("loaded", "libgood.so").contains("conjugate"));
    let old = line("FAILED", "libold_weir.so");
    assert!(
        old.contains(&format!(
            "built against weir {other_version}, this is weir {host_version}"
        )),
        "{old}"
    );
    let rustc = line("FAILED", "libother_rustc.so");
    assert!(
        rustc.contains(&format!("built with {other_rustc}"))
            && rustc.contains(&format!("this weir was built with {host_rustc}")),
        "{rustc}"
    );
    assert!(line("FAILED", "libnot_a_library.so").contains("cannot load library"));

    // Every other command warns about each refused plugin on stderr and still works.
    let out = weir(dir.path(), &["blocks", "conjugate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("conjugate"));
    let warnings = text(&out.stderr);
    assert_eq!(
        warnings.matches("warning: plugin not loaded").count(),
        3,
        "{warnings}"
    );
}

#[test]
fn a_library_without_a_declaration_is_not_a_plugin() {
    // Any shared library that is not a weir plugin: the C library is always there.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists());
    let Some(libc) = libc else {
        panic!("no libc.so.6 found in the usual Debian places");
    };
    let err = weir::registry().load_plugin(libc).unwrap_err();
    assert_eq!(err, weir_core::dynamic::PluginError::NotAPlugin);
}

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

/// Writes [`FLOWGRAPH`] to `dir/conjugate.toml`: the file, and the `--set` argument that puts
/// its outputs in `dir`.
fn write_flowgraph(dir: &Path) -> (PathBuf, String) {
    let file = dir.join("conjugate.toml");
    std::fs::write(&file, FLOWGRAPH).expect("write flowgraph");
    (file, format!("dir={}", dir.display()))
}

#[test]
fn plugin_block_runs_in_a_flowgraph_file() {
    let plugins = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        plugin_library(),
        plugins.path().join("libweir_plugin_example.so"),
    )
    .expect("copy plugin");
    let work = tempfile::tempdir().expect("tempdir");
    let (file, dir) = write_flowgraph(work.path());

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

/// A copy of the plugin in `dir` under `name` whose dynamic symbol `WEIR_PLUGIN_DECLARATION`
/// has been changed by `patch(st_shndx, st_value, st_size)` (ELF64, little-endian: the test
/// machine's format), as a library built with a hostile linker script would present it.
fn patched_declaration_symbol(
    dir: &Path,
    name: &str,
    patch: impl Fn(&mut u16, &mut u64, &mut u64),
) -> PathBuf {
    let mut b = std::fs::read(plugin_library()).expect("read plugin");
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    assert_eq!(&b[..4], b"\x7fELF", "an ELF file");
    assert_eq!((b[4], b[5]), (2, 1), "ELF64, little-endian");
    let shoff = u64_at(&b, 0x28) as usize;
    let (shentsize, shnum) = (u16_at(&b, 0x3a) as usize, u16_at(&b, 0x3c) as usize);
    let section = |i: usize| shoff + i * shentsize;
    let dynsym = (0..shnum)
        .map(section)
        .find(|&s| u32_at(&b, s + 4) == 11) // SHT_DYNSYM
        .expect("a .dynsym section");
    let dynstr = section(u32_at(&b, dynsym + 40) as usize);
    let (sym_off, sym_size) = (
        u64_at(&b, dynsym + 24) as usize,
        u64_at(&b, dynsym + 32) as usize,
    );
    let str_off = u64_at(&b, dynstr + 24) as usize;
    let wanted = b"WEIR_PLUGIN_DECLARATION\0";
    let entry = (sym_off..sym_off + sym_size)
        .step_by(24)
        .find(|&e| {
            let n = str_off + u32_at(&b, e) as usize;
            b[n..].starts_with(wanted)
        })
        .expect("the declaration symbol");
    let (mut shndx, mut value, mut size) = (
        u16_at(&b, entry + 6),
        u64_at(&b, entry + 8),
        u64_at(&b, entry + 16),
    );
    patch(&mut shndx, &mut value, &mut size);
    b[entry + 6..entry + 8].copy_from_slice(&shndx.to_le_bytes());
    b[entry + 8..entry + 16].copy_from_slice(&value.to_le_bytes());
    b[entry + 16..entry + 24].copy_from_slice(&size.to_le_bytes());
    let path = dir.join(name);
    std::fs::write(&path, b).expect("write patched plugin");
    path
}

/// The `weir plugins` line for `name`, which must start with `prefix`.
fn listed(dir: &Path, prefix: &str, name: &str) -> String {
    let out = weir(dir, &["plugins"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    listing
        .lines()
        .find(|l| l.starts_with(prefix) && l.contains(name))
        .unwrap_or_else(|| panic!("no `{prefix}` line for {name} in:\n{listing}"))
        .to_string()
}

#[test]
fn a_null_or_misfit_declaration_symbol_is_refused_not_dereferenced() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Defined as the absolute value 0: dlsym succeeds with NULL (weir dereferenced it: SIGSEGV).
    patched_declaration_symbol(dir.path(), "libnull.so", |shndx, value, _| {
        *shndx = 0xfff1; // SHN_ABS
        *value = 0;
    });
    patched_declaration_symbol(dir.path(), "libsmall.so", |_, _, size| *size = 8);
    let null = listed(dir.path(), "FAILED", "libnull.so");
    assert!(
        null.contains("`WEIR_PLUGIN_DECLARATION` is NULL: not a weir plugin"),
        "{null}"
    );
    let small = listed(dir.path(), "FAILED", "libsmall.so");
    let expected = std::mem::size_of::<weir_core::dynamic::PluginDeclaration>();
    assert!(
        small.contains(&format!(
            "`WEIR_PLUGIN_DECLARATION` is 8 bytes, a declaration of layout {} is {expected}",
            weir_core::dynamic::LAYOUT
        )),
        "{small}"
    );
}

#[test]
fn a_plugin_built_from_other_sources_is_refused_as_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = weir_core::dynamic::INTERFACE_HASH;
    // Another hash of the same length: the plugin saw other weir-core sources or Cargo.lock.
    let other: String = host
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    patched_copy(dir.path(), "libstale.so", host, &other);
    let stale = listed(dir.path(), "FAILED", "libstale.so");
    assert!(
        stale.contains(&format!(
            "built from other weir-core sources or another Cargo.lock (interface hash {other}, \
             this weir's is {host}): a stale plugin; rebuild it against this weir"
        )),
        "{stale}"
    );
}

#[test]
fn relative_and_writable_plugin_places_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(plugin_library(), dir.path().join("libgood.so")).expect("copy plugin");
    let (flowgraph, set) = write_flowgraph(dir.path());
    let guard = std::time::Duration::from_secs(120);
    // `.` would load whatever library is in the current directory: refused, and the file that
    // needs the plugin is then refused for its unknown block type.
    let out = crate::support::weir_in(
        dir.path(),
        &[("WEIR_PLUGIN_PATH", ".")],
        &["check", flowgraph.to_str().unwrap(), "--set", &set],
        guard,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("warning: plugin not loaded: .: not an absolute path: refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown block type `conjugate`"),
        "{stderr}"
    );

    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    // A library others may write.
    mode(&dir.path().join("libgood.so"), 0o646);
    let file = listed(dir.path(), "FAILED", "libgood.so");
    assert!(
        file.contains("mode 0646 lets others write it: refused"),
        "{file}"
    );
    mode(&dir.path().join("libgood.so"), 0o755);
    assert!(listed(dir.path(), "loaded", "libgood.so").contains("conjugate"));
    // A directory the group may write.
    mode(dir.path(), 0o770);
    let place = listed(dir.path(), "FAILED", &dir.path().display().to_string());
    assert!(
        place.contains("mode 0770 lets group write it: refused"),
        "{place}"
    );
    mode(dir.path(), 0o700);
}

#[test]
fn check_and_blocks_load_plugins_only_when_needed_or_asked() {
    // A library whose load fails: a warning shows exactly when weir tried to load it.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(plugin_library(), dir.path().join("libgood.so")).expect("copy plugin");
    std::fs::write(dir.path().join("libbroken.so"), "not ELF").expect("write");
    let builtin = dir.path().join("builtin.toml");
    std::fs::write(
        &builtin,
        "connections = [\"s.out -> n.in\"]\n[blocks.s]\ntype = \"null_source\"\n\
         [blocks.n]\ntype = \"null_sink\"\n",
    )
    .expect("write");
    let out = weir(dir.path(), &["check", builtin.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("plugin"),
        "{}",
        text(&out.stderr)
    );
    let out = weir(dir.path(), &["blocks"]);
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("plugin"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("conjugate"));
    // Asked for: loaded.
    let out = weir(dir.path(), &["blocks", "--plugins"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("conjugate"));
    assert!(
        text(&out.stderr).contains("warning: plugin not loaded"),
        "{}",
        text(&out.stderr)
    );
    // A file that needs the plugin: loaded.
    let (needs, set) = write_flowgraph(dir.path());
    let out = weir(
        dir.path(),
        &["check", needs.to_str().unwrap(), "--set", &set],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: plugin not loaded"));
}

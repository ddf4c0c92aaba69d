//! Records what a plugin library must share with the weir that loads it (see `src/dynamic.rs`):
//!
//! - the compiler that builds weir-core, so a plugin built by another compiler is refused before
//!   any Rust type crosses the boundary;
//! - a hash of the files that define the plugin interface — weir-core's sources and manifest and
//!   the workspace's `Cargo.lock` (which pins FutureSDR and everything else a block's types are
//!   made of) — so a plugin built from other sources (a stale build, an older checkout) is
//!   refused even when the version and the compiler match: the `TypeId`s weir also compares do
//!   not change when a struct's fields do.

use std::path::{Path, PathBuf};
use std::process::Command;

/// FNV-1a, 64 bits: stable across compilers and platforms (std's hashers promise neither).
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("cannot run `{rustc} -V` to record the compiler version"));
    println!("cargo:rustc-env=WEIR_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    sources(&manifest.join("src"), &mut files);
    files.sort();
    files.push(manifest.join("Cargo.toml"));
    // The workspace's lockfile, two levels up (crates/weir-core); a weir-core built outside
    // this workspace (from a registry) hashes its sources alone.
    let lock = manifest.join("../../Cargo.lock");
    if lock.is_file() {
        files.push(lock);
    }
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let relative = f.strip_prefix(&manifest).unwrap_or(f);
        fnv1a(&mut hash, relative.to_string_lossy().as_bytes());
        fnv1a(
            &mut hash,
            &std::fs::read(f).unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display())),
        );
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rustc-env=WEIR_INTERFACE_HASH={hash:016x}");
}

//! Records the compiler that builds weir-core, so a plugin library built by another compiler is
//! refused before any Rust type crosses the boundary (see `src/dynamic.rs`).

use std::process::Command;

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
}

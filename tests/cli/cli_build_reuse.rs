//! README's two commands share one build: `cargo test --workspace` must find every crate that
//! `cargo run` built, with the same features, or it compiles FutureSDR and every weir crate a
//! second time (a dev-dependency adding one feature deep in the graph is enough). The root
//! `Cargo.toml` requests those features for the `weir` package ("Build reuse"); this test fails,
//! naming the crates, when the two feature sets drift apart again.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Every package of the build with its resolved features, as `cargo tree` prints them.
fn resolved_features(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut packages = BTreeMap::<String, BTreeSet<String>>::new();
    for line in String::from_utf8(out.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
    {
        // `name vX.Y.Z [(path)] [(proc-macro)] [f1,f2] [(*)]`
        let Some((package, rest)) = line.split_once(" [") else {
            continue;
        };
        let features = rest.split(']').next().unwrap_or_default();
        packages.entry(package.to_string()).or_default().extend(
            features
                .split(',')
                .filter(|f| !f.is_empty())
                .map(String::from),
        );
    }
    packages
}

#[test]
fn cargo_test_reuses_every_crate_cargo_run_built() {
    // What `cargo run` builds: the `weir` package and its normal and build dependencies.
    let run = resolved_features(&["--package", "weir", "--edges", "normal,build"]);
    // What `cargo test --workspace` builds: every member with its dev-dependencies.
    let test = resolved_features(&["--workspace", "--edges", "normal,build,dev"]);
    assert!(
        run.len() > 100 && run.contains_key("futuresdr v0.0.40"),
        "cargo tree's output was not understood: {run:?}"
    );
    let drifted: Vec<String> = run
        .iter()
        .filter_map(|(package, features)| {
            let in_test = test.get(package)?;
            (in_test != features).then(|| {
                format!(
                    "{package}: `cargo run` builds it with {features:?}, `cargo test` with {in_test:?}"
                )
            })
        })
        .collect();
    assert!(
        drifted.is_empty(),
        "these crates would be compiled twice (request the test build's features in the root \
         Cargo.toml, \"Build reuse\"):\n{}",
        drifted.join("\n")
    );
}

#[test]
fn every_proc_macro_of_the_build_is_compiled_unoptimised() {
    // `[profile.dev.package."*"]` (opt-level 3 for the dependencies) takes precedence over
    // `build-override`, so a proc macro gets opt-level 0 only when the root Cargo.toml names it.
    let test = resolved_features(&["--workspace", "--edges", "normal,build,dev"]);
    let proc_macros: BTreeSet<&str> = test
        .keys()
        .filter(|p| p.ends_with("(proc-macro)"))
        .filter_map(|p| p.split(' ').next())
        .collect();
    assert!(
        proc_macros.contains("serde_derive"),
        "cargo tree's proc macros were not understood: {proc_macros:?}"
    );
    let manifest: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .expect("reading Cargo.toml")
            .parse()
            .expect("Cargo.toml is TOML");
    let packages = &manifest["profile"]["dev"]["package"];
    let missing: Vec<&str> = proc_macros
        .iter()
        .copied()
        .filter(|name| {
            packages
                .get(*name)
                .and_then(|p| p.get("opt-level"))
                .and_then(toml::Value::as_integer)
                != Some(0)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these proc macros are compiled at opt-level 3 (add `[profile.dev.package.NAME]` with \
         `opt-level = 0` to the root Cargo.toml): {missing:?}"
    );
}

#[test]
fn the_build_script_crate_has_no_dependencies_not_even_for_its_tests() {
    // weir-plugin-build is both a build-dependency (of every plugin) and a tested workspace
    // member, and cargo then activates its dev-dependencies in the build-script graph too:
    // `tempfile` there added `once_cell/std` to the proc macros' once_cell, and
    // `cargo test --workspace` compiled const-random's proc macro and FutureSDR a second time
    // (which `cargo tree` above cannot see: it merges build-script and target features).
    let tree = resolved_features(&[
        "--package",
        "weir-plugin-build",
        "--edges",
        "normal,build,dev",
    ]);
    assert!(
        tree.len() == 1 && tree.keys().all(|p| p.starts_with("weir-plugin-build ")),
        "weir-plugin-build must depend on nothing but std: {tree:?}"
    );
}

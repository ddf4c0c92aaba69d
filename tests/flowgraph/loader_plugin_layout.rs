//! A block is one file named after it, which its plugin's build script registers, and its
//! plugin's README names it (docs/writing-a-block.md): every registered block of every bundled plugin has
//! `src/<type name>.rs` and is mentioned, as `` `<type name>` ``, in the plugin's README.md.

use std::path::Path;

use weir_core::{Plugin, Registry};

fn plugins() -> Vec<(&'static str, Box<dyn Plugin>)> {
    vec![
        ("plugins/iio", Box::new(weir_plugin_iio::IioPlugin)),
        ("plugins/dsp", Box::new(weir_plugin_dsp::DspPlugin)),
        ("plugins/seify", Box::new(weir_plugin_seify::SeifyPlugin)),
        ("plugins/net", Box::new(weir_plugin_net::NetPlugin)),
        ("plugins/sigmf", Box::new(weir_plugin_sigmf::SigmfPlugin)),
        (
            "examples/plugin",
            Box::new(weir_plugin_example::ExamplePlugin),
        ),
    ]
}

#[test]
fn every_registered_block_has_its_own_file_and_is_in_its_plugin_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut blocks = 0;
    for (dir, plugin) in plugins() {
        let registry = Registry::new().with_plugin(plugin.as_ref());
        let readme_path = root.join(dir).join("README.md");
        let readme = std::fs::read_to_string(&readme_path).unwrap_or_default();
        for name in registry.type_names() {
            blocks += 1;
            let file = root.join(dir).join("src").join(format!("{name}.rs"));
            if !file.exists() {
                problems.push(format!("{dir}: `{name}` is not in {}", file.display()));
            }
            if !readme.contains(&format!("`{name}`")) {
                problems.push(format!(
                    "{dir}: `{name}` is not mentioned in {}",
                    readme_path.display()
                ));
            }
        }
    }
    assert!(blocks > 30, "only {blocks} blocks registered");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_guide_shows_the_worked_example_as_it_is_compiled_and_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/writing-a-block.md")).expect("guide");
    let file =
        std::fs::read_to_string(root.join("examples/plugin/src/conjugate.rs")).expect("example");
    // The guide's long code block is the file up to its unit tests.
    let shown = guide
        .split("```rust\n")
        .skip(1) // the prose before the first block
        .filter_map(|block| block.split("```").next())
        .max_by_key(|block| block.len())
        .expect("a rust code block");
    let compiled = file.split("\n#[cfg(test)]").next().expect("file");
    assert_eq!(shown.trim_end(), compiled.trim_end());
    // And the plugin registers it as the guide says: through the generated `register_blocks`,
    // with no line of its own in lib.rs.
    let lib = std::fs::read_to_string(root.join("examples/plugin/src/lib.rs")).expect("lib.rs");
    assert!(lib.contains("include!(concat!(env!(\"OUT_DIR\"), \"/blocks.rs\"));"));
    assert!(lib.contains("plugin! {"), "{lib}");
    assert!(!lib.contains("mod conjugate"), "{lib}");
    assert!(guide.contains("register_blocks(registry)"));
    assert!(guide.contains("plugin! {"));
}

//! Bad flowgraph files give a located error (file:line:column, block) and never panic.

use weir_core::FlowgraphSpec;

fn error_of(text: &str) -> weir_core::LoadError {
    match FlowgraphSpec::parse(text, "bad.toml", &weir::registry()) {
        Ok(_) => panic!("flowgraph should have been rejected:\n{text}"),
        Err(e) => e,
    }
}

const GOOD_TAIL: &str = r#"
[blocks.sink]
type = "null_sink"
item = "ci16"
"#;

#[test]
fn valid_flowgraph_loads() {
    let text = format!(
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n{GOOD_TAIL}"
    );
    let spec = FlowgraphSpec::parse(&text, "good.toml", &weir::registry()).expect("loads");
    assert_eq!(spec.blocks.len(), 2);
    assert_eq!(spec.connections.len(), 1);
}

#[test]
fn unknown_block_type_suggests_the_closest_name() {
    let e = error_of("[blocks.src]\ntype = \"dmabuf_sorce\"\n");
    assert_eq!((e.line, e.column), (2, 8));
    assert_eq!(e.block.as_deref(), Some("src"));
    assert!(
        e.message.contains("unknown block type `dmabuf_sorce`"),
        "{e}"
    );
    assert!(e.message.contains("did you mean `dmabuf_source`"), "{e}");
    assert!(
        e.to_string().starts_with("bad.toml:2:8: block `src`: "),
        "{e}"
    );
}

#[test]
fn unknown_parameter_is_located_at_its_key() {
    let e = error_of("[blocks.src]\ntype = \"dmabuf_source\"\nsamples_per_blok = 10\n");
    assert_eq!((e.line, e.column), (3, 1));
    assert_eq!(e.block.as_deref(), Some("src"));
    assert!(e.message.contains("unknown parameter"), "{e}");
    assert!(
        e.message.contains("did you mean `samples_per_block`"),
        "{e}"
    );
}

#[test]
fn wrong_value_type_names_expected_and_found() {
    let e = error_of("[blocks.src]\ntype = \"dmabuf_source\"\n  blocks = \"four\"\n");
    assert_eq!((e.line, e.column), (3, 3));
    assert!(e.message.contains("expects integer, found string"), "{e}");
}

#[test]
fn bad_item_type_value_is_rejected() {
    let e = error_of("[blocks.h]\ntype = \"null_sink\"\nitem = \"c64\"\n");
    assert_eq!((e.line, e.column), (3, 1));
    assert!(e.message.contains("unknown item type `c64`"), "{e}");
}

#[test]
fn wrong_list_element_type_is_located_at_the_element() {
    let e = error_of("[blocks.f]\ntype = \"fir\"\ntaps = [0.5, 1, \"two\"]\n");
    assert_eq!((e.line, e.column), (3, 17), "{e}");
    assert_eq!(e.block.as_deref(), Some("f"));
    assert!(
        e.message
            .contains("list element 3 is a string (\"two\"); lists hold numbers only"),
        "{e}"
    );
    // In [vars] too.
    let e = error_of("[vars]\ntaps = [1, [2]]\n");
    assert_eq!((e.line, e.column), (2, 12), "{e}");
    assert!(
        e.message
            .contains("variable `taps`: list element 2 is a array"),
        "{e}"
    );
}

#[test]
fn bad_port_name_lists_the_ports() {
    let text = format!(
        "connections = [\n  \"src.output -> sink.in\",\n]\n[blocks.src]\ntype = \"dmabuf_source\"\n{GOOD_TAIL}"
    );
    let e = error_of(&text);
    assert_eq!((e.line, e.column), (2, 3));
    assert_eq!(e.block.as_deref(), Some("src"));
    assert!(e.message.contains("no output port `output`"), "{e}");
    assert!(e.message.contains("outputs: out"), "{e}");
}

#[test]
fn unknown_block_in_connection() {
    let text = format!(
        "connections = [\"scr.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n{GOOD_TAIL}"
    );
    let e = error_of(&text);
    assert_eq!((e.line, e.column), (1, 16));
    assert!(e.message.contains("unknown block `scr`"), "{e}");
    assert!(e.message.contains("did you mean `src`"), "{e}");
}

#[test]
fn malformed_toml_is_located() {
    let e = error_of("[blocks.src]\ntype = \"dmabuf_source\nblocks = 4\n");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.column > 1, "{e}");
    assert!(e.block.is_none());
}

#[test]
fn unknown_top_level_key_is_rejected() {
    let e = error_of("conections = []\n");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains("conections"), "{e}");
}

#[test]
fn item_type_mismatch_names_both_ends() {
    let text = "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"cf32\"\n";
    let e = error_of(text);
    assert_eq!((e.line, e.column), (1, 16));
    assert!(
        e.message
            .contains("`src.out` produces ci16 but `sink.in` takes cf32"),
        "{e}"
    );
}

#[test]
fn unconnected_input_is_reported() {
    let e = error_of("[blocks.sink]\ntype = \"null_sink\"\n");
    assert_eq!((e.line, e.column), (2, 8));
    assert!(e.message.contains("input `in` is not connected"), "{e}");
}

#[test]
fn input_connected_twice_is_reported() {
    let text = format!(
        "connections = [\"a.out -> sink.in\", \"b.out -> sink.in\"]\n[blocks.a]\ntype = \"dmabuf_source\"\n[blocks.b]\ntype = \"dmabuf_source\"\n{GOOD_TAIL}"
    );
    let e = error_of(&text);
    assert_eq!((e.line, e.column), (1, 36));
    assert!(e.message.contains("connected twice"), "{e}");
}

#[test]
fn missing_required_parameter() {
    let e = error_of(
        "connections = [\"src.out -> h.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.h]\ntype = \"head\"\nitem = \"ci16\"\n",
    );
    assert_eq!(e.block.as_deref(), Some("h"));
    assert!(e.message.contains("parameter `items`"), "{e}");
    assert!(e.message.contains("not given"), "{e}");
}

#[test]
fn build_errors_are_located_too() {
    let text = "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\ndevice = \"iio:device7\"\nsysfs_root = \"/nonexistent/iio\"\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"ci16\"\n";
    let registry = weir::registry();
    let spec = FlowgraphSpec::parse(text, "dev.toml", &registry).expect("parses");
    let Err(e) = spec.build(&registry) else {
        panic!("an unknown device must not build");
    };
    assert_eq!((e.line, e.column), (4, 1), "at the `device` parameter: {e}");
    assert!(
        e.message.contains("cannot open IIO device `iio:device7`"),
        "{e}"
    );
}

#[test]
fn the_cli_reports_bad_input_with_exit_status_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[blocks.src]\ntype = \"nope\"\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", path.to_str().expect("utf-8 path")])
        .output()
        .expect("run weir");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml:2:8: block `src`: unknown block type `nope`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

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

/// Errors located at a line and column, their message holding each of the expected parts.
#[test]
fn load_errors_are_located_and_say_what_is_wrong() {
    // (case, flowgraph, (line, column), the block named if the case checks it, message parts)
    type Case = (
        &'static str,
        String,
        (usize, usize),
        Option<&'static str>,
        &'static [&'static str],
    );
    let cases: [Case; 7] = [
        (
            "unknown parameter, located at its key",
            "[blocks.src]\ntype = \"dmabuf_source\"\nsamples_per_blok = 10\n".into(),
            (3, 1),
            Some("src"),
            &["unknown parameter", "did you mean `samples_per_block`"],
        ),
        (
            "wrong value type: expected and found named",
            "[blocks.src]\ntype = \"dmabuf_source\"\n  blocks = \"four\"\n".into(),
            (3, 3),
            None,
            &["expects integer, found string"],
        ),
        (
            "bad item type value",
            "[blocks.h]\ntype = \"null_sink\"\nitem = \"c64\"\n".into(),
            (3, 1),
            None,
            &["unknown item type `c64`"],
        ),
        (
            "bad port name: the ports listed",
            format!(
                "connections = [\n  \"src.output -> sink.in\",\n]\n[blocks.src]\ntype = \"dmabuf_source\"\n{GOOD_TAIL}"
            ),
            (2, 3),
            Some("src"),
            &["no output port `output`", "outputs: out"],
        ),
        (
            "unknown block in a connection",
            format!(
                "connections = [\"scr.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n{GOOD_TAIL}"
            ),
            (1, 16),
            None,
            &["unknown block `scr`", "did you mean `src`"],
        ),
        (
            "unknown top-level key",
            "conections = []\n".into(),
            (1, 1),
            None,
            &["conections"],
        ),
        (
            "unconnected input",
            "[blocks.sink]\ntype = \"null_sink\"\n".into(),
            (2, 8),
            None,
            &["input `in` is not connected"],
        ),
    ];
    for (case, text, at, block, parts) in cases {
        let e = error_of(&text);
        assert_eq!((e.line, e.column), at, "{case}: {e}");
        if let Some(block) = block {
            assert_eq!(e.block.as_deref(), Some(block), "{case}: {e}");
        }
        for part in parts {
            assert!(e.message.contains(part), "{case}: `{part}` not in {e}");
        }
    }
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
    let out = crate::support::weir(&["run", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml:2:8: block `src`: unknown block type `nope`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// ---- Every validation error kind: file, line, column, block and message ------------------

/// Check a rejected flowgraph's error completely: `bad.toml:line:column`, the block, the key
/// words of the message, and the one-line form.
fn assert_error(text: &str, at: (usize, usize), block: Option<&str>, words: &[&str]) {
    let e = error_of(text);
    assert_eq!(e.file, "bad.toml", "{e}");
    assert_eq!((e.line, e.column), at, "{e}");
    assert_eq!(e.position(), Some(at));
    assert_eq!(e.block.as_deref(), block, "{e}");
    for w in words {
        assert!(e.message.contains(w), "`{w}` not in: {e}");
    }
    let prefix = match block {
        Some(b) => format!("bad.toml:{}:{}: block `{b}`: ", at.0, at.1),
        None => format!("bad.toml:{}:{}: ", at.0, at.1),
    };
    assert!(e.to_string().starts_with(&prefix), "{e}");
}

/// A source feeding a sink, with `connections` and extra blocks given.
fn with_connections(connections: &str, extra: &str) -> String {
    format!(
        "connections = [{connections}]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"ci16\"\n{extra}"
    )
}

#[test]
fn error_malformed_toml() {
    assert_error(
        "[blocks.src]\ntype = \"dmabuf_source\nblocks = 4\n",
        (2, 22),
        None,
        &["invalid basic string"],
    );
}

#[test]
fn error_missing_type() {
    assert_error(
        "[blocks.src]\nblocks = 4\n",
        (1, 9),
        Some("src"),
        &["missing `type = \"...\"`"],
    );
}

#[test]
fn error_type_not_a_string() {
    assert_error(
        "[blocks.src]\ntype = 4\n",
        (2, 8),
        Some("src"),
        &["`type` must be a string naming a block type"],
    );
}

#[test]
fn error_missing_parameter() {
    assert_error(
        &with_connections(
            "\"src.out -> h.in\", \"h.out -> sink.in\"",
            "[blocks.h]\ntype = \"head\"\nitem = \"ci16\"\n",
        ),
        (7, 1),
        Some("h"),
        &["parameter `items`: required by block type `head` but not given"],
    );
}

#[test]
fn error_out_of_range() {
    assert_error(
        "[blocks.src]\ntype = \"dmabuf_source\"\nblocks = 2000\n",
        (3, 1),
        Some("src"),
        &["parameter `blocks`: must be 1 ..= 1024, found 2000"],
    );
}

#[test]
fn error_unknown_message_port() {
    assert_error(
        &with_connections(
            "\"src.out -> sink.in\",\n  \"strobe.out => sink.gain\"",
            "[blocks.strobe]\ntype = \"message_strobe\"\nvalue = 1.0\n",
        ),
        (2, 3),
        Some("sink"),
        &["no message input `gain` on `sink` (null_sink); message inputs: none"],
    );
    assert_error(
        &with_connections(
            "\"src.out -> sink.in\",\n  \"strobe.outt => sink.gain\"",
            "[blocks.strobe]\ntype = \"message_strobe\"\nvalue = 1.0\n",
        ),
        (2, 3),
        Some("strobe"),
        &[
            "no message output `outt` on `strobe` (message_strobe); message outputs: out",
            "did you mean `out`",
        ],
    );
}

#[test]
fn error_item_type_mismatch() {
    assert_error(
        "connections = [\"src.out -> sink.in\"]\n[blocks.src]\ntype = \"dmabuf_source\"\n[blocks.sink]\ntype = \"null_sink\"\nitem = \"cf32\"\n",
        (1, 16),
        Some("sink"),
        &["item types differ: `src.out` produces ci16 but `sink.in` takes cf32"],
    );
}

#[test]
fn error_input_connected_twice() {
    assert_error(
        &with_connections(
            "\n  \"src.out -> sink.in\",\n  \"b.out -> sink.in\",\n",
            "[blocks.b]\ntype = \"dmabuf_source\"\n",
        ),
        (3, 3),
        Some("sink"),
        &[
            "input `in` is connected twice: `b.out -> sink.in` after `src.out -> sink.in` (line 2, column 3)",
        ],
    );
}

#[test]
fn error_buffer_smaller_than_a_readers_chunk() {
    assert_error(
        "connections = [\n  \"src.out -> fft.in\",\n  { connect = \"fft.out -> sink.in\", buffer = 10 },\n  { connect = \"fft.out -> sink2.in\", buffer = 10 },\n]\n[blocks.src]\ntype = \"dmabuf_source\"\nitem = \"cf32\"\n[blocks.fft]\ntype = \"fft\"\nlen = 16\n[blocks.sink]\ntype = \"fft\"\nlen = 16\n[blocks.sink2]\ntype = \"null_sink\"\n",
        (3, 3),
        Some("sink"),
        &[
            "`sink.in` needs 16 items per call but the buffer from `fft.out` holds 10: the flowgraph would stall",
        ],
    );
}

#[test]
fn error_bad_connection_syntax() {
    assert_error(
        &with_connections("\"src.out sink.in\"", ""),
        (1, 16),
        None,
        &[
            "`src.out sink.in` is not a connection; write \"block.port -> block.port\" for streams or \"block.port => block.port\" for messages",
        ],
    );
}

#[test]
fn error_bad_block_port_syntax() {
    assert_error(
        &with_connections("\"src -> sink.in\"", ""),
        (1, 16),
        None,
        &["`src` is not `block.port` in connection `src -> sink.in`"],
    );
    assert_error(
        &with_connections("\"src.out -> .in\"", ""),
        (1, 16),
        None,
        &["`.in` is not `block.port` in connection `src.out -> .in`"],
    );
}

#[test]
fn error_non_positive_buffer() {
    assert_error(
        &with_connections(
            "\n  \"src.out -> conv.in\",\n  { connect = \"conv.out -> h.in\", buffer = -5 },\n  \"h.out -> sink.in\",\n",
            "[blocks.conv]\ntype = \"ci16_to_cf32\"\n[blocks.h]\ntype = \"head\"\nitems = 1\n",
        )
        .replace("item = \"ci16\"\n", ""),
        (3, 3),
        None,
        &["`buffer` must be a positive number of items, found -5"],
    );
}

#[test]
fn error_buffer_on_a_message_connection() {
    assert_error(
        &with_connections(
            "\"src.out -> sink.in\",\n  { connect = \"strobe.out => strobe2.in\", buffer = 64 }",
            "[blocks.strobe]\ntype = \"message_strobe\"\nvalue = 1.0\n[blocks.strobe2]\ntype = \"message_sink\"\n",
        ),
        (2, 3),
        None,
        &["`buffer` applies to stream connections, not messages"],
    );
}

#[test]
fn error_unknown_set_variable_is_a_command_line_error() {
    let text = "[vars]\nn = 5\n[blocks.src]\ntype = \"dmabuf_source\"\n";
    let e = FlowgraphSpec::parse_with(
        text,
        "bad.toml",
        &weir::registry(),
        &[("m".to_string(), "7".to_string())],
    )
    .expect_err("undeclared variable");
    assert_eq!(e.position(), None, "not a place in the file: {e}");
    assert_eq!(e.file, "bad.toml");
    assert_eq!(e.block, None);
    assert_eq!(
        e.to_string(),
        "bad.toml: command line: --set m=7: the flowgraph has no variable `m` (variables: n) (did you mean `n`?)"
    );
}

#[test]
fn the_rendered_report_shows_the_line_and_underlines_the_span() {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let e = error_of("[blocks.src]\ntype = \"dmabuf_sorce\"\n");
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(200)
        .render_report(&mut out, &e)
        .expect("renders");
    let lines: Vec<&str> = out.lines().collect();
    assert!(out.contains("[bad.toml:2:8]"), "{out}");
    let source = lines
        .iter()
        .position(|l| l.ends_with("type = \"dmabuf_sorce\""))
        .unwrap_or_else(|| panic!("the offending line is shown:\n{out}"));
    // The line below underlines `"dmabuf_sorce"` (14 characters, quotes included) exactly.
    let code_start = lines[source].find("type").expect("code") + "type = ".len();
    let underline = lines[source + 1];
    let marks: Vec<usize> = underline
        .char_indices()
        .filter(|(_, c)| matches!(c, '─' | '┬' | '^'))
        .map(|(i, _)| underline[..i].chars().count())
        .collect();
    let code_start = lines[source][..code_start].chars().count();
    assert_eq!(
        marks.first().copied(),
        Some(code_start),
        "underline starts under the value:\n{out}"
    );
    assert_eq!(marks.len(), 14, "underline spans the value:\n{out}");
    assert!(out.contains("here"), "the label:\n{out}");
    assert!(
        out.contains("`weir blocks` lists the block types"),
        "the help:\n{out}"
    );
}

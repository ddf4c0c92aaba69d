//! `weir graph`: the DOT it prints, read back with a real DOT parser, is the flowgraph; with
//! Graphviz installed `--svg` writes a real SVG, and without it the error says so.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use dot_parser::{ast, canonical};
use weir_core::FlowgraphSpec;
use weir_core::flowgraph::ConnectionKind;

use crate::support::{TONE_GAIN, weir};

/// A DOT id without its quotes (the parser keeps them on node ids); escapes are not decoded.
fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// Attributes as a map.
fn attrs(list: &[(String, String)]) -> BTreeMap<String, String> {
    list.iter().map(|(k, v)| (unquote(k), unquote(v))).collect()
}

#[test]
fn graph_dot_parses_back_to_the_flowgraph() {
    // --set works as for run and check (the graph has no parameters, it must still load).
    let out = weir(&["graph", TONE_GAIN, "--set", "samples=5"]);
    assert!(out.status.success(), "{out:?}");
    let dot = String::from_utf8(out.stdout).expect("utf-8");
    let parsed = ast::Graph::try_from(dot.as_str()).unwrap_or_else(|e| panic!("{e}\n{dot}"));
    let graph: canonical::Graph<(String, String)> =
        canonical::Graph::from(parsed).filter_map(|(k, v)| Some((k.into(), v.into())));
    assert!(graph.is_digraph);

    let spec =
        FlowgraphSpec::load(std::path::Path::new(TONE_GAIN), &weir::registry()).expect("loads");

    // Nodes: one per block, labelled with name and type on two lines (`\n` is Graphviz's
    // line break; a doubled backslash would show literally).
    let nodes: BTreeMap<String, BTreeMap<String, String>> = graph
        .nodes
        .set
        .iter()
        .map(|(id, n)| (unquote(id), attrs(&n.attr.elems)))
        .collect();
    let expected: BTreeSet<String> = spec.blocks.iter().map(|b| b.name.clone()).collect();
    assert_eq!(nodes.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for b in &spec.blocks {
        let label = &nodes[&b.name]["label"];
        assert_eq!(label, &format!("{}\\n{}", b.name, b.type_name), "{dot}");
    }

    // Edges: one per connection, with port names; streams carry the item type, messages are
    // dashed.
    let edges: Vec<(String, String, BTreeMap<String, String>)> = graph
        .edges
        .set
        .iter()
        .map(|e| (unquote(&e.from), unquote(&e.to), attrs(&e.attr.elems)))
        .collect();
    assert_eq!(edges.len(), spec.connections.len(), "{dot}");
    for c in &spec.connections {
        let edge = edges
            .iter()
            .find(|(from, to, a)| {
                *from == c.from.block
                    && *to == c.to.block
                    && a["label"].starts_with(&format!("{} ", c.from.port))
            })
            .unwrap_or_else(|| panic!("no edge for {c:?} in\n{dot}"));
        let a = &edge.2;
        match c.kind {
            ConnectionKind::Stream => {
                let item = spec
                    .block(&c.from.block)
                    .and_then(|b| b.ports.outputs.iter().find(|p| p.name == c.from.port))
                    .expect("output port")
                    .item;
                assert_eq!(
                    a["label"],
                    format!("{} → {} ({item})", c.from.port, c.to.port)
                );
                assert!(!a.contains_key("style"), "{a:?}");
            }
            ConnectionKind::Message => {
                assert_eq!(a["label"], format!("{} ⇒ {}", c.from.port, c.to.port));
                assert_eq!(a["style"], "dashed");
            }
        }
    }
    // Both kinds are in this flowgraph, so both branches above ran.
    assert!(
        spec.connections
            .iter()
            .any(|c| c.kind == ConnectionKind::Message)
    );
}

fn dot_installed() -> bool {
    Command::new("dot").arg("-V").output().is_ok()
}

#[test]
fn graph_svg_is_rendered_by_graphviz() {
    if !dot_installed() {
        // CI installs graphviz (.ci/run), so there this test must run.
        assert!(
            std::env::var_os("CI").is_none(),
            "Graphviz `dot` is not installed"
        );
        eprintln!("skipped: Graphviz `dot` is not installed (apt-get install graphviz)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("out.svg");
    let out = weir(&["graph", TONE_GAIN, "--svg", svg.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).expect("svg written");
    // Graphviz writes a DOCTYPE, which roxmltree refuses unless asked.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options).expect("the SVG is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    // Every block is drawn with its name and type.
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .collect();
    let spec =
        FlowgraphSpec::load(std::path::Path::new(TONE_GAIN), &weir::registry()).expect("loads");
    for b in &spec.blocks {
        assert!(texts.contains(&b.name.as_str()), "{} in {texts:?}", b.name);
        assert!(
            texts.contains(&b.type_name.as_str()),
            "{} in {texts:?}",
            b.type_name
        );
    }
}

#[test]
fn graph_svg_without_graphviz_is_a_clear_error() {
    // A PATH with no `dot` on it.
    let empty = tempfile::tempdir().expect("tempdir");
    let svg = empty.path().join("out.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["graph", TONE_GAIN, "--svg", svg.to_str().expect("utf-8")])
        .env("PATH", empty.path())
        .output()
        .expect("run weir");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot run Graphviz `dot`"), "{stderr}");
    assert!(stderr.contains("install the graphviz package"), "{stderr}");
    assert!(!svg.exists());
}

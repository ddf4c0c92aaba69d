//! The load-time channel-layout flow, on toy block types that know nothing of IIO: a port
//! publishes a device's layout (`PortSpec::layout`), the loader hands it to the block at the
//! other end of each connection (downstream from an RX device, upstream from a TX device,
//! through blocks that pass it on), and a block that reads it (`PortSpec::reads_layout`) is
//! described again with it, so its refusals are load errors located in the file.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, ChannelLayout, FlowgraphBuilder,
    FlowgraphSpec, ItemType, LayoutChannel, LoadError, ParamSpec, Params, PeerLayout, PortLayout,
    PortSpec, Ports, Registry, Value,
};

fn never_built(_: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    Err(BuildError::Other("toy blocks are not built".into()))
}

/// `layout` as a toy device describes it: "" = none, "absent" = unknown, else a
/// comma-separated list of formats, channel k at scan index k.
fn toy_layout(p: &Params) -> Result<PortLayout, BuildError> {
    let text = p.str("layout")?;
    Ok(match text {
        "" => PortLayout::None,
        "absent" => PortLayout::Unknown("the toy device is unplugged".into()),
        list => PortLayout::Known(toy(&list.split(',').map(str::trim).collect::<Vec<_>>())),
    })
}

fn layout_param() -> Vec<ParamSpec> {
    vec![ParamSpec::string(
        "layout",
        "",
        "the toy device's channel formats",
    )]
}

/// A toy block type that is described but never built.
fn toy_block(
    type_name: &'static str,
    doc: &'static str,
    params: Vec<ParamSpec>,
    ports: fn(&Params) -> Result<Ports, BuildError>,
) -> BlockDescriptor {
    BlockDescriptor {
        type_name,
        doc,
        params,
        ports,
        build: never_built,
    }
}

/// Input `in` of bytes.
fn byte_input() -> PortSpec {
    PortSpec::input("in", "input", ItemType::U8)
}

/// Output `out` of `item`s.
fn output_of(item: ItemType) -> PortSpec {
    PortSpec::output("out", "output", item, BufferKind::Circular)
}

/// The ports `input` and `output`.
fn through(input: PortSpec, output: PortSpec) -> Ports {
    Ports {
        inputs: vec![input],
        outputs: vec![output],
        ..Ports::default()
    }
}

/// An RX device: its output publishes the layout.
fn dev_src() -> BlockDescriptor {
    toy_block("dev_src", "toy RX device", layout_param(), |p| {
        Ok(Ports {
            outputs: vec![output_of(ItemType::U8).with_layout(toy_layout(p)?)],
            ..Ports::default()
        })
    })
}

/// A TX device: its input publishes the layout it takes.
fn dev_sink() -> BlockDescriptor {
    toy_block("dev_sink", "toy TX device", layout_param(), |p| {
        Ok(Ports {
            inputs: vec![byte_input().with_layout(toy_layout(p)?)],
            ..Ports::default()
        })
    })
}

/// Passes its input's layout on to its output.
fn pass() -> BlockDescriptor {
    toy_block("pass", "toy pass-through", vec![], |p| {
        let layout = match p.input_layout("in").map(|l| &l.layout) {
            None => PortLayout::None,
            Some(Ok(l)) => PortLayout::Known(l.clone()),
            Some(Err(why)) => PortLayout::Unknown(why.clone()),
        };
        Ok(through(
            byte_input().reading_layout(),
            output_of(ItemType::U8).with_layout(layout),
        ))
    })
}

/// A converter: a written `format` must agree with the device's; a device format containing
/// `bad` cannot be decoded.
fn conv() -> BlockDescriptor {
    let format = ParamSpec::string("format", "", "scan format; empty: the device's");
    toy_block("conv", "toy RX converter", vec![format], |p| {
        if let Some(PeerLayout {
            layout: Ok(device), ..
        }) = p.input_layout("in")
        {
            if device.formats().contains("bad") {
                return Err(BuildError::Other(format!("cannot decode {device}")));
            }
            if p.given("format") && p.str("format")? != device.formats() {
                return Err(BuildError::param(
                    "format",
                    format!("disagrees with {device}"),
                ));
            }
        }
        Ok(through(
            byte_input().reading_layout(),
            output_of(ItemType::U8),
        ))
    })
}

/// A TX converter: refuses a device format containing `bad`.
fn tx_conv() -> BlockDescriptor {
    toy_block("tx_conv", "toy TX converter", vec![], |p| {
        for peer in p.output_layouts("out") {
            if let Ok(device) = &peer.layout
                && device.formats().contains("bad")
            {
                return Err(BuildError::Other(format!(
                    "cannot encode for {}",
                    peer.describe()
                )));
            }
        }
        Ok(through(
            byte_input(),
            output_of(ItemType::U8).reading_layout(),
        ))
    })
}

/// Produces and takes plain bytes: no layout.
fn plain() -> BlockDescriptor {
    toy_block("plain", "toy plain block", vec![], |_| {
        Ok(through(byte_input(), output_of(ItemType::U8)))
    })
}

/// A source of plain bytes.
fn plain_src() -> BlockDescriptor {
    toy_block("plain_src", "toy plain source", vec![], |_| {
        Ok(Ports {
            outputs: vec![output_of(ItemType::U8)],
            ..Ports::default()
        })
    })
}

/// Changes its output's item type once it knows its layouts: a plugin bug the loader refuses.
fn shifty() -> BlockDescriptor {
    toy_block(
        "shifty",
        "toy block whose ports depend on the layout",
        vec![],
        |p| {
            let item = if p.layouts_known() {
                ItemType::F32
            } else {
                ItemType::U8
            };
            Ok(through(byte_input().reading_layout(), output_of(item)))
        },
    )
}

fn registry() -> Registry {
    let mut r = Registry::new();
    for d in [
        dev_src(),
        dev_sink(),
        pass(),
        conv(),
        tx_conv(),
        plain(),
        plain_src(),
        shifty(),
    ] {
        r.register(d);
    }
    r
}

fn load(text: &str) -> Result<FlowgraphSpec, LoadError> {
    FlowgraphSpec::parse(text, "layout.toml", &registry())
}

/// The toy device's layout of `formats`: channel k at scan index k.
fn toy(formats: &[&str]) -> ChannelLayout {
    ChannelLayout {
        device: "toy0".into(),
        channels: formats
            .iter()
            .enumerate()
            .map(|(k, f)| LayoutChannel {
                id: format!("ch{k}"),
                scan_index: k as u32,
                format: f.to_string(),
            })
            .collect(),
    }
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

const RX: &str = r#"
connections = ["src.out -> conv.in", "conv.out -> sink.in"]

[blocks.src]
type = "dev_src"
layout = "le:s12/16>>4, le:s12/16>>4"

[blocks.conv]
type = "conv"

[blocks.sink]
type = "plain"
"#;

#[test]
fn a_device_layout_reaches_the_block_it_feeds() {
    let spec = load(RX).expect("loads");
    let conv = spec.block("conv").expect("conv");
    assert!(conv.params.layouts_known());
    assert_eq!(
        conv.params.input_layout("in"),
        Some(&PeerLayout {
            peer: "src.out".into(),
            peer_type: "dev_src".into(),
            layout: Ok(toy(&["le:s12/16>>4", "le:s12/16>>4"])),
        })
    );
    assert_eq!(
        conv.params.input_layout("in").expect("peer").describe(),
        "`src.out` (dev_src)"
    );
    // The source reads no layout, so it is described once, without peers.
    assert!(!spec.block("src").expect("src").params.layouts_known());
    // What the device publishes stays on its port, for the run report and `weir graph`.
    assert_eq!(
        spec.block("src").expect("src").ports.outputs[0].layout,
        PortLayout::Known(toy(&["le:s12/16>>4", "le:s12/16>>4"]))
    );
    assert_eq!(
        toy(&["le:s12/16>>4", "le:u8/8>>0"]).to_string(),
        "toy0: ch0 le:s12/16>>4, ch1 le:u8/8>>0"
    );
}

#[test]
fn a_hand_written_parameter_that_agrees_is_accepted() {
    let text = RX.replace(
        "type = \"conv\"",
        "type = \"conv\"\nformat = \"le:s12/16>>4, le:s12/16>>4\"",
    );
    load(&text).expect("agrees with the device");
}

#[test]
fn a_disagreeing_written_parameter_is_refused_at_the_parameter() {
    let text = RX.replace(
        "type = \"conv\"",
        "type = \"conv\"\nformat = \"le:s16/16>>0\"",
    );
    let e = load(&text).expect_err("disagrees");
    assert_eq!((e.line, e.column), position(&text, "format ="), "{e}");
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(e.message.contains("disagrees with toy0"), "{e}");
    assert!(e.to_string().starts_with("layout.toml:"), "{e}");
}

#[test]
fn an_error_about_the_layout_itself_is_located_at_the_connection() {
    let text = RX.replace("le:s12/16>>4, le:s12/16>>4", "bad");
    let e = load(&text).expect_err("cannot decode");
    assert_eq!(
        (e.line, e.column),
        position(&text, "\"src.out -> conv.in\""),
        "{e}"
    );
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(e.message.contains("cannot decode toy0: ch0 bad"), "{e}");
}

#[test]
fn an_unknown_layout_carries_the_reason() {
    let spec = load(&RX.replace("le:s12/16>>4, le:s12/16>>4", "absent")).expect("loads");
    let peer = spec
        .block("conv")
        .and_then(|b| b.params.input_layout("in"))
        .expect("a peer layout");
    assert_eq!(peer.layout, Err("the toy device is unplugged".to_string()));
}

#[test]
fn a_block_fed_by_no_device_knows_that_it_is_not() {
    let text = RX.replace(
        "type = \"dev_src\"\nlayout = \"le:s12/16>>4, le:s12/16>>4\"",
        "type = \"plain_src\"",
    );
    let spec = load(&text).expect("loads");
    let conv = spec.block("conv").expect("conv");
    assert!(conv.params.layouts_known(), "described with its peers");
    assert_eq!(conv.params.input_layout("in"), None);
    // A device that publishes nothing is the same.
    let spec = load(&RX.replace("le:s12/16>>4, le:s12/16>>4", "")).expect("loads");
    assert_eq!(
        spec.block("conv").expect("conv").params.input_layout("in"),
        None
    );
}

#[test]
fn layouts_pass_through_a_chain_written_in_any_order() {
    // Downstream blocks first in the file, so one pass in file order would not do.
    let text = r#"
connections = ["a.out -> conv.in", "b.out -> a.in", "src.out -> b.in"]

[blocks.conv]
type = "conv"
format = "le:u8/8>>0"

[blocks.a]
type = "pass"

[blocks.b]
type = "pass"

[blocks.src]
type = "dev_src"
layout = "le:u8/8>>0"
"#;
    let spec = load(text).expect("loads");
    let peer = spec
        .block("conv")
        .and_then(|b| b.params.input_layout("in"))
        .expect("passed on");
    assert_eq!(peer.peer, "a.out");
    assert_eq!(peer.peer_type, "pass");
    assert_eq!(peer.layout, Ok(toy(&["le:u8/8>>0"])));
    // And refused as far down the chain.
    let e = load(&text.replace("format = \"le:u8/8>>0\"", "format = \"le:u16/16>>0\""))
        .expect_err("disagrees");
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert_eq!(e.line, 6, "{e}");
}

#[test]
fn tx_layouts_flow_upstream_from_the_device() {
    let text = r#"
connections = ["src.out -> enc.in", "enc.out -> dac.in", "enc.out -> other.in"]

[blocks.src]
type = "plain_src"

[blocks.enc]
type = "tx_conv"

[blocks.dac]
type = "dev_sink"
layout = "le:s16/16>>0, le:s16/16>>0"

[blocks.other]
type = "plain"
"#;
    let spec = load(text).expect("loads");
    let enc = spec.block("enc").expect("enc");
    // Only the input that publishes a layout is listed.
    assert_eq!(
        enc.params.output_layouts("out"),
        [PeerLayout {
            peer: "dac.in".into(),
            peer_type: "dev_sink".into(),
            layout: Ok(toy(&["le:s16/16>>0", "le:s16/16>>0"])),
        }]
    );
    assert!(enc.params.input_layout("in").is_none());
    let text = text.replace("le:s16/16>>0, le:s16/16>>0", "bad");
    let e = load(&text).expect_err("cannot encode");
    assert_eq!(e.block.as_deref(), Some("enc"));
    assert!(
        e.message.contains("cannot encode for `dac.in` (dev_sink)"),
        "{e}"
    );
    assert_eq!(
        (e.line, e.column),
        position(&text, "\"enc.out -> dac.in\""),
        "{e}"
    );
}

#[test]
fn a_block_may_not_change_its_ports_for_a_layout() {
    let text = RX.replace("type = \"conv\"", "type = \"shifty\"");
    let e = load(&text).expect_err("refused");
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(e.message.contains("changed its ports"), "{e}");
}

#[test]
fn a_flowgraph_built_in_code_flows_layouts_too() {
    let registry = registry();
    let builder = || {
        FlowgraphBuilder::new(&registry)
            .block("src", "dev_src", [("layout", "le:s12/16>>4".into())])
            .block("conv", "conv", Vec::<(&str, Value)>::new())
            .block("sink", "plain", Vec::<(&str, Value)>::new())
            .connect("src.out", "conv.in")
            .connect("conv.out", "sink.in")
    };
    let spec = builder().spec().expect("checks");
    assert_eq!(
        spec.block("conv")
            .and_then(|b| b.params.input_layout("in"))
            .map(|l| l.layout.clone()),
        Some(Ok(toy(&["le:s12/16>>4"])))
    );
    let e = FlowgraphBuilder::new(&registry)
        .block("src", "dev_src", [("layout", "le:s12/16>>4".into())])
        .block("conv", "conv", [("format", "le:s16/16>>0".into())])
        .block("sink", "plain", Vec::<(&str, Value)>::new())
        .connect("src.out", "conv.in")
        .connect("conv.out", "sink.in")
        .spec()
        .expect_err("disagrees");
    assert_eq!(e.block.as_deref(), Some("conv"));
    assert!(e.message.contains("parameter `format`"), "{e}");
}

#[test]
fn given_tells_a_written_parameter_from_a_default() {
    let d = conv();
    let p = d.resolve([]).expect("defaults");
    assert!(!p.given("format"));
    assert_eq!(p.str("format").expect("default"), "");
    let p = d
        .resolve([("format", Value::Str("le:u8/8>>0".into()))])
        .expect("written");
    assert!(p.given("format"));
    // Even a value equal to the default is written.
    let p = d
        .resolve([("format", Value::Str(String::new()))])
        .expect("written");
    assert!(p.given("format"));
    // Parameters set in code are written; unknown ones are not there at all.
    let p = Params::new().with("format", Value::Str(String::new()));
    assert!(p.given("format"));
    assert!(!p.given("nothing"));
    assert!(!p.layouts_known());
}

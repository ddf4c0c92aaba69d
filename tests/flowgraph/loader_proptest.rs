//! Property tests of the loader and the scan-format parser over generated hostile input: no
//! panic, and every error located (the TOML loader: file, line and column; the scan-format
//! parser: the offending text named). Case counts are small so the suite stays fast; a failure
//! prints the input that caused it (proptest shrinks it first).

use proptest::prelude::*;
use weir_core::FlowgraphSpec;
use weir_iio::format::ScanFormat;

/// Pieces a hostile flowgraph is made of: valid syntax, values at and beyond every bound,
/// variables, broken connections, control characters and plain garbage.
const FRAGMENTS: &[&str] = &[
    "connections = [\"a.out -> b.in\"]\n",
    "connections = [\"a.out => a.in\", \"b.out -> a.in\"]\n",
    "connections = [{ connect = \"a.out -> b.in\", buffer = 2305843009213693952 }]\n",
    "connections = [\"a.out -> \", \".in -> b.\", \"a.out b.in\"]\n",
    "[blocks.a]\n",
    "[blocks.b]\n",
    "[blocks.\"a\\u001b[2K\\rerror: x\"]\n",
    "[vars]\n",
    "v = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n",
    "n = 9223372036854775807\n",
    "type = \"null_source\"\n",
    "type = \"null_sink\"\n",
    "type = \"fft\"\n",
    "type = \"multiply_const\"\n",
    "type = \"message_copy\"\n",
    "type = \"scan_to_cf32\"\n",
    "type = \"tcp_source\"\n",
    "type = 7\n",
    "len = 1099511627776\n",
    "len = -1\n",
    "timeout = inf\n",
    "timeout = nan\n",
    "rate = 1e-50\n",
    "gain = -inf\n",
    "channels = 4611686018427387904\n",
    "format = \"le:s16/16X1000000000>>0\"\n",
    "format = \"${v}${v}${v}${v}\"\n",
    "path = \"${v\"\n",
    "items = \"${n}\"\n",
    "item = \"nope\"\n",
    "taps = [1, \"x\", 2]\n",
    "taps = [[[[[[1]]]]]]\n",
    "address = \"127.0.0.1:9\"\n",
    "x = { y = 1 }\n",
    "when = 1979-05-27T07:32:00Z\n",
    "= 1\n",
    "[[blocks]]\n",
    "\"\n",
    "\n",
    "é\u{0}\t",
];

fn hostile_flowgraph() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => "\\PC{0,12}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// The shipped `tone_gain.toml` with a few of its bytes replaced by hostile fragments.
fn mutated_shipped_flowgraph() -> impl Strategy<Value = String> {
    let text = std::fs::read_to_string(crate::support::TONE_GAIN).expect("tone_gain.toml");
    prop::collection::vec((0..text.len(), prop::sample::select(FRAGMENTS)), 1..4).prop_map(
        move |edits| {
            let mut t = text.clone();
            for (at, piece) in edits {
                let mut at = at.min(t.len());
                while !t.is_char_boundary(at) {
                    at -= 1;
                }
                t.insert_str(at, piece);
            }
            t
        },
    )
}

/// The loader on `text`: an error must carry the file, a position and no raw control
/// character in its one-line form.
fn check_loader(text: &str) -> Result<(), TestCaseError> {
    let registry = weir::registry();
    if let Err(e) = FlowgraphSpec::parse(text, "hostile.toml", &registry) {
        let line = e.to_string();
        prop_assert_eq!(&e.file, "hostile.toml");
        prop_assert!(e.position().is_some(), "unlocated: {}", line);
        prop_assert!(
            line.starts_with("hostile.toml:"),
            "not located in the file: {}",
            line
        );
        prop_assert!(
            !line.chars().any(char::is_control),
            "raw control character: {:?}",
            line
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_loader_locates_every_error_in_generated_flowgraphs(text in hostile_flowgraph()) {
        check_loader(&text)?;
    }

    #[test]
    fn the_loader_locates_every_error_in_mutated_shipped_flowgraphs(
        text in mutated_shipped_flowgraph()
    ) {
        check_loader(&text)?;
    }

    #[test]
    fn the_scan_format_parser_names_what_it_refuses(
        text in prop_oneof![
            "(le|be|xx)?:?[suSUq]?[0-9]{0,12}/?[0-9]{0,12}(X[0-9]{0,12})?(>>)?[0-9]{0,12}\n?",
            "\\PC{0,24}",
        ]
    ) {
        match ScanFormat::parse(&text) {
            Ok(f) => {
                // The invariants the type promises, and a round trip through its text.
                prop_assert!(f.storage_bits % 8 == 0 && (8..=64).contains(&f.storage_bits));
                prop_assert!(f.real_bits >= 1 && f.real_bits + f.shift <= f.storage_bits);
                prop_assert!((1..=255).contains(&f.repeat));
                prop_assert_eq!(ScanFormat::parse(&f.to_string()), Ok(f));
            }
            Err(e) => {
                prop_assert_eq!(&e.text, &text);
                prop_assert!(e.to_string().contains(&format!("{text:?}")), "{}", e);
            }
        }
    }
}

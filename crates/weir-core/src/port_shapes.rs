//! The port sets most blocks have, written once: one in and one out, a source, a sink, message
//! ports only. Each is a [`Ports`] value a block's `ports` returns as it is or adds to.

use crate::BufferKind;
use crate::item::ItemType;
use crate::registry::{PortSpec, Ports};

impl Ports {
    /// The ports of a one-in, one-out block: input `in` (FutureSDR field `input`) of `input`
    /// items, output `out` (field `output`) of `output` items that can write into a zero-copy
    /// sink's blocks. A block with message ports adds them:
    /// `Ports { message_inputs: vec!["gain"], ..Ports::sync(ItemType::Cf32, ItemType::Cf32) }`.
    pub fn sync(input: ItemType, output: ItemType) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", "input", input)],
            ..Ports::source(output)
        }
    }

    /// The ports of a source: output `out` (FutureSDR field `output`) of `item`s that can
    /// write into a zero-copy sink's blocks.
    pub fn source(item: ItemType) -> Ports {
        Ports {
            outputs: vec![
                PortSpec::output("out", "output", item, BufferKind::Circular).filling_blocks(),
            ],
            ..Ports::default()
        }
    }

    /// The ports of a one-in, one-out block that needs `min_items` consecutive input items per
    /// call (a frame, a filter's history): input `in` (field `input`) of `input` items with that
    /// minimum, output `out` (field `output`) of `output` items into FutureSDR's circular buffer
    /// only.
    pub fn frames(input: ItemType, output: ItemType, min_items: usize) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", "input", input).with_min_items(min_items)],
            outputs: vec![PortSpec::output(
                "out",
                "output",
                output,
                BufferKind::Circular,
            )],
            ..Ports::default()
        }
    }

    /// The ports of a sink: input `in` (FutureSDR field `input`) of `item`s.
    pub fn sink(item: ItemType) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", "input", item)],
            ..Ports::default()
        }
    }

    /// Message ports only: `inputs` and `outputs` by their FutureSDR handler and port names.
    pub fn messages(inputs: &[&'static str], outputs: &[&'static str]) -> Ports {
        Ports {
            message_inputs: inputs.to_vec(),
            message_outputs: outputs.to_vec(),
            ..Ports::default()
        }
    }
}

//! `zmq_pub_sink`: FutureSDR's ZeroMQ `PubSink`, registered by name.

use futuresdr::blocks::zeromq::PubSink;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Guarded, ParamSpec, ParamType, Params, PortSpec,
    Ports, Value, with_item_type, with_reader,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", p.item("item")?)],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?.to_string();
    let stats = ctx.stats();
    let kind = ctx.input_buffer("in");
    let context = format!("ZeroMQ PUB on {address}");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            // min_item 0: FutureSDR sends when more than `min_item` items wait, so anything
            // larger would hold back the last items of a stream.
            let mut block = Guarded::new(PubSink::<T, R>::new(address, 0), stats, context);
            ctx.configure_input("in", block.inner_mut().input());
            ctx.add_guarded(block)
        })
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "zmq_pub_sink",
        doc: "Publish items on a ZeroMQ PUB socket bound to `address`, one message per chunk of \
              input, items in their in-memory layout (FutureSDR's zeromq PubSink). PUB drops \
              messages for a subscriber that is not connected yet or falls more than 1000 \
              messages behind (ZeroMQ's high-water mark): use tcp_sink when every sample must \
              arrive",
        params: vec![
            ParamSpec::required(
                "address",
                ParamType::Str,
                "ZeroMQ endpoint to bind, e.g. \"tcp://*:5555\" or \"tcp://127.0.0.1:5555\"",
            ),
            ParamSpec::optional(
                "item",
                ParamType::Item,
                Value::Str("cf32".into()),
                "item type",
            ),
        ],
        ports,
        build,
    }
}

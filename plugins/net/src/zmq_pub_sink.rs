//! `zmq_pub_sink`: publish items on a ZeroMQ PUB socket.
//!
//! weir's own block rather than FutureSDR's `PubSink`, whose socket keeps ZeroMQ's default
//! linger, which is infinite: when a subscriber has stopped reading (a stuck viewer, a GNU
//! Radio flowgraph whose `head` has finished), closing the socket at the end of the stream
//! waited forever for it, and `weir run --duration` never returned. Here the linger is bounded
//! (`linger`), the socket is bound when the flowgraph is built (an address in use is reported
//! before anything runs), and a failed send is an error of the block, not a panic.

use std::sync::Arc;
use std::time::Duration;

use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ParamSpec, ParamType, Params, PortSpec,
    Ports, Value, with_item_type, with_reader,
};

/// Longest `linger` accepted: beyond a minute, a stuck subscriber would look like a hang.
const MAX_LINGER_S: f64 = 60.0;

/// Publishes every chunk of its input as one ZeroMQ message, items in their in-memory layout.
///
/// PUB never blocks: a subscriber more than ZeroMQ's high-water mark (1000 messages) behind
/// loses messages, as it would with GNU Radio's `zeromq.pub_sink`.
#[derive(Block)]
pub struct ZmqPubSink<T, R = DefaultCpuReader<T>>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    #[input]
    input: R,
    address: String,
    /// `None` once closed (end of stream): dropping the socket and its context is what waits
    /// up to the linger for queued messages.
    socket: Option<(zmq::Socket, zmq::Context)>,
    stats: Arc<BlockStats>,
}

impl<T, R> ZmqPubSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    /// A publisher bound to `address`; on close, queued messages are sent for at most
    /// `linger`, then dropped.
    pub fn bind(address: &str, linger: Duration, stats: Arc<BlockStats>) -> zmq::Result<Self> {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::PUB)?;
        // Set before bind: ZeroMQ applies it to the connections the socket makes from then on.
        socket.set_linger(i32::try_from(linger.as_millis()).unwrap_or(i32::MAX))?;
        socket.bind(address)?;
        Ok(Self {
            input: R::default(),
            address: address.to_string(),
            socket: Some((socket, context)),
            stats,
        })
    }

    fn close(&mut self) {
        // Socket first, then its context: the context's termination waits for the linger.
        if let Some((socket, context)) = self.socket.take() {
            drop(socket);
            drop(context);
        }
    }
}

impl<T, R> Kernel for ZmqPubSink<T, R>
where
    T: CpuSample + bytemuck::Pod,
    R: CpuBufferReader<Item = T>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let items = self.input.slice();
        let n = items.len();
        if n > 0 {
            let Some((socket, _)) = &self.socket else {
                anyhow::bail!("ZeroMQ PUB on {}: socket already closed", self.address);
            };
            let bytes: &[u8] = bytemuck::cast_slice(items);
            if let Err(e) = socket.send(bytes, 0) {
                let result = Err(anyhow::anyhow!(
                    "ZeroMQ PUB on {}: sending {n} items: {e}",
                    self.address
                ));
                return self.stats.record(result);
            }
            self.input.consume(n);
            self.stats.add_in(n);
        }
        if self.input.finished() {
            self.close();
            io.finished = true;
        }
        Ok(())
    }

    async fn deinit(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        // Stopped before the end of the stream (--duration, Ctrl-C): the same bounded close.
        self.close();
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", p.item("item")?)],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?.to_string();
    let linger = Duration::from_secs_f64(ctx.params.float("linger")?);
    let stats = ctx.stats();
    let kind = ctx.input_buffer("in");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            let mut block = ZmqPubSink::<T, R>::bind(&address, linger, stats).map_err(|e| {
                BuildError::param("address", format!("cannot bind ZeroMQ PUB to {address:?}: {e}"))
            })?;
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "zmq_pub_sink",
        doc: "Publish items on a ZeroMQ PUB socket bound to `address`, one message per chunk of \
              input, items in their in-memory layout. PUB drops messages for a subscriber that \
              is not connected yet or falls more than 1000 messages behind (ZeroMQ's high-water \
              mark): use tcp_sink when every sample must arrive. At the end, queued messages \
              are sent for at most `linger` seconds, so a subscriber that stopped reading \
              cannot keep the flowgraph from ending",
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
            ParamSpec::optional(
                "linger",
                ParamType::Float,
                Value::Float(1.0),
                "seconds queued messages may still take to go out when the stream ends",
            )
            .range(Some(0.0), Some(MAX_LINGER_S)),
        ],
        ports,
        build,
    }
}

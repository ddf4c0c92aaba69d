//! `zmq_pub_sink`: publish items on a ZeroMQ PUB socket.
//!
//! weir's own block rather than FutureSDR's `PubSink`, whose socket keeps ZeroMQ's default
//! linger, which is infinite: when a subscriber has stopped reading (a stuck viewer, a GNU
//! Radio flowgraph whose `head` has finished), closing the socket at the end of the stream
//! waited forever for it, and `weir run --duration` never returned. Here the linger is bounded
//! (`linger`), the socket is bound when the flowgraph is built (an address in use is reported
//! before anything runs), and a failed send is an error of the block, not a panic.
//!
//! **What libzmq can tell about losses.** A plain PUB socket drops a message silently for a
//! subscriber whose queue is at the high-water mark (`ZMQ_SNDHWM`, 1000 messages): `zmq_send`
//! succeeds and nothing counts it, not even the socket monitor (it reports connections, not
//! drops). Only with `ZMQ_XPUB_NODROP` (libzmq >= 4.1, for PUB and XPUB) does the send fail
//! with `EAGAIN` instead, and then for every subscriber at once, since libzmq refuses the
//! message as a whole when any matching subscriber's queue is full. This block sets it and
//! sends with `ZMQ_DONTWAIT`, so it never blocks either: a refused message is dropped and its
//! items are counted, exactly (`hwm_dropped_items`, `hwm_dropped_messages`, shown in the run
//! report with evidence "exact"). The price: one slow subscriber makes the others miss that
//! message too, where a plain PUB would have dropped it for the slow one only, without a word.
//!
//! What no publisher can count: messages sent before a subscriber connected or subscribed
//! (ZeroMQ's "slow joiner"), messages queued towards a subscriber that disconnects, and those
//! a subscriber's own receive queue (`ZMQ_RCVHWM`) drops. A SUB socket cannot tell either: the
//! messages carry raw items with no sequence number, so a gap is invisible at the receiving
//! end (`zmq_sub_source` says so); use tcp_sink/tcp_source when every sample must arrive.

use std::sync::Arc;
use std::time::Duration;

use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, CounterLabel, ItemType, ParamSpec,
    ParamType, Params, Ports, add_sink, sink_block,
};

/// Longest `linger` accepted: beyond a minute, a stuck subscriber would look like a hang.
const MAX_LINGER_S: f64 = 60.0;

sink_block! {
    /// Publishes every chunk of its input as one ZeroMQ message, items in their in-memory layout.
    ///
    /// PUB never blocks: a message that would exceed a subscriber's high-water mark (1000 messages)
    /// is dropped, as GNU Radio's `zeromq.pub_sink` drops it, but counted (see the module
    /// documentation).
    pub struct ZmqPubSink<T> {
        address: String,
        /// `None` once closed (end of stream): dropping the socket and its context is what waits
        /// up to the linger for queued messages.
        socket: Option<(zmq::Socket, zmq::Context)>,
        dropped_items: u64,
        dropped_messages: u64,
        stats: Arc<BlockStats>,
    }
}

/// The counter of the items of messages dropped at the high-water mark.
pub const HWM_DROPPED_ITEMS: &str = "hwm_dropped_items";
/// The counter of those messages.
pub const HWM_DROPPED_MESSAGES: &str = "hwm_dropped_messages";

impl<T: RawItem, R: CpuBufferReader<Item = T>> ZmqPubSink<T, R> {
    /// A publisher bound to `address`; on close, queued messages are sent for at most
    /// `linger`, then dropped.
    pub fn bind(address: &str, linger: Duration, stats: Arc<BlockStats>) -> zmq::Result<Self> {
        let context = zmq::Context::new();
        let mut socket = context.socket(zmq::PUB)?;
        // Set before bind: ZeroMQ applies it to the connections the socket makes from then on.
        socket.set_linger(i32::try_from(linger.as_millis()).unwrap_or(i32::MAX))?;
        crate::zmq_option::set_xpub_nodrop(&mut socket)?;
        socket.bind(address)?;
        for name in [HWM_DROPPED_ITEMS, HWM_DROPPED_MESSAGES] {
            stats.label_counter(
                name,
                CounterLabel {
                    approximate: false,
                    evidence: Some("exact".into()),
                },
            );
        }
        Ok(Self {
            input: R::default(),
            address: address.to_string(),
            socket: Some((socket, context)),
            dropped_items: 0,
            dropped_messages: 0,
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

impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for ZmqPubSink<T, R> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let items = self.input.slice();
        let n = items.len();
        if n > 0 {
            let Some((socket, _)) = &self.socket else {
                anyhow::bail!("ZeroMQ PUB on {}: socket already closed", self.address);
            };
            let bytes: &[u8] = bytemuck::cast_slice(items);
            // Recorded with the block's name by the Guarded wrapper `ctx.add` puts it in.
            match socket.send(bytes, zmq::DONTWAIT) {
                Ok(()) => {}
                // A subscriber's queue is at the high-water mark: the message is dropped for
                // all of them (XPUB_NODROP), and counted.
                Err(zmq::Error::EAGAIN) => {
                    self.dropped_items += n as u64;
                    self.dropped_messages += 1;
                    self.stats
                        .set_counter(HWM_DROPPED_ITEMS, self.dropped_items);
                    self.stats
                        .set_counter(HWM_DROPPED_MESSAGES, self.dropped_messages);
                }
                Err(e) => anyhow::bail!("ZeroMQ PUB on {}: sending {n} items: {e}", self.address),
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

    fn deinit(&mut self) -> Result<()> {
        // Stopped before the end of the stream (--duration, Ctrl-C): the same bounded close.
        self.close();
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::sink(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?.to_string();
    let linger = Duration::from_secs_f64(ctx.params.float("linger")?);
    let stats = ctx.stats();
    Ok(add_sink!(ctx, ctx.params.item("item")?, |T, R| {
        ZmqPubSink::<T, R>::bind(&address, linger, stats).map_err(|e| {
            BuildError::param(
                "address",
                format!("cannot bind ZeroMQ PUB to {address:?}: {e}"),
            )
        })?
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "zmq_pub_sink",
        doc: "Publish items on a ZeroMQ PUB socket bound to `address`, one message per chunk of \
              input, items in their in-memory layout. PUB drops messages for a subscriber that \
              is not connected yet (not counted) or falls more than 1000 messages behind \
              (ZeroMQ's high-water mark: counted, `hwm_dropped_items`): use tcp_sink when every \
              sample must arrive. At the end, queued messages \
              are sent for at most `linger` seconds, so a subscriber that stopped reading \
              cannot keep the flowgraph from ending",
        params: vec![
            ParamSpec::required(
                "address",
                ParamType::Str,
                "ZeroMQ endpoint to bind, e.g. \"tcp://*:5555\" or \"tcp://127.0.0.1:5555\"",
            ),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::float(
                "linger",
                1.0,
                "seconds queued messages may still take to go out when the stream ends",
            )
            .range(Some(0.0), Some(MAX_LINGER_S)),
        ],
        ports,
        build,
    }
}

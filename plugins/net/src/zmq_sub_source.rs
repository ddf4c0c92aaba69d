//! `zmq_sub_source`: receive items from a ZeroMQ PUB socket, failing after a timeout without
//! data.
//!
//! weir's own block rather than FutureSDR's `SubSource`: a SUB socket connects lazily and never
//! reports a missing publisher, so the block must time out by itself; and a message larger than
//! the output buffer must be kept for the next call (FutureSDR's block truncates it, yet reports
//! its full length as produced).
//!
//! What this block cannot know: whether messages were lost on the way. The messages carry raw
//! items, as GNU Radio's do, with no header and no sequence number, so a message the publisher
//! dropped (at its high-water mark, or before this subscriber had joined) or this socket's own
//! receive queue dropped (`ZMQ_RCVHWM`) leaves no trace here; the publisher counts what libzmq
//! lets it count (`zmq_pub_sink`'s `hwm_dropped_items`). Counting gaps at this end would need a
//! header the other end does not send, so none is invented.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    Ports, add_source, source_block,
};

/// How long one `work()` call waits for a message before returning, so the block still sees a
/// stop request while no data comes.
const POLL: Duration = Duration::from_millis(100);

source_block! {
    /// Subscribes to every message of the publisher at `address` and emits its items.
    ///
    /// Each message must hold whole items. With a `timeout`, the block fails when no message
    /// arrives for that long (from the start, or since the last message).
    #[blocking]
    pub struct ZmqSubSource<T> {
        address: String,
        timeout: Option<Duration>,
        socket: Option<zmq::Socket>,
        /// Bytes of the last message not yet emitted.
        pending: Vec<u8>,
        pending_at: usize,
        last_data: Instant,
        stats: Arc<BlockStats>,
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> ZmqSubSource<T, W> {
    /// A source subscribing to `address`; `timeout` `None` waits forever.
    pub fn new(address: String, timeout: Option<Duration>, stats: Arc<BlockStats>) -> Self {
        Self {
            output: W::default(),
            address,
            timeout,
            socket: None,
            pending: Vec::new(),
            pending_at: 0,
            last_data: Instant::now(),
            stats,
        }
    }

    fn connect(&mut self) -> Result<()> {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::SUB)?;
        socket.set_rcvtimeo(POLL.as_millis() as i32)?;
        socket
            .connect(&self.address)
            .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", self.address))?;
        socket.set_subscribe(b"")?;
        self.socket = Some(socket);
        self.last_data = Instant::now();
        Ok(())
    }

    /// Copy pending bytes to the output; true when something was produced.
    fn emit(&mut self) -> bool {
        let out = self.output.slice();
        let out: &mut [u8] = bytemuck::cast_slice_mut(out);
        let n = out.len().min(self.pending.len() - self.pending_at);
        let n = n - n % std::mem::size_of::<T>();
        if n == 0 {
            return false;
        }
        out[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
        self.pending_at += n;
        let items = n / std::mem::size_of::<T>();
        self.output.produce(items);
        self.stats.add_out(items);
        true
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> StreamKernel for ZmqSubSource<T, W> {
    async fn init(&mut self) -> Result<()> {
        self.connect()
    }

    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        if self.pending_at < self.pending.len() {
            self.emit();
            // Output full: the runtime calls again when there is room.
            if self.pending_at < self.pending.len() {
                return Ok(());
            }
        }
        let socket = self.socket.as_ref().context("not connected")?;
        match socket.recv_bytes(0) {
            Ok(message) => {
                let size = std::mem::size_of::<T>();
                if message.len() % size != 0 {
                    anyhow::bail!(
                        "a message from {} has {} bytes, not a whole number of {size}-byte items: \
                         does the publisher send this item type?",
                        self.address,
                        message.len()
                    );
                }
                self.last_data = Instant::now();
                self.pending = message;
                self.pending_at = 0;
                self.emit();
            }
            Err(zmq::Error::EAGAIN) => {
                if let Some(t) = self.timeout
                    && self.last_data.elapsed() >= t
                {
                    anyhow::bail!("no data from {} within {} s", self.address, t.as_secs_f64());
                }
            }
            Err(e) => anyhow::bail!("receiving from {}: {e}", self.address),
        }
        io.call_again = true;
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::source(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?.to_string();
    let timeout = crate::timeout(ctx.params)?;
    let stats = ctx.stats();
    Ok(add_source!(ctx, ctx.params.item("item")?, |T, W| {
        ZmqSubSource::<T, W>::new(address, timeout, stats)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "zmq_sub_source",
        doc: "Receive items from a ZeroMQ PUB socket (zmq_pub_sink) at `address`, each message \
              whole items in their in-memory layout. A subscriber misses what was published \
              before it connected; with `timeout` > 0 it fails when no message arrives for that \
              many seconds",
        params: vec![
            ParamSpec::required(
                "address",
                ParamType::Str,
                "ZeroMQ endpoint to connect to, e.g. \"tcp://127.0.0.1:5555\"",
            ),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::float(
                "timeout",
                10.0,
                "seconds without a message after which the source fails (0 = wait forever), else 1 ms ..= 1 day",
            )
            .within(0.001, 86_400.0)
            .or_zero(true),
        ],
        ports,
        build,
    }
}

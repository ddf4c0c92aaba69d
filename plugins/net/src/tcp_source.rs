//! `tcp_source`: connect to a TCP server (a `tcp_sink`) and emit the items it sends.
//!
//! weir's own block rather than FutureSDR's `TcpSource`, which listens instead of connecting
//! and reads whole output buffers with `read_exact`, so the last partial buffer before the peer
//! closes would be dropped.
//!
//! How the connection ends decides how the stream ends:
//!
//! - a **reset** (`ECONNRESET`: the sender's socket was closed with data unread, or with
//!   `SO_LINGER` 0, or its host answered a dead connection) is always an error naming the peer:
//!   the kernel drops what it had received and not yet delivered, so data was lost;
//! - a **close inside an item** (`EOF` with part of an item received) is always an error too;
//!   the bytes of the partial item are counted (`partial_item_bytes`) and named;
//! - a **close on an item boundary** (`EOF`, the sender's FIN) is what both a deliberate end and
//!   a sender that died look like: TCP cannot tell them apart (the kernel of a killed process
//!   closes its sockets with the same FIN), and raw items carry no trailer. `on_close` says
//!   which it is for this flowgraph: `end` (the default) ends the stream, exit 0, as GNU Radio
//!   reads a TCP stream (its TCP and socket sinks end a stream by closing the connection, with
//!   nothing after the last item) and as weir's own `tcp_sink` ends one; `error` makes it an
//!   error naming the peer, for a stream that must not end (a live feed), so a sender that dies
//!   is never taken for the end of the data.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_io::{Async, Timer};
use futuresdr::futures::future::{Either, select};
use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{ItemCarry, RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, CounterLabel, ItemType, ParamSpec,
    ParamType, Params, Ports, add_source, choice, source_block,
};

choice! {
    /// What the server closing the connection on an item boundary means (see the module
    /// documentation: a reset or a close inside an item is an error either way).
    pub enum OnClose {
        /// The end of the stream (GNU Radio's convention).
        End = "end",
        /// An error naming the peer: the stream was not meant to end.
        Error = "error",
    }
}

/// The counter of the bytes of an item the connection ended inside of.
pub const PARTIAL_ITEM_BYTES: &str = "partial_item_bytes";

source_block! {
    /// Connects to `address` when the flowgraph starts and emits what the server sends, items
    /// in their in-memory layout, until the server closes the connection.
    pub struct TcpSource<T> {
        address: String,
        timeout: Option<Duration>,
        on_close: OnClose,
        stream: Option<Arc<Async<TcpStream>>>,
        /// The server's address once connected, for the errors.
        peer: String,
        /// Bytes of an item whose rest has not arrived yet.
        partial: ItemCarry,
        stats: Arc<BlockStats>,
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> TcpSource<T, W> {
    /// A source connecting to `address`; the connection attempt fails after `timeout`; a
    /// close on an item boundary is handled as `on_close` says.
    pub fn new(
        address: String,
        timeout: Option<Duration>,
        on_close: OnClose,
        stats: Arc<BlockStats>,
    ) -> Self {
        stats.label_counter(
            PARTIAL_ITEM_BYTES,
            CounterLabel {
                approximate: false,
                evidence: Some("exact".into()),
            },
        );
        Self {
            output: W::default(),
            peer: address.clone(),
            address,
            timeout,
            on_close,
            stream: None,
            partial: ItemCarry::default(),
            stats,
        }
    }

    async fn connect(&mut self) -> Result<()> {
        let addrs: Vec<SocketAddr> = self
            .address
            .to_socket_addrs()
            .map_err(|e| anyhow::anyhow!("cannot resolve {}: {e}", self.address))?
            .collect();
        let mut last = None;
        for addr in addrs {
            let connect = Box::pin(Async::<TcpStream>::connect(addr));
            let result = match self.timeout {
                Some(t) => match select(connect, Timer::after(t)).await {
                    Either::Left((r, _)) => r,
                    Either::Right(_) => Err(std::io::Error::new(
                        ErrorKind::TimedOut,
                        format!("no answer within {} s", t.as_secs_f64()),
                    )),
                },
                None => connect.await,
            };
            match result {
                Ok(stream) => {
                    if addr.to_string() != self.address {
                        self.peer = format!("{} ({addr})", self.address);
                    }
                    self.stream = Some(Arc::new(stream));
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e) => anyhow::bail!(
                "cannot connect to {}: {e} (is a tcp_sink listening there?)",
                self.address
            ),
            None => anyhow::bail!("cannot resolve {}: no address", self.address),
        }
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> StreamKernel for TcpSource<T, W> {
    async fn init(&mut self) -> Result<()> {
        self.connect().await
    }

    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let stream = self.stream.clone().context("not connected")?;
        let size = std::mem::size_of::<T>();
        let out = self.output.slice();
        if out.is_empty() {
            return Ok(());
        }
        let have = self.partial.len();
        match self
            .partial
            .read_into(out, |buf| stream.get_ref().read(buf))
        {
            Ok(filled) if filled.read == 0 => {
                if have != 0 {
                    self.stats.set_counter(PARTIAL_ITEM_BYTES, have as u64);
                    anyhow::bail!(
                        "{} closed the connection inside an item ({have} of {size} bytes \
                         received, not emitted): the sender died, or does not use this item \
                         type",
                        self.peer
                    );
                }
                self.stats
                    .set_note("closed", "by the server, on an item boundary");
                if self.on_close == OnClose::Error {
                    anyhow::bail!(
                        "{} closed the connection (on_close = \"error\": this stream must not \
                         end; a sender that dies closes it the same way)",
                        self.peer
                    );
                }
                io.finished = true;
            }
            Ok(filled) => {
                self.output.produce(filled.items);
                self.stats.add_out(filled.items);
                io.call_again = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                io.block_on(async move {
                    let _ = stream.readable().await;
                });
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => io.call_again = true,
            Err(e) => {
                if have != 0 {
                    self.stats.set_counter(PARTIAL_ITEM_BYTES, have as u64);
                }
                let lost = if e.kind() == ErrorKind::ConnectionReset {
                    " (the sender reset the connection: what it had sent and this side had \
                     not read yet is lost)"
                } else {
                    ""
                };
                anyhow::bail!("receiving from {}: {e}{lost}", self.peer)
            }
        }
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::source(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?.to_string();
    let timeout = crate::timeout(ctx.params)?;
    let on_close = ctx.params.read::<OnClose>("on_close")?;
    let stats = ctx.stats();
    Ok(add_source!(ctx, ctx.params.item("item")?, |T, W| {
        TcpSource::<T, W>::new(address, timeout, on_close, stats)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "tcp_source",
        doc: "Connect to `address` (a listening tcp_sink) when the flowgraph starts and emit the \
              items it sends, in their in-memory layout, until it closes the connection \
              (`on_close`). Fails if nobody listens there (connection refused), nobody answers \
              within `timeout`, the connection is reset or closed inside an item",
        params: vec![
            ParamSpec::required(
                "address",
                ParamType::Str,
                "server to connect to, host:port, e.g. \"127.0.0.1:5556\"",
            ),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::float(
                "timeout",
                10.0,
                "seconds to wait for the server to answer the connection (0 = the system's limit), else 1 ms ..= 1 day",
            )
            .within(0.001, 86_400.0)
            .or_zero(true),
            ParamSpec::choice(
                "on_close",
                OnClose::NAMES,
                "end",
                "the server closing the connection on an item boundary: `end` ends the stream (GNU Radio's convention), `error` fails the run naming it (a stream that must not end); a reset or a close inside an item fails either way",
            ),
        ],
        ports,
        build,
    }
}

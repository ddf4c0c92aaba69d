//! `tcp_sink`: listen on a TCP address and send items to the one client that connects.
//!
//! weir's own block rather than FutureSDR's `TcpSink`, which listens on 127.0.0.1 only, and
//! which, like its `TcpSource`, only listens: two of them cannot talk to each other. Here the
//! sink listens and `tcp_source` connects, as GNU Radio's TCP server sink and a client.

use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futuresdr::futures::future::select;
use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params,
    Ports, add_sink, sink_block,
};

sink_block! {
    /// Sends its input, items in their in-memory layout, to the first client that connects to
    /// `address`; ends (closing the connection) when the input ends.
    pub struct TcpSink<T> {
        listener: Arc<Async<TcpListener>>,
        address: String,
        client: Option<(Arc<Async<TcpStream>>, String)>,
        /// Bytes of the first unconsumed item already sent.
        partial: usize,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
        stats: Arc<BlockStats>,
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> TcpSink<T, R> {
    /// A sink on the bound `listener`; without a client after `timeout` it fails.
    pub fn new(
        listener: TcpListener,
        timeout: Option<Duration>,
        stats: Arc<BlockStats>,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?.to_string();
        Ok(Self {
            input: R::default(),
            listener: Arc::new(Async::new(listener)?),
            address,
            client: None,
            partial: 0,
            deadline: None,
            timeout,
            stats,
        })
    }

    /// Wait (without blocking the executor) until `ready` or the accept deadline.
    fn wait_for(&self, io: &mut WorkIo, ready: impl Future<Output = ()> + Send + 'static) {
        match self.deadline.filter(|_| self.client.is_none()) {
            Some(d) => io.block_on(async move {
                let _ = select(Box::pin(ready), Timer::at(d)).await;
            }),
            None => io.block_on(ready),
        }
    }
}

impl<T: RawItem, R: CpuBufferReader<Item = T>> StreamKernel for TcpSink<T, R> {
    async fn init(&mut self) -> Result<()> {
        self.deadline = self.timeout.map(|t| Instant::now() + t);
        Ok(())
    }

    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        if self.client.is_none() {
            match self.listener.get_ref().accept() {
                Ok((stream, peer)) => {
                    self.client = Some((Arc::new(Async::new(stream)?), peer.to_string()));
                    self.stats.set_note("client", peer.to_string());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let (Some(d), Some(t)) = (self.deadline, self.timeout)
                        && Instant::now() >= d
                    {
                        anyhow::bail!(
                            "no client connected to {} within {} s",
                            self.address,
                            t.as_secs_f64()
                        );
                    }
                    let l = self.listener.clone();
                    self.wait_for(io, async move {
                        let _ = l.readable().await;
                    });
                    return Ok(());
                }
                Err(e) => anyhow::bail!("accepting on {}: {e}", self.address),
            }
        }
        let Some((stream, peer)) = &self.client else {
            return Ok(());
        };
        let i = self.input.slice();
        let bytes: &[u8] = bytemuck::cast_slice(i);
        let size = std::mem::size_of::<T>();
        if bytes.len() > self.partial {
            match stream.get_ref().write(&bytes[self.partial..]) {
                Ok(n) => {
                    let sent = self.partial + n;
                    self.input.consume(sent / size);
                    self.stats.add_in(sent / size);
                    self.partial = sent % size;
                    io.call_again = true;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let s = stream.clone();
                    self.wait_for(io, async move {
                        let _ = s.writable().await;
                    });
                    return Ok(());
                }
                Err(e) => anyhow::bail!(
                    "sending to {peer} (connected to {}): {e}; {} items not sent",
                    self.address,
                    i.len()
                ),
            }
        }
        if self.input.finished() {
            if self.partial != 0 {
                anyhow::bail!("input ended inside an item");
            }
            io.finished = true;
        }
        Ok(())
    }

    fn deinit(&mut self) -> Result<()> {
        if let Some((stream, _)) = self.client.take() {
            // Best effort: the peer sees the end of the stream either way when the socket closes.
            let _ = stream.get_ref().shutdown(std::net::Shutdown::Write);
        }
        Ok(())
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::sink(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?;
    // Bind now, so a port already in use is reported before the flowgraph starts, and a client
    // may connect as soon as the flowgraph is built.
    let listener = TcpListener::bind(address)
        .map_err(|e| BuildError::param("address", format!("cannot listen on {address:?}: {e}")))?;
    let timeout = crate::timeout(ctx.params)?;
    let stats = ctx.stats();
    Ok(add_sink!(ctx, ctx.params.item("item")?, |T, R| {
        TcpSink::<T, R>::new(listener, timeout, stats)
            .map_err(|e| BuildError::Other(format!("listening on {address:?}: {e}")))?
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "tcp_sink",
        doc: "Listen on `address` (TCP server) and send the input, items in their in-memory \
              layout, to the first client that connects (tcp_source connects); closes the \
              connection when the input ends. Fails if no client connects within `timeout` \
              or the client goes away",
        params: vec![
            ParamSpec::required(
                "address",
                ParamType::Str,
                "address to listen on, e.g. \"127.0.0.1:5556\" or \"0.0.0.0:5556\"",
            ),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::float(
                "timeout",
                0.0,
                "seconds to wait for a client before failing (0 = wait until stopped), else 1 ms ..= 1 day",
            )
            .within(0.001, 86_400.0)
            .or_zero(true),
        ],
        ports,
        build,
    }
}

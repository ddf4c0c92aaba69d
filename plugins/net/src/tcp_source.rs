//! `tcp_source`: connect to a TCP server (a `tcp_sink`) and emit the items it sends.
//!
//! weir's own block rather than FutureSDR's `TcpSource`, which listens instead of connecting
//! and reads whole output buffers with `read_exact`, so the last partial buffer before the peer
//! closes would be dropped.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_io::{Async, Timer};
use futuresdr::futures::future::{Either, select};
use futuresdr::runtime::dev::prelude::*;
use weir_core::{
    BlockDescriptor, BlockStats, BufferKind, BuildContext, BuildError, ParamSpec, ParamType,
    Params, PortSpec, Ports, Value, with_item_type, with_writer,
};

/// Connects to `address` when the flowgraph starts and emits what the server sends, items in
/// their in-memory layout, until the server closes the connection.
#[derive(Block)]
pub struct TcpSource<T, W = DefaultCpuWriter<T>>
where
    T: CpuSample + bytemuck::Pod,
    W: CpuBufferWriter<Item = T>,
{
    #[output]
    output: W,
    address: String,
    timeout: Option<Duration>,
    stream: Option<Arc<Async<TcpStream>>>,
    /// Bytes of an item whose rest has not arrived yet.
    partial: Vec<u8>,
    stats: Arc<BlockStats>,
}

impl<T, W> TcpSource<T, W>
where
    T: CpuSample + bytemuck::Pod,
    W: CpuBufferWriter<Item = T>,
{
    /// A source connecting to `address`; the connection attempt fails after `timeout`.
    pub fn new(address: String, timeout: Option<Duration>, stats: Arc<BlockStats>) -> Self {
        Self {
            output: W::default(),
            address,
            timeout,
            stream: None,
            partial: Vec::new(),
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

    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let stream = self.stream.clone().context("not connected")?;
        let size = std::mem::size_of::<T>();
        let out = self.output.slice();
        let out: &mut [u8] = bytemuck::cast_slice_mut(out);
        if out.len() < size {
            return Ok(());
        }
        let have = self.partial.len();
        out[..have].copy_from_slice(&self.partial);
        match stream.get_ref().read(&mut out[have..]) {
            Ok(0) => {
                if have != 0 {
                    anyhow::bail!(
                        "{} closed the connection inside an item ({have} of {size} bytes): \
                         does the sender use this item type?",
                        self.address
                    );
                }
                io.finished = true;
            }
            Ok(n) => {
                let total = have + n;
                let items = total / size;
                self.partial.clear();
                self.partial.extend_from_slice(&out[items * size..total]);
                self.output.produce(items);
                self.stats.add_out(items);
                io.call_again = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                io.block_on(async move {
                    let _ = stream.readable().await;
                });
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => io.call_again = true,
            Err(e) => anyhow::bail!("receiving from {}: {e}", self.address),
        }
        Ok(())
    }
}

impl<T, W> Kernel for TcpSource<T, W>
where
    T: CpuSample + bytemuck::Pod,
    W: CpuBufferWriter<Item = T>,
{
    async fn init(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
        self.connect().await
    }

    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        self.step(io)
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        outputs: vec![
            PortSpec::output("out", "output", p.item("item")?, BufferKind::Circular)
                .filling_blocks(),
        ],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let address = ctx.params.str("address")?.to_string();
    let timeout = crate::timeout(ctx.params)?;
    let stats = ctx.stats();
    let out = ctx.output_buffer("out");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_writer!(out, T, W => ctx.add(TcpSource::<T, W>::new(address, timeout, stats)))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "tcp_source",
        doc: "Connect to `address` (a listening tcp_sink) when the flowgraph starts and emit the \
              items it sends, in their in-memory layout, until it closes the connection. \
              Fails if nobody listens there (connection refused) or nobody answers within \
              `timeout`",
        params: vec![
            ParamSpec::required(
                "address",
                ParamType::Str,
                "server to connect to, host:port, e.g. \"127.0.0.1:5556\"",
            ),
            ParamSpec::optional(
                "item",
                ParamType::Item,
                Value::Str("cf32".into()),
                "item type",
            ),
            ParamSpec::optional(
                "timeout",
                ParamType::Float,
                Value::Float(10.0),
                "seconds to wait for the server to answer the connection (0 = the system's limit), else 1 ms ..= 1 day",
            )
            .within(0.001, 86_400.0)
            .or_zero(true),
        ],
        ports,
        build,
    }
}

//! Build a checked flowgraph onto FutureSDR, run it, and report what every block did.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futuresdr::futures;
use futuresdr::runtime::scheduler::SmolScheduler;
use futuresdr::runtime::{BlockId, Flowgraph, FlowgraphHandle, FlowgraphTask, Pmt, Runtime};

use crate::buffer::BufferKind;
use crate::error::{LoadError, RunError};
use crate::flowgraph::{ConnectionKind, FlowgraphSpec};
use crate::registry::{BuildContext, Registry};
use crate::stats::BlockStats;

/// A block of a built flowgraph, with the statistics it updates while running.
#[derive(Debug, Clone)]
pub struct BlockHandle {
    /// Instance name.
    pub name: String,
    /// Block type name.
    pub type_name: String,
    /// FutureSDR block id.
    pub id: BlockId,
    /// Live statistics.
    pub stats: Arc<BlockStats>,
}

/// A flowgraph built onto FutureSDR and ready to run.
pub struct BuiltFlowgraph {
    flowgraph: Flowgraph,
    blocks: Vec<BlockHandle>,
}

/// A FutureSDR runtime configured for weir: no control-port web server (it would bind a fixed
/// TCP port, so two flowgraphs could not run side by side) and quiet runtime logging unless
/// `FUTURESDR_LOG` asks for more.
pub fn runtime() -> Runtime<SmolScheduler> {
    futuresdr::runtime::config::set("ctrlport_enable", false);
    futuresdr::runtime::config::set("log_level", "warn");
    Runtime::new()
}

impl FlowgraphSpec {
    /// Instantiate every block (with the reader type its input connection needs) and connect them.
    pub fn build(&self, registry: &Registry) -> Result<BuiltFlowgraph, LoadError> {
        let mut flowgraph = Flowgraph::new();
        let mut ids: HashMap<&str, BlockId> = HashMap::new();
        let mut blocks = Vec::with_capacity(self.blocks.len());

        for b in &self.blocks {
            let descriptor = registry.get(&b.type_name).ok_or_else(|| {
                self.error_at_block(
                    b,
                    format!("block type `{}` is not in this registry", b.type_name),
                )
            })?;
            let mut input_buffers: HashMap<&'static str, BufferKind> = HashMap::new();
            let mut input_sizes: Vec<(&'static str, usize)> = Vec::new();
            for c in self
                .connections
                .iter()
                .filter(|c| c.to.block == b.name && c.kind == ConnectionKind::Stream)
            {
                let kind = self
                    .output_port(&c.from.block, &c.from.port)
                    .map_or(BufferKind::Circular, |p| p.buffer);
                if let Some(input) = b.ports.inputs.iter().find(|p| p.name == c.to.port) {
                    input_buffers.insert(input.name, kind);
                    if let Some(n) = c.effective_buffer {
                        input_sizes.push((input.name, n));
                    }
                }
            }
            let mut output_buffers = Vec::new();
            for c in self
                .connections
                .iter()
                .filter(|c| c.from.block == b.name && c.kind == ConnectionKind::Stream)
            {
                let wants_fill = self
                    .input_port(&c.to.block, &c.to.port)
                    .is_some_and(|p| p.buffer == BufferKind::FillBlock);
                if let (true, Some(out)) = (
                    wants_fill,
                    b.ports.outputs.iter().find(|p| p.name == c.from.port),
                ) {
                    output_buffers.push(out.name);
                }
            }
            let mut ctx = BuildContext::new(&b.name, &b.params, input_buffers, &mut flowgraph);
            for port in output_buffers {
                ctx.set_output_buffer(port, BufferKind::FillBlock);
            }
            for (port, n) in input_sizes {
                ctx.set_input_buffer_items(port, n);
            }
            let id = (descriptor.build)(&mut ctx).map_err(|e| self.build_error(b, e))?;
            ids.insert(&b.name, id);
            blocks.push(BlockHandle {
                name: b.name.clone(),
                type_name: b.type_name.clone(),
                id,
                stats: ctx.into_stats(),
            });
        }

        for c in self
            .connections
            .iter()
            .filter(|c| c.kind == ConnectionKind::Message)
        {
            let (Some(src), Some(dst)) =
                (ids.get(c.from.block.as_str()), ids.get(c.to.block.as_str()))
            else {
                continue;
            };
            flowgraph
                .message(*src, c.from.port.as_str(), *dst, c.to.port.as_str())
                .map_err(|e| {
                    let b = self.block(&c.to.block).unwrap_or(&self.blocks[0]);
                    self.error_at_block(
                        b,
                        format!(
                            "cannot connect `{}.{}` => `{}.{}`: {e}",
                            c.from.block, c.from.port, c.to.block, c.to.port
                        ),
                    )
                })?;
        }

        for c in self
            .connections
            .iter()
            .filter(|c| c.kind == ConnectionKind::Stream)
        {
            let (Some(out), Some(inp), Some(src), Some(dst)) = (
                self.output_port(&c.from.block, &c.from.port),
                self.input_port(&c.to.block, &c.to.port),
                ids.get(c.from.block.as_str()),
                ids.get(c.to.block.as_str()),
            ) else {
                continue;
            };
            flowgraph
                .stream_dyn(*src, out.runtime_name, *dst, inp.runtime_name)
                .map_err(|e| {
                    let b = self.block(&c.to.block).unwrap_or(&self.blocks[0]);
                    self.error_at_block(
                        b,
                        format!(
                            "cannot connect `{}.{}` -> `{}.{}`: {e}",
                            c.from.block, c.from.port, c.to.block, c.to.port
                        ),
                    )
                })?;
        }

        Ok(BuiltFlowgraph { flowgraph, blocks })
    }

    fn output_port(&self, block: &str, port: &str) -> Option<&crate::registry::PortSpec> {
        self.block(block)?
            .ports
            .outputs
            .iter()
            .find(|p| p.name == port)
    }

    fn input_port(&self, block: &str, port: &str) -> Option<&crate::registry::PortSpec> {
        self.block(block)?
            .ports
            .inputs
            .iter()
            .find(|p| p.name == port)
    }
}

impl BuiltFlowgraph {
    /// The blocks, in file order.
    pub fn blocks(&self) -> &[BlockHandle] {
        &self.blocks
    }

    /// The underlying FutureSDR flowgraph, e.g. to add blocks built in code.
    pub fn flowgraph_mut(&mut self) -> &mut Flowgraph {
        &mut self.flowgraph
    }

    /// Run to completion on a fresh runtime and report.
    pub fn run(self) -> Result<RunReport, RunError> {
        self.start()?.wait()
    }

    /// Start running in the background and return at once.
    pub fn start(self) -> Result<RunningFlowgraph, RunError> {
        let runtime = runtime();
        let started = Instant::now();
        let running = runtime
            .start(self.flowgraph)
            .map_err(|e| RunError::Runtime(e.to_string()))?;
        let (task, handle) = running.split();
        Ok(RunningFlowgraph {
            _runtime: runtime,
            task: Some(task),
            handle,
            blocks: self.blocks,
            started,
        })
    }
}

/// A flowgraph running in the background: read its statistics, send messages to its blocks'
/// message ports, stop it, wait for it.
pub struct RunningFlowgraph {
    // Owns the executor threads the flowgraph runs on.
    _runtime: Runtime<SmolScheduler>,
    task: Option<FlowgraphTask>,
    handle: FlowgraphHandle,
    blocks: Vec<BlockHandle>,
    started: Instant,
}

impl RunningFlowgraph {
    /// The blocks, in file order.
    pub fn blocks(&self) -> &[BlockHandle] {
        &self.blocks
    }

    /// A snapshot of every block's statistics now.
    pub fn stats(&self) -> RunReport {
        RunReport::collect(&self.blocks, self.started.elapsed())
    }

    fn block_id(&self, block: &str) -> Result<BlockId, RunError> {
        self.blocks
            .iter()
            .find(|b| b.name == block)
            .map(|b| b.id)
            .ok_or_else(|| RunError::NoSuchBlock(block.to_string()))
    }

    /// Send `value` to message input `port` of `block` (e.g. a new gain) and wait until the block
    /// has handled it.
    pub async fn call_async(&self, block: &str, port: &str, value: Pmt) -> Result<Pmt, RunError> {
        let id = self.block_id(block)?;
        self.handle
            .call(id, port, value)
            .await
            .map_err(|e| RunError::Message {
                block: block.to_string(),
                port: port.to_string(),
                message: e.to_string(),
            })
    }

    /// Blocking form of [`call_async`](Self::call_async).
    pub fn call(&self, block: &str, port: &str, value: Pmt) -> Result<Pmt, RunError> {
        async_io::block_on(self.call_async(block, port, value))
    }

    /// Ask every block to stop; [`wait`](Self::wait) then returns the final statistics.
    pub fn stop(&self) -> Result<(), RunError> {
        async_io::block_on(self.handle.stop()).map_err(|e| RunError::Runtime(e.to_string()))
    }

    /// The error of a failed run: the first block that recorded why it failed, or what the
    /// runtime said.
    fn failure(&self, e: futuresdr::runtime::Error) -> RunError {
        self.blocks
            .iter()
            .find_map(|b| {
                b.stats.error().map(|message| RunError::Block {
                    block: b.name.clone(),
                    message,
                })
            })
            .unwrap_or_else(|| RunError::Runtime(e.to_string()))
    }

    /// Wait until the flowgraph has ended (end of stream, stop request or error).
    pub async fn wait_async(mut self) -> Result<RunReport, RunError> {
        if let Some(task) = self.task.take() {
            task.await.map_err(|e| self.failure(e))?;
        }
        Ok(self.stats())
    }

    /// Blocking form of [`wait_async`](Self::wait_async).
    pub fn wait(self) -> Result<RunReport, RunError> {
        async_io::block_on(self.wait_async())
    }

    /// Wait at most `timeout`; `Ok(None)` when the flowgraph is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<RunReport>, RunError> {
        let Some(task) = self.task.as_mut() else {
            return Ok(Some(self.stats()));
        };
        let finished = async_io::block_on(async {
            futures::future::select(task, async_io::Timer::after(timeout)).await
        });
        match finished {
            futures::future::Either::Left((result, _)) => {
                self.task = None;
                result.map_err(|e| self.failure(e))?;
                Ok(Some(self.stats()))
            }
            futures::future::Either::Right(_) => Ok(None),
        }
    }
}

/// What one block did.
#[derive(Debug, Clone)]
pub struct BlockReport {
    /// Instance name.
    pub name: String,
    /// Block type name.
    pub type_name: String,
    /// Items consumed.
    pub items_in: u64,
    /// Items produced.
    pub items_out: u64,
    /// Named counters (blocks, overruns, ...).
    pub counters: Vec<(&'static str, u64)>,
    /// Notes (transport in use, ...).
    pub notes: Vec<(&'static str, String)>,
}

impl BlockReport {
    /// Items processed: produced by sources, consumed by everything else.
    pub fn items(&self) -> u64 {
        self.items_in.max(self.items_out)
    }

    /// A named counter.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Statistics of a finished (or running) flowgraph.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Wall-clock run time.
    pub elapsed: Duration,
    /// One entry per block, in file order.
    pub blocks: Vec<BlockReport>,
}

impl RunReport {
    /// Snapshot the statistics of `blocks` after `elapsed`.
    pub fn collect(blocks: &[BlockHandle], elapsed: Duration) -> Self {
        Self {
            elapsed,
            blocks: blocks
                .iter()
                .map(|b| BlockReport {
                    name: b.name.clone(),
                    type_name: b.type_name.clone(),
                    items_in: b.stats.items_in(),
                    items_out: b.stats.items_out(),
                    counters: b.stats.counters(),
                    notes: b.stats.notes(),
                })
                .collect(),
        }
    }

    /// A block's report by instance name.
    pub fn block(&self, name: &str) -> Option<&BlockReport> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(f, "ran {secs:.3} s")?;
        writeln!(
            f,
            "{:<12} {:<20} {:>14} {:>14} {:>12}",
            "block", "type", "items in", "items out", "rate"
        )?;
        for b in &self.blocks {
            let rate = if secs > 0.0 {
                b.items() as f64 / secs
            } else {
                0.0
            };
            write!(
                f,
                "{:<12} {:<20} {:>14} {:>14} {:>10.2} M/s",
                b.name,
                b.type_name,
                b.items_in,
                b.items_out,
                rate / 1e6
            )?;
            for (k, v) in &b.counters {
                write!(f, "  {k}={v}")?;
            }
            for (k, v) in &b.notes {
                write!(f, "  {k}={v}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

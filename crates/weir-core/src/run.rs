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
use crate::registry::{BuildContext, BuildError, Registry};
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
    connections: Vec<ConnectionHandle>,
    /// Executor threads; 0 = one per core.
    threads: usize,
}

/// A stream connection of a built flowgraph, as far as its buffer fill can be observed.
///
/// Items in the buffer = items produced by the upstream block minus items consumed by the
/// downstream block. Statistics are kept per block, not per port, so this is exact only when
/// the upstream block has a single stream output and the downstream block a single stream
/// input, and both count their items (weir's blocks do; FutureSDR's stock blocks do not).
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    /// Upstream end, `block.port`.
    pub from: String,
    /// Downstream end, `block.port`.
    pub to: String,
    /// Index of the upstream block in the flowgraph's blocks.
    pub from_block: usize,
    /// Index of the downstream block.
    pub to_block: usize,
    /// Whether the block counters measure this connection (single ports at both ends).
    pub measurable: bool,
    /// Items the buffer holds at most, when known.
    pub capacity: Option<usize>,
}

/// The size in items of the circular buffer FutureSDR 0.0.40 creates for a connection
/// (`runtime/buffer/circular.rs`, `Writer::connect`): the larger of the reader's minimum
/// items and the asked-for size (or, when none is asked for, the configured `buffer_size`,
/// [`crate::runtime_config::BUFFER_BYTES`] in weir), rounded up to whole pages holding whole
/// items.
fn circular_capacity(item_size: usize, min_items: usize, asked: Option<usize>) -> usize {
    let item_size = item_size.max(1);
    let page = rustix::param::page_size();
    let min_bytes = min_items.max(1) * item_size;
    let want = match asked {
        Some(n) => min_bytes.max(n * item_size),
        None => min_bytes.max(
            crate::runtime_config::take_over()
                .ok()
                .map_or(crate::runtime_config::BUFFER_BYTES, |_| {
                    futuresdr::runtime::config::config().buffer_size
                }),
        ),
    };
    let mut bytes = page;
    while bytes < want || !bytes.is_multiple_of(item_size) {
        bytes += page;
    }
    bytes / item_size
}

/// A FutureSDR runtime configured for weir ([`crate::runtime_config`]: no control-port web
/// server — it would bind a fixed TCP port, so two flowgraphs could not run side by side —,
/// quiet runtime logging, and weir's values whatever `FUTURESDR_*` variables and configuration
/// files say).
///
/// # Panics
/// If FutureSDR cannot read its configuration (a value it cannot parse: see
/// [`crate::runtime_config::take_over`]); [`BuiltFlowgraph::start`] returns that as an error.
pub fn runtime() -> Runtime<SmolScheduler> {
    runtime_with_threads(0)
}

/// [`runtime`] with `threads` executor threads (0 = FutureSDR's default, one per core).
///
/// Fewer executors than cores can be faster when a device thread needs a core of its own, and
/// because FutureSDR's circular buffer spins while a peer holds its lock: on a 2-core machine,
/// one executor ran the simulated-RX pipelines 1.2-2.3x faster (BENCHMARKS.md). One executor
/// cannot run two blocks at the same time, though, so wide flowgraphs want more.
pub fn runtime_with_threads(threads: usize) -> Runtime<SmolScheduler> {
    if let Err(e) = crate::runtime_config::take_over() {
        panic!("{e}");
    }
    if threads == 0 {
        Runtime::new()
    } else {
        Runtime::with_scheduler(SmolScheduler::new(threads, false))
    }
}

impl FlowgraphSpec {
    /// Instantiate every block (with the reader type its input connection needs) and connect them.
    pub fn build(&self, registry: &Registry) -> Result<BuiltFlowgraph, LoadError> {
        self.build_into(registry, Flowgraph::new())
    }

    /// [`build`](Self::build) into a FutureSDR flowgraph that already holds blocks built in code,
    /// to be connected to this file's blocks afterwards through
    /// [`BuiltFlowgraph::flowgraph_mut`].
    ///
    /// Add such blocks here rather than after the build when they receive from the file's
    /// blocks: FutureSDR 0.0.40 initialises blocks in the order they were added and drops a
    /// message or end-of-stream that reaches a block before its initialisation (see
    /// `init_order`), so a block added after the build could miss what an upstream block sends
    /// right after starting.
    pub fn build_into(
        &self,
        registry: &Registry,
        mut flowgraph: Flowgraph,
    ) -> Result<BuiltFlowgraph, LoadError> {
        let mut ids: HashMap<&str, BlockId> = HashMap::new();
        let mut blocks = Vec::with_capacity(self.blocks.len());

        // Blocks are added downstream first (see `init_order`), each kept with its file position.
        for (position, b) in self.init_order().into_iter().map(|i| (i, &self.blocks[i])) {
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
            ctx.declare_ports(&b.ports);
            for port in output_buffers {
                ctx.set_output_buffer(port, BufferKind::FillBlock);
            }
            for (port, n) in input_sizes {
                ctx.set_input_buffer_items(port, n);
            }
            let id = (descriptor.build)(&mut ctx).map_err(|e| self.build_error(b, e))?;
            if let Some(mismatch) = ctx.port_mismatch() {
                return Err(self.build_error(
                    b,
                    BuildError::Other(format!(
                        "block type `{}` is broken: {mismatch}",
                        b.type_name
                    )),
                ));
            }
            ids.insert(&b.name, id);
            blocks.push((
                position,
                BlockHandle {
                    name: b.name.clone(),
                    type_name: b.type_name.clone(),
                    id,
                    stats: ctx.into_stats(),
                },
            ));
        }

        // Reported in file order, whatever order they were added in.
        blocks.sort_by_key(|(position, _)| *position);
        let blocks: Vec<BlockHandle> = blocks.into_iter().map(|(_, b)| b).collect();

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

        let connections = self.connection_handles();
        Ok(BuiltFlowgraph {
            flowgraph,
            blocks,
            connections,
            threads: 0,
        })
    }

    /// Indices of the blocks, every block after the blocks downstream of it (stream and message
    /// connections; in a cycle, in file order).
    ///
    /// FutureSDR 0.0.40 sends `Initialize` to the blocks in the order they were added, and a
    /// block that is done sends `StreamInputDone` to the blocks downstream. A block that gets
    /// that message while it still waits for its `Initialize` drops it ("unhandled message
    /// during init") and then waits forever for an input that has already ended: a source that
    /// finishes at once (a short `vector_source`) could hang its flowgraph. A block's inbox is
    /// first-in first-out, so when every block gets its `Initialize` before any block upstream
    /// of it does, no end-of-stream can overtake it.
    fn init_order(&self) -> Vec<usize> {
        let mut downstream = vec![Vec::new(); self.blocks.len()];
        for c in &self.connections {
            if let (Some(from), Some(to)) = (
                self.block_index(&c.from.block),
                self.block_index(&c.to.block),
            ) {
                downstream[from].push(to);
            }
        }
        // Depth-first post-order: a block is listed once everything below it is.
        fn visit(n: usize, downstream: &[Vec<usize>], seen: &mut [bool], order: &mut Vec<usize>) {
            seen[n] = true;
            for &d in &downstream[n] {
                if !seen[d] {
                    visit(d, downstream, seen, order);
                }
            }
            order.push(n);
        }
        let mut seen = vec![false; self.blocks.len()];
        let mut order = Vec::with_capacity(self.blocks.len());
        for n in 0..self.blocks.len() {
            if !seen[n] {
                visit(n, &downstream, &mut seen, &mut order);
            }
        }
        order
    }

    /// The stream connections with what is known of their buffers.
    fn connection_handles(&self) -> Vec<ConnectionHandle> {
        self.connections
            .iter()
            .filter(|c| c.kind == ConnectionKind::Stream)
            .filter_map(|c| {
                let from_block = self.block_index(&c.from.block)?;
                let to_block = self.block_index(&c.to.block)?;
                let src = &self.blocks[from_block];
                let dst = &self.blocks[to_block];
                let out = self.output_port(&c.from.block, &c.from.port)?;
                let inp = self.input_port(&c.to.block, &c.to.port)?;
                let capacity = match (out.buffer, inp.buffer) {
                    // Device memory lent downstream: the source's queue of DMA blocks, whose
                    // depth is, by the DMA blocks' convention, their `blocks` parameter.
                    (BufferKind::MappedBlock, _) => out.fixed_buffer_items.and_then(|n| {
                        let depth = src.params.int("blocks").ok()?;
                        Some(n * usize::try_from(depth).ok()?)
                    }),
                    // A zero-copy sink's device blocks: their size in items is the sink's
                    // business and is not declared on its port.
                    (_, BufferKind::FillBlock) => None,
                    // The size the build asks for (the same for every reader of the output).
                    _ => Some(circular_capacity(
                        out.item.size(),
                        inp.min_items,
                        c.effective_buffer,
                    )),
                };
                Some(ConnectionHandle {
                    from: format!("{}.{}", c.from.block, c.from.port),
                    to: format!("{}.{}", c.to.block, c.to.port),
                    from_block,
                    to_block,
                    measurable: src.ports.outputs.len() == 1 && dst.ports.inputs.len() == 1,
                    capacity,
                })
            })
            .collect()
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

    /// The stream connections, in file order.
    pub fn connections(&self) -> &[ConnectionHandle] {
        &self.connections
    }

    /// The underlying FutureSDR flowgraph, e.g. to add blocks built in code (a block that
    /// receives from this flowgraph's blocks is better added before the build: see
    /// [`FlowgraphSpec::build_into`]).
    pub fn flowgraph_mut(&mut self) -> &mut Flowgraph {
        &mut self.flowgraph
    }

    /// Run to completion on a fresh runtime and report.
    pub fn run(self) -> Result<RunReport, RunError> {
        self.start()?.wait()
    }

    /// Run on `threads` executor threads instead of one per core (0 = one per core); see
    /// [`runtime_with_threads`].
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Start running in the background and return at once.
    pub fn start(self) -> Result<RunningFlowgraph, RunError> {
        crate::runtime_config::take_over().map_err(RunError::Runtime)?;
        let runtime = runtime_with_threads(self.threads);
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
            connections: self.connections,
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
    connections: Vec<ConnectionHandle>,
    started: Instant,
}

impl RunningFlowgraph {
    /// The blocks, in file order.
    pub fn blocks(&self) -> &[BlockHandle] {
        &self.blocks
    }

    /// The stream connections, in file order.
    pub fn connections(&self) -> &[ConnectionHandle] {
        &self.connections
    }

    /// The blocks whose run has not ended yet (see [`BlockStats::ended`]), in file order: after
    /// a stop request, those that do not stop.
    pub fn unfinished_blocks(&self) -> Vec<&BlockHandle> {
        self.blocks.iter().filter(|b| !b.stats.ended()).collect()
    }

    /// A snapshot of every block's statistics and every connection's buffer fill now.
    pub fn stats(&self) -> RunReport {
        RunReport::collect_with_connections(&self.blocks, &self.connections, self.started.elapsed())
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
    /// Whether the block counts consumed items (stock FutureSDR blocks do not).
    pub counts_in: bool,
    /// Whether the block counts produced items.
    pub counts_out: bool,
    /// Named counters (blocks, overruns, ...).
    pub counters: Vec<(&'static str, u64)>,
    /// Notes (transport in use, ...).
    pub notes: Vec<(&'static str, String)>,
    /// How the counters that have a label are known (estimates, their evidence).
    pub counter_labels: Vec<(&'static str, crate::stats::CounterLabel)>,
    /// The per-DMA-block latency the block measured (the IIO source and sinks): count, p50,
    /// p99, maximum ([`crate::latency`]).
    pub latency: Option<crate::latency::LatencySummary>,
}

impl BlockReport {
    /// Each counter as `name=value`, or as its label says (`overruns=3 (estimate)`,
    /// `dropped_samples≈49152`), sorted by name.
    pub fn counter_texts(&self) -> Vec<String> {
        self.counters
            .iter()
            .map(|(k, v)| {
                let label = self
                    .counter_labels
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, l)| l);
                crate::stats::CounterLabel::format(label, k, *v)
            })
            .collect()
    }

    /// Items processed: produced by sources, consumed by everything else.
    pub fn items(&self) -> u64 {
        self.items_in.max(self.items_out)
    }

    /// Whether the block counts its items at all; when not, its zeros mean "not known".
    pub fn counts_items(&self) -> bool {
        self.counts_in || self.counts_out
    }

    /// A named counter.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// The fill of one stream connection's buffer.
#[derive(Debug, Clone)]
pub struct ConnectionReport {
    /// Upstream end, `block.port`.
    pub from: String,
    /// Downstream end, `block.port`.
    pub to: String,
    /// Items in the buffer (produced upstream, not yet consumed downstream); `None` when the
    /// block counters cannot tell (see [`ConnectionHandle`]).
    pub items: Option<u64>,
    /// Items the buffer holds at most, when known.
    pub capacity: Option<usize>,
}

impl ConnectionReport {
    /// The fill in percent of the capacity, when both are known.
    pub fn percent(&self) -> Option<f64> {
        match (self.items, self.capacity) {
            (Some(n), Some(c)) if c > 0 => Some(n as f64 * 100.0 / c as f64),
            _ => None,
        }
    }

    /// The fill as text: `items/capacity (percent)`, `-` for what is not known.
    pub fn fill_text(&self) -> String {
        let items = self.items.map_or("-".to_string(), |n| n.to_string());
        match (self.capacity, self.percent()) {
            (Some(c), Some(p)) => format!("{items}/{c} ({p:.1} %)"),
            (Some(c), None) => format!("{items}/{c}"),
            (None, _) => items,
        }
    }
}

/// Statistics of a finished (or running) flowgraph.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Wall-clock run time.
    pub elapsed: Duration,
    /// One entry per block, in file order.
    pub blocks: Vec<BlockReport>,
    /// One entry per stream connection, in file order.
    pub connections: Vec<ConnectionReport>,
}

impl RunReport {
    /// Snapshot the statistics of `blocks` after `elapsed` (no connections).
    pub fn collect(blocks: &[BlockHandle], elapsed: Duration) -> Self {
        Self::collect_with_connections(blocks, &[], elapsed)
    }

    /// Snapshot the statistics of `blocks` and the buffer fill of `connections` after
    /// `elapsed`.
    pub fn collect_with_connections(
        blocks: &[BlockHandle],
        connections: &[ConnectionHandle],
        elapsed: Duration,
    ) -> Self {
        // The counters are read without stopping anything. Produced is read before consumed,
        // so a consumer that moves on in between makes the difference smaller, never larger.
        // Blocks also count a little after they produce or consume: a consumer that has freed
        // space but not yet counted it can make the difference exceed the buffer for an
        // instant, so it is capped at the capacity.
        let connections = connections
            .iter()
            .map(|c| {
                let items = (|| {
                    if !c.measurable {
                        return None;
                    }
                    let src = &blocks.get(c.from_block)?.stats;
                    let dst = &blocks.get(c.to_block)?.stats;
                    let produced = src.items_out();
                    let consumed = dst.items_in();
                    let fill = produced.saturating_sub(consumed);
                    (src.counts_out() && dst.counts_in())
                        .then(|| c.capacity.map_or(fill, |cap| fill.min(cap as u64)))
                })();
                ConnectionReport {
                    from: c.from.clone(),
                    to: c.to.clone(),
                    items,
                    capacity: c.capacity,
                }
            })
            .collect();
        Self {
            connections,
            elapsed,
            blocks: blocks
                .iter()
                .map(|b| BlockReport {
                    name: b.name.clone(),
                    type_name: b.type_name.clone(),
                    items_in: b.stats.items_in(),
                    items_out: b.stats.items_out(),
                    counts_in: b.stats.counts_in(),
                    counts_out: b.stats.counts_out(),
                    counters: b.stats.counters(),
                    notes: b.stats.notes(),
                    counter_labels: b.stats.counter_labels(),
                    latency: b.stats.latency(),
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
        // A block that does not count its items (a stock FutureSDR block) shows `-`, not 0.
        let count = |counted: bool, n: u64| if counted { n.to_string() } else { "-".into() };
        for b in &self.blocks {
            let rate = if !b.counts_items() {
                "-".to_string()
            } else if secs > 0.0 {
                format!("{:.2} M/s", b.items() as f64 / secs / 1e6)
            } else {
                "0.00 M/s".to_string()
            };
            write!(
                f,
                "{:<12} {:<20} {:>14} {:>14} {:>14}",
                b.name,
                b.type_name,
                count(b.counts_in, b.items_in),
                count(b.counts_out, b.items_out),
                rate
            )?;
            for text in b.counter_texts() {
                write!(f, "  {text}")?;
            }
            if let Some(latency) = &b.latency {
                write!(f, "  {latency}")?;
            }
            for (k, v) in &b.notes {
                write!(f, "  {k}={v}")?;
            }
            writeln!(f)?;
        }
        if !self.connections.is_empty() {
            writeln!(f, "{:<34} buffer fill (items/capacity)", "connection")?;
            for c in &self.connections {
                writeln!(
                    f,
                    "{:<34} {}",
                    format!("{} -> {}", c.from, c.to),
                    c.fill_text()
                )?;
            }
        }
        Ok(())
    }
}

//! The test kit (feature `testing`): what weir's own tests and a plugin's tests need to run
//! flowgraphs and single blocks in a few lines.
//!
//! - [`run_toml`] / [`run_toml_with`] / [`load_toml`] / [`build_toml`] / [`start_toml`] /
//!   [`run_error`] / [`load_error`]: a flowgraph written as a TOML string, checked, built, run or
//!   started against a registry, panicking with the error if it does not get as far as the
//!   test expects (they are for tests); [`wait_until`] watches a started one reach a state;
//! - [`run_chain`] / [`run_through`]: one block between a source and a sink in a FutureSDR
//!   flowgraph, added sink first so that a source which ends at once cannot race the block's
//!   initialisation (FutureSDR 0.0.40 drops a `StreamInputDone` that reaches a block before its
//!   `Initialize`, and the block then waits forever; see `docs/architecture.md`);
//! - [`run_mocked`]: one block over FutureSDR's [`Mocker`], no runtime at all;
//! - [`blocks`]: shared test blocks ([`blocks::MappedSource`] hands out by-reference blocks as
//!   the DMABUF source does, [`blocks::CollectSink`] keeps every item and tag).
//!
//! Not compiled into weir unless the feature is on: a test crate enables it in its
//! `[dev-dependencies]`.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use futuresdr::blocks::{VectorSink, VectorSource};
use futuresdr::runtime::__private::KernelInterface;
use futuresdr::runtime::Flowgraph;
use futuresdr::runtime::dev::{
    BufferWriter, CpuSample, DefaultCpuReader, DefaultCpuWriter, Kernel,
};
use futuresdr::runtime::mocker::{Mocker, Reader, Writer};

use crate::{
    BuiltFlowgraph, FlowgraphSpec, LoadError, Registry, RunError, RunReport, RunningFlowgraph,
};

/// Checks `text` (named `name` in error messages) against `registry`, builds and runs it.
///
/// # Panics
/// If the flowgraph does not load, build or run; the message holds the error.
pub fn run_toml(registry: &Registry, name: &str, text: &str) -> RunReport {
    run_toml_with(registry, name, text, &[])
}

/// [`run_toml`] with `[vars]` overrides, as `weir run --set NAME=VALUE` gives them.
///
/// # Panics
/// If the flowgraph does not load, build or run; the message holds the error.
pub fn run_toml_with(
    registry: &Registry,
    name: &str,
    text: &str,
    set: &[(&str, &str)],
) -> RunReport {
    let set: Vec<(String, String)> = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let spec = FlowgraphSpec::parse_with(text, name, registry, &set)
        .unwrap_or_else(|e| panic!("flowgraph loads: {e}\n{text}"));
    spec.build(registry)
        .unwrap_or_else(|e| panic!("flowgraph builds: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("flowgraph runs: {e}"))
}

/// Checks `text` (named `name` in error messages) against `registry`.
///
/// # Panics
/// If the flowgraph does not load; the message holds the error.
pub fn load_toml(registry: &Registry, name: &str, text: &str) -> FlowgraphSpec {
    FlowgraphSpec::parse(text, name, registry)
        .unwrap_or_else(|e| panic!("flowgraph loads: {e}\n{text}"))
}

/// Checks `text` against `registry` and builds it.
///
/// # Panics
/// If the flowgraph does not load or build; the message holds the error.
pub fn build_toml(registry: &Registry, name: &str, text: &str) -> BuiltFlowgraph {
    load_toml(registry, name, text)
        .build(registry)
        .unwrap_or_else(|e| panic!("flowgraph builds: {e}"))
}

/// Checks `text` against `registry`, builds it and starts it on its own runtime: for a test
/// that watches or talks to a flowgraph while it runs.
///
/// # Panics
/// If the flowgraph does not load, build or start; the message holds the error.
pub fn start_toml(registry: &Registry, name: &str, text: &str) -> RunningFlowgraph {
    build_toml(registry, name, text)
        .start()
        .unwrap_or_else(|e| panic!("flowgraph starts: {e}"))
}

/// The error the run of `text` ends with: it loads and builds, and the run must fail.
///
/// # Panics
/// If the flowgraph does not load or build, or runs to its end without an error.
pub fn run_error(registry: &Registry, name: &str, text: &str) -> RunError {
    build_toml(registry, name, text)
        .run()
        .err()
        .unwrap_or_else(|| panic!("the run of {name} should have failed"))
}

/// Waits until `cond` holds, checking every 5 ms, for a running flowgraph to reach a state.
///
/// # Panics
/// After 30 s (a deadline far beyond any healthy run: reaching it is a hang, not slowness),
/// naming `what` was awaited.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The error `registry` refuses `text` with (named `name` in the error).
///
/// # Panics
/// If the flowgraph loads.
pub fn load_error(registry: &Registry, name: &str, text: &str) -> LoadError {
    match FlowgraphSpec::parse(text, name, registry) {
        Ok(_) => panic!("flowgraph should have been rejected:\n{text}"),
        Err(e) => e,
    }
}

/// Runs `source -> block -> sink` on weir's runtime and returns what `take` reads from the
/// sink afterwards. The blocks are added sink first (see the [module documentation](self)).
///
/// The port arguments pick each kernel's stream port, as [`Flowgraph::stream`] takes them.
///
/// # Panics
/// If a connection is refused or the flowgraph fails.
#[allow(clippy::too_many_arguments)]
pub fn run_chain<S, K, D, BS, BK, R>(
    source: S,
    source_out: fn(&mut S) -> &mut BS,
    block: K,
    block_in: fn(&mut K) -> &mut BS::Reader,
    block_out: fn(&mut K) -> &mut BK,
    sink: D,
    sink_in: fn(&mut D) -> &mut BK::Reader,
    take: impl FnOnce(&D) -> R,
) -> R
where
    S: Kernel + KernelInterface + 'static,
    K: Kernel + KernelInterface + 'static,
    D: Kernel + KernelInterface + 'static,
    BS: BufferWriter,
    BK: BufferWriter,
{
    let mut fg = Flowgraph::new();
    let snk = fg.add(sink);
    let blk = fg.add(block);
    let src = fg.add(source);
    fg.stream(&src, source_out, &blk, block_in)
        .expect("connect source -> block");
    fg.stream(&blk, block_out, &snk, sink_in)
        .expect("connect block -> sink");
    let fg = crate::runtime().run(fg).expect("flowgraph runs");
    let sink = fg.block(&snk).expect("sink");
    take(&sink)
}

/// Runs `input` through `block` between a `VectorSource` and a `VectorSink` (circular buffers)
/// and returns what reached the sink.
///
/// # Panics
/// If a connection is refused or the flowgraph fails.
pub fn run_through<A, B, K>(
    input: Vec<A>,
    block: K,
    block_in: fn(&mut K) -> &mut DefaultCpuReader<A>,
    block_out: fn(&mut K) -> &mut DefaultCpuWriter<B>,
) -> Vec<B>
where
    A: CpuSample + Copy + Sync + Debug,
    B: CpuSample + Copy + Sync + Debug,
    K: Kernel + KernelInterface + 'static,
{
    let n = input.len();
    run_chain(
        VectorSource::<A>::new(input),
        |s| s.output(),
        block,
        block_in,
        block_out,
        VectorSink::<B>::new(n),
        |s| s.input(),
        |s| s.items().clone(),
    )
}

/// Runs `input` through the mocked block's `block_in` / `block_out` ports once (room for as
/// many output items as input items) and returns the output items.
pub fn run_mocked<K, A, B>(
    m: &mut Mocker<K>,
    input: Vec<A>,
    block_in: fn(&mut K) -> &mut Reader<A>,
    block_out: fn(&mut K) -> &mut Writer<B>,
) -> Vec<B>
where
    K: Kernel + KernelInterface + 'static,
    A: Debug + Send + 'static,
    B: Clone + Debug + Send + 'static,
{
    let n = input.len();
    block_in(m).set(input);
    block_out(m).reserve(n);
    m.run();
    block_out(m).take().0
}

/// Test blocks shared by weir's tests.
pub mod blocks {
    use std::sync::Arc;

    use futuresdr::runtime::dev::prelude::*;

    use crate::{MappedBlock, MappedBlockWriter};

    /// Device memory stand-in: a byte vector lent to readers by reference.
    pub struct Bytes(pub Vec<u8>);

    impl MappedBlock for Bytes {
        fn bytes(&self) -> &[u8] {
            &self.0
        }
    }

    /// A source handing out the given blocks through the by-reference buffer, exactly as the
    /// DMABUF source does: every block is one input slice downstream, so the blocks' sizes
    /// decide where the consumer's chunks end.
    #[derive(Block)]
    pub struct MappedSource {
        #[output]
        output: MappedBlockWriter<u8>,
        blocks: Vec<(Vec<u8>, Vec<ItemTag>)>,
    }

    impl MappedSource {
        /// A source of `blocks` (bytes, tags with byte indices within the block).
        pub fn new(blocks: Vec<(Vec<u8>, Vec<ItemTag>)>) -> Self {
            Self {
                output: MappedBlockWriter::default(),
                blocks,
            }
        }
    }

    impl Kernel for MappedSource {
        async fn work(
            &mut self,
            io: &mut WorkIo,
            _mo: &mut MessageOutputs,
            _meta: &mut BlockMeta,
        ) -> Result<()> {
            for (bytes, tags) in self.blocks.drain(..) {
                self.output.submit(Arc::new(Bytes(bytes)), tags)?;
            }
            io.finished = true;
            Ok(())
        }
    }

    /// A sink keeping every item and every tag (with its absolute item index).
    #[derive(Block)]
    pub struct CollectSink<T: CpuSample + Copy, R: CpuBufferReader<Item = T> = DefaultCpuReader<T>> {
        #[input]
        input: R,
        /// Items received.
        pub items: Vec<T>,
        /// Tags received, at absolute item indices.
        pub tags: Vec<(usize, Tag)>,
    }

    impl<T: CpuSample + Copy, R: CpuBufferReader<Item = T>> Default for CollectSink<T, R> {
        fn default() -> Self {
            Self {
                input: R::default(),
                items: Vec::new(),
                tags: Vec::new(),
            }
        }
    }

    impl<T: CpuSample + Copy, R: CpuBufferReader<Item = T>> Kernel for CollectSink<T, R> {
        async fn work(
            &mut self,
            io: &mut WorkIo,
            _mo: &mut MessageOutputs,
            _meta: &mut BlockMeta,
        ) -> Result<()> {
            let (i, tags) = self.input.slice_with_tags();
            let base = self.items.len();
            self.items.extend_from_slice(i);
            self.tags
                .extend(tags.iter().map(|t| (base + t.index, t.tag.clone())));
            let n = i.len();
            self.input.consume(n);
            if self.input.finished() {
                io.finished = true;
            }
            Ok(())
        }
    }

    /// The numeric ids of `tags` with their indices.
    ///
    /// # Panics
    /// On a tag that is not a [`Tag::Id`].
    pub fn tag_ids(tags: &[(usize, Tag)]) -> Vec<(usize, u64)> {
        tags.iter()
            .map(|(i, t)| match t {
                Tag::Id(id) => (*i, *id),
                other => panic!("unexpected tag {other:?}"),
            })
            .collect()
    }

    /// A tag with id `id` at `index`.
    pub fn id_tag(index: usize, id: u64) -> ItemTag {
        ItemTag {
            index,
            tag: Tag::Id(id),
        }
    }
}

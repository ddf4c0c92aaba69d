//! [`Guarded`]: run a FutureSDR block so that its failures are reported by weir.
//!
//! FutureSDR 0.0.40 logs a block's `init`/`work`/`deinit` error and ends the flowgraph with a
//! generic error; a panic inside a block takes its executor thread down. Wrapping a stock block
//! in [`Guarded`] records the error (or the panic message) in the block's [`BlockStats`], so the
//! run fails with the block's name and the reason, with a context such as the device or address.
//! A message its handler refuses is answered with `Pmt::InvalidValue` rather than ending the
//! flowgraph.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futuresdr::futures::FutureExt;
use futuresdr::runtime::__private::KernelInterface;
use futuresdr::runtime::buffer::BufferReader;
use futuresdr::runtime::dev::{BlockInbox, BlockMeta, Kernel, MaybeSend, MessageOutputs, WorkIo};
use futuresdr::runtime::{BlockId, Error, Pmt, PortId, Result};

use crate::stats::BlockStats;

/// A FutureSDR block whose errors and panics are recorded in its [`BlockStats`].
///
/// Ports, message handlers and blocking behaviour are those of the wrapped block.
pub struct Guarded<K> {
    inner: K,
    stats: Arc<BlockStats>,
    context: String,
    /// Run on the wrapped block after its `deinit` succeeded: to take what it collected.
    on_deinit: Option<DeinitHook<K>>,
}

/// See [`Guarded::on_deinit`].
type DeinitHook<K> = Box<dyn FnMut(&mut K) + Send>;

impl<K> Guarded<K> {
    /// Wrap `inner`; recorded errors read `"{context}: {error}"` (just the error if `context`
    /// is empty).
    pub fn new(inner: K, stats: Arc<BlockStats>, context: impl Into<String>) -> Self {
        Self {
            inner,
            stats,
            context: context.into(),
            on_deinit: None,
        }
    }

    /// Call `hook` with the wrapped block when the flowgraph has ended and the block's own
    /// `deinit` succeeded, e.g. to take the items a sink collected.
    pub fn on_deinit(mut self, hook: impl FnMut(&mut K) + Send + 'static) -> Self {
        self.on_deinit = Some(Box::new(hook));
        self
    }

    /// The wrapped block.
    pub fn inner(&self) -> &K {
        &self.inner
    }

    /// The wrapped block, e.g. to configure its input before adding it.
    pub fn inner_mut(&mut self) -> &mut K {
        &mut self.inner
    }
}

/// Await `f`; record an error or a panic (as `"{context}: {message}"`) in `stats`, and turn a
/// panic into an error.
async fn guard<T>(
    stats: &BlockStats,
    context: &str,
    f: impl Future<Output = Result<T>>,
) -> Result<T> {
    let message = match AssertUnwindSafe(f).catch_unwind().await {
        Ok(Ok(v)) => return Ok(v),
        Ok(Err(e)) => format!("{e:#}"),
        Err(panic) => format!("panicked: {}", panic_text(&*panic)),
    };
    let message = if context.is_empty() {
        message
    } else {
        format!("{context}: {message}")
    };
    stats.set_error(message.clone());
    Err(anyhow::anyhow!(message))
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

impl<K: Kernel + Send> Kernel for Guarded<K> {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        mo: &mut MessageOutputs,
        meta: &mut BlockMeta,
    ) -> Result<()> {
        guard(&self.stats, &self.context, self.inner.work(io, mo, meta)).await
    }

    async fn init(&mut self, mo: &mut MessageOutputs, meta: &mut BlockMeta) -> Result<()> {
        guard(&self.stats, &self.context, self.inner.init(mo, meta)).await
    }

    async fn deinit(&mut self, mo: &mut MessageOutputs, meta: &mut BlockMeta) -> Result<()> {
        let result = guard(&self.stats, &self.context, self.inner.deinit(mo, meta)).await;
        if result.is_ok()
            && let Some(hook) = self.on_deinit.as_mut()
        {
            hook(&mut self.inner);
        }
        // FutureSDR calls `deinit` once the block's work loop is over: the block is done
        // (a block stuck in `work` or in its own `deinit` never gets here).
        self.stats.set_ended();
        result
    }
}

impl<K: KernelInterface + Send> KernelInterface for Guarded<K> {
    fn is_blocking() -> bool {
        K::is_blocking()
    }
    fn type_name() -> &'static str {
        K::type_name()
    }
    fn stream_inputs(&self) -> Vec<String> {
        self.inner.stream_inputs()
    }
    fn stream_outputs(&self) -> Vec<String> {
        self.inner.stream_outputs()
    }
    fn stream_ports_init(&mut self, block_id: BlockId, inbox: BlockInbox) {
        self.inner.stream_ports_init(block_id, inbox)
    }
    fn stream_ports_validate(&self) -> Result<(), Error> {
        self.inner.stream_ports_validate()
    }
    fn stream_input_finish(&mut self, port_id: PortId) -> Result<(), Error> {
        self.inner.stream_input_finish(port_id)
    }
    fn stream_ports_notify_finished(&mut self) -> impl Future<Output = ()> + MaybeSend {
        self.inner.stream_ports_notify_finished()
    }
    fn stream_input(&mut self, id: &PortId) -> Result<&mut dyn BufferReader, Error> {
        self.inner.stream_input(id)
    }
    fn connect_stream_output(
        &mut self,
        id: &PortId,
        reader: &mut dyn BufferReader,
    ) -> Result<(), Error> {
        self.inner.connect_stream_output(id, reader)
    }
    fn message_inputs() -> &'static [&'static str] {
        K::message_inputs()
    }
    fn message_outputs() -> &'static [&'static str] {
        K::message_outputs()
    }
    /// A message the wrapped block's handler fails on (a setting the device refuses) is
    /// answered with [`Pmt::InvalidValue`], FutureSDR's reply for a value a handler does not
    /// take, logged as a warning and counted (`rejected_messages`), instead of ending the
    /// flowgraph as FutureSDR 0.0.40 does.
    fn call_handler(
        &mut self,
        io: &mut WorkIo,
        mo: &mut MessageOutputs,
        meta: &mut BlockMeta,
        id: PortId,
        p: Pmt,
    ) -> impl Future<Output = Result<Pmt, Error>> + MaybeSend {
        let stats = self.stats.clone();
        let context = self.context.clone();
        let port = id.name().to_string();
        let reply = self.inner.call_handler(io, mo, meta, id, p);
        async move {
            match reply.await {
                Err(Error::HandlerError(e)) => {
                    tracing::warn!("{context}: message to `{port}` rejected: {e}");
                    let n = stats.counter("rejected_messages").unwrap_or(0);
                    stats.set_counter("rejected_messages", n + 1);
                    Ok(Pmt::InvalidValue)
                }
                other => other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futuresdr::runtime::Flowgraph;
    use futuresdr::runtime::dev::prelude::*;

    use super::*;

    /// A block that fails as asked: in `init`, by panicking in `work`, and in its handler.
    #[derive(Block)]
    #[message_inputs(set)]
    struct Fragile {
        fail_init: bool,
        panic_in_work: bool,
    }

    impl Fragile {
        async fn set(
            &mut self,
            _io: &mut WorkIo,
            _mo: &mut MessageOutputs,
            _meta: &mut BlockMeta,
            p: Pmt,
        ) -> Result<Pmt> {
            match p {
                Pmt::U32(_) => Ok(Pmt::Ok),
                _ => anyhow::bail!("not a u32"),
            }
        }
    }

    impl Kernel for Fragile {
        async fn init(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
            if self.fail_init {
                anyhow::bail!("device gone");
            }
            Ok(())
        }

        async fn work(
            &mut self,
            _io: &mut WorkIo,
            _mo: &mut MessageOutputs,
            _meta: &mut BlockMeta,
        ) -> Result<()> {
            if self.panic_in_work {
                panic!("boom");
            }
            Ok(())
        }
    }

    fn run(fail_init: bool, panic_in_work: bool) -> (Result<(), Error>, Arc<BlockStats>) {
        let stats = Arc::new(BlockStats::default());
        let mut fg = Flowgraph::new();
        fg.add(Guarded::new(
            Fragile {
                fail_init,
                panic_in_work,
            },
            stats.clone(),
            "dev0",
        ));
        let result = crate::run::runtime().run(fg).map(|_| ());
        (result, stats)
    }

    #[test]
    fn init_errors_and_panics_are_recorded_with_the_context() {
        let (result, stats) = run(true, false);
        assert!(result.is_err());
        assert_eq!(stats.error().as_deref(), Some("dev0: device gone"));

        let (result, stats) = run(false, true);
        assert!(result.is_err());
        assert_eq!(stats.error().as_deref(), Some("dev0: panicked: boom"));
    }

    #[test]
    fn a_refused_message_is_answered_and_the_block_keeps_running() {
        let stats = Arc::new(BlockStats::default());
        let mut fg = Flowgraph::new();
        let block = fg.add(Guarded::new(
            Fragile {
                fail_init: false,
                panic_in_work: false,
            },
            stats.clone(),
            "dev0",
        ));
        let rt = crate::run::runtime();
        let (task, handle) = rt.start(fg).expect("starts").split();
        let call = |p| async_io::block_on(handle.call(block.id(), "set", p));
        assert_eq!(call(Pmt::Null).expect("answered"), Pmt::InvalidValue);
        assert_eq!(call(Pmt::U32(1)).expect("answered"), Pmt::Ok);
        assert_eq!(stats.counter("rejected_messages"), Some(1));
        async_io::block_on(handle.stop()).expect("stop");
        async_io::block_on(task).expect("ends cleanly");
        assert_eq!(stats.error(), None);
    }

    /// A block that ends at once and fails in `deinit`: it records nothing itself.
    #[derive(Block)]
    struct FailsAtDeinit;

    impl Kernel for FailsAtDeinit {
        async fn work(
            &mut self,
            io: &mut WorkIo,
            _mo: &mut MessageOutputs,
            _meta: &mut BlockMeta,
        ) -> Result<()> {
            io.finished = true;
            Ok(())
        }

        async fn deinit(&mut self, _mo: &mut MessageOutputs, _meta: &mut BlockMeta) -> Result<()> {
            anyhow::bail!("flush failed")
        }
    }

    fn registry() -> crate::Registry {
        use crate::registry::{BlockDescriptor, BuildError, Ports};
        let mut registry = crate::Registry::new();
        registry.register(BlockDescriptor {
            type_name: "fails_at_deinit",
            doc: "",
            params: vec![],
            ports: |_| Ok(Ports::default()),
            build: |ctx| Ok(ctx.add(FailsAtDeinit)),
        });
        // Declares a message input its kernel does not have.
        registry.register(BlockDescriptor {
            type_name: "misdeclared",
            doc: "",
            params: vec![],
            ports: |_| {
                Ok(Ports {
                    message_inputs: vec!["gain"],
                    ..Ports::default()
                })
            },
            build: |ctx| -> std::result::Result<BlockId, BuildError> { Ok(ctx.add(FailsAtDeinit)) },
        });
        registry
    }

    #[test]
    fn every_block_added_through_the_context_is_guarded_deinit_included() {
        let registry = registry();
        let spec = crate::FlowgraphSpec::parse(
            "[blocks.b]\ntype = \"fails_at_deinit\"\n",
            "t.toml",
            &registry,
        )
        .expect("loads");
        let built = spec.build(&registry).expect("builds");
        let stats = built.blocks()[0].stats.clone();
        let error = built.run().expect_err("deinit fails");
        assert_eq!(stats.error().as_deref(), Some("flush failed"));
        assert!(error.to_string().contains("flush failed"), "{error}");
        assert!(error.to_string().contains("`b`"), "{error}");
    }

    #[test]
    fn declared_ports_are_checked_against_the_kernel() {
        let registry = registry();
        let spec = crate::FlowgraphSpec::parse(
            "[blocks.m]\ntype = \"misdeclared\"\n",
            "t.toml",
            &registry,
        )
        .expect("loads: the ports are only known to be wrong once the kernel exists");
        let Err(e) = spec.build(&registry) else {
            panic!("a block whose kernel lacks a declared port is refused");
        };
        assert_eq!(e.block.as_deref(), Some("m"));
        assert!(
            e.message
                .contains("it declares message inputs [gain] but the kernel's are []"),
            "{e}"
        );
    }
}

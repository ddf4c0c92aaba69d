//! `vector_sink`: FutureSDR's VectorSink, whose items an embedding application takes after the
//! run with [`take`].
//!
//! FutureSDR keeps a VectorSink's items inside the block, which only the owner of the finished
//! FutureSDR flowgraph can reach with a typed block reference; a flowgraph built from TOML is
//! run by weir-core, which hands out neither. So the registered block is FutureSDR's
//! VectorSink itself, in a thin wrapper that, when the flowgraph ends, moves the items into a
//! process-wide store under the block's `key` (its instance name by default), from where
//! [`take`] returns them.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use futuresdr::blocks::VectorSink;
use futuresdr::runtime::__private::KernelInterface;
use futuresdr::runtime::buffer::BufferReader;
use futuresdr::runtime::dev::{
    BlockInbox, BlockMeta, CpuBufferReader, Kernel, MaybeSend, MessageOutputs, WorkIo,
};
use futuresdr::runtime::{BlockId, Error, Pmt, PortId, Result};
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ParamSpec, ParamType, Params, PortSpec, Ports,
    Value, with_item_type, with_reader,
};

/// Items of finished vector sinks, by key, each a `Vec<T>` of the sink's item type.
type Store = HashMap<String, Box<dyn Any + Send>>;

/// The store, created on first use (a `HashMap` cannot be built in a `static` initializer).
static STORE: Mutex<Option<Store>> = Mutex::new(None);

/// The items the `vector_sink` with `key` (its instance name unless `key` was set) received,
/// once its flowgraph has ended; removed from the store. An error when no such sink has
/// finished, or when its items are not `T`.
pub fn take<T: 'static>(key: &str) -> std::result::Result<Vec<T>, String> {
    let mut store = STORE.lock().unwrap_or_else(|p| p.into_inner());
    let map = store.get_or_insert_with(HashMap::new);
    let items = map
        .remove(key)
        .ok_or_else(|| format!("no finished vector_sink with key `{key}`"))?;
    match items.downcast::<Vec<T>>() {
        Ok(v) => Ok(*v),
        Err(items) => {
            map.insert(key.to_string(), items);
            Err(format!(
                "vector_sink `{key}` holds other items than {}",
                std::any::type_name::<T>()
            ))
        }
    }
}

/// FutureSDR's [`VectorSink`], handing its items to [`take`] when the flowgraph ends.
pub struct KeyedVectorSink<T, R>
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
    R: CpuBufferReader<Item = T>,
{
    inner: VectorSink<T, R>,
    key: String,
}

impl<T, R> KeyedVectorSink<T, R>
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
    R: CpuBufferReader<Item = T>,
{
    /// A sink whose items [`take`] returns under `key`.
    pub fn new(key: String) -> Self {
        Self {
            inner: VectorSink::new(1 << 16),
            key,
        }
    }

    /// The sink's input, e.g. to configure it before the block is added.
    pub fn input(&mut self) -> &mut R {
        self.inner.input()
    }
}

impl<T, R> Kernel for KeyedVectorSink<T, R>
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
    R: CpuBufferReader<Item = T>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        mo: &mut MessageOutputs,
        meta: &mut BlockMeta,
    ) -> Result<()> {
        self.inner.work(io, mo, meta).await
    }

    async fn deinit(&mut self, mo: &mut MessageOutputs, meta: &mut BlockMeta) -> Result<()> {
        self.inner.deinit(mo, meta).await?;
        let items: Vec<T> = self.inner.items().clone();
        STORE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(self.key.clone(), Box::new(items));
        Ok(())
    }
}

// Ports, handlers and blocking behaviour are FutureSDR's VectorSink's.
impl<T, R> KernelInterface for KeyedVectorSink<T, R>
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
    R: CpuBufferReader<Item = T>,
{
    fn is_blocking() -> bool {
        VectorSink::<T, R>::is_blocking()
    }
    fn type_name() -> &'static str {
        VectorSink::<T, R>::type_name()
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
    fn stream_ports_validate(&self) -> std::result::Result<(), Error> {
        self.inner.stream_ports_validate()
    }
    fn stream_input_finish(&mut self, port_id: PortId) -> std::result::Result<(), Error> {
        self.inner.stream_input_finish(port_id)
    }
    fn stream_ports_notify_finished(&mut self) -> impl Future<Output = ()> + MaybeSend {
        self.inner.stream_ports_notify_finished()
    }
    fn stream_input(&mut self, id: &PortId) -> std::result::Result<&mut dyn BufferReader, Error> {
        self.inner.stream_input(id)
    }
    fn connect_stream_output(
        &mut self,
        id: &PortId,
        reader: &mut dyn BufferReader,
    ) -> std::result::Result<(), Error> {
        self.inner.connect_stream_output(id, reader)
    }
    fn message_inputs() -> &'static [&'static str] {
        VectorSink::<T, R>::message_inputs()
    }
    fn message_outputs() -> &'static [&'static str] {
        VectorSink::<T, R>::message_outputs()
    }
    fn call_handler(
        &mut self,
        io: &mut WorkIo,
        mo: &mut MessageOutputs,
        meta: &mut BlockMeta,
        id: PortId,
        p: Pmt,
    ) -> impl Future<Output = std::result::Result<Pmt, Error>> + MaybeSend {
        self.inner.call_handler(io, mo, meta, id, p)
    }
}

fn ports(p: &Params) -> std::result::Result<Ports, BuildError> {
    Ok(Ports {
        inputs: vec![PortSpec::input("in", "input", p.item("item")?)],
        outputs: vec![],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> std::result::Result<BlockId, BuildError> {
    let key = match ctx.params.str("key")? {
        "" => ctx.name.to_string(),
        k => k.to_string(),
    };
    let kind = ctx.input_buffer("in");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            let mut block = KeyedVectorSink::<T, R>::new(key);
            ctx.configure_input("in", block.input());
            ctx.add(block)
        })
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "vector_sink",
        doc: "Keep every item in memory; after the run, `weir_plugin_dsp::vector_sink::take(key)` returns them (FutureSDR's VectorSink)",
        params: vec![
            ParamSpec::optional(
                "item",
                ParamType::Item,
                Value::Str("cf32".into()),
                "item type",
            ),
            ParamSpec::optional(
                "key",
                ParamType::Str,
                Value::Str(String::new()),
                "name to take the items by; empty = the block's instance name",
            ),
        ],
        ports,
        build,
    }
}

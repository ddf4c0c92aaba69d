//! `vector_sink`: FutureSDR's VectorSink, whose items an embedding application takes after the
//! run with [`take`].
//!
//! FutureSDR keeps a VectorSink's items inside the block, which only the owner of the finished
//! FutureSDR flowgraph can reach with a typed block reference; a flowgraph built from TOML is
//! run by weir-core, which hands out neither. So the registered block is FutureSDR's
//! VectorSink itself, in weir-core's [`Guarded`] wrapper, whose deinit hook moves the items into
//! a process-wide store under the block's `key` (its instance name by default), from where
//! [`take`] returns them.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

use futuresdr::blocks::VectorSink;
use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::CpuBufferReader;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Guarded, ItemType, ParamSpec, Params, Ports,
    with_item_type, with_reader,
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

/// Moves the items of a finished sink into the store under `key`.
fn store<T, R>(key: String) -> impl FnMut(&mut VectorSink<T, R>) + Send + 'static
where
    T: Clone + std::fmt::Debug + Send + Sync + 'static,
    R: CpuBufferReader<Item = T>,
{
    move |sink| {
        let items: Vec<T> = sink.items().clone();
        STORE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(key.clone(), Box::new(items));
    }
}

fn ports(p: &Params) -> std::result::Result<Ports, BuildError> {
    Ok(Ports::sink(p.item("item")?))
}

fn build(ctx: &mut BuildContext<'_>) -> std::result::Result<BlockId, BuildError> {
    let key = match ctx.params.str("key")? {
        "" => ctx.name.to_string(),
        k => k.to_string(),
    };
    let kind = ctx.input_buffer("in");
    Ok(with_item_type!(ctx.params.item("item")?, T => {
        with_reader!(kind, T, R => {
            // FutureSDR's VectorSink, handing its items to the store when the flowgraph ends.
            let mut block = Guarded::new(VectorSink::<T, R>::new(1 << 16), ctx.stats(), "")
                .on_deinit(store::<T, R>(key));
            ctx.configure_input("in", block.inner_mut().input());
            ctx.add_guarded(block)
        })
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "vector_sink",
        doc: "Keep every item in memory; after the run, `weir_plugin_dsp::vector_sink::take(key)` returns them (FutureSDR's VectorSink)",
        params: vec![
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::string(
                "key",
                "",
                "name to take the items by; empty = the block's instance name",
            ),
        ],
        ports,
        build,
    }
}

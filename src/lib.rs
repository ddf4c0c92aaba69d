//! weir: GNU Radio-style SDR flowgraphs in Rust, with a zero-copy Linux IIO DMABUF source.
//!
//! This facade re-exports the crates and builds the registry with every bundled plugin.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub use weir_core as core;
pub use weir_iio as iio;
pub use weir_plugin_dsp as dsp;
pub use weir_plugin_iio as iio_blocks;
pub use weir_plugin_net as net;
pub use weir_plugin_seify as seify;
pub use weir_plugin_sigmf as sigmf;

pub mod iio_list;

/// A registry holding the blocks of every plugin bundled with weir.
pub fn registry() -> weir_core::Registry {
    weir_core::Registry::new()
        .with_plugin(&weir_plugin_iio::IioPlugin)
        .with_plugin(&weir_plugin_dsp::DspPlugin)
        .with_plugin(&weir_plugin_seify::SeifyPlugin)
        .with_plugin(&weir_plugin_net::NetPlugin)
        .with_plugin(&weir_plugin_sigmf::SigmfPlugin)
}

/// The environment variable listing directories of plugin libraries (`PATH` syntax).
pub const PLUGIN_PATH_VAR: &str = "WEIR_PLUGIN_PATH";

/// Load the plugin libraries of the directories of `WEIR_PLUGIN_PATH` into `registry` (nothing
/// when it is not set); see [`registry_with_plugin_path`].
pub fn load_plugin_path(registry: &mut weir_core::Registry) -> weir_core::dynamic::PluginLoad {
    match std::env::var_os(PLUGIN_PATH_VAR) {
        Some(path) => registry.load_plugin_path(&path),
        None => weir_core::dynamic::PluginLoad::default(),
    }
}

/// Whether the flowgraph file at `path` names a block type `registry` does not have, so that
/// plugins must be loaded to check or run it. Loading a library runs its initialisers: the
/// `weir` command loads plugins only for a file that needs them (or when asked). A file that
/// cannot be read needs none (the loader says why it cannot be read).
pub fn file_needs_plugins(path: &std::path::Path, registry: &weir_core::Registry) -> bool {
    // Read as the loader reads it (regular files only, without blocking): a FIFO given as the
    // flowgraph file must reach the loader's clear refusal, not block here.
    weir_core::flowgraph::read_flowgraph_file(path).is_ok_and(|text| {
        weir_core::dynamic::block_types_in(&text)
            .iter()
            .any(|t| registry.get(t).is_none())
    })
}

/// [`registry`] plus the plugin libraries found in the directories of `WEIR_PLUGIN_PATH`.
///
/// Libraries that cannot be loaded (not a plugin, built against another weir version or by
/// another compiler, ...) are listed in the returned [`PluginLoad`](weir_core::dynamic::PluginLoad)
/// and skipped; the rest are registered.
pub fn registry_with_plugin_path() -> (weir_core::Registry, weir_core::dynamic::PluginLoad) {
    let mut registry = registry();
    let load = load_plugin_path(&mut registry);
    (registry, load)
}

/// The names most programs embedding weir need.
pub mod prelude {
    pub use crate::{registry, registry_with_plugin_path};
    pub use weir_core::{
        BuiltFlowgraph, FlowgraphBuilder, FlowgraphSpec, ItemType, LoadError, Registry, RunError,
        RunReport, Value,
    };
}

//! An example weir plugin built as a shared library: put `libweir_plugin_example.so` in a
//! directory listed in `WEIR_PLUGIN_PATH` and the `conjugate` block can be used in flowgraph
//! files like any bundled block. It is the worked example of `docs/writing-a-block.md`.
//!
//! A plugin loads only into a weir built from the same weir-core and FutureSDR by the same
//! compiler (weir checks; see `weir_core::dynamic`), so build it in weir's cargo workspace with
//! the same profile as the `weir` that loads it.

#![warn(missing_docs)]

use weir::core::Registry;

// Every block file's `pub mod` line and `register_blocks` (which registers them all, for
// `plugin!`, naming the `Registry` imported above): written by weir-plugin-build (build.rs) from
// the files of src/ that define `pub fn descriptor()`.
include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

weir::core::plugin! {
    /// The plugin: one block type, `conjugate`.
    pub struct ExamplePlugin = "example";
}

weir::core::export_plugin!(ExamplePlugin);

//! Flowgraphs run inside the test process: the loader and its errors (`loader_*`), each block
//! type (`block_<type>`), IIO devices on fake sysfs trees (`iio_*`) and zero-copy proofs
//! (`zero_copy_*`). One binary for all of them: each links FutureSDR and all of weir, which is
//! most of what building a test costs.
//!
//! What needs a process of its own is elsewhere: `tests/executor_threads.rs` counts the
//! process's executor threads, `tests/zero_copy_registry.rs` turns on a process-wide probe.

#[path = "../support/mod.rs"]
mod support;

mod block_dc_blocker_power_db;
mod block_dmabuf_latency;
mod block_dmabuf_overrun;
mod block_dmabuf_sink;
mod block_dmabuf_source;
mod block_fft;
mod block_file_source;
mod block_mixer;
mod block_scan_converters;
mod block_scan_to_cf32;
mod block_seify;
mod block_spectrum;
mod block_stock;
mod block_tcp_source;
mod iio_device;
mod iio_scan_layout;
mod iio_scan_sizing;
mod loader_errors;
mod loader_framework;
mod loader_layout_flow;
mod loader_plugin_layout;
mod loader_proptest;
mod zero_copy_blocks;

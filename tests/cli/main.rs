//! Tests of the `weir` command, run as a process the way README.md runs it: every shipped
//! flowgraph, `weir graph`, live statistics and Ctrl-C, two processes over TCP and ZeroMQ, and
//! plugins loaded from `WEIR_PLUGIN_PATH`, `weir check` on every string choice, `weir record`
//! into SigMF, and real GNU Radio as weir's peer.

#[path = "../support/mod.rs"]
mod support;

mod cli_build_reuse;
mod cli_capture;
mod cli_check_choices;
mod cli_environment;
mod cli_gnuradio;
mod cli_graph;
mod cli_hostile;
mod cli_latency;
mod cli_live;
mod cli_net;
mod cli_receiver;
mod cli_record_sigmf;
mod cli_run;
mod loader_plugins;

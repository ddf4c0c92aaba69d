//! Simulated IIO devices that behave like the kernel's mainline DMABUF interface: an ADC
//! ([`SimRx`]) and a DAC ([`SimTx`]).
//!
//! It exists so that every transport user (the flowgraph blocks, the tests, the default
//! flowgraphs) runs on any Linux machine, and it is built from the same kinds of kernel
//! objects as the real thing, so that fd handling, mappings and polling are exercised for
//! real:
//!
//! - each block is a memfd of `block_size` bytes, mapped **twice**: read-write for the
//!   "hardware" (a producer thread playing the DMA engine) and read-only for the CPU side
//!   ([`crate::Transport::block_memory`]), exactly as user space maps a DMABUF while a DMA engine
//!   writes the physical pages;
//! - each block has an eventfd that the producer signals on completion: it is the block's
//!   completion fd ([`crate::Interest::Readable`]), where the kernel would use `POLLOUT` on the
//!   DMABUF fd;
//! - the low-level operations ([`SimRx::attach`], [`SimRx::detach`], [`SimRx::enqueue`],
//!   [`SimRx::enable`], [`SimRx::disable`]) refuse what the mainline kernel refuses, with the
//!   same errnos, so rule tests written against the simulator hold on the kernel too.
//!
//! Samples are interleaved 16-bit I/Q (`le:s16/16`, two channels), so the sample (scan) size
//! is 4 bytes.
//!
//! The DAC is the ADC's TX twin: its blocks are memfds mapped twice as well, read-write for
//! the CPU and read-only for its "DMA engine" thread, which consumes each queued block —
//! exactly `bytes_used` bytes of it — at the configured sample rate (or as fast as possible),
//! then signals the block's eventfd. What it consumed is counted, checksummed (FNV-1a, 64 bit,
//! over every byte in order) and optionally written to a file, so tests can check a
//! transmission byte for byte. A paced device that finds nothing queued counts an underrun.

mod pattern;
mod rx;
mod tx;

pub use pattern::Pattern;
pub use rx::{SimConfig, SimLossProbe, SimRx};
pub use tx::{SimTx, SimTxConfig, SimTxLossProbe};

/// Bytes per scan of both devices: one I16 plus one Q16.
const SAMPLE_SIZE: usize = 4;

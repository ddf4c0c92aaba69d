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
//!
//! An unpaced device thread that finds no block queued spins for a while
//! ([`SimConfig::idle_spin`], [`SimTxConfig::idle_spin`], 50 µs by default) before it sleeps,
//! and queuing a block wakes it only when it sleeps: a DMA engine takes the next block without
//! being woken, and a futex wake-up per block would be the simulator's cost, not the
//! transport's or the flowgraph's, in every small-block measurement.

mod pattern;
mod rx;
mod tx;

pub use pattern::Pattern;
pub use rx::{SimConfig, SimLossProbe, SimRx};
pub use tx::{SimTx, SimTxConfig, SimTxLossProbe};

/// Bytes per scan of both devices: one I16 plus one Q16.
const SAMPLE_SIZE: usize = 4;

/// What a device thread with nothing to do spins on before it sleeps: the CPU side bumps it
/// whenever it gives the thread something (a queued block, a start or a stop), so the thread
/// sees that without taking the state lock. A DMA engine needs no waking to take the next
/// block; a sleeping thread does, and that wake-up (a futex call on the queuing thread, a
/// context switch on the device's) was most of a small block's cost in the benchmarks' device
/// that costs no CPU (BENCHMARKS.md, eighth session).
#[derive(Debug, Default)]
struct Kick(std::sync::atomic::AtomicU64);

impl Kick {
    /// Something changed: a spinning device thread stops spinning.
    fn kick(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// The count to spin against, read under the state lock before releasing it.
    fn seen(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Spins until the count moves past `seen`, for at most `limit`; whether it moved.
    fn spin(&self, seen: u64, limit: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        loop {
            // The clock is read every 64 checks: a check is a few ns, `Instant::now` tens.
            for _ in 0..64 {
                if self.seen() != seen {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= limit {
                return false;
            }
        }
    }
}

//! The crate's vocabulary: the small enums every other module speaks of — a direction, a
//! transport kind, a completion's poll interest, an allocator, the evidence of a loss.
//!
//! A leaf: it depends on no other module of the crate, so that the error type, the transports
//! and the system layer can all name these without importing one another.

use std::fmt;
use std::path::PathBuf;

/// Direction of a channel or a buffer, as IIO names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Input (`in_…` channels): samples flow from the device to user space (RX).
    In,
    /// Output (`out_…` channels): samples flow from user space to the device (TX).
    Out,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::In => "in",
            Direction::Out => "out",
        })
    }
}

/// Which mechanism a [`crate::Transport`] uses to move data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The in-process simulated device ([`crate::SimRx`]).
    Simulated,
    /// Mainline DMABUF import (Linux 6.11+): user space allocates, IIO attaches.
    Dmabuf,
    /// The seed's DMABUF interface (vendor kernels): IIO allocates the DMABUFs.
    Seed,
    /// The classic copying read()/write() path on the buffer fd.
    FileIo,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Simulated => "sim",
            TransportKind::Dmabuf => "dmabuf",
            TransportKind::Seed => "seed",
            TransportKind::FileIo => "fileio",
        })
    }
}

/// Which poll event on a completion fd means "the block has completed".
///
/// The simulator signals an eventfd (readable); the kernel's DMABUF fd reports `POLLOUT` once
/// its fences have signalled (writable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Wait for `POLLIN`.
    Readable,
    /// Wait for `POLLOUT`.
    Writable,
}

/// Where mainline DMABUFs come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Allocator {
    /// A dma-heap, e.g. `/dev/dma_heap/system`.
    DmaHeap(PathBuf),
    /// udmabuf (`/dev/udmabuf`) over sealed memfds.
    Udmabuf(PathBuf),
}

impl fmt::Display for Allocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allocator::DmaHeap(p) => write!(f, "dma-heap {}", p.display()),
            Allocator::Udmabuf(p) => write!(f, "udmabuf {}", p.display()),
        }
    }
}

impl Allocator {
    /// `/dev/dma_heap/system`, then `/dev/udmabuf`.
    pub fn defaults() -> Vec<Allocator> {
        vec![
            Allocator::DmaHeap(PathBuf::from("/dev/dma_heap/system")),
            Allocator::Udmabuf(PathBuf::from("/dev/udmabuf")),
        ]
    }
}

/// Where a loss figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossEvidence {
    /// Counted by the device itself, sample for sample (the simulator).
    Exact,
    /// The device's latched over/underflow status (Analog Devices' HDL cores): the events are
    /// exact, the number of samples lost is not known from it.
    HardwareStatus,
    /// Inferred from queue starvation and completion timing ([`crate::loss::LossMeter`]).
    Estimate,
}

impl fmt::Display for LossEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossEvidence::Exact => "exact",
            LossEvidence::HardwareStatus => "hardware status",
            LossEvidence::Estimate => "estimate",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_display_names() {
        let names: Vec<String> = [
            TransportKind::Simulated,
            TransportKind::Dmabuf,
            TransportKind::Seed,
            TransportKind::FileIo,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["sim", "dmabuf", "seed", "fileio"]);
        assert_eq!(Direction::In.to_string(), "in");
        assert_eq!(Direction::Out.to_string(), "out");
    }
}

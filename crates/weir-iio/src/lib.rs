//! User-space Linux IIO streaming, like libiio's local backend, with no dependency on any
//! flowgraph runtime.
//!
//! A [`Transport`] is one streaming buffer of an IIO device: N memory-mapped blocks that
//! circulate between the CPU and the hardware. [`SimRx`] is a simulated receive device that
//! behaves like the kernel's mainline DMABUF interface (see `DESIGN.md`, "IIO DMABUF: the
//! kernel interfaces") with real file descriptors, so everything built on a transport can be
//! tested on any Linux machine.
//!
//! All `unsafe` code lives in [`sys`].

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod sim;
#[allow(unsafe_code)]
pub mod sys;
pub mod transport;

pub use error::{Error, Result};
pub use sim::{Pattern, SimConfig, SimRx};
pub use sys::MappedRegion;
pub use transport::{Interest, Transport, TransportCounters, TransportKind};

//! User-space Linux IIO streaming, like libiio's local backend, with no dependency on any
//! flowgraph runtime.
//!
//! - [`sysfs`]: the device model — devices, buffers, channels, attributes, parameters.
//! - [`mod@format`]: channel scan formats (`le:s12/16>>4`), the scan layout, sample conversion.
//! - [`Transport`]: one streaming buffer of an IIO device, N memory-mapped blocks that
//!   circulate between the CPU and the hardware; implemented by the simulator ([`SimRx`])
//!   and the kernel transports.
//! - [`sysfs::Device::open_buffer`]: opens a buffer of a real device with the best transport
//!   the kernel offers — mainline DMABUF, the seed's DMABUF interface, or read()/write() —
//!   or the one asked for, and says why the others were refused ([`Opened`]).
//! - [`presence`]: telling a device that went away (driver unbound, hardware removed) from a
//!   transfer that failed ([`Error::DeviceGone`]).
//! - [`rate`]: a buffer's sampling frequency — which attribute governs it, setting it, the rate
//!   the driver accepted ([`Device::set_sampling_frequency`]).
//! - [`xflow`]: overflow/underflow latched by Analog Devices' HDL cores, read through debugfs.
//! - [`mod@inventory`]: what `weir iio list` shows, as data — devices, buffers, channels, and the
//!   transports each buffer offers, probed when asked.
//!
//! All `unsafe` code lives in [`sys`].
//!
//! # Streaming from a device
//!
//! ```no_run
//! use std::time::Duration;
//! use weir_iio::{BufferOptions, Sysfs, TransportChoice};
//!
//! # fn main() -> weir_iio::Result<()> {
//! let device = Sysfs::default().find("cf-ad9361-lpc")?; // id, label or name
//! device.apply_params(&["in_voltage_sampling_frequency=30720000"])?;
//! let opened = device.open_buffer(&BufferOptions {
//!     channels: vec!["voltage0".into(), "voltage1".into()],
//!     samples_per_block: 16384,
//!     transport: TransportChoice::Auto, // or force Dmabuf, Seed, FileIo
//!     ..BufferOptions::default()
//! })?;
//! println!("using {}", opened.summary()); // the transport, and why not the others
//! let (layout, mut transport) = (opened.layout, opened.transport);
//! transport.start()?;
//! let mut i_samples = vec![0i16; 16384];
//! for n in 0..100 {
//!     let block = n % transport.block_count();
//!     let Some(bytes) = transport.wait_complete(block, Duration::from_secs(1))? else {
//!         continue; // timed out
//!     };
//!     let memory = transport.block_memory(block);
//!     layout.extract_i16(&memory.as_bytes()[..bytes], 0, &mut i_samples);
//!     transport.requeue(block, transport.block_size())?;
//! }
//! transport.stop()?;
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::cast_possible_truncation)]

pub mod dmabuf;
pub mod error;
pub mod fileio;
pub mod format;
pub mod inventory;
pub mod kernel;
pub mod loss;
pub mod open;
pub mod presence;
pub mod rate;
pub mod sim;
pub mod stream;
#[allow(unsafe_code)]
pub mod sys;
pub mod sysfs;
// Fake sysfs trees and kernels: for tests (this crate's, and others' through the feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transport;
pub mod vocabulary;
mod wait;
pub mod xflow;

pub use error::{Error, Result, UnknownStatus};
pub use fileio::FileIo;
pub use format::{Endianness, FormatError, ScanFormat, ScanLayout};
pub use inventory::{Inventory, InventoryOptions, inventory};
pub use kernel::{IioIoctls, LinuxIoctls};
pub use open::{Allocator, BufferOptions, Opened, TransportChoice};
pub use presence::{DevicePresence, Watched};
pub use rate::SampleRate;
pub use sim::{Pattern, SimConfig, SimRx, SimTx, SimTxConfig};
pub use stream::StreamConfig;
pub use sys::MappedRegion;
pub use sysfs::{Buffer, Channel, Device, Sysfs};
pub use transport::{Direction, Interest, Transport, TransportCounters, TransportKind};
pub use xflow::{XflowMonitor, XflowStatus};

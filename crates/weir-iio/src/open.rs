//! Opening a buffer of a real device with a transport: the automatic choice and its reasons.
//!
//! [`Device::open_buffer`] configures the buffer (channels), opens the device node, gets the
//! buffer fd, and tries the transports in the order of `docs/architecture.md` — mainline DMABUF (with
//! each allocator in turn), the seed's interface, read()/write() — unless one is forced.
//! Every refusal is logged and returned with its reason ([`Opened::rejected`]), so that an
//! application can say which transport it uses and why.
//!
//! Which fd each transport talks to:
//!
//! - mainline DMABUF: `ATTACH`/`DETACH`/`ENQUEUE` on the buffer fd from
//!   `IIO_BUFFER_GET_FD_IOCTL` (6.11+ serves them there only);
//! - the seed's interface: `ALLOC` and `ENQUEUE` on the **device node** for buffer0 — the
//!   seed's diff handles them in the node's `iio_device_buffer_ioctl`, beside `GET_FD`, and
//!   before 6.11 the buffer fd had no ioctl handler at all — then, if the node does not know
//!   them, on the buffer fd; for another buffer on its buffer fd only (the node stands for
//!   buffer0). `ENQUEUE` goes to the fd `ALLOC` succeeded on. Each fd tried and its errno
//!   is in the seed's reason, e.g. `device node /dev/iio:device0: ENODEV; buffer fd:
//!   ENOTTY` (see [`crate::dmabuf`]);
//! - read()/write(): the buffer fd (the node itself on kernels without `GET_FD`).
//!
//! The decision itself, [`choose_transport`], only sees a [`TransportBackend`]: the kernel one
//! here, or a fake in tests. The kernel backend sends its buffer ioctls through an
//! [`IioIoctls`] ([`Device::open_buffer_with`]), so that a fake kernel can check which fd
//! each one reaches.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustix::io::Errno;

use crate::dmabuf::{self, DmabufTransport, Interface, KernelOps, SeedFd, SeedTargets};
use crate::error::{Error, Result};
use crate::fileio::FileIo;
use crate::format::ScanLayout;
use crate::kernel::{IioIoctls, LinuxIoctls};
use crate::presence::{DevicePresence, Watched};
use crate::stream::StreamConfig;
use crate::sysfs::{Buffer, BufferControl, Device};
use crate::transport::{Direction, Transport, TransportKind};
pub use crate::vocabulary::Allocator;

/// Which transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportChoice {
    /// The best one the kernel offers: mainline DMABUF, then the seed's, then read()/write().
    #[default]
    Auto,
    /// Mainline DMABUF only.
    Dmabuf,
    /// The seed's DMABUF interface only.
    Seed,
    /// read()/write() only.
    FileIo,
}

impl fmt::Display for TransportChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportChoice::Auto => "auto",
            TransportChoice::Dmabuf => "dmabuf",
            TransportChoice::Seed => "seed",
            TransportChoice::FileIo => "fileio",
        })
    }
}

impl FromStr for TransportChoice {
    type Err = Error;
    /// `auto`, `dmabuf`, `seed` or `fileio`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(TransportChoice::Auto),
            "dmabuf" => Ok(TransportChoice::Dmabuf),
            "seed" => Ok(TransportChoice::Seed),
            "fileio" => Ok(TransportChoice::FileIo),
            _ => Err(Error::Param {
                param: s.to_string(),
                reason: "expected auto, dmabuf, seed or fileio".to_string(),
            }),
        }
    }
}

/// How to open a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferOptions {
    /// Buffer index (`bufferN`). Default 0.
    pub buffer: u32,
    /// Channel ids to enable (`voltage0`, …); every other channel of the buffer is disabled.
    /// Empty (the default): every channel of the buffer's direction except the timestamp.
    pub channels: Vec<String>,
    /// Samples (scans) per block, like gr-iio's `buffer_size`; rounded up so that a block is
    /// a multiple of `length_align_bytes`. Default 4096.
    pub samples_per_block: usize,
    /// Number of blocks (the queue depth). Default 4.
    pub block_count: usize,
    /// Which transport. Default [`TransportChoice::Auto`].
    pub transport: TransportChoice,
    /// DMABUF allocators for the mainline interface, tried in order. Default
    /// [`Allocator::defaults`].
    pub allocators: Vec<Allocator>,
}

impl Default for BufferOptions {
    fn default() -> Self {
        BufferOptions {
            buffer: 0,
            channels: Vec::new(),
            samples_per_block: 4096,
            block_count: 4,
            transport: TransportChoice::Auto,
            allocators: Allocator::defaults(),
        }
    }
}

/// Why an attempt at the mainline DMABUF transport failed.
#[derive(Debug)]
pub enum Refusal {
    /// The DMABUFs could not be allocated (heap missing, permission denied …): the next
    /// allocator may work.
    Allocator(Error),
    /// The kernel refused (unknown ioctl, no DMABUF support in the driver …): no allocator
    /// will help.
    Kernel(Error),
}

/// What [`choose_transport`] tries; the kernel, or a fake in tests.
pub trait TransportBackend {
    /// Opens the mainline DMABUF transport with DMABUFs from `allocator`.
    fn dmabuf(&mut self, allocator: &Allocator) -> Result<Box<dyn Transport>, Refusal>;
    /// Opens the seed's DMABUF transport.
    fn seed(&mut self) -> Result<Box<dyn Transport>>;
    /// Opens the read()/write() transport.
    fn fileio(&mut self) -> Result<Box<dyn Transport>>;
}

/// The transport chosen, and why the others were not.
pub struct Chosen {
    /// The transport, not started yet.
    pub transport: Box<dyn Transport>,
    /// Each transport tried before it and refused, with the reason.
    pub rejected: Vec<(TransportKind, String)>,
    /// For mainline DMABUF: where its DMABUFs come from.
    pub allocator: Option<Allocator>,
}

impl fmt::Debug for Chosen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chosen")
            .field("transport", &self.transport.kind())
            .field("rejected", &self.rejected)
            .field("allocator", &self.allocator)
            .finish()
    }
}

/// A buffer opened by [`Device::open_buffer`].
pub struct Opened {
    /// The transport, not started yet: call [`Transport::start`].
    pub transport: Box<dyn Transport>,
    /// Each transport tried before it and refused, with the reason (for the user: "using
    /// fileio: dmabuf: …, seed: …").
    pub rejected: Vec<(TransportKind, String)>,
    /// For mainline DMABUF: where its DMABUFs come from.
    pub allocator: Option<Allocator>,
    /// Where each enabled channel sits in a sample (scan), to decode the blocks.
    pub layout: ScanLayout,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("transport", &self.transport.kind())
            .field("rejected", &self.rejected)
            .field("allocator", &self.allocator)
            .field("layout", &self.layout)
            .finish()
    }
}

impl Opened {
    /// One line for the user: `dmabuf (dma-heap /dev/dma_heap/system)` or
    /// `fileio (dmabuf: …; seed: …)`.
    pub fn summary(&self) -> String {
        let mut s = self.transport.kind().to_string();
        if let Some(a) = &self.allocator {
            s.push_str(&format!(" ({a})"));
        }
        if !self.rejected.is_empty() {
            let reasons: Vec<String> = self
                .rejected
                .iter()
                .map(|(k, r)| format!("{k}: {r}"))
                .collect();
            s.push_str(&format!(" [not {}]", reasons.join("; ")));
        }
        s
    }
}

fn kernel_reason(kind: TransportKind, e: &Error) -> String {
    let why = match (kind, e.errno()) {
        (TransportKind::Dmabuf, Some(Errno::NOTTY | Errno::INVAL)) => {
            "the kernel has no mainline IIO DMABUF interface (Linux 6.11+)"
        }
        (TransportKind::Dmabuf, Some(Errno::PERM)) => "the buffer does not support DMABUF",
        // ENODEV: the device node's answer to an ioctl none of its handlers takes.
        (TransportKind::Seed, Some(Errno::NOTTY | Errno::INVAL | Errno::NODEV)) => {
            "the kernel has no seed DMABUF interface"
        }
        (TransportKind::Seed, Some(Errno::PERM)) => "the buffer does not support DMABUF",
        _ => "refused",
    };
    format!("{why} ({e})")
}

fn allocator_reason(allocator: &Allocator, e: &Error) -> String {
    let why = match e.errno() {
        Some(Errno::NOENT | Errno::NODEV | Errno::NXIO) => "not present",
        Some(Errno::ACCESS | Errno::PERM) => "permission denied",
        _ => "allocation failed",
    };
    format!("{allocator}: {why} ({e})")
}

/// Tries the transports that `choice` allows, in order, and returns the first that opens.
///
/// Auto: mainline DMABUF with each allocator in turn (an allocator failure moves to the
/// next allocator; a kernel refusal — `ENOTTY`/`EINVAL` unknown ioctl, `EPERM` no DMABUF
/// support — gives up on DMABUF at once), then the seed's interface, then read()/write().
/// Every refusal is logged and recorded; when nothing opens, [`Error::NoTransport`] lists
/// them all.
///
/// A forced choice tries only that transport and returns its error as is (or
/// [`Error::NoTransport`] with every allocator's reason when no DMABUF could be allocated).
pub fn choose_transport(
    device: &str,
    choice: TransportChoice,
    allocators: &[Allocator],
    backend: &mut dyn TransportBackend,
) -> Result<Chosen> {
    let auto = choice == TransportChoice::Auto;
    let mut rejected: Vec<(TransportKind, String)> = Vec::new();
    let reject = |kind: TransportKind, reason: String, rejected: &mut Vec<_>| {
        tracing::info!(device, transport = %kind, "transport not used: {reason}");
        rejected.push((kind, reason));
    };
    let chosen = |transport: Box<dyn Transport>, rejected, allocator: Option<Allocator>| {
        tracing::info!(
            device,
            transport = %transport.kind(),
            allocator = allocator.as_ref().map(ToString::to_string),
            "transport chosen"
        );
        Chosen {
            transport,
            rejected,
            allocator,
        }
    };

    if auto || choice == TransportChoice::Dmabuf {
        let mut allocator_reasons = Vec::new();
        let mut kernel_refused = false;
        for allocator in allocators {
            match backend.dmabuf(allocator) {
                Ok(t) => {
                    if !allocator_reasons.is_empty() {
                        tracing::info!(
                            device,
                            "DMABUF allocators skipped: {}",
                            allocator_reasons.join("; ")
                        );
                    }
                    return Ok(chosen(t, rejected, Some(allocator.clone())));
                }
                Err(Refusal::Allocator(e)) => {
                    let reason = allocator_reason(allocator, &e);
                    tracing::debug!(device, "{reason}");
                    allocator_reasons.push(reason);
                }
                Err(Refusal::Kernel(e)) => {
                    if !auto {
                        return Err(e);
                    }
                    reject(
                        TransportKind::Dmabuf,
                        kernel_reason(TransportKind::Dmabuf, &e),
                        &mut rejected,
                    );
                    kernel_refused = true;
                    break;
                }
            }
        }
        if !kernel_refused {
            let reason = if allocators.is_empty() {
                "no DMABUF allocator configured".to_string()
            } else {
                format!(
                    "no DMABUF could be allocated: {}",
                    allocator_reasons.join("; ")
                )
            };
            reject(TransportKind::Dmabuf, reason, &mut rejected);
            if !auto {
                return Err(Error::NoTransport {
                    device: device.to_string(),
                    rejected,
                });
            }
        }
    }
    if auto || choice == TransportChoice::Seed {
        match backend.seed() {
            Ok(t) => return Ok(chosen(t, rejected, None)),
            Err(e) if !auto => return Err(e),
            Err(e) => reject(
                TransportKind::Seed,
                kernel_reason(TransportKind::Seed, &e),
                &mut rejected,
            ),
        }
    }
    if auto || choice == TransportChoice::FileIo {
        match backend.fileio() {
            Ok(t) => return Ok(chosen(t, rejected, None)),
            Err(e) if !auto => return Err(e),
            Err(e) => reject(TransportKind::FileIo, e.to_string(), &mut rejected),
        }
    }
    Err(Error::NoTransport {
        device: device.to_string(),
        rejected,
    })
}

/// The kernel as a [`TransportBackend`]: one buffer fd and the device node, duplicated for
/// each attempt, so that a failed attempt closes only its own copies.
#[derive(Debug)]
pub(crate) struct KernelBackend {
    pub(crate) config: StreamConfig,
    pub(crate) fds: BufferFds,
    pub(crate) node_path: PathBuf,
    pub(crate) index: u32,
    pub(crate) control: Option<BufferControl>,
    pub(crate) ioctls: Arc<dyn IioIoctls>,
}

impl KernelBackend {
    fn dup(&self, fd: &OwnedFd) -> Result<OwnedFd> {
        fd.try_clone().map_err(|e| {
            Error::os(
                "dup",
                self.config.name.as_str(),
                Errno::from_io_error(&e).unwrap_or(Errno::MFILE),
            )
        })
    }

    /// Kernel operations whose buffer ioctls go to `target` (a dup of the node or of the
    /// buffer fd); the other one is kept open beside it.
    fn ops(&self, interface: Interface, target: SeedFd) -> Result<KernelOps> {
        let (target, keep) = match target {
            SeedFd::Node => (&self.fds.node, &self.fds.buffer),
            SeedFd::Buffer => (&self.fds.buffer, &self.fds.node),
        };
        Ok(KernelOps::new(
            interface,
            Arc::clone(&self.ioctls),
            self.dup(target)?,
            vec![self.dup(keep)?],
            self.control.clone(),
        ))
    }
}

impl TransportBackend for KernelBackend {
    fn dmabuf(&mut self, allocator: &Allocator) -> Result<Box<dyn Transport>, Refusal> {
        let (size, count) = (self.config.block_size, self.config.block_count);
        let dmabufs = match allocator {
            Allocator::DmaHeap(path) => {
                dmabuf::alloc_dma_heap_with(&*self.ioctls, path, size, count)
            }
            Allocator::Udmabuf(path) => {
                dmabuf::alloc_udmabuf(path, size, count, &self.config.memfd_stem())
            }
        }
        .map_err(Refusal::Allocator)?;
        // Mainline's ioctls: on the buffer fd.
        let ops = self
            .ops(Interface::Mainline, SeedFd::Buffer)
            .map_err(Refusal::Kernel)?;
        let t = DmabufTransport::new(ops, dmabufs, self.config.clone()).map_err(Refusal::Kernel)?;
        Ok(Box::new(t))
    }

    fn seed(&mut self) -> Result<Box<dyn Transport>> {
        let allocation = dmabuf::alloc_seed(
            &*self.ioctls,
            SeedTargets {
                node: self.fds.node.as_fd(),
                node_path: &self.node_path,
                buffer: self.fds.buffer.as_fd(),
                index: self.index,
                buffer_is_node: self.fds.buffer_is_node,
            },
            self.config.block_size,
            self.config.block_count,
            &self.config.name,
        )?;
        tracing::debug!(
            device = %self.config.name,
            on = ?allocation.on,
            "seed DMABUFs allocated; ENQUEUE goes to the same fd"
        );
        // ENQUEUE on the fd ALLOC succeeded on.
        let ops = self.ops(
            Interface::Seed {
                dmabuf_size: allocation.dmabuf_size,
            },
            allocation.on,
        )?;
        Ok(Box::new(DmabufTransport::new(
            ops,
            allocation.dmabufs,
            self.config.clone(),
        )?))
    }

    fn fileio(&mut self) -> Result<Box<dyn Transport>> {
        let t = FileIo::new(
            self.dup(&self.fds.buffer)?,
            self.config.clone(),
            self.control.clone(),
        )?
        .with_device_fd(self.dup(&self.fds.node)?);
        Ok(Box::new(t))
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The device node and the fd of one of its buffers.
#[derive(Debug)]
pub(crate) struct BufferFds {
    /// The device node (`/dev/iio:deviceN`), open read-write.
    pub(crate) node: OwnedFd,
    /// The buffer fd from `IIO_BUFFER_GET_FD_IOCTL`, or a dup of the node.
    pub(crate) buffer: OwnedFd,
    /// `buffer` is a dup of `node`: the kernel has no `IIO_BUFFER_GET_FD_IOCTL`.
    pub(crate) buffer_is_node: bool,
}

/// Opens the device node and gets the fd of buffer `index`: `IIO_BUFFER_GET_FD_IOCTL`
/// (Linux 5.13+); on older kernels (`ENOTTY`/`EINVAL`) buffer 0 is the node itself.
pub(crate) fn open_buffer_fd(
    device: &Device,
    index: u32,
    ioctls: &dyn IioIoctls,
) -> Result<BufferFds> {
    let node = crate::sys::open_rw(&device.node)?;
    match ioctls.buffer_get_fd(node.as_fd(), index) {
        Ok(buffer) => Ok(BufferFds {
            node,
            buffer,
            buffer_is_node: false,
        }),
        Err(Errno::NOTTY | Errno::INVAL) if index == 0 => {
            tracing::debug!(
                device = %device.id,
                "no IIO_BUFFER_GET_FD_IOCTL (kernel before 5.13): buffer 0 is the device node"
            );
            let buffer = node.try_clone().map_err(|e| Error::File {
                op: "dup",
                path: device.node.clone(),
                errno: Errno::from_io_error(&e).unwrap_or(Errno::MFILE),
                detail: String::new(),
            })?;
            Ok(BufferFds {
                node,
                buffer,
                buffer_is_node: true,
            })
        }
        Err(errno) => Err(Error::File {
            op: "IIO_BUFFER_GET_FD_IOCTL",
            path: device.node.clone(),
            errno,
            detail: format!("buffer {index}"),
        }),
    }
}

impl Device {
    /// Opens buffer `options.buffer` for streaming.
    ///
    /// 1. Enables the requested channels (and disables the others) through their `_en`
    ///    files, and computes the scan layout;
    /// 2. sizes the blocks: `samples_per_block` samples, rounded up to a multiple of
    ///    `length_align_bytes`;
    /// 3. opens the device node and gets the buffer fd;
    /// 4. chooses the transport ([`choose_transport`]): the DMABUF transports allocate and
    ///    (mainline) attach their blocks now, which is also how support is detected.
    ///
    /// The transport is returned not started: [`Transport::start`] writes `length` and
    /// `enable`. Errors name the device, the file and the errno.
    pub fn open_buffer(&self, options: &BufferOptions) -> Result<Opened> {
        self.open_buffer_with(options, Arc::new(LinuxIoctls))
    }

    /// [`Self::open_buffer`] with the buffer ioctls (`GET_FD`, the dma-heap allocation,
    /// mainline's `ATTACH`/`DETACH`/`ENQUEUE`, the seed's `ALLOC`/`ENQUEUE`) sent through
    /// `ioctls` instead of straight to the kernel: for tests with a fake kernel that checks
    /// which fd each request reaches (`testing::FakeKernel`, feature `testing`). Everything else —
    /// opening the node, sysfs, mappings, the ioctls on the DMABUFs themselves — is real.
    pub fn open_buffer_with(
        &self,
        options: &BufferOptions,
        ioctls: Arc<dyn IioIoctls>,
    ) -> Result<Opened> {
        let buffer = self.buffer_or_error(options.buffer)?;
        if options.samples_per_block == 0 || options.block_count == 0 {
            return Err(self
                .config_error("samples per block and block count must be at least 1".to_string()));
        }
        let (direction, layout) = self.configure_channels(buffer, &options.channels)?;
        let sample_size = layout.scan_bytes();
        let align_bytes = buffer
            .attrs
            .length_align_bytes
            .and_then(|a| usize::try_from(a).ok())
            .filter(|&a| a > 0)
            .unwrap_or(1);
        let bytes_align = sample_size / gcd(sample_size, align_bytes) * align_bytes;
        let wanted = options
            .samples_per_block
            .checked_mul(sample_size)
            .ok_or_else(|| self.config_error("block size overflows".to_string()))?;
        let block_size = wanted.div_ceil(bytes_align) * bytes_align;
        if block_size != wanted {
            tracing::info!(
                device = %self.id,
                wanted,
                block_size,
                "block size rounded up to a multiple of {bytes_align} bytes (length_align_bytes)"
            );
        }
        let samples_per_block = (block_size / sample_size) as u64;
        let config = StreamConfig {
            name: format!("{}/buffer{}", self.display_name(), buffer.index),
            direction,
            sample_size,
            block_size,
            block_count: options.block_count,
            bytes_align,
            length: Some(samples_per_block * options.block_count as u64),
            watermark: (direction == Direction::In).then_some(samples_per_block),
        };
        config.validate()?;
        let fds = open_buffer_fd(self, buffer.index, &*ioctls)?;
        let mut backend = KernelBackend {
            control: Some(buffer.control(config.name.clone())),
            config,
            fds,
            node_path: self.node.clone(),
            index: buffer.index,
            ioctls,
        };
        let name = backend.config.name.clone();
        let chosen = choose_transport(&name, options.transport, &options.allocators, &mut backend)?;
        // Watched from now on: once the device goes away, whatever fails says so.
        let presence = DevicePresence::watch(self);
        Ok(Opened {
            transport: Box::new(Watched::new(chosen.transport, presence)),
            rejected: chosen.rejected,
            allocator: chosen.allocator,
            layout,
        })
    }

    /// The scan layout [`Device::open_buffer`] would set up for buffer `buffer` with
    /// `channels` enabled (empty: every channel of the buffer's direction except the
    /// timestamp), and the buffer's direction, **without changing anything** on the device:
    /// the channels are only read, not enabled. This is what a flowgraph checks its converters
    /// against before anything runs.
    pub fn scan_layout(&self, buffer: u32, channels: &[String]) -> Result<(Direction, ScanLayout)> {
        let buffer = self.buffer_or_error(buffer)?;
        let (direction, selected) = self.select_channels(buffer, channels)?;
        let layout = ScanLayout::new(selected.iter().map(|c| (c.id.as_str(), c.index, c.format)));
        Ok((direction, layout))
    }

    /// Enables exactly the selected channels of `buffer`; returns the direction and layout.
    fn configure_channels(
        &self,
        buffer: &Buffer,
        wanted: &[String],
    ) -> Result<(Direction, ScanLayout)> {
        let (direction, selected) = self.select_channels(buffer, wanted)?;
        for channel in &buffer.channels {
            let on = selected.iter().any(|s| s.id == channel.id);
            if channel.enabled != on {
                buffer.set_channel_enabled(channel, on)?;
            }
        }
        let layout = ScanLayout::new(selected.iter().map(|c| (c.id.as_str(), c.index, c.format)));
        Ok((direction, layout))
    }

    /// The channels of `buffer` to enable for `wanted` (see [`BufferOptions::channels`]), and
    /// their direction.
    fn select_channels<'b>(
        &self,
        buffer: &'b Buffer,
        wanted: &[String],
    ) -> Result<(Direction, Vec<&'b crate::sysfs::Channel>)> {
        let available = || {
            buffer
                .channels
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let selected: Vec<&crate::sysfs::Channel> = if wanted.is_empty() {
            let direction = buffer.direction().ok_or_else(|| {
                self.config_error(format!(
                    "buffer{} mixes input and output channels: name the channels to use",
                    buffer.index
                ))
            })?;
            buffer
                .channels
                .iter()
                .filter(|c| c.direction == direction && !c.is_timestamp())
                .collect()
        } else {
            wanted
                .iter()
                .map(|id| {
                    buffer.channel(id).ok_or_else(|| {
                        self.config_error(format!(
                            "buffer{} has no channel {id:?} (it has: {})",
                            buffer.index,
                            available()
                        ))
                    })
                })
                .collect::<Result<_>>()?
        };
        let Some(first) = selected.first() else {
            return Err(
                self.config_error(format!("buffer{} has no channel to enable", buffer.index))
            );
        };
        let direction = first.direction;
        if selected.iter().any(|c| c.direction != direction)
            || buffer.attrs.direction.is_some_and(|d| d != direction)
        {
            return Err(self.config_error(format!(
                "buffer{}: the channels must all be of the buffer's direction",
                buffer.index
            )));
        }
        Ok((direction, selected))
    }

    /// A configuration error naming this device.
    fn config_error(&self, message: String) -> Error {
        Error::Config {
            device: self.display_name().to_string(),
            message,
        }
    }

    /// Buffer `index`, or a configuration error listing the buffers the device has.
    fn buffer_or_error(&self, index: u32) -> Result<&Buffer> {
        self.buffer(index).ok_or_else(|| {
            self.config_error(format!(
                "no buffer {index} (the device has {})",
                if self.buffers.is_empty() {
                    "none".to_string()
                } else {
                    self.buffers
                        .iter()
                        .map(|b| format!("buffer{}", b.index))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimConfig, SimRx};
    use std::collections::VecDeque;

    /// A fake backend: each call pops the next scripted outcome and is recorded.
    #[derive(Default)]
    struct Script {
        dmabuf: VecDeque<std::result::Result<(), (bool, Errno)>>,
        seed: VecDeque<Option<Errno>>,
        fileio: VecDeque<Option<Errno>>,
        calls: Vec<String>,
    }

    /// A script answering the dmabuf, seed and fileio calls with these outcomes, in order.
    fn script(
        dmabuf: &[std::result::Result<(), (bool, Errno)>],
        seed: &[Option<Errno>],
        fileio: &[Option<Errno>],
    ) -> Script {
        Script {
            dmabuf: dmabuf.iter().copied().collect(),
            seed: seed.iter().copied().collect(),
            fileio: fileio.iter().copied().collect(),
            calls: Vec::new(),
        }
    }

    fn sim() -> Box<dyn Transport> {
        Box::new(
            SimRx::new(SimConfig {
                block_size: 4096,
                block_count: 1,
                ..SimConfig::default()
            })
            .unwrap(),
        )
    }

    impl TransportBackend for Script {
        fn dmabuf(&mut self, allocator: &Allocator) -> Result<Box<dyn Transport>, Refusal> {
            self.calls.push(format!("dmabuf {allocator}"));
            match self.dmabuf.pop_front().expect("unexpected dmabuf call") {
                Ok(()) => Ok(sim()),
                Err((true, errno)) => Err(Refusal::Allocator(Error::File {
                    op: "open",
                    path: match allocator {
                        Allocator::DmaHeap(p) | Allocator::Udmabuf(p) => p.clone(),
                    },
                    errno,
                    detail: String::new(),
                })),
                Err((false, errno)) => Err(Refusal::Kernel(Error::os(
                    "IIO_BUFFER_DMABUF_ATTACH",
                    "dev",
                    errno,
                ))),
            }
        }
        fn seed(&mut self) -> Result<Box<dyn Transport>> {
            self.calls.push("seed".to_string());
            match self.seed.pop_front().expect("unexpected seed call") {
                None => Ok(sim()),
                Some(errno) => Err(Error::os("IIO_BUFFER_DMABUF_ALLOC (seed)", "dev", errno)),
            }
        }
        fn fileio(&mut self) -> Result<Box<dyn Transport>> {
            self.calls.push("fileio".to_string());
            match self.fileio.pop_front().expect("unexpected fileio call") {
                None => Ok(sim()),
                Some(errno) => Err(Error::os("open", "dev", errno)),
            }
        }
    }

    fn allocators() -> Vec<Allocator> {
        vec![
            Allocator::DmaHeap(PathBuf::from("/dev/dma_heap/system")),
            Allocator::Udmabuf(PathBuf::from("/dev/udmabuf")),
        ]
    }

    fn run(script: &mut Script, choice: TransportChoice) -> Result<Chosen> {
        choose_transport("dev", choice, &allocators(), script)
    }

    /// Asserts that DMABUF, and only DMABUF, was rejected; returns its reason.
    fn only_dmabuf_rejected(c: &Chosen) -> &str {
        assert_eq!(c.rejected.len(), 1);
        let (kind, reason) = &c.rejected[0];
        assert_eq!(*kind, TransportKind::Dmabuf);
        reason
    }

    const HEAP: &str = "dmabuf dma-heap /dev/dma_heap/system";
    const UDMABUF: &str = "dmabuf udmabuf /dev/udmabuf";

    #[test]
    fn auto_takes_dmabuf_from_the_first_allocator_that_works() {
        let mut s = script(&[Ok(())], &[], &[]);
        let c = run(&mut s, TransportChoice::Auto).unwrap();
        assert_eq!(s.calls, [HEAP]);
        assert!(c.rejected.is_empty());
        assert_eq!(c.allocator, Some(allocators()[0].clone()));
        // Heap permission denied → udmabuf.
        let mut s = script(&[Err((true, Errno::ACCESS)), Ok(())], &[], &[]);
        let c = run(&mut s, TransportChoice::Auto).unwrap();
        assert_eq!(s.calls, [HEAP, UDMABUF]);
        assert!(c.rejected.is_empty());
        assert_eq!(c.allocator, Some(allocators()[1].clone()));
    }

    #[test]
    fn auto_falls_back_in_order_and_records_each_reason() {
        for (dmabuf_errno, seed_errno) in [
            (Errno::NOTTY, Errno::NOTTY),
            (Errno::INVAL, Errno::INVAL),
            (Errno::PERM, Errno::PERM),
        ] {
            let mut s = script(&[Err((false, dmabuf_errno))], &[Some(seed_errno)], &[None]);
            let c = run(&mut s, TransportChoice::Auto).unwrap();
            // A kernel refusal does not try the other allocator.
            assert_eq!(s.calls, [HEAP, "seed", "fileio"], "{dmabuf_errno}");
            assert_eq!(c.allocator, None);
            let kinds: Vec<_> = c.rejected.iter().map(|(k, _)| *k).collect();
            assert_eq!(kinds, [TransportKind::Dmabuf, TransportKind::Seed]);
            let (dmabuf_reason, seed_reason) = (&c.rejected[0].1, &c.rejected[1].1);
            assert!(
                dmabuf_reason.contains(&dmabuf_errno.to_string()),
                "{dmabuf_reason}"
            );
            assert!(
                seed_reason.contains(&seed_errno.to_string()),
                "{seed_reason}"
            );
            if dmabuf_errno == Errno::PERM {
                assert!(
                    dmabuf_reason.starts_with("the buffer does not support DMABUF"),
                    "{dmabuf_reason}"
                );
            } else {
                assert!(
                    dmabuf_reason.starts_with("the kernel has no mainline"),
                    "{dmabuf_reason}"
                );
                assert!(
                    seed_reason.starts_with("the kernel has no seed"),
                    "{seed_reason}"
                );
            }
        }
    }

    #[test]
    fn attach_eperm_with_the_seed_offered_chooses_the_seed() {
        // A vendor kernel with both interfaces whose driver only supports the seed's:
        // mainline's attach says EPERM, the seed's ALLOC works.
        let mut s = script(&[Err((false, Errno::PERM))], &[None], &[]);
        let c = run(&mut s, TransportChoice::Auto).unwrap();
        // EPERM is the kernel's answer: the other allocator is not tried, fileio neither.
        assert_eq!(s.calls, [HEAP, "seed"]);
        assert_eq!(c.allocator, None);
        let reason = only_dmabuf_rejected(&c);
        assert!(
            reason.starts_with("the buffer does not support DMABUF"),
            "{reason}"
        );
    }

    #[test]
    fn no_allocator_then_seed() {
        // Heap: permission denied; udmabuf: absent → DMABUF rejected naming both; seed works.
        let mut s = script(
            &[Err((true, Errno::ACCESS)), Err((true, Errno::NOENT))],
            &[None],
            &[],
        );
        let c = run(&mut s, TransportChoice::Auto).unwrap();
        assert_eq!(s.calls, [HEAP, UDMABUF, "seed"]);
        let reason = only_dmabuf_rejected(&c);
        assert!(
            reason.contains("dma-heap /dev/dma_heap/system: permission denied"),
            "{reason}"
        );
        assert!(
            reason.contains("udmabuf /dev/udmabuf: not present"),
            "{reason}"
        );
    }

    #[test]
    fn nothing_opens() {
        let mut s = script(
            &[Err((true, Errno::NOENT)), Err((true, Errno::NOENT))],
            &[Some(Errno::NOTTY)],
            &[Some(Errno::BUSY)],
        );
        let e = run(&mut s, TransportChoice::Auto).unwrap_err();
        let Error::NoTransport { rejected, .. } = &e else {
            panic!("{e:?}");
        };
        let kinds: Vec<_> = rejected.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                TransportKind::Dmabuf,
                TransportKind::Seed,
                TransportKind::FileIo
            ]
        );
        let s = e.to_string();
        assert!(
            s.contains("dmabuf: ") && s.contains("seed: ") && s.contains("fileio: "),
            "{s}"
        );
    }

    #[test]
    fn forced_choices_try_only_that_transport() {
        let mut s = script(&[Err((false, Errno::NOTTY))], &[], &[]);
        let e = run(&mut s, TransportChoice::Dmabuf).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOTTY));
        assert_eq!(s.calls, [HEAP]);

        let mut s = script(
            &[Err((true, Errno::ACCESS)), Err((true, Errno::NOENT))],
            &[],
            &[],
        );
        let e = run(&mut s, TransportChoice::Dmabuf).unwrap_err();
        assert!(
            matches!(&e, Error::NoTransport { rejected, .. } if rejected.len() == 1),
            "{e:?}"
        );
        assert_eq!(s.calls, [HEAP, UDMABUF]);

        let mut s = script(&[], &[Some(Errno::PERM)], &[]);
        assert_eq!(
            run(&mut s, TransportChoice::Seed).unwrap_err().errno(),
            Some(Errno::PERM)
        );
        assert_eq!(s.calls, ["seed"]);
        let mut s = script(&[], &[None], &[]);
        assert!(
            run(&mut s, TransportChoice::Seed)
                .unwrap()
                .rejected
                .is_empty()
        );

        let mut s = script(&[], &[], &[None]);
        run(&mut s, TransportChoice::FileIo).unwrap();
        assert_eq!(s.calls, ["fileio"]);
        let mut s = script(&[], &[], &[Some(Errno::BUSY)]);
        assert_eq!(
            run(&mut s, TransportChoice::FileIo).unwrap_err().errno(),
            Some(Errno::BUSY)
        );

        // No allocator configured: DMABUF is skipped with that reason.
        let mut s = script(&[], &[None], &[]);
        let c = choose_transport("dev", TransportChoice::Auto, &[], &mut s).unwrap();
        assert_eq!(c.rejected[0].1, "no DMABUF allocator configured");
    }

    #[test]
    fn choice_names_round_trip() {
        for c in [
            TransportChoice::Auto,
            TransportChoice::Dmabuf,
            TransportChoice::Seed,
            TransportChoice::FileIo,
        ] {
            assert_eq!(c.to_string().parse::<TransportChoice>().unwrap(), c);
        }
        assert!(matches!(
            "mmap".parse::<TransportChoice>(),
            Err(Error::Param { .. })
        ));
        assert_eq!(TransportChoice::default(), TransportChoice::Auto);
    }

    #[test]
    fn gcd_and_alignment() {
        assert_eq!(gcd(12, 8), 4);
        assert_eq!(gcd(4, 1), 1);
        assert_eq!(gcd(6, 0), 6);
    }
}

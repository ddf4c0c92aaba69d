//! What `weir iio list` shows, as data: the devices under a sysfs root, their buffers and
//! channels, and which transports each buffer offers (tried only when asked). The text is the
//! CLI's (`weir::iio_list`); the probing stays here because it drives the transports' own
//! allocation and attach code.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

use rustix::fs::Access;
use rustix::io::Errno;

use crate::dmabuf::{self, DmabufTransport, Interface, KernelOps, SeedTargets};
use crate::error::{Error, Result};
use crate::kernel::LinuxIoctls;
use crate::open::{Allocator, open_buffer_fd};
use crate::stream::StreamConfig;
use crate::sysfs::{Buffer, Device, Sysfs};
use crate::transport::Direction;

/// What [`inventory`] does besides reading sysfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryOptions {
    /// Try the DMABUF interfaces on each buffer whose device node is accessible: open the
    /// node, get the buffer fd, allocate one page-sized DMABUF and attach/detach it
    /// (mainline), ask IIO for one (the seed's, on the device node first, as the transport
    /// does). Nothing is enabled and no sysfs attribute is written, but the buffer is busy
    /// for that moment (a buffer in use reports `EBUSY`).
    pub probe: bool,
    /// The DMABUF allocators to probe with, in order.
    pub allocators: Vec<Allocator>,
}

impl Default for InventoryOptions {
    /// No probing; the default allocators.
    fn default() -> Self {
        InventoryOptions {
            probe: false,
            allocators: Allocator::defaults(),
        }
    }
}

/// The devices under a sysfs root, in the order of their ids.
#[derive(Debug)]
pub struct Inventory {
    /// The devices directory that was read.
    pub root: PathBuf,
    /// One entry a device.
    pub devices: Vec<DeviceEntry>,
}

/// One device of an [`Inventory`].
#[derive(Debug)]
pub enum DeviceEntry {
    /// The device as read, with what was found of its node and transports.
    Read(DeviceInventory),
    /// The device directory could not be read.
    Unreadable {
        /// The device id (`iio:deviceN`).
        id: String,
        /// Why it could not be read.
        error: Error,
    },
}

/// A device that could be read.
#[derive(Debug)]
pub struct DeviceInventory {
    /// The device model from sysfs.
    pub device: Device,
    /// Whether its device node can be opened for reading and writing.
    pub node: NodeAccess,
    /// The transports of each of `device.buffers`, in the same order.
    pub transports: Vec<Transports>,
}

impl DeviceInventory {
    /// Each buffer with its transports.
    pub fn buffers(&self) -> impl Iterator<Item = (&Buffer, &Transports)> {
        self.device.buffers.iter().zip(&self.transports)
    }
}

/// Whether a device node can be opened for reading and writing (`access(2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAccess {
    /// There is no node.
    Absent,
    /// The node is there but `access` refuses it.
    Inaccessible(Errno),
    /// The node can be opened.
    Accessible,
}

/// What is known of a buffer's DMABUF transports.
#[derive(Debug)]
pub enum Transports {
    /// Probing was not asked for.
    NotProbed,
    /// Probing was asked for but the device has no node.
    NoNode,
    /// Probing was asked for but the node is not accessible.
    NodeInaccessible(Errno),
    /// Probing was asked for but the buffer fd could not be had.
    NoBufferFd(Error),
    /// Both interfaces were tried.
    Probed {
        /// Mainline's DMABUF interface.
        mainline: MainlineProbe,
        /// The seed's DMABUF interface.
        seed: SeedProbe,
    },
}

/// The outcome of trying mainline's DMABUF interface (attach/detach one DMABUF).
#[derive(Debug)]
pub enum MainlineProbe {
    /// It works, with a DMABUF from this allocator.
    Works(Allocator),
    /// A DMABUF was allocated but the interface refused it.
    Refused(Error),
    /// No allocator gave a DMABUF to try it with: each one tried, with its refusal.
    NoAllocator(Vec<(Allocator, Error)>),
}

/// The outcome of asking the seed's interface for one DMABUF.
#[derive(Debug)]
pub enum SeedProbe {
    /// It works, on this fd.
    Works(SeedOn),
    /// Refused (each fd tried with its errno in the error's detail).
    Refused(Error),
}

/// Which fd the seed's `ALLOC` succeeded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOn {
    /// The device node.
    Node,
    /// The buffer fd.
    Buffer,
}

/// The devices under the tree of `sysfs`, optionally probing the transports.
///
/// Fails only when the root cannot be listed; a device that cannot be read is an
/// [`DeviceEntry::Unreadable`] entry.
pub fn inventory(sysfs: &Sysfs, options: &InventoryOptions) -> Result<Inventory> {
    let devices = sysfs
        .device_ids()?
        .into_iter()
        .map(|id| match sysfs.load(&id) {
            Ok(device) => DeviceEntry::Read(device_inventory(device, options)),
            Err(error) => DeviceEntry::Unreadable { id, error },
        })
        .collect();
    Ok(Inventory {
        root: sysfs.root().to_path_buf(),
        devices,
    })
}

fn device_inventory(device: Device, options: &InventoryOptions) -> DeviceInventory {
    let node = node_access(&device);
    let transports = device
        .buffers
        .iter()
        .map(|buffer| match (options.probe, node) {
            (false, _) => Transports::NotProbed,
            (true, NodeAccess::Absent) => Transports::NoNode,
            (true, NodeAccess::Inaccessible(e)) => Transports::NodeInaccessible(e),
            (true, NodeAccess::Accessible) => probe(&device, buffer, &options.allocators),
        })
        .collect();
    DeviceInventory {
        device,
        node,
        transports,
    }
}

fn node_access(device: &Device) -> NodeAccess {
    match rustix::fs::access(&device.node, Access::READ_OK | Access::WRITE_OK) {
        Ok(()) => NodeAccess::Accessible,
        Err(Errno::NOENT) => NodeAccess::Absent,
        Err(e) => NodeAccess::Inaccessible(e),
    }
}

/// Tries both DMABUF interfaces on `buffer`.
fn probe(device: &Device, buffer: &Buffer, allocators: &[Allocator]) -> Transports {
    let fds = match open_buffer_fd(device, buffer.index, &LinuxIoctls) {
        Ok(fds) => fds,
        Err(e) => return Transports::NoBufferFd(e),
    };
    let size = dmabuf::page_align(1);
    // One block of one page, bytes as samples; no sysfs control: nothing is enabled.
    let config = StreamConfig {
        name: format!("{}/buffer{}", device.display_name(), buffer.index),
        direction: buffer.direction().unwrap_or(Direction::In),
        sample_size: 1,
        block_size: size,
        block_count: 1,
        bytes_align: 1,
        length: None,
        watermark: None,
    };
    let dup = |fd: &std::os::fd::OwnedFd| fd.try_clone().ok();
    let mut allocator_refusals = Vec::new();
    let mut mainline = None;
    for allocator in allocators {
        let allocated = match allocator {
            Allocator::DmaHeap(p) => dmabuf::alloc_dma_heap(p, size, 1),
            Allocator::Udmabuf(p) => dmabuf::alloc_udmabuf(p, size, 1, "weir-probe"),
        };
        let dmabufs = match allocated {
            Ok(d) => d,
            Err(e) => {
                allocator_refusals.push((allocator.clone(), e));
                continue;
            }
        };
        let Some(buffer_dup) = dup(&fds.buffer) else {
            break;
        };
        let ops = KernelOps::new(
            Interface::Mainline,
            Arc::new(LinuxIoctls),
            buffer_dup,
            Vec::new(),
            None,
        );
        mainline = Some(match DmabufTransport::new(ops, dmabufs, config.clone()) {
            Ok(_t) => MainlineProbe::Works(allocator.clone()),
            Err(e) => MainlineProbe::Refused(e),
        });
        break;
    }
    let mainline = mainline.unwrap_or(MainlineProbe::NoAllocator(allocator_refusals));
    // The same fds, in the same order, as the transport would use.
    let seed = match dmabuf::alloc_seed(
        &LinuxIoctls,
        SeedTargets {
            node: fds.node.as_fd(),
            node_path: &device.node,
            buffer: fds.buffer.as_fd(),
            index: buffer.index,
            buffer_is_node: fds.buffer_is_node,
        },
        size,
        1,
        &config.name,
    ) {
        Ok(allocation) => SeedProbe::Works(match allocation.on {
            dmabuf::SeedFd::Node => SeedOn::Node,
            dmabuf::SeedFd::Buffer => SeedOn::Buffer,
        }),
        Err(e) => SeedProbe::Refused(e),
    };
    drop(fds);
    Transports::Probed { mainline, seed }
}

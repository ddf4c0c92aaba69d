//! Telling a device that went away from a transfer that failed.
//!
//! When an IIO device's driver is unbound or its hardware unplugged while a buffer streams,
//! Linux 6.12's `iio_device_unregister` (`drivers/iio/industrialio-core.c`) removes the
//! device node and the sysfs directory first, then disables every buffer — which aborts the
//! blocks in flight: their fences signal `-EINTR`, exactly as for any other aborted transfer
//! — and only then marks the device as gone. What user space meets afterwards does not say
//! "gone" by itself:
//!
//! - the aborted blocks complete as failed transfers (`EINTR`);
//! - the buffer fd's DMABUF ioctls do not check for removal: an `ENQUEUE` returns 0 and the
//!   block is parked on the disabled queue, where it never completes (and its DMABUF stays
//!   attached in the kernel until the fence's owner goes, i.e. for good);
//! - `read()`/`write()` on the buffer fd and the device node's ioctls answer `ENODEV`;
//! - a sysfs attribute opened before answers `ENODEV`; its path is gone (`ENOENT`).
//!
//! So a transport cannot rely on the errno of the call that failed. [`DevicePresence`] keeps
//! the device's `name` attribute open from the moment the buffer is opened and asks it:
//! `ENODEV` means this very device went away, even when a new one has since appeared under the
//! same `iio:deviceN`. [`Watched`] wraps a kernel transport so that every error it returns is
//! checked against that, and reported as [`Error::DeviceGone`] when the device is gone, with
//! the error that revealed it; its [`Transport::check_present`] lets a caller that waits
//! (for a block that will never complete) find out without an error at all.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::loss::LossEvidence;
use crate::stream::StreamConfig;
use crate::sys::MappedRegion;
use crate::sysfs::Device;
use crate::transport::{Interest, Transport, TransportCounters, TransportKind};

/// Whether an IIO device is still there; see the [module documentation](self).
#[derive(Debug)]
pub struct DevicePresence {
    /// The device's sysfs directory.
    sysfs_dir: PathBuf,
    /// Its device node, if it existed when the watch began.
    node: Option<PathBuf>,
    /// Its `name` attribute, open since the watch began (`None`: the device has none).
    name_attr: Option<OwnedFd>,
}

impl DevicePresence {
    /// Starts watching `device` (call it while the device is known to be there: when its
    /// buffer is opened).
    pub fn watch(device: &Device) -> DevicePresence {
        let name_attr = rustix::fs::open(
            device.path.join("name"),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok();
        let node = rustix::fs::stat(&device.node)
            .is_ok()
            .then(|| device.node.clone());
        DevicePresence {
            sysfs_dir: device.path.clone(),
            node,
            name_attr,
        }
    }

    /// `Some(evidence)` when the device has gone away, saying how that is known; `None` while
    /// it is there (or when nothing can tell).
    pub fn gone(&self) -> Option<String> {
        if let Some(fd) = &self.name_attr {
            let mut buf = [0u8; 64];
            // A sysfs attribute of a removed device answers ENODEV (kernfs no longer lets
            // anyone in), whatever has appeared under its path since.
            if rustix::io::pread(fd, &mut buf, 0) == Err(Errno::NODEV) {
                return Some(format!(
                    "its sysfs attributes answer ENODEV: the device was removed or its driver \
                     unbound ({})",
                    self.sysfs_dir.display()
                ));
            }
        }
        if rustix::fs::stat(&self.sysfs_dir).err() == Some(Errno::NOENT) {
            return Some(format!(
                "its sysfs directory {} no longer exists",
                self.sysfs_dir.display()
            ));
        }
        if let Some(node) = &self.node
            && rustix::fs::stat(node).err() == Some(Errno::NOENT)
        {
            return Some(format!(
                "its device node {} no longer exists",
                node.display()
            ));
        }
        None
    }
}

/// A transport whose errors are checked against its device's presence: while the device is
/// there they pass unchanged; once it has gone away they become [`Error::DeviceGone`]. Every
/// kernel transport that [`Device::open_buffer`] returns is wrapped so.
pub struct Watched {
    inner: Box<dyn Transport>,
    presence: DevicePresence,
    /// The inner transport's device name, for the errors.
    device: String,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("device", &self.device)
            .field("kind", &self.inner.kind())
            .field("presence", &self.presence)
            .finish_non_exhaustive()
    }
}

impl Watched {
    /// `inner`, watched by `presence`.
    pub fn new(inner: Box<dyn Transport>, presence: DevicePresence) -> Watched {
        let device = inner.device().to_string();
        Watched {
            inner,
            presence,
            device,
        }
    }

    fn check<R>(&self, result: Result<R>) -> Result<R> {
        result.map_err(|e| checked(&self.presence, &self.device, e))
    }

    /// Refuses to give a block to a device that has gone: Linux 6.12 accepts an `ENQUEUE`
    /// after the removal and parks the block on the disabled queue for good, with its DMABUF
    /// still attached — a kernel-side leak of the DMABUF, its attachment and its mapping that
    /// nothing user space does later can undo (seen on the kernel bench: one attachment left
    /// after a TX stream whose DAC was unbound). The removal takes the sysfs attributes away
    /// before it aborts the blocks, so a check right before each `ENQUEUE` leaves only the
    /// few microseconds between the check and the kernel taking the queue's lock. It costs
    /// one `pread` of a sysfs attribute per block.
    fn refuse_if_gone(&self) -> Result<()> {
        match self.presence.gone() {
            Some(evidence) => Err(Error::DeviceGone {
                device: self.device.clone(),
                evidence,
                cause: None,
            }),
            None => Ok(()),
        }
    }
}

/// The error to report for `error`: itself, or [`Error::DeviceGone`] around it when the
/// device has gone.
fn checked(presence: &DevicePresence, device: &str, error: Error) -> Error {
    if matches!(error, Error::DeviceGone { .. }) {
        return error;
    }
    match presence.gone() {
        Some(evidence) => Error::DeviceGone {
            device: device.to_string(),
            evidence,
            cause: Some(Box::new(error)),
        },
        None => error,
    }
}

impl Transport for Watched {
    fn kind(&self) -> TransportKind {
        self.inner.kind()
    }
    fn stream(&self) -> &StreamConfig {
        self.inner.stream()
    }
    fn start(&mut self) -> Result<()> {
        let r = self.inner.start();
        self.check(r)
    }
    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest) {
        self.inner.completion_fd(block)
    }
    fn try_complete(&mut self, block: usize) -> Result<Option<usize>> {
        let r = self.inner.try_complete(block);
        self.check(r)
    }
    fn wait_complete(&mut self, block: usize, timeout: Duration) -> Result<Option<usize>> {
        let r = self.inner.wait_complete(block, timeout);
        self.check(r)
    }
    fn completed_at_ns(&self) -> Option<u64> {
        self.inner.completed_at_ns()
    }
    fn block_memory(&self, block: usize) -> Arc<MappedRegion> {
        self.inner.block_memory(block)
    }
    /// Refused with [`Error::DeviceGone`] once the device has gone (see the module
    /// documentation: the kernel would keep the block for good).
    fn requeue(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.refuse_if_gone()?;
        let r = self.inner.requeue(block, bytes_used);
        self.check(r)
    }
    /// Stops the inner transport. Once the device has gone, what fails here (writing
    /// `enable` to a sysfs file that no longer exists) is the removal itself, already
    /// reported by whatever stopped the stream: the cleanup is done all the same.
    fn stop(&mut self) -> Result<()> {
        let r = self.inner.stop();
        self.check(r)
    }
    fn counters(&self) -> TransportCounters {
        self.inner.counters()
    }
    fn loss_evidence(&self) -> Option<LossEvidence> {
        self.inner.loss_evidence()
    }
    fn zero_bytes_used_is_whole_block(&self) -> bool {
        self.inner.zero_bytes_used_is_whole_block()
    }
    fn requeue_cyclic(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.refuse_if_gone()?;
        let r = self.inner.requeue_cyclic(block, bytes_used);
        self.check(r)
    }
    fn lend_block(&mut self, block: usize) -> Result<MappedRegion> {
        let r = self.inner.lend_block(block);
        self.check(r)
    }
    fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes_used: usize,
    ) -> Result<()> {
        // Refused before the mapping goes back: it is unmapped with the transport.
        self.refuse_if_gone()?;
        let r = self.inner.return_block(block, memory, bytes_used);
        self.check(r)
    }
    fn block_mut(&mut self, block: usize) -> Result<&mut [u8]> {
        let (presence, device) = (&self.presence, self.device.as_str());
        self.inner
            .block_mut(block)
            .map_err(|e| checked(presence, device, e))
    }
    fn check_present(&self) -> Result<()> {
        self.refuse_if_gone()?;
        self.inner.check_present()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimConfig, SimRx};
    use crate::testing::FakeSysfs;

    fn watched_sim(fake: &FakeSysfs, fail_block: Option<u64>) -> Watched {
        fake.device(0).name("weir-sim-adc");
        let device = crate::Sysfs::new(fake.root())
            .with_dev_root(fake.dev_root())
            .find("weir-sim-adc")
            .unwrap();
        let sim = SimRx::new(SimConfig {
            block_size: 4096,
            block_count: 2,
            fail_block,
            ..SimConfig::default()
        })
        .unwrap();
        Watched::new(Box::new(sim), DevicePresence::watch(&device))
    }

    #[test]
    fn a_failure_while_the_device_is_there_passes_unchanged() {
        let fake = FakeSysfs::new();
        let mut t = watched_sim(&fake, Some(0));
        t.start().unwrap();
        assert!(t.check_present().is_ok());
        let e = t.wait_complete(0, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, Error::TransferFailed { .. }), "{e:?}");
        t.stop().unwrap();
    }

    #[test]
    fn a_failure_after_the_device_went_away_says_so_with_its_cause() {
        let fake = FakeSysfs::new();
        let mut t = watched_sim(&fake, Some(1));
        t.start().unwrap();
        assert_eq!(
            t.wait_complete(0, Duration::from_secs(5)).unwrap(),
            Some(4096)
        );
        // The driver is unbound: its sysfs directory goes (on the kernel its attributes then
        // answer ENODEV; a fake tree can only lose the directory).
        std::fs::remove_dir_all(fake.root().join("iio:device0")).unwrap();
        let gone = t.check_present().unwrap_err();
        assert!(
            matches!(&gone, Error::DeviceGone { cause: None, .. }),
            "{gone:?}"
        );
        assert_eq!(gone.errno(), Some(Errno::NODEV));
        let e = t.wait_complete(1, Duration::from_secs(5)).unwrap_err();
        let Error::DeviceGone { device, cause, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(device, t.device());
        assert!(
            matches!(
                cause.as_deref(),
                Some(Error::TransferFailed { block: 1, .. })
            ),
            "{cause:?}"
        );
        let text = e.to_string();
        assert!(text.contains("went away"), "{text}");
        assert!(text.contains("no longer exists"), "{text}");
        assert!(text.contains("transfer of block 1 failed"), "{text}");
        // No block goes to a device that has gone (the kernel would keep it for good).
        let refused = t.requeue(0, 4096).unwrap_err();
        assert!(
            matches!(&refused, Error::DeviceGone { cause: None, .. }),
            "{refused:?}"
        );
        assert_eq!(t.counters().blocks_completed, 1);
        // Stopping still works (and says nothing new).
        t.stop().unwrap();
    }
}

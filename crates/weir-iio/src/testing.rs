//! Fake IIO sysfs trees, for tests and demonstrations on machines without IIO hardware.
//!
//! A [`FakeSysfs`] is a temporary directory laid out like `/sys/bus/iio/devices` (plus a
//! directory standing in for `/dev`), removed on drop. Attributes are plain files, so writes
//! by the code under test (`enable`, `length`, channel `_en` …) can be read back. A FIFO can
//! stand in for a device node: every IIO ioctl on it fails with `ENOTTY`, which is exactly
//! what a kernel without DMABUF support (or without `IIO_BUFFER_GET_FD_IOCTL`) answers, so
//! the transport choice falls back to read()/write() on it.
//!
//! The helpers panic (with the path) when the file system refuses: they are for tests.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};
use crate::xflow::RegisterAccess;

/// A temporary fake sysfs tree; see the [module documentation](self).
#[derive(Debug)]
pub struct FakeSysfs {
    base: PathBuf,
    root: PathBuf,
    dev_root: PathBuf,
}

impl Default for FakeSysfs {
    fn default() -> Self {
        FakeSysfs::new()
    }
}

impl FakeSysfs {
    /// Creates an empty tree in a new directory under the system's temporary directory.
    ///
    /// # Panics
    /// If the directories cannot be created.
    pub fn new() -> FakeSysfs {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let base =
            std::env::temp_dir().join(format!("weir-iio-fake-{}-{n}-{nanos}", std::process::id()));
        let root = base.join("devices");
        let dev_root = base.join("dev");
        for dir in [&root, &dev_root] {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        FakeSysfs {
            base,
            root,
            dev_root,
        }
    }

    /// The devices directory (what `/sys/bus/iio/devices` is for the kernel).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory standing in for `/dev`.
    pub fn dev_root(&self) -> &Path {
        &self.dev_root
    }

    /// The top directory (holding `devices/` and `dev/`), for extra files a test needs.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Creates (or reopens) device `iio:device{n}`.
    ///
    /// # Panics
    /// If the directory cannot be created.
    pub fn device(&self, n: u32) -> FakeDevice {
        let path = self.root.join(format!("iio:device{n}"));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        FakeDevice { path }
    }

    /// Creates a FIFO named `iio:device{n}` in the fake `/dev`, standing in for the device
    /// node, and returns its path.
    ///
    /// # Panics
    /// If it cannot be created.
    pub fn fifo_node(&self, n: u32) -> PathBuf {
        let path = self.dev_root.join(format!("iio:device{n}"));
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
        path
    }
}

impl Drop for FakeSysfs {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.base) {
            tracing::warn!("removing fake sysfs {}: {e}", self.base.display());
        }
    }
}

/// A channel of a fake buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeChannel {
    /// File prefix, e.g. `in_voltage0`.
    pub prefix: String,
    /// Scan index.
    pub index: u32,
    /// Type string, e.g. `le:s12/16>>4`.
    pub format: String,
    /// Initial `_en`.
    pub enabled: bool,
}

impl FakeChannel {
    /// A channel with the file prefix `prefix` (`in_voltage0`).
    pub fn new(prefix: &str, index: u32, format: &str, enabled: bool) -> FakeChannel {
        FakeChannel {
            prefix: prefix.to_string(),
            index,
            format: format.to_string(),
            enabled,
        }
    }
}

/// A device of a [`FakeSysfs`]; the builder methods write its files.
#[derive(Debug, Clone)]
pub struct FakeDevice {
    path: PathBuf,
}

fn write(path: &Path, content: &str) {
    fs::write(path, format!("{content}\n"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
}

fn write_channels(dir: &Path, channels: &[FakeChannel]) {
    for c in channels {
        write(
            &dir.join(format!("{}_index", c.prefix)),
            &c.index.to_string(),
        );
        write(&dir.join(format!("{}_type", c.prefix)), &c.format);
        write(
            &dir.join(format!("{}_en", c.prefix)),
            if c.enabled { "1" } else { "0" },
        );
    }
}

impl FakeDevice {
    /// The device directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the `name` file.
    pub fn name(self, name: &str) -> Self {
        write(&self.path.join("name"), name);
        self
    }

    /// Writes the `label` file.
    pub fn label(self, label: &str) -> Self {
        write(&self.path.join("label"), label);
        self
    }

    /// Writes a device attribute file.
    pub fn attr(self, attr: &str, value: &str) -> Self {
        write(&self.path.join(attr), value);
        self
    }

    /// Gives the device a device-tree node whose `compatible` is `compatible` (the file
    /// `of_node/compatible`, NUL-terminated as the kernel shows it), e.g.
    /// `adi,axi-ad9361-6.00.a` for an Analog Devices HDL core.
    pub fn of_compatible(self, compatible: &str) -> Self {
        let dir = self.path.join("of_node");
        mkdir(&dir);
        let path = dir.join("compatible");
        fs::write(&path, format!("{compatible}\0"))
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        self
    }

    /// Adds `buffer{index}/` (the per-buffer layout) with the given attribute files and
    /// channels.
    pub fn buffer(self, index: u32, attrs: &[(&str, &str)], channels: &[FakeChannel]) -> Self {
        let dir = self.path.join(format!("buffer{index}"));
        mkdir(&dir);
        for (attr, value) in attrs {
            write(&dir.join(attr), value);
        }
        write_channels(&dir, channels);
        self
    }

    /// Adds the legacy `buffer/` (attributes) and `scan_elements/` (channels) directories.
    pub fn legacy_buffer(self, attrs: &[(&str, &str)], channels: &[FakeChannel]) -> Self {
        let dir = self.path.join("buffer");
        mkdir(&dir);
        for (attr, value) in attrs {
            write(&dir.join(attr), value);
        }
        let scan = self.path.join("scan_elements");
        mkdir(&scan);
        write_channels(&scan, channels);
        self
    }
}

/// A fake register file for [`xflow`](crate::xflow): registers read as zero until a test
/// [latches](Self::latch) bits, and writing a value clears the bits it sets
/// (write-one-to-clear, like the HDL cores' status register). Clones share the registers, so
/// a test keeps one to latch events while the code under test holds another.
#[derive(Debug, Clone, Default)]
pub struct FakeRegisters {
    state: Arc<Mutex<FakeRegisterState>>,
}

#[derive(Debug, Default)]
struct FakeRegisterState {
    values: BTreeMap<u32, u32>,
    writes: Vec<(u32, u32)>,
    fail_reads: bool,
}

impl FakeRegisters {
    /// Registers that all read zero.
    pub fn new() -> FakeRegisters {
        FakeRegisters::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeRegisterState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets `bits` in the register at `address`, as the hardware latches an event.
    pub fn latch(&self, address: u32, bits: u32) {
        *self.state().values.entry(address).or_default() |= bits;
    }

    /// The register at `address` now.
    pub fn value(&self, address: u32) -> u32 {
        self.state().values.get(&address).copied().unwrap_or(0)
    }

    /// Every write so far, `(address, value)`, in order.
    pub fn writes(&self) -> Vec<(u32, u32)> {
        self.state().writes.clone()
    }

    /// Makes reads fail with `EACCES` (as debugfs does for a user who may not read it).
    pub fn fail_reads(&self, fail: bool) {
        self.state().fail_reads = fail;
    }
}

impl RegisterAccess for FakeRegisters {
    fn read(&mut self, address: u32) -> Result<u32> {
        if self.state().fail_reads {
            return Err(Error::File {
                op: "read",
                path: PathBuf::from("fake direct_reg_access"),
                errno: rustix::io::Errno::ACCESS,
                detail: String::new(),
            });
        }
        Ok(self.value(address))
    }

    fn write(&mut self, address: u32, value: u32) -> Result<()> {
        let mut state = self.state();
        state.writes.push((address, value));
        *state.values.entry(address).or_default() &= !value;
        Ok(())
    }
}

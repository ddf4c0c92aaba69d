//! Fake IIO sysfs trees, for tests and demonstrations on machines without IIO hardware.
//!
//! A [`FakeSysfs`] is a temporary directory laid out like `/sys/bus/iio/devices` (plus a
//! directory standing in for `/dev`), removed on drop. Attributes are plain files, so writes
//! by the code under test (`enable`, `length`, channel `_en` …) can be read back. A FIFO can
//! stand in for a device node: every IIO ioctl on it fails with `ENOTTY`, which is exactly
//! what a kernel without DMABUF support (or without `IIO_BUFFER_GET_FD_IOCTL`) answers, so
//! the transport choice falls back to read()/write() on it.
//!
//! A [`FakeKernel`] stands for the kernel behind such a node where the test needs more than
//! `ENOTTY`: it answers the buffer ioctls ([`crate::kernel::IioIoctls`]) like a kernel with
//! the seed's interface, mainline's, both or neither, on the fds such a kernel would serve
//! them on, and records which fd each request reached.
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

/// Which fds of a [`FakeKernel`] serve the seed's `ALLOC` and `ENQUEUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedRoute {
    /// None: a kernel without the seed.
    Absent,
    /// The device node only, for buffer0: the seed's diff (its handler is the node's
    /// `iio_device_buffer_ioctl`), on a kernel whose buffer fds have no ioctl handler.
    Node,
    /// The buffer fds only, for any buffer: a kernel that moved them there.
    BufferFd,
    /// Both.
    Both,
}

/// What a [`FakeKernel`]'s buffer fds answer to mainline's `ATTACH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mainline {
    /// No mainline interface (a kernel before 6.11).
    Absent,
    /// Attach, detach and enqueue work.
    Supported,
    /// The interface exists but attach is refused with this errno (`EPERM`: the driver's
    /// buffer has no DMABUF support).
    Refused(rustix::io::Errno),
}

/// How a [`FakeKernel`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeKernelConfig {
    /// Whether the node answers `IIO_BUFFER_GET_FD_IOCTL` (Linux 5.13+); if not, it answers
    /// `EINVAL`, as the node of a 5.10 kernel does.
    pub get_fd: bool,
    /// How many buffers the device has (`GET_FD` answers `ENODEV` beyond).
    pub buffers: u32,
    /// Where the seed's ioctls are served.
    pub seed: SeedRoute,
    /// The seed's handler refuses `ALLOC` with this errno (`EPERM`: no DMABUF support).
    pub seed_error: Option<rustix::io::Errno>,
    /// The seed's handler gives this many DMABUFs, then answers `ENOMEM`.
    pub seed_alloc_limit: Option<usize>,
    /// Mainline's interface on the buffer fds.
    pub mainline: Mainline,
}

impl Default for FakeKernelConfig {
    /// The seed's kernel: `GET_FD`, one buffer, the seed's ioctls on the node, no mainline.
    fn default() -> Self {
        FakeKernelConfig {
            get_fd: true,
            buffers: 1,
            seed: SeedRoute::Node,
            seed_error: None,
            seed_alloc_limit: None,
            mainline: Mainline::Absent,
        }
    }
}

/// Which fd a request reached, as a [`FakeKernel`] tells them apart (by device and inode, so
/// duplicates of an fd are the same fd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdRole {
    /// The device node.
    Node,
    /// The fd of buffer N that `GET_FD` handed out.
    Buffer(u32),
    /// Anything else.
    Other,
}

/// A request to a [`FakeKernel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelOp {
    /// `IIO_BUFFER_GET_FD_IOCTL` for buffer N.
    GetFd(u32),
    /// `DMA_HEAP_IOCTL_ALLOC`.
    HeapAlloc,
    /// Mainline `ATTACH`.
    Attach,
    /// Mainline `DETACH`.
    Detach,
    /// Mainline `ENQUEUE`.
    Enqueue,
    /// The seed's `ALLOC`.
    SeedAlloc,
    /// The seed's `ENQUEUE`.
    SeedEnqueue,
}

/// One request a [`FakeKernel`] received, and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCall {
    /// The request.
    pub op: KernelOp,
    /// The fd it was sent to.
    pub on: FdRole,
    /// The DMABUF it names (numbered in allocation order from 0), if any.
    pub dmabuf: Option<usize>,
    /// The `bytes_used` of an enqueue.
    pub bytes_used: Option<u64>,
    /// The answer.
    pub result: Result<(), rustix::io::Errno>,
}

#[derive(Debug, Default)]
struct KernelState {
    /// Buffer fds handed out: (dev, ino) → index.
    buffers: std::collections::HashMap<(u64, u64), u32>,
    /// DMABUFs handed out: (dev, ino) → (number, size, where the seed allocated it).
    dmabufs: std::collections::HashMap<(u64, u64), (usize, u64, Option<FdRole>)>,
    attached: std::collections::HashSet<usize>,
    /// DMABUFs the seed's handler gave.
    seed_allocated: usize,
    calls: Vec<KernelCall>,
}

/// A recording fake of the buffer ioctls ([`crate::kernel::IioIoctls`]) for a fake device
/// node: it tells the node from the buffer fds it handed out, serves each request only on
/// the fd a kernel of its [`FakeKernelConfig`] would, and answers elsewhere as that kernel
/// would — `ENODEV` from the node (what `iio_ioctl` answers when no handler takes a
/// request), `EINVAL` from a buffer fd with an ioctl handler (6.11+), `ENOTTY` from one
/// without (before 6.11). Buffer fds and DMABUFs are memfds, so they can be mapped and
/// polled like the real ones (the DMABUF ioctls on them answer `ENOTTY`: fences are then
/// "unsupported", and completion is `POLLOUT`, at once).
///
/// Give it to [`crate::sysfs::Device::open_buffer_with`] and read back [`Self::calls`].
#[derive(Debug)]
pub struct FakeKernel {
    node: (u64, u64),
    config: FakeKernelConfig,
    state: std::sync::Mutex<KernelState>,
}

/// Device and inode of an fd: what tells files apart whatever the fd number.
#[allow(clippy::unnecessary_cast)] // their types differ between architectures
fn file_id(fd: std::os::fd::BorrowedFd<'_>) -> rustix::io::Result<(u64, u64)> {
    let stat = rustix::fs::fstat(fd)?;
    Ok((stat.st_dev as u64, stat.st_ino as u64))
}

impl FakeKernel {
    /// A fake kernel for the device node at `node` (e.g. [`FakeSysfs::fifo_node`]).
    ///
    /// # Panics
    /// If `node` cannot be opened or `fstat`ed.
    pub fn new(node: &Path, config: FakeKernelConfig) -> FakeKernel {
        let fd = rustix::fs::open(
            node,
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC | rustix::fs::OFlags::NONBLOCK,
            rustix::fs::Mode::empty(),
        )
        .unwrap_or_else(|e| panic!("opening {}: {e}", node.display()));
        let node = file_id(std::os::fd::AsFd::as_fd(&fd))
            .unwrap_or_else(|e| panic!("fstat {}: {e}", node.display()));
        FakeKernel {
            node,
            config,
            state: std::sync::Mutex::new(KernelState::default()),
        }
    }

    /// Every request received so far, in order.
    pub fn calls(&self) -> Vec<KernelCall> {
        self.lock().calls.clone()
    }

    /// The requests of kind `op`, in order.
    pub fn calls_of(&self, op: KernelOp) -> Vec<KernelCall> {
        self.calls().into_iter().filter(|c| c.op == op).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KernelState> {
        // A test that panicked while holding the lock has failed already; its record is
        // still worth reading.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn role(&self, state: &KernelState, fd: std::os::fd::BorrowedFd<'_>) -> FdRole {
        match file_id(fd) {
            Ok(id) if id == self.node => FdRole::Node,
            Ok(id) => state
                .buffers
                .get(&id)
                .map_or(FdRole::Other, |&i| FdRole::Buffer(i)),
            Err(_) => FdRole::Other,
        }
    }

    /// What `role` answers to a request it has no handler for.
    fn unknown(&self, role: FdRole) -> rustix::io::Errno {
        use rustix::io::Errno;
        match role {
            FdRole::Node => Errno::NODEV,
            FdRole::Buffer(_)
                if self.config.mainline != Mainline::Absent
                    || matches!(self.config.seed, SeedRoute::BufferFd | SeedRoute::Both) =>
            {
                Errno::INVAL
            }
            FdRole::Buffer(_) | FdRole::Other => Errno::NOTTY,
        }
    }

    fn serves_seed(&self, role: FdRole) -> bool {
        matches!(
            (self.config.seed, role),
            (SeedRoute::Node | SeedRoute::Both, FdRole::Node)
                | (SeedRoute::BufferFd | SeedRoute::Both, FdRole::Buffer(_))
        )
    }

    fn dmabuf_of(
        state: &KernelState,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> Option<(usize, u64, Option<FdRole>)> {
        file_id(fd)
            .ok()
            .and_then(|id| state.dmabufs.get(&id).copied())
    }

    /// A new memfd standing for a DMABUF of `size` bytes, recorded.
    fn new_dmabuf(
        state: &mut KernelState,
        size: u64,
        seed: Option<FdRole>,
    ) -> rustix::io::Result<(std::os::fd::OwnedFd, usize)> {
        let number = state.dmabufs.len();
        let len = usize::try_from(size).map_err(|_| rustix::io::Errno::NOMEM)?;
        let fd = crate::sys::memfd(&format!("fake-dmabuf{number}"), len)
            .map_err(|e| e.errno().unwrap_or(rustix::io::Errno::NOMEM))?;
        let id = file_id(std::os::fd::AsFd::as_fd(&fd))?;
        state.dmabufs.insert(id, (number, size, seed));
        Ok((fd, number))
    }

    fn record<T>(
        state: &mut KernelState,
        op: KernelOp,
        on: FdRole,
        dmabuf: Option<usize>,
        bytes_used: Option<u64>,
        result: rustix::io::Result<T>,
    ) -> rustix::io::Result<T> {
        state.calls.push(KernelCall {
            op,
            on,
            dmabuf,
            bytes_used,
            result: result.as_ref().map(|_| ()).map_err(|&e| e),
        });
        result
    }

    fn mainline_call(
        &self,
        op: KernelOp,
        buffer: std::os::fd::BorrowedFd<'_>,
        dmabuf: std::os::fd::BorrowedFd<'_>,
        bytes_used: Option<u64>,
    ) -> rustix::io::Result<()> {
        use rustix::io::Errno;
        let mut state = self.lock();
        let on = self.role(&state, buffer);
        let known = Self::dmabuf_of(&state, dmabuf);
        let number = known.map(|(n, _, _)| n);
        let result = match (on, self.config.mainline) {
            (FdRole::Buffer(_), Mainline::Refused(errno)) => Err(errno),
            (FdRole::Buffer(_), Mainline::Supported) => match (op, known) {
                (_, None) => Err(Errno::BADF),
                (KernelOp::Attach, Some((n, _, _))) => {
                    state.attached.insert(n);
                    Ok(())
                }
                (KernelOp::Detach, Some((n, _, _))) => {
                    if state.attached.remove(&n) {
                        Ok(())
                    } else {
                        Err(Errno::NOENT)
                    }
                }
                (_, Some((n, size, _))) => {
                    let bytes = bytes_used.unwrap_or(0);
                    if !state.attached.contains(&n) {
                        Err(Errno::PERM)
                    } else if bytes == 0 || bytes > size {
                        // Mainline: 0 or more than the DMABUF is EINVAL.
                        Err(Errno::INVAL)
                    } else {
                        Ok(())
                    }
                }
            },
            (role, _) => Err(self.unknown(role)),
        };
        Self::record(&mut state, op, on, number, bytes_used, result)
    }
}

impl crate::kernel::IioIoctls for FakeKernel {
    fn buffer_get_fd(
        &self,
        node: std::os::fd::BorrowedFd<'_>,
        index: u32,
    ) -> rustix::io::Result<std::os::fd::OwnedFd> {
        use rustix::io::Errno;
        let mut state = self.lock();
        let on = self.role(&state, node);
        let result = if on != FdRole::Node {
            Err(self.unknown(on))
        } else if !self.config.get_fd {
            Err(Errno::INVAL)
        } else if index >= self.config.buffers {
            Err(Errno::NODEV)
        } else {
            crate::sys::memfd(&format!("fake-iio-buffer{index}"), 0)
                .map_err(|e| e.errno().unwrap_or(Errno::NOMEM))
                .and_then(|fd| {
                    let id = file_id(std::os::fd::AsFd::as_fd(&fd))?;
                    Ok((fd, id))
                })
                .map(|(fd, id)| {
                    state.buffers.insert(id, index);
                    fd
                })
        };
        Self::record(&mut state, KernelOp::GetFd(index), on, None, None, result)
    }

    fn dma_heap_alloc(
        &self,
        heap: std::os::fd::BorrowedFd<'_>,
        len: u64,
    ) -> rustix::io::Result<std::os::fd::OwnedFd> {
        let mut state = self.lock();
        let on = self.role(&state, heap);
        let result = Self::new_dmabuf(&mut state, len, None);
        let number = result.as_ref().ok().map(|&(_, n)| n);
        let result = result.map(|(fd, _)| fd);
        Self::record(&mut state, KernelOp::HeapAlloc, on, number, None, result)
    }

    fn dmabuf_attach(
        &self,
        buffer: std::os::fd::BorrowedFd<'_>,
        dmabuf: std::os::fd::BorrowedFd<'_>,
    ) -> rustix::io::Result<()> {
        self.mainline_call(KernelOp::Attach, buffer, dmabuf, None)
    }

    fn dmabuf_detach(
        &self,
        buffer: std::os::fd::BorrowedFd<'_>,
        dmabuf: std::os::fd::BorrowedFd<'_>,
    ) -> rustix::io::Result<()> {
        self.mainline_call(KernelOp::Detach, buffer, dmabuf, None)
    }

    fn dmabuf_enqueue(
        &self,
        buffer: std::os::fd::BorrowedFd<'_>,
        dmabuf: std::os::fd::BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()> {
        self.mainline_call(KernelOp::Enqueue, buffer, dmabuf, Some(bytes_used))
    }

    fn seed_alloc(
        &self,
        fd: std::os::fd::BorrowedFd<'_>,
        size: u64,
    ) -> rustix::io::Result<std::os::fd::OwnedFd> {
        let mut state = self.lock();
        let on = self.role(&state, fd);
        let result = if !self.serves_seed(on) {
            Err(self.unknown(on))
        } else if let Some(errno) = self.config.seed_error {
            Err(errno)
        } else if self
            .config
            .seed_alloc_limit
            .is_some_and(|limit| state.seed_allocated >= limit)
        {
            Err(rustix::io::Errno::NOMEM)
        } else {
            state.seed_allocated += 1;
            Self::new_dmabuf(&mut state, size, Some(on))
        };
        let number = result.as_ref().ok().map(|&(_, n)| n);
        let result = result.map(|(fd, _)| fd);
        Self::record(&mut state, KernelOp::SeedAlloc, on, number, None, result)
    }

    fn seed_enqueue(
        &self,
        fd: std::os::fd::BorrowedFd<'_>,
        dmabuf: std::os::fd::BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()> {
        use rustix::io::Errno;
        let mut state = self.lock();
        let on = self.role(&state, fd);
        let known = Self::dmabuf_of(&state, dmabuf);
        let result = if !self.serves_seed(on) {
            Err(self.unknown(on))
        } else {
            match known {
                // Only DMABUFs this buffer allocated, through this fd.
                Some((_, size, Some(origin))) if origin == on => {
                    if bytes_used > size {
                        Err(Errno::INVAL)
                    } else {
                        Ok(())
                    }
                }
                _ => Err(Errno::INVAL),
            }
        };
        Self::record(
            &mut state,
            KernelOp::SeedEnqueue,
            on,
            known.map(|(n, _, _)| n),
            Some(bytes_used),
            result,
        )
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

//! The only module with `unsafe` code: memory mappings, ioctls, and file descriptors the
//! kernel hands back.
//!
//! Everything else in the crate talks to the kernel through safe `rustix` calls. Mapping a
//! file descriptor and issuing a driver-specific ioctl cannot be expressed safely, so they
//! live here, small enough to audit in one sitting: [`MappedRegion`], [`memfd`], and the
//! ioctl wrappers of [`ioctl`] (IIO buffers, DMABUF, dma-heap, udmabuf, sync files), each of
//! which returns owned descriptors (`OwnedFd`) so that nothing leaks on any path.
//!
//! # Memory shared with a device
//!
//! A [`MappedRegion`] of a DMABUF (or of the simulator's memfd) is memory that a DMA engine
//! (or the simulator's producer thread, through a second mapping) writes while the CPU side
//! holds a `&[u8]` of it. The transports' ownership protocol is what keeps this orderly: the
//! CPU reads a block only between its completion and its requeue, and the hardware writes it
//! only between its enqueue and its completion. A reader that breaks the protocol (keeps
//! reading a block after giving it back) sees the hardware's new data, possibly torn — exactly
//! as with any DMA buffer — but never memory outside the mapping: the mapping stays valid for
//! as long as the `MappedRegion` lives, whatever the hardware does.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;

use rustix::fs::{FileType, MemfdFlags, Mode, OFlags, SealFlags};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use crate::error::{Error, Result};

/// A `mmap(MAP_SHARED)` of a file descriptor, unmapped on drop.
///
/// It is shared (not private) so that the CPU sees what the device writes and the device sees
/// what the CPU writes. The mapping keeps the underlying memory alive on its own: the file
/// descriptor may be closed once it is mapped.
#[derive(Debug)]
pub struct MappedRegion {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: a MappedRegion owns its mapping the way a Box<[u8]> owns its allocation: the address
// range stays valid until Drop, no thread-local state is involved (mappings belong to the
// process), shared access (&self) only hands out `&[u8]`, and mutable access requires
// `&mut self`. Moving it to or sharing it with another thread is therefore as sound as for a
// Box<[u8]>. Concurrent writes by a device are covered by the module documentation.
unsafe impl Send for MappedRegion {}
// SAFETY: see `Send` above; `&MappedRegion` only permits reads of the mapped bytes.
unsafe impl Sync for MappedRegion {}

impl MappedRegion {
    /// Maps the first `len` bytes of `fd` for reading (`PROT_READ`, `MAP_SHARED`).
    ///
    /// The file behind `fd` must stay at least `len` bytes long while mapped: touching a page
    /// past the end of a file raises `SIGBUS`. A regular file (or memfd) shorter than `len` is
    /// refused here with `EINVAL`; [`memfd`] seals its files so that they cannot shrink later.
    pub fn map_read_only(fd: BorrowedFd<'_>, len: usize) -> Result<Self> {
        Self::map(fd, len, false)
    }

    /// Maps the first `len` bytes of `fd` for reading and writing
    /// (`PROT_READ | PROT_WRITE`, `MAP_SHARED`). Same length rule as [`Self::map_read_only`].
    pub fn map_read_write(fd: BorrowedFd<'_>, len: usize) -> Result<Self> {
        Self::map(fd, len, true)
    }

    fn map(fd: BorrowedFd<'_>, len: usize, writable: bool) -> Result<Self> {
        let device = || format!("fd {}", fd.as_raw_fd());
        if len == 0 {
            return Err(Error::os_detail(
                "mmap",
                device(),
                Errno::INVAL,
                "cannot map zero bytes",
            ));
        }
        // Catch the SIGBUS trap up front for files whose size we can see. DMABUFs are not
        // regular files; the kernel itself refuses to map past their end.
        let stat = rustix::fs::fstat(fd).map_err(|e| Error::os("fstat", device(), e))?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
            && u64::try_from(stat.st_size).unwrap_or(0) < len as u64
        {
            return Err(Error::os_detail(
                "mmap",
                device(),
                Errno::INVAL,
                format!("file has {} bytes, cannot map {len}", stat.st_size),
            ));
        }
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: the address hint is null and MAP_FIXED is not used, so the kernel picks an
        // unused address range and no existing memory (Rust object or other mapping) is
        // replaced. `fd` is a live descriptor for the duration of the call (it is borrowed).
        let addr =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }
                .map_err(|e| Error::os("mmap", device(), e))?;
        // A successful mmap without MAP_FIXED never returns address 0 (mmap_min_addr), but
        // keep the type honest instead of assuming it.
        let Some(ptr) = NonNull::new(addr.cast::<u8>()) else {
            return Err(Error::os_detail(
                "mmap",
                device(),
                Errno::NOMEM,
                "kernel returned a null mapping",
            ));
        };
        Ok(MappedRegion { ptr, len, writable })
    }

    /// The mapped bytes.
    ///
    /// For memory shared with a device the contents change when the device writes; read a
    /// block only while the transport says it belongs to the CPU (see the module
    /// documentation).
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is the start of a live mapping of `len` bytes that is readable
        // (PROT_READ is always set) and is only unmapped in Drop, which cannot run while this
        // borrow of `self` exists. `len` fits in isize because the kernel mapped it. u8 has no
        // alignment or validity requirements, so any bytes are a valid `[u8]`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable; an **empty slice for a read-only mapping**.
    ///
    /// Returning an empty slice instead of panicking keeps every caller panic-free; writing
    /// through a read-only mapping would otherwise be a `SIGSEGV`. Check
    /// [`Self::is_writable`] when in doubt.
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        if !self.writable {
            return &mut [];
        }
        // SAFETY: as in `as_bytes`, plus: the mapping is writable (PROT_WRITE was set in
        // `map_read_write`), and `&mut self` guarantees that no other slice obtained from this
        // region is alive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Start address of the mapping (to compare mappings, or hand to code that needs a
    /// pointer). Valid for [`Self::len`] bytes while `self` lives.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never true: zero-length mappings are refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the mapping was made with [`Self::map_read_write`].
    pub fn is_writable(&self) -> bool {
        self.writable
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping created in `map`, it has not been
        // unmapped before (Drop runs once), and every slice handed out borrowed `self`, so
        // none can outlive this point.
        let result = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
        if let Err(e) = result {
            // munmap of a valid mapping does not fail; if it ever does, the only cost is
            // address space, so report and carry on rather than panic in Drop.
            tracing::error!("munmap of {} bytes failed: {e}", self.len);
        }
    }
}

/// Creates an anonymous shared-memory file of `size` bytes (`memfd_create` with `CLOEXEC`,
/// then `ftruncate`).
///
/// The file is sealed against shrinking and growing: a mapping of it can then never run past
/// its end (which would be a `SIGBUS`), and a memfd sealed this way (`F_SEAL_SHRINK`, without
/// `F_SEAL_WRITE`) is what `udmabuf` accepts to turn it into a DMABUF. `name` shows up in
/// `/proc/<pid>/maps` as `/memfd:<name>`.
pub fn memfd(name: &str, size: usize) -> Result<OwnedFd> {
    let device = || format!("memfd {name}");
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(|e| Error::os("memfd_create", device(), e))?;
    rustix::fs::ftruncate(&fd, size as u64).map_err(|e| Error::os("ftruncate", device(), e))?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW)
        .map_err(|e| Error::os("fcntl(F_ADD_SEALS)", device(), e))?;
    Ok(fd)
}

/// Opens the device file `path` read-write and close-on-exec; a failure is an
/// [`Error::File`] (`open`) naming the path.
pub(crate) fn open_rw(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(|errno| {
        Error::File {
            op: "open",
            path: path.to_path_buf(),
            errno,
            detail: String::new(),
        }
    })
}

/// The kernel's ioctl interfaces used by the transports: request numbers, argument structs
/// (laid out exactly as the kernel's `struct`s, `#[repr(C)]`) and safe wrappers.
///
/// Each wrapper returns the raw [`Errno`] so that the caller can name the device it was
/// working on; descriptors the kernel creates come back as [`OwnedFd`], closed on drop.
pub mod ioctl {
    use std::ffi::{c_int, c_void};
    use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

    use rustix::io::{Errno, FdFlags};
    use rustix::ioctl::{Ioctl, IoctlOutput, Opcode, Setter, Updater, opcode};

    /// `struct iio_dmabuf` (mainline and the seed): one DMABUF transfer.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct IioDmabuf {
        /// The DMABUF's file descriptor.
        pub fd: u32,
        /// `IIO_BUFFER_DMABUF_*` flags (mainline: `CYCLIC` = 1; the seed: none).
        pub flags: u32,
        /// Bytes to transfer (the seed: 0 = the whole buffer).
        pub bytes_used: u64,
    }

    /// `struct iio_dmabuf_alloc_req` (the seed): asks IIO to allocate a DMABUF.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct IioDmabufAllocReq {
        /// Size of the DMABUF in bytes.
        pub size: u64,
        /// Reserved, must be 0 (`EINVAL` otherwise).
        pub resv: u64,
    }

    /// `struct dma_heap_allocation_data` (`linux/dma-heap.h`).
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct DmaHeapAllocationData {
        /// Size to allocate.
        pub len: u64,
        /// Out: the new DMABUF's fd.
        pub fd: u32,
        /// Flags of the new fd (`O_RDWR | O_CLOEXEC`).
        pub fd_flags: u32,
        /// Heap flags (none defined).
        pub heap_flags: u64,
    }

    /// `struct udmabuf_create` (`linux/udmabuf.h`).
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct UdmabufCreate {
        /// The memfd to wrap (sealed with `F_SEAL_SHRINK`, without `F_SEAL_WRITE`).
        pub memfd: u32,
        /// `UDMABUF_FLAGS_CLOEXEC` = 1.
        pub flags: u32,
        /// Page-aligned offset in the memfd.
        pub offset: u64,
        /// Page-aligned size.
        pub size: u64,
    }

    /// `struct dma_buf_sync` (`linux/dma-buf.h`).
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct DmaBufSync {
        /// `DMA_BUF_SYNC_*` flags.
        pub flags: u64,
    }

    /// `struct dma_buf_export_sync_file` (`linux/dma-buf.h`, Linux 6.0+).
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct DmaBufExportSyncFile {
        /// Which fences: `DMA_BUF_SYNC_READ`, `_WRITE` or both.
        pub flags: u32,
        /// Out: the sync file's fd.
        pub fd: i32,
    }

    /// `struct sync_file_info` (`linux/sync_file.h`).
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct SyncFileInfo {
        /// Name of the sync file.
        pub name: [u8; 32],
        /// Out: 1 signalled, 0 active, negative errno: signalled with an error.
        pub status: i32,
        /// Must be 0.
        pub flags: u32,
        /// In: capacity of `sync_fence_info` (0: only the status); out: number of fences.
        pub num_fences: u32,
        /// Must be 0.
        pub pad: u32,
        /// Pointer to an array of `num_fences` [`SyncFenceInfo`] (as a user pointer, `u64`).
        pub sync_fence_info: u64,
    }

    /// `struct sync_fence_info` (`linux/sync_file.h`): one fence of a sync file, as
    /// `SYNC_IOC_FILE_INFO` fills it (`drivers/dma-buf/sync_file.c`, `sync_fill_fence_info`:
    /// the fence's `get_timeline_name` and `get_driver_name`, its status and timestamp).
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct SyncFenceInfo {
        /// The fence's timeline name (`dma_fence_ops.get_timeline_name`), NUL-terminated.
        pub obj_name: [u8; 32],
        /// The fence's driver name (`dma_fence_ops.get_driver_name`), NUL-terminated.
        pub driver_name: [u8; 32],
        /// 1 signalled, 0 active, negative errno: signalled with an error.
        pub status: i32,
        /// Fence flags (none are reported today).
        pub flags: u32,
        /// When it signalled (`CLOCK_MONOTONIC`, ns); 0 while active.
        pub timestamp_ns: u64,
    }

    impl SyncFenceInfo {
        /// The driver name, up to its NUL (lossy UTF-8).
        pub fn driver(&self) -> String {
            c_name(&self.driver_name)
        }

        /// The timeline name, up to its NUL (lossy UTF-8).
        pub fn timeline(&self) -> String {
            c_name(&self.obj_name)
        }

        /// Whether this is the kernel's stub fence: driver and timeline name both
        /// [`STUB_FENCE_NAME`]. Both names are compared, as the kernel defines both for the
        /// stub (and a driver called "stub" would still need a timeline of that name).
        pub fn is_stub(&self) -> bool {
            name_is(&self.driver_name, STUB_FENCE_NAME) && name_is(&self.obj_name, STUB_FENCE_NAME)
        }
    }

    /// The driver and timeline name of the kernel's stub fence.
    ///
    /// `drivers/dma-buf/dma-fence.c`: `dma_fence_stub_ops` answers both `get_driver_name` and
    /// `get_timeline_name` with `dma_fence_stub_get_name`, which returns `"stub"`; the same
    /// ops serve `dma_fence_get_stub` (the shared, already-signalled stub) and
    /// `dma_fence_allocate_private_stub`. `drivers/dma-buf/dma-buf.c`,
    /// `dma_buf_export_sync_file`: when `dma_resv_get_singleton` finds no fence — and the
    /// resv iterator it uses (`dma-resv.c`, `dma_resv_iter_walk_unlocked`) skips fences that
    /// have signalled — the export wraps `dma_fence_get_stub()` instead. The stub is
    /// signalled without error, so its status always reads 1, whatever became of the
    /// transfer that had been there.
    pub const STUB_FENCE_NAME: &str = "stub";

    /// The most fences [`sync_file_state`] reads the names of. A sync file exported from a
    /// weir DMABUF holds one fence (the transfer's, or the stub); the stub is never part of a
    /// larger set (`dma_buf_export_sync_file` only uses it when there is no fence at all), so
    /// a sync file with more fences than this is classified without reading them.
    pub const MAX_FENCE_INFOS: u32 = 64;

    /// What `SYNC_IOC_FILE_INFO` says about a sync file.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SyncFileState {
        /// 1 signalled, 0 active, negative errno: signalled with an error (the first error
        /// among its fences, as the kernel combines them).
        pub status: i32,
        /// How many fences it holds (a fence array or chain counts as its members).
        pub num_fences: u32,
        /// It holds the kernel's stub fence and nothing else: its status says nothing about
        /// any transfer (see [`STUB_FENCE_NAME`]).
        pub only_stub: bool,
        /// When it signalled without error: the latest of its fences' signal times
        /// (`CLOCK_MONOTONIC` ns, the kernel's `dma_fence` timestamp, taken by the driver's
        /// completion as it signals). `None` while active, after an error, for the stub (its
        /// time is the kernel's boot, not a transfer's) and when not every fence was read.
        pub signalled_ns: Option<u64>,
    }

    impl SyncFileState {
        /// Classifies the answer of `SYNC_IOC_FILE_INFO`: `info` as the kernel returned it and
        /// `fences`, the entries it filled (the first `info.num_fences`; may be empty when
        /// they were not read). Pure, so that the rule can be tested without a kernel.
        ///
        /// `only_stub` needs at least one fence, every one of them the stub, and every one of
        /// them read: a sync file whose fences were not all read is not called a stub.
        pub fn classify(info: &SyncFileInfo, fences: &[SyncFenceInfo]) -> SyncFileState {
            let read = fences.len().min(info.num_fences as usize);
            let fences = &fences[..read];
            let all_read = info.num_fences > 0 && fences.len() == info.num_fences as usize;
            let only_stub = all_read && fences.iter().all(SyncFenceInfo::is_stub);
            let signalled_ns = (all_read && !only_stub && info.status == 1)
                .then(|| fences.iter().map(|f| f.timestamp_ns).max())
                .flatten()
                .filter(|&t| t > 0);
            SyncFileState {
                status: info.status,
                num_fences: info.num_fences,
                only_stub,
                signalled_ns,
            }
        }
    }

    /// A NUL-terminated name from a fixed-size kernel array (no NUL: the whole array).
    fn c_name(bytes: &[u8]) -> String {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    fn name_is(bytes: &[u8], name: &str) -> bool {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        &bytes[..end] == name.as_bytes()
    }

    /// `IIO_BUFFER_GET_FD_IOCTL` = `_IOWR('i', 0x91, int)`.
    pub const IIO_BUFFER_GET_FD: Opcode = opcode::read_write::<c_int>(b'i', 0x91);
    /// Mainline `IIO_BUFFER_DMABUF_ATTACH_IOCTL` = `_IOW('i', 0x92, int)`.
    pub const IIO_BUFFER_DMABUF_ATTACH: Opcode = opcode::write::<c_int>(b'i', 0x92);
    /// Mainline `IIO_BUFFER_DMABUF_DETACH_IOCTL` = `_IOW('i', 0x93, int)`.
    pub const IIO_BUFFER_DMABUF_DETACH: Opcode = opcode::write::<c_int>(b'i', 0x93);
    /// Mainline `IIO_BUFFER_DMABUF_ENQUEUE_IOCTL` = `_IOW('i', 0x94, struct iio_dmabuf)`.
    pub const IIO_BUFFER_DMABUF_ENQUEUE: Opcode = opcode::write::<IioDmabuf>(b'i', 0x94);
    /// The seed's `IIO_BUFFER_DMABUF_ALLOC_IOCTL` = `_IOW('i', 0x92, struct iio_dmabuf_alloc_req)`.
    pub const SEED_DMABUF_ALLOC: Opcode = opcode::write::<IioDmabufAllocReq>(b'i', 0x92);
    /// The seed's `IIO_BUFFER_DMABUF_ENQUEUE_IOCTL` = `_IOW('i', 0x93, struct iio_dmabuf)`.
    pub const SEED_DMABUF_ENQUEUE: Opcode = opcode::write::<IioDmabuf>(b'i', 0x93);
    /// `DMA_HEAP_IOCTL_ALLOC` = `_IOWR('H', 0x0, struct dma_heap_allocation_data)`.
    pub const DMA_HEAP_IOCTL_ALLOC: Opcode = opcode::read_write::<DmaHeapAllocationData>(b'H', 0x0);
    /// `UDMABUF_CREATE` = `_IOW('u', 0x42, struct udmabuf_create)`.
    pub const UDMABUF_CREATE: Opcode = opcode::write::<UdmabufCreate>(b'u', 0x42);
    /// `DMA_BUF_IOCTL_SYNC` = `_IOW('b', 0, struct dma_buf_sync)`.
    pub const DMA_BUF_IOCTL_SYNC: Opcode = opcode::write::<DmaBufSync>(b'b', 0);
    /// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` = `_IOWR('b', 2, struct dma_buf_export_sync_file)`.
    pub const DMA_BUF_IOCTL_EXPORT_SYNC_FILE: Opcode =
        opcode::read_write::<DmaBufExportSyncFile>(b'b', 2);
    /// `SYNC_IOC_FILE_INFO` = `_IOWR('>', 4, struct sync_file_info)`.
    pub const SYNC_IOC_FILE_INFO: Opcode = opcode::read_write::<SyncFileInfo>(b'>', 4);

    /// `DMA_BUF_SYNC_READ`
    pub const DMA_BUF_SYNC_READ: u64 = 1;
    /// `DMA_BUF_SYNC_WRITE`
    pub const DMA_BUF_SYNC_WRITE: u64 = 2;
    /// `DMA_BUF_SYNC_START`
    pub const DMA_BUF_SYNC_START: u64 = 0;
    /// `DMA_BUF_SYNC_END`
    pub const DMA_BUF_SYNC_END: u64 = 4;
    /// `UDMABUF_FLAGS_CLOEXEC`
    pub const UDMABUF_FLAGS_CLOEXEC: u32 = 1;

    /// An ioctl that passes a struct by pointer (read by the kernel only) and returns a new
    /// file descriptor as the ioctl's return value (the seed's `ALLOC`, `UDMABUF_CREATE`).
    /// rustix's `Setter` discards the return value, hence this small pattern of our own.
    struct FdReturningSetter<const OPCODE: Opcode, Input> {
        input: Input,
    }

    // SAFETY: `as_ptr` points at `input`, a `#[repr(C)]` struct matching the kernel's argument
    // type for OPCODE (each use below pairs an opcode with its uapi struct, and the opcodes
    // encode that struct's size); the kernel only reads it (`_IOW`), so IS_MUTATING is
    // false. On success the return value of these ioctls is a file descriptor newly installed
    // in our table that nothing else owns, so `output_from_ptr` may take ownership of it.
    unsafe impl<const OPCODE: Opcode, Input> Ioctl for FdReturningSetter<OPCODE, Input> {
        type Output = OwnedFd;
        const IS_MUTATING: bool = false;

        fn opcode(&self) -> Opcode {
            OPCODE
        }

        fn as_ptr(&mut self) -> *mut c_void {
            (&raw mut self.input).cast()
        }

        unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<OwnedFd> {
            if out < 0 {
                // rustix turns negative returns into errors before this point.
                return Err(Errno::INVAL);
            }
            // SAFETY: see the impl: `out` is a fresh descriptor owned by nobody else.
            Ok(unsafe { OwnedFd::from_raw_fd(out) })
        }
    }

    /// Takes ownership of a descriptor the kernel wrote into an ioctl argument.
    ///
    /// # Safety
    /// `fd` must be a descriptor the kernel just installed for us and that nothing else owns.
    unsafe fn take_fd(fd: c_int) -> rustix::io::Result<OwnedFd> {
        if fd < 0 {
            return Err(Errno::BADF);
        }
        // SAFETY: guaranteed by the caller.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// `IIO_BUFFER_GET_FD_IOCTL` on a device node (`/dev/iio:deviceN`): the fd of buffer
    /// `index` (Linux 5.13+). `ENODEV` for an unknown index, `EBUSY` if it is in use;
    /// `EINVAL`/`ENOTTY` on older kernels.
    pub fn iio_buffer_get_fd(device: BorrowedFd<'_>, index: u32) -> rustix::io::Result<OwnedFd> {
        let mut value = c_int::try_from(index).map_err(|_| Errno::INVAL)?;
        // SAFETY: GET_FD is `_IOWR('i', 0x91, int)`: the kernel reads the buffer index from
        // the `int` and writes the new fd back into it; `value` is a live `c_int`.
        unsafe {
            rustix::ioctl::ioctl(device, Updater::<IIO_BUFFER_GET_FD, c_int>::new(&mut value))?;
        }
        // SAFETY: on success the kernel installed a new fd (`anon_inode_getfd`) and wrote
        // it into `value`; nothing else owns it.
        unsafe { take_fd(value) }
    }

    /// Mainline `ATTACH`: imports `dmabuf` into the IIO buffer behind `buffer`.
    pub fn iio_dmabuf_attach(
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
    ) -> rustix::io::Result<()> {
        let fd: c_int = std::os::fd::AsRawFd::as_raw_fd(&dmabuf);
        // SAFETY: ATTACH is `_IOW('i', 0x92, int)`: the kernel reads one `int` (the DMABUF
        // fd) through the pointer, which Setter points at its owned `c_int`.
        unsafe { rustix::ioctl::ioctl(buffer, Setter::<IIO_BUFFER_DMABUF_ATTACH, c_int>::new(fd)) }
    }

    /// Mainline `DETACH`.
    pub fn iio_dmabuf_detach(
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
    ) -> rustix::io::Result<()> {
        let fd: c_int = std::os::fd::AsRawFd::as_raw_fd(&dmabuf);
        // SAFETY: DETACH is `_IOW('i', 0x93, int)`, same argument as ATTACH.
        unsafe { rustix::ioctl::ioctl(buffer, Setter::<IIO_BUFFER_DMABUF_DETACH, c_int>::new(fd)) }
    }

    fn iio_dmabuf(dmabuf: BorrowedFd<'_>, bytes_used: u64) -> rustix::io::Result<IioDmabuf> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&dmabuf);
        Ok(IioDmabuf {
            fd: u32::try_from(fd).map_err(|_| Errno::BADF)?,
            flags: 0,
            bytes_used,
        })
    }

    /// Mainline `ENQUEUE` of `bytes_used` bytes of an attached `dmabuf` (no flags).
    pub fn iio_dmabuf_enqueue(
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()> {
        let arg = iio_dmabuf(dmabuf, bytes_used)?;
        // SAFETY: mainline ENQUEUE is `_IOW('i', 0x94, struct iio_dmabuf)`; `IioDmabuf` is
        // its `#[repr(C)]` twin (16 bytes, checked by a test) and is only read.
        unsafe {
            rustix::ioctl::ioctl(
                buffer,
                Setter::<IIO_BUFFER_DMABUF_ENQUEUE, IioDmabuf>::new(arg),
            )
        }
    }

    /// The seed's `ALLOC`: IIO allocates a DMABUF of `size` bytes. The fd is made
    /// close-on-exec (the patch does not say which flags the kernel uses).
    pub fn seed_dmabuf_alloc(buffer: BorrowedFd<'_>, size: u64) -> rustix::io::Result<OwnedFd> {
        seed_dmabuf_alloc_req(buffer, IioDmabufAllocReq { size, resv: 0 })
    }

    /// The seed's `ENQUEUE` (`bytes_used` 0 means the whole DMABUF).
    pub fn seed_dmabuf_enqueue(
        buffer: BorrowedFd<'_>,
        dmabuf: BorrowedFd<'_>,
        bytes_used: u64,
    ) -> rustix::io::Result<()> {
        seed_dmabuf_enqueue_raw(buffer, iio_dmabuf(dmabuf, bytes_used)?)
    }

    /// The seed's `ALLOC` with the request exactly as given, `resv` included: for tests of
    /// the kernel's own checks (`resv` ≠ 0 is `EINVAL`). [`seed_dmabuf_alloc`] is the one to use.
    pub fn seed_dmabuf_alloc_req(
        buffer: BorrowedFd<'_>,
        req: IioDmabufAllocReq,
    ) -> rustix::io::Result<OwnedFd> {
        // SAFETY: the seed's ALLOC is `_IOW('i', 0x92, struct iio_dmabuf_alloc_req)`, read
        // by the kernel; it returns the new DMABUF fd as the ioctl's value.
        let fd = unsafe {
            rustix::ioctl::ioctl(
                buffer,
                FdReturningSetter::<SEED_DMABUF_ALLOC, IioDmabufAllocReq> { input: req },
            )
        }?;
        rustix::io::fcntl_setfd(&fd, FdFlags::CLOEXEC)?;
        Ok(fd)
    }

    /// The seed's `ENQUEUE` with the descriptor exactly as given, `flags` included: for tests
    /// of the kernel's own checks (the seed defines no flag: any is `EINVAL`).
    /// [`seed_dmabuf_enqueue`] is the one to use.
    pub fn seed_dmabuf_enqueue_raw(
        buffer: BorrowedFd<'_>,
        arg: IioDmabuf,
    ) -> rustix::io::Result<()> {
        // SAFETY: the seed's ENQUEUE is `_IOW('i', 0x93, struct iio_dmabuf)`, read only; the
        // fd in it is only a number to the kernel (an invalid one is its EBADF).
        unsafe { rustix::ioctl::ioctl(buffer, Setter::<SEED_DMABUF_ENQUEUE, IioDmabuf>::new(arg)) }
    }

    /// `DMA_HEAP_IOCTL_ALLOC` on an open heap (`/dev/dma_heap/system`): a DMABUF of `len`
    /// bytes, `O_RDWR | O_CLOEXEC`.
    pub fn dma_heap_alloc(heap: BorrowedFd<'_>, len: u64) -> rustix::io::Result<OwnedFd> {
        let mut data = DmaHeapAllocationData {
            len,
            fd: 0,
            fd_flags: (rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC).bits(),
            heap_flags: 0,
        };
        // SAFETY: `_IOWR('H', 0, struct dma_heap_allocation_data)`: the kernel reads `len`
        // and the flags and writes the new fd into `data.fd`; `data` is a live struct of the
        // right layout.
        unsafe {
            rustix::ioctl::ioctl(
                heap,
                Updater::<DMA_HEAP_IOCTL_ALLOC, DmaHeapAllocationData>::new(&mut data),
            )?;
        }
        let fd = c_int::try_from(data.fd).map_err(|_| Errno::BADF)?;
        // SAFETY: on success `data.fd` is a DMABUF fd the kernel just installed for us.
        unsafe { take_fd(fd) }
    }

    /// `UDMABUF_CREATE` on `/dev/udmabuf`: wraps the first `size` bytes of `memfd` in a
    /// DMABUF (close-on-exec). `size` must be page-aligned.
    pub fn udmabuf_create(
        udmabuf: BorrowedFd<'_>,
        memfd: BorrowedFd<'_>,
        size: u64,
    ) -> rustix::io::Result<OwnedFd> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&memfd);
        let req = UdmabufCreate {
            memfd: u32::try_from(fd).map_err(|_| Errno::BADF)?,
            flags: UDMABUF_FLAGS_CLOEXEC,
            offset: 0,
            size,
        };
        // SAFETY: `_IOW('u', 0x42, struct udmabuf_create)`, read by the kernel, which returns
        // the new DMABUF fd as the ioctl's value.
        unsafe {
            rustix::ioctl::ioctl(
                udmabuf,
                FdReturningSetter::<UDMABUF_CREATE, UdmabufCreate> { input: req },
            )
        }
    }

    /// `DMA_BUF_IOCTL_SYNC` with `flags` (`START`/`END` | `READ`/`WRITE`), retried when
    /// interrupted (`EINTR`, `EAGAIN`), as the kernel documentation asks.
    pub fn dma_buf_sync(dmabuf: BorrowedFd<'_>, flags: u64) -> rustix::io::Result<()> {
        loop {
            // SAFETY: `_IOW('b', 0, struct dma_buf_sync)`; `DmaBufSync` is the one-u64 struct,
            // read by the kernel.
            let result = unsafe {
                rustix::ioctl::ioctl(
                    dmabuf,
                    Setter::<DMA_BUF_IOCTL_SYNC, DmaBufSync>::new(DmaBufSync { flags }),
                )
            };
            match result {
                Err(Errno::INTR | Errno::AGAIN) => continue,
                other => return other,
            }
        }
    }

    /// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`: a sync file holding the DMABUF's *unsignalled*
    /// fences (`flags` = `DMA_BUF_SYNC_WRITE`: all of them). Once a fence has signalled it is
    /// no longer exported (a stub, always successful, takes its place), so this must be
    /// called while the transfer is in flight to learn its status later.
    ///
    /// `flags` are the `DMA_BUF_SYNC_*` bits (64-bit, as `DMA_BUF_IOCTL_SYNC` takes them);
    /// this ioctl's field is 32-bit, so larger flags are `EINVAL`, as the kernel would say.
    pub fn dma_buf_export_sync_file(
        dmabuf: BorrowedFd<'_>,
        flags: u64,
    ) -> rustix::io::Result<OwnedFd> {
        let flags = u32::try_from(flags).map_err(|_| Errno::INVAL)?;
        let mut arg = DmaBufExportSyncFile { flags, fd: -1 };
        // SAFETY: `_IOWR('b', 2, struct dma_buf_export_sync_file)`: the kernel reads `flags`
        // and writes the new fd into `arg.fd`.
        unsafe {
            rustix::ioctl::ioctl(
                dmabuf,
                Updater::<DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DmaBufExportSyncFile>::new(&mut arg),
            )?;
        }
        // SAFETY: on success `arg.fd` is a sync file the kernel just installed for us.
        unsafe { take_fd(arg.fd) }
    }

    /// `SYNC_IOC_FILE_INFO`: the sync file's status and whether it holds only the kernel's
    /// stub fence ([`SyncFileState`]).
    ///
    /// Two calls (`drivers/dma-buf/sync_file.c`, `sync_file_ioctl_fence_info`): the first with
    /// `num_fences` = 0, which only counts the fences (the kernel then neither reads nor
    /// writes the array); the second with an array of exactly that many entries, which the
    /// kernel fills (it refuses with `EINVAL` an array smaller than the count, and copies out
    /// `count × sizeof(struct sync_fence_info)` bytes). The fences of a sync file are fixed
    /// when it is created, so the count cannot change in between. More than
    /// [`MAX_FENCE_INFOS`] fences: the first answer is classified as is (not a stub).
    pub fn sync_file_state(sync_file: BorrowedFd<'_>) -> rustix::io::Result<SyncFileState> {
        let mut info = SyncFileInfo::default();
        // SAFETY: `_IOWR('>', 4, struct sync_file_info)`; `SyncFileInfo` is its `#[repr(C)]`
        // twin (56 bytes, checked by a test). With `num_fences` = 0 the kernel does not
        // follow `sync_fence_info` and only writes `info` itself.
        unsafe {
            rustix::ioctl::ioctl(
                sync_file,
                Updater::<SYNC_IOC_FILE_INFO, SyncFileInfo>::new(&mut info),
            )?;
        }
        let count = info.num_fences;
        if count == 0 || count > MAX_FENCE_INFOS {
            return Ok(SyncFileState::classify(&info, &[]));
        }
        let mut fences = vec![SyncFenceInfo::default(); count as usize];
        let mut info = SyncFileInfo {
            num_fences: count,
            sync_fence_info: fences.as_mut_ptr() as u64,
            ..SyncFileInfo::default()
        };
        // SAFETY: as above; now `sync_fence_info` points at `fences`, a live, writable array
        // of `count` `#[repr(C)]` twins of `struct sync_fence_info` (80 bytes each, checked by
        // a test), and `num_fences` says so. The kernel writes at most its own fence count of
        // entries, and refuses (`EINVAL`) before writing anything if that exceeds `count`.
        // `fences` is neither moved nor dropped until the call has returned.
        unsafe {
            rustix::ioctl::ioctl(
                sync_file,
                Updater::<SYNC_IOC_FILE_INFO, SyncFileInfo>::new(&mut info),
            )?;
        }
        Ok(SyncFileState::classify(&info, &fences))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::os::fd::AsFd;

        /// `_IOC(dir, type, nr, size)` as the generic Linux headers define it:
        /// dir << 30 | size << 16 | type << 8 | nr, with _IOC_WRITE = 1, _IOC_READ = 2.
        fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u64 {
            (u64::from(dir) << 30) | ((size as u64) << 16) | (u64::from(ty) << 8) | u64::from(nr)
        }
        const W: u32 = 1;
        const WR: u32 = 3;

        #[test]
        fn struct_layouts_match_the_kernel() {
            use std::mem::{align_of, offset_of, size_of};
            assert_eq!(size_of::<IioDmabuf>(), 16);
            assert_eq!(offset_of!(IioDmabuf, bytes_used), 8);
            assert_eq!(size_of::<IioDmabufAllocReq>(), 16);
            assert_eq!(size_of::<DmaHeapAllocationData>(), 24);
            assert_eq!(offset_of!(DmaHeapAllocationData, heap_flags), 16);
            assert_eq!(size_of::<UdmabufCreate>(), 24);
            assert_eq!(offset_of!(UdmabufCreate, offset), 8);
            assert_eq!(size_of::<DmaBufSync>(), 8);
            assert_eq!(size_of::<DmaBufExportSyncFile>(), 8);
            assert_eq!(size_of::<SyncFileInfo>(), 56);
            assert_eq!(offset_of!(SyncFileInfo, status), 32);
            assert_eq!(offset_of!(SyncFileInfo, sync_fence_info), 48);
            assert_eq!(align_of::<SyncFileInfo>(), 8);
            assert_eq!(size_of::<SyncFenceInfo>(), 80);
            assert_eq!(offset_of!(SyncFenceInfo, driver_name), 32);
            assert_eq!(offset_of!(SyncFenceInfo, status), 64);
            assert_eq!(offset_of!(SyncFenceInfo, flags), 68);
            assert_eq!(offset_of!(SyncFenceInfo, timestamp_ns), 72);
        }

        /// A fence entry as the kernel fills it: names copied with `strscpy`, so
        /// NUL-terminated and NUL-padded.
        fn fence(driver: &str, timeline: &str, status: i32) -> SyncFenceInfo {
            let mut f = SyncFenceInfo {
                status,
                ..SyncFenceInfo::default()
            };
            f.driver_name[..driver.len()].copy_from_slice(driver.as_bytes());
            f.obj_name[..timeline.len()].copy_from_slice(timeline.as_bytes());
            f
        }

        fn info(status: i32, num_fences: u32) -> SyncFileInfo {
            SyncFileInfo {
                status,
                num_fences,
                ..SyncFileInfo::default()
            }
        }

        #[test]
        fn the_stub_fence_is_recognised_by_its_names() {
            // What dma_buf_export_sync_file hands out once the DMABUF's fences have signalled:
            // one fence, driver and timeline "stub", signalled without error.
            let stub = fence("stub", "stub", 1);
            assert!(stub.is_stub());
            assert_eq!(
                (stub.driver(), stub.timeline()),
                ("stub".into(), "stub".into())
            );
            let state = SyncFileState::classify(&info(1, 1), &[stub]);
            assert_eq!(
                state,
                SyncFileState {
                    status: 1,
                    num_fences: 1,
                    only_stub: true,
                    signalled_ns: None
                }
            );
        }

        #[test]
        fn a_transfer_fence_is_not_the_stub_whatever_its_status() {
            // IIO's fences (drivers/iio/industrialio-buffer.c): driver and timeline "iio".
            for status in [1, 0, -4, -5] {
                let state =
                    SyncFileState::classify(&info(status, 1), &[fence("iio", "iio", status)]);
                assert!(!state.only_stub, "{status}");
                assert_eq!(state.status, status);
            }
            // Only one of the two names "stub": not the kernel's stub.
            assert!(!fence("stub", "iio", 1).is_stub());
            assert!(!fence("iio", "stub", 1).is_stub());
            // A prefix or a longer name is not the stub either.
            assert!(!fence("stu", "stu", 1).is_stub());
            assert!(!fence("stubby", "stubby", 1).is_stub());
            // A name filling the whole array (no NUL) is read to its end.
            let full = SyncFenceInfo {
                driver_name: [b'x'; 32],
                ..SyncFenceInfo::default()
            };
            assert_eq!(full.driver(), "x".repeat(32));
        }

        #[test]
        fn a_signalled_sync_file_carries_its_latest_fence_time() {
            let at = |status, ns| SyncFenceInfo {
                timestamp_ns: ns,
                ..fence("iio", "iio", status)
            };
            let state = SyncFileState::classify(&info(1, 2), &[at(1, 700), at(1, 900)]);
            assert_eq!(state.signalled_ns, Some(900));
            // Active, failed, the stub, fences not all read, no time: none.
            assert_eq!(
                SyncFileState::classify(&info(0, 1), &[at(0, 0)]).signalled_ns,
                None
            );
            assert_eq!(
                SyncFileState::classify(&info(-4, 1), &[at(-4, 0)]).signalled_ns,
                None
            );
            let stub = SyncFenceInfo {
                timestamp_ns: 5,
                ..fence("stub", "stub", 1)
            };
            assert_eq!(
                SyncFileState::classify(&info(1, 1), &[stub]).signalled_ns,
                None
            );
            assert_eq!(
                SyncFileState::classify(&info(1, 2), &[at(1, 9)]).signalled_ns,
                None
            );
            assert_eq!(
                SyncFileState::classify(&info(1, 1), &[at(1, 0)]).signalled_ns,
                None
            );
        }

        #[test]
        fn a_sync_file_is_only_the_stub_when_every_fence_was_read_and_is_the_stub() {
            let stub = fence("stub", "stub", 1);
            let iio = fence("iio", "iio", 1);
            // A stub beside a real fence (not what the export makes, but merges could).
            assert!(!SyncFileState::classify(&info(1, 2), &[stub, iio]).only_stub);
            // Fences not read (too many, or not asked for): never called a stub.
            assert!(!SyncFileState::classify(&info(1, 1), &[]).only_stub);
            assert!(!SyncFileState::classify(&info(1, 2), &[stub]).only_stub);
            // No fence at all.
            assert!(!SyncFileState::classify(&info(1, 0), &[]).only_stub);
            // Entries past num_fences are not the kernel's answer and are ignored.
            let state = SyncFileState::classify(&info(1, 1), &[iio, stub]);
            assert!(!state.only_stub);
            let state = SyncFileState::classify(&info(1, 1), &[stub, iio]);
            assert!(state.only_stub);
        }

        #[cfg(any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64",
            target_arch = "loongarch64"
        ))]
        #[test]
        fn request_numbers_match_the_ioc_formula_and_the_documented_values() {
            use std::mem::size_of;
            let table: [(Opcode, u64, u64); 11] = [
                (
                    IIO_BUFFER_GET_FD,
                    ioc(WR, b'i', 0x91, size_of::<c_int>()),
                    0xc004_6991,
                ),
                (
                    IIO_BUFFER_DMABUF_ATTACH,
                    ioc(W, b'i', 0x92, size_of::<c_int>()),
                    0x4004_6992,
                ),
                (
                    IIO_BUFFER_DMABUF_DETACH,
                    ioc(W, b'i', 0x93, size_of::<c_int>()),
                    0x4004_6993,
                ),
                (
                    IIO_BUFFER_DMABUF_ENQUEUE,
                    ioc(W, b'i', 0x94, size_of::<IioDmabuf>()),
                    0x4010_6994,
                ),
                (
                    SEED_DMABUF_ALLOC,
                    ioc(W, b'i', 0x92, size_of::<IioDmabufAllocReq>()),
                    0x4010_6992,
                ),
                (
                    SEED_DMABUF_ENQUEUE,
                    ioc(W, b'i', 0x93, size_of::<IioDmabuf>()),
                    0x4010_6993,
                ),
                (
                    DMA_HEAP_IOCTL_ALLOC,
                    ioc(WR, b'H', 0, size_of::<DmaHeapAllocationData>()),
                    0xc018_4800,
                ),
                (
                    UDMABUF_CREATE,
                    ioc(W, b'u', 0x42, size_of::<UdmabufCreate>()),
                    0x4018_7542,
                ),
                (
                    DMA_BUF_IOCTL_SYNC,
                    ioc(W, b'b', 0, size_of::<DmaBufSync>()),
                    0x4008_6200,
                ),
                (
                    DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
                    ioc(WR, b'b', 2, size_of::<DmaBufExportSyncFile>()),
                    0xc008_6202,
                ),
                (
                    SYNC_IOC_FILE_INFO,
                    ioc(WR, b'>', 4, size_of::<SyncFileInfo>()),
                    0xc038_3e04,
                ),
            ];
            for (i, (opcode, formula, documented)) in table.iter().enumerate() {
                assert_eq!(u64::from(*opcode), *formula, "entry {i}");
                assert_eq!(*formula, *documented, "entry {i}");
            }
        }

        #[test]
        fn seed_and_mainline_numbers_differ() {
            // Same type and base numbers, different encodings: a kernel with one interface
            // refuses the other's requests as unknown instead of misreading them.
            assert_ne!(SEED_DMABUF_ENQUEUE, IIO_BUFFER_DMABUF_ENQUEUE);
            assert_ne!(SEED_DMABUF_ENQUEUE, IIO_BUFFER_DMABUF_DETACH);
            assert_ne!(SEED_DMABUF_ALLOC, IIO_BUFFER_DMABUF_ATTACH);
            let all = [
                IIO_BUFFER_GET_FD,
                IIO_BUFFER_DMABUF_ATTACH,
                IIO_BUFFER_DMABUF_DETACH,
                IIO_BUFFER_DMABUF_ENQUEUE,
                SEED_DMABUF_ALLOC,
                SEED_DMABUF_ENQUEUE,
            ];
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    assert_ne!(a, b);
                }
            }
        }

        #[test]
        fn ioctls_on_a_non_device_fail_cleanly() {
            // A memfd knows none of these requests: every wrapper reports the errno and
            // creates no descriptor.
            let fd = crate::sys::memfd("weir-ioctl-test", 4096).unwrap();
            let fd = fd.as_fd();
            assert_eq!(iio_buffer_get_fd(fd, 0).unwrap_err(), Errno::NOTTY);
            assert_eq!(iio_dmabuf_attach(fd, fd).unwrap_err(), Errno::NOTTY);
            assert_eq!(iio_dmabuf_detach(fd, fd).unwrap_err(), Errno::NOTTY);
            assert_eq!(iio_dmabuf_enqueue(fd, fd, 16).unwrap_err(), Errno::NOTTY);
            assert_eq!(seed_dmabuf_alloc(fd, 4096).unwrap_err(), Errno::NOTTY);
            assert_eq!(seed_dmabuf_enqueue(fd, fd, 0).unwrap_err(), Errno::NOTTY);
            assert_eq!(dma_heap_alloc(fd, 4096).unwrap_err(), Errno::NOTTY);
            assert_eq!(udmabuf_create(fd, fd, 4096).unwrap_err(), Errno::NOTTY);
            assert_eq!(
                dma_buf_sync(fd, DMA_BUF_SYNC_START).unwrap_err(),
                Errno::NOTTY
            );
            assert_eq!(
                dma_buf_export_sync_file(fd, DMA_BUF_SYNC_WRITE).unwrap_err(),
                Errno::NOTTY
            );
            assert_eq!(sync_file_state(fd).unwrap_err(), Errno::NOTTY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn two_mappings_of_one_memfd_share_memory() {
        let fd = memfd("weir-sys-test", 8192).unwrap();
        let mut rw = MappedRegion::map_read_write(fd.as_fd(), 8192).unwrap();
        let mut ro = MappedRegion::map_read_only(fd.as_fd(), 8192).unwrap();
        drop(fd); // the mappings keep the memory alive
        assert!(rw.is_writable() && !ro.is_writable());
        assert_eq!((rw.len(), ro.len()), (8192, 8192));
        assert!(!ro.is_empty());
        assert_ne!(rw.as_ptr(), ro.as_ptr());
        rw.as_mut_bytes()[8191] = 0xa5;
        rw.as_mut_bytes()[0] = 0x5a;
        assert_eq!(ro.as_bytes()[8191], 0xa5);
        assert_eq!(ro.as_bytes()[0], 0x5a);
        assert!(ro.as_mut_bytes().is_empty());
    }

    #[test]
    fn mapping_past_the_end_of_a_file_is_refused() {
        let fd = memfd("weir-sys-short", 4096).unwrap();
        let err = MappedRegion::map_read_only(fd.as_fd(), 8192).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::INVAL));
        let err = MappedRegion::map_read_only(fd.as_fd(), 0).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::INVAL));
    }

    #[test]
    fn memfd_is_sealed_against_resizing() {
        let fd = memfd("weir-sys-sealed", 4096).unwrap();
        assert_eq!(rustix::fs::ftruncate(&fd, 100), Err(Errno::PERM));
        assert_eq!(rustix::fs::ftruncate(&fd, 10000), Err(Errno::PERM));
    }
}

//! The only module with `unsafe` code: turning file descriptors into addressable memory.
//!
//! Everything else in the crate talks to the kernel through safe `rustix` calls. Mapping a
//! file descriptor cannot be expressed safely, so it lives here, small enough to audit in one
//! sitting.
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
use std::ptr::NonNull;

use rustix::fs::{FileType, MemfdFlags, SealFlags};
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

//! The file a capture sink (`file_sink`, `sigmf_sink`) writes: every input slice goes to the
//! file with `write(2)` straight from the reader's memory, optionally with `O_DIRECT`.
//!
//! No buffer in between. Fed by `dmabuf_source`, an input slice is a DMA block's mapped memory
//! and its bytes go from there to the page cache (or, with `O_DIRECT`, to the disk) with no copy
//! in user space; [`address_probe`] records the bytes handed to `write` ([`Access::Written`]) so
//! that tests can prove it. And nothing is held back: a byte the sink has accounted for is in
//! the file, so a run that ends abruptly (a second Ctrl-C quits at once) leaves every accounted
//! byte behind. Small slices cost one system call each; the page cache gathers them.
//!
//! With `O_DIRECT` ([`SinkFile::create`] with `o_direct`), the writes bypass the page cache:
//! block-aligned slices (address, length and file offset multiples of the file system's direct
//! I/O alignment) are written directly. The first slice that is not aligned (the tail of a
//! capture that stops mid-block) is written after clearing `O_DIRECT` with `fcntl`, as is
//! everything after it, and the point where that happened is reported
//! ([`SinkFile::direct_cleared_at`]).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use futuresdr::runtime::BlockId;
use rustix::fs::{AtFlags, OFlags, StatxFlags};

use crate::buffer::address_probe::{self, Access};
use crate::{BlockStats, BuildError, ParamSpec, ParamType, Params, Value};

/// The alignment the loader asks `O_DIRECT` inputs' device blocks to have
/// ([`PortSpec::wanting_aligned_blocks`](crate::PortSpec::wanting_aligned_blocks)): the page
/// size of the platforms weir runs on, a multiple of every disk's logical block size (512 or
/// 4096 bytes). DMA blocks are mapped, so their memory is page-aligned.
pub const O_DIRECT_ALIGN: usize = 4096;

/// The alignment of `O_DIRECT` writes to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectIo {
    /// Buffer addresses must be a multiple of this.
    pub memory: usize,
    /// File offsets and lengths must be a multiple of this.
    pub offset: usize,
}

impl DirectIo {
    fn fits(self, bytes: &[u8], offset: u64) -> bool {
        (bytes.as_ptr() as usize).is_multiple_of(self.memory)
            && bytes.len().is_multiple_of(self.offset)
            && offset.is_multiple_of(self.offset as u64)
    }
}

/// A file written from its input's memory; see the [module](self).
#[derive(Debug)]
pub struct SinkFile {
    file: File,
    /// Bytes written so far: the file offset of the next write.
    written: u64,
    /// `O_DIRECT` is set, with this alignment.
    direct: Option<DirectIo>,
    /// Where `O_DIRECT` was cleared for an unaligned write.
    cleared_at: Option<u64>,
    /// The sink's statistics, for the `o_direct` note.
    stats: Option<Arc<BlockStats>>,
}

/// Creates (or truncates) `path` for writing without waiting for a FIFO's reader.
///
/// Opening a FIFO for writing blocks until some process opens it for reading, so a sink on a
/// FIFO whose reader was never started would hang the flowgraph's build. The file is opened with
/// `O_NONBLOCK`, which makes that case fail at once (`ENXIO`) with a clear error; the flag is
/// then cleared, so writes wait for a slow reader as they do on any file (back-pressure, not
/// loss).
fn open_for_writing(path: &Path) -> Result<File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) {
                format!(
                    "`{}` is a FIFO that no process has open for reading (opening it would block \
                     until one did): start its reader first",
                    path.display()
                )
            } else {
                format!("cannot create `{}`: {e}", path.display())
            }
        })?;
    let flags = rustix::fs::fcntl_getfl(&file)
        .map_err(|e| format!("cannot read the flags of `{}`: {e}", path.display()))?;
    rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)
        .map_err(|e| format!("cannot clear O_NONBLOCK on `{}`: {e}", path.display()))?;
    Ok(file)
}

impl SinkFile {
    /// Creates (or truncates) `path`; with `o_direct`, sets `O_DIRECT` on it. The error is a
    /// sentence for a load-time error: the file cannot be created, or its file system refuses
    /// `O_DIRECT` (ramfs; tmpfs before Linux 6.6; some FUSE and network file systems).
    pub fn create(path: &Path, o_direct: bool) -> Result<SinkFile, String> {
        let file = open_for_writing(path)?;
        let direct = if o_direct {
            let flags = rustix::fs::fcntl_getfl(&file)
                .map_err(|e| format!("cannot read the flags of `{}`: {e}", path.display()))?;
            rustix::fs::fcntl_setfl(&file, flags | OFlags::DIRECT).map_err(|e| {
                format!(
                    "the file system of `{}` refuses O_DIRECT ({e}): write there without \
                     o_direct, or capture to a disk-backed directory",
                    path.display()
                )
            })?;
            Some(alignment(&file))
        } else {
            None
        };
        Ok(SinkFile {
            file,
            written: 0,
            direct,
            cleared_at: None,
            stats: None,
        })
    }

    /// The file of a capture sink's build, from its [`capture_params`]: `path` created, with
    /// `O_DIRECT` when the flowgraph asks; the `o_direct` note of `stats` says whether it is
    /// on and, later, where it was cleared.
    pub fn for_sink(
        params: &Params,
        path: &Path,
        stats: Arc<BlockStats>,
    ) -> Result<SinkFile, BuildError> {
        let o_direct = params.bool("o_direct")?;
        let mut file = SinkFile::create(path, o_direct)
            .map_err(|e| BuildError::param(if o_direct { "o_direct" } else { "path" }, e))?;
        if o_direct {
            stats.set_note("o_direct", "on");
        }
        file.stats = Some(stats);
        Ok(file)
    }

    /// Writes all of `bytes` from where they are, for `block` (the sink, for the address
    /// probe). With `O_DIRECT`, an unaligned `bytes` clears it first (see the [module](self)).
    pub fn write_from(&mut self, block: BlockId, bytes: &[u8]) -> io::Result<()> {
        address_probe::record(block, Access::Written, bytes);
        let mut rest = bytes;
        while !rest.is_empty() {
            if let Some(d) = self.direct
                && !d.fits(rest, self.written)
            {
                self.clear_direct()?;
            }
            match self.file.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    rest = &rest[n..];
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The file system wants a coarser alignment than it reported (or reports
                // none): the rest goes through the page cache.
                Err(e)
                    if self.direct.is_some()
                        && rustix::io::Errno::from_io_error(&e)
                            == Some(rustix::io::Errno::INVAL) =>
                {
                    self.clear_direct()?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn clear_direct(&mut self) -> io::Result<()> {
        let flags = rustix::fs::fcntl_getfl(&self.file)?;
        rustix::fs::fcntl_setfl(&self.file, flags - OFlags::DIRECT)?;
        self.direct = None;
        self.cleared_at = Some(self.written);
        if let Some(stats) = &self.stats {
            stats.set_note(
                "o_direct",
                format!("cleared at byte {} for an unaligned write", self.written),
            );
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The `O_DIRECT` alignment, while `O_DIRECT` is set.
    pub fn direct(&self) -> Option<DirectIo> {
        self.direct
    }

    /// The file offset at which `O_DIRECT` was cleared for an unaligned write, if it was.
    pub fn direct_cleared_at(&self) -> Option<u64> {
        self.cleared_at
    }

    /// Makes the data durable (`fsync`): what `O_DIRECT` alone does not promise for the file's
    /// size and metadata.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// The parameters every capture sink takes besides its `path` and `item`: `items` (stop after
/// that many; 0 = until the stream ends) and `o_direct`.
pub fn capture_params() -> [ParamSpec; 2] {
    [
        ParamSpec::optional(
            "items",
            ParamType::Int,
            Value::Int(0),
            "items to write, then end the stream (as head would, without copying); 0 = until \
             the stream ends",
        )
        .range(Some(0.0), Some(i64::MAX as f64)),
        ParamSpec::optional(
            "o_direct",
            ParamType::Bool,
            Value::Bool(false),
            "write with O_DIRECT, bypassing the page cache: the input must come straight from \
             dmabuf_source with blocks of a multiple of 4096 bytes (checked at load time); a \
             file system that refuses O_DIRECT (ramfs, tmpfs before Linux 6.6) is an error \
             when the flowgraph is built",
        ),
    ]
}

/// `items` of [`capture_params`]: `None` for 0 (until the stream ends).
pub fn capture_items(params: &Params) -> Result<Option<u64>, BuildError> {
    Ok(Some(params.uint("items")?).filter(|&n| n > 0))
}

/// The buffer a file-writing sink wants in front of it where the flowgraph sets none, in bytes:
/// it writes each slice it is given with one `write(2)` from its own thread, so the default
/// buffer (then FutureSDR's 32 KiB, now [`crate::runtime_config::BUFFER_BYTES`]) costs a
/// system call and a wake-up per buffer. Measured (BENCHMARKS.md,
/// "A file sink's buffer", quiet host): `dmabuf_source` → `ci16_to_cf32` → `file_sink` on
/// /dev/shm, 200 M samples, 36–38 M samples/s with 32 KiB, 290–308 with 1 MiB, 334–355 with
/// 8 MiB; 1 MiB takes most of the gain for an eighth of the memory.
pub const CAPTURE_BUFFER_BYTES: usize = 1 << 20;

/// The input port of a capture sink: a buffer of [`CAPTURE_BUFFER_BYTES`] in front of it where
/// the flowgraph sets none, and with `o_direct`, aligned device blocks.
pub fn capture_input(
    params: &Params,
    item: crate::ItemType,
) -> Result<crate::PortSpec, BuildError> {
    let input = crate::PortSpec::input("in", "input", item)
        .with_preferred_buffer(CAPTURE_BUFFER_BYTES / item.size().max(1));
    Ok(if params.bool("o_direct")? {
        input.wanting_aligned_blocks(O_DIRECT_ALIGN)
    } else {
        input
    })
}

/// The file's direct I/O alignment as the kernel reports it (`statx` `STATX_DIOALIGN`, Linux
/// 6.1+), or [`O_DIRECT_ALIGN`] where it reports none: a page is aligned for every disk.
fn alignment(file: &File) -> DirectIo {
    let fallback = DirectIo {
        memory: O_DIRECT_ALIGN,
        offset: O_DIRECT_ALIGN,
    };
    match rustix::fs::statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN) {
        Ok(s)
            if StatxFlags::from_bits_retain(s.stx_mask).contains(StatxFlags::DIOALIGN)
                && s.stx_dio_offset_align > 0 =>
        {
            DirectIo {
                memory: (s.stx_dio_mem_align as usize).max(1),
                offset: s.stx_dio_offset_align as usize,
            }
        }
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page-aligned memory, as a DMA block's mapping is.
    fn aligned(len: usize, fill: impl Fn(usize) -> u8) -> (Vec<u8>, usize) {
        let mut v = vec![0u8; len + O_DIRECT_ALIGN];
        let start = v.as_ptr().align_offset(O_DIRECT_ALIGN);
        for i in 0..len {
            v[start + i] = fill(i);
        }
        (v, start)
    }

    fn flags(f: &SinkFile) -> OFlags {
        rustix::fs::fcntl_getfl(&f.file).expect("F_GETFL")
    }

    /// On a disk-backed directory (/var/tmp): aligned blocks go out with O_DIRECT set; an
    /// unaligned tail clears it, is written, and every byte is in the file in order.
    #[test]
    fn o_direct_writes_aligned_blocks_and_clears_itself_for_the_tail() {
        let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir in /var/tmp");
        let path = dir.path().join("cap");
        let mut f = SinkFile::create(&path, true).expect("ext4 and xfs take O_DIRECT");
        assert!(flags(&f).contains(OFlags::DIRECT));
        let (mem, at) = aligned(2 * O_DIRECT_ALIGN, |i| (i % 251) as u8);
        let block = BlockId(0);
        f.write_from(block, &mem[at..at + 2 * O_DIRECT_ALIGN])
            .expect("aligned write");
        assert!(flags(&f).contains(OFlags::DIRECT), "still direct");
        assert_eq!(f.direct_cleared_at(), None);
        f.write_from(block, &mem[at..at + 100]).expect("tail");
        assert!(!flags(&f).contains(OFlags::DIRECT), "cleared for the tail");
        assert_eq!(f.direct_cleared_at(), Some(2 * O_DIRECT_ALIGN as u64));
        assert_eq!(f.written(), 2 * O_DIRECT_ALIGN as u64 + 100);
        let data = std::fs::read(&path).expect("read back");
        let mut want = mem[at..at + 2 * O_DIRECT_ALIGN].to_vec();
        want.extend_from_slice(&mem[at..at + 100]);
        assert_eq!(data, want);
    }

    /// Without o_direct nothing is held back: each write is in the file when it returns.
    #[test]
    fn a_plain_sink_file_holds_each_write_when_it_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cap");
        let mut f = SinkFile::create(&path, false).expect("create");
        f.write_from(BlockId(0), b"abc").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"abc");
        f.write_from(BlockId(0), b"de").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"abcde");
    }
}

//! `file_source`: raw items from a regular file, as `file_sink` writes them.
//!
//! weir's own block rather than FutureSDR's `FileSource`, which opens the path again in `init`
//! and panics on any open or read error. Only regular files are read: a FIFO would block the
//! open (and the build) until some writer appeared, a character device (`/dev/zero`,
//! `/dev/urandom`) never ends, so both are refused when the flowgraph is loaded (`weir check`
//! refuses them too). The file is opened once, without blocking, in `build` and checked again
//! through the descriptor (so a path swapped for a FIFO after the check is refused as well); a
//! read error (`/proc/self/mem` answers every read with `EIO`) fails the run with the path and
//! the errno.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::PathBuf;

use futuresdr::runtime::dev::prelude::*;
use weir_core::stream_block::{ItemCarry, RawItem, StreamKernel};
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params, Ports,
    add_source, source_block,
};

source_block! {
    /// Emits the items of a file, once or over and over.
    #[blocking]
    pub struct FileSource<T> {
        file: File,
        path: PathBuf,
        repeat: bool,
        carry: ItemCarry,
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> FileSource<T, W> {
    /// A source reading `file` (opened from `path`, named in errors).
    pub fn new(file: File, path: PathBuf, repeat: bool) -> Self {
        Self {
            output: W::default(),
            file,
            path,
            repeat,
            carry: ItemCarry::default(),
        }
    }

    fn error(&self, what: &str, e: std::io::Error) -> anyhow::Error {
        anyhow::anyhow!("{what} `{}`: {e}", self.path.display())
    }
}

impl<T: RawItem, W: CpuBufferWriter<Item = T>> StreamKernel for FileSource<T, W> {
    fn step(&mut self, io: &mut WorkIo) -> Result<()> {
        let out = self.output.slice();
        if out.is_empty() {
            return Ok(());
        }
        let file = &mut self.file;
        let filled = self.carry.read_into(out, |buf| {
            loop {
                match file.read(buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            }
        });
        let filled = filled.map_err(|e| self.error("reading", e))?;
        self.output.produce(filled.items);
        if filled.read > 0 {
            io.call_again = true;
            return Ok(());
        }
        // End of file.
        if !self.carry.is_empty() {
            // The length was a whole number of items when the file was opened: it changed
            // while it was read. Not an item: an error, never dropped silently.
            return Err(anyhow::anyhow!(
                "`{}` ended {} bytes into an item of {} bytes (the file changed while it \
                 was read)",
                self.path.display(),
                self.carry.len(),
                size_of::<T>()
            ));
        }
        if self.repeat {
            self.file.rewind().map_err(|e| self.error("rewinding", e))?;
            io.call_again = true;
        } else {
            io.finished = true;
        }
        Ok(())
    }
}

/// What a file that is not a regular file is, for the refusal, with why for the kinds that
/// could otherwise look readable.
fn kind_text(t: std::fs::FileType) -> String {
    let why = if t.is_fifo() {
        " (reading it would block until a writer appears)"
    } else if t.is_char_device() || t.is_block_device() {
        " (file_source reads regular files only)"
    } else {
        ""
    };
    format!("{}{why}", weir_core::flowgraph::file_kind(t))
}

/// Refuses a path that exists and is not a regular file. A missing file is left to the build
/// (it may be created by the time the flowgraph runs).
fn check_kind(path: &str) -> Result<(), BuildError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(BuildError::param(
            "path",
            format!("`{path}` is {}", kind_text(m.file_type())),
        )),
        _ => Ok(()),
    }
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    check_kind(p.str("path")?)?;
    Ok(Ports::source(p.item("item")?))
}

/// Opens `path` without blocking (a FIFO put there since the check would otherwise wait for a
/// writer) and checks through the descriptor what the block would get wrong: not a regular
/// file, a partial item at the end (it would shift every repetition), nothing to repeat.
fn open(path: &str, item: ItemType, repeat: bool) -> Result<File, BuildError> {
    let err = |e: std::io::Error| BuildError::param("path", format!("cannot open `{path}`: {e}"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if !meta.is_file() {
        return Err(BuildError::param(
            "path",
            format!("`{path}` is {}", kind_text(meta.file_type())),
        ));
    }
    let len = meta.len();
    if !len.is_multiple_of(item.size() as u64) {
        return Err(BuildError::param(
            "path",
            format!(
                "`{path}` has {len} bytes, not a whole number of {item} items ({} bytes each)",
                item.size()
            ),
        ));
    }
    if repeat && len == 0 {
        return Err(BuildError::param(
            "repeat",
            format!("`{path}` is empty: there is nothing to repeat"),
        ));
    }
    Ok(file)
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let path = ctx.params.str("path")?.to_string();
    let item = ctx.params.item("item")?;
    let repeat = ctx.params.bool("repeat")?;
    let file = open(&path, item, repeat)?;
    Ok(add_source!(ctx, item, |T, W| FileSource::<T, W>::new(
        file,
        PathBuf::from(&path),
        repeat
    )))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "file_source",
        doc: "Raw items (little-endian, in-memory layout, as file_sink writes them) from a regular file; FIFOs and devices are refused, a read error fails the run",
        params: vec![
            ParamSpec::required("path", ParamType::Str, "file to read"),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::boolean(
                "repeat",
                false,
                "start over at the end of the file instead of ending the stream",
            ),
        ],
        ports,
        build,
    }
}

//! The geometry of a stream: what every transport is, block by block.
//!
//! A transport moves `block_count` blocks of `block_size` bytes, each holding whole scans of
//! `sample_size` bytes (every enabled channel once), and accepts a `bytes_used` that is a
//! multiple of `bytes_align`. [`StreamConfig`] holds these numbers once, with the device name
//! its errors carry; [`crate::Transport`]'s getters (`block_size`, `sample_size`, …) read
//! them from it by default.

use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::sys::MappedRegion;
use crate::vocabulary::Direction;

/// The geometry of a stream, shared by every transport, and what the kernel transports write
/// to the buffer's sysfs attributes before enabling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Name for messages (device and buffer).
    pub name: String,
    /// RX (`In`) or TX (`Out`).
    pub direction: Direction,
    /// Bytes per scan.
    pub sample_size: usize,
    /// Bytes per block; a non-zero multiple of `bytes_align`.
    pub block_size: usize,
    /// Number of blocks, at least 1.
    pub block_count: usize,
    /// `bytes_used` must be a multiple of this: a multiple of `sample_size` (and of the
    /// buffer's `length_align_bytes`).
    pub bytes_align: usize,
    /// Samples to write to the buffer's `length` before enabling (`None`: leave it).
    pub length: Option<u64>,
    /// Samples to write to the buffer's `watermark` before enabling, if it has one.
    pub watermark: Option<u64>,
}

impl StreamConfig {
    /// The stream of a simulated device: `bytes_used` a multiple of the sample, no sysfs
    /// attributes to write.
    pub(crate) fn simulated(
        name: &str,
        direction: Direction,
        sample_size: usize,
        block_size: usize,
        block_count: usize,
    ) -> StreamConfig {
        StreamConfig {
            name: name.to_string(),
            direction,
            sample_size,
            block_size,
            block_count,
            bytes_align: sample_size,
            length: None,
            watermark: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Config {
                device: self.name.clone(),
                message,
            })
        };
        if self.sample_size == 0 {
            return bad("the sample size is 0 (no channel enabled?)".to_string());
        }
        if self.bytes_align == 0 || !self.bytes_align.is_multiple_of(self.sample_size) {
            return bad(format!(
                "the transfer alignment {} must be a multiple of the {}-byte sample",
                self.bytes_align, self.sample_size
            ));
        }
        if self.block_size == 0 || !self.block_size.is_multiple_of(self.bytes_align) {
            return bad(format!(
                "block size must be a non-zero multiple of {} bytes, got {}",
                self.bytes_align, self.block_size
            ));
        }
        if self.block_count == 0 {
            return bad("block count must be at least 1".to_string());
        }
        Ok(())
    }

    /// `bytes_used` must be `1..=block_size` and a multiple of `bytes_align`; `EINVAL`
    /// otherwise. 0 is refused here for every transport: the seed's transport, whose ABI
    /// reads 0 as "the whole DMABUF", handles 0 before calling this (see `crate::dmabuf`).
    pub(crate) fn check_bytes_used(&self, op: &'static str, bytes_used: usize) -> Result<()> {
        if bytes_used == 0
            || bytes_used > self.block_size
            || !bytes_used.is_multiple_of(self.bytes_align)
        {
            return Err(self.err(
                op,
                Errno::INVAL,
                format!(
                    "bytes_used {bytes_used} must be 1..={} and a multiple of {} bytes",
                    self.block_size, self.bytes_align
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn unknown_block(&self, op: &'static str, block: usize) -> Error {
        self.err(
            op,
            Errno::INVAL,
            format!("no block {block} (there are {})", self.block_count),
        )
    }

    /// Whole scans in a block.
    pub fn samples_per_block(&self) -> usize {
        self.block_size / self.sample_size.max(1)
    }

    /// An [`Error::Os`] on this stream's device that says which rule was broken.
    pub(crate) fn err(&self, op: &'static str, errno: Errno, detail: impl Into<String>) -> Error {
        Error::os_detail(op, self.name.as_str(), errno, detail)
    }

    /// `Ok` for an output (TX) stream; for an input one, the refusal of the TX-only
    /// operation `op` (`EOPNOTSUPP`).
    pub(crate) fn require_output(&self, op: &'static str) -> Result<()> {
        if self.direction == Direction::Out {
            Ok(())
        } else {
            Err(crate::transport::not_an_output(op, &self.name))
        }
    }

    /// `lend_block`'s hand-over: moves block `block`'s mapping out of `slot`; `EBUSY` if it
    /// is lent already.
    pub(crate) fn lend(
        &self,
        slot: &mut Option<MappedRegion>,
        block: usize,
    ) -> Result<MappedRegion> {
        slot.take().ok_or_else(|| {
            self.err(
                "lend_block",
                Errno::BUSY,
                format!("block {block} is already lent"),
            )
        })
    }

    /// `return_block`'s hand-back: puts `memory` into block `block`'s empty `slot`; `EINVAL`
    /// if the block was not lent (its slot still holds its mapping).
    pub(crate) fn take_back(
        &self,
        slot: &mut Option<MappedRegion>,
        block: usize,
        memory: MappedRegion,
    ) -> Result<()> {
        if slot.is_some() {
            return Err(self.err(
                "return_block",
                Errno::INVAL,
                format!("block {block} was not lent"),
            ));
        }
        *slot = Some(memory);
        Ok(())
    }

    /// The memfd name stem: the device name without NUL, at most 200 bytes.
    pub(crate) fn memfd_stem(&self) -> String {
        let mut stem: String = self.name.chars().filter(|&c| c != '\0').collect();
        while stem.len() > 200 {
            stem.pop();
        }
        stem
    }
}

//! The by-reference stream buffer: downstream blocks read device memory in place.
//!
//! A source that owns mapped memory (the IIO DMABUF source) hands each completed block to its
//! readers as an `Arc<dyn MappedBlock>`. A [`MappedBlockReader`] implements FutureSDR's
//! [`CpuBufferReader`], so any block generic over its reader — weir's and FutureSDR's stock
//! blocks alike — reads the mapped memory directly: `slice()` *is* the device block. When every
//! reader has consumed a block, the last `Arc` is dropped, and the implementor's `Drop` gives the
//! block back to the hardware. Fan-out works because each reader holds its own `Arc`.
//!
//! This lives in `weir-core`, not in the IIO plugin, because plugins never depend on each other:
//! a DSP plugin must be able to name the reader type its first block is instantiated with.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use futuresdr::runtime::BlockMessage;
use futuresdr::runtime::buffer::{ConnectionState, PortCore, PortEndpoint};
use futuresdr::runtime::dev::prelude::*;
use futuresdr::runtime::{BlockId, Error, PortId};

/// Which buffer implementation connects an output to its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferKind {
    /// FutureSDR's double-mapped circular CPU buffer (the default everywhere).
    Circular,
    /// [`MappedBlockWriter`] / [`MappedBlockReader`]: device memory handed over by reference.
    MappedBlock,
    /// [`FillBlockWriter`](crate::FillBlockWriter) /
    /// [`FillBlockReader`](crate::FillBlockReader): the writer fills device memory in place.
    /// An input that declares it makes the upstream output use this writer.
    FillBlock,
}

impl fmt::Display for BufferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BufferKind::Circular => "circular",
            BufferKind::MappedBlock => "mapped-block",
            BufferKind::FillBlock => "fill-block",
        })
    }
}

/// Runs `$body` with `$R` bound to the reader type for items `$T` that matches a [`BufferKind`].
///
/// A factory uses it to instantiate a block with the reader its input connection needs.
#[macro_export]
macro_rules! with_reader {
    ($kind:expr, $T:ty, $R:ident => $body:expr) => {
        match $kind {
            // A fill-block connection ends at a sink that owns device memory; an ordinary
            // reader never sees it (the loader refuses such a connection), so it falls back
            // to the circular reader.
            $crate::BufferKind::Circular | $crate::BufferKind::FillBlock => {
                type $R = ::futuresdr::runtime::dev::DefaultCpuReader<$T>;
                $body
            }
            $crate::BufferKind::MappedBlock => {
                type $R = $crate::buffer::MappedBlockReader<$T>;
                $body
            }
        }
    };
}

/// Runs `$body` with `$W` bound to the writer type for items `$T` that matches a
/// [`BufferKind`]: the fill-in-place writer when the output feeds a zero-copy TX sink.
#[macro_export]
macro_rules! with_writer {
    ($kind:expr, $T:ty, $W:ident => $body:expr) => {
        match $kind {
            $crate::BufferKind::FillBlock => {
                type $W = $crate::FillBlockWriter<$T>;
                $body
            }
            // Mapped blocks come from device sources only; every other output writes into
            // FutureSDR's circular buffer.
            $crate::BufferKind::Circular | $crate::BufferKind::MappedBlock => {
                type $W = ::futuresdr::runtime::dev::DefaultCpuWriter<$T>;
                $body
            }
        }
    };
}

/// An opt-in, process-wide record of where mapped blocks are and where their readers read.
///
/// A registry-built block gets its reader type inside its factory (`with_reader!`), out of a
/// test's reach, so a test cannot hand it an address log as it can to a block it builds itself.
/// Once [`enable`](crate::buffer::address_probe::enable)d, this records the memory of every
/// block a [`MappedBlockWriter`] submits and every slice a [`MappedBlockReader`] hands out, with the FutureSDR id of the block owning the
/// writer or reader, and every slice a capture sink hands to `write(2)`
/// ([`SinkFile`](crate::SinkFile)): a test then checks that the slices a block read (or
/// wrote to its file) lie inside the blocks its source submitted. Off by default (one relaxed atomic load per slice). Block ids are per
/// flowgraph, so a test that enables it should be alone in its test binary and run one
/// flowgraph at a time.
pub mod address_probe {
    use std::ops::Range;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futuresdr::runtime::BlockId;

    /// What a record is about.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Access {
        /// A writer submitted a mapped block occupying these bytes.
        Submitted,
        /// A reader handed these bytes to its block as its input slice.
        Read,
        /// A sink handed these bytes to `write(2)`, from this memory (see
        /// [`SinkFile`](crate::sink_file::SinkFile)).
        Written,
    }

    /// One submitted block or one slice handed out.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Record {
        /// The block owning the writer or the reader.
        pub block: BlockId,
        /// Submitted or read.
        pub access: Access,
        /// Address range.
        pub bytes: Range<usize>,
    }

    static ENABLED: AtomicBool = AtomicBool::new(false);
    static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

    /// Start recording (for the rest of the process).
    pub fn enable() {
        ENABLED.store(true, Ordering::Relaxed);
    }

    /// The records so far, clearing them.
    pub fn take() -> Vec<Record> {
        std::mem::take(&mut *RECORDS.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn record(block: BlockId, access: Access, bytes: &[u8]) {
        if ENABLED.load(Ordering::Relaxed) && !bytes.is_empty() {
            let start = bytes.as_ptr() as usize;
            RECORDS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Record {
                    block,
                    access,
                    bytes: start..start + bytes.len(),
                });
        }
    }
}

/// A block of memory owned by a device and lent to readers.
///
/// Dropping the last reference releases the block (for DMABUF: back to the kernel).
pub trait MappedBlock: Send + Sync + 'static {
    /// The valid bytes of the block.
    fn bytes(&self) -> &[u8];

    /// A reader has let go of the block (consumed past its end). Called once per reader, on
    /// the reader's thread, before its reference is dropped: the IIO source times the first
    /// consumer's release from it. The default does nothing.
    fn released_by_reader(&self) {}
}

/// One block queued for a reader.
struct Chunk {
    block: Arc<dyn MappedBlock>,
    items: usize,
    tags: Vec<ItemTag>,
}

type ChunkQueue = Arc<Mutex<VecDeque<Chunk>>>;

struct ReaderLink {
    queue: ChunkQueue,
    reader: PortEndpoint,
}

/// Writer half: the source submits whole mapped blocks.
pub struct MappedBlockWriter<T> {
    core: PortCore,
    readers: Vec<ReaderLink>,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for MappedBlockWriter<T> {
    fn default() -> Self {
        Self {
            core: PortCore::new_disconnected(),
            readers: Vec::new(),
            _item: PhantomData,
        }
    }
}

impl<T: bytemuck::Pod> MappedBlockWriter<T> {
    /// Hand `block` to every connected reader, with stream tags (indices in items).
    ///
    /// Fails when the block's length or alignment does not fit whole items of `T`; nothing is
    /// queued then, and the block is released at once.
    pub fn submit(
        &mut self,
        block: Arc<dyn MappedBlock>,
        tags: Vec<ItemTag>,
    ) -> Result<usize, Error> {
        let bytes = block.bytes();
        let items = bytemuck::try_cast_slice::<u8, T>(bytes)
            .map_err(|e| {
                Error::RuntimeError(format!(
                    "mapped block of {} bytes does not hold whole {} items: {e}",
                    bytes.len(),
                    std::any::type_name::<T>()
                ))
            })?
            .len();
        address_probe::record(
            self.core.block_id(),
            address_probe::Access::Submitted,
            bytes,
        );
        for link in &self.readers {
            link.queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_back(Chunk {
                    block: block.clone(),
                    items,
                    tags: tags.clone(),
                });
            link.reader.inbox().notify();
        }
        Ok(items)
    }

    /// Wakes the block owning this writer; blocks use it to be called again when something
    /// outside the runtime (a released DMA block) needs their attention. Only valid once the
    /// block is part of a flowgraph.
    pub fn notifier(&self) -> BlockNotifier {
        self.core.notifier()
    }

    /// Blocks queued at the slowest reader and not yet started.
    pub fn queued(&self) -> usize {
        self.readers
            .iter()
            .map(|l| l.queue.lock().unwrap_or_else(|p| p.into_inner()).len())
            .max()
            .unwrap_or(0)
    }
}

impl<T: Send + 'static> BufferWriter for MappedBlockWriter<T> {
    type Reader = MappedBlockReader<T>;

    fn init(&mut self, block_id: BlockId, port_id: PortId, inbox: BlockInbox) {
        self.core.init(block_id, port_id, inbox);
    }

    fn validate(&self) -> Result<(), Error> {
        if self.readers.is_empty() {
            Err(self.core.not_connected_error())
        } else {
            Ok(())
        }
    }

    fn connect(&mut self, dest: &mut Self::Reader) {
        let queue: ChunkQueue = Arc::default();
        self.readers.push(ReaderLink {
            queue: queue.clone(),
            reader: PortEndpoint::new(dest.core.inbox(), dest.core.port_id()),
        });
        dest.state.set_connected(ConnectedReader {
            queue,
            writer: PortEndpoint::new(self.core.inbox(), self.core.port_id()),
        });
    }

    async fn notify_finished(&mut self) {
        for link in &self.readers {
            let _ = link
                .reader
                .inbox()
                .send(BlockMessage::StreamInputDone {
                    input_id: link.reader.port_id(),
                })
                .await;
        }
    }

    fn block_id(&self) -> BlockId {
        self.core.block_id()
    }

    fn port_id(&self) -> PortId {
        self.core.port_id()
    }
}

struct ConnectedReader {
    queue: ChunkQueue,
    writer: PortEndpoint,
}

struct Current {
    block: Arc<dyn MappedBlock>,
    offset: usize,
    items: usize,
    tags: Vec<ItemTag>,
}

/// Reader half: `slice()` is the mapped memory of the current block, not a copy of it.
///
/// Blocks are separate mappings, so a slice never runs from one block into the next. A reader
/// that needs `min_items` contiguous items ([`CpuBufferReader::set_min_items`]: a FIR's taps,
/// an FFT frame) would stall on the last few items of a block. For those, and only there, the
/// reader hands out a *seam*: a small copy of the rest of the current block followed by the
/// first `min_items` items of the next, so a filter keeps its history across blocks. Everything
/// else is read in place; a block is released as soon as the reader has consumed past its end.
pub struct MappedBlockReader<T> {
    core: PortCore,
    state: ConnectionState<ConnectedReader>,
    current: Option<Current>,
    finished: bool,
    min_items: usize,
    /// The seam copy (rest of the current block, then the head of the next), when in use.
    seam: Vec<T>,
    seam_tags: Vec<ItemTag>,
    seam_items_copied: u64,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for MappedBlockReader<T> {
    fn default() -> Self {
        Self {
            core: PortCore::new_disconnected(),
            state: ConnectionState::disconnected(),
            current: None,
            finished: false,
            min_items: 1,
            seam: Vec::new(),
            seam_tags: Vec::new(),
            seam_items_copied: 0,
            _item: PhantomData,
        }
    }
}

impl<T> MappedBlockReader<T> {
    /// Items copied into seams so far (see the type's documentation): zero when no block ever
    /// ended with fewer than `min_items` items left.
    pub fn seam_items_copied(&self) -> u64 {
        self.seam_items_copied
    }

    fn queue_is_empty(&self) -> bool {
        self.state
            .as_ref()
            .is_none_or(|s| s.queue.lock().unwrap_or_else(|p| p.into_inner()).is_empty())
    }
}

#[async_trait]
impl<T: Send + 'static> BufferReader for MappedBlockReader<T> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn init(&mut self, block_id: BlockId, port_id: PortId, inbox: BlockInbox) {
        self.core.init(block_id, port_id, inbox);
    }

    fn validate(&self) -> Result<(), Error> {
        if self.state.is_connected() {
            Ok(())
        } else {
            Err(self.core.not_connected_error())
        }
    }

    async fn notify_finished(&mut self) {
        // Release what we hold now: the source must get its blocks back to shut down.
        self.current = None;
        if let Some(state) = self.state.as_ref() {
            state
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            let _ = state
                .writer
                .inbox()
                .send(BlockMessage::StreamOutputDone {
                    output_id: state.writer.port_id(),
                })
                .await;
        }
    }

    fn finish(&mut self) {
        self.finished = true;
    }

    fn finished(&self) -> bool {
        // Items left in the last block that are too few for the block to ever use do not hold
        // the stream open (a FIR's last taps − 1 items, as with a circular buffer).
        self.finished
            && self
                .current
                .as_ref()
                .is_none_or(|c| c.items - c.offset < self.min_items)
            && self.queue_is_empty()
    }

    fn block_id(&self) -> BlockId {
        self.core.block_id()
    }

    fn port_id(&self) -> PortId {
        self.core.port_id()
    }
}

static NO_TAGS: Vec<ItemTag> = Vec::new();

impl<T: CpuSample + bytemuck::Pod> CpuBufferReader for MappedBlockReader<T> {
    type Item = T;

    fn slice_with_tags(&mut self) -> (&[T], &Vec<ItemTag>) {
        let block = self.core.block_id();
        let (items, tags) = self.next_slice();
        address_probe::record(
            block,
            address_probe::Access::Read,
            bytemuck::cast_slice(items),
        );
        (items, tags)
    }

    fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let Some(c) = self.current.as_mut() else {
            return;
        };
        let left = c.items - c.offset;
        if !self.seam.is_empty() && n >= left {
            // Consumed past the end of the current block inside a seam: continue in place in
            // the next block, which the seam was built from.
            self.seam.clear();
            self.seam_tags.clear();
            c.block.released_by_reader();
            let next = self.state.as_ref().and_then(|s| {
                s.queue
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop_front()
            });
            self.current = next.map(|c| {
                let skip = (n - left).min(c.items);
                let tags = c
                    .tags
                    .into_iter()
                    .filter(|t| t.index >= skip)
                    .map(|mut t| {
                        t.index -= skip;
                        t
                    })
                    .collect();
                Current {
                    block: c.block,
                    offset: skip,
                    items: c.items,
                    tags,
                }
            });
            if self.current.as_ref().is_some_and(|c| c.offset == c.items) {
                self.current = None;
            }
            self.core.inbox().notify();
            return;
        }
        self.seam.clear();
        self.seam_tags.clear();
        c.offset = (c.offset + n).min(c.items);
        // Tag indices are relative to the start of the current slice.
        c.tags.retain_mut(|t| {
            if t.index < n {
                false
            } else {
                t.index -= n;
                true
            }
        });
        if c.offset == c.items {
            // Dropping our reference releases the block once every reader is done with it.
            c.block.released_by_reader();
            self.current = None;
            if !self.queue_is_empty() {
                self.core.inbox().notify();
            }
        }
    }

    fn set_min_items(&mut self, n: usize) {
        self.min_items = n.max(1);
        self.core.set_min_items(n);
    }

    fn set_min_buffer_size_in_items(&mut self, n: usize) {
        self.core.set_min_buffer_size_in_items(n);
    }

    fn max_items(&self) -> usize {
        self.current.as_ref().map_or(usize::MAX, |c| c.items)
    }
}

impl<T: CpuSample + bytemuck::Pod> MappedBlockReader<T> {
    /// The current input slice: the device block in place, or a seam.
    fn next_slice(&mut self) -> (&[T], &Vec<ItemTag>) {
        if self.build_seam() {
            return (&self.seam, &self.seam_tags);
        }
        if self.current.is_none() {
            let Some(state) = self.state.as_ref() else {
                return (&[], &NO_TAGS);
            };
            let next = state
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            match next {
                Some(c) => {
                    self.current = Some(Current {
                        block: c.block,
                        offset: 0,
                        items: c.items,
                        tags: c.tags,
                    })
                }
                None => return (&[], &NO_TAGS),
            }
        }
        let Some(c) = self.current.as_ref() else {
            return (&[], &NO_TAGS);
        };
        // `submit` checked that the block casts to whole, aligned items.
        let items: &[T] = bytemuck::cast_slice(c.block.bytes());
        (&items[c.offset..c.items], &c.tags)
    }

    /// When fewer than `min_items` items are left in the current block and the next block has
    /// arrived, (re)build the seam and return true.
    fn build_seam(&mut self) -> bool {
        let Some(c) = self.current.as_ref() else {
            return false;
        };
        let left = c.items - c.offset;
        if self.min_items <= 1 || left >= self.min_items {
            return false;
        }
        let Some(state) = self.state.as_ref() else {
            return false;
        };
        let queue = state.queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(next) = queue.front() else {
            return false;
        };
        let head = next.items.min(self.min_items);
        let items: &[T] = bytemuck::cast_slice(c.block.bytes());
        let next_items: &[T] = bytemuck::cast_slice(next.block.bytes());
        self.seam.clear();
        self.seam.extend_from_slice(&items[c.offset..c.items]);
        self.seam.extend_from_slice(&next_items[..head]);
        self.seam_items_copied += (left + head) as u64;
        self.seam_tags.clear();
        self.seam_tags.extend(c.tags.iter().cloned());
        self.seam_tags
            .extend(next.tags.iter().filter(|t| t.index < head).map(|t| {
                let mut t = t.clone();
                t.index += left;
                t
            }));
        true
    }
}

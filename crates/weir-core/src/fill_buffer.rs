//! The fill-in-place buffer: an upstream block writes its output straight into device memory.
//!
//! The TX twin of [`crate::buffer`]. A sink that owns DMA blocks lends each empty block to its
//! [`FillBlockReader`]; the upstream block's [`FillBlockWriter`] implements FutureSDR's
//! [`CpuBufferWriter`], so its `slice()` *is* the empty block's mapped memory, and `produce()`
//! fills it. A full block — or the partial last one when the stream ends — travels back to the
//! sink with the number of bytes filled, and the sink queues it to the device. No copy between
//! the last DSP block and the hardware; back-pressure is the number of blocks.

use std::any::Any;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use futuresdr::runtime::BlockMessage;
use futuresdr::runtime::buffer::{ConnectionState, PortCore, PortEndpoint, Tags};
use futuresdr::runtime::dev::prelude::*;
use futuresdr::runtime::{BlockId, Error, PortId};

/// Device memory that can be filled by another block and later given back to its owner.
pub trait FillableBlock: Send + 'static {
    /// The whole block, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Back to the concrete type, for the owner to take its memory back.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// An empty block lent to the writer.
pub struct EmptyBlock {
    /// The owner's index of the block.
    pub index: usize,
    /// Its memory.
    pub memory: Box<dyn FillableBlock>,
}

/// A block the writer filled, coming back to the owner.
pub struct FilledBlock {
    /// The owner's index of the block.
    pub index: usize,
    /// Its memory.
    pub memory: Box<dyn FillableBlock>,
    /// Bytes written from the start of the block.
    pub bytes: usize,
}

#[derive(Default)]
struct Queues {
    empty: Mutex<VecDeque<EmptyBlock>>,
    filled: Mutex<VecDeque<FilledBlock>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Current {
    block: EmptyBlock,
    filled: usize,
}

/// Writer half, on the upstream block's output: `slice()` is the current empty device block.
pub struct FillBlockWriter<T> {
    core: PortCore,
    state: ConnectionState<(Arc<Queues>, PortEndpoint)>,
    current: Option<Current>,
    tags: Vec<ItemTag>,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for FillBlockWriter<T> {
    fn default() -> Self {
        Self {
            core: PortCore::new_disconnected(),
            state: ConnectionState::disconnected(),
            current: None,
            tags: Vec::new(),
            _item: PhantomData,
        }
    }
}

impl<T> FillBlockWriter<T> {
    /// Send the current block to the reader with what it holds.
    fn hand_over(&mut self) {
        let (Some(c), Some((queues, reader))) = (self.current.take(), self.state.as_ref()) else {
            return;
        };
        lock(&queues.filled).push_back(FilledBlock {
            index: c.block.index,
            memory: c.block.memory,
            bytes: c.filled,
        });
        reader.inbox().notify();
    }
}

impl<T: Send + 'static> BufferWriter for FillBlockWriter<T> {
    type Reader = FillBlockReader<T>;

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

    fn connect(&mut self, dest: &mut Self::Reader) {
        let queues: Arc<Queues> = Arc::default();
        self.state.set_connected((
            queues.clone(),
            PortEndpoint::new(dest.core.inbox(), dest.core.port_id()),
        ));
        dest.state.set_connected((
            queues,
            PortEndpoint::new(self.core.inbox(), self.core.port_id()),
        ));
    }

    async fn notify_finished(&mut self) {
        // The partial last block is sent exactly as filled.
        if self.current.as_ref().is_some_and(|c| c.filled > 0) {
            self.hand_over();
        }
        if let Some((_, reader)) = self.state.as_ref() {
            let _ = reader
                .inbox()
                .send(BlockMessage::StreamInputDone {
                    input_id: reader.port_id(),
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

impl<T: CpuSample + bytemuck::Pod> CpuBufferWriter for FillBlockWriter<T> {
    type Item = T;

    fn slice_with_tags(&mut self) -> (&mut [T], Tags<'_>) {
        if self.current.is_none()
            && let Some((queues, _)) = self.state.as_ref()
            && let Some(block) = lock(&queues.empty).pop_front()
        {
            self.current = Some(Current { block, filled: 0 });
        }
        // Tags cannot travel to the hardware; they are dropped here.
        self.tags.clear();
        let Some(c) = self.current.as_mut() else {
            return (&mut [], Tags::new(&mut self.tags, 0));
        };
        let bytes = &mut c.block.memory.bytes_mut()[c.filled..];
        // The owner hands out blocks holding whole, aligned items; should one not, the writer
        // sees no room rather than a panic.
        let items = bytemuck::try_cast_slice_mut::<u8, T>(bytes).unwrap_or_default();
        (items, Tags::new(&mut self.tags, 0))
    }

    fn produce(&mut self, n: usize) {
        let Some(c) = self.current.as_mut() else {
            return;
        };
        c.filled += n * std::mem::size_of::<T>();
        let len = c.block.memory.bytes_mut().len();
        if c.filled >= len {
            self.hand_over();
            if let Some((queues, _)) = self.state.as_ref()
                && !lock(&queues.empty).is_empty()
            {
                self.core.inbox().notify();
            }
        }
    }

    fn set_min_items(&mut self, n: usize) {
        self.core.set_min_items(n);
    }

    fn set_min_buffer_size_in_items(&mut self, n: usize) {
        self.core.set_min_buffer_size_in_items(n);
    }

    fn max_items(&self) -> usize {
        usize::MAX
    }
}

/// Reader half, on the sink's input: lends empty blocks, takes filled ones back.
pub struct FillBlockReader<T> {
    core: PortCore,
    state: ConnectionState<(Arc<Queues>, PortEndpoint)>,
    finished: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for FillBlockReader<T> {
    fn default() -> Self {
        Self {
            core: PortCore::new_disconnected(),
            state: ConnectionState::disconnected(),
            finished: false,
            _item: PhantomData,
        }
    }
}

impl<T> FillBlockReader<T> {
    /// Lend an empty block to the writer.
    pub fn give_empty(&mut self, block: EmptyBlock) {
        if let Some((queues, writer)) = self.state.as_ref() {
            lock(&queues.empty).push_back(block);
            writer.inbox().notify();
        }
    }

    /// The next filled block, if any.
    pub fn take_filled(&mut self) -> Option<FilledBlock> {
        self.state
            .as_ref()
            .and_then(|(queues, _)| lock(&queues.filled).pop_front())
    }

    /// Whether the writer has finished and every filled block was taken.
    pub fn is_done(&self) -> bool {
        self.finished
            && self
                .state
                .as_ref()
                .is_none_or(|(queues, _)| lock(&queues.filled).is_empty())
    }
}

#[async_trait]
impl<T: Send + 'static> BufferReader for FillBlockReader<T> {
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
        if let Some((queues, writer)) = self.state.as_ref() {
            lock(&queues.empty).clear();
            let _ = writer
                .inbox()
                .send(BlockMessage::StreamOutputDone {
                    output_id: writer.port_id(),
                })
                .await;
        }
    }

    fn finish(&mut self) {
        self.finished = true;
    }

    fn finished(&self) -> bool {
        self.is_done()
    }

    fn block_id(&self) -> BlockId {
        self.core.block_id()
    }

    fn port_id(&self) -> PortId {
        self.core.port_id()
    }
}

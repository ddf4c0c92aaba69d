//! [`SimRx`], the simulated receive device: its blocks, their kernel rules, and its
//! [`Transport`].

mod producer;

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::EventfdFlags;
use rustix::io::Errno;

use self::producer::Producer;
use super::pattern::{Generator, Pattern};
use super::{Kick, SAMPLE_SIZE};
use crate::error::{Error, Result};
use crate::loss::LossEvidence;
use crate::stream::StreamConfig;
use crate::sys::{self, MappedRegion};
use crate::transport::{
    Direction, Interest, Transport, TransportCounters, TransportKind, start_once,
};
use crate::wait::{Deadline, wait_fd};

/// Configuration of a [`SimRx`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Device name, for messages and memfd names. Default `"sim-adc"`.
    pub name: String,
    /// `None`: as fast as possible — the producer waits for a queued block and never
    /// overruns. `Some(r)`: paced in real time at `r` samples/s; when the consumer keeps every
    /// block for too long, samples are lost (overruns), as with real hardware.
    pub sample_rate: Option<f64>,
    /// Block size in bytes; a non-zero multiple of 4 (one sample is I16 + Q16).
    pub block_size: usize,
    /// Queue depth (number of blocks), at least 1.
    pub block_count: usize,
    /// The signal to produce.
    pub pattern: Pattern,
    /// Fault injection: the n-th completion (0-based, counting only blocks the producer
    /// filled, not overruns) completes with `EIO`, like a DMA transfer whose fence signals an
    /// error.
    pub fail_block: Option<u64>,
    /// Whether the transport reports the losses it counts (`loss_evidence` = exact, the
    /// default). `false` makes it behave like a kernel transport, which sees no loss: its
    /// counters then stay with [`SimRx::loss_probe`] and users must rely on the estimate.
    pub report_losses: bool,
    /// Unpaced only: how long the producer, finding no block queued, keeps looking (spinning
    /// on its own thread) before it sleeps until one is. Default 50 µs; zero sleeps at once.
    /// A DMA engine needs no waking to take the next block; a sleeping producer does, and that
    /// wake-up was most of a small block's cost (BENCHMARKS.md, eighth session).
    pub idle_spin: Duration,
}

impl Default for SimConfig {
    /// 64 KiB blocks, 4 blocks, unlimited rate, [`Pattern::Ramp`], a 50 µs idle spin.
    fn default() -> Self {
        SimConfig {
            name: "sim-adc".to_string(),
            sample_rate: None,
            block_size: 64 * 1024,
            block_count: 4,
            pattern: Pattern::Ramp,
            fail_block: None,
            report_losses: true,
            idle_spin: Duration::from_micros(50),
        }
    }
}

impl SimConfig {
    fn validate(&self) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Config {
                device: self.name.clone(),
                message,
            })
        };
        if self.block_size == 0 || !self.block_size.is_multiple_of(SAMPLE_SIZE) {
            return bad(format!(
                "block size must be a non-zero multiple of the {SAMPLE_SIZE}-byte sample, got {}",
                self.block_size
            ));
        }
        if self.block_count == 0 {
            return bad("block count must be at least 1".to_string());
        }
        if let Some(rate) = self.sample_rate {
            let samples = (self.block_size / SAMPLE_SIZE) as f64;
            // The producer turns sample counts into durations; refuse rates for which one
            // block would not even be a representable time span.
            if !(rate.is_finite() && rate > 0.0)
                || Duration::try_from_secs_f64(samples / rate).is_err()
            {
                return bad(format!(
                    "sample rate must be a positive, finite number of samples/s, got {rate}"
                ));
            }
        }
        if let Pattern::Tone {
            frequency,
            amplitude,
        } = self.pattern
            && !(frequency.is_finite() && amplitude.is_finite())
        {
            return bad(format!(
                "tone frequency and amplitude must be finite, got {frequency} and {amplitude}"
            ));
        }
        Ok(())
    }
}

/// Where a block is in its life cycle. The CPU owns `Idle` and `Done` blocks (a `Done` block's
/// completion has not been collected yet); the producer owns `Queued` and `Filling` ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Detached,
    Idle,
    Queued,
    Filling,
    /// Completed; `Some(errno)` for a failed transfer.
    Done(Option<Errno>),
}

#[derive(Debug)]
struct Slot {
    state: BlockState,
    bytes_used: usize,
    /// Enqueue order, to find the oldest outstanding block (completion is FIFO).
    seq: u64,
    /// `(overruns, dropped_samples)` when the block began to fill: the losses before its
    /// first sample. A loss counted later (while the block waits for the CPU) lies after it.
    lost_before: (u64, u64),
}

/// Everything the CPU side and the producer both touch, under one mutex.
#[derive(Debug)]
struct State {
    enabled: bool,
    /// Tells the producer to finish; set by `disable`.
    stop: bool,
    /// The producer sleeps on `Shared::wake`: only then does a queued block need a wake-up.
    parked: bool,
    slots: Vec<Slot>,
    /// Queued blocks in enqueue order: the producer takes the front.
    queue: VecDeque<usize>,
    next_seq: u64,
    counters: TransportCounters,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the producer: a block was queued, or it must stop. Only notified while the
    /// producer sleeps on it (`State::parked`).
    wake: Condvar,
    /// Kicked by every enqueue and stop, for the spinning producer.
    kick: Kick,
}

impl Shared {
    /// Poisoning only means a producer thread panicked; the state itself stays consistent
    /// (every update is a single assignment), so keep going rather than cascade the panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The simulated "hardware": what the producer thread owns while it runs. It lives behind a
/// mutex that the producer holds for its whole life, so it survives the thread (the pattern
/// continues after disable/enable, and nothing is lost if spawning a thread fails).
#[derive(Debug)]
struct Hardware {
    /// The producer's read-write mappings of the blocks.
    maps: Vec<MappedRegion>,
    generator: Generator,
    /// Blocks filled so far, for fault injection.
    completions: u64,
    fail_block: Option<u64>,
    sample_rate: Option<f64>,
    samples_per_block: u64,
    idle_spin: Duration,
}

/// A simulated IIO RX device: see the [module documentation](crate::sim).
///
/// Block ownership follows the kernel: a block must be attached before it can be enqueued,
/// and every block must be attached before [`SimRx::enable`]. Enqueued blocks are filled in
/// FIFO order by a producer thread (named `weir-sim-rx`) that runs between `enable` and
/// `disable`.
///
/// The simple way to use it is through [`Transport`] (`start`, `wait_complete`,
/// `block_memory`, `requeue`, `stop`); the low-level methods are there to check the kernel
/// rules.
#[derive(Debug)]
pub struct SimRx {
    config: SimConfig,
    stream: StreamConfig,
    /// The CPU's read-only mappings.
    memory: Vec<Arc<MappedRegion>>,
    /// One completion eventfd per block; the producer holds a clone of the Arc.
    events: Arc<Vec<OwnedFd>>,
    shared: Arc<Shared>,
    hardware: Arc<Mutex<Hardware>>,
    producer: Option<JoinHandle<()>>,
}

impl SimRx {
    /// Validates `config` ([`Error::Config`]) and allocates the blocks: a memfd per block,
    /// mapped read-write (producer) and read-only (CPU), and a completion eventfd. The memfds
    /// are closed once mapped; the mappings keep the memory. Every block starts detached.
    pub fn new(config: SimConfig) -> Result<SimRx> {
        config.validate()?;
        let name = config.name.as_str();
        let stream = StreamConfig::simulated(
            name,
            Direction::In,
            SAMPLE_SIZE,
            config.block_size,
            config.block_count,
        );
        let memfd_base = stream.memfd_stem();
        let mut maps = Vec::with_capacity(config.block_count);
        let mut memory = Vec::with_capacity(config.block_count);
        let mut events = Vec::with_capacity(config.block_count);
        // On any error, what was already allocated is dropped (unmapped, closed) on return.
        for i in 0..config.block_count {
            let fd = sys::memfd(&format!("{memfd_base}-block{i}"), config.block_size)
                .map_err(|e| e.on_device(name))?;
            maps.push(
                MappedRegion::map_read_write(fd.as_fd(), config.block_size)
                    .map_err(|e| e.on_device(name))?,
            );
            memory.push(Arc::new(
                MappedRegion::map_read_only(fd.as_fd(), config.block_size)
                    .map_err(|e| e.on_device(name))?,
            ));
            events.push(
                rustix::event::eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)
                    .map_err(|e| Error::os("eventfd", name, e))?,
            );
        }
        let hardware = Hardware {
            maps,
            generator: Generator::new(config.pattern, config.sample_rate.unwrap_or(1.0)),
            completions: 0,
            fail_block: config.fail_block,
            sample_rate: config.sample_rate,
            samples_per_block: stream.samples_per_block() as u64,
            idle_spin: config.idle_spin,
        };
        let state = State {
            enabled: false,
            stop: false,
            parked: false,
            slots: (0..config.block_count)
                .map(|_| Slot {
                    state: BlockState::Detached,
                    bytes_used: 0,
                    seq: 0,
                    lost_before: (0, 0),
                })
                .collect(),
            queue: VecDeque::with_capacity(config.block_count),
            next_seq: 0,
            counters: TransportCounters::default(),
        };
        tracing::debug!(
            device = name,
            block_size = config.block_size,
            block_count = config.block_count,
            sample_rate = ?config.sample_rate,
            "simulated IIO RX device created"
        );
        Ok(SimRx {
            stream,
            memory,
            events: Arc::new(events),
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                wake: Condvar::new(),
                kick: Kick::default(),
            }),
            hardware: Arc::new(Mutex::new(hardware)),
            producer: None,
            config,
        })
    }

    /// The configuration the device was created with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Whether the buffer is enabled (the producer is running).
    pub fn is_enabled(&self) -> bool {
        self.producer.is_some()
    }

    /// Attaches `block` to the buffer (mainline `IIO_BUFFER_DMABUF_ATTACH_IOCTL`).
    ///
    /// `EBUSY` if the buffer is enabled (the kernel refuses attaching after enable);
    /// `EINVAL` if the block is already attached or the index is unknown.
    pub fn attach(&mut self, block: usize) -> Result<()> {
        let mut st = self.shared.lock();
        if block >= st.slots.len() {
            return Err(self.unknown_block("attach", block));
        }
        if st.enabled {
            return Err(self.stream.err(
                "attach",
                Errno::BUSY,
                "the buffer is enabled; attach every block before enabling",
            ));
        }
        let slot = &mut st.slots[block];
        if slot.state != BlockState::Detached {
            return Err(self.stream.err(
                "attach",
                Errno::INVAL,
                format!("block {block} is already attached"),
            ));
        }
        slot.state = BlockState::Idle;
        Ok(())
    }

    /// Detaches `block` (mainline `IIO_BUFFER_DMABUF_DETACH_IOCTL`).
    ///
    /// `EINVAL` if it is not attached (or the index is unknown); `EBUSY` while it is queued or
    /// being filled. A completed block whose completion was not collected may be detached; the
    /// completion is discarded.
    pub fn detach(&mut self, block: usize) -> Result<()> {
        let mut st = self.shared.lock();
        let Some(slot) = st.slots.get_mut(block) else {
            return Err(self.unknown_block("detach", block));
        };
        match slot.state {
            BlockState::Detached => Err(self.stream.err(
                "detach",
                Errno::INVAL,
                format!("block {block} is not attached"),
            )),
            BlockState::Queued | BlockState::Filling => {
                Err(self
                    .stream
                    .err("detach", Errno::BUSY, format!("block {block} is in flight")))
            }
            BlockState::Idle | BlockState::Done(_) => {
                slot.state = BlockState::Detached;
                // Under the lock, so the producer cannot signal in between.
                self.drain_event(block)?;
                Ok(())
            }
        }
    }

    /// Queues `block` for the hardware to fill with `bytes_used` bytes (mainline
    /// `IIO_BUFFER_DMABUF_ENQUEUE_IOCTL`). Allowed before enable: the transfers start then.
    ///
    /// Checked in the kernel's order: `EINVAL` for an unknown index, `bytes_used` 0, larger
    /// than the block, or not a multiple of the 4-byte sample; `EPERM` if the block is not
    /// attached; `EBUSY` if it is still queued or being filled (the kernel blocks, or returns
    /// `EBUSY` with `O_NONBLOCK`). A completed block whose completion was not collected may be
    /// enqueued again; that completion is discarded.
    pub fn enqueue(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        let block_size = self.config.block_size;
        let mut st = self.shared.lock();
        if block >= st.slots.len() {
            return Err(self.unknown_block("enqueue", block));
        }
        if bytes_used == 0 || bytes_used > block_size || !bytes_used.is_multiple_of(SAMPLE_SIZE) {
            return Err(self.stream.err(
                "enqueue",
                Errno::INVAL,
                format!(
                    "bytes_used {bytes_used} must be 1..={block_size} and a multiple of the \
                     {SAMPLE_SIZE}-byte sample"
                ),
            ));
        }
        match st.slots[block].state {
            BlockState::Detached => {
                return Err(self.stream.err(
                    "enqueue",
                    Errno::PERM,
                    format!("block {block} is not attached"),
                ));
            }
            BlockState::Queued | BlockState::Filling => {
                return Err(self.stream.err(
                    "enqueue",
                    Errno::BUSY,
                    format!("block {block} is still in flight"),
                ));
            }
            BlockState::Done(_) => self.drain_event(block)?,
            BlockState::Idle => {}
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let slot = &mut st.slots[block];
        slot.state = BlockState::Queued;
        slot.bytes_used = bytes_used;
        slot.seq = seq;
        st.queue.push_back(block);
        let parked = st.parked;
        self.shared.kick.kick();
        drop(st);
        if parked {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Enables the buffer: starts the producer thread, which fills queued blocks in FIFO
    /// order. Enabling an enabled buffer does nothing (like writing `enable=1` twice).
    pub fn enable(&mut self) -> Result<()> {
        if self.producer.is_some() {
            return Ok(());
        }
        {
            let mut st = self.shared.lock();
            st.enabled = true;
            st.stop = false;
        }
        let producer = Producer {
            shared: Arc::clone(&self.shared),
            events: Arc::clone(&self.events),
            hardware: Arc::clone(&self.hardware),
        };
        let spawned = std::thread::Builder::new()
            .name("weir-sim-rx".to_string())
            .spawn(move || producer.run());
        match spawned {
            Ok(handle) => {
                self.producer = Some(handle);
                tracing::debug!(device = %self.config.name, "simulated buffer enabled");
                Ok(())
            }
            Err(e) => {
                self.shared.lock().enabled = false;
                Err(self.stream.err(
                    "enable",
                    Errno::from_io_error(&e).unwrap_or(Errno::AGAIN),
                    format!("cannot start the producer thread: {e}"),
                ))
            }
        }
    }

    /// Disables the buffer: stops and joins the producer thread. Disabling a disabled buffer
    /// does nothing.
    ///
    /// Blocks that were queued but not completed — including one being filled at that moment
    /// — are **aborted**: they are not reported as completed data (`try_complete` gives
    /// `Ok(None)` for them) and belong to the CPU again, still attached, ready to be enqueued.
    /// Blocks that had already completed stay completed and can still be collected. The
    /// pattern does not advance while disabled.
    pub fn disable(&mut self) -> Result<()> {
        let Some(handle) = self.producer.take() else {
            return Ok(());
        };
        self.shared.lock().stop = true;
        self.shared.kick.kick();
        self.shared.wake.notify_all();
        let joined = handle.join();
        let mut st = self.shared.lock();
        st.enabled = false;
        st.stop = false;
        let aborted = st.queue.len();
        st.queue.clear();
        for slot in &mut st.slots {
            if matches!(slot.state, BlockState::Queued | BlockState::Filling) {
                slot.state = BlockState::Idle;
            }
        }
        drop(st);
        tracing::debug!(device = %self.config.name, aborted, "simulated buffer disabled");
        match joined {
            Ok(()) => Ok(()),
            Err(_) => Err(self
                .stream
                .err("disable", Errno::IO, "the producer thread panicked")),
        }
    }

    /// The running totals (same as [`Transport::counters`], unless the losses are not
    /// reported: then those are zero there, and counted here).
    pub fn counters(&self) -> TransportCounters {
        self.shared.lock().counters.clone()
    }

    /// A handle on the device's own counters that outlives handing the transport to a block:
    /// tests compare the loss estimate with the exact count through it.
    pub fn loss_probe(&self) -> SimLossProbe {
        SimLossProbe(Arc::clone(&self.shared))
    }

    /// The copying `read()` path (like the kernel's fileio mode): waits for the oldest queued
    /// block to complete, copies its bytes into `dst`, enqueues it again whole, and returns
    /// the number of bytes copied (added to `bytes_copied`). This is the baseline that the
    /// zero-copy path is compared against.
    ///
    /// `EINVAL` if `dst` cannot hold a whole block, if no block is queued, or if the oldest
    /// queued block cannot complete (the buffer is disabled). A failed transfer is requeued
    /// and reported as [`Error::TransferFailed`].
    pub fn read(&mut self, dst: &mut [u8]) -> Result<usize> {
        let block_size = self.config.block_size;
        if dst.len() < block_size {
            return Err(self.stream.err(
                "read",
                Errno::INVAL,
                format!(
                    "destination holds {} bytes, a block is {block_size}",
                    dst.len()
                ),
            ));
        }
        let oldest = {
            let st = self.shared.lock();
            st.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    matches!(
                        s.state,
                        BlockState::Queued | BlockState::Filling | BlockState::Done(_)
                    )
                })
                .min_by_key(|(_, s)| s.seq)
                .map(|(i, _)| i)
        };
        let Some(block) = oldest else {
            return Err(self.stream.err("read", Errno::INVAL, "no block is queued"));
        };
        let bytes = match self.wait_complete(block, Duration::MAX) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(self
                    .stream
                    .err("read", Errno::INVAL, "the buffer is not enabled"));
            }
            Err(e @ Error::TransferFailed { .. }) => {
                self.enqueue(block, block_size)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        dst[..bytes].copy_from_slice(&self.memory[block].as_bytes()[..bytes]);
        self.shared.lock().counters.bytes_copied += bytes as u64;
        self.enqueue(block, block_size)?;
        Ok(bytes)
    }

    fn unknown_block(&self, op: &'static str, block: usize) -> Error {
        self.stream.err(
            op,
            Errno::INVAL,
            format!(
                "no block {block} (the device has {})",
                self.config.block_count
            ),
        )
    }

    /// Consumes a pending completion signal. Call with the state lock held.
    fn drain_event(&self, block: usize) -> Result<()> {
        let mut buf = [0u8; 8];
        loop {
            match rustix::io::read(&self.events[block], &mut buf) {
                Ok(_) | Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::os("read eventfd", self.config.name.as_str(), e)),
            }
        }
    }

    fn start_inner(&mut self) -> Result<()> {
        let count = self.config.block_count;
        for block in 0..count {
            if self.state_of(block) == BlockState::Detached {
                self.attach(block)?;
            }
        }
        for block in 0..count {
            // Blocks the caller queued already keep their bytes_used.
            if self.state_of(block) != BlockState::Queued {
                self.enqueue(block, self.config.block_size)?;
            }
        }
        self.enable()
    }

    fn state_of(&self, block: usize) -> BlockState {
        self.shared.lock().slots[block].state
    }
}

impl Transport for SimRx {
    fn kind(&self) -> TransportKind {
        TransportKind::Simulated
    }

    /// The simulated ADC counts every sample it could not write: exact (unless configured not
    /// to report them, see [`SimConfig::report_losses`]).
    fn loss_evidence(&self) -> Option<LossEvidence> {
        self.config.report_losses.then_some(LossEvidence::Exact)
    }

    fn stream(&self) -> &StreamConfig {
        &self.stream
    }

    /// Attaches every detached block, enqueues every block that is not queued yet (whole),
    /// then enables. `EBUSY` if already started. On failure everything is stopped again.
    fn start(&mut self) -> Result<()> {
        let started = self.is_enabled();
        start_once(
            self,
            started,
            "the buffer is already enabled",
            Self::start_inner,
        )
    }

    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest) {
        (self.events[block].as_fd(), Interest::Readable)
    }

    fn try_complete(&mut self, block: usize) -> Result<Option<usize>> {
        if block >= self.config.block_count {
            return Err(self.unknown_block("try_complete", block));
        }
        let mut buf = [0u8; 8];
        loop {
            match rustix::io::read(&self.events[block], &mut buf) {
                Ok(_) => break,
                Err(Errno::AGAIN) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::os("read eventfd", self.config.name.as_str(), e)),
            }
        }
        // Taking the lock the producer released after filling is also what makes its writes
        // to the block visible here (the simulator's "sync for CPU read").
        let mut st = self.shared.lock();
        let slot = &mut st.slots[block];
        let BlockState::Done(status) = slot.state else {
            // The eventfd is only signalled for a Done block and drained whenever a block
            // leaves that state under the lock, so this cannot happen.
            debug_assert!(false, "block {block} signalled in state {:?}", slot.state);
            return Ok(None);
        };
        slot.state = BlockState::Idle;
        let bytes = slot.bytes_used;
        match status {
            None => {
                st.counters.blocks_completed += 1;
                st.counters.bytes_completed += bytes as u64;
                Ok(Some(bytes))
            }
            Some(errno) => {
                drop(st);
                tracing::warn!(device = %self.config.name, block, "transfer failed: {errno}");
                Err(Error::TransferFailed {
                    device: self.config.name.clone(),
                    block,
                    errno,
                })
            }
        }
    }

    /// As documented on the trait, and: returns `Ok(None)` at once when the block cannot
    /// complete (it is not queued, or it is queued but the buffer is disabled), instead of
    /// sleeping for the whole timeout.
    fn wait_complete(&mut self, block: usize, timeout: Duration) -> Result<Option<usize>> {
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(bytes) = self.try_complete(block)? {
                return Ok(Some(bytes));
            }
            {
                let st = self.shared.lock();
                match st.slots[block].state {
                    BlockState::Queued | BlockState::Filling if st.enabled => {}
                    // Completed since the try above: collect it on the next turn.
                    BlockState::Done(_) => continue,
                    _ => return Ok(None),
                }
            }
            if deadline.passed() {
                return Ok(None);
            }
            wait_fd(self.events[block].as_fd(), Interest::Readable, deadline)
                .map_err(|e| Error::os("poll", self.config.name.as_str(), e))?;
        }
    }

    fn block_memory(&self, block: usize) -> Arc<MappedRegion> {
        Arc::clone(&self.memory[block])
    }

    fn requeue(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.enqueue(block, bytes_used)
    }

    /// Disables (aborting what is still queued, see [`SimRx::disable`]) and detaches every
    /// block. Idempotent. Keeps going after an error and returns the first one.
    fn stop(&mut self) -> Result<()> {
        let mut first_error = self.disable().err();
        for block in 0..self.config.block_count {
            if self.state_of(block) != BlockState::Detached
                && let Err(e) = self.detach(block)
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn counters(&self) -> TransportCounters {
        let mut c = SimRx::counters(self);
        if !self.config.report_losses {
            c.overruns = 0;
            c.dropped_samples = 0;
        }
        c
    }

    fn losses_before(&self, block: usize) -> Option<(u64, u64)> {
        if !self.config.report_losses {
            return None;
        }
        self.shared.lock().slots.get(block).map(|s| s.lost_before)
    }
}

impl Drop for SimRx {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(device = %self.config.name, "stopping on drop: {e}");
        }
    }
}

/// The simulated ADC's own counters, readable after the transport was handed on
/// ([`SimRx::loss_probe`]).
#[derive(Debug, Clone)]
pub struct SimLossProbe(Arc<Shared>);

impl SimLossProbe {
    /// The device's running totals, losses included whether reported or not.
    pub fn counters(&self) -> TransportCounters {
        self.0.lock().counters.clone()
    }
}

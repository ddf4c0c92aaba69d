//! [`SimTx`], the simulated transmit device (DAC): its blocks, their rules, and its
//! [`Transport`].

mod dac;

use std::collections::VecDeque;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::EventfdFlags;
use rustix::io::Errno;

use self::dac::{FNV_OFFSET, consume, fnv1a};
use super::{Kick, SAMPLE_SIZE};
use crate::error::{Error, Result};
use crate::loss::LossEvidence;
use crate::stream::StreamConfig;
use crate::sys::{self, MappedRegion};
use crate::transport::{Direction, Interest, Transport, TransportCounters, TransportKind};
use crate::wait::{Deadline, wait_fd};

/// Configuration of a [`SimTx`].
#[derive(Debug, Clone)]
pub struct SimTxConfig {
    /// Device name for messages. Default `sim-dac`.
    pub name: String,
    /// `None`: consume as fast as possible. `Some(r)`: consume in real time at `r` samples/s
    /// (and count underruns when nothing is queued).
    pub sample_rate: Option<f64>,
    /// Bytes per block; a non-zero multiple of 4.
    pub block_size: usize,
    /// Number of blocks (the queue depth), at least 1.
    pub block_count: usize,
    /// Write every consumed byte to this file (what the DAC "transmitted").
    pub output: Option<PathBuf>,
    /// Checksum every consumed byte ([`SimTx::checksum`]). The FNV-1a loop takes one byte per
    /// dependent multiply (well under 1 GiB/s on one core), so it bounds any fast stream.
    /// With `false` the device thread still reads every byte, as a DMA engine's memory traffic,
    /// but as a plain sum of 64-bit words (near the core's read bandwidth), and the checksum
    /// stays that of an empty stream: for benchmarks. Default `true`.
    pub checksum: bool,
    /// Whether the transport reports the underruns it counts (`loss_evidence` = exact, the
    /// default). `false` makes it behave like a kernel transport, which sees none: they are
    /// then only readable through [`SimTx::loss_probe`].
    pub report_losses: bool,
    /// Unpaced only: how long the device thread, finding no block queued, keeps looking
    /// (spinning on its own thread) before it sleeps until one is. Default 50 µs; zero sleeps
    /// at once. As [`crate::SimConfig::idle_spin`].
    pub idle_spin: Duration,
}

impl Default for SimTxConfig {
    fn default() -> Self {
        Self {
            name: "sim-dac".into(),
            sample_rate: None,
            block_size: 64 * 1024,
            block_count: 4,
            output: None,
            checksum: true,
            report_losses: true,
            idle_spin: Duration::from_micros(50),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Cpu,
    Hardware,
}

#[derive(Debug)]
struct State {
    queue: VecDeque<(usize, usize, bool)>,
    owner: Vec<Owner>,
    done_bytes: Vec<Option<usize>>,
    enabled: bool,
    stop: bool,
    counters: TransportCounters,
    bytes_consumed: u64,
    checksum: u64,
    error: Option<String>,
    /// The device thread is reading a block (outside the lock).
    busy: bool,
    /// The device thread sleeps on `Shared::wake` for a block to be queued: only then does
    /// queuing one notify it.
    parked: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Kicked by every enqueue, start and stop, for the spinning device thread.
    kick: Kick,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The simulated DAC; see the [module documentation](crate::sim).
pub struct SimTx {
    config: SimTxConfig,
    stream: StreamConfig,
    /// CPU-side writable mappings; `None` while lent out for zero-copy filling.
    cpu: Vec<Option<MappedRegion>>,
    cpu_read: Vec<Arc<MappedRegion>>,
    events: Arc<Vec<OwnedFd>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SimTx {
    /// A handle on the device's own counters that outlives handing the transport to a block:
    /// tests compare the underrun estimate with the exact count through it.
    pub fn loss_probe(&self) -> SimTxLossProbe {
        SimTxLossProbe(Arc::clone(&self.shared))
    }

    /// Allocates the blocks; the device starts consuming on [`Transport::start`].
    pub fn new(config: SimTxConfig) -> Result<SimTx> {
        let bad = |message: String| Error::Config {
            device: config.name.clone(),
            message,
        };
        if config.block_size == 0 || !config.block_size.is_multiple_of(SAMPLE_SIZE) {
            return Err(bad(format!(
                "block size {} is not a non-zero multiple of {SAMPLE_SIZE}",
                config.block_size
            )));
        }
        if config.block_count == 0 {
            return Err(bad("at least one block is needed".into()));
        }
        if let Some(r) = config.sample_rate
            && !(r.is_finite() && r > 0.0)
        {
            return Err(bad(format!("sample rate {r} is not a positive number")));
        }
        let stream = StreamConfig::simulated(
            &config.name,
            Direction::Out,
            SAMPLE_SIZE,
            config.block_size,
            config.block_count,
        );
        let on_device = |e: Error| e.on_device(&config.name);
        let memfd_base = stream.memfd_stem();
        let mut cpu = Vec::new();
        let mut cpu_read = Vec::new();
        let mut device = Vec::new();
        let mut events = Vec::new();
        for i in 0..config.block_count {
            let fd = sys::memfd(&format!("{memfd_base}-block{i}"), config.block_size)
                .map_err(on_device)?;
            let map = |writable| {
                let region = if writable {
                    MappedRegion::map_read_write(fd.as_fd(), config.block_size)
                } else {
                    MappedRegion::map_read_only(fd.as_fd(), config.block_size)
                };
                region.map_err(on_device)
            };
            cpu.push(Some(map(true)?));
            cpu_read.push(Arc::new(map(false)?));
            device.push(map(false)?);
            events.push(
                rustix::event::eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)
                    .map_err(|e| Error::os("eventfd", config.name.as_str(), e))?,
            );
        }
        let output =
            match &config.output {
                Some(path) => Some(File::create(path).map_err(|e| {
                    bad(format!("cannot create output file {}: {e}", path.display()))
                })?),
                None => None,
            };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                owner: vec![Owner::Cpu; config.block_count],
                done_bytes: vec![None; config.block_count],
                enabled: false,
                stop: false,
                counters: TransportCounters::default(),
                bytes_consumed: 0,
                checksum: FNV_OFFSET,
                error: None,
                busy: false,
                parked: false,
            }),
            wake: Condvar::new(),
            kick: Kick::default(),
        });
        let events = Arc::new(events);
        let thread = {
            let shared = shared.clone();
            let events = events.clone();
            let rate = config.sample_rate;
            let (checksum, idle_spin) = (config.checksum, config.idle_spin);
            std::thread::Builder::new()
                .name("weir-sim-tx".into())
                .spawn(move || consume(shared, events, device, rate, output, checksum, idle_spin))
                .map_err(|e| bad(format!("cannot start the device thread: {e}")))?
        };
        Ok(SimTx {
            config,
            stream,
            cpu,
            cpu_read,
            events,
            shared,
            thread: Some(thread),
        })
    }

    /// The FNV-1a checksum of `bytes`, as [`SimTx::checksum`] computes it over a stream.
    pub fn checksum_of(bytes: &[u8]) -> u64 {
        fnv1a(FNV_OFFSET, bytes)
    }

    /// Bytes consumed so far.
    pub fn bytes_consumed(&self) -> u64 {
        self.shared.lock().bytes_consumed
    }

    /// Checksum of every byte consumed so far, in order.
    pub fn checksum(&self) -> u64 {
        self.shared.lock().checksum
    }

    fn check(&self, op: &'static str, block: usize) -> Result<()> {
        if block >= self.config.block_count {
            Err(self
                .stream
                .err(op, Errno::INVAL, format!("no block {block}")))
        } else {
            Ok(())
        }
    }

    fn queue(&mut self, block: usize, bytes_used: usize, cyclic: bool) -> Result<()> {
        self.check("enqueue", block)?;
        let err = |errno, detail: String| self.stream.err("enqueue", errno, detail);
        if bytes_used == 0
            || bytes_used > self.config.block_size
            || !bytes_used.is_multiple_of(SAMPLE_SIZE)
        {
            return Err(err(
                Errno::INVAL,
                format!(
                    "bytes_used {bytes_used} (block size {}, sample size {SAMPLE_SIZE})",
                    self.config.block_size
                ),
            ));
        }
        let mut s = self.shared.lock();
        if s.owner[block] == Owner::Hardware {
            return Err(err(Errno::BUSY, format!("block {block} is in flight")));
        }
        // Drain a completion nobody collected, so the eventfd means this transfer only.
        let _ = rustix::io::read(&self.events[block], &mut [0u8; 8]);
        s.done_bytes[block] = None;
        s.owner[block] = Owner::Hardware;
        s.queue.push_back((block, bytes_used, cyclic));
        self.shared.kick.kick();
        if s.parked {
            self.shared.wake.notify_all();
        }
        Ok(())
    }
}

impl Transport for SimTx {
    fn kind(&self) -> TransportKind {
        TransportKind::Simulated
    }

    /// The simulated DAC sees every slot it had nothing to send for: exact (unless configured
    /// not to report it, see [`SimTxConfig::report_losses`]).
    fn loss_evidence(&self) -> Option<LossEvidence> {
        self.config.report_losses.then_some(LossEvidence::Exact)
    }

    fn stream(&self) -> &StreamConfig {
        &self.stream
    }

    /// Enables the device; every block belongs to the CPU until it is queued.
    fn start(&mut self) -> Result<()> {
        let mut s = self.shared.lock();
        if s.enabled {
            return Err(Error::os("enable", self.config.name.as_str(), Errno::BUSY));
        }
        s.enabled = true;
        self.shared.kick.kick();
        self.shared.wake.notify_all();
        Ok(())
    }

    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest) {
        (self.events[block].as_fd(), Interest::Readable)
    }

    fn try_complete(&mut self, block: usize) -> Result<Option<usize>> {
        self.check("try_complete", block)?;
        let mut s = self.shared.lock();
        if let Some(e) = s.error.take() {
            return Err(self.stream.err("write output", Errno::IO, e));
        }
        match s.done_bytes[block].take() {
            Some(bytes) => {
                let _ = rustix::io::read(&self.events[block], &mut [0u8; 8]);
                s.owner[block] = Owner::Cpu;
                Ok(Some(bytes))
            }
            None => Ok(None),
        }
    }

    fn wait_complete(&mut self, block: usize, timeout: Duration) -> Result<Option<usize>> {
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(n) = self.try_complete(block)? {
                return Ok(Some(n));
            }
            if deadline.passed() || self.shared.lock().owner[block] == Owner::Cpu {
                return Ok(None);
            }
            wait_fd(self.events[block].as_fd(), Interest::Readable, deadline)
                .map_err(|e| Error::os("poll", self.config.name.as_str(), e))?;
        }
    }

    fn block_memory(&self, block: usize) -> Arc<MappedRegion> {
        Arc::clone(&self.cpu_read[block])
    }

    fn requeue(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.queue(block, bytes_used, false)
    }

    fn requeue_cyclic(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.queue(block, bytes_used, true)
    }

    /// Disables the device: a paced block still on the air is aborted (not counted as sent),
    /// what is still queued is dropped (not sent), every block returns to the CPU. Wait for completions first to send
    /// everything.
    fn stop(&mut self) -> Result<()> {
        let mut s = self.shared.lock();
        s.enabled = false;
        s.queue.clear();
        self.shared.kick.kick();
        while s.busy {
            s = self
                .shared
                .wake
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        for o in s.owner.iter_mut() {
            *o = Owner::Cpu;
        }
        self.shared.wake.notify_all();
        Ok(())
    }

    fn counters(&self) -> TransportCounters {
        let mut c = self.shared.lock().counters.clone();
        if !self.config.report_losses {
            c.underruns = 0;
        }
        c
    }

    fn block_mut(&mut self, block: usize) -> Result<&mut [u8]> {
        self.check("block_mut", block)?;
        if self.shared.lock().owner[block] == Owner::Hardware {
            return Err(self.stream.err(
                "block_mut",
                Errno::BUSY,
                format!("block {block} is in flight"),
            ));
        }
        let name = self.config.name.as_str();
        self.cpu[block]
            .as_mut()
            .map(MappedRegion::as_mut_bytes)
            .ok_or_else(|| {
                Error::os_detail(
                    "block_mut",
                    name,
                    Errno::BUSY,
                    format!("block {block} is lent out"),
                )
            })
    }

    fn lend_block(&mut self, block: usize) -> Result<MappedRegion> {
        self.check("lend_block", block)?;
        if self.shared.lock().owner[block] == Owner::Hardware {
            return Err(self.stream.err(
                "lend_block",
                Errno::BUSY,
                format!("block {block} is in flight"),
            ));
        }
        self.stream.lend(&mut self.cpu[block], block)
    }

    fn return_block(
        &mut self,
        block: usize,
        memory: MappedRegion,
        bytes_used: usize,
    ) -> Result<()> {
        self.check("return_block", block)?;
        self.stream.take_back(&mut self.cpu[block], block, memory)?;
        self.queue(block, bytes_used, false)
    }
}

impl Drop for SimTx {
    fn drop(&mut self) {
        {
            let mut s = self.shared.lock();
            s.stop = true;
            s.enabled = false;
            self.shared.kick.kick();
            self.shared.wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The simulated DAC's own counters, readable after the transport was handed on
/// ([`SimTx::loss_probe`]).
#[derive(Debug, Clone)]
pub struct SimTxLossProbe(Arc<Shared>);

impl SimTxLossProbe {
    /// The device's running totals, underruns included whether reported or not.
    pub fn counters(&self) -> TransportCounters {
        self.0.lock().counters.clone()
    }
}

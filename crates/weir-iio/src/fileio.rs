//! The copying transport: read() (RX) or write() (TX) on the buffer fd.
//!
//! This is the classic IIO interface, available on every kernel and every buffer. To look
//! like the zero-copy transports from above, it keeps N CPU-side blocks of its own (memfds
//! mapped twice, like the simulator's: read-write for filling, read-only for
//! [`Transport::block_memory`]) and moves data between them and the fd:
//!
//! - RX: queued blocks are filled in FIFO order by non-blocking `read()`s; a block completes
//!   when it holds `bytes_used` bytes. The completion fd is the buffer fd itself
//!   ([`Interest::Readable`]); the buffer's `watermark` is set to one block, so `POLLIN`
//!   means "a block's worth is ready".
//! - TX: `requeue(block, n)` queues the first `n` bytes of the block; they are written in FIFO
//!   order by non-blocking `write()`s, and the block completes once all of them were
//!   accepted by the kernel ([`Interest::Writable`]).
//!
//! Every byte moved is counted in [`TransportCounters::bytes_copied`].

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::stream::StreamConfig;
use crate::sys::{self, MappedRegion};
use crate::sysfs::BufferControl;
use crate::transport::{
    Direction, Interest, Transport, TransportCounters, TransportKind, start_once,
};
use crate::wait::{Deadline, wait_fd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Belongs to the CPU.
    Cpu,
    /// Waiting for (RX) or giving (TX) `bytes`; `done` so far.
    Queued { bytes: usize, done: usize },
    /// Transfer finished, completion not collected yet.
    Complete { bytes: usize },
}

/// The read()/write() transport; see the [module documentation](self).
#[derive(Debug)]
pub struct FileIo {
    config: StreamConfig,
    /// The buffer fd (non-blocking).
    fd: OwnedFd,
    /// Keeps the device node open (exclusive access) while the buffer is used.
    _device_fd: Option<OwnedFd>,
    control: Option<BufferControl>,
    /// Writable mappings: read() target (RX) or what the producer fills (TX).
    rw: Vec<MappedRegion>,
    /// Read-only mappings handed out by `block_memory`.
    ro: Vec<Arc<MappedRegion>>,
    slots: Vec<SlotState>,
    /// Queued blocks in transfer order.
    queue: VecDeque<usize>,
    started: bool,
    /// Whether `enable` was written 1 by us (and must be written 0 on stop).
    enabled: bool,
    counters: TransportCounters,
}

impl FileIo {
    /// A read()/write() transport on `fd` (a buffer fd, or anything that reads/writes like
    /// one: a pipe, a socket, a FIFO). `fd` is switched to non-blocking mode.
    ///
    /// `control`, when given, is used by `start` (write `length` and `watermark`, then
    /// `enable` = 1) and `stop` (`enable` = 0); without it the caller enables the buffer.
    pub fn new(
        fd: OwnedFd,
        config: StreamConfig,
        control: Option<BufferControl>,
    ) -> Result<FileIo> {
        config.validate()?;
        let name = config.name.clone();
        let flags =
            rustix::fs::fcntl_getfl(&fd).map_err(|e| Error::os("fcntl(F_GETFL)", &name, e))?;
        rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)
            .map_err(|e| Error::os("fcntl(F_SETFL)", &name, e))?;
        let stem = config.memfd_stem();
        let mut rw = Vec::with_capacity(config.block_count);
        let mut ro = Vec::with_capacity(config.block_count);
        for i in 0..config.block_count {
            let memfd = sys::memfd(&format!("{stem}-fileio{i}"), config.block_size)
                .map_err(|e| e.on_device(&name))?;
            rw.push(
                MappedRegion::map_read_write(memfd.as_fd(), config.block_size)
                    .map_err(|e| e.on_device(&name))?,
            );
            ro.push(Arc::new(
                MappedRegion::map_read_only(memfd.as_fd(), config.block_size)
                    .map_err(|e| e.on_device(&name))?,
            ));
        }
        tracing::debug!(
            device = %name,
            direction = %config.direction,
            block_size = config.block_size,
            block_count = config.block_count,
            "read()/write() transport created"
        );
        Ok(FileIo {
            slots: vec![SlotState::Cpu; config.block_count],
            queue: VecDeque::with_capacity(config.block_count),
            config,
            fd,
            _device_fd: None,
            control,
            rw,
            ro,
            started: false,
            enabled: false,
            counters: TransportCounters::default(),
        })
    }

    /// Keeps `device_fd` (the device node) open for as long as the transport lives.
    pub fn with_device_fd(mut self, device_fd: OwnedFd) -> FileIo {
        self._device_fd = Some(device_fd);
        self
    }

    /// Moves data between the fd and the queued blocks until the kernel would block.
    fn progress(&mut self) -> Result<()> {
        if !self.started {
            return Ok(());
        }
        while let Some(&block) = self.queue.front() {
            let SlotState::Queued { bytes, done } = self.slots[block] else {
                debug_assert!(
                    false,
                    "block {block} queued in state {:?}",
                    self.slots[block]
                );
                self.queue.pop_front();
                continue;
            };
            let result = match self.config.direction {
                Direction::In => {
                    rustix::io::read(&self.fd, &mut self.rw[block].as_mut_bytes()[done..bytes])
                }
                Direction::Out => {
                    rustix::io::write(&self.fd, &self.rw[block].as_bytes()[done..bytes])
                }
            };
            match result {
                Ok(0) if self.config.direction == Direction::In => {
                    // End of file: a pipe whose writer is gone, a device going away. Deliver
                    // the whole samples received; report the end otherwise.
                    let usable = done - done % self.config.sample_size;
                    if usable == 0 {
                        return Err(self.config.err(
                            "read",
                            Errno::NODATA,
                            "end of file on the buffer fd",
                        ));
                    }
                    tracing::debug!(device = %self.config.name, block, usable, "end of file: short block");
                    self.slots[block] = SlotState::Complete { bytes: usable };
                    self.queue.pop_front();
                }
                Ok(0) => {
                    return Err(self.config.err(
                        "write",
                        Errno::IO,
                        "the buffer fd accepted nothing",
                    ));
                }
                Ok(n) => {
                    self.counters.bytes_copied += n as u64;
                    let done = done + n;
                    if done == bytes {
                        self.slots[block] = SlotState::Complete { bytes };
                        self.queue.pop_front();
                    } else {
                        self.slots[block] = SlotState::Queued { bytes, done };
                    }
                }
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(e) => {
                    let op = match self.config.direction {
                        Direction::In => "read",
                        Direction::Out => "write",
                    };
                    return Err(Error::os(op, self.config.name.as_str(), e));
                }
            }
        }
        Ok(())
    }

    fn check_block(&self, op: &'static str, block: usize) -> Result<()> {
        if block >= self.config.block_count {
            return Err(self.config.unknown_block(op, block));
        }
        Ok(())
    }

    fn queue_block(&mut self, block: usize, bytes: usize) {
        self.slots[block] = SlotState::Queued { bytes, done: 0 };
        self.queue.push_back(block);
    }

    fn start_inner(&mut self) -> Result<()> {
        if let Some(control) = &self.control {
            if let Some(length) = self.config.length {
                control.set_length(length)?;
            }
            if let Some(watermark) = self.config.watermark {
                // Best effort: an unknown watermark only costs wake-ups.
                if let Err(e) = control.set_watermark(watermark) {
                    tracing::warn!(device = %self.config.name, "watermark not set: {e}");
                }
            }
        }
        if self.config.direction == Direction::In {
            for block in 0..self.config.block_count {
                if !matches!(self.slots[block], SlotState::Queued { .. }) {
                    self.queue_block(block, self.config.block_size);
                }
            }
        }
        if let Some(control) = &self.control {
            control.set_enabled(true)?;
            self.enabled = true;
        }
        self.started = true;
        self.progress()
    }
}

impl Transport for FileIo {
    fn kind(&self) -> TransportKind {
        TransportKind::FileIo
    }

    fn stream(&self) -> &StreamConfig {
        &self.config
    }

    /// Writes `length` and `watermark` (with a control), queues every block whole (RX) or
    /// keeps them for the CPU (TX, except blocks already requeued), then writes `enable` = 1.
    /// `EBUSY` if already started; on failure everything is stopped again.
    fn start(&mut self) -> Result<()> {
        let started = self.started;
        start_once(self, started, "already started", Self::start_inner)
    }

    fn completion_fd(&self, block: usize) -> (BorrowedFd<'_>, Interest) {
        assert!(block < self.config.block_count, "no block {block}");
        let interest = match self.config.direction {
            Direction::In => Interest::Readable,
            Direction::Out => Interest::Writable,
        };
        (self.fd.as_fd(), interest)
    }

    fn try_complete(&mut self, block: usize) -> Result<Option<usize>> {
        self.check_block("try_complete", block)?;
        let mut progress = Ok(());
        if matches!(self.slots[block], SlotState::Queued { .. }) {
            progress = self.progress();
        }
        let SlotState::Complete { bytes } = self.slots[block] else {
            // An error moving a later block (end of file after this one, say) does not hide
            // this block's completion; it comes back when that block is asked for.
            return progress.map(|()| None);
        };
        self.slots[block] = SlotState::Cpu;
        self.counters.blocks_completed += 1;
        self.counters.bytes_completed += bytes as u64;
        Ok(Some(bytes))
    }

    /// As documented on the trait; returns `Ok(None)` at once when the block cannot complete
    /// (not queued, or not started).
    fn wait_complete(&mut self, block: usize, timeout: Duration) -> Result<Option<usize>> {
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(bytes) = self.try_complete(block)? {
                return Ok(Some(bytes));
            }
            if !self.started
                || !matches!(self.slots[block], SlotState::Queued { .. })
                || deadline.passed()
            {
                return Ok(None);
            }
            let interest = match self.config.direction {
                Direction::In => Interest::Readable,
                Direction::Out => Interest::Writable,
            };
            wait_fd(self.fd.as_fd(), interest, deadline)
                .map_err(|e| Error::os("poll", self.config.name.as_str(), e))?;
        }
    }

    fn block_memory(&self, block: usize) -> Arc<MappedRegion> {
        Arc::clone(&self.ro[block])
    }

    /// Queues `block` for `bytes_used` bytes: to be filled (RX) or to be written (TX, its
    /// first `bytes_used` bytes, exactly). `EBUSY` while it is queued; a completed block
    /// whose completion was not collected may be requeued (the completion is discarded).
    fn requeue(&mut self, block: usize, bytes_used: usize) -> Result<()> {
        self.check_block("requeue", block)?;
        self.config.check_bytes_used("requeue", bytes_used)?;
        if matches!(self.slots[block], SlotState::Queued { .. }) {
            return Err(self.config.err(
                "requeue",
                Errno::BUSY,
                format!("block {block} is queued"),
            ));
        }
        self.queue_block(block, bytes_used);
        if self.config.direction == Direction::Out
            && let Err(e) = self.progress()
        {
            // The block is queued; the error comes back from try_complete/wait_complete.
            tracing::debug!(device = %self.config.name, "write after requeue: {e}");
        }
        Ok(())
    }

    /// Writes `enable` = 0 (if `start` enabled it) and drops what is queued: RX blocks not
    /// yet full and TX data not yet accepted by the kernel are discarded, and every block
    /// belongs to the CPU again (completed ones stay collectable). To send every queued TX
    /// block, wait for their completion before stopping. Idempotent.
    fn stop(&mut self) -> Result<()> {
        let mut result = Ok(());
        if self.enabled {
            self.enabled = false;
            if let Some(control) = &self.control {
                result = control.set_enabled(false);
            }
        }
        self.started = false;
        let dropped = self.queue.len();
        for block in self.queue.drain(..) {
            self.slots[block] = SlotState::Cpu;
        }
        if dropped > 0 {
            tracing::debug!(device = %self.config.name, dropped, "queued blocks dropped on stop");
        }
        result
    }

    fn counters(&self) -> TransportCounters {
        self.counters.clone()
    }

    fn block_mut(&mut self, block: usize) -> Result<&mut [u8]> {
        self.check_block("block_mut", block)?;
        self.config.require_output("block_mut")?;
        match self.slots[block] {
            SlotState::Cpu => Ok(self.rw[block].as_mut_bytes()),
            SlotState::Queued { .. } => {
                Err(self
                    .config
                    .err("block_mut", Errno::BUSY, format!("block {block} is queued")))
            }
            SlotState::Complete { .. } => Err(self.config.err(
                "block_mut",
                Errno::BUSY,
                format!("block {block} completed: collect it with try_complete first"),
            )),
        }
    }
}

impl Drop for FileIo {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(device = %self.config.name, "stopping on drop: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSysfs;
    use rustix::pipe::{PipeFlags, pipe_with};
    use std::io::Write;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn config(direction: Direction, block_size: usize, block_count: usize) -> StreamConfig {
        StreamConfig {
            name: "test-fileio".to_string(),
            direction,
            sample_size: 4,
            block_size,
            block_count,
            bytes_align: 4,
            length: Some(1024),
            watermark: Some(64),
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| i.to_le_bytes()[0].wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn config_is_validated() {
        let good = config(Direction::In, 256, 2);
        good.validate().unwrap();
        for bad in [
            StreamConfig {
                sample_size: 0,
                ..good.clone()
            },
            StreamConfig {
                bytes_align: 6,
                ..good.clone()
            },
            StreamConfig {
                block_size: 250,
                ..good.clone()
            },
            StreamConfig {
                block_size: 0,
                ..good.clone()
            },
            StreamConfig {
                block_count: 0,
                ..good.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::Config { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rx_over_a_pipe_byte_for_byte_with_sysfs_control() {
        let fake = FakeSysfs::new();
        let dev = fake.device(0).buffer(
            0,
            &[("length", "0"), ("watermark", "1"), ("enable", "0")],
            &[],
        );
        let control = BufferControl::new("test", dev.path().join("buffer0"));
        let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let block_size = 256;
        let blocks = 3;
        let mut t = FileIo::new(
            reader,
            config(Direction::In, block_size, blocks),
            Some(control.clone()),
        )
        .unwrap();
        assert_eq!(t.kind(), TransportKind::FileIo);
        assert_eq!(
            (t.block_count(), t.block_size(), t.sample_size()),
            (3, 256, 4)
        );
        assert_eq!(t.completion_fd(0).1, Interest::Readable);
        assert!(matches!(t.block_mut(0), Err(e) if e.errno() == Some(Errno::OPNOTSUPP)));
        // Not started: nothing can complete.
        assert_eq!(t.wait_complete(0, TIMEOUT).unwrap(), None);
        t.start().unwrap();
        assert!(control.is_enabled().unwrap());
        assert_eq!(
            std::fs::read_to_string(dev.path().join("buffer0/length")).unwrap(),
            "1024"
        );
        assert_eq!(
            std::fs::read_to_string(dev.path().join("buffer0/watermark")).unwrap(),
            "64"
        );
        assert_eq!(t.start().unwrap_err().errno(), Some(Errno::BUSY));

        // 10 blocks worth of data written in odd-sized pieces by another thread.
        let total = 10 * block_size;
        let data = pattern(total, 7);
        let sent = data.clone();
        let producer = std::thread::spawn(move || {
            let mut file = std::fs::File::from(writer);
            for piece in sent.chunks(97) {
                file.write_all(piece).unwrap();
            }
        });
        let mut received = Vec::new();
        for n in 0..10 {
            let block = n % blocks;
            let bytes = t
                .wait_complete(block, TIMEOUT)
                .unwrap()
                .expect("block completes");
            assert_eq!(bytes, block_size);
            received.extend_from_slice(&t.block_memory(block).as_bytes()[..bytes]);
            t.requeue(block, block_size).unwrap();
        }
        producer.join().unwrap();
        assert_eq!(received, data);
        let c = t.counters();
        assert_eq!(c.blocks_completed, 10);
        assert_eq!(c.bytes_completed, total as u64);
        assert!(c.bytes_copied >= total as u64);
        // Writer gone, nothing more: end of file is an error, not data.
        let block = 10 % blocks;
        let e = t.wait_complete(block, TIMEOUT).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NODATA));
        t.stop().unwrap();
        assert!(!control.is_enabled().unwrap());
        t.stop().unwrap(); // idempotent
    }

    #[test]
    fn rx_short_last_block_at_end_of_file() {
        let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut t = FileIo::new(reader, config(Direction::In, 64, 2), None).unwrap();
        t.start().unwrap();
        let data = pattern(64 + 22, 1); // one block, then 5 samples and 2 stray bytes
        rustix::io::write(&writer, &data).unwrap();
        drop(writer);
        assert_eq!(t.wait_complete(0, TIMEOUT).unwrap(), Some(64));
        assert_eq!(t.wait_complete(1, TIMEOUT).unwrap(), Some(20));
        assert_eq!(&t.block_memory(1).as_bytes()[..20], &data[64..84]);
        // Requeue checks.
        assert_eq!(t.requeue(0, 0).unwrap_err().errno(), Some(Errno::INVAL));
        assert_eq!(t.requeue(0, 6).unwrap_err().errno(), Some(Errno::INVAL));
        assert_eq!(t.requeue(0, 68).unwrap_err().errno(), Some(Errno::INVAL));
        assert_eq!(t.requeue(5, 64).unwrap_err().errno(), Some(Errno::INVAL));
        assert_eq!(t.try_complete(5).unwrap_err().errno(), Some(Errno::INVAL));
        t.requeue(0, 64).unwrap();
        assert_eq!(t.requeue(0, 64).unwrap_err().errno(), Some(Errno::BUSY));
    }

    #[test]
    fn tx_over_a_pipe_sends_exactly_what_was_filled() {
        let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let block_size = 4096;
        let mut t = FileIo::new(writer, config(Direction::Out, block_size, 2), None).unwrap();
        assert_eq!(t.direction(), Direction::Out);
        assert_eq!(t.completion_fd(1).1, Interest::Writable);
        t.start().unwrap();
        // 5 full blocks and a partial one of 100 bytes (25 samples): 20580 bytes, more than
        // a pipe holds at once, so the reader thread must drain while we write.
        let total = 5 * block_size + 100;
        let data = pattern(total, 3);
        let consumer = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 1000];
            loop {
                match rustix::io::read(&reader, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(Errno::INTR) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            got
        });
        let mut offset = 0;
        let mut n = 0;
        let mut in_flight = VecDeque::new();
        while offset < total {
            let block = n % 2;
            if in_flight.len() == 2 {
                let b = in_flight.pop_front().unwrap();
                assert!(t.wait_complete(b, TIMEOUT).unwrap().is_some());
            }
            let len = block_size.min(total - offset);
            t.block_mut(block).unwrap()[..len].copy_from_slice(&data[offset..offset + len]);
            t.requeue(block, len).unwrap();
            assert_eq!(t.block_mut(block).unwrap_err().errno(), Some(Errno::BUSY));
            in_flight.push_back(block);
            offset += len;
            n += 1;
        }
        for b in in_flight {
            assert!(t.wait_complete(b, TIMEOUT).unwrap().is_some());
        }
        t.stop().unwrap();
        drop(t); // closes the write end: the consumer sees end of file
        let got = consumer.join().unwrap();
        assert_eq!(got.len(), total);
        assert_eq!(got, data);
    }

    #[test]
    fn tx_counters_and_states() {
        let (reader, writer) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut t = FileIo::new(writer, config(Direction::Out, 64, 2), None).unwrap();
        // Requeued before start: written on start.
        t.block_mut(0).unwrap().fill(0xAB);
        t.requeue(0, 8).unwrap();
        t.start().unwrap();
        assert_eq!(t.try_complete(0).unwrap(), Some(8));
        assert_eq!(t.try_complete(0).unwrap(), None); // collected already
        let mut buf = [0u8; 16];
        assert_eq!(rustix::io::read(&reader, &mut buf).unwrap(), 8);
        assert_eq!(&buf[..8], &[0xAB; 8]);
        let c = t.counters();
        assert_eq!(
            (c.blocks_completed, c.bytes_completed, c.bytes_copied),
            (1, 8, 8)
        );
        assert_eq!(t.bytes_used_align(), 4);
    }
}

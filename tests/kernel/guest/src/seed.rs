//! The seed's ABI on real kernel code: the second guest run (`weir.core=seed`, environment
//! `WEIR_KBENCH_CORE=seed`) boots the IIO core rebuilt from linux-source with the seed's
//! `ALLOC`/`ENQUEUE` ported onto it, and the DMA buffer layer's implementation of them
//! (`tests/kernel/seed/iio-seed-dmabuf-6.12.patch`), in place of Debian's `industrialio.ko`.
//! These tests run only there; the mainline run keeps testing mainline.
//!
//! weir-iio's seed transport on `weir-sim-adc` / `weir-sim-dac` (whose buffers offer both
//! interfaces there, so the seed is forced), the errnos of the seed's core and of the DMA
//! buffer layer's implementation, and `weir-sim-seed`, a buffer with the seed's operations
//! only, where mainline's `ATTACH` is `EPERM` and `TransportChoice::Auto` must pick the seed.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use weir_iio::sys::ioctl::{self, IioDmabuf, IioDmabufAllocReq};
use weir_iio::transport::Transport;
use weir_iio::{Allocator, BufferOptions, Error, Opened, TransportChoice, TransportKind};

use super::{
    ADC, DAC, DacCounters, FIFO, HEAP, Ramp, TIMEOUT, TestResult, buffer_enabled, channels,
    complete, ctx, dac_counters, device, dmabuf_state, errno_name, fnv1a64, rejection, settled,
};

/// The device with the seed's buffer operations only.
const SEED_ONLY: &str = "weir-sim-seed";

/// Whether test `name` belongs to this guest run: the `seed_*` tests to the seed's run only;
/// the seed's run also repeats mainline's DMABUF RX and TX, which must still work on the
/// patched core.
pub fn in_run(name: &str, seed_run: bool) -> bool {
    if name.starts_with("seed_") {
        seed_run
    } else {
        !seed_run || ["rx_dmabuf_dma_heap", "tx_dmabuf_dma_heap"].contains(&name)
    }
}

/// What the `n`-th requeue asks for, cycling: the whole block as 0 (the seed's "the full
/// buffer"), the block size, a partial block of 1000 scans.
fn rx_bytes(n: usize, block_size: usize) -> usize {
    match n % 3 {
        0 => 0,
        1 => block_size,
        _ => 4000,
    }
}

/// What [`receive`] saw.
struct Received {
    ramp: Ramp,
    /// Blocks requeued with a partial `bytes_used`.
    partial: usize,
    /// Blocks whose status was unknown (their fence had signalled before weir exported it:
    /// see tests/kernel/README.md), left out as weir leaves them out.
    unknown: u64,
}

/// Receives `blocks` blocks on an open seed transport, requeueing by [`rx_bytes`]: every
/// completion must report what was asked (0: the whole block) and the data must continue
/// the ramp exactly — a kernel that transferred more or less than `bytes_used` would move
/// the module's stream position by as much and break it at the next block.
fn receive(t: &mut Box<dyn Transport>, blocks: usize) -> Result<Received, String> {
    ensure!(
        t.zero_bytes_used_is_whole_block(),
        "the seed transport does not take 0 as the whole block"
    );
    let bs = t.block_size();
    // The transport's first enqueue (at start) asks for whole blocks.
    let mut asked = vec![bs; t.block_count()];
    let mut ramp = Ramp::default();
    let (mut partial, mut unknown) = (0, 0);
    t.start().map_err(ctx("start"))?;
    for n in 0..blocks {
        let b = n % t.block_count();
        let bytes = match complete(&mut **t, n, b)? {
            Some(bytes) => bytes,
            None => {
                // Not delivered: its bytes are a gap of exactly what was asked.
                ramp.skip(asked[b]);
                unknown += 1;
                0
            }
        };
        if bytes == 0 {
            t.requeue(b, 0).map_err(ctx("requeue"))?;
            asked[b] = bs;
            continue;
        }
        ensure!(
            bytes == asked[b],
            "block {n}: completed with {bytes} bytes, {} were enqueued",
            asked[b]
        );
        let memory = t.block_memory(b);
        ramp.check(&memory.as_bytes()[..bytes])
            .map_err(|e| format!("block {n} ({bytes} bytes): {e}"))?;
        drop(memory);
        let next = rx_bytes(n, bs);
        partial += usize::from(next != 0 && next != bs);
        t.requeue(b, next).map_err(ctx("requeue"))?;
        asked[b] = if next == 0 { bs } else { next };
    }
    let counted = t.counters().status_unknown;
    ensure!(
        counted == unknown,
        "{unknown} blocks of unknown status seen, the transport counted {counted}"
    );
    Ok(Received {
        ramp,
        partial,
        unknown,
    })
}

fn open(name: &str, choice: TransportChoice, samples: usize) -> Result<Opened, String> {
    device(name)?
        .open_buffer(&BufferOptions {
            channels: channels(),
            samples_per_block: samples,
            block_count: 4,
            transport: choice,
            allocators: Allocator::defaults(),
            ..BufferOptions::default()
        })
        .map_err(ctx("open_buffer"))
}

/// Ends a transport and checks that nothing is left: buffer disabled, DMABUFs released.
fn finish(name: &str, mut t: Box<dyn Transport>, objects_before: usize) -> Result<(), String> {
    t.stop().map_err(ctx("stop"))?;
    ensure!(
        !buffer_enabled(&device(name)?)?,
        "{name}: buffer still enabled after stop"
    );
    drop(t);
    let (objects, attached) = settled(Some(objects_before));
    ensure!(
        objects == objects_before && attached == 0,
        "DMABUF objects {objects_before} -> {objects}, {attached} attached"
    );
    Ok(())
}

/// The seed transport (forced) receives from weir-sim-adc: 600 blocks, a third of them
/// requeued with `bytes_used` 0, a third partial; data and byte counts exact.
pub fn seed_rx() -> TestResult {
    let (objects_before, _) = dmabuf_state();
    let opened = open(ADC, TransportChoice::Seed, 4096)?;
    let summary = opened.summary();
    let mut t = opened.transport;
    ensure!(t.kind() == TransportKind::Seed, "transport {summary}");
    let blocks = 600;
    let r = receive(&mut t, blocks)?;
    let c = t.counters();
    ensure!(c.bytes_copied == 0, "counters {c:?}");
    finish(ADC, t, objects_before)?;
    Ok(format!(
        "{summary}: {blocks} blocks ({} partial, 1/3 requeued with bytes_used 0), {} values, ramp exact but for {} blocks of unknown status left out, no copy",
        r.partial, r.ramp.values, r.unknown
    ))
}

/// The seed transport (forced) sends into weir-sim-dac: 40 full blocks, alternately requeued
/// with 0 (the whole block, sent to the kernel as 0: the DMABUF is exactly one block) and the
/// block size, then a partial block of 259 samples.
pub fn seed_tx() -> TestResult {
    let (objects_before, _) = dmabuf_state();
    let opened = open(DAC, TransportChoice::Seed, 1024)?;
    let summary = opened.summary();
    let mut t = opened.transport;
    ensure!(t.kind() == TransportKind::Seed, "transport {summary}");
    let bs = t.block_size();
    ensure!(bs == 4096, "block size {bs}");
    let last = 259 * 4;
    let len = 40 * bs + last;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let payload: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    t.start().map_err(ctx("start"))?;
    let count = t.block_count();
    let (mut off, mut n, mut zeros) = (0, 0, 0);
    // Bytes in transfers of unknown status: the DAC (the ground truth, below) got them, but the
    // transport cannot say so. Every transfer but the last is a whole block.
    let mut unknown = 0;
    while off < payload.len() {
        let b = n % count;
        if n >= count {
            match complete(&mut *t, n - count, b)? {
                Some(done) => ensure!(done == bs, "block {}: completed {done} bytes", n - count),
                None => unknown += bs,
            }
        }
        let chunk = bs.min(payload.len() - off);
        t.block_mut(b).map_err(ctx("block_mut"))?[..chunk]
            .copy_from_slice(&payload[off..off + chunk]);
        let asked = if chunk == bs && n % 2 == 0 {
            zeros += 1;
            0
        } else {
            chunk
        };
        t.requeue(b, asked).map_err(ctx("requeue"))?;
        off += chunk;
        n += 1;
    }
    for k in n.saturating_sub(count)..n {
        let want = if k == n - 1 { last } else { bs };
        let Some(done) = complete(&mut *t, k, k % count)? else {
            unknown += want;
            continue;
        };
        ensure!(
            done == want,
            "block {k}: completed {done} bytes, sent {want}"
        );
    }
    let c = t.counters();
    finish(DAC, t, objects_before)?;
    let dac = device(DAC)?;
    let DacCounters {
        bytes,
        blocks,
        last_bytes,
        checksum,
    } = dac_counters(&dac)?;
    ensure!(
        bytes == len as u64 && blocks == n as u64 && last_bytes == last as u64,
        "the DAC consumed {bytes} bytes in {blocks} blocks (last {last_bytes}); sent {len} in {n} (last {last})"
    );
    ensure!(
        checksum == fnv1a64(&payload),
        "DAC checksum {checksum:016x}, expected {:016x}",
        fnv1a64(&payload)
    );
    ensure!(
        c.bytes_completed == (len - unknown) as u64 && c.bytes_copied == 0 && unknown <= len / 2,
        "{unknown} bytes in transfers of unknown status; counters {c:?}"
    );
    Ok(format!(
        "{summary}: {len} bytes in {n} blocks ({zeros} sent as bytes_used 0, last {last} bytes, {unknown} bytes of unknown status); DAC: {bytes} bytes, {blocks} blocks, last {last_bytes}, fnv {checksum:016x}"
    ))
}

fn expect(what: &str, got: rustix::io::Result<()>, want: Errno) -> Result<String, String> {
    match got {
        Err(e) if e == want => Ok(format!("{what}: {}", errno_name(want))),
        Err(e) => Err(format!(
            "{what}: got {} ({e}), expected {}",
            errno_name(e),
            errno_name(want)
        )),
        Ok(()) => Err(format!("{what}: succeeded, expected {}", errno_name(want))),
    }
}

fn node(name: &str) -> Result<std::os::fd::OwnedFd, String> {
    let dev = device(name)?;
    rustix::fs::open(&dev.node, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(ctx("open node"))
}

fn enqueue(fd: u32, flags: u32, bytes_used: u64) -> IioDmabuf {
    IioDmabuf {
        fd,
        flags,
        bytes_used,
    }
}

/// The seed's errnos on the kernel: those its core defines (EPERM without the operation,
/// EINVAL for a reserved field or a flag) and those of the DMA buffer layer's implementation.
pub fn seed_errors_raw_ioctls() -> TestResult {
    let mut seen = Vec::new();
    let size = 16384u64;
    {
        let fifo = node(FIFO)?;
        seen.push(expect(
            "ALLOC on a kfifo buffer (no alloc_dmabuf)",
            ioctl::seed_dmabuf_alloc(fifo.as_fd(), size).map(drop),
            Errno::PERM,
        )?);
        seen.push(expect(
            "ENQUEUE on a kfifo buffer",
            ioctl::seed_dmabuf_enqueue_raw(fifo.as_fd(), enqueue(0, 0, 0)),
            Errno::PERM,
        )?);
    }
    let adc = node(ADC)?;
    let adc = adc.as_fd();
    seen.push(expect(
        "ALLOC with resv != 0",
        ioctl::seed_dmabuf_alloc_req(adc, IioDmabufAllocReq { size, resv: 1 }).map(drop),
        Errno::INVAL,
    )?);
    seen.push(expect(
        "ALLOC of 0 bytes",
        ioctl::seed_dmabuf_alloc(adc, 0).map(drop),
        Errno::INVAL,
    )?);
    {
        // Served by the device node only, as the seed's diff has it: mainline's buffer-fd
        // handler does not know the request.
        let buffer = ioctl::iio_buffer_get_fd(adc, 0).map_err(ctx("GET_FD"))?;
        seen.push(expect(
            "ALLOC on the buffer fd",
            ioctl::seed_dmabuf_alloc(buffer.as_fd(), size).map(drop),
            Errno::INVAL,
        )?);
    }
    let a = ioctl::seed_dmabuf_alloc(adc, size).map_err(ctx("ALLOC"))?;
    let raw = u32::try_from(a.as_raw_fd()).map_err(ctx("fd"))?;
    let len = rustix::fs::fstat(&a).map_err(ctx("fstat"))?.st_size;
    ensure!(
        len == size as i64,
        "the DMABUF has {len} bytes, {size} asked"
    );
    let odd = ioctl::seed_dmabuf_alloc(adc, 1000).map_err(ctx("ALLOC 1000"))?;
    let odd_len = rustix::fs::fstat(&odd).map_err(ctx("fstat"))?.st_size;
    ensure!(
        odd_len == 4096,
        "ALLOC of 1000 bytes: {odd_len} bytes, expected a page"
    );
    seen.push(format!("ALLOC of 1000 bytes: a {odd_len}-byte DMABUF"));
    seen.push(expect(
        "ENQUEUE with a flag (the seed defines none; mainline's CYCLIC is 1)",
        ioctl::seed_dmabuf_enqueue_raw(adc, enqueue(raw, 1, 0)),
        Errno::INVAL,
    )?);
    seen.push(expect(
        "ENQUEUE bytes_used > size",
        ioctl::seed_dmabuf_enqueue(adc, a.as_fd(), size + 4),
        Errno::INVAL,
    )?);
    seen.push(expect(
        "ENQUEUE of a file that is not a DMABUF",
        ioctl::seed_dmabuf_enqueue(adc, adc, 0),
        Errno::INVAL,
    )?);
    seen.push(expect(
        "ENQUEUE of a closed fd",
        ioctl::seed_dmabuf_enqueue_raw(adc, enqueue(999, 0, 0)),
        Errno::BADF,
    )?);
    {
        let heap = weir_iio::dmabuf::alloc_dma_heap(Path::new(HEAP), size as usize, 1)
            .map_err(ctx("dma-heap"))?;
        seen.push(expect(
            "ENQUEUE of a dma-heap DMABUF (not from ALLOC)",
            ioctl::seed_dmabuf_enqueue(adc, heap[0].as_fd(), 0),
            Errno::INVAL,
        )?);
        let dac = node(DAC)?;
        let other = ioctl::seed_dmabuf_alloc(dac.as_fd(), size).map_err(ctx("ALLOC on DAC"))?;
        seen.push(expect(
            "ENQUEUE of another buffer's DMABUF",
            ioctl::seed_dmabuf_enqueue(adc, other.as_fd(), 0),
            Errno::INVAL,
        )?);
    }
    // Disabled buffer: the first ENQUEUE queues the block, the second finds it queued.
    ioctl::seed_dmabuf_enqueue(adc, a.as_fd(), 0).map_err(ctx("ENQUEUE"))?;
    seen.push(expect(
        "ENQUEUE of a queued DMABUF",
        ioctl::seed_dmabuf_enqueue(adc, a.as_fd(), 0),
        Errno::BUSY,
    )?);
    // Closing a queued DMABUF takes it off the queue (the harness checks it is gone; rmmod at
    // the end that nothing holds the module).
    drop(a);
    drop(odd);
    Ok(seen.join("; "))
}

/// weir-sim-seed offers the seed's operations only: mainline's ATTACH is EPERM (as on a
/// buffer without DMABUF support), and Auto must choose the seed, say why not mainline, and
/// receive the ramp.
pub fn seed_auto_picks_seed() -> TestResult {
    let (objects_before, _) = dmabuf_state();
    let opened = open(SEED_ONLY, TransportChoice::Auto, 4096)?;
    let summary = opened.summary();
    ensure!(
        opened.transport.kind() == TransportKind::Seed,
        "Auto chose {summary}, expected the seed"
    );
    let reason = rejection(&opened, TransportKind::Dmabuf, "mainline")?;
    ensure!(
        reason.contains("does not support DMABUF") && reason.contains("Operation not permitted"),
        "mainline's rejection: {reason}"
    );
    let mut t = opened.transport;
    let blocks = 64;
    let r = receive(&mut t, blocks)?;
    finish(SEED_ONLY, t, objects_before)?;
    Ok(format!(
        "{summary}; mainline not used: {reason}; {blocks} blocks, {} values, ramp exact ({} of unknown status)",
        r.ramp.values, r.unknown
    ))
}

/// A transfer the kernel fails (the module's `rx_fail_block`: block 6 completes as an aborted
/// one, fence error -EINTR) is reported on the seed's interface too, through the fence the
/// DMA buffer layer's ENQUEUE installs: `Error::TransferFailed` with EINTR, never data.
///
/// A block of unknown status (see `complete`) is a gap of one block, stepped over. When it
/// is block 6 itself, its failure could not be seen (a failed transfer whose fence signalled
/// before the export looks exactly like that): the stream is run again, at most
/// `FAILED_BLOCK_ATTEMPTS` times, and the test fails if the failure was never observable.
pub fn seed_rx_failed_block() -> TestResult {
    const FAILED_BLOCK_ATTEMPTS: usize = 3;
    let param = "/sys/module/weir_sim_iio/parameters/rx_fail_block";
    std::fs::write(param, "6").map_err(ctx(param))?;
    let result = (|| {
        for attempt in 1..=FAILED_BLOCK_ATTEMPTS {
            if let Some(seen) = failed_block_stream()? {
                return Ok(format!("{seen} (attempt {attempt})"));
            }
        }
        Err(format!(
            "block 6 was of unknown status in all {FAILED_BLOCK_ATTEMPTS} attempts: its \
             failure was never observable"
        ))
    })();
    std::fs::write(param, "-1").map_err(ctx(param))?;
    result
}

/// One stream of `seed_rx_failed_block`: what it saw, or `None` when block 6 was of unknown
/// status.
fn failed_block_stream() -> Result<Option<String>, String> {
    let (objects_before, _) = dmabuf_state();
    let opened = open(ADC, TransportChoice::Seed, 4096)?;
    let mut t = opened.transport;
    let bs = t.block_size();
    t.start().map_err(ctx("start"))?;
    let mut ramp = Ramp::default();
    let mut unknown = 0;
    let mut outcome = None;
    for n in 0..12 {
        let b = n % t.block_count();
        match t.wait_complete(b, TIMEOUT) {
            Ok(Some(bytes)) => {
                let memory = t.block_memory(b);
                ramp.check(&memory.as_bytes()[..bytes])
                    .map_err(|e| format!("block {n}: {e}"))?;
                drop(memory);
            }
            Ok(None) => return Err(format!("block {n} did not complete")),
            Err(Error::TransferStatusUnknown { .. }) => {
                if n == 6 {
                    finish(ADC, t, objects_before)?;
                    return Ok(None);
                }
                // Every block is enqueued whole (`requeue(b, 0)`).
                ramp.skip(bs);
                unknown += 1;
            }
            Err(e) => {
                outcome = Some((n, e));
                break;
            }
        }
        t.requeue(b, 0).map_err(ctx("requeue"))?;
    }
    let (n, e) = outcome.ok_or("no block failed")?;
    ensure!(
        n == 6
            && matches!(
                e,
                Error::TransferFailed {
                    errno: Errno::INTR,
                    ..
                }
            ),
        "block {n}: {e}"
    );
    let counted = t.counters().status_unknown;
    ensure!(
        counted == unknown,
        "{unknown} blocks of unknown status seen, the transport counted {counted}"
    );
    finish(ADC, t, objects_before)?;
    Ok(Some(format!(
        "blocks 0..6 exact ({} values, {unknown} of unknown status), block 6: {e}",
        ramp.values
    )))
}

/// `weir run` on the seed: kernel_rx.toml with `transport=seed` (weir-sim-adc -> head ->
/// file): the file is exactly the ramp (as `weir_run_rx_dma_heap` checks it), the source's
/// row says `transport=seed` and `bytes_copied=0`.
pub fn seed_weir_run_rx() -> TestResult {
    super::weir_run::rx_on("seed", "auto")
}

/// `weir run` on the seed: zero-copy TX (kernel_tx_zero_copy.toml with `transport=seed`):
/// the DAC's bytes, blocks, last partial block and checksum exact, nothing copied.
pub fn seed_weir_run_tx_zero_copy() -> TestResult {
    super::weir_run::tx_zero_copy_on("seed")
}

//! weir-kbench-guest: weir-iio against the real Linux IIO core, inside the kernel bench's VM.
//!
//! The devices come from `tests/kernel/module/weir_sim_iio.c`: `weir-sim-adc` (input, DMA
//! buffer: DMABUF capable), `weir-sim-dac` (output, DMA buffer) and `weir-sim-fifo` (input,
//! kfifo buffer: no DMABUF). Both inputs produce the same ramp as weir's simulator: the n-th
//! 16-bit value of the stream is (u16)n, restarting at every enable.
//!
//! Usage: `weir-kbench-guest [NAME-SUBSTRING]`. Runs the tests one after the other (single
//! threaded), prints `test NAME ... ok|FAILED`, then a summary line, and exits 0 only when
//! every test passed. Every test must also leave as many open file descriptors, DMABUF
//! objects and DMABUF attachments behind as it found.
//!
//! The `weir_run_*` tests (modules `weir_run`, `formats`, `overrun`) run the real `weir`
//! command (`/weir`, static) on the TOML flowgraphs in `/flowgraphs` and check the data end to
//! end. `weir-sim-adi` and `weir-sim-mixed` carry real converters' channel formats (module
//! `formats`); `weir-sim-adc` runs on its own clock when its `in_voltage_sampling_frequency`
//! is set, losing scans when no block is queued (module `overrun`). Module `lifecycle` ends
//! `weir run` from outside: signals, a stalled device, and the device unbound mid-stream.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use weir_iio::sys::ioctl;
use weir_iio::transport::Transport;
use weir_iio::{Allocator, BufferOptions, Device, Error, Sysfs, TransportChoice, TransportKind};

/// `Ok(details)` or `Err(what went wrong)`.
type TestResult = Result<String, String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

mod failures;
mod formats;
mod lifecycle;
mod overrun;
mod seed;
mod weir_run;

/// Formats an error with a context.
fn ctx<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

const ADC: &str = "weir-sim-adc";
const DAC: &str = "weir-sim-dac";
const FIFO: &str = "weir-sim-fifo";
const HEAP: &str = "/dev/dma_heap/system";
const UDMABUF: &str = "/dev/udmabuf";
const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";
const TIMEOUT: Duration = Duration::from_secs(10);

fn device(name: &str) -> Result<Device, String> {
    Sysfs::default().find(name).map_err(ctx("find device"))
}

fn channels() -> Vec<String> {
    vec!["voltage0".to_string(), "voltage1".to_string()]
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// DMABUF objects seen kept by the kernel, attached to a device that was unbound while weir
/// enqueued (`lifecycle::rebind_and_check` counts them), in this boot. The kernel frees them
/// later, at a time of its own; until then the harness allows them: as new objects after the
/// test that saw them, as attachments after it and every later test, and as objects that
/// disappear during a later test.
static KERNEL_KEPT: AtomicUsize = AtomicUsize::new(0);

/// (DMABUF objects alive, attachments to one of our devices) from debugfs.
fn dmabuf_state() -> (usize, usize) {
    let Ok(text) = std::fs::read_to_string(BUFINFO) else {
        return (0, 0);
    };
    let objects = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Total ")
                .and_then(|r| r.strip_suffix(" bytes"))
                .and_then(|r| r.split(" objects").next())
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0);
    let attached = text
        .lines()
        .filter(|l| l.trim().starts_with("weir-sim-"))
        .count();
    (objects, attached)
}

/// Waits (up to 10 s) until no DMABUF is attached to our devices and `objects` DMABUF objects
/// (if given) are alive; returns the state then. The kernel drops its attachment and DMABUF
/// references of a finished or aborted transfer in a work item (`iio_buffer_cleanup`), just
/// after the fence signalled, so right after a DETACH an attachment may linger briefly. Under
/// TCG on a loaded host one was seen still attached 2 s after weir had exited from a device
/// unbound mid-transfer (weir_run_tx_device_removed; a process that has exited holds nothing,
/// so only the kernel's cleanup could be behind): hence the margin, which a settled state
/// never waits for.
fn settled(objects: Option<usize>) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = dmabuf_state();
        if (state.1 == 0 && objects.is_none_or(|o| o == state.0)) || Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that a byte stream continues the ramp.
#[derive(Default)]
struct Ramp {
    next: u16,
    values: u64,
}

impl Ramp {
    fn check(&mut self, bytes: &[u8]) -> Result<(), String> {
        ensure!(
            bytes.len().is_multiple_of(2),
            "odd byte count {}",
            bytes.len()
        );
        for (i, w) in bytes.chunks_exact(2).enumerate() {
            let v = u16::from_le_bytes([w[0], w[1]]);
            ensure!(
                v == self.next,
                "ramp broken at value #{} (offset {} in block): got {v}, expected {}",
                self.values,
                2 * i,
                self.next
            );
            self.next = self.next.wrapping_add(1);
            self.values += 1;
        }
        Ok(())
    }

    /// Steps over `bytes` that the device sent but weir did not deliver (a block of unknown
    /// status): the device's stream moved on by as much.
    fn skip(&mut self, bytes: usize) {
        self.next = self.next.wrapping_add((bytes / 2) as u16);
    }
}

/// Waits for `block` (the `n`-th of the stream): `Ok(Some(bytes))` when it completed,
/// `Ok(None)` when its transfer finished with a status that cannot be known (see
/// `Transport::try_complete`: under TCG, a vCPU preempted inside `ENQUEUE` for longer than
/// the module's transfer time gets there). Such a block is the CPU's again; the caller
/// counts it and checks that the transport did too. A timeout or any other error fails.
fn complete(t: &mut dyn Transport, n: usize, block: usize) -> Result<Option<usize>, String> {
    match t.wait_complete(block, TIMEOUT) {
        Ok(Some(bytes)) => Ok(Some(bytes)),
        Ok(None) => Err(format!(
            "block {n} (#{block}) did not complete in {TIMEOUT:?}"
        )),
        Err(Error::TransferStatusUnknown { .. }) => Ok(None),
        Err(e) => Err(format!("block {n} (#{block}): wait_complete: {e}")),
    }
}

/// Sample k of a block starting at ramp value `first` has I = first+2k, Q = first+2k+1.
fn check_iq(layout: &weir_iio::ScanLayout, bytes: &[u8], first: u16) -> Result<(), String> {
    let scans = layout.scans_in(bytes);
    let (mut i, mut q) = (vec![0i16; scans], vec![0i16; scans]);
    let i_pos = layout.position("voltage0").ok_or("no voltage0 in layout")?;
    let q_pos = layout.position("voltage1").ok_or("no voltage1 in layout")?;
    layout.extract_i16(bytes, i_pos, &mut i);
    layout.extract_i16(bytes, q_pos, &mut q);
    for k in 0..scans {
        let want_i = first.wrapping_add((2 * k) as u16) as i16;
        let want_q = first.wrapping_add((2 * k + 1) as u16) as i16;
        ensure!(
            i[k] == want_i && q[k] == want_q,
            "sample {k}: I={} Q={}, expected {want_i} {want_q}",
            i[k],
            q[k]
        );
    }
    Ok(())
}

fn buffer_enabled(dev: &Device) -> Result<bool, String> {
    let control = dev.buffer(0).ok_or("no buffer0")?.control(dev.id.clone());
    control.is_enabled().map_err(ctx("read enable"))
}

/// What weir-sim-dac (or weir-sim-seed) consumed since its buffer was last enabled: its sysfs
/// counters.
struct DacCounters {
    bytes: u64,
    blocks: u64,
    /// The bytes of the last block completed.
    last_bytes: u64,
    /// FNV-1a 64 of every byte consumed.
    checksum: u64,
}

fn dac_counters(dac: &Device) -> Result<DacCounters, String> {
    let attr = |a: &str| dac.read_attr(a).map_err(ctx("read sysfs"));
    let number = |a: &str| -> Result<u64, String> { attr(a)?.parse().map_err(ctx(a)) };
    Ok(DacCounters {
        bytes: number("sim_bytes")?,
        blocks: number("sim_blocks")?,
        last_bytes: number("sim_last_bytes")?,
        checksum: u64::from_str_radix(&attr("sim_checksum")?, 16).map_err(ctx("sim_checksum"))?,
    })
}

/// A parameter of the weir_sim_iio module (a fault to inject, a stall) set for one test, and
/// back to -1 (none) when dropped.
struct ModuleParam(&'static str);

const MODULE_PARAMS: &str = "/sys/module/weir_sim_iio/parameters";

impl ModuleParam {
    fn set(name: &'static str, value: u64) -> Result<ModuleParam, String> {
        std::fs::write(format!("{MODULE_PARAMS}/{name}"), value.to_string()).map_err(ctx(name))?;
        Ok(ModuleParam(name))
    }
}

impl Drop for ModuleParam {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(format!("{MODULE_PARAMS}/{}", self.0), "-1") {
            eprintln!("cannot reset {}: {e}", self.0);
        }
    }
}

/// Checks that the buffer of the IIO device `name` is disabled (`when`: after what); returns
/// the device, for its counters.
fn ensure_buffer_disabled(name: &str, when: &str) -> Result<Device, String> {
    let dev = device(name)?;
    ensure!(
        !buffer_enabled(&dev)?,
        "{name}: buffer still enabled {when}"
    );
    Ok(dev)
}

/// Checks that no DMABUF is attached to any IIO buffer any more (once settled).
fn ensure_no_attachments() -> Result<(), String> {
    let (_, attached) = settled(None);
    ensure!(
        attached == 0,
        "{attached} DMABUF attachments left 10 s on:\n{}",
        std::fs::read_to_string(BUFINFO).unwrap_or_default()
    );
    Ok(())
}

/// Receives `blocks` blocks through the transport `choice` (with `allocators`) and checks the
/// ramp across all of them.
fn rx(
    name: &str,
    choice: TransportChoice,
    allocators: Vec<Allocator>,
    blocks: usize,
    want: TransportKind,
) -> TestResult {
    let (objects_before, _) = dmabuf_state();
    let dev = device(name)?;
    let opened = dev
        .open_buffer(&BufferOptions {
            channels: channels(),
            samples_per_block: 4096,
            block_count: 4,
            transport: choice,
            allocators,
            ..BufferOptions::default()
        })
        .map_err(ctx("open_buffer"))?;
    let summary = opened.summary();
    ensure!(
        opened.transport.kind() == want,
        "transport {summary}, expected {want}"
    );
    let (layout, mut t) = (opened.layout, opened.transport);
    ensure!(
        layout.scan_bytes() == 4,
        "scan bytes {}",
        layout.scan_bytes()
    );
    t.start().map_err(ctx("start"))?;
    let mut ramp = Ramp::default();
    let mut unknown = 0;
    let started = Instant::now();
    for n in 0..blocks {
        let b = n % t.block_count();
        let Some(bytes) = complete(&mut *t, n, b)? else {
            // Not delivered: a gap of exactly one block in the ramp.
            ramp.skip(t.block_size());
            unknown += 1;
            t.requeue(b, t.block_size()).map_err(ctx("requeue"))?;
            continue;
        };
        ensure!(bytes == t.block_size(), "block {n}: {bytes} bytes");
        let memory = t.block_memory(b);
        let data = &memory.as_bytes()[..bytes];
        let first = ramp.next;
        ramp.check(data).map_err(|e| format!("block {n}: {e}"))?;
        if n < 8 || n % 97 == 0 {
            check_iq(&layout, data, first).map_err(|e| format!("block {n}: {e}"))?;
        }
        drop(memory);
        t.requeue(b, t.block_size()).map_err(ctx("requeue"))?;
    }
    let elapsed = started.elapsed();
    let counters = t.counters();
    t.stop().map_err(ctx("stop"))?;
    let (_, attached) = settled(None);
    ensure!(
        attached == 0,
        "{attached} DMABUF attachments left after stop"
    );
    ensure!(!buffer_enabled(&dev)?, "buffer still enabled after stop");
    // Every block but those of unknown status is delivered and checked; a transport that
    // called them all unknown would check nothing.
    ensure!(
        counters.blocks_completed == (blocks - unknown) as u64
            && counters.status_unknown == unknown as u64
            && unknown <= blocks / 2,
        "{unknown} of {blocks} blocks of unknown status; counters: {counters:?}"
    );
    drop(t);
    let (objects_after, attached) = settled(Some(objects_before));
    ensure!(
        objects_after == objects_before && attached == 0,
        "DMABUF objects {objects_before} -> {objects_after}, {attached} attached after drop"
    );
    Ok(format!(
        "{summary}: {blocks} blocks ({unknown} of unknown status, left out), {} values, ramp continuous, {:.0} blocks/s (TCG), copied {} B",
        ramp.values,
        blocks as f64 / elapsed.as_secs_f64(),
        counters.bytes_copied
    ))
}

/// 1200 blocks from the ADC over DMABUF, on buffers from `allocator`.
fn rx_dmabuf(allocator: Allocator) -> TestResult {
    rx(
        ADC,
        TransportChoice::Dmabuf,
        vec![allocator],
        1200,
        TransportKind::Dmabuf,
    )
}

fn rx_dmabuf_dma_heap() -> TestResult {
    rx_dmabuf(Allocator::DmaHeap(HEAP.into()))
}

fn rx_dmabuf_udmabuf() -> TestResult {
    rx_dmabuf(Allocator::Udmabuf(UDMABUF.into()))
}

fn rx_auto_picks_dmabuf() -> TestResult {
    rx(
        ADC,
        TransportChoice::Auto,
        Allocator::defaults(),
        64,
        TransportKind::Dmabuf,
    )
}

fn rx_fileio_on_dma_buffer() -> TestResult {
    rx(
        ADC,
        TransportChoice::FileIo,
        Vec::new(),
        64,
        TransportKind::FileIo,
    )
}

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn tx(allocator: Allocator) -> TestResult {
    let (objects_before, _) = dmabuf_state();
    let dev = device(DAC)?;
    let opened = dev
        .open_buffer(&BufferOptions {
            channels: channels(),
            samples_per_block: 1024,
            block_count: 4,
            transport: TransportChoice::Dmabuf,
            allocators: vec![allocator],
            ..BufferOptions::default()
        })
        .map_err(ctx("open_buffer"))?;
    let summary = opened.summary();
    let mut t = opened.transport;
    ensure!(t.kind() == TransportKind::Dmabuf, "transport {summary}");
    let bs = t.block_size();
    ensure!(bs == 4096, "block size {bs}");
    // 40 full blocks and a partial one of 259 samples.
    let len = 40 * bs + 259 * 4;
    let mut x = 0x2545_f491_4f6c_dd1du64;
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
    let (mut off, mut n) = (0, 0);
    // Bytes in the transfers of unknown status: the DAC (the ground truth, below) got them, but
    // the transport cannot say so. Transfer k holds the payload's k-th block-sized chunk.
    let sent = |k: usize| bs.min(len - k * bs);
    let mut unknown = 0;
    while off < payload.len() {
        let b = n % count;
        if n >= count && complete(&mut *t, n - count, b)?.is_none() {
            unknown += sent(n - count);
        }
        let chunk = bs.min(payload.len() - off);
        let memory = t.block_mut(b).map_err(ctx("block_mut"))?;
        memory[..chunk].copy_from_slice(&payload[off..off + chunk]);
        t.requeue(b, chunk).map_err(ctx("requeue"))?;
        off += chunk;
        n += 1;
    }
    for k in n.saturating_sub(count)..n {
        if complete(&mut *t, k, k % count)?.is_none() {
            unknown += sent(k);
        }
    }
    let counters = t.counters();
    t.stop().map_err(ctx("stop"))?;
    let (_, attached) = settled(None);
    ensure!(
        attached == 0,
        "{attached} DMABUF attachments left after stop"
    );
    drop(t);
    let DacCounters {
        bytes,
        blocks,
        checksum,
        ..
    } = dac_counters(&dev)?;
    ensure!(
        bytes == len as u64,
        "the DAC consumed {bytes} bytes, {len} were sent"
    );
    ensure!(
        blocks == n as u64,
        "the DAC completed {blocks} blocks, {n} were sent"
    );
    ensure!(
        checksum == fnv1a64(&payload),
        "checksum {checksum:016x}, expected {:016x}",
        fnv1a64(&payload)
    );
    ensure!(
        counters.bytes_completed == (len - unknown) as u64 && unknown <= len / 2,
        "{unknown} bytes in transfers of unknown status; counters {counters:?}"
    );
    let (objects_after, _) = settled(Some(objects_before));
    ensure!(
        objects_after == objects_before,
        "DMABUF objects {objects_before} -> {objects_after}"
    );
    Ok(format!(
        "{summary}: {len} bytes in {n} blocks (last {} bytes, {unknown} bytes of unknown status), DAC: {bytes} bytes, {blocks} blocks, fnv {checksum:016x}",
        len - (n - 1) * bs
    ))
}

fn tx_dmabuf_dma_heap() -> TestResult {
    tx(Allocator::DmaHeap(HEAP.into()))
}

fn tx_dmabuf_udmabuf() -> TestResult {
    tx(Allocator::Udmabuf(UDMABUF.into()))
}

fn errno_name(e: Errno) -> String {
    match e {
        Errno::PERM => "EPERM".to_string(),
        Errno::INVAL => "EINVAL".to_string(),
        Errno::BUSY => "EBUSY".to_string(),
        Errno::NOTTY => "ENOTTY".to_string(),
        Errno::BADF => "EBADF".to_string(),
        _ => format!("errno {}", e.raw_os_error()),
    }
}

fn expect_errno(what: &str, got: rustix::io::Result<()>, want: Errno) -> Result<String, String> {
    match got {
        Err(e) if e == want => {
            // As the transports report it: a typed error naming the operation and errno.
            let typed = Error::os("test", "weir-sim-adc", e);
            ensure!(typed.errno() == Some(want), "typed error lost the errno");
            Ok(format!("{what}: {}", errno_name(want)))
        }
        Err(e) => Err(format!(
            "{what}: got {} ({e}), expected {}",
            errno_name(e),
            errno_name(want)
        )),
        Ok(()) => Err(format!("{what}: succeeded, expected {}", errno_name(want))),
    }
}

fn open_raw(dev: &Device) -> Result<(OwnedFd, OwnedFd), String> {
    let node = rustix::fs::open(&dev.node, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(ctx("open node"))?;
    let buffer = ioctl::iio_buffer_get_fd(node.as_fd(), 0).map_err(ctx("GET_FD"))?;
    Ok((node, buffer))
}

fn set_enable(dev: &Device, on: bool) -> Result<(), String> {
    let buffer = dev.buffer(0).ok_or("no buffer0")?;
    buffer
        .control(dev.id.clone())
        .set_enabled(on)
        .map_err(ctx("write enable"))
}

/// The kernel's refusals, straight through weir-iio's ioctl wrappers.
/// Enables every channel of `dev`'s buffer0.
fn enable_all_channels(dev: &Device) -> Result<(), String> {
    let buffer0 = dev.buffer(0).ok_or("no buffer0")?;
    for c in &buffer0.channels {
        buffer0
            .set_channel_enabled(c, true)
            .map_err(ctx("enable channel"))?;
    }
    Ok(())
}

fn errors_raw_ioctls() -> TestResult {
    let dev = device(ADC)?;
    enable_all_channels(&dev)?;
    let mut seen = Vec::new();
    {
        let (_node, buf) = open_raw(&dev)?;
        let buf = buf.as_fd();
        let size = 16384;
        let dmabufs =
            weir_iio::dmabuf::alloc_dma_heap(Path::new(HEAP), size, 2).map_err(ctx("alloc"))?;
        let (a, b) = (dmabufs[0].as_fd(), dmabufs[1].as_fd());
        seen.push(expect_errno(
            "enqueue before attach",
            ioctl::iio_dmabuf_enqueue(buf, a, size as u64),
            Errno::PERM,
        )?);
        seen.push(expect_errno(
            "detach of an unattached DMABUF",
            ioctl::iio_dmabuf_detach(buf, a),
            Errno::PERM,
        )?);
        ioctl::iio_dmabuf_attach(buf, a).map_err(ctx("attach"))?;
        seen.push(expect_errno(
            "enqueue bytes_used 0",
            ioctl::iio_dmabuf_enqueue(buf, a, 0),
            Errno::INVAL,
        )?);
        seen.push(expect_errno(
            "enqueue bytes_used > size",
            ioctl::iio_dmabuf_enqueue(buf, a, size as u64 + 4),
            Errno::INVAL,
        )?);
        seen.push(expect_errno(
            "attach twice",
            ioctl::iio_dmabuf_attach(buf, a),
            Errno::BUSY,
        )?);
        ioctl::iio_dmabuf_detach(buf, a).map_err(ctx("detach"))?;
        seen.push(expect_errno(
            "detach twice",
            ioctl::iio_dmabuf_detach(buf, a),
            Errno::PERM,
        )?);
        // Enabled with nothing attached: read()/write() mode; attaching now is refused.
        // The kernel frees a detached DMABUF's block in a work item
        // (iio_buffer_block_release_atomic -> iio_dma_buffer_cleanup_worker); until it has
        // run, the queue still counts the DMABUF, an enable picks DMABUF mode, and there an
        // attach while enabled is accepted. So: while an attach after enable is accepted,
        // undo it and try again, until the release has run (2 s at most).
        let deadline = Instant::now() + Duration::from_secs(2);
        let after_enable = loop {
            set_enable(&dev, true)?;
            let r = ioctl::iio_dmabuf_attach(buf, b);
            set_enable(&dev, false)?;
            if r.is_err() || Instant::now() > deadline {
                break r;
            }
            ioctl::iio_dmabuf_detach(buf, b).map_err(ctx("detach (retry)"))?;
            std::thread::sleep(Duration::from_millis(10));
        };
        seen.push(expect_errno(
            "attach after enable",
            after_enable,
            Errno::BUSY,
        )?);
        let (_, attached) = settled(None);
        ensure!(attached == 0, "{attached} attachments left");
    }
    Ok(seen.join("; "))
}

/// The same rule through `open_buffer`: a typed `Error::Os` naming the ioctl and the errno.
fn errors_typed_attach_after_enable() -> TestResult {
    let dev = device(ADC)?;
    enable_all_channels(&dev)?;
    let dev = device(ADC)?; // reload: channels now enabled
    // As in errors_raw_ioctls: a DMABUF detached just before (the previous test's) is freed
    // by the kernel in a work item, and until then an enable picks DMABUF mode, where the
    // attach is accepted. Retry while it is (2 s at most).
    let deadline = Instant::now() + Duration::from_secs(2);
    let result = loop {
        set_enable(&dev, true)?;
        let result = dev.open_buffer(&BufferOptions {
            channels: channels(),
            samples_per_block: 4096,
            block_count: 2,
            transport: TransportChoice::Dmabuf,
            allocators: vec![Allocator::DmaHeap(HEAP.into())],
            ..BufferOptions::default()
        });
        set_enable(&dev, false)?;
        match result {
            Ok(opened) if Instant::now() < deadline => {
                drop(opened);
                settled(None);
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match result {
        Err(e @ Error::Os { op, errno, .. }) => {
            ensure!(
                op == "IIO_BUFFER_DMABUF_ATTACH" && errno == Errno::BUSY,
                "unexpected error: {e}"
            );
            let (_, attached) = settled(None);
            ensure!(attached == 0, "{attached} attachments left");
            Ok(format!("Error::Os: {e}"))
        }
        Err(e) => Err(format!("not Error::Os: {e:?}")),
        Ok(o) => Err(format!("opened although enabled: {}", o.summary())),
    }
}

/// Why `opened` rejected the transport `kind`; an error (naming it `what`) if it recorded no
/// reason.
fn rejection(opened: &weir_iio::Opened, kind: TransportKind, what: &str) -> Result<String, String> {
    opened
        .rejected
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, r)| r.clone())
        .ok_or_else(|| format!("no {what} rejection recorded: {}", opened.summary()))
}

/// weir-sim-fifo has a kfifo buffer: Auto must fall back to read() and say why.
fn fallback_auto_to_fileio() -> TestResult {
    let dev = device(FIFO)?;
    let opened = dev
        .open_buffer(&BufferOptions {
            channels: channels(),
            samples_per_block: 4096,
            block_count: 4,
            transport: TransportChoice::Auto,
            ..BufferOptions::default()
        })
        .map_err(ctx("open_buffer"))?;
    let summary = opened.summary();
    ensure!(
        opened.transport.kind() == TransportKind::FileIo,
        "chose {summary}"
    );
    let dmabuf_reason = rejection(&opened, TransportKind::Dmabuf, "DMABUF")?;
    ensure!(
        dmabuf_reason.contains("does not support DMABUF"),
        "DMABUF rejection: {dmabuf_reason}"
    );
    ensure!(
        opened
            .rejected
            .iter()
            .any(|(k, _)| *k == TransportKind::Seed),
        "no seed rejection recorded: {summary}"
    );
    let (layout, mut t) = (opened.layout, opened.transport);
    t.start().map_err(ctx("start"))?;
    let mut ramp = Ramp::default();
    let blocks = 128;
    for n in 0..blocks {
        let b = n % t.block_count();
        let bytes = t
            .wait_complete(b, TIMEOUT)
            .map_err(ctx("wait_complete"))?
            .ok_or_else(|| format!("block {n} did not complete"))?;
        let memory = t.block_memory(b);
        let data = &memory.as_bytes()[..bytes];
        let first = ramp.next;
        ramp.check(data).map_err(|e| format!("block {n}: {e}"))?;
        check_iq(&layout, data, first).map_err(|e| format!("block {n}: {e}"))?;
        drop(memory);
        t.requeue(b, t.block_size()).map_err(ctx("requeue"))?;
    }
    t.stop().map_err(ctx("stop"))?;
    ensure!(!buffer_enabled(&dev)?, "buffer still enabled after stop");
    Ok(format!(
        "{summary}: {blocks} blocks, {} values, ramp continuous",
        ramp.values
    ))
}

/// Stop while transfers are in flight (a slow device), then open again: nothing is left
/// attached, and the next stream starts cleanly.
fn stop_in_flight_then_reopen() -> TestResult {
    for round in 0..3 {
        let dev = device(ADC)?;
        let opened = dev
            .open_buffer(&BufferOptions {
                channels: channels(),
                samples_per_block: 4096,
                block_count: 8,
                transport: TransportChoice::Dmabuf,
                allocators: vec![Allocator::DmaHeap(HEAP.into())],
                ..BufferOptions::default()
            })
            .map_err(ctx("open_buffer"))?;
        let mut t = opened.transport;
        t.start().map_err(ctx("start"))?;
        // The first block delivered (those of unknown status before it are gaps in the ramp).
        let mut ramp = Ramp::default();
        let mut b = 0;
        let bytes = loop {
            ensure!(b < t.block_count(), "round {round}: no block delivered");
            match complete(&mut *t, b, b)? {
                Some(bytes) => break bytes,
                None => ramp.skip(t.block_size()),
            }
            b += 1;
        };
        ramp.check(&t.block_memory(b).as_bytes()[..bytes])
            .map_err(|e| format!("round {round}: {e}"))?;
        // The blocks after it still queued or in flight.
        t.stop().map_err(ctx("stop"))?;
        let (_, attached) = settled(None);
        ensure!(attached == 0, "round {round}: {attached} attachments left");
    }
    Ok("3 rounds".to_string())
}

type Test = (&'static str, fn() -> TestResult);

/// `(name, function)` of every guest test, in the order they run: the name is the function's.
macro_rules! tests {
    ($($module:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        &[$($((stringify!($name), $module::$name as fn() -> TestResult)),*),*]
    };
}

const TESTS: &[Test] = tests![
    self: [
        rx_dmabuf_dma_heap,
        rx_dmabuf_udmabuf,
        rx_auto_picks_dmabuf,
        rx_fileio_on_dma_buffer,
        tx_dmabuf_dma_heap,
        tx_dmabuf_udmabuf,
        errors_raw_ioctls,
        errors_typed_attach_after_enable,
        fallback_auto_to_fileio,
        stop_in_flight_then_reopen,
    ],
    // The `weir` command on TOML flowgraphs (last: they need /weir and /flowgraphs).
    weir_run: [
        weir_run_rx_dma_heap,
        weir_run_tx_udmabuf,
        weir_run_tx_zero_copy,
    ],
    // Real channel formats, raw bytes through weir, decoded here.
    formats: [
        weir_run_rx_format_adi_4ch,
        weir_run_rx_format_adi_2ch,
        weir_run_rx_format_mixed_3ch,
        weir_run_rx_format_mixed_2ch,
    ],
    // A clocked ADC losing scans behind a slow consumer, against weir's loss accounting.
    overrun: [
        weir_run_rx_overrun,
    ],
    // A block the kernel fails (as the DMA buffer layer fails an aborted one), RX and TX.
    failures: [
        weir_run_rx_failed_block,
        weir_run_tx_failed_block,
        weir_run_rx_submit_failed,
    ],
    // Stopped by a signal, by a stalled device, or by the device going away (last: they
    // unbind the devices and bind them again).
    lifecycle: [
        weir_run_rx_sigint,
        weir_run_rx_sigterm,
        weir_run_rx_sighup,
        weir_run_tx_sigterm,
        weir_run_rx_stall_timeout,
        weir_run_rx_stall_sigint,
        weir_run_rx_device_removed,
        weir_run_tx_device_removed,
    ],
    // The seed's run only (WEIR_KBENCH_CORE=seed: the IIO core with the seed's ALLOC/ENQUEUE).
    seed: [
        seed_rx,
        seed_tx,
        seed_errors_raw_ioctls,
        seed_auto_picks_seed,
        seed_rx_failed_block,
        seed_weir_run_rx,
        seed_weir_run_tx_zero_copy,
    ],
];

fn main() {
    let filter = std::env::args().nth(1);
    let seed_run = std::env::var("WEIR_KBENCH_CORE").is_ok_and(|c| c == "seed");
    // WEIR_KBENCH_REPEAT=N (tests/kernel/run passes it on): every selected test N times in a
    // row, each run counted on its own — for a failure seen once in many runs.
    let repeat: usize = std::env::var("WEIR_KBENCH_REPEAT")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    let selected = TESTS.iter().filter(|(name, _)| {
        seed::in_run(name, seed_run) && filter.as_deref().is_none_or(|f| name.contains(f))
    });
    for (name, test) in selected.flat_map(|t| std::iter::repeat_n(t, repeat)) {
        print!("test {name} ... ");
        let _ = std::io::stdout().flush();
        let fds_before = open_fds();
        let (objects_before, _) = dmabuf_state();
        let kept_before = KERNEL_KEPT.load(Ordering::Relaxed);
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(test))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked: {msg}"))
            })
            .and_then(|details| {
                let kept = KERNEL_KEPT.load(Ordering::Relaxed);
                let (fds_after, (objects_after, attached)) = (
                    open_fds(),
                    settled(Some(objects_before + kept - kept_before)),
                );
                ensure!(
                    fds_after == fds_before,
                    "open fds {fds_before} before, {fds_after} after"
                );
                ensure!(
                    objects_after + kept_before >= objects_before
                        && objects_after <= objects_before + kept - kept_before
                        && attached <= kept,
                    "DMABUF objects {objects_before} before, {objects_after} after, {attached} \
                     attached ({kept} kept by the kernel in this boot, {} in this test)",
                    kept - kept_before
                );
                Ok(details)
            });
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(details) => {
                println!("ok ({secs:.2} s) {details}");
                passed.push(*name);
            }
            Err(e) => {
                println!("FAILED ({secs:.2} s)\n    {e}");
                failed.push(*name);
            }
        }
    }
    println!(
        "kbench result: {} passed; {} failed{}",
        passed.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        }
    );
    // 3: nothing selected in this run (tests/kernel/run: the other run may have some).
    std::process::exit(if !failed.is_empty() {
        1
    } else if passed.is_empty() {
        3
    } else {
        0
    });
}

//! How a `weir run` ends when the world, not the stream, ends it: the device removed while
//! streaming (its platform device unbound from the module's driver), a device that stops
//! completing blocks (the module's `stall_after`), and SIGINT, SIGTERM and SIGHUP.
//!
//! Each test starts `weir run` on `kernel_rx.toml` (or `kernel_tx.toml`) with a stream far too
//! long to end by itself, waits until weir is streaming for sure — its live statistics line
//! (`--stats-interval 0.2 --progress never`, on stderr) shows the block's `blocks=` counter at
//! a given count — then acts, and waits for weir to exit. What weir printed, its exit status
//! and the data (the file, the DAC's count and checksum) are checked; the harness then checks
//! that no fd, DMABUF object or attachment is left behind, and `guest-init` that dmesg is clean
//! and the module unloads.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::weir_run::Run;
use super::{
    ADC, BUFINFO, DAC, DacCounters, ModuleParam, Ramp, TestResult, ctx, dac_counters, device,
    ensure_buffer_disabled, fnv1a64,
};

const WEIR: &str = "/weir";
/// The module's platform driver, whose devices these tests unbind and bind again.
const DRIVER: &str = "/sys/bus/platform/drivers/weir-sim-iio";
const BLOCK_BYTES: usize = 4096 * 4;
/// A stream that only a signal, a failure or the device ends: ~10^12 samples.
const ENDLESS: &str = "1000000000000";
/// A failure guard only: every wait ends on an observable event long before it.
const GUARD: Duration = Duration::from_secs(60);
const OUT: &str = "/tmp/weir-lifecycle.stdout";
const ERR: &str = "/tmp/weir-lifecycle.stderr";

/// A `weir run` in the background, its stdout and stderr going to files.
struct Weir {
    child: Child,
    started: Instant,
}

impl Weir {
    fn spawn(flowgraph: &str, sets: &[(&str, String)]) -> Result<Weir, String> {
        let mut cmd = Command::new(WEIR);
        cmd.arg("run").arg(format!("/flowgraphs/{flowgraph}"));
        for (k, v) in sets {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        cmd.args(["--stats-interval", "0.2", "--progress", "never"])
            .env("WEIR_LOG", "warn,weir_plugin_iio=info")
            .stdin(Stdio::null())
            .stdout(File::create(OUT).map_err(ctx("create stdout file"))?)
            .stderr(File::create(ERR).map_err(ctx("create stderr file"))?);
        let child = cmd.spawn().map_err(ctx(WEIR))?;
        Ok(Weir {
            child,
            started: Instant::now(),
        })
    }

    fn stderr() -> String {
        std::fs::read_to_string(ERR).unwrap_or_default()
    }

    /// Waits until a live statistics line of `block` shows `blocks=` at least `count` (weir
    /// is streaming), or until weir exits (an error then, with what it printed).
    fn wait_blocks(&mut self, block: &str, count: u64) -> Result<u64, String> {
        let tag = format!("] {block} ");
        loop {
            let seen = Self::stderr()
                .lines()
                .filter(|l| l.contains(&tag))
                .filter_map(|l| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix("blocks="))
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .max();
            if let Some(n) = seen.filter(|&n| n >= count) {
                return Ok(n);
            }
            if let Some(status) = self.child.try_wait().map_err(ctx("wait for weir"))? {
                return Err(format!(
                    "weir exited ({status}) before `{block}` showed blocks={count}\n--- stdout\n{}--- stderr\n{}---",
                    std::fs::read_to_string(OUT).unwrap_or_default(),
                    Self::stderr()
                ));
            }
            if self.started.elapsed() > GUARD {
                return Err(format!(
                    "`{block}` did not show blocks={count} within {GUARD:?}:\n{}",
                    Self::stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: rustix::process::Signal) -> Result<(), String> {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, signal).map_err(ctx("kill"))
    }

    /// Waits for weir to exit; returns what it printed and how long it took from `since`.
    fn finish(mut self, since: Instant) -> Result<Run, String> {
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(ctx("wait for weir"))? {
                break status;
            }
            if since.elapsed() > GUARD {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "weir did not exit within {GUARD:?}; killed\n--- stdout\n{}--- stderr\n{}---",
                    std::fs::read_to_string(OUT).unwrap_or_default(),
                    Self::stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let run = Run {
            stdout: std::fs::read_to_string(OUT).unwrap_or_default(),
            stderr: Self::stderr(),
            status,
            secs: since.elapsed().as_secs_f64(),
        };
        let _ = std::fs::remove_file(OUT);
        let _ = std::fs::remove_file(ERR);
        Ok(run)
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        // Only reached with the child still running when a test failed half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A platform device of the module unbound from its driver; bound again (its IIO device
/// created anew) when dropped, whatever the test's outcome, so later tests find it.
struct Unbound(&'static str);

impl Unbound {
    fn unbind(name: &'static str) -> Result<Unbound, String> {
        std::fs::write(format!("{DRIVER}/unbind"), name).map_err(ctx("unbind"))?;
        Ok(Unbound(name))
    }

    /// Binds it again and waits (up to the guard) until its IIO device is back.
    fn rebind(self) -> Result<(), String> {
        let name = self.0;
        std::mem::forget(self);
        std::fs::write(format!("{DRIVER}/bind"), name).map_err(ctx("bind"))?;
        let started = Instant::now();
        while device(name).is_err() {
            ensure!(
                started.elapsed() < GUARD,
                "{name}: no IIO device {GUARD:?} after binding it again"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(format!("{DRIVER}/bind"), self.0) {
            eprintln!("cannot bind {} again: {e}", self.0);
        }
    }
}

/// Whether the IIO device `name` exists now (by its `name` attribute).
fn iio_device_exists(name: &str) -> bool {
    device(name).is_ok()
}

/// The file `kernel_rx.toml` wrote: the ramp, whole DMA blocks, where a block left out (its
/// status unknown, see `weir_run_rx_dma_heap`) shows as a jump of exactly one block. Returns
/// (bytes, blocks left out).
fn check_ramp_file(path: &str, run: &Run) -> Result<(usize, u64), String> {
    let data = std::fs::read(path).map_err(ctx(path));
    let _ = std::fs::remove_file(path);
    let data = data?;
    let skipped = check_ramp_blocks(&data, path, run)?;
    Ok((data.len(), skipped))
}

/// `data` (read from `path`) is the ramp in whole DMA blocks, a block left out showing as a jump
/// of exactly one block; returns the blocks left out.
pub(super) fn check_ramp_blocks(data: &[u8], path: &str, run: &Run) -> Result<u64, String> {
    let mut ramp = Ramp::default();
    let mut skipped = 0u64;
    for (k, chunk) in data.chunks(BLOCK_BYTES).enumerate() {
        let whole = chunk.len() - chunk.len() % 4;
        if whole == 0 {
            break;
        }
        let first = u16::from_le_bytes([chunk[0], chunk[1]]);
        let jump = u64::from(first.wrapping_sub(ramp.next));
        ensure!(
            jump.is_multiple_of(2 * 4096),
            "{path}: block {k} starts at ramp value {first}, {jump} values after the expected {}\n{}",
            ramp.next,
            run.shown()
        );
        skipped += jump / (2 * 4096);
        ramp.next = first;
        ramp.check(&chunk[..whole])
            .map_err(|e| format!("{path}: block {k}: {e}\n{}", run.shown()))?;
    }
    Ok(skipped)
}

/// The report row's `name=value` of block `block`, as a number.
fn counter(run: &Run, block: &str, name: &str) -> Result<u64, String> {
    run.counter(block, name).map(|(n, _, _)| n)
}

/// weir's last line naming `device`, with all of `words` in it.
fn error_line(run: &Run, device: &str, words: &[&str]) -> Result<String, String> {
    let text = format!("{}\n{}", run.stdout, run.stderr);
    text.lines()
        .rev()
        .find(|l| l.contains(device) && words.iter().all(|w| l.contains(w)))
        .map(|l| l.trim().to_string())
        .ok_or_else(|| {
            format!(
                "no line naming {device} with {words:?} ({})\n{}",
                run.status,
                run.shown()
            )
        })
}

/// `weir run flowgraph` on the heap allocator with a stream only the test ends, plus `sets`.
fn spawn_endless(flowgraph: &str, sets: &[(&str, &str)]) -> Result<Weir, String> {
    let mut all = vec![
        ("allocator", "heap".to_string()),
        ("samples", ENDLESS.to_string()),
    ];
    all.extend(sets.iter().map(|&(k, v)| (k, v.to_string())));
    Weir::spawn(flowgraph, &all)
}

/// Sends `signal` to weir and waits for it to exit (the time taken counted from the signal).
fn signal_and_finish(weir: Weir, signal: rustix::process::Signal) -> Result<Run, String> {
    let signalled = Instant::now();
    weir.signal(signal)?;
    weir.finish(signalled)
}

/// Checks that weir exited with `code`; `why` says what that code means there.
fn ensure_exit(run: &Run, code: i32, why: &str) -> Result<(), String> {
    ensure!(
        run.status.code() == Some(code),
        "weir {} {why} (exit {code})\n{}",
        run.status,
        run.shown()
    );
    Ok(())
}

/// Checks that weir's report ends with `stopped by {name}`.
fn ensure_stopped_by(run: &Run, name: &str) -> Result<(), String> {
    let last = format!("stopped by {name}");
    ensure!(
        run.stdout.lines().last() == Some(last.as_str()),
        "the report does not end with `{last}`\n{}",
        run.shown()
    );
    Ok(())
}

/// Starts `weir run flowgraph` (endless, plus `sets`), waits until `block` shows 20 blocks,
/// unbinds `dev` and waits for weir: it must exit 1 with a line naming `dev` saying that it
/// went away. Returns the blocks seen before, the run, that line and the unbound device.
fn removed_mid_stream(
    flowgraph: &str,
    sets: &[(&str, &str)],
    block: &str,
    dev: &'static str,
) -> Result<(u64, Run, String, Unbound), String> {
    let mut weir = spawn_endless(flowgraph, sets)?;
    let before = weir.wait_blocks(block, 20)?;
    let unbound = Unbound::unbind(dev)?;
    let removed = Instant::now();
    ensure!(
        !iio_device_exists(dev),
        "{dev} is still listed after the unbind"
    );
    let run = weir.finish(removed)?;
    ensure_exit(
        &run,
        1,
        &format!("after {dev} was removed: expected a run-time failure"),
    )?;
    let line = error_line(&run, dev, &["went away"])?;
    Ok((before, run, line, unbound))
}

/// The DMABUF objects of debugfs's `bufinfo` attached to device `name`, each as whether one of
/// its fences is unsignalled.
fn attached_to(text: &str, name: &str) -> Vec<bool> {
    // An object is its size line (hex digits at the start of a line) and the indented lines
    // under it: its fences, then "Attached Devices:" and one device per line.
    let mut objects: Vec<(bool, bool)> = Vec::new();
    for line in text.lines() {
        if line.starts_with(|c: char| c.is_ascii_hexdigit()) {
            objects.push((false, false));
        } else if let Some((attached, unsignalled)) = objects.last_mut() {
            let l = line.trim();
            *attached |= l == name;
            *unsignalled |= l.contains("fence:") && l.ends_with("unsignalled");
        }
    }
    objects.into_iter().filter(|o| o.0).map(|o| o.1).collect()
}

/// Binds `unbound` again: its buffer must be disabled, no DMABUF left attached to the device
/// but those the kernel itself keeps; returns how many it keeps.
///
/// The kernel can keep one: weir's ENQUEUE that races the unbind reaches the DMA buffer layer
/// after the unbind disabled the buffer, which then queues the block for the next enable
/// (`iio_dma_buffer_enqueue()`: `queue->active` false) instead of refusing it, and its fence
/// never signals. weir has exited by then, so nothing of it can hold the object; such an
/// object (attached to this device, a fence unsignalled 10 s after weir exited) is counted and
/// reported. Any other attachment fails the test.
fn rebind_and_check(unbound: Unbound) -> Result<usize, String> {
    let name = unbound.0;
    unbound.rebind()?;
    ensure_buffer_disabled(name, "(bound again)")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(BUFINFO).map_err(ctx(BUFINFO))?;
        let left = attached_to(&text, name);
        if left.is_empty() {
            return Ok(0);
        }
        if Instant::now() > deadline {
            ensure!(
                left.iter().all(|&unsignalled| unsignalled),
                "{} DMABUF objects still attached to {name} 10 s on, not all with an \
                 unsignalled fence:\n{text}",
                left.len()
            );
            super::KERNEL_KEPT.fetch_add(left.len(), Ordering::Relaxed);
            return Ok(left.len());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- The device removed mid-stream ---------------------------------------------------------

/// weir-sim-adc is unbound while `weir run kernel_rx.toml` streams from it: weir must exit 1
/// within a few seconds saying that the device went away; the file holds the ramp up to there.
pub fn weir_run_rx_device_removed() -> TestResult {
    let out = "/tmp/rx_removed.ci16";
    let (before, run, line, unbound) =
        removed_mid_stream("kernel_rx.toml", &[("out", out)], "src", ADC)?;
    let (bytes, skipped) = check_ramp_file(out, &run)?;
    let kept = rebind_and_check(unbound)?;
    Ok(format!(
        "weir saw {before}+ blocks, exited {:.2} s after the unbind ({}); {out}: {bytes} bytes of \
         the ramp ({skipped} blocks of unknown status left out); {kept} DMABUF kept by the kernel \
         (an ENQUEUE that raced the unbind); error: {line}",
        run.secs, run.status
    ))
}

/// weir-sim-dac is unbound while `weir run kernel_tx.toml` streams into it: the same.
pub fn weir_run_tx_device_removed() -> TestResult {
    let (before, run, line, unbound) = removed_mid_stream("kernel_tx.toml", &[], "tx", DAC)?;
    let kept = rebind_and_check(unbound)?;
    Ok(format!(
        "weir sent {before}+ blocks, exited {:.2} s after the unbind ({}); {kept} DMABUF kept by \
         the kernel (an ENQUEUE that raced the unbind); error: {line}",
        run.secs, run.status
    ))
}

// ---- A device that stops completing blocks ---------------------------------------------------

/// Blocks weir-sim-adc completes before it stalls (`stall_after`): two rounds of the 4-block
/// ring.
const STALL_AFTER: u64 = 8;

fn adc_blocks() -> Result<u64, String> {
    device(ADC)?
        .read_attr("sim_blocks")
        .map_err(ctx("sim_blocks"))?
        .parse()
        .map_err(ctx("sim_blocks"))
}

/// The stall ends the run when `timeout` is set: exit 1 with the timeout's error naming the
/// device; the file holds exactly the blocks completed before.
pub fn weir_run_rx_stall_timeout() -> TestResult {
    let _stall = ModuleParam::set("stall_after", STALL_AFTER)?;
    let out = "/tmp/rx_stall.ci16";
    let weir = spawn_endless("kernel_rx.toml", &[("out", out), ("timeout", "1.5")])?;
    let run = weir.finish(Instant::now())?;
    ensure_exit(
        &run,
        1,
        "after a stall past the timeout: expected a run-time failure",
    )?;
    let line = error_line(&run, ADC, &["stalled", "timeout 1.5"])?;
    let completed = adc_blocks()?;
    ensure!(
        completed == STALL_AFTER,
        "{ADC} completed {completed} blocks, stall_after is {STALL_AFTER}"
    );
    let (bytes, skipped) = check_ramp_file(out, &run)?;
    ensure!(
        bytes as u64 + skipped * BLOCK_BYTES as u64 == STALL_AFTER * BLOCK_BYTES as u64,
        "{out}: {bytes} bytes and {skipped} blocks left out, the device completed \
         {STALL_AFTER} blocks of {BLOCK_BYTES} bytes\n{}",
        run.shown()
    );
    ensure_buffer_disabled(ADC, "after weir exited")?;
    Ok(format!(
        "weir run {:.2} s, {}; {out}: {bytes} bytes = the {STALL_AFTER} blocks completed; error: {line}",
        run.secs, run.status
    ))
}

/// With `timeout = 0` a stall waits forever: SIGINT ends it cleanly, with the report (exit 0),
/// the buffer disabled and everything released.
pub fn weir_run_rx_stall_sigint() -> TestResult {
    let _stall = ModuleParam::set("stall_after", STALL_AFTER)?;
    let out = "/tmp/rx_stall_sigint.ci16";
    let mut weir = spawn_endless("kernel_rx.toml", &[("out", out)])?;
    // Every block the device will ever complete has reached weir: it now waits.
    weir.wait_blocks("src", STALL_AFTER)?;
    ensure!(
        adc_blocks()? == STALL_AFTER,
        "{ADC} completed more than {STALL_AFTER} blocks"
    );
    let run = signal_and_finish(weir, rustix::process::Signal::INT)?;
    ensure_exit(
        &run,
        0,
        "after SIGINT during a stall: expected a clean stop",
    )?;
    ensure_stopped_by(&run, "Ctrl-C")?;
    let blocks = counter(&run, "src", "blocks")?;
    ensure!(
        blocks == STALL_AFTER,
        "the report's src blocks={blocks}, the device completed {STALL_AFTER}\n{}",
        run.shown()
    );
    let (bytes, skipped) = check_ramp_file(out, &run)?;
    ensure!(
        bytes as u64 + skipped * BLOCK_BYTES as u64 == STALL_AFTER * BLOCK_BYTES as u64,
        "{out}: {bytes} bytes and {skipped} blocks left out, the device completed \
         {STALL_AFTER} blocks\n{}",
        run.shown()
    );
    ensure_buffer_disabled(ADC, "after weir exited")?;
    Ok(format!(
        "stopped {:.2} s after SIGINT, {}; report: src blocks={blocks}; {out}: {bytes} bytes, every block completed",
        run.secs, run.status
    ))
}

// ---- Signals while streaming ------------------------------------------------------------------

/// `signal` while `weir run kernel_rx.toml` streams: the final report, exit 0, the file the
/// ramp, the ADC's buffer disabled.
fn rx_signal(signal: rustix::process::Signal, name: &str) -> TestResult {
    let out = "/tmp/rx_signal.ci16";
    let mut weir = spawn_endless("kernel_rx.toml", &[("out", out)])?;
    weir.wait_blocks("src", 20)?;
    let run = signal_and_finish(weir, signal)?;
    ensure_exit(&run, 0, &format!("after {name}: expected a clean stop"))?;
    ensure_stopped_by(&run, name)?;
    let blocks = counter(&run, "src", "blocks")?;
    ensure!(
        blocks >= 20,
        "src blocks={blocks} in the report\n{}",
        run.shown()
    );
    let (bytes, skipped) = check_ramp_file(out, &run)?;
    ensure!(
        bytes > 0 && (bytes / BLOCK_BYTES) as u64 + skipped <= blocks,
        "{out}: {bytes} bytes ({skipped} blocks left out), the source delivered {blocks} blocks\n{}",
        run.shown()
    );
    ensure_buffer_disabled(ADC, "after weir exited")?;
    Ok(format!(
        "stopped {:.2} s after {name}, {}; src blocks={blocks}; {out}: {bytes} bytes of the ramp",
        run.secs, run.status
    ))
}

pub fn weir_run_rx_sigint() -> TestResult {
    rx_signal(rustix::process::Signal::INT, "Ctrl-C")
}

pub fn weir_run_rx_sigterm() -> TestResult {
    rx_signal(rustix::process::Signal::TERM, "SIGTERM")
}

pub fn weir_run_rx_sighup() -> TestResult {
    rx_signal(rustix::process::Signal::HUP, "SIGHUP")
}

/// SIGTERM while `weir run kernel_tx.toml` streams into the DAC: the final report, exit 0, the
/// DAC's buffer disabled, and what it consumed exactly the ramp's first bytes (its checksum).
pub fn weir_run_tx_sigterm() -> TestResult {
    let mut weir = spawn_endless("kernel_tx.toml", &[])?;
    weir.wait_blocks("tx", 20)?;
    let run = signal_and_finish(weir, rustix::process::Signal::TERM)?;
    ensure_exit(&run, 0, "after SIGTERM: expected a clean stop")?;
    ensure_stopped_by(&run, "SIGTERM")?;
    let sent = counter(&run, "tx", "bytes")?;
    let dac = ensure_buffer_disabled(DAC, "after weir exited")?;
    let DacCounters {
        bytes: dac_bytes,
        checksum,
        ..
    } = dac_counters(&dac)?;
    // Not compared with weir's count: a block the DAC completed just before the stop may
    // not have been collected by weir any more. What it consumed must be the ramp, exactly.
    ensure!(
        dac_bytes > 0 && dac_bytes.is_multiple_of(BLOCK_BYTES as u64),
        "the DAC consumed {dac_bytes} bytes (weir reports bytes={sent}): not whole blocks\n{}",
        run.shown()
    );
    let ramp: Vec<u8> = (0..dac_bytes / 2)
        .flat_map(|n| (n as u16).to_le_bytes())
        .collect();
    ensure!(
        checksum == fnv1a64(&ramp),
        "DAC checksum {checksum:016x} is not the ramp's first {dac_bytes} bytes' ({:016x})",
        fnv1a64(&ramp)
    );
    Ok(format!(
        "stopped {:.2} s after SIGTERM, {}; weir sent bytes={sent}; DAC: {dac_bytes} bytes, the ramp's checksum",
        run.secs, run.status
    ))
}

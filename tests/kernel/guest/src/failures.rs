//! Failed transfers: the module fails one DMABUF block the way the kernel's DMA buffer layer
//! fails an aborted one (fence signalled with -EINTR, `bytes_used` 0:
//! `iio_dma_buffer_block_list_abort()`), chosen by module parameter (`rx_fail_block`,
//! `tx_fail_block`: the N-th block completed since enable). A failed RX block is filled with
//! 0xa5 first, so its bytes cannot pass for the ramp.
//!
//! weir must stop with an error naming the device, the block's place in the stream (its
//! sequence number, not only its ring slot: the failing block is chosen so that the two
//! differ) and the errno; on RX the failed block's bytes must never reach the file (it holds a
//! prefix of the ramp ending before that block), on TX the DAC must have received every block
//! before the failed one.
//!
//! A block can also fail inside the ENQUEUE ioctl (`rx_fail_submit`: the driver's submit()
//! fails, and the DMA buffer layer signals the block's fence with that error before ENQUEUE
//! returns). A fence exported after that is not the block's: `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`
//! skips signalled fences and hands out the kernel's always-successful stub. weir must then
//! report the block as failed or its status as unknown, never pass its bytes on as data.
//! (Today it takes the stub's success for the block's, passes the block on, and stops four
//! blocks later on EBUSY when it enqueues that block again: the test fails on weir's words
//! every time, and on the file when file_sink wins the race to write the block.)

use std::collections::BTreeSet;

use super::weir_run::{Run, weir_run_any};
use super::{
    ADC, DAC, DacCounters, ModuleParam, TestResult, dac_counters, ensure_buffer_disabled,
    ensure_no_attachments,
};

/// The failing block's sequence number: ring slot 2 of 4, so "block 2" would be the slot.
const FAIL_AT: u64 = 6;
const BLOCK_BYTES: u64 = 4096 * 4;
/// How many runs a failed-block test may take to see the failure (see `unobservable`).
const ATTEMPTS: usize = 3;

/// Whether `run` went on past the failed block because its failure could not be seen: weir
/// exited 0 and counted blocks of unknown status in its block `name`. A failed transfer whose
/// fence signalled before weir could export it looks exactly like that (under TCG, a vCPU
/// preempted inside ENQUEUE for longer than the module's transfer); weir rightly left the
/// block out as a gap instead of failing. Such a run is tried again, at most `ATTEMPTS` times.
fn unobservable(run: &Run, name: &str) -> bool {
    run.status.success() && matches!(run.counter(name, "status_unknown"), Ok((n, _, _)) if n > 0)
}

/// The words of weir's error output (letters, digits, `-` and `_` kept together).
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// weir failed, and said which device, which block of the stream and which errno.
fn expect_failure(run: &Run, device: &str) -> Result<String, String> {
    ensure!(
        !run.status.success(),
        "weir exited 0 although block {FAIL_AT} failed\n{}",
        run.shown()
    );
    ensure!(
        run.status.code() == Some(1),
        "weir {}: a failed transfer is a run-time failure (exit 1)\n{}",
        run.status,
        run.shown()
    );
    // The error weir ends with (the last such line: a warning may come before it).
    let text = format!("{}\n{}", run.stdout, run.stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("fail") && l.contains(device))
        .ok_or_else(|| format!("no error naming {device} and the failure\n{}", run.shown()))?
        .trim()
        .to_string();
    let w = words(&line);
    ensure!(
        w.contains("EINTR")
            || line.contains("Interrupted system call")
            || line.contains("os error 4"),
        "the error does not name the errno (EINTR): {line}\n{}",
        run.shown()
    );
    ensure!(
        w.contains(&FAIL_AT.to_string()),
        "the error does not name the block's sequence number {FAIL_AT} (ring slot {}): {line}\n{}",
        FAIL_AT % 4,
        run.shown()
    );
    Ok(line)
}

/// `weir run kernel_rx.toml` (1000003 samples, more than the run lasts) into `out`, with a
/// fault set: returns the run and what the file holds, once the ADC's buffer is disabled and
/// no DMABUF is attached any more.
fn rx_run(out: &str) -> Result<(Run, Vec<u8>), String> {
    let run = weir_run_any(
        "kernel_rx.toml",
        &[
            ("allocator", "heap".to_string()),
            ("samples", "1000003".to_string()),
            ("out", out.to_string()),
        ],
    )?;
    let data = std::fs::read(out).unwrap_or_default();
    let _ = std::fs::remove_file(out);
    ensure_buffer_disabled(ADC, "after weir exited")?;
    ensure_no_attachments()?;
    Ok((run, data))
}

/// weir-sim-adc's 7th block fails: weir run kernel_rx.toml must stop, the file must hold no
/// byte of it.
pub fn weir_run_rx_failed_block() -> TestResult {
    let _fault = ModuleParam::set("rx_fail_block", FAIL_AT)?;
    let out = "/tmp/rx_failed.ci16";
    let mut attempt = 1;
    let (run, data) = loop {
        let (run, data) = rx_run(out)?;
        if attempt == ATTEMPTS || !unobservable(&run, "src") {
            break (run, data);
        }
        attempt += 1;
    };
    // The file first: a failure reported but the bytes passed on is still wrong data.
    ensure!(
        data.len() as u64 <= FAIL_AT * BLOCK_BYTES,
        "{out}: {} bytes, more than the {FAIL_AT} blocks before the failed one ({} bytes): the \
         failed block's bytes (0xa5) or later ones reached the file\n{}",
        data.len(),
        FAIL_AT * BLOCK_BYTES,
        run.shown()
    );
    // The ramp, in whole blocks; a block weir left out as of unknown status (the kernel handed
    // out its stub fence after an ENQUEUE slower than the transfer, seen under load) is a jump
    // of exactly one block, as in `weir_run_rx_device_removed`.
    let skipped = super::lifecycle::check_ramp_blocks(&data, out, &run)?;
    let line = expect_failure(&run, ADC)?;
    Ok(format!(
        "weir run {:.2} s (attempt {attempt}), {}; {out}: {} bytes of the ramp ({skipped} blocks \
         of unknown status left out); error: {line}",
        run.secs,
        run.status,
        data.len()
    ))
}

/// weir-sim-dac's 7th block fails: weir run kernel_tx.toml must stop with the error.
pub fn weir_run_tx_failed_block() -> TestResult {
    let _fault = ModuleParam::set("tx_fail_block", FAIL_AT)?;
    let mut attempt = 1;
    let run = loop {
        let run = weir_run_any(
            "kernel_tx.toml",
            &[
                ("allocator", "heap".to_string()),
                ("samples", "1000003".to_string()),
            ],
        )?;
        if attempt == ATTEMPTS || !unobservable(&run, "tx") {
            break run;
        }
        attempt += 1;
    };
    let dac = ensure_buffer_disabled(DAC, "after weir exited")?;
    ensure_no_attachments()?;
    let DacCounters {
        bytes: dac_bytes,
        blocks: dac_blocks,
        ..
    } = dac_counters(&dac)?;
    // The module consumed every block it completed but the failed one.
    ensure!(
        dac_blocks > FAIL_AT && dac_bytes == (dac_blocks - 1) * BLOCK_BYTES,
        "the DAC completed {dac_blocks} blocks with {dac_bytes} bytes: expected the failed \
         block {FAIL_AT} and whole blocks around it\n{}",
        run.shown()
    );
    let line = expect_failure(&run, DAC)?;
    Ok(format!(
        "weir run {:.2} s (attempt {attempt}), {}; DAC: {dac_blocks} blocks ({dac_bytes} bytes, block {FAIL_AT} failed); error: {line}",
        run.secs, run.status
    ))
}

/// Whether `data` holds the 0xa5 the module fills a failed block with: 16 of them in a row,
/// which the ramp never has (its bytes around 0xa5a5 are a5 a5 a6 a5).
fn poisoned(data: &[u8]) -> Option<usize> {
    data.windows(16).position(|w| w.iter().all(|&b| b == 0xa5))
}

/// submit() of weir-sim-adc's 7th block fails (-EIO) inside ENQUEUE: its bytes must not reach
/// the file as data.
pub fn weir_run_rx_submit_failed() -> TestResult {
    let _fault = ModuleParam::set("rx_fail_submit", FAIL_AT)?;
    let out = "/tmp/rx_submit_failed.ci16";
    let (run, data) = rx_run(out)?;
    if let Some(at) = poisoned(&data) {
        return Err(format!(
            "{out}: the bytes of the block whose submit failed (0xa5) reached the file at byte \
             {at} (sample {}, block {}): the stub fence exported after ENQUEUE read as \
             success ({})\n{}",
            at / 4,
            at as u64 / BLOCK_BYTES,
            run.status,
            run.shown()
        ));
    }
    // The file alone cannot tell: weir stops anyway four blocks later (the DMA buffer layer
    // leaves the block whose submit failed ACTIVE, so enqueueing it again is EBUSY), and
    // whether file_sink wrote the failed block's bytes before that error tore the flowgraph
    // down is a race. weir's words decide: they must be about the failed block itself
    // (its sequence number, failed or status unknown), not only the EBUSY that follows.
    let text = format!("{}\n{}", run.stdout, run.stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| {
            let w = words(l);
            l.contains(ADC)
                && w.contains(&FAIL_AT.to_string())
                && (l.contains("fail") || l.contains("unknown"))
        })
        .ok_or_else(|| {
            format!(
                "weir said nothing of block {FAIL_AT}, whose submit failed inside ENQUEUE (the \
                 fence it exported after ENQUEUE is the kernel's always-signalled stub) ({})\n{}",
                run.status,
                run.shown()
            )
        })?
        .trim()
        .to_string();
    Ok(format!(
        "weir run {:.2} s, {}; {out}: {} bytes, none of the failed block; weir: {line}",
        run.secs,
        run.status,
        data.len()
    ))
}

//! The real `weir` command on TOML flowgraphs (`tests/kernel/flowgraphs`, in the initramfs as
//! `/flowgraphs`) against the kernel's IIO devices, through the mainline DMABUF interface
//! (forced: a fallback to read()/write() would fail the flowgraph instead of hiding a broken
//! DMABUF path). Each test runs `weir run FILE --set … --stats-interval 0` as a child process,
//! checks its report, then checks the data end to end: the file the RX flowgraph wrote, the
//! bytes and checksum the DAC counted for the TX flowgraph. The harness then checks that no
//! DMABUF object or attachment is left behind once the process is gone.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    ADC, DAC, DacCounters, Ramp, TestResult, ctx, dac_counters, ensure_buffer_disabled,
    ensure_no_attachments, fnv1a64,
};

/// The static `weir` binary in the initramfs.
const WEIR: &str = "/weir";
const FLOWGRAPHS: &str = "/flowgraphs";
/// I/Q samples per flowgraph: not a multiple of the 4096-sample DMA block.
const SAMPLES: u64 = 1_000_003;
const BLOCK_SAMPLES: u64 = 4096;
/// Generous: under TCG a run takes a few seconds.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished `weir run` printed.
pub(crate) struct Run {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) status: std::process::ExitStatus,
    pub(crate) secs: f64,
}

impl Run {
    /// The report row of block `name` (`name  type  in  out  rate  notes…`).
    pub(crate) fn row(&self, name: &str) -> Result<&str, String> {
        self.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .ok_or_else(|| format!("no report row for block `{name}`:\n{}", self.stdout))
    }

    /// Checks that block `name`'s row carries every `key=value` of `want`.
    pub(crate) fn expect(&self, name: &str, want: &[String]) -> Result<String, String> {
        let row = self.row(name)?;
        let notes: Vec<&str> = row.split_whitespace().collect();
        for w in want {
            ensure!(
                notes.contains(&w.as_str()),
                "block `{name}`: no `{w}` in its report row:\n{row}"
            );
        }
        Ok(row.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// The field `key` of block `name`'s row: the sign between key and value (`=`, or `≈` for
    /// a counter that is an estimate) and the value, up to the next field (the report
    /// separates its fields by two spaces; a value may hold single spaces:
    /// `overruns=3 (estimate)`).
    pub(crate) fn field(&self, name: &str, key: &str) -> Result<(char, String), String> {
        let row = self.row(name)?;
        let (at, sign) = ['=', '≈']
            .iter()
            .find_map(|&c| row.find(&format!("  {key}{c}")).map(|at| (at, c)))
            .ok_or_else(|| format!("block `{name}`: no `{key}` in its report row:\n{row}"))?;
        let rest = &row[at + 2 + key.len() + sign.len_utf8()..];
        let value = rest[..rest.find("  ").unwrap_or(rest.len())].trim();
        Ok((sign, value.to_string()))
    }

    /// Counter `key` of block `name`: its number, whether it is printed as an estimate (`≈`),
    /// and the evidence in parentheses after it, if any.
    pub(crate) fn counter(
        &self,
        name: &str,
        key: &str,
    ) -> Result<(u64, bool, Option<String>), String> {
        let (sign, v) = self.field(name, key)?;
        let (number, evidence) = match v.split_once(' ') {
            Some((n, e)) => (
                n,
                Some(e.trim_matches(|c| c == '(' || c == ')').to_string()),
            ),
            None => (v.as_str(), None),
        };
        let n = number
            .parse()
            .map_err(|e| format!("block `{name}`: `{key}{sign}{v}` is not a count: {e}"))?;
        Ok((n, sign == '≈', evidence))
    }

    /// Everything it printed, for a failure message.
    pub(crate) fn shown(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}---", self.stdout, self.stderr)
    }
}

/// Runs `weir run FLOWGRAPH --set k=v… --stats-interval 0` to its end, whatever its exit
/// status; `Err` only when it cannot be started or has to be killed after RUN_TIMEOUT.
pub(crate) fn weir_run_any(flowgraph: &str, sets: &[(&str, String)]) -> Result<Run, String> {
    let (out_path, err_path) = ("/tmp/weir-run.stdout", "/tmp/weir-run.stderr");
    let mut cmd = Command::new(WEIR);
    cmd.arg("run").arg(format!("{FLOWGRAPHS}/{flowgraph}"));
    for (k, v) in sets {
        cmd.arg("--set").arg(format!("{k}={v}"));
    }
    cmd.args(["--stats-interval", "0"])
        .env("WEIR_LOG", "warn,weir_plugin_iio=info")
        .stdin(Stdio::null())
        .stdout(File::create(out_path).map_err(ctx("create stdout file"))?)
        .stderr(File::create(err_path).map_err(ctx("create stderr file"))?);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(ctx(WEIR))?;
    drop(cmd); // closes our copies of the output files
    let status = loop {
        if let Some(status) = child.try_wait().map_err(ctx("wait for weir"))? {
            break Some(status);
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = started.elapsed().as_secs_f64();
    let stdout = std::fs::read_to_string(out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(err_path).unwrap_or_default();
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    match status {
        None => Err(format!(
            "weir run {flowgraph}: killed after {RUN_TIMEOUT:?}\n--- stdout\n{stdout}--- stderr\n{stderr}---"
        )),
        Some(status) => Ok(Run {
            stdout,
            stderr,
            status,
            secs,
        }),
    }
}

/// Runs `weir run FLOWGRAPH --set k=v… --stats-interval 0`; `Err` unless it exits 0.
pub(crate) fn weir_run(flowgraph: &str, sets: &[(&str, String)]) -> Result<Run, String> {
    let run = weir_run_any(flowgraph, sets)?;
    ensure!(
        run.status.success(),
        "weir run {flowgraph}: {}\n{}",
        run.status,
        run.shown()
    );
    Ok(run)
}

/// The ramp's first `samples` I/Q samples as bytes: the n-th 16-bit LE value is (u16)n.
fn ramp_bytes(samples: u64) -> Vec<u8> {
    (0..2 * samples)
        .flat_map(|n| (n as u16).to_le_bytes())
        .collect()
}

/// weir-sim-adc -> head -> file_sink; the file must hold exactly the first SAMPLES samples of
/// the ramp (which restarts at 0 at every enable).
fn rx(allocator: &str) -> TestResult {
    rx_on("dmabuf", allocator)
}

/// [`rx`] through `transport` (`dmabuf`, or `seed` in the seed's run).
pub(crate) fn rx_on(transport: &str, allocator: &str) -> TestResult {
    let out = "/tmp/rx.ci16";
    let run = weir_run(
        "kernel_rx.toml",
        &[
            ("allocator", allocator.to_string()),
            ("transport", transport.to_string()),
            ("samples", SAMPLES.to_string()),
            ("out", out.to_string()),
        ],
    )?;
    let src = run.expect(
        "src",
        &[format!("transport={transport}"), "bytes_copied=0".into()],
    )?;
    run.expect("sink", &[])?;
    let data = std::fs::read(out).map_err(ctx(out));
    let _ = std::fs::remove_file(out);
    let data = data?;
    ensure!(
        data.len() as u64 == SAMPLES * 4,
        "{out}: {} bytes, expected {}",
        data.len(),
        SAMPLES * 4
    );
    // A block whose fence had signalled before weir could export it has an unknown status:
    // weir leaves it out (a gap of exactly one block in the ramp, counted as `status_unknown`)
    // rather than deliver data that may be a failed transfer's. On TCG a healthy block hits
    // that window now and then (ENQUEUE takes ~1 ms, a transfer 100 µs).
    let unknown: u64 = src
        .split_whitespace()
        .find_map(|w| w.strip_prefix("status_unknown="))
        .map_or(Ok(0), str::parse)
        .map_err(|e| format!("status_unknown in [{src}]: {e}"))?;
    let block_bytes = 4096 * 4;
    let mut ramp = Ramp::default();
    let mut skipped = 0u64;
    for (k, chunk) in data.chunks(block_bytes).enumerate() {
        let first = u16::from_le_bytes([chunk[0], chunk[1]]);
        let jump = u64::from(first.wrapping_sub(ramp.next));
        ensure!(
            jump % (2 * 4096) == 0,
            "{out}: block {k} starts at ramp value {first}, {jump} values after the expected {}: not a whole block left out",
            ramp.next
        );
        skipped += jump / (2 * 4096);
        ramp.next = first;
        ramp.check(chunk).map_err(|e| format!("{out}: {e}"))?;
    }
    // Every gap is a block weir counted; a counted block that is no gap was one of the blocks
    // the source took after those the head let through (in flight when the flowgraph stopped).
    let (blocks, _, _) = run.counter("src", "blocks")?;
    let after_file = blocks.saturating_sub(data.len().div_ceil(block_bytes) as u64 + skipped);
    ensure!(
        skipped <= unknown && unknown - skipped <= after_file,
        "{out}: {skipped} whole blocks missing from the ramp, weir reported status_unknown={unknown} \
         in {blocks} blocks ({after_file} after the file's)"
    );
    ensure_buffer_disabled(ADC, "after weir exited")?;
    ensure_no_attachments()?;
    Ok(format!(
        "weir run {:.2} s; {out}: {} samples, ramp exact but for {skipped} blocks of unknown status left out ({unknown} in the run); [{src}]",
        run.secs, SAMPLES
    ))
}

/// Checks that the DAC consumed `bytes` bytes in `blocks` blocks, and that they were the
/// ramp's first SAMPLES samples (its checksum).
fn ensure_dac_got_ramp(
    dac_bytes: u64,
    dac_blocks: u64,
    checksum: u64,
    bytes: u64,
    blocks: u64,
) -> Result<(), String> {
    let want = fnv1a64(&ramp_bytes(SAMPLES));
    ensure!(
        dac_bytes == bytes,
        "the DAC consumed {dac_bytes} bytes, expected {bytes}"
    );
    ensure!(
        dac_blocks == blocks,
        "the DAC completed {dac_blocks} blocks, expected {blocks}"
    );
    ensure!(
        checksum == want,
        "DAC checksum {checksum:016x}, the ramp's is {want:016x}"
    );
    Ok(())
}

/// The sink's `bytes` against the `bytes` sent (the last block `last` bytes): weir counts a
/// block as sent once its fence says so; a block of unknown status (its fence signalled before
/// weir could export it, see tests/kernel/README.md) is counted in `status_unknown` and not in
/// `bytes`, so the report must be the bytes sent less exactly those blocks. The DAC's counters
/// stay the ground truth for what it got.
fn ensure_sink_bytes(run: &Run, bytes: u64, last: u64) -> Result<(), String> {
    let unknown = match run.counter("tx", "status_unknown") {
        Ok((n, _, _)) => n,
        Err(_) => 0,
    };
    let (reported, _, _) = run.counter("tx", "bytes")?;
    let missing = bytes - reported.min(bytes);
    let block_bytes = BLOCK_SAMPLES * 4;
    ensure!(
        reported <= bytes
            && (0..=unknown.min(1)).any(|partial| {
                let full = unknown - partial;
                missing == full * block_bytes + partial * last
            }),
        "the sink reports bytes={reported} with status_unknown={unknown}: not the {bytes} bytes sent less {unknown} blocks"
    );
    Ok(())
}

/// weir's simulated ADC (ramp) -> head -> dmabuf_sink on weir-sim-dac; the DAC must have
/// consumed exactly SAMPLES samples (the last block partial) with the ramp's checksum.
fn tx(allocator: &str) -> TestResult {
    let bytes = SAMPLES * 4;
    let blocks = SAMPLES.div_ceil(BLOCK_SAMPLES);
    let last = (SAMPLES - (blocks - 1) * BLOCK_SAMPLES) * 4;
    let run = weir_run(
        "kernel_tx.toml",
        &[
            ("allocator", allocator.to_string()),
            ("samples", SAMPLES.to_string()),
        ],
    )?;
    run.expect("src", &["transport=sim".into()])?;
    let sink = run.expect(
        "tx",
        &["transport=dmabuf".into(), format!("blocks={blocks}")],
    )?;
    ensure_sink_bytes(&run, bytes, last)?;
    let dac = ensure_buffer_disabled(DAC, "after weir exited")?;
    let DacCounters {
        bytes: dac_bytes,
        blocks: dac_blocks,
        checksum,
        ..
    } = dac_counters(&dac)?;
    ensure_dac_got_ramp(dac_bytes, dac_blocks, checksum, bytes, blocks)?;
    ensure_no_attachments()?;
    Ok(format!(
        "weir run {:.2} s; DAC: {dac_bytes} bytes, {dac_blocks} blocks, fnv {checksum:016x} = ramp; [{sink}]",
        run.secs
    ))
}

// One allocator each (both allocators are covered per transport by the tests above; a weir
// run costs ~1.5 s of the bench under TCG): the other pairings are `--set allocator=…` away.

pub fn weir_run_rx_dma_heap() -> TestResult {
    rx("heap")
}

pub fn weir_run_tx_udmabuf() -> TestResult {
    tx("udmabuf")
}

/// Zero-copy TX: weir's simulated ADC (ramp) -> head -> ci16_to_cf32 -> cf32_to_ci16, writing
/// in place into the DMA blocks of `dmabuf_sink mode = "zero_copy"` on weir-sim-dac (mainline
/// DMABUF, dma-heap). Both converters scale by 1.0, so the ramp's integers come through f32
/// unchanged: the DAC must have consumed exactly SAMPLES samples of the ramp (byte count, block
/// count, FNV-1a checksum), the last block exactly the 579 samples left over, and the sink's
/// report row must say that nothing was copied.
pub fn weir_run_tx_zero_copy() -> TestResult {
    tx_zero_copy_on("dmabuf")
}

/// [`weir_run_tx_zero_copy`] through `transport` (`dmabuf`, or `seed` in the seed's run).
pub(crate) fn tx_zero_copy_on(transport: &str) -> TestResult {
    let bytes = SAMPLES * 4;
    let blocks = SAMPLES.div_ceil(BLOCK_SAMPLES);
    let last = (SAMPLES - (blocks - 1) * BLOCK_SAMPLES) * 4;
    let run = weir_run(
        "kernel_tx_zero_copy.toml",
        &[
            ("allocator", "heap".to_string()),
            ("transport", transport.to_string()),
            ("samples", SAMPLES.to_string()),
        ],
    )?;
    run.expect("src", &["transport=sim".into()])?;
    let sink = run.expect(
        "tx",
        &[
            format!("transport={transport}"),
            "mode=zero_copy".into(),
            "bytes_copied=0".into(),
            format!("blocks={blocks}"),
        ],
    )?;
    ensure_sink_bytes(&run, bytes, last)?;
    let dac = ensure_buffer_disabled(DAC, "after weir exited")?;
    let DacCounters {
        bytes: dac_bytes,
        blocks: dac_blocks,
        last_bytes: dac_last,
        checksum,
    } = dac_counters(&dac)?;
    ensure_dac_got_ramp(dac_bytes, dac_blocks, checksum, bytes, blocks)?;
    ensure!(
        dac_last == last,
        "the DAC's last block held {dac_last} bytes, expected {last} (the partial block)"
    );
    ensure_no_attachments()?;
    Ok(format!(
        "weir run {:.2} s; DAC: {dac_bytes} bytes, {dac_blocks} blocks (last {dac_last} bytes), fnv {checksum:016x} = ramp; [{sink}]",
        run.secs
    ))
}

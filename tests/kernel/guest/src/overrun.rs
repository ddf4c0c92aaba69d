//! A clocked ADC that loses samples, against weir's loss accounting.
//!
//! `weir-sim-adc` with `in_voltage_sampling_frequency` > 0 produces scans on its own clock and
//! loses the ones due while no block is queued (tests/kernel/module/weir_sim_iio.c); it counts
//! them exactly (`lost_scans`, `lost_gaps`) and lists every gap (`lost_log`: the number of
//! scans handed to user space before the gap, and the scans lost in it). The ramp goes on
//! counting through a gap, so the data shows each one as a jump.
//!
//! `weir run kernel_rx_overrun.toml` reads it through a consumer five times slower than the
//! ADC, so weir holds all four blocks most of the time. The test checks three views of the same
//! losses against each other:
//!
//! 1. the module's log against the file: the ramp breaks exactly at the logged gaps, by the
//!    logged number of scans (modulo the ramp's 16-bit wrap), and nowhere else — so weir
//!    passed every block it received on, in order, whole;
//! 2. weir's `dmabuf_overrun` tags (printed by `tag_debug` with their absolute position)
//!    against the gaps: every tag sits exactly on the first sample after a gap, and every gap
//!    longer than the allowance below carries one;
//! 3. weir's report (`overruns=`, `dropped_samples=`, `loss_evidence=`) against the module's
//!    counts, within the tolerance below.
//!
//! # Tolerance
//!
//! The module has no status register, so weir's evidence can only be the starvation estimate:
//! the time during which weir had no block queued, times the rate the device reports. weir's
//! interval is contained in the device's: it starts when weir has *collected* the completion
//! of the last queued block, while the device ran dry when that block was full, and it ends
//! when weir's ENQUEUE returns, microseconds after the module's submit() counted the gap. So
//! the estimate can only fall short, by weir's completion latency (a wake-up through poll()
//! and FutureSDR's scheduler) times the rate, and exceed the count by the rounding of each
//! interval (2 scans). The allowance for that latency is one block period per gap
//! (`ALLOWANCE` scans = 41 ms at 100 kS/s): a collection later than a whole block period would
//! be a stall of its own. For the same reason a gap shorter than the allowance may have gone
//! unseen (weir requeued a block before it had collected the last completion: its queue never
//! ran empty); every longer gap must have been seen, as one overrun carrying one tag. A
//! starvation interval of weir's always lies inside one of the device's gaps, and lasts at
//! least that completion latency, far longer than a scan period (10 µs), so it always lost
//! scans: every overrun weir reports is one of the device's gaps.

use std::collections::BTreeMap;

use weir_iio::Device;

use super::weir_run::weir_run;
use super::{ADC, TestResult, buffer_enabled, ctx, device, settled};

/// The ADC's rate, scans/s.
const RATE: u64 = 100_000;
/// The consumer's rate (throttle), samples/s: a fifth of the ADC's.
const CONSUMER_RATE: u64 = 20_000;
/// Samples written to the file (three seconds of the consumer).
const SAMPLES: u64 = 60_000;
/// The flowgraph's `samples_per_block`.
const BLOCK_SAMPLES: u64 = 4096;
/// Per gap: the scans the starvation estimate may miss (see the module documentation).
const ALLOWANCE: u64 = BLOCK_SAMPLES;
/// The module lists this many gaps at most (WEIR_GAP_LOG).
const GAP_LOG: usize = 128;
const FREQ: &str = "in_voltage_sampling_frequency";

/// Puts the ADC back to unclocked (rate 0, the module's default) when dropped, whatever the
/// test's outcome: the other tests expect a stream that never loses a scan.
struct Clocked<'a>(&'a Device);

impl Drop for Clocked<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.write_attr(FREQ, "0") {
            eprintln!("cannot reset {ADC} {FREQ}: {e}");
        }
    }
}

/// One gap as the module lists it.
#[derive(Debug, Clone, Copy)]
struct Gap {
    /// Scans handed to user space before it: the file position of the sample after it.
    delivered: u64,
    lost: u64,
}

fn read_u64(dev: &Device, attr: &str) -> Result<u64, String> {
    let text = dev.read_attr(attr).map_err(ctx(attr))?;
    text.trim()
        .parse()
        .map_err(|e| format!("{attr} = {text:?}: {e}"))
}

fn lost_log(dev: &Device) -> Result<Vec<Gap>, String> {
    let text = dev.read_attr("lost_log").map_err(ctx("lost_log"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split_whitespace().map(str::parse::<u64>);
            match (it.next(), it.next()) {
                (Some(Ok(delivered)), Some(Ok(lost))) => Ok(Gap { delivered, lost }),
                _ => Err(format!("lost_log line {l:?}")),
            }
        })
        .collect()
}

/// The ramp's breaks in a ci16 file: file position (sample) -> jump in 16-bit values. Each
/// sample is I = n, Q = n + 1 for some n (wrapping), the next sample continues at n + 2.
fn ramp_breaks(data: &[u8]) -> Result<BTreeMap<u64, u16>, String> {
    let mut breaks = BTreeMap::new();
    let mut next = 0u16;
    for (k, s) in data.chunks_exact(4).enumerate() {
        let i = u16::from_le_bytes([s[0], s[1]]);
        let q = u16::from_le_bytes([s[2], s[3]]);
        ensure!(
            q == i.wrapping_add(1),
            "sample {k}: I = {i}, Q = {q}: not consecutive values, a scan cut apart"
        );
        if i != next {
            breaks.insert(k as u64, i.wrapping_sub(next));
        }
        next = q.wrapping_add(1);
    }
    Ok(breaks)
}

/// Absolute positions of the tags named `name` in `tag_debug`'s output
/// (`TagDebug tags: buf 12/abs 4108 -- NamedUsize("dmabuf_overrun", 3)`). Matched on the
/// name only: the payload's type is weir-core's business.
fn tag_positions(stdout: &str, name: &str) -> Result<Vec<u64>, String> {
    let quoted = format!("\"{name}\"");
    stdout
        .lines()
        .filter(|l| l.starts_with("TagDebug tags:") && l.contains(&quoted))
        .map(|l| {
            let abs = l
                .split("/abs ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .ok_or_else(|| format!("no position in tag line {l:?}"))?;
            abs.parse()
                .map_err(|e| format!("tag position {abs:?} in {l:?}: {e}"))
        })
        .collect()
}

/// The `dmabuf_source` of kernel_rx_overrun.toml on the clocked weir-sim-adc.
pub fn weir_run_rx_overrun() -> TestResult {
    let dev = device(ADC)?;
    dev.write_attr(FREQ, &RATE.to_string())
        .map_err(ctx("set the ADC's rate"))?;
    let _unclocked = Clocked(&dev);
    let rate = read_u64(&dev, FREQ)?;
    ensure!(rate == RATE, "{FREQ} reads {rate}, {RATE} was written");

    let out = "/tmp/rx_overrun.ci16";
    let run = weir_run(
        "kernel_rx_overrun.toml",
        &[
            ("rate", RATE.to_string()),
            ("consumer_rate", CONSUMER_RATE.to_string()),
            ("samples", SAMPLES.to_string()),
            ("out", out.to_string()),
        ],
    )?;
    let data = std::fs::read(out).map_err(ctx(out));
    let _ = std::fs::remove_file(out);
    let data = data?;
    ensure!(
        !buffer_enabled(&dev)?,
        "{ADC}: buffer still enabled after weir exited"
    );
    let (_, attached) = settled(None);
    ensure!(attached == 0, "{attached} DMABUF attachments left");
    ensure!(
        data.len() as u64 == SAMPLES * 4,
        "{out}: {} bytes, expected {}",
        data.len(),
        SAMPLES * 4
    );

    // The module's own account, complete and consistent.
    let lost_scans = read_u64(&dev, "lost_scans")?;
    let lost_gaps = read_u64(&dev, "lost_gaps")?;
    let gaps = lost_log(&dev)?;
    ensure!(
        lost_gaps as usize <= GAP_LOG,
        "{lost_gaps} gaps: more than the module lists ({GAP_LOG}); lower the rates"
    );
    ensure!(
        gaps.len() as u64 == lost_gaps && gaps.iter().map(|g| g.lost).sum::<u64>() == lost_scans,
        "lost_log ({} gaps, {} scans) disagrees with lost_gaps = {lost_gaps}, lost_scans = {lost_scans}",
        gaps.len(),
        gaps.iter().map(|g| g.lost).sum::<u64>()
    );
    let in_file: Vec<Gap> = gaps
        .iter()
        .copied()
        .filter(|g| g.delivered < SAMPLES)
        .collect();
    // Without losses inside the file the test would prove nothing.
    ensure!(
        in_file.iter().filter(|g| g.lost > ALLOWANCE).count() >= 3,
        "the consumer did not make the ADC lose enough: gaps {gaps:?}"
    );

    // 1. The file against the module: breaks exactly at the gaps, by their size.
    let breaks = ramp_breaks(&data).map_err(|e| format!("{out}: {e}"))?;
    let mut want = BTreeMap::new();
    for g in &in_file {
        // A gap of L scans skips 2L 16-bit values (I and Q), modulo the ramp's wrap.
        let jump = (2 * g.lost % 65536) as u16;
        if jump != 0 {
            want.insert(g.delivered, jump);
        }
    }
    ensure!(
        breaks == want,
        "{out}: the ramp breaks at (sample -> jump in values) {breaks:?}, the module's gaps \
         predict {want:?} (log {gaps:?})"
    );

    // 2. weir's overrun tags against the gaps.
    let tags = tag_positions(&run.stdout, "dmabuf_overrun")?;
    let mut tagged = Vec::new();
    for &t in &tags {
        let g = in_file.iter().find(|g| g.delivered == t).ok_or_else(|| {
            format!(
                "a dmabuf_overrun tag at sample {t}, where the device lost nothing \
                     (gaps {gaps:?})\n{}",
                run.shown()
            )
        })?;
        tagged.push(*g);
    }
    for g in in_file.iter().filter(|g| g.lost > ALLOWANCE) {
        ensure!(
            tags.contains(&g.delivered),
            "the device lost {} scans before sample {}, weir put no dmabuf_overrun tag there \
             (tags at {tags:?}; the device's gaps {gaps:?})\n{}",
            g.lost,
            g.delivered,
            run.shown()
        );
    }

    // 3. weir's report against the module's counts.
    let overruns = run.counter("src", "overruns")?;
    let dropped = run.counter("src", "dropped_samples")?;
    let evidence = run.field("src", "loss_evidence")?;
    let row = run.row("src")?.to_string();
    ensure!(
        evidence == "starvation estimate",
        "loss_evidence={evidence}: the module has no status register, the only evidence is \
         the starvation estimate\n{row}"
    );
    // Every tag is one overrun; an overrun after the last sample the file took carries no
    // tag that reached it; every overrun is one of the device's gaps.
    ensure!(
        overruns >= tags.len() as u64 && overruns <= lost_gaps,
        "overruns={overruns}: expected at least the {} tags and at most the device's \
         {lost_gaps} gaps\n{row}",
        tags.len()
    );
    let seen: u64 = tagged.iter().map(|g| g.lost).sum();
    let low = tagged
        .iter()
        .map(|g| g.lost.saturating_sub(ALLOWANCE))
        .sum::<u64>();
    let high = lost_scans + 2 * overruns;
    ensure!(
        (low..=high).contains(&dropped),
        "dropped_samples={dropped}: the device lost {lost_scans} scans in {lost_gaps} gaps, \
         {seen} of them in the {} tagged; the estimate must lie in {low}..={high} (each \
         tagged gap less {ALLOWANCE} at most, plus 2 per overrun)\n{row}",
        tagged.len()
    );

    Ok(format!(
        "weir run {:.2} s; device: {lost_scans} scans lost in {lost_gaps} gaps ({} in the \
         file, at the ramp's breaks); weir: overruns={overruns} dropped_samples={dropped} \
         ({evidence}), {} tags at the gaps",
        run.secs,
        in_file.len(),
        tags.len()
    ))
}

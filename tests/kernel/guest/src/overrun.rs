//! A clocked ADC that loses samples, against weir's loss accounting.
//!
//! `weir-sim-adc` with `in_voltage_sampling_frequency` > 0 produces scans on its own clock and
//! loses the ones due while no block is queued (tests/kernel/module/weir_sim_iio.c); it counts
//! them exactly (`lost_scans`, `lost_gaps`) and lists every gap (`lost_log`: the number of
//! scans handed to user space before the gap, and the scans lost in it). The ramp goes on
//! counting through a gap, so the data shows each one as a jump.
//!
//! `weir run kernel_rx_overrun.toml` reads it through a consumer ten times slower than the
//! ADC, so weir holds all four blocks most of the time. The test checks three views of the same
//! losses against each other:
//!
//! 1. the module's log against the file: the ramp breaks exactly at the logged gaps, by the
//!    logged number of scans (modulo the ramp's 16-bit wrap), and nowhere else — so weir
//!    passed every block it received on, in order, whole;
//! 2. weir's `dmabuf_overrun` tags (printed by `tag_debug` with their absolute position and
//!    their payload) against the gaps: every tag sits exactly on the first sample after a
//!    gap, every gap longer than the allowance below carries one, and each tag's estimate of
//!    its gap is the gap's size within the tolerance below;
//! 3. weir's report (`overruns=N (estimate)`, `dropped_samples≈N (estimate)`,
//!    `loss_evidence=estimate`) against the module's counts, within the same tolerance.
//!
//! # Tolerance
//!
//! The module has no status register, so weir's evidence can only be its estimate
//! (`weir_iio::loss::LossMeter`): the time during which weir had no block queued, times the
//! rate the device reports (the flowgraph's `sample_rate`, written to and read back from
//! `in_voltage_sampling_frequency`), plus completions later than the rate allows. The module
//! never stalls with blocks queued, so only the first can find anything here.
//!
//! weir's starvation interval and the device's gap are the same interval seen from two
//! sides. The device's gap starts when the last queued block is full and ends when its
//! submit() takes the next block, inside weir's ENQUEUE. weir's starts when it has
//! *collected* that last completion — later, by its wake-up latency (poll(), the reactor,
//! FutureSDR's scheduler) — and ends when it reads the clock after ENQUEUE (and the fence
//! export) returned — later, by those ioctls and by any preemption in between. So a gap's
//! estimate can be short by the first delay and long by the second, times the rate, plus the
//! rounding of the interval and of the device's clock (2 scans). The allowance for either
//! delay, per gap, is the one weir's own loss model grants a completion before it counts it
//! late (`LossMeter::timing_tolerance`: two block periods plus 10 ms, 51 ms at 200 kS/s,
//! `ALLOWANCE` scans): a machine slower than that to run weir breaks weir's assumptions, and
//! the test says so. (Seen under TCG on the 2-core bench machine shared with other builds,
//! load average 5–6, five runs: estimates short by up to 20 ms, long by up to 8 ms.)
//!
//! The device's gap always contains the span from weir's collection of the last completion
//! to the submit() of the next block — weir's own processing, tens of µs at least under TCG,
//! more than a scan period (5 µs) — so every starvation interval weir counts is one of the
//! device's gaps, and a tag anywhere else is a false report. A gap shorter than the
//! allowance may have gone unseen (weir requeued a block before it had collected the last
//! completion: its queue never ran empty); every longer gap must have been seen, as one
//! overrun carrying one tag.

use std::collections::BTreeMap;

use weir_iio::Device;

use super::weir_run::weir_run;
use super::{ADC, TestResult, buffer_enabled, ctx, device, settled};

/// The ADC's rate, scans/s.
const RATE: u64 = 200_000;
/// The consumer's rate (throttle), samples/s: a tenth of the ADC's, so that every gap (about
/// 185 ms, 37 000 scans) is several times the allowance.
const CONSUMER_RATE: u64 = 20_000;
/// Samples written to the file (three seconds of the consumer).
const SAMPLES: u64 = 60_000;
/// The flowgraph's `samples_per_block`.
const BLOCK_SAMPLES: u64 = 4096;
/// Per gap: the scans the estimate may miss (see the module documentation): weir's timing
/// tolerance, two block periods plus 10 ms, at the ADC's rate.
const ALLOWANCE: u64 = 2 * BLOCK_SAMPLES + RATE / 100;
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

/// A `dmabuf_overrun` tag as `tag_debug` printed it.
#[derive(Debug)]
struct OverrunTag {
    /// Absolute position in `head`'s output, the file's sample index.
    at: u64,
    /// From weir-core's typed payload (`≈12030 samples lost in 1 gap(s) (estimate)`), when
    /// printed as such: samples lost, gaps, evidence.
    lost: Option<u64>,
    events: Option<u64>,
    evidence: Option<String>,
}

/// The `dmabuf_overrun` tags in `tag_debug`'s output (`TagDebug tags: buf 305/abs 28672 --
/// dmabuf_overrun: ≈12030 samples lost in 1 gap(s) (estimate)`), matched on the tag's name
/// (printed as above for weir's typed payload, `NamedUsize("dmabuf_overrun", …)`-style for
/// other payloads, whose numbers are then not read).
fn overrun_tags(stdout: &str) -> Result<Vec<OverrunTag>, String> {
    let mut tags = Vec::new();
    for l in stdout.lines().filter(|l| l.starts_with("TagDebug tags:")) {
        let Some((place, text)) = l.split_once(" -- ") else {
            continue;
        };
        let payload = if let Some(p) = text.strip_prefix("dmabuf_overrun: ") {
            Some(p)
        } else if text.contains("\"dmabuf_overrun\"") {
            None
        } else {
            continue;
        };
        let abs = place
            .split("/abs ")
            .nth(1)
            .ok_or_else(|| format!("no position in tag line {l:?}"))?;
        let at = abs
            .trim()
            .parse()
            .map_err(|e| format!("tag position {abs:?} in {l:?}: {e}"))?;
        let number = |s: &str| s.trim_start_matches('≈').parse::<u64>().ok();
        let words: Vec<&str> = payload.map(|p| p.split(' ').collect()).unwrap_or_default();
        tags.push(OverrunTag {
            at,
            lost: words.first().and_then(|w| number(w)),
            events: words
                .iter()
                .position(|w| *w == "in")
                .and_then(|i| words.get(i + 1))
                .and_then(|w| number(w)),
            evidence: payload
                .and_then(|p| p.rsplit_once('('))
                .map(|(_, e)| e.trim_end_matches(')').to_string()),
        });
    }
    Ok(tags)
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

    // 2. weir's overrun tags against the gaps, one by one.
    let tags = overrun_tags(&run.stdout)?;
    let mut tagged = Vec::new();
    // Per tag: the scans the estimate missed (the device's count less weir's).
    let mut shortfalls = Vec::new();
    for t in &tags {
        let g = in_file
            .iter()
            .find(|g| g.delivered == t.at)
            .ok_or_else(|| {
                format!(
                    "a dmabuf_overrun tag at sample {}, where the device lost nothing \
                 (tags {tags:?}; the device's gaps {gaps:?})\n{}",
                    t.at,
                    run.shown()
                )
            })?;
        if let Some(e) = &t.evidence {
            ensure!(
                e == "estimate",
                "the tag at sample {} says `{e}`: the module has no status register, the only \
                 evidence is the estimate",
                t.at
            );
        }
        if let (Some(lost), Some(1)) = (t.lost, t.events) {
            shortfalls.push(g.lost as i64 - lost as i64);
            let (low, high) = (g.lost.saturating_sub(ALLOWANCE), g.lost + ALLOWANCE + 2);
            ensure!(
                (low..=high).contains(&lost),
                "the tag at sample {} estimates {lost} samples lost, the device lost {}: the \
                 estimate must lie in {low}..={high}",
                t.at,
                g.lost
            );
        }
        tagged.push(*g);
    }
    for g in in_file.iter().filter(|g| g.lost > ALLOWANCE) {
        ensure!(
            tags.iter().any(|t| t.at == g.delivered),
            "the device lost {} scans before sample {}, weir put no dmabuf_overrun tag there \
             (tags {tags:?}; the device's gaps {gaps:?})\n{}",
            g.lost,
            g.delivered,
            run.shown()
        );
    }

    // 3. weir's report against the module's counts.
    let row = run.row("src")?.to_string();
    let (_, evidence) = run.field("src", "loss_evidence")?;
    ensure!(
        evidence == "estimate",
        "loss_evidence={evidence}: the module has no status register, the only evidence is \
         the estimate\n{row}"
    );
    let (_, rate_note) = run.field("src", "sample_rate")?;
    ensure!(
        rate_note
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n == RATE.to_string()),
        "sample_rate={rate_note}: weir must know the device's rate ({RATE}) to estimate\n{row}"
    );
    let (overruns, approximate, label) = run.counter("src", "overruns")?;
    ensure!(
        !approximate && label.as_deref() == Some("estimate"),
        "overruns must be a count labelled with its evidence, `overruns=N (estimate)`\n{row}"
    );
    let (dropped, approximate, label) = run.counter("src", "dropped_samples")?;
    ensure!(
        approximate && label.as_deref() == Some("estimate"),
        "an estimate of dropped samples must read as one, `dropped_samples≈N (estimate)`\n{row}"
    );
    // Every tag is one overrun or more; an overrun after the last sample the file took
    // carries no tag that reached it; every overrun is one of the device's gaps.
    let tag_events: u64 = tags.iter().map(|t| t.events.unwrap_or(1)).sum();
    ensure!(
        overruns >= tag_events && overruns <= lost_gaps,
        "overruns={overruns}: expected at least the {tag_events} of the tags and at most the \
         device's {lost_gaps} gaps\n{row}"
    );
    let seen: u64 = tagged.iter().map(|g| g.lost).sum();
    let low = tagged
        .iter()
        .map(|g| g.lost.saturating_sub(ALLOWANCE))
        .sum::<u64>();
    let high = lost_scans + (ALLOWANCE + 2) * overruns;
    ensure!(
        (low..=high).contains(&dropped),
        "dropped_samples≈{dropped}: the device lost {lost_scans} scans in {lost_gaps} gaps, \
         {seen} of them in the {} tagged; the estimate must lie in {low}..={high} (each \
         tagged gap less {ALLOWANCE} at most, plus {ALLOWANCE} and 2 per overrun)\n{row}",
        tagged.len()
    );

    // In milliseconds of the ADC's clock: weir's completion latency, as the test sees it.
    let ms = |scans: i64| scans as f64 * 1000.0 / RATE as f64;
    let latency = match (shortfalls.iter().min(), shortfalls.iter().max()) {
        (Some(&lo), Some(&hi)) => format!(
            "the device's count less weir's estimate: {:.1}..{:.1} ms per gap (mean {:.1}, allowance ±{:.1})",
            ms(lo),
            ms(hi),
            ms(shortfalls.iter().sum::<i64>()) / shortfalls.len() as f64,
            ms(ALLOWANCE as i64)
        ),
        _ => "no per-gap estimate printed".to_string(),
    };
    Ok(format!(
        "weir run {:.2} s; device: {lost_scans} scans lost in {lost_gaps} gaps ({} in the \
         file, at the ramp's breaks); weir: overruns={overruns} dropped_samples≈{dropped} \
         ({evidence}), {} tags at the gaps; {latency}",
        run.secs,
        in_file.len(),
        tags.len()
    ))
}

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
//! 1. the device's blocks, and weir's, against the file, block for block: the module lists
//!    every block it was given since enable (`block_log`: the stream scan it starts at, its
//!    scans, when it was submitted and completed), and weir tags every block it hands on
//!    (`dmabuf_time`) with its sequence number, which counts every completion weir collected,
//!    delivered or not. The device completes its blocks in the order they were queued, weir
//!    collects them in that order, so weir's block N must hold exactly the device's block N,
//!    sample for sample, and a sequence number missing from the file must be a block weir
//!    reported leaving out (status unknown: its fence had signalled before weir could export
//!    it, see tests/kernel/README.md) — counted, with an exact tag. The module's two accounts
//!    are checked against each other first (its gap log must be the gaps between its blocks),
//!    so that a failure says whose it is: the module's (its logs disagree), weir's (a block
//!    of the device missing from the file that weir did not report — a silent loss — or data
//!    from the wrong block), and shows where every piece of the file came from;
//! 2. weir's `dmabuf_overrun` tags (printed by `tag_debug` with their absolute position and
//!    their payload) against the gaps: every tag sits exactly on the first sample weir
//!    delivered after a gap (or after blocks it left out, then exact and of their size), every gap longer than the allowance below carries one, and each tag's estimate of
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
//! sides, but not on the same evidence. The device's gap (its sample clock) starts when the
//! last scan of its last queued block was due and ends when its submit() takes the next
//! block, inside weir's ENQUEUE. weir's starts when that last block's fence signalled (the
//! kernel's time of the completion, read with the fence's status; before 2026-12-01 weir took
//! the time it *collected* the completion, later by its wake-up latency, up to 60 ms under
//! load) and ends when it reads the clock after ENQUEUE (and the fence export) returned. The
//! module logs both ends of weir's evidence (`block_log`: `DONE_US`, read just before it
//! signals the fence, and `SUBMIT_US`, inside the ENQUEUE), so the test does not guess the
//! start: it computes the estimate weir should give from the same evidence weir has
//! ([`fence_gap`]: from the logged completion of the block before the gap to the logged
//! submit after it, times the rate). That is short of the device's gap exactly by the
//! device's own lateness — the module's timer completing a block after its last scan was
//! due, 50–100 ms when the host keeps the guest's vCPU off the CPU under TCG — which weir
//! cannot see and the test no longer has to allow for. What remains is on weir's side only:
//!
//! - short by at most [`FENCE_SLACK`] (1 ms + 2 scans): the fence signals a few lines after
//!   the module's clock read, and the logs round to µs;
//! - long by weir's own latency from the submit inside ENQUEUE to its clock read after the
//!   ENQUEUE and the fence export returned — by those ioctls and any preemption in between. The
//!   allowance for it, per gap, is the one weir's own loss model grants a completion before it
//!   counts it late (`LossMeter::timing_tolerance`: two block periods plus 10 ms, 51 ms at
//!   200 kS/s, [`ALLOWANCE`] scans), plus 2 scans of rounding: a machine slower than that to
//!   run weir breaks weir's assumptions, and the test says so.
//!
//! The device's lateness has a second effect: a completion later than weir's model of the
//! device allows by more than that tolerance is, to weir, a stall with blocks queued — a
//! timing loss — although the device lost nothing (its data was written at submit). The
//! test computes from the same logs how late each completion is against the model
//! ([`model_lateness_us`]: after one block period from the later of its submit and the
//! previous completion) and accepts a tag where the device lost nothing only on the blocks
//! later than the tolerance, with an estimate of at most that lateness; the report's
//! `overruns` and `dropped_samples` may include these. The device's lateness by its own clock
//! ([`device_lateness_us`]) is printed when a check fails.
//!
//! The device's gap always contains the span from weir's collection of the last completion
//! to the submit() of the next block — weir's own processing, tens of µs at least under TCG,
//! more than a scan period (5 µs) — so every starvation interval weir counts is one of the
//! device's gaps, and a tag anywhere else (but on a late completion, above) is a false
//! report. A gap may have gone unseen when weir requeued a block before it had collected the
//! last completion (its queue never ran empty), which weir's latency bounds: a gap whose
//! evidence ([`fence_gap`]) is shorter than the allowance may carry no tag, every longer one
//! must carry one, as one overrun.

use weir_iio::Device;

use super::weir_run::weir_run;
use super::{ADC, TestResult, ctx, device, ensure_buffer_disabled, ensure_no_attachments};

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
/// weir's timing tolerance in µs (the same two block periods plus 10 ms).
const TOLERANCE_US: i64 = (ALLOWANCE * 1_000_000 / RATE) as i64;
/// Per gap, the scans by which weir's estimate may fall short of [`fence_gap`]: the fence's
/// signal time is later than the module's `DONE_US` by the few lines between them (the
/// module's clock read, then `iio_dma_buffer_block_done`), and the logs round to µs. 1 ms
/// of the ADC's clock, plus 2 scans of rounding.
const FENCE_SLACK: u64 = RATE / 1000 + 2;
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

/// One block the device lists in `block_log`: submitted since enable, in submission order.
#[derive(Debug, Clone, Copy)]
struct DeviceBlock {
    /// The stream scan of its first scan (lost scans included).
    start: u64,
    scans: u64,
    /// CLOCK_MONOTONIC, µs.
    submit_us: u64,
    /// When it completed (CLOCK_MONOTONIC, µs) and what completed it (`t` the clock's timer,
    /// `w` the work item, `f` failed); `None`: not completed (aborted at disable).
    done: Option<(u64, char)>,
}

fn block_log(dev: &Device) -> Result<Vec<DeviceBlock>, String> {
    let text = dev.read_attr("block_log").map_err(ctx("block_log"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|w| w.parse::<u64>().ok());
            let done = match (f.get(3), f.get(4)) {
                (Some(&"-"), Some(&"-")) => None,
                (Some(_), Some(how)) => Some((num(3), how.chars().next())),
                _ => return Err(format!("block_log line {l:?}")),
            };
            match (num(0), num(1), num(2), done) {
                (Some(start), Some(scans), Some(submit_us), None) => Ok(DeviceBlock {
                    start,
                    scans,
                    submit_us,
                    done: None,
                }),
                (Some(start), Some(scans), Some(submit_us), Some((Some(t), Some(how)))) => {
                    Ok(DeviceBlock {
                        start,
                        scans,
                        submit_us,
                        done: Some((t, how)),
                    })
                }
                _ => Err(format!("block_log line {l:?}")),
            }
        })
        .collect()
}

/// The gap before each of the device's blocks (scans; 0: none), from its block log alone, and
/// the check that it agrees with its gap log (`lost_log`): the module's two accounts of the
/// same stream. A disagreement is the module's fault, whatever weir did.
fn gaps_before(blocks: &[DeviceBlock], gaps: &[Gap]) -> Result<Vec<u64>, String> {
    let (mut end, mut delivered) = (0u64, 0u64);
    let mut before = Vec::with_capacity(blocks.len());
    let mut implied = Vec::new();
    for (k, b) in blocks.iter().enumerate() {
        ensure!(
            b.start >= end,
            "the module's block {k} starts at scan {}, inside block {} (ending at scan {end}): \
             the test module is wrong (block log {blocks:?})",
            b.start,
            k.saturating_sub(1)
        );
        if b.start > end {
            implied.push((delivered, b.start - end));
        }
        before.push(b.start - end);
        end = b.start + b.scans;
        delivered += b.scans;
    }
    // The gaps before the blocks listed; a gap at or after `delivered` lies after them.
    let logged: Vec<(u64, u64)> = gaps
        .iter()
        .filter(|g| g.delivered < delivered)
        .map(|g| (g.delivered, g.lost))
        .collect();
    ensure!(
        implied == logged,
        "the test module's two accounts disagree: its block log implies the gaps (scans \
         delivered before, scans lost) {implied:?}, its lost_log lists {logged:?}: the module \
         missed or invented a gap (block log {blocks:?})"
    );
    // Completed in submission order, the aborted ones (at disable) last.
    let mut last_done = 0;
    let mut open = None;
    for (k, b) in blocks.iter().enumerate() {
        match (b.done, open) {
            (Some((t, _)), None) => {
                ensure!(
                    t >= last_done,
                    "the module completed its block {k} at {t} µs, before block {} ({last_done} \
                     µs): out of order (block log {blocks:?})",
                    k - 1
                );
                last_done = t;
            }
            (Some(_), Some(first)) => {
                return Err(format!(
                    "the module completed its block {k} after leaving block {first} \
                     uncompleted (block log {blocks:?})"
                ));
            }
            (None, _) => open = open.or(Some(k)),
        }
    }
    Ok(before)
}

/// Scans of the ADC's clock in `us` microseconds (negative: none).
fn scans_in_us(us: i64) -> i64 {
    us * RATE as i64 / 1_000_000
}

/// The starvation weir's estimate should find before the device's block `m`, in scans, from
/// the same evidence weir has: from the fence time of block `m - 1` (the module's `DONE_US`,
/// read just before it signals the fence) to the submit of block `m` (`SUBMIT_US`, inside the
/// ENQUEUE after which weir reads its clock). When the device completes block `m - 1` late by
/// L, the device's gap (its sample clock) is longer than this by L × rate: weir cannot know
/// the scans that were due before the fence signalled. `None`: no completion logged.
fn fence_gap(blocks: &[DeviceBlock], m: usize) -> Option<i64> {
    let previous = blocks.get(m.checked_sub(1)?)?.done?.0;
    Some(scans_in_us(
        blocks.get(m)?.submit_us as i64 - previous as i64,
    ))
}

/// How late the device's block `k` completed against weir's loss model (µs), as the model
/// sees it from the fence times: the block can complete no earlier than one block period
/// after the later of its submit and the previous block's completion; the model's end for it
/// is that or later (weir reads its clock after the ENQUEUE, after the submit), so weir's
/// measure of its lateness is at most this. A block the module completed late by more than
/// `LossMeter::timing_tolerance` (its timer fired late: a vCPU kept off the host's CPU) may
/// be reported by weir as a timing loss although the device lost nothing: its data was
/// written at submit. `None`: not completed.
fn model_lateness_us(blocks: &[DeviceBlock], k: usize) -> Option<i64> {
    let b = blocks.get(k)?;
    let done = b.done?.0 as i64;
    let previous = k
        .checked_sub(1)
        .and_then(|p| blocks.get(p)?.done)
        .map_or(0, |(t, _)| t as i64);
    let begin = (b.submit_us as i64).max(previous);
    Some(done - begin - (b.scans * 1_000_000 / RATE) as i64)
}

/// The device's own lateness for each block (µs): its completion less when its last scan was
/// due by its clock. The clock's origin is not logged; every block submitted after a gap
/// starts at the scan due at its submit (the module accounts the loss there), so the origin
/// is at most `SUBMIT_US - START / rate` of each such block: the least of them. For the
/// failure message only.
fn device_lateness_us(blocks: &[DeviceBlock], before: &[u64]) -> Vec<Option<i64>> {
    let origin = blocks
        .iter()
        .zip(before)
        .filter(|(_, g)| **g > 0)
        .map(|(b, _)| b.submit_us as i64 - (b.start * 1_000_000 / RATE) as i64)
        .min();
    blocks
        .iter()
        .map(|b| {
            let due = origin? + ((b.start + b.scans) * 1_000_000 / RATE) as i64;
            Some(b.done?.0 as i64 - due)
        })
        .collect()
}

/// A block weir delivered, as its `dmabuf_time` tag shows it (`TagDebug tags: buf 0/abs 8192
/// -- dmabuf_time: block 2 completed at 5512345678 ns, first sample 8192`).
#[derive(Debug, Clone, Copy)]
struct Delivered {
    /// Where it begins in `head`'s output: the file's sample index.
    at: u64,
    /// weir's sequence number: every block it collected, delivered or left out, in order.
    sequence: u64,
    /// When weir collected its completion (CLOCK_MONOTONIC, ns).
    completed_ns: u64,
}

fn delivered_blocks(stdout: &str) -> Result<Vec<Delivered>, String> {
    let mut out = Vec::new();
    for l in stdout.lines().filter(|l| l.starts_with("TagDebug tags:")) {
        let Some((place, text)) = l.split_once(" -- ") else {
            continue;
        };
        let Some(payload) = text.strip_prefix("dmabuf_time: block ") else {
            continue;
        };
        let words: Vec<&str> = payload.split([' ', ',']).collect();
        let at = place
            .split("/abs ")
            .nth(1)
            .and_then(|a| a.trim().parse().ok());
        let sequence = words.first().and_then(|w| w.parse().ok());
        let completed_ns = words
            .iter()
            .position(|w| *w == "at")
            .and_then(|i| words.get(i + 1))
            .and_then(|w| w.parse().ok());
        match (at, sequence, completed_ns) {
            (Some(at), Some(sequence), Some(completed_ns)) => out.push(Delivered {
                at,
                sequence,
                completed_ns,
            }),
            _ => return Err(format!("dmabuf_time tag line {l:?}")),
        }
    }
    Ok(out)
}

/// The sequence numbers of the blocks weir left out as of unknown status (its warning
/// `DMA block N of the stream (first sample S): …; counted as 4096 lost samples`).
fn unknown_status_blocks(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter(|l| l.contains("counted as") && l.contains("lost samples"))
        .filter_map(|l| {
            let rest = &l[l.find("DMA block ")? + "DMA block ".len()..];
            rest.split(' ').next()?.parse().ok()
        })
        .collect()
}

/// One piece of the file: the samples of one block weir delivered.
#[derive(Debug, Clone, Copy)]
struct Piece {
    at: u64,
    len: u64,
    block: Delivered,
}

/// The scan a ci16 sample of the ramp holds (I = 2·scan, Q = I + 1, modulo the 16-bit wrap),
/// or `None` when it is no ramp sample.
fn ramp_scan(sample: &[u8]) -> Option<u16> {
    let i = u16::from_le_bytes([sample[0], sample[1]]);
    let q = u16::from_le_bytes([sample[2], sample[3]]);
    (q == i.wrapping_add(1) && i.is_multiple_of(2)).then_some(i / 2)
}

/// Everything that shows where each piece of the file came from, for a failure message: per
/// piece, weir's block and the device's block of the same sequence number; the device's blocks
/// that are not in the file; what weir said it left out; the module's own logs.
fn provenance(
    pieces: &[Piece],
    data: &[u8],
    blocks: &[DeviceBlock],
    gaps: &[Gap],
    unknown: &[u64],
    run_stderr: &str,
) -> String {
    let mut s = String::from("where each piece of the file came from:\n");
    let mut shown = 0u64;
    for p in pieces {
        for k in shown..p.block.sequence {
            let what = if unknown.contains(&k) {
                "weir reported it of unknown status and left it out"
            } else {
                "NOT IN THE FILE, and weir reported nothing about it"
            };
            let b = blocks.get(k as usize);
            s += &format!("  (none): device block {k} {b:?}: {what}\n");
        }
        shown = p.block.sequence + 1;
        let found = data
            .get(p.at as usize * 4..p.at as usize * 4 + 4)
            .and_then(ramp_scan);
        s += &format!(
            "  file [{}, {}): weir block {} collected at {} µs, first sample holds scan {} (mod \
             32768); device block {}: {:?}\n",
            p.at,
            p.at + p.len,
            p.block.sequence,
            p.block.completed_ns / 1000,
            found.map_or("(no ramp sample)".to_string(), |f| f.to_string()),
            p.block.sequence,
            blocks.get(p.block.sequence as usize)
        );
    }
    s += &format!("device's lost_log (delivered lost): {gaps:?}\n");
    s += &format!("device's block_log (start scans submit_us done_us how): {blocks:?}\n");
    s += &format!("weir's blocks of unknown status: {unknown:?}\n");
    let warnings: Vec<&str> = run_stderr.lines().filter(|l| l.contains("WARN")).collect();
    s += &format!("weir's warnings:\n{}", warnings.join("\n"));
    s
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
    ensure_buffer_disabled(ADC, "after weir exited")?;
    ensure_no_attachments()?;
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

    // 1. The device's blocks, and weir's, against the file, block for block. The module
    // lists every block it was given (block_log) with the stream scan it starts at; weir tags
    // every block it delivers with its sequence number (dmabuf_time), which counts every
    // completion it collected, delivered or left out. The device completes its blocks in the
    // order they were queued and weir collects them in that order, so weir's block N must be
    // the device's block N, and the file must hold exactly the device's blocks but those weir
    // reported as left out (status unknown: a fence that signalled before it was exported),
    // sample for sample.
    let blocks = block_log(&dev)?;
    let before = gaps_before(&blocks, &gaps)?;
    let delivered = delivered_blocks(&run.stdout)?;
    let unknown = unknown_status_blocks(&run.stderr);
    let unknown_counted = match run.counter("src", "status_unknown") {
        Ok((n, _, _)) => n,
        Err(_) => 0,
    };
    ensure!(
        unknown_counted == unknown.len() as u64,
        "weir counts status_unknown={unknown_counted} but warned of {} blocks left out \
         ({unknown:?})\n{}",
        unknown.len(),
        run.shown()
    );
    let mut weir_blocks: Vec<Delivered> =
        delivered.into_iter().filter(|d| d.at < SAMPLES).collect();
    weir_blocks.sort_by_key(|d| d.at);
    let pieces: Vec<Piece> = weir_blocks
        .iter()
        .enumerate()
        .map(|(i, d)| Piece {
            at: d.at,
            len: weir_blocks.get(i + 1).map_or(SAMPLES, |n| n.at) - d.at,
            block: *d,
        })
        .collect();
    let explain = || provenance(&pieces, &data, &blocks, &gaps, &unknown, &run.stderr);
    ensure!(
        pieces.first().is_some_and(|p| p.at == 0),
        "{out}: no dmabuf_time tag on its first sample (tags of weir's blocks at {:?})\n{}",
        pieces.iter().map(|p| p.at).collect::<Vec<_>>(),
        run.shown()
    );
    let mut next_sequence = 0u64;
    for p in &pieces {
        let n = p.block.sequence;
        ensure!(
            n >= next_sequence,
            "{out}: weir's block {n} at sample {} after its block {}: out of order\n{}",
            p.at,
            next_sequence.saturating_sub(1),
            explain()
        );
        // Sequence numbers weir skipped: blocks it collected and did not deliver. Each must
        // be one it said it left out; a block that vanished without a word would show here
        // only if weir still counted it, so the data check below is the one that catches a
        // block dropped before it was numbered.
        for k in next_sequence..n {
            ensure!(
                unknown.contains(&k),
                "{out}: weir's blocks jump from {} to {n} at sample {}: its block {k} (the \
                 device's block {k}: {:?}) was collected and never delivered, and weir did not \
                 report it left out — a silent loss in weir\n{}",
                next_sequence.saturating_sub(1),
                p.at,
                blocks.get(k as usize),
                explain()
            );
        }
        next_sequence = n + 1;
        let Some(b) = blocks.get(n as usize) else {
            return Err(format!(
                "{out}: weir's block {n} at sample {}: the device lists only {} blocks \
                 (block_log holds the first {})\n{}",
                p.at,
                blocks.len(),
                blocks.len(),
                explain()
            ));
        };
        ensure!(
            b.done.is_some(),
            "{out}: weir delivered its block {n} at sample {}, which the device never \
             completed ({b:?})\n{}",
            p.at,
            explain()
        );
        let last = p.at + p.len == SAMPLES;
        ensure!(
            p.len == b.scans || (last && p.len < b.scans),
            "{out}: weir's block {n} spans samples {}..{} ({} samples), the device's block {n} \
             has {} scans\n{}",
            p.at,
            p.at + p.len,
            p.len,
            b.scans,
            explain()
        );
        for j in 0..p.len {
            let at = (p.at + j) as usize * 4;
            let sample = &data[at..at + 4];
            let want = (b.start + j) as u16;
            // I = 2·scan, Q = I + 1, modulo the ramp's 16-bit wrap.
            let (i, q) = (
                u16::from_le_bytes([sample[0], sample[1]]),
                u16::from_le_bytes([sample[2], sample[3]]),
            );
            let wi = want.wrapping_mul(2);
            if (i, q) != (wi, wi.wrapping_add(1)) {
                // Which of the device's blocks this sample came from, if any.
                let source = ramp_scan(sample).and_then(|scan| {
                    blocks.iter().enumerate().find_map(|(m, d)| {
                        let off = scan.wrapping_sub(d.start as u16) as u64 % 32768;
                        (off < d.scans && (m as u64) >= n).then_some((m, off))
                    })
                });
                let what = match source {
                    Some((m, off)) if m as u64 > n && off == j => format!(
                        "the device's block {m}: weir delivered the device's block {m} as its \
                         block {n}, so the device's blocks {n}..{m} completed and never reached \
                         the file, uncounted — a silent loss in weir"
                    ),
                    Some((m, off)) => format!(
                        "scan {} of the device's block {m} (its sample {off}): a block cut \
                         apart or mixed",
                        blocks[m].start + off
                    ),
                    None => "no block of the device: not the device's data".to_string(),
                };
                return Err(format!(
                    "{out}: sample {} (sample {j} of weir's block {n}) is I = {i}, Q = {q}; the \
                     device's block {n} holds scan {} there (I = {wi}); it holds {what}\n{}",
                    p.at + j,
                    b.start + j,
                    explain()
                ));
            }
        }
    }
    // Left out: of weir's blocks before the file's end, those it did not deliver.
    let left_out = |from: u64, to: u64| -> u64 {
        (from..to)
            .map(|k| blocks.get(k as usize).map_or(0, |b| b.scans))
            .sum()
    };

    // 2. weir's overrun tags against the gaps, block by block: the gaps before the device's
    // blocks since weir's previous delivered block (and the blocks it left out in between)
    // are what the tag on the next delivered block accounts for.
    let tags = overrun_tags(&run.stdout)?;
    let lateness = device_lateness_us(&blocks, &before);
    // The device's blocks whose completion weir's model may take for a stall (a timing
    // loss, see model_lateness_us), with that lateness (µs).
    let late_blocks: Vec<(usize, i64)> = (0..blocks.len())
        .filter_map(|k| Some((k, model_lateness_us(&blocks, k)?)))
        // Within 1 ms of the tolerance: weir's model can run that much ahead of the fence
        // times (it resynchronises at each completion), see model_lateness_us.
        .filter(|&(_, l)| l > TOLERANCE_US - 1000)
        .collect();
    let mut shortfalls = Vec::new();
    // Per gap: weir's estimate less what the fence evidence shows (fence_gap).
    let mut over_evidence = Vec::new();
    // The device's gaps weir tagged, and the events of the tags that are device gaps.
    let mut tagged = Vec::new();
    let mut tag_events = 0u64;
    for t in &tags {
        ensure!(
            pieces.iter().any(|p| p.at == t.at),
            "a dmabuf_overrun tag at sample {}, not on the first sample of a block weir \
             delivered (tags {tags:?})\n{}",
            t.at,
            explain()
        );
    }
    let mut previous: Option<u64> = None;
    for p in &pieces {
        let n = p.block.sequence;
        let from = previous.map_or(0, |s| s + 1);
        previous = Some(n);
        let range: Vec<u64> = (from..=n)
            .filter_map(|k| before.get(k as usize).copied())
            .filter(|&g| g > 0)
            .collect();
        // The same gaps with the block after each and what weir's evidence shows of it.
        let gaps_here: Vec<(usize, u64, Option<i64>)> = (from..=n)
            .map(|k| k as usize)
            .filter_map(|k| Some((k, *before.get(k)?, fence_gap(&blocks, k))))
            .filter(|&(_, g, _)| g > 0)
            .collect();
        // Late completions weir may have counted as timing losses, tagged here.
        let late_here: Vec<(usize, i64)> = late_blocks
            .iter()
            .copied()
            .filter(|&(k, _)| (from..=n).contains(&(k as u64)))
            .collect();
        let skipped = n - from;
        let skipped_samples = left_out(from, n);
        let here: Vec<&OverrunTag> = tags.iter().filter(|t| t.at == p.at).collect();
        ensure!(
            here.len() <= 1,
            "{} dmabuf_overrun tags at sample {}: {here:?}",
            here.len(),
            p.at
        );
        let Some(t) = here.first() else {
            ensure!(
                skipped == 0,
                "weir left out {skipped} blocks before sample {} and put no dmabuf_overrun tag \
                 there\n{}",
                p.at,
                explain()
            );
            // A gap weir did not see: it requeued a block before it had collected the last
            // completion, so its queue never ran empty. What weir could have seen of the gap
            // is the fence's evidence (fence_gap); a gap whose evidence is longer than the
            // allowance (weir's latency between a completion and a requeue) must carry a tag.
            if let Some(&(m, g, seen)) = gaps_here
                .iter()
                .find(|&&(_, _, e)| e.is_none_or(|e| e > ALLOWANCE as i64))
            {
                return Err(format!(
                    "the device lost {g} scans before its block {m} (weir's block {n}, sample \
                     {}), {seen:?} of them after the fence of block {} signalled: weir put no \
                     dmabuf_overrun tag there (tags {tags:?})\n{}\n{}",
                    p.at,
                    m.saturating_sub(1),
                    explain(),
                    run.shown()
                ));
            }
            continue;
        };
        ensure!(
            !range.is_empty() || skipped > 0 || !late_here.is_empty(),
            "a dmabuf_overrun tag at sample {}, where the device lost nothing and completed \
             no block later than weir's timing tolerance ({TOLERANCE_US} µs; the device's \
             lateness per block, µs: {:?}) (tags {tags:?}): weir's estimate found a loss the \
             device did not have\n{}",
            t.at,
            &lateness[from as usize..=(n as usize).min(lateness.len().saturating_sub(1))],
            explain()
        );
        if let Some(e) = &t.evidence {
            // A tag of blocks left out only is exact (weir knows their size); the device's
            // gaps come from the estimate: the module has no status register.
            let want = if range.is_empty() && late_here.is_empty() {
                "exact"
            } else {
                "estimate"
            };
            ensure!(
                e == want,
                "the tag at sample {} says `{e}`, expected `{want}` (device gaps {range:?}, \
                 {skipped} blocks left out)",
                t.at
            );
        }
        if range.is_empty() && late_here.is_empty() {
            ensure!(
                t.lost == Some(skipped_samples),
                "the tag at sample {} says {:?} samples lost; weir left out {skipped} blocks of \
                 {skipped_samples} samples and the device lost nothing there",
                t.at,
                t.lost
            );
        }
        if let (Some(lost), Some(1), [], [(k, late)], 0) = (
            t.lost,
            t.events,
            range.as_slice(),
            late_here.as_slice(),
            skipped,
        ) {
            // A timing loss only: weir measured the completion's lateness against its model,
            // at most the lateness from the fence times (model_lateness_us), more than its
            // tolerance.
            let high = scans_in_us(*late) as u64 + FENCE_SLACK;
            ensure!(
                (ALLOWANCE - 1..=high).contains(&lost),
                "the tag at sample {} estimates {lost} samples lost where the device lost \
                 nothing but completed its block {k} {late} µs later than weir's model allows \
                 from the fence times: a timing loss must lie in {}..={high}\n{}",
                t.at,
                ALLOWANCE - 1,
                explain()
            );
        }
        if let (Some(lost), Some(1), [(m, g, Some(seen))], [], 0) = (
            t.lost,
            t.events,
            gaps_here.as_slice(),
            late_here.as_slice(),
            skipped,
        ) {
            shortfalls.push(*g as i64 - lost as i64);
            // The estimate weir should give is what its evidence shows of the gap: from the
            // fence time of the device's block before it to the submit of the next
            // (fence_gap) — short of the device's gap by the device's own lateness — less
            // FENCE_SLACK, plus weir's latency from the submit to its clock read after the
            // ENQUEUE (at most ALLOWANCE, weir's own tolerance) and 2 scans of rounding.
            over_evidence.push(lost as i64 - *seen);
            let seen = (*seen).max(0) as u64;
            let (low, high) = (seen.saturating_sub(FENCE_SLACK), seen + ALLOWANCE + 2);
            let g = *g;
            let n = *m as u64;
            // The gap began when the device completed its previous block; weir's interval
            // when it collected that completion; both end at the submit of block n.
            let late = n.checked_sub(1).and_then(|k| {
                let done = blocks.get(k as usize)?.done?.0;
                let seen = weir_blocks.iter().find(|d| d.sequence == k)?.completed_ns / 1000;
                Some(format!(
                    "; the device completed its block {k} at {done} µs, weir collected it at \
                     {seen} µs ({:+.1} ms), the device submitted block {n} at {} µs",
                    (seen as f64 - done as f64) / 1000.0,
                    blocks[n as usize].submit_us
                ))
            });
            ensure!(
                (low..=high).contains(&lost),
                "the tag at sample {} estimates {lost} samples lost, the device lost {g}, {seen} \
                 of them after the fence of its block {} signalled (the device completed that \
                 block {:?} µs late by its own clock): the estimate must lie in \
                 {low}..={high}{}\n{}",
                t.at,
                n.saturating_sub(1),
                n.checked_sub(1)
                    .and_then(|k| lateness.get(k as usize).copied().flatten()),
                late.unwrap_or_default(),
                explain()
            );
        }
        tag_events += t.events.unwrap_or(1).saturating_sub(skipped);
        // Per tagged gap: the device's size, and the least weir's estimate may give for it.
        tagged.extend(gaps_here.iter().map(|&(_, g, seen)| {
            let low = seen.map_or(g.saturating_sub(ALLOWANCE), |e| {
                (e.max(0) as u64).saturating_sub(FENCE_SLACK)
            });
            (g, low.min(g))
        }));
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
    // Every tag of a device gap is one overrun or more (blocks left out are no overrun); an
    // overrun after the last sample the file took carries no tag that reached it; every
    // overrun is one of the device's gaps.
    // A late completion of the device may add one timing loss each (late_blocks).
    let late_scans: u64 = late_blocks
        .iter()
        .map(|&(_, l)| scans_in_us(l) as u64 + FENCE_SLACK)
        .sum();
    ensure!(
        overruns >= tag_events && overruns <= lost_gaps + late_blocks.len() as u64,
        "overruns={overruns}: expected at least the {tag_events} of the tags and at most the \
         device's {lost_gaps} gaps and the {} completions later than weir's tolerance \
         ({late_blocks:?}, µs)\n{row}",
        late_blocks.len()
    );
    let seen: u64 = tagged.iter().map(|(g, _)| g).sum();
    let low = tagged.iter().map(|(_, low)| low).sum::<u64>();
    let high = lost_scans + (ALLOWANCE + 2) * overruns + late_scans;
    ensure!(
        (low..=high).contains(&dropped),
        "dropped_samples≈{dropped}: the device lost {lost_scans} scans in {lost_gaps} gaps, \
         {seen} of them in the {} tagged; the estimate must lie in {low}..={high} (each \
         tagged gap less its device's lateness and {FENCE_SLACK}, plus {ALLOWANCE} and 2 per \
         overrun and the late completions' {late_scans})\n{row}",
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
    let latency = match (over_evidence.iter().min(), over_evidence.iter().max()) {
        (Some(&lo), Some(&hi)) => format!(
            "{latency}; weir's estimate less the fence evidence: {:.2}..{:.2} ms (allowance \
             -{:.2}..+{:.2}); completions later than weir's tolerance: {late_blocks:?} (µs)",
            ms(lo),
            ms(hi),
            ms(FENCE_SLACK as i64),
            ms(ALLOWANCE as i64 + 2)
        ),
        _ => latency,
    };
    // The blocks weir left out, with the device's gaps around them: the evidence of each.
    let last_in_file = pieces.last().map_or(0, |p| p.block.sequence);
    let left: Vec<String> = unknown
        .iter()
        .filter(|&&k| k < last_in_file)
        .map(|&k| {
            let b = blocks.get(k as usize);
            format!(
                "weir's block {k} = the device's {:?}, gap before {:?}, after {:?}",
                b.map(|b| (b.start, b.scans, b.submit_us, b.done)),
                before.get(k as usize),
                before.get(k as usize + 1)
            )
        })
        .collect();
    Ok(format!(
        "weir run {:.2} s; device: {lost_scans} scans lost in {lost_gaps} gaps ({} in the \
         file), {} blocks; the file: weir's blocks {}..={} = the device's, sample for sample, \
         {} left out inside the file {left:?} ({} in the run, status unknown, reported); \
         weir: overruns={overruns} dropped_samples≈{dropped} ({evidence}), {} tags at the \
         gaps; {latency}",
        run.secs,
        in_file.len(),
        blocks.len(),
        pieces.first().map_or(0, |p| p.block.sequence),
        last_in_file,
        left.len(),
        unknown.len(),
        tags.len()
    ))
}

//! Real channel formats through `weir run`, checked sample for sample.
//!
//! `weir-sim-adi` has four channels in Analog Devices' format (`le:S12/16>>0`: 12 bits,
//! sign-extended to 16); `weir-sim-mixed` has `be:s12/16>>4` (shifted, big-endian),
//! `le:s24/32>>8` (shifted, 32-bit storage) and `le:s16/16X2>>0` (repeated). Every sample is
//! a hash of its place in the stream (scan number, scan index, repetition), computed here as
//! the module computes it (`weir_pattern()` in tests/kernel/module/weir_sim_iio.c); the bits
//! below a shift carry the hash's low bits, which a converter must drop.
//!
//! `weir run kernel_rx_raw.toml` takes the device's blocks as raw bytes (`item = "u8"`, no
//! converter) into a file. Each test then checks, independently of weir's format code:
//! - the `_type` attributes the kernel reports, parsed by weir-iio, are the formats declared;
//! - the scan layout weir-iio computes from them (offsets, scan size) is the one the kernel
//!   uses, worked out here by hand for the channels enabled;
//! - the file is byte for byte the stream the module wrote (whole scans, every channel);
//! - every sample, decoded by weir-iio's `ScanFormat::decode` from the file, is the value the
//!   pattern defines (the realbits, sign-extended): the decoding a converter relies on.

use weir_iio::{ScanFormat, ScanLayout, Sysfs};

use super::weir_run::weir_run;
use super::{TestResult, ctx};

/// A channel as the module declares it.
struct Chan {
    id: &'static str,
    index: u32,
    /// `s`, `u` or `S` (sign-extended in storage).
    sign: char,
    real: u32,
    storage: u32,
    shift: u32,
    repeat: u32,
    big_endian: bool,
    /// How the kernel prints it in `in_<id>_type`.
    text: &'static str,
}

const ADI: &[Chan] = &[
    adi(0, "voltage0"),
    adi(1, "voltage1"),
    adi(2, "voltage2"),
    adi(3, "voltage3"),
];

const fn adi(index: u32, id: &'static str) -> Chan {
    Chan {
        id,
        index,
        sign: 'S',
        real: 12,
        storage: 16,
        shift: 0,
        repeat: 1,
        big_endian: false,
        text: "le:S12/16>>0",
    }
}

const MIXED: &[Chan] = &[
    Chan {
        id: "voltage0",
        index: 0,
        sign: 's',
        real: 12,
        storage: 16,
        shift: 4,
        repeat: 1,
        big_endian: true,
        text: "be:s12/16>>4",
    },
    Chan {
        id: "voltage1",
        index: 1,
        sign: 's',
        real: 24,
        storage: 32,
        shift: 8,
        repeat: 1,
        big_endian: false,
        text: "le:s24/32>>8",
    },
    Chan {
        id: "voltage2",
        index: 2,
        sign: 's',
        real: 16,
        storage: 16,
        shift: 0,
        repeat: 2,
        big_endian: false,
        text: "le:s16/16X2>>0",
    },
];

/// Scans per run: not a multiple of the 4096-scan block, so the head cuts the last one.
const SCANS: usize = 10_007;

impl Chan {
    fn hash(&self, scan: u64, repeat: u32) -> u32 {
        (((scan << 4) | (u64::from(self.index) << 1) | u64::from(repeat)) as u32)
            .wrapping_mul(2_654_435_761)
    }

    /// The raw value: the hash's top `real` bits.
    fn raw(&self, scan: u64, repeat: u32) -> u64 {
        u64::from(self.hash(scan, repeat) >> (32 - self.real))
    }

    /// The sample a converter must see: the raw value, sign-extended.
    fn value(&self, scan: u64, repeat: u32) -> i64 {
        let raw = self.raw(scan, repeat) as i64;
        let top = 1i64 << (self.real - 1);
        if self.sign == 'u' {
            raw
        } else {
            (raw ^ top) - top
        }
    }

    /// The storage word as the module writes it, as an integer.
    fn word(&self, scan: u64, repeat: u32) -> u64 {
        let h = self.hash(scan, repeat);
        let raw = self.raw(scan, repeat);
        let mut word = (raw << self.shift) | u64::from(h & ((1u32 << self.shift) - 1));
        if self.sign == 'S' && (raw >> (self.real - 1)) & 1 == 1 {
            let used = self.real + self.shift;
            word |= ((1u64 << self.storage) - 1) & !((1u64 << used) - 1);
        }
        word
    }

    /// The storage word's bytes in memory order.
    fn word_bytes(&self, scan: u64, repeat: u32) -> Vec<u8> {
        let n = (self.storage / 8) as usize;
        let le = self.word(scan, repeat).to_le_bytes();
        let mut b = le[..n].to_vec();
        if self.big_endian {
            b.reverse();
        }
        b
    }
}

/// The kernel's layout of `chans` (in scan index order), by hand: each channel's element
/// (storage bytes × repeat) aligned to its own size, the scan padded to the largest.
fn layout(chans: &[&Chan]) -> (Vec<usize>, usize) {
    let (mut at, mut largest, mut offsets) = (0usize, 1usize, Vec::new());
    for c in chans {
        let len = (c.storage / 8 * c.repeat) as usize;
        at = at.div_ceil(len) * len;
        offsets.push(at);
        at += len;
        largest = largest.max(len);
    }
    (offsets, at.div_ceil(largest) * largest)
}

fn rx_format(device: &str, all: &[Chan], enabled: &[&str]) -> TestResult {
    let chans: Vec<&Chan> = all.iter().filter(|c| enabled.contains(&c.id)).collect();
    ensure!(
        chans.len() == enabled.len(),
        "unknown channel in {enabled:?}"
    );
    let (offsets, scan_bytes) = layout(&chans);

    // What the kernel reports, through weir-iio.
    let dev = Sysfs::default().find(device).map_err(ctx("find device"))?;
    let buffer = dev.buffer(0).ok_or("no buffer0")?;
    let mut formats = Vec::new();
    for c in &chans {
        let ch = buffer
            .channel(c.id)
            .ok_or_else(|| format!("{device}: no channel {}", c.id))?;
        ensure!(
            ch.format.to_string() == c.text && ch.index == c.index,
            "{device} {}: index {} type {}, the module declares {} {}",
            c.id,
            ch.index,
            ch.format,
            c.index,
            c.text
        );
        let parsed = ScanFormat::parse(c.text).map_err(|e| format!("{}: {e}", c.text))?;
        ensure!(parsed == ch.format, "{}: parsed as {:?}", c.text, ch.format);
        formats.push((c.id, ch.index, ch.format));
    }
    let weir_layout = ScanLayout::new(formats.iter().copied());
    let weir_offsets: Vec<usize> = weir_layout.elements().iter().map(|e| e.offset).collect();
    ensure!(
        weir_layout.scan_bytes() == scan_bytes && weir_offsets == offsets,
        "weir-iio lays {enabled:?} out at {weir_offsets:?} in {} bytes, the kernel at \
         {offsets:?} in {scan_bytes}",
        weir_layout.scan_bytes()
    );

    let out = "/tmp/rx_raw.bin";
    let bytes = SCANS * scan_bytes;
    // A block of unknown status (its fence signalled before weir could export it: under TCG,
    // a vCPU preempted inside ENQUEUE) is left out of the file, a gap this byte-for-byte check
    // of a few blocks cannot step over; such a run, counted in `status_unknown`, is run again,
    // at most three times.
    let mut attempt = 1;
    let run = loop {
        let run = weir_run(
            "kernel_rx_raw.toml",
            &[
                ("device", device.to_string()),
                ("channels", enabled.join(",")),
                ("bytes", bytes.to_string()),
                ("out", out.to_string()),
            ],
        )?;
        let gaps = matches!(run.counter("src", "status_unknown"), Ok((n, _, _)) if n > 0);
        if !gaps || attempt == 3 {
            break run;
        }
        attempt += 1;
    };
    let src = run.expect("src", &["transport=dmabuf".into(), "bytes_copied=0".into()])?;
    let data = std::fs::read(out).map_err(ctx(out));
    let _ = std::fs::remove_file(out);
    let data = data?;
    ensure!(
        data.len() == bytes,
        "{out}: {} bytes, expected {bytes}",
        data.len()
    );

    // Byte for byte: the stream the module wrote (padding bytes are zero).
    let mut want = vec![0u8; scan_bytes];
    for (k, scan) in data.chunks_exact(scan_bytes).enumerate() {
        want.fill(0);
        for (c, &off) in chans.iter().zip(&offsets) {
            let size = (c.storage / 8) as usize;
            for r in 0..c.repeat {
                let at = off + r as usize * size;
                want[at..at + size].copy_from_slice(&c.word_bytes(k as u64, r));
            }
        }
        ensure!(
            scan == want.as_slice(),
            "{out}: scan {k} is {scan:02x?}, the module writes {want:02x?}"
        );
    }

    // Sample for sample, through weir-iio's decoding of each channel's format.
    let mut samples = 0usize;
    for (k, scan) in data.chunks_exact(scan_bytes).enumerate() {
        for (c, e) in chans.iter().zip(weir_layout.elements()) {
            let size = e.format.storage_bytes();
            for r in 0..c.repeat {
                let at = e.offset + r as usize * size;
                let got = e.format.decode(&scan[at..at + size]);
                let want = c.value(k as u64, r);
                ensure!(
                    got == want,
                    "scan {k} {} ({}) #{r}: decoded {got}, the sample is {want}",
                    c.id,
                    c.text
                );
                samples += 1;
            }
        }
    }
    Ok(format!(
        "weir run {:.2} s (attempt {attempt}); {SCANS} scans of {scan_bytes} bytes ({}), {samples} samples exact; [{src}]",
        run.secs,
        chans
            .iter()
            .map(|c| format!("{} {}", c.id, c.text))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

pub fn weir_run_rx_format_adi_4ch() -> TestResult {
    rx_format(
        "weir-sim-adi",
        ADI,
        &["voltage0", "voltage1", "voltage2", "voltage3"],
    )
}

pub fn weir_run_rx_format_adi_2ch() -> TestResult {
    // Not the first two: the layout must follow the scan indices of the channels enabled.
    rx_format("weir-sim-adi", ADI, &["voltage1", "voltage3"])
}

pub fn weir_run_rx_format_mixed_3ch() -> TestResult {
    rx_format(
        "weir-sim-mixed",
        MIXED,
        &["voltage0", "voltage1", "voltage2"],
    )
}

pub fn weir_run_rx_format_mixed_2ch() -> TestResult {
    rx_format("weir-sim-mixed", MIXED, &["voltage0", "voltage2"])
}

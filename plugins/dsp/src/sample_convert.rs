//! The sample conversions of the converter blocks (`ci16_to_cf32`, `cf32_to_ci16`, the scan
//! converters), as plain slice functions written so that rustc vectorises them on stable Rust:
//! no bounds checks and no branches per sample, and no call out of the loop (`f32::round` is a
//! `roundf` call per sample on x86-64's baseline, which has no packed rounding instruction).
//!
//! They are not generic and not `#[inline]`, so they are compiled once, here, at this crate's
//! optimisation level, whatever crate instantiates the (generic) blocks. Each has a `*_scalar`
//! twin: the per-sample code the blocks ran before, kept as the reference the tests compare
//! with bit for bit (`tests` below) and the benchmark (`benches/convert.rs`) measures against.

use weir_core::{Cf32, Ci16};
use weir_iio::{Endianness, ScanFormat};

/// `out[k] = scale * in[k]` for I and Q, over the shorter of the two slices; returns how many
/// were converted. Bit-identical to [`ci16_to_cf32_scalar`]: an `i16` is exact in `f32`, so the
/// only rounding is the one multiplication, as before. It runs over the components as one
/// `i16` and one `f32` slice: over complex samples rustc made it two samples per iteration
/// (an 8-byte load), not unrolled, slower than the per-sample code it replaced.
pub fn ci16_to_cf32(input: &[Ci16], output: &mut [Cf32], scale: f32) -> usize {
    let n = input.len().min(output.len());
    let x: &[i16] = bytemuck::cast_slice(&input[..n]);
    let y: &mut [f32] = bytemuck::cast_slice_mut(&mut output[..n]);
    for (x, y) in x.iter().zip(y) {
        *y = f32::from(*x) * scale;
    }
    n
}

/// The reference for [`ci16_to_cf32`]: what `ci16_to_cf32` computed per sample before.
pub fn ci16_to_cf32_scalar(input: &[Ci16], output: &mut [Cf32], scale: f32) -> usize {
    for (x, y) in input.iter().zip(output.iter_mut()) {
        *y = Cf32::new(x.re as f32 * scale, x.im as f32 * scale);
    }
    input.len().min(output.len())
}

/// `out[k] = gain * in[k]` for I and Q (`multiply_const`), over the shorter of the two
/// slices; returns how many samples were scaled. Bit-identical to [`scale_cf32_scalar`]: one
/// multiplication per component either way. It runs over the components as one `f32` slice:
/// over complex samples rustc made it one 16-byte multiply per iteration, not unrolled.
pub fn scale_cf32(input: &[Cf32], output: &mut [Cf32], gain: f32) -> usize {
    let n = input.len().min(output.len());
    let x: &[f32] = bytemuck::cast_slice(&input[..n]);
    let y: &mut [f32] = bytemuck::cast_slice_mut(&mut output[..n]);
    for (x, y) in x.iter().zip(y) {
        *y = x * gain;
    }
    n
}

/// The reference for [`scale_cf32`]: what `multiply_const` computed per sample before.
pub fn scale_cf32_scalar(input: &[Cf32], output: &mut [Cf32], gain: f32) -> usize {
    for (x, y) in input.iter().zip(output.iter_mut()) {
        *y = x * gain;
    }
    input.len().min(output.len())
}

/// `x` rounded half away from zero and saturated to the `i16` range, NaN to 0: exactly
/// `x.round() as i16`, without `roundf` and without the saturating float-to-int conversion,
/// neither of which vectorises on x86-64's baseline.
///
/// Clamping first changes nothing (a value beyond the range saturates either way, and the
/// bounds are integers). In that range, adding 1.5 × 2^23 rounds to an integer in the
/// mantissa (to nearest, ties to even: the FPU's mode, which Rust never changes), read back
/// with integer arithmetic; the exact remainder `c - n` then tells the ties, which
/// [`f32::round`] takes away from zero.
#[inline(always)]
fn round_saturate(x: f32) -> i16 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let c = x.clamp(f32::from(i16::MIN), f32::from(i16::MAX));
    let c = if c.is_nan() { 0.0 } else { c };
    // `c + MAGIC` lies in [2^23, 2^24): its bits minus MAGIC's are the rounded integer.
    // Wrapping arithmetic (which never wraps here) because the dev profile checks overflow:
    // a checked subtraction is a branch per sample, and the loop would not vectorise.
    let n = ((c + MAGIC).to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let rest = c - n as f32;
    let n = n
        .wrapping_add(i32::from(rest >= 0.5 && c > 0.0))
        .wrapping_sub(i32::from(rest <= -0.5 && c < 0.0));
    // In the i16 range by the clamp: the truncation cannot change the value.
    n as i16
}

/// `out[k] = round(scale * in[k])` for I and Q, saturated to the `i16` range (NaN to 0), over
/// the shorter of the two slices; returns how many were converted. Bit-identical to
/// [`cf32_to_ci16_scalar`].
pub fn cf32_to_ci16(input: &[Cf32], output: &mut [Ci16], scale: f32) -> usize {
    let n = input.len().min(output.len());
    for (x, y) in input[..n].iter().zip(&mut output[..n]) {
        *y = Ci16::new(round_saturate(x.re * scale), round_saturate(x.im * scale));
    }
    n
}

/// The reference for [`cf32_to_ci16`]: what `cf32_to_ci16` computed per sample before
/// (`as` from f32 to i16 saturates and maps NaN to 0).
pub fn cf32_to_ci16_scalar(input: &[Cf32], output: &mut [Ci16], scale: f32) -> usize {
    let n = input.len().min(output.len());
    for (x, y) in input[..n].iter().zip(output[..n].iter_mut()) {
        *y = Ci16::new((x.re * scale).round() as i16, (x.im * scale).round() as i16);
    }
    n
}

/// The storage words a [`WordDecoder`] reads in one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    U8,
    U16(Endianness),
    U32(Endianness),
}

/// One scan element of at most 32 storage bits, decoded with shifts on a 32-bit word: the same
/// value as [`ScanFormat::decode`] (byte order, shift, valid bits, sign extension), as `f32`
/// times `scale`. Wider storage has no such decoder ([`WordDecoder::new`] says `None`) and is
/// decoded by [`ScanFormat::decode`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordDecoder {
    offset: usize,
    word: Word,
    shift: u32,
    /// 32 − valid bits: shifted out to the left, then back (arithmetically when signed).
    unused: u32,
    signed: bool,
    scale: f32,
}

impl WordDecoder {
    /// The decoder of an element at byte `offset` of a scan stored as `format`, or `None`
    /// when its storage is wider than 32 bits.
    pub fn new(offset: usize, format: ScanFormat, scale: f32) -> Option<Self> {
        let word = match format.storage_bits {
            8 => Word::U8,
            16 => Word::U16(format.endianness),
            32 => Word::U32(format.endianness),
            _ => return None,
        };
        Some(Self {
            offset,
            word,
            shift: format.shift,
            unused: 32 - format.real_bits,
            signed: format.signed,
            scale,
        })
    }

    fn bytes(&self) -> usize {
        match self.word {
            Word::U8 => 1,
            Word::U16(_) => 2,
            Word::U32(_) => 4,
        }
    }

    /// The value from the raw storage word.
    #[inline(always)]
    fn value(&self, raw: u32) -> f32 {
        // Wrapping shifts (the amounts are below 32 by construction): the dev profile's
        // overflow checks would put a branch into the loop.
        let left = raw.wrapping_shr(self.shift).wrapping_shl(self.unused);
        // A value of up to 32 bits converts to f32 as the i64 it was before (both round to
        // nearest): the same float.
        if self.signed {
            (left as i32).wrapping_shr(self.unused) as f32 * self.scale
        } else {
            left.wrapping_shr(self.unused) as f32 * self.scale
        }
    }
}

/// Reads one storage word of type `$w` at `$off` of the scan `$scan` in byte order `$e`.
macro_rules! load {
    ($w:ty, $scan:expr, $off:expr, $e:expr) => {{
        const N: usize = std::mem::size_of::<$w>();
        let mut b = [0u8; N];
        b.copy_from_slice(&$scan[$off..$off + N]);
        u32::from(match $e {
            Endianness::Little => <$w>::from_le_bytes(b),
            Endianness::Big => <$w>::from_be_bytes(b),
        })
    }};
}

/// Decodes element `e` of every whole scan of `scan_bytes` bytes in `data` into `out`, one
/// value per scan, `stride` apart starting at `out[first]` (a complex output is I at even, Q
/// at odd indices of its floats); returns the number of scans decoded: the smaller of the
/// whole scans in `data` and the places in `out`. A scan too small to hold the element
/// decodes nothing.
///
/// Each word type has its own loop, so the loop body has no branch on the format, and the
/// common scan sizes (2, 4 and 8 bytes) and strides (1 and 2) have their own, where the
/// compiler knows the scan's length and removes the bounds checks.
pub fn decode_scans(
    e: &WordDecoder,
    data: &[u8],
    scan_bytes: usize,
    out: &mut [f32],
    first: usize,
    stride: usize,
) -> usize {
    if scan_bytes == 0 || stride == 0 || e.offset + e.bytes() > scan_bytes || first > out.len() {
        return 0;
    }
    let places = (out.len() - first).div_ceil(stride);
    let n = (data.len() / scan_bytes).min(places);
    let data = &data[..n * scan_bytes];
    let out = &mut out[first..];
    match (scan_bytes, stride) {
        (2, 1) => decode_fixed::<2, 1>(e, data, out),
        (4, 1) => decode_fixed::<4, 1>(e, data, out),
        (8, 1) => decode_fixed::<8, 1>(e, data, out),
        (2, 2) => decode_fixed::<2, 2>(e, data, out),
        (4, 2) => decode_fixed::<4, 2>(e, data, out),
        (8, 2) => decode_fixed::<8, 2>(e, data, out),
        _ => decode_any(e, data, scan_bytes, out, stride),
    }
    n
}

/// [`decode_scans`]'s loops for scans of `SB` bytes into every `STRIDE`th float; `data` holds
/// whole scans and `out` a place for each (both checked by the caller).
fn decode_fixed<const SB: usize, const STRIDE: usize>(
    e: &WordDecoder,
    data: &[u8],
    out: &mut [f32],
) {
    let off = e.offset;
    if off + e.bytes() > SB {
        return;
    }
    let scans = data.chunks_exact(SB);
    // Slot k of the output is out[k * STRIDE]; the last scan's slot may be the last float.
    let slots = out.chunks_mut(STRIDE);
    match e.word {
        Word::U8 => {
            for (s, y) in scans.zip(slots) {
                y[0] = e.value(u32::from(s[off]));
            }
        }
        Word::U16(endian) => {
            for (s, y) in scans.zip(slots) {
                y[0] = e.value(load!(u16, s, off, endian));
            }
        }
        Word::U32(endian) => {
            for (s, y) in scans.zip(slots) {
                y[0] = e.value(load!(u32, s, off, endian));
            }
        }
    }
}

/// [`decode_fixed`] for any scan size and stride.
fn decode_any(e: &WordDecoder, data: &[u8], scan_bytes: usize, out: &mut [f32], stride: usize) {
    let off = e.offset;
    let scans = data.chunks_exact(scan_bytes);
    let slots = out.iter_mut().step_by(stride);
    match e.word {
        Word::U8 => {
            for (s, y) in scans.zip(slots) {
                *y = e.value(u32::from(s[off]));
            }
        }
        Word::U16(endian) => {
            for (s, y) in scans.zip(slots) {
                *y = e.value(load!(u16, s, off, endian));
            }
        }
        Word::U32(endian) => {
            for (s, y) in scans.zip(slots) {
                *y = e.value(load!(u32, s, off, endian));
            }
        }
    }
}

/// A 16-bit element's decoder with the signedness as a mask instead of a branch, so that one
/// loop body serves both and stays free of per-sample branches.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lane16 {
    offset: usize,
    shift: u32,
    unused: u32,
    /// All ones when signed, zero when unsigned.
    signed: i32,
    scale: f32,
}

impl Lane16 {
    /// `d` as a 16-bit lane of byte order `endian`, or `None` when it is another word or
    /// claims more than 16 valid bits.
    fn new(d: &WordDecoder, endian: Endianness) -> Option<Self> {
        (d.word == Word::U16(endian) && (16..32).contains(&d.unused)).then_some(Self {
            offset: d.offset,
            shift: d.shift,
            unused: d.unused,
            signed: if d.signed { -1 } else { 0 },
            scale: d.scale,
        })
    }

    /// [`WordDecoder::value`], bit for bit: at most 16 valid bits, so the unsigned value fits
    /// an `i32` and converts to the same float as from `u32`.
    #[inline(always)]
    fn value(&self, raw: u32) -> f32 {
        let left = raw.wrapping_shr(self.shift).wrapping_shl(self.unused);
        let sext = (left as i32).wrapping_shr(self.unused);
        let zext = left.wrapping_shr(self.unused) as i32;
        ((sext & self.signed) | (zext & !self.signed)) as f32 * self.scale
    }
}

/// One 16-bit word at `at` of `s` (in bounds: checked by the callers).
#[inline(always)]
fn word16<const BIG: bool>(s: &[u8], at: usize) -> u32 {
    let b = [s[at], s[at + 1]];
    u32::from(if BIG {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

/// I and Q of every whole scan of `scan_bytes` in `data` into `out`, when both are 16-bit
/// words of one byte order (as AD936x and AD9081 streams and the simulator's are): returns the
/// number of scans decoded (the smaller of the whole scans and `out.len()`), or `None` when
/// the pair is not of that kind or does not fit in the scan (then [`decode_scans`] per
/// element applies).
///
/// [`decode_scans`] runs one strided pass per element; this is one pass that reads a scan's
/// two words and writes the complex sample, contiguous on both sides. When I and Q are the
/// scan's only two words with one format (the common case) the scans are one run of words,
/// each decoded alike, and the loop is the same shape as [`ci16_to_cf32`]'s.
pub fn decode_iq16(
    i: &WordDecoder,
    q: &WordDecoder,
    data: &[u8],
    scan_bytes: usize,
    out: &mut [Cf32],
) -> Option<usize> {
    let Word::U16(endian) = i.word else {
        return None;
    };
    let (i, q) = (Lane16::new(i, endian)?, Lane16::new(q, endian)?);
    if i.offset + 2 > scan_bytes || q.offset + 2 > scan_bytes {
        return None;
    }
    let n = (data.len() / scan_bytes).min(out.len());
    let (data, out) = (&data[..n * scan_bytes], &mut out[..n]);
    let same = Lane16 { offset: 0, ..i } == Lane16 { offset: 0, ..q };
    let big = endian == Endianness::Big;
    match (scan_bytes, i.offset, q.offset, same, big) {
        (4, 0, 2, true, false) => run16::<false>(i, data, bytemuck::cast_slice_mut(out)),
        (4, 0, 2, true, true) => run16::<true>(i, data, bytemuck::cast_slice_mut(out)),
        (4, ..) if big => iq16_scans::<4, true>(i, q, data, out),
        (4, ..) => iq16_scans::<4, false>(i, q, data, out),
        (8, ..) if big => iq16_scans::<8, true>(i, q, data, out),
        (8, ..) => iq16_scans::<8, false>(i, q, data, out),
        (16, ..) if big => iq16_scans::<16, true>(i, q, data, out),
        (16, ..) => iq16_scans::<16, false>(i, q, data, out),
        _ => {
            for (s, y) in data.chunks_exact(scan_bytes).zip(out) {
                let (a, b) = if big {
                    (word16::<true>(s, i.offset), word16::<true>(s, q.offset))
                } else {
                    (word16::<false>(s, i.offset), word16::<false>(s, q.offset))
                };
                *y = Cf32::new(i.value(a), q.value(b));
            }
        }
    }
    Some(n)
}

/// A run of 16-bit words of one format (I/Q scans of exactly I then Q, or 2-byte scans of one
/// element): every word of `data` decoded alike into the float at its index.
fn run16<const BIG: bool>(lane: Lane16, data: &[u8], out: &mut [f32]) {
    for (w, y) in data.chunks_exact(2).zip(out) {
        *y = lane.value(word16::<BIG>(w, 0));
    }
}

/// One 16-bit element of every whole scan of `scan_bytes` in `data` into `out`, one float per
/// scan (`scan_to_f32`): returns the number of scans decoded (the smaller of the whole scans
/// and `out.len()`), or `None` when the element is not a 16-bit word or does not fit in the
/// scan (then [`decode_scans`] applies).
///
/// [`decode_scans`] decodes through the word decoder's value function, which branches on the
/// signedness per sample, and rustc left that loop scalar; here the signedness is a mask and
/// the scan size a constant, as in [`decode_iq16`].
pub fn decode_real16(
    d: &WordDecoder,
    data: &[u8],
    scan_bytes: usize,
    out: &mut [f32],
) -> Option<usize> {
    let Word::U16(endian) = d.word else {
        return None;
    };
    let lane = Lane16::new(d, endian)?;
    if lane.offset + 2 > scan_bytes {
        return None;
    }
    let n = (data.len() / scan_bytes).min(out.len());
    let (data, out) = (&data[..n * scan_bytes], &mut out[..n]);
    match (scan_bytes, endian == Endianness::Big) {
        (2, true) => run16::<true>(lane, data, out),
        (2, false) => run16::<false>(lane, data, out),
        (4, true) => real16_scans::<4, true>(lane, data, out),
        (4, false) => real16_scans::<4, false>(lane, data, out),
        (8, true) => real16_scans::<8, true>(lane, data, out),
        (8, false) => real16_scans::<8, false>(lane, data, out),
        (16, true) => real16_scans::<16, true>(lane, data, out),
        (16, false) => real16_scans::<16, false>(lane, data, out),
        (_, big) => {
            for (s, y) in data.chunks_exact(scan_bytes).zip(out) {
                let w = if big {
                    word16::<true>(s, lane.offset)
                } else {
                    word16::<false>(s, lane.offset)
                };
                *y = lane.value(w);
            }
        }
    }
    Some(n)
}

/// Scans of `SB` bytes (a power of two) with the element anywhere in them.
fn real16_scans<const SB: usize, const BIG: bool>(lane: Lane16, data: &[u8], out: &mut [f32]) {
    // The caller checked the word lies in the scan: modulo SB shows the compiler it does.
    let at = lane.offset % SB;
    for (s, y) in data.chunks_exact(SB).zip(out) {
        let Ok(s) = <&[u8; SB]>::try_from(s) else {
            continue; // never: chunks_exact gives SB bytes
        };
        let b = [s[at], s[(at + 1) % SB]];
        let w = u32::from(if BIG {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        });
        *y = lane.value(w);
    }
}

/// Scans of `SB` bytes (a power of two) with I and Q anywhere in them.
fn iq16_scans<const SB: usize, const BIG: bool>(
    i: Lane16,
    q: Lane16,
    data: &[u8],
    out: &mut [Cf32],
) {
    // The caller checked both words lie in the scan: taking the offsets modulo SB changes
    // nothing but shows the compiler they do, so the loop has no bounds checks.
    let (io, qo) = (i.offset % SB, q.offset % SB);
    for (s, y) in data.chunks_exact(SB).zip(out) {
        let Ok(s) = <&[u8; SB]>::try_from(s) else {
            continue; // never: chunks_exact gives SB bytes
        };
        let a = u32::from(if BIG {
            u16::from_be_bytes([s[io], s[(io + 1) % SB]])
        } else {
            u16::from_le_bytes([s[io], s[(io + 1) % SB]])
        });
        let b = u32::from(if BIG {
            u16::from_be_bytes([s[qo], s[(qo + 1) % SB]])
        } else {
            u16::from_le_bytes([s[qo], s[(qo + 1) % SB]])
        });
        *y = Cf32::new(i.value(a), q.value(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every i16 as I and as Q, at the default scales and a few others: bit for bit.
    #[test]
    fn ci16_to_cf32_matches_the_scalar_code_for_every_i16() {
        let input: Vec<Ci16> = (i16::MIN..=i16::MAX)
            .map(|v| Ci16::new(v, v.wrapping_mul(7).wrapping_add(3)))
            .collect();
        for scale in [1.0 / 32768.0, 1.0 / 2048.0, 1.0, -3.7, 1e-9, 0.0, f32::MAX] {
            let mut new = vec![Cf32::new(0.0, 0.0); input.len()];
            let mut old = new.clone();
            assert_eq!(ci16_to_cf32(&input, &mut new, scale), input.len());
            ci16_to_cf32_scalar(&input, &mut old, scale);
            for (k, (a, b)) in new.iter().zip(&old).enumerate() {
                assert!(
                    a.re.to_bits() == b.re.to_bits() && a.im.to_bits() == b.im.to_bits(),
                    "scale {scale}, sample {k}: {a} vs {b}"
                );
            }
        }
        // Slices of unequal length around a vector's width: the shorter one's count converted,
        // nothing written past it.
        let sentinel = Cf32::new(f32::NAN, -1.0);
        for len in 0usize..20 {
            for out_len in [len.saturating_sub(1), len, len + 3] {
                let mut out = vec![sentinel; out_len];
                let n = ci16_to_cf32(&input[100..100 + len], &mut out, 0.5);
                assert_eq!(n, len.min(out_len), "{len} into {out_len}");
                for (k, y) in out.iter().enumerate() {
                    if k < n {
                        let x = input[100 + k];
                        assert_eq!(*y, Cf32::new(f32::from(x.re) * 0.5, f32::from(x.im) * 0.5));
                    } else {
                        assert!(
                            y.re.is_nan() && y.im == -1.0,
                            "{len} into {out_len}: {k} written"
                        );
                    }
                }
            }
        }
    }

    /// Every component value class (zero, signed zero, subnormal, normal, huge, infinity,
    /// NaN) at gains that round, overflow and flip signs, over lengths around a vector's width
    /// and output slices shorter and longer than the input: bit for bit, nothing written past
    /// the shorter slice.
    #[test]
    fn scale_cf32_matches_the_scalar_code() {
        let values = [
            0.0,
            -0.0,
            1e-45,
            -1.17e-38,
            0.1,
            -0.7,
            1.0,
            3.0e38,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            12345.678,
        ];
        let input: Vec<Cf32> = (0..37)
            .map(|k| Cf32::new(values[k % values.len()], values[(k * 5 + 3) % values.len()]))
            .collect();
        for gain in [1.0, 0.5, -1.0, 1.0 / 3.0, 1e30, 0.0, -0.0, f32::NAN] {
            for (len, out_len) in [(0, 0), (1, 1), (3, 5), (8, 8), (17, 9), (37, 37), (37, 40)] {
                let mut new = vec![Cf32::new(9.0, 9.0); out_len];
                let mut old = new.clone();
                let n = scale_cf32(&input[..len], &mut new, gain);
                assert_eq!(n, len.min(out_len));
                assert_eq!(scale_cf32_scalar(&input[..len], &mut old, gain), n);
                for (k, (a, b)) in new.iter().zip(&old).enumerate() {
                    assert!(
                        a.re.to_bits() == b.re.to_bits() && a.im.to_bits() == b.im.to_bits(),
                        "gain {gain}, {len} into {out_len}, sample {k}: {a} vs {b}"
                    );
                }
            }
        }
    }

    fn check_cf32(values: &[f32], scale: f32) {
        let input: Vec<Cf32> = values
            .chunks(2)
            .map(|p| Cf32::new(p[0], *p.get(1).unwrap_or(&0.5)))
            .collect();
        let mut new = vec![Ci16::new(1, 1); input.len()];
        let mut old = new.clone();
        cf32_to_ci16(&input, &mut new, scale);
        cf32_to_ci16_scalar(&input, &mut old, scale);
        if new != old {
            let k = new.iter().zip(&old).position(|(a, b)| a != b).unwrap();
            panic!(
                "scale {scale}: {} -> {} new, {} old",
                input[k], new[k], old[k]
            );
        }
    }

    /// Every 3rd f32 bit pattern (NaNs, infinities, subnormals and both zeros included), at
    /// scale 1, so every exponent and most mantissas.
    #[test]
    fn cf32_to_ci16_matches_the_scalar_code_over_the_f32_bit_patterns() {
        const CHUNK: u64 = 1 << 20;
        let mut values = Vec::with_capacity(CHUNK as usize);
        let mut bits: u64 = 0;
        while bits <= u64::from(u32::MAX) {
            values.clear();
            values.extend(
                (bits..(bits + 3 * CHUNK).min(1 << 32))
                    .step_by(3)
                    .map(|b| f32::from_bits(b as u32)),
            );
            check_cf32(&values, 1.0);
            bits += 3 * CHUNK;
        }
    }

    /// Where rounding and saturation decide: every half-integer of the i16 range and beyond,
    /// and the floats 4 ulps around each, at scale 1 and at the default scales.
    #[test]
    fn cf32_to_ci16_matches_the_scalar_code_at_every_tie() {
        let mut values = Vec::new();
        for twice in -70_000i32..=70_000 {
            let tie = twice as f32 / 2.0;
            for d in -4i32..=4 {
                values.push(f32::from_bits(tie.to_bits().wrapping_add_signed(d)));
            }
        }
        values.extend([
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            0.499_999_97,
            -0.499_999_97,
        ]);
        check_cf32(&values, 1.0);
        for scale in [32767.0, 2047.0, 1.0 / 3.0, -1.0] {
            let scaled: Vec<f32> = values.iter().map(|v| v / scale).collect();
            check_cf32(&scaled, scale);
        }
    }

    /// `n` pseudo-random bytes (xorshift64 from `seed`): scans of every bit pattern.
    fn noise_bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// The shift decoders give exactly [`ScanFormat::decode`] (as f32 times the scale), for
    /// every 8-, 16- and 32-bit format of both byte orders, signedness and every shift and
    /// valid-bit count, on pseudo-random scans with the element at an offset.
    #[test]
    fn word_decoder_matches_scan_format_decode() {
        let data = noise_bytes(0x9E37_79B9_7F4A_7C15u64, 4096);
        for storage in [8u32, 16, 32] {
            for real in 1..=storage {
                for shift in 0..=(storage - real) {
                    for (endian, e) in [("le", Endianness::Little), ("be", Endianness::Big)] {
                        for sign in ['s', 'u', 'S'] {
                            let text = format!("{endian}:{sign}{real}/{storage}>>{shift}");
                            let format = ScanFormat::parse(&text).unwrap();
                            assert_eq!(format.endianness, e);
                            let word = (storage / 8) as usize;
                            let scan_bytes = 2 * word + 4;
                            let offset = word;
                            let scale = (1.0 / format.full_scale()) as f32;
                            let d = WordDecoder::new(offset, format, scale).unwrap();
                            let scans = data.len() / scan_bytes;
                            let mut out = vec![f32::NAN; 2 * scans];
                            assert_eq!(decode_scans(&d, &data, scan_bytes, &mut out, 1, 2), scans);
                            for (k, scan) in data.chunks_exact(scan_bytes).enumerate() {
                                let old = format.decode(&scan[offset..]) as f32 * scale;
                                assert_eq!(
                                    out[2 * k + 1].to_bits(),
                                    old.to_bits(),
                                    "{text}, scan {k}"
                                );
                                assert!(out[2 * k].is_nan(), "{text}: the other slots untouched");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The one-pass I/Q decoder gives exactly what the two per-element passes give, for every
    /// 16-bit format of both byte orders, signedness, shift and valid-bit count, I and Q of one
    /// format and of two, at every place in scans of 4 (the run of words), 6 (any size), 8 and
    /// 16 bytes; and declines what it does not decode.
    #[test]
    fn decode_iq16_matches_the_per_element_passes() {
        let data = noise_bytes(0x2545_F491_4F6C_DD1Du64, 4100);
        let mut formats = Vec::new();
        for real in 1..=16u32 {
            for shift in 0..=(16 - real) {
                for sign in ['s', 'u'] {
                    formats.push(format!("{sign}{real}/16>>{shift}"));
                }
            }
        }
        for endian in ["le", "be"] {
            for (k, f) in formats.iter().enumerate() {
                let i_format = ScanFormat::parse(&format!("{endian}:{f}")).unwrap();
                // Q of the same format, and of another (the next one in the list).
                let other = &formats[(k + 7) % formats.len()];
                for q_text in [f, other] {
                    let q_format = ScanFormat::parse(&format!("{endian}:{q_text}")).unwrap();
                    for (scan_bytes, io, qo) in [
                        (4, 0, 2),
                        (4, 2, 0),
                        (6, 2, 4),
                        (8, 0, 2),
                        (8, 4, 6),
                        (16, 14, 6),
                    ] {
                        let i = WordDecoder::new(io, i_format, 1.0 / 2048.0).unwrap();
                        let q = WordDecoder::new(qo, q_format, 0.25).unwrap();
                        let scans = data.len() / scan_bytes;
                        let mut want = vec![Cf32::new(f32::NAN, f32::NAN); scans - 1];
                        let floats: &mut [f32] = bytemuck::cast_slice_mut(&mut want);
                        decode_scans(&i, &data, scan_bytes, floats, 0, 2);
                        decode_scans(&q, &data, scan_bytes, floats, 1, 2);
                        // One place fewer than scans: it stops at the shorter side.
                        let mut got = vec![Cf32::new(f32::NAN, f32::NAN); scans - 1];
                        let n = decode_iq16(&i, &q, &data, scan_bytes, &mut got);
                        assert_eq!(n, Some(scans - 1), "{endian}:{f} / {q_text}");
                        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                            assert_eq!(
                                (g.re.to_bits(), g.im.to_bits()),
                                (w.re.to_bits(), w.im.to_bits()),
                                "{endian}:{f} / {q_text}, {scan_bytes}-byte scans, I at {io}, Q at {qo}, scan {k}"
                            );
                        }
                    }
                }
            }
        }
        let le16 = ScanFormat::parse("le:s16/16>>0").unwrap();
        let be16 = ScanFormat::parse("be:s16/16>>0").unwrap();
        let le32 = ScanFormat::parse("le:s32/32>>0").unwrap();
        let mut out = [Cf32::new(0.0, 0.0); 4];
        let d = |offset, format| WordDecoder::new(offset, format, 1.0).unwrap();
        // Two byte orders, a wider word, a word beyond the scan: not decoded here.
        assert_eq!(
            decode_iq16(&d(0, le16), &d(2, be16), &data, 4, &mut out),
            None
        );
        assert_eq!(
            decode_iq16(&d(0, le16), &d(4, le32), &data, 8, &mut out),
            None
        );
        assert_eq!(
            decode_iq16(&d(0, le16), &d(3, le16), &data, 4, &mut out),
            None
        );
    }

    /// Every 16-bit format of both byte orders (signedness, shift, valid bits) at placements
    /// in 2-, 4-, 6-, 8- and 16-byte scans: bit for bit what `decode_scans` gives, stopping at
    /// the shorter side; other words and words beyond the scan are not taken.
    #[test]
    fn decode_real16_matches_decode_scans() {
        let data = noise_bytes(0x9E37_79B9_7F4A_7C15u64, 4100);
        for endian in ["le", "be"] {
            for real in 1..=16u32 {
                for shift in 0..=(16 - real) {
                    for sign in ['s', 'u'] {
                        let f = format!("{endian}:{sign}{real}/16>>{shift}");
                        let format = ScanFormat::parse(&f).unwrap();
                        for (scan_bytes, at) in [(2, 0), (4, 0), (4, 2), (6, 4), (8, 6), (16, 10)] {
                            let d = WordDecoder::new(at, format, -1.0 / 2048.0).unwrap();
                            let scans = data.len() / scan_bytes;
                            let mut want = vec![f32::NAN; scans - 1];
                            decode_scans(&d, &data, scan_bytes, &mut want, 0, 1);
                            let mut got = vec![f32::NAN; scans - 1];
                            let n = decode_real16(&d, &data, scan_bytes, &mut got);
                            assert_eq!(n, Some(scans - 1), "{f}");
                            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                                assert_eq!(
                                    g.to_bits(),
                                    w.to_bits(),
                                    "{f}, {scan_bytes}-byte scans at {at}, scan {k}"
                                );
                            }
                        }
                    }
                }
            }
        }
        let le32 = ScanFormat::parse("le:s32/32>>0").unwrap();
        let le16 = ScanFormat::parse("le:u12/16>>0").unwrap();
        let mut out = [0.0f32; 4];
        let d = |offset, format| WordDecoder::new(offset, format, 1.0).unwrap();
        assert_eq!(decode_real16(&d(0, le32), &data, 4, &mut out), None);
        assert_eq!(decode_real16(&d(3, le16), &data, 4, &mut out), None);
        // More places than scans: the scans.
        let mut many = [7.0f32; 6];
        assert_eq!(
            decode_real16(&d(0, le16), &data[..9], 2, &mut many),
            Some(4)
        );
        assert_eq!(many[4..], [7.0, 7.0]);
    }

    /// Fewer places than scans, or fewer scans than places: the smaller; a scan too small for
    /// the element decodes nothing.
    #[test]
    fn decode_scans_stops_at_the_shorter_side() {
        let format = ScanFormat::parse("le:s16/16>>0").unwrap();
        let d = WordDecoder::new(2, format, 1.0).unwrap();
        let data: Vec<u8> = (0u8..40).collect();
        let mut out = [0.0f32; 5];
        assert_eq!(decode_scans(&d, &data, 4, &mut out, 0, 1), 5);
        assert_eq!(out[4], f32::from(i16::from_le_bytes([18, 19])));
        let mut out = [0.0f32; 7];
        assert_eq!(decode_scans(&d, &data, 4, &mut out, 1, 2), 3);
        let mut out = [0.0f32; 40];
        assert_eq!(decode_scans(&d, &data[..39], 4, &mut out, 0, 1), 9);
        assert_eq!(decode_scans(&d, &data, 3, &mut out, 0, 1), 0);
    }
}

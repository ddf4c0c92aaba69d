//! Channel scan formats, the layout of a scan, and conversion of raw samples.
//!
//! The kernel describes how a channel's samples are stored in the buffer with a *type string*
//! in `in_voltage0_type` (or `out_…_type`):
//!
//! ```text
//!   le:s12/16>>4        little endian, signed, 12 valid bits in 16 storage bits, shifted by 4
//!   be:u24/32>>0        big endian, unsigned, 24 valid bits in 32 storage bits
//!   le:s16/16X4>>0      four repeated 16-bit elements (e.g. a quaternion)
//! ```
//!
//! [`ScanFormat`] is one parsed type string. [`ScanLayout`] places the enabled channels of a
//! buffer in a *scan* (one sample of every enabled channel) by the kernel's rule, from
//! `iio_compute_scan_bytes()` in `drivers/iio/industrialio-buffer.c`: channels in scan-index
//! order, each element aligned to its own size (storage bytes × repeat), and the scan padded
//! to a multiple of the largest element.

use std::fmt;
use std::str::FromStr;

/// Byte order of a channel's storage word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endianness {
    /// `le`
    Little,
    /// `be`
    Big,
}

/// A parsed channel type string such as `le:s12/16>>4`.
///
/// Invariants (checked by [`ScanFormat::parse`], the same checks the kernel applies to its
/// drivers): `storage_bits` is a non-zero multiple of 8 and at most 64, `1 <= real_bits`, and
/// `real_bits + shift <= storage_bits`; `repeat >= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScanFormat {
    /// Byte order of the storage word.
    pub endianness: Endianness,
    /// Whether the valid bits are two's-complement signed (`s`/`S`) or unsigned (`u`/`U`).
    pub signed: bool,
    /// Upper-case sign letter (`S`/`U`): the value fills the storage word exactly, no
    /// masking is needed (libiio's "fully defined"). Kept so that formatting round-trips.
    pub fully_defined: bool,
    /// Number of valid bits.
    pub real_bits: u32,
    /// Size of the storage word in bits.
    pub storage_bits: u32,
    /// Number of consecutive storage words per channel in a scan (`X n`); 1 without repeat.
    pub repeat: u32,
    /// Right shift to apply to the storage word before masking the valid bits.
    pub shift: u32,
}

/// Why a type string could not be parsed. Always carries the offending string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IIO scan format {text:?}: {reason}")]
pub struct FormatError {
    /// The string that was parsed.
    pub text: String,
    /// What is wrong with it.
    pub reason: FormatErrorKind,
}

/// The kinds of [`FormatError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatErrorKind {
    /// The string does not have the shape `{le|be}:{s|u}BITS/STORAGE[Xn]>>SHIFT`.
    #[error("expected `{{le|be}}:{{s|u}}BITS/STORAGE[Xn]>>SHIFT`, {0}")]
    Syntax(&'static str),
    /// Storage bits that are zero, not a multiple of 8, or above 64.
    #[error("storage bits must be 8, 16, … 64, got {0}")]
    StorageBits(u32),
    /// Zero valid bits.
    #[error("a channel needs at least one valid bit")]
    NoRealBits,
    /// The valid bits (after the shift) do not fit in the storage word.
    #[error("{real} valid bits shifted by {shift} do not fit in {storage} storage bits")]
    DoesNotFit {
        /// Valid bits.
        real: u32,
        /// Shift.
        shift: u32,
        /// Storage bits.
        storage: u32,
    },
    /// A repeat count of zero.
    #[error("repeat count must be at least 1")]
    ZeroRepeat,
    /// A repeat count above the kernel's: `struct iio_scan_type`'s `repeat` is a `u8`.
    #[error("repeat count must be at most 255 (the kernel's is a u8), got {0}")]
    RepeatTooLarge(u32),
}

impl ScanFormat {
    /// Parses a type string as the kernel prints it (a trailing newline is allowed).
    pub fn parse(text: &str) -> Result<ScanFormat, FormatError> {
        let err = |reason| FormatError {
            text: text.to_string(),
            reason,
        };
        let s = text.trim_end_matches(['\n', '\r']);
        let (endian, rest) = s
            .split_once(':')
            .ok_or(err(FormatErrorKind::Syntax("no ':' after the endianness")))?;
        let endianness = match endian {
            "le" => Endianness::Little,
            "be" => Endianness::Big,
            _ => {
                return Err(err(FormatErrorKind::Syntax(
                    "endianness must be `le` or `be`",
                )));
            }
        };
        let mut chars = rest.chars();
        let (signed, fully_defined) = match chars.next() {
            Some('s') => (true, false),
            Some('u') => (false, false),
            Some('S') => (true, true),
            Some('U') => (false, true),
            _ => {
                return Err(err(FormatErrorKind::Syntax(
                    "sign must be `s`, `u`, `S` or `U`",
                )));
            }
        };
        let rest = chars.as_str();
        let (bits, rest) = rest.split_once('/').ok_or(err(FormatErrorKind::Syntax(
            "no '/' between bits and storage",
        )))?;
        let (storage_part, shift) = rest
            .split_once(">>")
            .ok_or(err(FormatErrorKind::Syntax("no '>>' before the shift")))?;
        let (storage, repeat) = match storage_part.split_once('X') {
            Some((storage, repeat)) => (storage, Some(repeat)),
            None => (storage_part, None),
        };
        let number = |s: &str, what: &'static str| -> Result<u32, FormatError> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(FormatErrorKind::Syntax(what)));
            }
            s.parse::<u32>()
                .map_err(|_| err(FormatErrorKind::Syntax(what)))
        };
        let real_bits = number(bits, "the valid bits are not a number")?;
        let storage_bits = number(storage, "the storage bits are not a number")?;
        let repeat = match repeat {
            Some(r) => number(r, "the repeat count is not a number")?,
            None => 1,
        };
        let shift = number(shift, "the shift is not a number")?;
        if storage_bits == 0 || !storage_bits.is_multiple_of(8) || storage_bits > 64 {
            return Err(err(FormatErrorKind::StorageBits(storage_bits)));
        }
        if real_bits == 0 {
            return Err(err(FormatErrorKind::NoRealBits));
        }
        if u64::from(real_bits) + u64::from(shift) > u64::from(storage_bits) {
            return Err(err(FormatErrorKind::DoesNotFit {
                real: real_bits,
                shift,
                storage: storage_bits,
            }));
        }
        if repeat == 0 {
            return Err(err(FormatErrorKind::ZeroRepeat));
        }
        if repeat > u32::from(u8::MAX) {
            return Err(err(FormatErrorKind::RepeatTooLarge(repeat)));
        }
        Ok(ScanFormat {
            endianness,
            signed,
            fully_defined,
            real_bits,
            storage_bits,
            repeat,
            shift,
        })
    }

    /// Bytes of one storage word.
    pub fn storage_bytes(&self) -> usize {
        (self.storage_bits / 8) as usize
    }

    /// Bytes the channel takes in a scan: storage bytes × repeat (the kernel's
    /// `iio_storage_bytes_for_si`). This is also the element's alignment.
    pub fn element_bytes(&self) -> usize {
        self.storage_bytes() * self.repeat as usize
    }

    /// Decodes one storage word (`word.len()` must be [`Self::storage_bytes`]): byte order,
    /// shift, masking of the valid bits, and sign extension.
    ///
    /// # Panics
    /// If `word` is shorter than the storage word.
    pub fn decode(&self, word: &[u8]) -> i64 {
        let n = self.storage_bytes();
        let word = &word[..n];
        let mut raw: u64 = 0;
        match self.endianness {
            Endianness::Little => {
                for &b in word.iter().rev() {
                    raw = (raw << 8) | u64::from(b);
                }
            }
            Endianness::Big => {
                for &b in word {
                    raw = (raw << 8) | u64::from(b);
                }
            }
        }
        let value = raw >> self.shift;
        let bits = self.real_bits;
        if bits >= 64 {
            return value as i64;
        }
        let masked = value & ((1u64 << bits) - 1);
        if self.signed {
            // Sign-extend from `bits` bits.
            let unused = 64 - bits;
            ((masked << unused) as i64) >> unused
        } else {
            masked as i64
        }
    }

    /// Encodes `value` into one storage word (the inverse of [`Self::decode`], for TX):
    /// truncated to the valid bits, shifted, in the storage byte order. Bits outside the
    /// valid range are zero.
    ///
    /// # Panics
    /// If `word` is shorter than the storage word.
    pub fn encode(&self, value: i64, word: &mut [u8]) {
        let n = self.storage_bytes();
        let bits = self.real_bits;
        let masked = if bits >= 64 {
            value as u64
        } else {
            (value as u64) & ((1u64 << bits) - 1)
        };
        let raw = masked << self.shift;
        let word = &mut word[..n];
        for (i, b) in word.iter_mut().enumerate() {
            let byte_index = match self.endianness {
                Endianness::Little => i,
                Endianness::Big => n - 1 - i,
            };
            *b = (raw >> (8 * byte_index)).to_le_bytes()[0];
        }
    }

    /// Full-scale magnitude used by [`ScanLayout::extract_f32`]: 2^(real_bits-1) for signed
    /// channels, 2^real_bits for unsigned ones.
    pub fn full_scale(&self) -> f64 {
        let bits = if self.signed {
            self.real_bits - 1
        } else {
            self.real_bits
        };
        2f64.powi(bits as i32)
    }
}

impl FromStr for ScanFormat {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScanFormat::parse(s)
    }
}

impl fmt::Display for ScanFormat {
    /// The kernel's spelling: `le:s12/16>>4`, `le:s16/16X4>>0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endian = match self.endianness {
            Endianness::Little => "le",
            Endianness::Big => "be",
        };
        let sign = match (self.signed, self.fully_defined) {
            (true, false) => 's',
            (false, false) => 'u',
            (true, true) => 'S',
            (false, true) => 'U',
        };
        write!(f, "{endian}:{sign}{}/{}", self.real_bits, self.storage_bits)?;
        if self.repeat > 1 {
            write!(f, "X{}", self.repeat)?;
        }
        write!(f, ">>{}", self.shift)
    }
}

/// One channel's place in a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutElement {
    /// Channel identifier (e.g. `voltage0`).
    pub channel: String,
    /// Scan index.
    pub index: u32,
    /// Storage format.
    pub format: ScanFormat,
    /// Byte offset of the channel's first storage word within a scan.
    pub offset: usize,
}

/// Where each enabled channel sits in a scan, and the scan size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanLayout {
    elements: Vec<LayoutElement>,
    scan_bytes: usize,
}

/// The kernel's `ALIGN(x, a)`: `(x + a - 1) & ~(a - 1)`. For a power-of-two `a` this rounds up
/// to a multiple of `a`; for other sizes (a repeat of 3, say) it is what the kernel computes,
/// and the layout must match the kernel's, not arithmetic.
fn kernel_align(x: usize, a: usize) -> usize {
    if a == 0 {
        return x;
    }
    (x + a - 1) & !(a - 1)
}

impl ScanLayout {
    /// Lays out the given channels as the kernel does (`iio_compute_scan_bytes`): sorted by
    /// scan index, each element's offset aligned to its element size (storage bytes ×
    /// repeat), the total padded to the largest element size.
    ///
    /// `channels` are `(id, scan index, format)` of the **enabled** channels, in any order.
    pub fn new<'a>(channels: impl IntoIterator<Item = (&'a str, u32, ScanFormat)>) -> ScanLayout {
        let mut sorted: Vec<(&str, u32, ScanFormat)> = channels.into_iter().collect();
        sorted.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        let mut bytes = 0usize;
        let mut largest = 0usize;
        let mut elements = Vec::with_capacity(sorted.len());
        for (channel, index, format) in sorted {
            let length = format.element_bytes();
            bytes = kernel_align(bytes, length);
            elements.push(LayoutElement {
                channel: channel.to_string(),
                index,
                format,
                offset: bytes,
            });
            bytes += length;
            largest = largest.max(length);
        }
        let scan_bytes = kernel_align(bytes, largest);
        ScanLayout {
            elements,
            scan_bytes,
        }
    }

    /// Bytes per scan (the sample size of the buffer); 0 when no channel is enabled.
    pub fn scan_bytes(&self) -> usize {
        self.scan_bytes
    }

    /// The channels in scan order.
    pub fn elements(&self) -> &[LayoutElement] {
        &self.elements
    }

    /// Position of the channel `id` in [`Self::elements`].
    pub fn position(&self, id: &str) -> Option<usize> {
        self.elements.iter().position(|e| e.channel == id)
    }

    /// Number of whole scans in `data`.
    pub fn scans_in(&self, data: &[u8]) -> usize {
        data.len().checked_div(self.scan_bytes).unwrap_or(0)
    }

    /// Decodes every value of element `element` (every repeat of it) from the whole scans in
    /// `data`, calling `sink` with each value in order. Returns how many values were decoded.
    ///
    /// # Panics
    /// If `element >= self.elements().len()`.
    pub fn decode_each(&self, data: &[u8], element: usize, mut sink: impl FnMut(i64)) -> usize {
        let e = &self.elements[element];
        let word = e.format.storage_bytes();
        let mut n = 0;
        for scan in data.chunks_exact(self.scan_bytes.max(1)) {
            for r in 0..e.format.repeat as usize {
                let start = e.offset + r * word;
                sink(e.format.decode(&scan[start..start + word]));
                n += 1;
            }
        }
        n
    }

    /// Writes element `element`'s values from `data` into `out` as `i16` (saturating, for
    /// channels wider than 16 bits). Returns the number written: the smaller of the values
    /// available and `out.len()`.
    ///
    /// # Panics
    /// If `element >= self.elements().len()`.
    pub fn extract_i16(&self, data: &[u8], element: usize, out: &mut [i16]) -> usize {
        self.extract_into(data, element, out, |v| {
            // Clamped to the i16 range: the conversion cannot fail.
            i16::try_from(v.clamp(i64::from(i16::MIN), i64::from(i16::MAX))).unwrap_or_default()
        })
    }

    /// As [`Self::extract_i16`], into `i32` (saturating only for 33- to 64-bit channels).
    ///
    /// # Panics
    /// If `element >= self.elements().len()`.
    pub fn extract_i32(&self, data: &[u8], element: usize, out: &mut [i32]) -> usize {
        self.extract_into(data, element, out, |v| {
            // Clamped to the i32 range: the conversion cannot fail.
            i32::try_from(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or_default()
        })
    }

    /// As [`Self::extract_i16`], into `f32` scaled to full scale: value / 2^(bits-1) for
    /// signed channels (so -1.0 ≤ x < 1.0), value / 2^bits for unsigned ones (0 ≤ x < 1.0).
    ///
    /// # Panics
    /// If `element >= self.elements().len()`.
    // f64 -> f32 rounds to the nearest f32 (the samples are at most 64-bit integers, scaled
    // to ±1.0): a loss of precision, not a truncation.
    #[allow(clippy::cast_possible_truncation)]
    pub fn extract_f32(&self, data: &[u8], element: usize, out: &mut [f32]) -> usize {
        let scale = 1.0 / self.elements[element].format.full_scale();
        self.extract_into(data, element, out, |v| (v as f64 * scale) as f32)
    }

    /// Writes element `element`'s values from `data`, each converted by `convert`, into `out`
    /// in order: the shared body of the `extract_*` methods. Returns the number written (the
    /// smaller of the values available and `out.len()`).
    fn extract_into<T>(
        &self,
        data: &[u8],
        element: usize,
        out: &mut [T],
        convert: impl Fn(i64) -> T,
    ) -> usize {
        let mut i = 0;
        self.decode_each(data, element, |v| {
            if let Some(slot) = out.get_mut(i) {
                *slot = convert(v);
                i += 1;
            }
        });
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> ScanFormat {
        ScanFormat::parse(s).unwrap()
    }

    #[test]
    fn parses_the_kernel_spellings() {
        let f = fmt("le:s12/16>>4\n");
        assert_eq!(
            f,
            ScanFormat {
                endianness: Endianness::Little,
                signed: true,
                fully_defined: false,
                real_bits: 12,
                storage_bits: 16,
                repeat: 1,
                shift: 4,
            }
        );
        let f = fmt("be:u24/32>>0");
        assert_eq!(f.endianness, Endianness::Big);
        assert!(!f.signed);
        assert_eq!((f.real_bits, f.storage_bits, f.shift), (24, 32, 0));
        let f = fmt("le:s16/16X4>>0");
        assert_eq!((f.repeat, f.element_bytes(), f.storage_bytes()), (4, 8, 2));
        let f = fmt("le:S64/64>>0");
        assert!(f.signed && f.fully_defined);
        for s in [
            "le:s12/16>>4",
            "be:u24/32>>0",
            "le:s16/16X4>>0",
            "be:U8/8>>0",
            "le:S64/64>>0",
        ] {
            assert_eq!(fmt(s).to_string(), s);
            assert_eq!(s.parse::<ScanFormat>().unwrap(), fmt(s));
        }
    }

    #[test]
    fn bad_strings_are_typed_errors_naming_the_string() {
        let cases: &[(&str, FormatErrorKind)] = &[
            ("", FormatErrorKind::Syntax("no ':' after the endianness")),
            (
                "xe:s12/16>>4",
                FormatErrorKind::Syntax("endianness must be `le` or `be`"),
            ),
            (
                "le:x12/16>>4",
                FormatErrorKind::Syntax("sign must be `s`, `u`, `S` or `U`"),
            ),
            (
                "le:s12-16>>4",
                FormatErrorKind::Syntax("no '/' between bits and storage"),
            ),
            (
                "le:s12/16>4",
                FormatErrorKind::Syntax("no '>>' before the shift"),
            ),
            (
                "le:s/16>>4",
                FormatErrorKind::Syntax("the valid bits are not a number"),
            ),
            (
                "le:s12/+16>>4",
                FormatErrorKind::Syntax("the storage bits are not a number"),
            ),
            (
                "le:s12/16Xa>>4",
                FormatErrorKind::Syntax("the repeat count is not a number"),
            ),
            (
                "le:s12/16>>",
                FormatErrorKind::Syntax("the shift is not a number"),
            ),
            ("le:s12/12>>0", FormatErrorKind::StorageBits(12)),
            ("le:s12/0>>0", FormatErrorKind::StorageBits(0)),
            ("le:s12/128>>0", FormatErrorKind::StorageBits(128)),
            ("le:s0/16>>0", FormatErrorKind::NoRealBits),
            (
                "le:s14/16>>4",
                FormatErrorKind::DoesNotFit {
                    real: 14,
                    shift: 4,
                    storage: 16,
                },
            ),
            ("le:s16/16X0>>0", FormatErrorKind::ZeroRepeat),
            ("le:s16/16X256>>0", FormatErrorKind::RepeatTooLarge(256)),
            (
                "le:s16/16>>99999999999",
                FormatErrorKind::Syntax("the shift is not a number"),
            ),
        ];
        for (text, reason) in cases {
            let e = ScanFormat::parse(text).unwrap_err();
            assert_eq!(&e.reason, reason, "{text}");
            assert_eq!(e.text, *text);
            assert!(e.to_string().contains(&format!("{text:?}")), "{e}");
        }
    }

    #[test]
    fn decode_shift_mask_and_sign_extension() {
        // 12 valid bits, shift 4: raw word 0xFFF0 is -1, 0x7FF0 is 2047, 0x800F is -2048
        // (the low 4 bits are noise below the shift).
        let f = fmt("le:s12/16>>4");
        assert_eq!(f.decode(&0xFFF0u16.to_le_bytes()), -1);
        assert_eq!(f.decode(&0x7FF0u16.to_le_bytes()), 2047);
        assert_eq!(f.decode(&0x800Fu16.to_le_bytes()), -2048);
        // Unsigned: no sign extension, the bits above the valid ones are masked.
        let f = fmt("le:u12/16>>0");
        assert_eq!(f.decode(&0xFFFFu16.to_le_bytes()), 4095);
        // Big endian, 24 bits in 32.
        let f = fmt("be:s24/32>>0");
        assert_eq!(f.decode(&[0x00, 0xFF, 0xFF, 0xFE]), -2);
        assert_eq!(f.decode(&[0xAB, 0x7F, 0xFF, 0xFF]), 0x7F_FFFF); // top byte masked
        let f = fmt("be:u24/32>>8");
        assert_eq!(f.decode(&[0x12, 0x34, 0x56, 0x78]), 0x12_3456);
        // Full 64 bits.
        let f = fmt("le:s64/64>>0");
        assert_eq!(f.decode(&(-5i64).to_le_bytes()), -5);
        let f = fmt("be:u8/8>>0");
        assert_eq!(f.decode(&[0x80]), 128);
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        for (s, values) in [
            ("le:s12/16>>4", &[-2048i64, -1, 0, 1, 2047][..]),
            ("be:s24/32>>0", &[-8_388_608, -2, 0, 8_388_607][..]),
            ("be:u14/16>>2", &[0, 1, 16383][..]),
            ("le:s64/64>>0", &[i64::MIN, -1, 0, i64::MAX][..]),
        ] {
            let f = fmt(s);
            for &v in values {
                let mut word = [0u8; 8];
                f.encode(v, &mut word);
                assert_eq!(f.decode(&word), v, "{s} {v}");
            }
        }
        let f = fmt("be:s12/16>>4");
        let mut word = [0u8; 2];
        f.encode(-1, &mut word);
        assert_eq!(word, [0xFF, 0xF0]);
    }

    fn layout(channels: &[(&'static str, u32, &str)]) -> ScanLayout {
        ScanLayout::new(channels.iter().map(|&(id, index, f)| (id, index, fmt(f))))
    }

    fn offsets(l: &ScanLayout) -> Vec<(String, usize)> {
        l.elements()
            .iter()
            .map(|e| (e.channel.clone(), e.offset))
            .collect()
    }

    #[test]
    fn layout_follows_the_kernel_rules() {
        // Two 16-bit I/Q channels: 4 bytes.
        let l = layout(&[
            ("voltage1", 1, "le:s16/16>>0"),
            ("voltage0", 0, "le:s12/16>>4"),
        ]);
        assert_eq!(l.scan_bytes(), 4);
        assert_eq!(
            offsets(&l),
            [("voltage0".into(), 0), ("voltage1".into(), 2)]
        );
        // Mixed sizes: u8 at 0, s16 aligned to 2, s32 aligned to 4, then a 64-bit timestamp
        // aligned to 8: 1 + pad 1 + 2 + 4 = 8, timestamp at 8, total 16.
        let l = layout(&[
            ("a", 0, "le:u8/8>>0"),
            ("b", 1, "le:s16/16>>0"),
            ("c", 2, "le:s32/32>>0"),
            ("timestamp", 3, "le:s64/64>>0"),
        ]);
        assert_eq!(
            offsets(&l),
            [
                ("a".into(), 0),
                ("b".into(), 2),
                ("c".into(), 4),
                ("timestamp".into(), 8)
            ]
        );
        assert_eq!(l.scan_bytes(), 16);
        // The total is padded to the largest element: s32 then u8 → 5 bytes padded to 8.
        let l = layout(&[("x", 0, "le:s32/32>>0"), ("y", 1, "le:u8/8>>0")]);
        assert_eq!(offsets(&l), [("x".into(), 0), ("y".into(), 4)]);
        assert_eq!(l.scan_bytes(), 8);
        // u8 then s16 then u8: 0, 2, 4 → 5 padded to 6.
        let l = layout(&[
            ("p", 0, "le:u8/8>>0"),
            ("q", 1, "be:s16/16>>0"),
            ("r", 2, "le:u8/8>>0"),
        ]);
        assert_eq!(
            offsets(&l),
            [("p".into(), 0), ("q".into(), 2), ("r".into(), 4)]
        );
        assert_eq!(l.scan_bytes(), 6);
        // Gaps in the scan index do not matter: only the enabled channels count.
        let l = layout(&[("v7", 7, "le:s16/16>>0"), ("v2", 2, "le:s16/16>>0")]);
        assert_eq!(offsets(&l), [("v2".into(), 0), ("v7".into(), 2)]);
        assert_eq!(l.scan_bytes(), 4);
        // Nothing enabled.
        assert_eq!(layout(&[]).scan_bytes(), 0);
    }

    #[test]
    fn layout_with_repeat() {
        // A repeated element is aligned to storage × repeat: u8 at 0, then s16 X4 (8 bytes)
        // aligned to 8, then a u16 at 16; padded to 8 → 24.
        let l = layout(&[
            ("flag", 0, "le:u8/8>>0"),
            ("quat", 1, "le:s16/16X4>>0"),
            ("t", 2, "le:u16/16>>0"),
        ]);
        assert_eq!(
            offsets(&l),
            [("flag".into(), 0), ("quat".into(), 8), ("t".into(), 16)]
        );
        assert_eq!(l.scan_bytes(), 24);
        // A non-power-of-two element (3 × 2 bytes) follows the kernel's mask arithmetic:
        // ALIGN(2, 6) = (2 + 5) & ~5 = 2, and ALIGN(8, 6) = 8.
        let l = layout(&[("a", 0, "le:u16/16>>0"), ("b", 1, "le:s16/16X3>>0")]);
        assert_eq!(offsets(&l), [("a".into(), 0), ("b".into(), 2)]);
        assert_eq!(l.scan_bytes(), 8);
    }

    #[test]
    fn extract_converts_every_scan() {
        // Scan: s12>>4 LE at 0, be:s16 at 2; two scans.
        let l = layout(&[("i", 0, "le:s12/16>>4"), ("q", 1, "be:s16/16>>0")]);
        let mut data = Vec::new();
        for (i, q) in [(-3i16, 1000i16), (2047, -32768)] {
            data.extend_from_slice(&((i << 4) as u16 | 0x000F).to_le_bytes());
            data.extend_from_slice(&q.to_be_bytes());
        }
        data.push(0xAA); // a partial scan at the end is ignored
        assert_eq!(l.scans_in(&data), 2);
        let mut i16s = [0i16; 4];
        assert_eq!(l.extract_i16(&data, 0, &mut i16s), 2);
        assert_eq!(&i16s[..2], &[-3, 2047]);
        let mut i32s = [0i32; 2];
        assert_eq!(l.extract_i32(&data, 1, &mut i32s), 2);
        assert_eq!(i32s, [1000, -32768]);
        let mut f = [0f32; 2];
        assert_eq!(l.extract_f32(&data, 1, &mut f), 2);
        assert_eq!(f, [1000.0 / 32768.0, -1.0]);
        let mut short = [0i16; 1];
        assert_eq!(l.extract_i16(&data, 1, &mut short), 1);
        assert_eq!(short, [1000]);
        assert_eq!(l.position("q"), Some(1));
        assert_eq!(l.position("nope"), None);
    }

    #[test]
    fn extract_repeat_and_saturation() {
        let l = layout(&[("quat", 0, "le:s16/16X4>>0"), ("big", 1, "le:s32/32>>0")]);
        // 8 + 4 bytes, padded to the largest element (8): 16.
        assert_eq!(l.scan_bytes(), 16);
        let mut scan = Vec::new();
        for v in [1i16, -2, 3, -4] {
            scan.extend_from_slice(&v.to_le_bytes());
        }
        scan.extend_from_slice(&100_000i32.to_le_bytes());
        scan.extend_from_slice(&[0; 4]);
        let mut q = [0i16; 8];
        assert_eq!(l.extract_i16(&scan, 0, &mut q), 4);
        assert_eq!(&q[..4], &[1, -2, 3, -4]);
        let mut b = [0i16; 1];
        l.extract_i16(&scan, 1, &mut b);
        assert_eq!(b, [i16::MAX]); // saturated
        let mut u = [0f32; 1];
        let ul = layout(&[("u", 0, "le:u8/8>>0")]);
        ul.extract_f32(&[128], 0, &mut u);
        assert_eq!(u, [0.5]);
    }
}

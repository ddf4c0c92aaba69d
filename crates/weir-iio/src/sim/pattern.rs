//! The signals the simulated ADC produces ([`Pattern`]), generated block by block.

use std::f64::consts::TAU;

use super::SAMPLE_SIZE;

/// The test signal the simulated device produces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// Interleaved 16-bit I/Q counter ramp: the n-th i16 value of the stream (counting I and
    /// Q separately, from 0) is `(n as u16) as i16`, wrapping. So sample k has I = 2k,
    /// Q = 2k+1 (mod 2^16). Dropped samples (overruns) advance the counter, so a gap is
    /// visible downstream.
    Ramp,
    /// Complex tone I = round(A cos(2π f k / fs)), Q = round(A sin(2π f k / fs)) with
    /// frequency f in Hz and fs the configured sample rate; when the rate is unlimited,
    /// fs = 1.0, so `frequency` is in cycles per sample. `amplitude` A is in i16 units
    /// (values saturate at the i16 range). k counts samples from 0, dropped ones included.
    Tone {
        /// f: Hz, or cycles per sample when the rate is unlimited.
        frequency: f64,
        /// A, in i16 units.
        amplitude: f64,
    },
    /// The producer does not write the blocks: they keep what they held (zeros at first). A
    /// DMA engine costs no CPU, but the simulated one writes every byte with a core of the
    /// machine; benchmarks use this pattern to measure the framework without that cost.
    Untouched,
}

/// Generates the pattern, continuing it across blocks (and across disable/enable).
#[derive(Debug)]
pub(super) struct Generator {
    pattern: Pattern,
    /// fs for the tone formula.
    fs: f64,
    /// Index of the next sample.
    next: u64,
}

impl Generator {
    /// `pattern` from its first sample, for a device at `fs` samples/s (1.0 when unpaced).
    pub(super) fn new(pattern: Pattern, fs: f64) -> Generator {
        Generator {
            pattern,
            fs,
            next: 0,
        }
    }

    /// Writes `out.len() / 4` samples.
    /// (The ramp keeps the low 16 bits of the sample index on purpose, and `as` saturates the
    /// tone's values at the i16 range: both casts truncate by design.)
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn fill(&mut self, out: &mut [u8]) {
        let samples = (out.len() / SAMPLE_SIZE) as u64;
        match self.pattern {
            Pattern::Ramp => {
                // The n-th i16 is n mod 2^16, so a sample is the u32 word (2k) | (2k+1) << 16.
                // Building whole words lets the compiler vectorise this: benchmarks run it at
                // full speed.
                let mut value = self.next.wrapping_mul(2) as u16;
                for chunk in out.chunks_exact_mut(SAMPLE_SIZE) {
                    let word = u32::from(value) | (u32::from(value.wrapping_add(1)) << 16);
                    chunk.copy_from_slice(&word.to_le_bytes());
                    value = value.wrapping_add(2);
                }
            }
            Pattern::Tone {
                frequency,
                amplitude,
            } => {
                // A sin_cos per sample runs at ~25 MS/s; rotating a phasor is ~10x faster.
                // The phasor is recomputed exactly every TONE_RUN samples, so the rounding
                // error of the rotations (~1e-16 per step) never reaches an output LSB.
                const TONE_RUN: usize = 256;
                let step = frequency / self.fs;
                let (rot_sin, rot_cos) = (TAU * step.rem_euclid(1.0)).sin_cos();
                let mut k = self.next;
                for run in out.chunks_mut(SAMPLE_SIZE * TONE_RUN) {
                    // Reduce to one cycle before scaling by 2π, so long runs keep their
                    // precision.
                    let (mut sin, mut cos) = (TAU * (step * k as f64).rem_euclid(1.0)).sin_cos();
                    for chunk in run.chunks_exact_mut(SAMPLE_SIZE) {
                        let i_val = (amplitude * cos).round() as i16; // `as` saturates
                        let q_val = (amplitude * sin).round() as i16;
                        chunk[..2].copy_from_slice(&i_val.to_le_bytes());
                        chunk[2..].copy_from_slice(&q_val.to_le_bytes());
                        (cos, sin) = (cos * rot_cos - sin * rot_sin, cos * rot_sin + sin * rot_cos);
                    }
                    k = k.wrapping_add((run.len() / SAMPLE_SIZE) as u64);
                }
            }
            Pattern::Untouched => {}
        }
        self.next = self.next.wrapping_add(samples);
    }

    /// Advances the pattern over samples that were lost.
    pub(super) fn skip(&mut self, samples: u64) {
        self.next = self.next.wrapping_add(samples);
    }
}

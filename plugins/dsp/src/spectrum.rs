//! `spectrum`: power spectrum in dB of consecutive frames, optionally computed in parallel.

use std::sync::Arc;

use futuresdr::runtime::BlockId;
use rayon::prelude::*;
use rustfft::{Fft, FftPlanner};
use weir_core::sync_block::SyncFn;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType, Params, Ports,
    add_sync, sync_block,
};

/// The smallest value produced, in dB: an empty bin reads this instead of −∞.
pub const FLOOR_DB: f32 = -200.0;

/// Power spectra of frames of `len` complex samples:
/// `P[k] = max(10·log10(|X[k]|² / len²), FLOOR_DB)`, X the forward FFT of the frame (no
/// window), so a complex tone of amplitude 1 exactly on a bin reads 0 dB in that bin.
///
/// Frames are independent, which makes a large input chunk (a 1 MiB DMA block holds 128 frames
/// of 1024) embarrassingly parallel: [`Self::process`] spreads them over rayon's thread pool
/// when asked. The result is identical either way — each frame goes through the same FFT plan
/// and the same arithmetic, only on another thread.
#[derive(Clone)]
pub struct SpectrumKernel {
    fft: Arc<dyn Fft<f32>>,
    len: usize,
    shift: bool,
}

impl std::fmt::Debug for SpectrumKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpectrumKernel")
            .field("len", &self.len)
            .field("shift", &self.shift)
            .finish_non_exhaustive()
    }
}

impl SpectrumKernel {
    /// Spectra of `len`-sample frames; `shift` puts the zero frequency in the middle of the
    /// frame (bin `len / 2`), as `fftshift`.
    ///
    /// # Panics
    /// If `len` is 0.
    pub fn new(len: usize, shift: bool) -> Self {
        assert!(len > 0, "spectrum frame length must be > 0");
        Self {
            fft: FftPlanner::new().plan_fft_forward(len),
            len,
            shift,
        }
    }

    /// Frame length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a frame has at least one sample.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// One frame: `input.len() == output.len() == len`; `buf` and `scratch` are work space.
    fn frame(
        &self,
        input: &[Cf32],
        output: &mut [f32],
        buf: &mut Vec<Cf32>,
        scratch: &mut Vec<Cf32>,
    ) {
        buf.clear();
        buf.extend_from_slice(input);
        scratch.resize(self.fft.get_inplace_scratch_len(), Cf32::default());
        self.fft.process_with_scratch(buf, scratch);
        let norm = 1.0 / (self.len as f32 * self.len as f32);
        let half = if self.shift { self.len / 2 } else { 0 };
        for (k, x) in buf.iter().enumerate() {
            // With shift, bin k (frequency k, or k − len above len/2) goes to (k + len/2) % len.
            let j = (k + half) % self.len;
            output[j] = (10.0 * (x.norm_sqr() * norm).log10()).max(FLOOR_DB);
        }
    }

    /// Spectra of the `frames` whole frames at the start of `input` into `output`
    /// (`frames × len` values each), on rayon's pool when `parallel`.
    ///
    /// # Panics
    /// If `input` or `output` is shorter than `frames × len`.
    pub fn process(&self, input: &[Cf32], output: &mut [f32], frames: usize, parallel: bool) {
        let n = frames * self.len;
        let (input, output) = (&input[..n], &mut output[..n]);
        if parallel {
            input
                .par_chunks_exact(self.len)
                .zip(output.par_chunks_exact_mut(self.len))
                .for_each_init(
                    || (Vec::with_capacity(self.len), Vec::new()),
                    |(buf, scratch), (i, o)| self.frame(i, o, buf, scratch),
                );
        } else {
            let (mut buf, mut scratch) = (Vec::with_capacity(self.len), Vec::new());
            for (i, o) in input
                .chunks_exact(self.len)
                .zip(output.chunks_exact_mut(self.len))
            {
                self.frame(i, o, &mut buf, &mut scratch);
            }
        }
    }
}

/// [`SpectrumKernel`] as the state of the `spectrum` block: with `parallel`, the frames of one
/// input chunk are computed on rayon's thread pool while the block's `work` waits for them
/// (CPU-bound either way; it pays only when a chunk holds many frames and cores are free).
pub struct SpectrumFrames {
    kernel: SpectrumKernel,
    parallel: bool,
}

impl SpectrumFrames {
    /// Spectra of frames of `len` (> 0) samples (see [`SpectrumKernel::new`]).
    pub fn new(len: usize, shift: bool, parallel: bool) -> Self {
        Self {
            kernel: SpectrumKernel::new(len, shift),
            parallel,
        }
    }
}

impl SyncFn for SpectrumFrames {
    type In = Cf32;
    type Out = f32;

    fn process(&mut self, input: &[Cf32], output: &mut [f32]) {
        let frames = input.len() / self.kernel.len();
        self.kernel.process(input, output, frames, self.parallel);
    }

    fn frame(&self) -> usize {
        self.kernel.len()
    }

    /// A tag moves to the first bin of the spectrum of its frame.
    fn tag_index(&self, index: usize) -> usize {
        index / self.kernel.len() * self.kernel.len()
    }
}

sync_block! {
    /// The `spectrum` block: whole frames of `len` cf32 in, their power spectra in dB (`len`
    /// f32 each) out; see [`SpectrumFrames`]. A partial frame left at the end of the stream can
    /// never be completed: its items are counted (`partial_frame_items`, exact).
    pub struct Spectrum(SpectrumFrames);
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let len = p.positive("len")?;
    Ok(Ports::frames(ItemType::Cf32, ItemType::F32, len))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let len = ctx.params.positive("len")?;
    let shift = ctx.params.bool("shift")?;
    let parallel = ctx.params.bool("parallel")?;
    let frames = SpectrumFrames::new(len, shift, parallel);
    Ok(add_sync!(ctx, Cf32 => f32, Spectrum(frames)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "spectrum",
        doc: "Power spectrum in dB of frames of `len` complex samples (10·log10(|FFT|²/len²), floor -200 dB); frames of a chunk in parallel with `parallel`; a trailing partial frame is counted (`partial_frame_items`)",
        params: vec![
            ParamSpec::required("len", ParamType::Int, "FFT length (items per frame), at most 2^20: planned at build time, a prime length by Bluestein's algorithm over twice its size")
                .within(1.0, 1_048_576.0),
            ParamSpec::boolean(
                "shift",
                false,
                "move the zero frequency to the middle of the frame",
            ),
            ParamSpec::boolean(
                "parallel",
                false,
                "compute the frames of one input chunk on rayon's thread pool",
            ),
        ],
        ports,
        build,
    }
}

//! `fft`: FFT of consecutive frames, every whole frame transformed before the block ends.
//!
//! weir's own block rather than FutureSDR's `Fft`: FutureSDR 0.0.40's transforms at most 32
//! frames per `work()` call (and no more than the output has room for) and then ends as soon
//! as its input has ended (`finished && m == (m / len) * len` holds for every `m`), so the
//! frames still waiting in its input when the upstream block finished were dropped without a
//! word (an FFT of 1024 over 524 288 bytes of cf32, 64 frames, wrote 32). This one computes
//! the same values — the same rustfft plan, out of place, the same shift and scaling, so each
//! frame is identical sample for sample — and ends only when fewer than `len` items are left;
//! those, a partial frame that can never be completed, are counted (`partial_frame_items`)
//! and shown in the run report as a loss.

use std::sync::Arc;

use futuresdr::runtime::BlockId;
use rustfft::{Fft as RustFft, FftPlanner};
use weir_core::sync_block::SyncFn;
use weir_core::{
    BlockConfig, BlockDescriptor, BuildContext, BuildError, Cf32, ItemType, Params, Ports,
    add_sync, block_config, choice, sync_block,
};

choice! {
    /// Which way the transform goes.
    pub enum Direction {
        /// Time to frequency.
        Forward = "forward",
        /// Frequency to time.
        Inverse = "inverse",
    }
}

block_config! {
    /// The parameters of `fft`.
    pub struct Config {
        /// FFT length (items per frame), at most 2^20: planned at build time, a prime length by
        /// Bluestein's algorithm over a power of two above twice its size
        #[param(min = 1, max = 1_048_576)]
        pub len: usize,
        /// `forward` or `inverse`
        pub direction: Direction = Direction::Forward,
        /// move the zero frequency to the middle of the frame
        pub shift: bool = false,
        /// scale every output by this factor (0 = no scaling)
        #[param(min = -1e9, max = 1e9)]
        pub normalize: f64 = 0.0,
    }
}

/// The counter of the items of a trailing partial frame, which the block cannot transform
/// (counted by weir-core's `sync_work`, as for every block working on frames).
pub use weir_core::sync_block::PARTIAL_FRAME_ITEMS;

/// The transform of one frame, as FutureSDR 0.0.40's `Fft` computes it: `shift` moves the
/// zero frequency to the middle (the output of a forward transform, the input of an inverse
/// one), `normalize` multiplies every output.
pub struct FftKernel {
    plan: Arc<dyn RustFft<f32>>,
    len: usize,
    direction: Direction,
    shift: bool,
    normalize: Option<f32>,
    buf: Vec<Cf32>,
    scratch: Vec<Cf32>,
}

impl FftKernel {
    /// A transform of `len` (> 0) items.
    pub fn new(len: usize, direction: Direction, shift: bool, normalize: Option<f32>) -> Self {
        let mut planner = FftPlanner::<f32>::new();
        let plan = match direction {
            Direction::Forward => planner.plan_fft_forward(len),
            Direction::Inverse => planner.plan_fft_inverse(len),
        };
        let scratch = vec![Cf32::default(); plan.get_outofplace_scratch_len()];
        Self {
            plan,
            len,
            direction,
            shift,
            normalize,
            buf: vec![Cf32::default(); len],
            scratch,
        }
    }

    /// Items per frame.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a frame has at least one item.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Transform the whole frames of `input` into `output` (as many as both hold); returns
    /// the number of items transformed (a multiple of `len`).
    pub fn transform(&mut self, input: &[Cf32], output: &mut [Cf32]) -> usize {
        let len = self.len;
        let mut n = 0;
        for (x, y) in input.chunks_exact(len).zip(output.chunks_exact_mut(len)) {
            if self.direction == Direction::Inverse && self.shift {
                for (k, b) in self.buf.iter_mut().enumerate() {
                    *b = x[(k + len / 2) % len];
                }
            } else {
                self.buf.copy_from_slice(x);
            }
            // Out of place, so `buf` is scratch space afterwards.
            self.plan
                .process_outofplace_with_scratch(&mut self.buf, y, &mut self.scratch);
            if self.direction == Direction::Forward && self.shift {
                self.buf.copy_from_slice(y);
                for (k, v) in y.iter_mut().enumerate() {
                    *v = self.buf[(k + len / 2) % len];
                }
            }
            if let Some(f) = self.normalize {
                for v in y.iter_mut() {
                    *v *= f;
                }
            }
            n += len;
        }
        n
    }
}

impl SyncFn for FftKernel {
    type In = Cf32;
    type Out = Cf32;

    fn process(&mut self, input: &[Cf32], output: &mut [Cf32]) {
        self.transform(input, output);
    }

    fn frame(&self) -> usize {
        self.len
    }
}

sync_block! {
    /// The `fft` block: whole frames of `len` cf32 in, their transforms out (see
    /// [`FftKernel`]); ended only once every whole frame is out: what is left then is less than
    /// a frame, which no more input will complete.
    pub struct Fft(FftKernel);
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let len = p.config::<Config>()?.len;
    // The block transforms whole frames: it cannot make progress with fewer than `len` items.
    Ok(Ports::frames(ItemType::Cf32, ItemType::Cf32, len))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let config = ctx.params.config::<Config>()?;
    let normalize = (config.normalize != 0.0).then_some(config.normalize as f32);
    let kernel = FftKernel::new(config.len, config.direction, config.shift, normalize);
    Ok(add_sync!(ctx, Cf32 => Cf32, Fft(kernel)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "fft",
        doc: "FFT of consecutive frames of `len` complex samples; a trailing partial frame is counted (`partial_frame_items`)",
        params: Config::params(),
        ports,
        build,
    }
}

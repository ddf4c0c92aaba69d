//! `fft`: FutureSDR's FFT block, registered by name.

use futuresdr::blocks::{Fft, FftDirection};
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockConfig, BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, ItemType, Params,
    PortSpec, Ports, block_config, choice, with_reader,
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

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let len = p.config::<Config>()?.len;
    Ok(Ports {
        // The block transforms whole frames: it cannot make progress with fewer than `len` items.
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32).with_min_items(len)],
        outputs: vec![PortSpec::output(
            "out",
            "output",
            ItemType::Cf32,
            BufferKind::Circular,
        )],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let config = ctx.params.config::<Config>()?;
    let direction = match config.direction {
        Direction::Forward => FftDirection::Forward,
        Direction::Inverse => FftDirection::Inverse,
    };
    let normalize = (config.normalize != 0.0).then_some(config.normalize as f32);
    Ok(with_reader!(ctx.input_buffer("in"), Cf32, R => {
        let mut block =
            Fft::<R>::with_options_and_buffers(config.len, direction, config.shift, normalize);
        ctx.configure_input("in", block.input());
        ctx.add(block)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "fft",
        doc: "FFT of consecutive frames of `len` complex samples (FutureSDR's Fft)",
        params: Config::params(),
        ports,
        build,
    }
}

//! `moving_avg`: FutureSDR's MovingAvg: exponential average of consecutive f32 frames.

use futuresdr::blocks::MovingAvg;
use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::{CpuBufferReader, DefaultCpuWriter};
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params, Ports,
    with_reader,
};

/// FutureSDR's block takes the frame width as a const generic, so each width is compiled in:
/// the powers of two, as FFT lengths usually are.
const WIDTHS: [usize; 14] = [
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192,
];

fn width(p: &Params) -> Result<usize, BuildError> {
    let w = p.positive("width")?;
    if !WIDTHS.contains(&w) {
        return Err(BuildError::param(
            "width",
            format!("must be a power of two from 1 to 8192, found {w}"),
        ));
    }
    Ok(w)
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let w = width(p)?;
    // The block averages whole frames.
    Ok(Ports::frames(ItemType::F32, ItemType::F32, w))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let w = width(ctx.params)?;
    let decay = ctx.params.float("decay")? as f32;
    let history = ctx.params.positive("history")?;
    let kind = ctx.input_buffer("in");
    macro_rules! avg {
        ($R:ty, $($w:literal)*) => {
            match w {
                $($w => {
                    let mut block = MovingAvg::<$w, $R, DefaultCpuWriter<f32>>::new(decay, history);
                    // FutureSDR's MovingAvg does not declare its frame size; a reader of device
                    // blocks uses it to bridge frames split across blocks.
                    block.input().set_min_items($w);
                    ctx.configure_input("in", block.input());
                    ctx.add(block)
                })*
                _ => unreachable!("`width` checked above"),
            }
        };
    }
    Ok(with_reader!(kind, f32, R => avg!(R, 1 2 4 8 16 32 64 128 256 512 1024 2048 4096 8192)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "moving_avg",
        doc: "Per position of consecutive `width`-item frames: avg = (1 − decay) avg + decay x, output every `history` frames (FutureSDR's MovingAvg)",
        params: vec![
            ParamSpec::required(
                "width",
                ParamType::Int,
                "frame length in items (a power of two, 1 ..= 8192), e.g. the FFT length",
            )
            .range(Some(1.0), Some(8192.0)),
            ParamSpec::float("decay", 0.1, "weight of the newest frame")
                .range(Some(0.0), Some(1.0)),
            ParamSpec::int("history", 1, "frames averaged per output frame").within(1.0, 1e9),
        ],
        ports,
        build,
    }
}

//! `pfb_channelizer`: FutureSDR's polyphase channelizer, one output per channel.

use futuresdr::blocks::PfbChannelizer;
use futuresdr::runtime::BlockId;
use futuresdr::runtime::dev::{CpuBufferReader, DefaultCpuWriter};
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, PortSpec, Ports, with_reader,
};

use crate::{indexed, taps};

/// Channels, prototype taps, oversampling and the resulting decimation.
struct Config {
    channels: usize,
    taps: Vec<f32>,
    oversample: f32,
    decimation: usize,
}

fn check(p: &Params) -> Result<Config, BuildError> {
    let channels = p.positive("channels")?;
    if !(3..=indexed::MAX_PORTS).contains(&channels) {
        return Err(BuildError::param(
            "channels",
            format!("must be 3 ..= {}, found {channels}", indexed::MAX_PORTS),
        ));
    }
    let taps = taps::resolve(p)?;
    if taps.len() < channels {
        return Err(BuildError::param(
            "taps",
            format!(
                "the prototype filter has {} taps, fewer than the {channels} channels",
                taps.len()
            ),
        ));
    }
    let oversample = p.float("oversample")?;
    let decimation = channels as f64 / oversample;
    if !(oversample > 0.0 && decimation.fract() == 0.0 && decimation >= 1.0) {
        return Err(BuildError::param(
            "oversample",
            format!("must be channels / i for a whole i in 1 ..= {channels}, found {oversample}"),
        ));
    }
    Ok(Config {
        channels,
        taps,
        oversample: oversample as f32,
        decimation: decimation as usize,
    })
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let c = check(p)?;
    Ok(Ports {
        // One output per channel needs `decimation` new inputs.
        inputs: vec![PortSpec::input("in", "input", ItemType::Cf32).with_min_items(c.decimation)],
        outputs: (0..c.channels)
            .map(|i| {
                let (name, runtime) = indexed::output(i);
                PortSpec::output(name, runtime, ItemType::Cf32, BufferKind::Circular)
            })
            .collect(),
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let c = check(ctx.params)?;
    Ok(with_reader!(ctx.input_buffer("in"), Cf32, R => {
        let mut block = PfbChannelizer::<R, DefaultCpuWriter<Cf32>>::new(c.channels, &c.taps, c.oversample);
        // Lets a reader of device blocks bridge block ends shorter than one decimation step.
        block.input().set_min_items(c.decimation);
        ctx.configure_input("in", block.input());
        ctx.add(block)
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    let mut params = vec![
        ParamSpec::required(
            "channels",
            ParamType::Int,
            "number of channels (outputs out0, out1, ...; channel 0 is centred at 0 Hz)",
        )
        .range(Some(3.0), Some(indexed::MAX_PORTS as f64)),
        ParamSpec::float(
            "oversample",
            1.0,
            "output rate × channels / input rate; channels / oversample must be whole",
        )
        .above(0.0)
        .max(indexed::MAX_PORTS as f64),
    ];
    params.extend(taps::params(true));
    BlockDescriptor {
        type_name: "pfb_channelizer",
        doc: "Split complex samples into `channels` equally spaced channels with a polyphase filter bank; taps are the prototype low-pass at the input rate (FutureSDR's PfbChannelizer)",
        params,
        ports,
        build,
    }
}

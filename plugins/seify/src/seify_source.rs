//! `seify_source`: FutureSDR's seify source, registered by name.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BufferKind, BuildContext, BuildError, Cf32, Guarded, ItemType, Params,
    PortSpec, Ports,
};

use crate::device::{self, MAX_CHANNELS};

const OUT: [&str; MAX_CHANNELS] = [
    "out0", "out1", "out2", "out3", "out4", "out5", "out6", "out7",
];
const RUNTIME_OUT: [&str; MAX_CHANNELS] = [
    "outputs[0]",
    "outputs[1]",
    "outputs[2]",
    "outputs[3]",
    "outputs[4]",
    "outputs[5]",
    "outputs[6]",
    "outputs[7]",
];

/// The message inputs of FutureSDR's seify source, under its handler names.
pub const MESSAGE_INPUTS: [&str; 7] = [
    "freq",
    "gain",
    "sample_rate",
    "cmd",
    "config",
    "overflows",
    "terminate",
];

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let n = device::channels(p)?.len();
    Ok(Ports {
        outputs: (0..n)
            .map(|i| {
                PortSpec::output(
                    device::port_name(n, i, "out", &OUT),
                    RUNTIME_OUT[i],
                    ItemType::Cf32,
                    BufferKind::Circular,
                )
            })
            .collect(),
        message_inputs: MESSAGE_INPUTS.to_vec(),
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let source = device::builder(ctx.params)?
        .build_source_with_buffer::<futuresdr::runtime::dev::DefaultCpuWriter<Cf32>>()
        .map_err(|e| device::config_error(ctx.params, e))?;
    let context = format!("seify device {:?}", ctx.params.str("args")?);
    let stats = ctx.stats();
    Ok(ctx.add_guarded(Guarded::new(source, stats, context)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "seify_source",
        doc: "Receive cf32 samples from a radio through seify (FutureSDR's seify Source). \
              Message inputs (FutureSDR's names): `freq` (Hz), `gain` (dB), `sample_rate` \
              (samples/s) set all channels and answer `Ok`, or with null answer the current \
              value; `cmd` applies a map of settings, `config` answers the settings of a \
              channel, `overflows` the overflow count, `terminate` stops the source",
        params: device::params(),
        ports,
        build,
    }
}

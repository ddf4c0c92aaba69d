//! `seify_sink`: FutureSDR's seify sink, registered by name.

use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, Guarded, ItemType, Params, PortSpec, Ports,
    with_reader,
};

use crate::device::{self, MAX_CHANNELS};

const IN: [&str; MAX_CHANNELS] = ["in0", "in1", "in2", "in3", "in4", "in5", "in6", "in7"];
const RUNTIME_IN: [&str; MAX_CHANNELS] = [
    "inputs[0]",
    "inputs[1]",
    "inputs[2]",
    "inputs[3]",
    "inputs[4]",
    "inputs[5]",
    "inputs[6]",
    "inputs[7]",
];

/// The message inputs of FutureSDR's seify sink, under its handler names.
pub const MESSAGE_INPUTS: [&str; 5] = ["freq", "gain", "sample_rate", "cmd", "config"];

fn ports(p: &Params) -> Result<Ports, BuildError> {
    let n = device::channels(p)?.len();
    Ok(Ports {
        inputs: (0..n)
            .map(|i| {
                PortSpec::input(
                    device::port_name(n, i, "in", &IN),
                    RUNTIME_IN[i],
                    ItemType::Cf32,
                )
            })
            .collect(),
        message_inputs: MESSAGE_INPUTS.to_vec(),
        message_outputs: vec!["terminate_out"],
        ..Ports::default()
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let n = device::channels(ctx.params)?.len();
    let names: Vec<&'static str> = (0..n).map(|i| device::port_name(n, i, "in", &IN)).collect();
    // Every input reads the same kind of buffer; a DMABUF source connected to one of several
    // inputs would need mixed reader types, which FutureSDR's `Vec` of inputs cannot hold.
    let kind = ctx.input_buffer(names[0]);
    if names.iter().any(|n| ctx.input_buffer(n) != kind) {
        return Err(BuildError::Other(
            "all inputs of a multi-channel seify_sink must come from the same kind of block \
             (all from DMABUF sources, or none)"
                .into(),
        ));
    }
    let builder = device::builder(ctx.params)?;
    let context = format!("seify device {:?}", ctx.params.str("args")?);
    let stats = ctx.stats();
    Ok(with_reader!(kind, Cf32, R => {
        let mut sink = builder
            .build_sink_with_buffer::<R>()
            .map_err(|e| device::config_error(ctx.params, e))?;
        for (i, name) in names.iter().enumerate() {
            if let Some(input) = sink.inputs().get_mut(i) {
                ctx.configure_input(name, input);
            }
        }
        ctx.add_guarded(Guarded::new(sink, stats, context))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "seify_sink",
        doc: "Transmit cf32 samples to a radio through seify (FutureSDR's seify Sink). Message \
              inputs (FutureSDR's names): `freq` (Hz), `gain` (dB), `sample_rate` (samples/s) \
              set all channels; `cmd` applies a map of settings, `config` answers the settings \
              of a channel. Message output `terminate_out` posts `Ok` when the input has ended",
        params: device::params(),
        ports,
        build,
    }
}

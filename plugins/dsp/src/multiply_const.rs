//! `multiply_const`: scale complex samples by a gain that can change while running.

use futuresdr::runtime::BlockId;
use futuresdr::runtime::Pmt;

use crate::sample_convert::scale_cf32;
use weir_core::sync_block::{SyncFn, message_number};
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, Cf32, ItemType, ParamSpec, Params,
    Ports, add_sync, sync_block,
};

/// `y = x * gain`; a message on the `gain` port (a number) sets a new gain from the next sample
/// on, as a GNU Radio `multiply_const` with a callback.
pub struct Gain {
    gain: f32,
}

impl Gain {
    /// Multiplying by `gain`.
    pub fn new(gain: f32) -> Self {
        Self { gain }
    }

    /// The `gain` message: a number sets the gain; anything else is a query answered with the
    /// current gain.
    pub fn gain(&mut self, p: Pmt, stats: &BlockStats) -> Pmt {
        let Some(gain) = message_number(&p) else {
            return Pmt::F32(self.gain);
        };
        let gain = gain as f32;
        self.gain = gain;
        stats.set_note("gain", gain.to_string());
        Pmt::F32(gain)
    }
}

impl SyncFn for Gain {
    type In = Cf32;
    type Out = Cf32;

    fn process(&mut self, input: &[Cf32], output: &mut [Cf32]) {
        scale_cf32(input, output, self.gain);
    }

    fn describe(&self, stats: &BlockStats) {
        stats.set_note("gain", self.gain.to_string());
    }
}

sync_block! {
    /// The `multiply_const` block: [`Gain`] with its `gain` message port.
    pub struct MultiplyConst(Gain) messages(gain);
}

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        message_inputs: vec!["gain"],
        ..Ports::sync(ItemType::Cf32, ItemType::Cf32)
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let gain = Gain::new(ctx.params.float("gain")? as f32);
    Ok(add_sync!(ctx, Cf32 => Cf32, MultiplyConst(gain)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "multiply_const",
        doc: "Multiply complex samples by a gain; message port `gain` changes it while running",
        params: vec![ParamSpec::float("gain", 1.0, "initial gain").within(-1e9, 1e9)],
        ports,
        build,
    }
}

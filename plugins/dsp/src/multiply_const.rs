//! `multiply_const`: scale complex samples by a gain that can change while running.

use std::sync::Arc;

use futuresdr::runtime::dev::prelude::*;
use weir_core::sync_block::sync_work;
use weir_core::{
    BlockDescriptor, BlockStats, BuildContext, BuildError, Cf32, ItemType, ParamSpec, ParamType,
    Params, Ports, Value, add_sync,
};

/// Multiplies every sample by `gain`; a message on the `gain` port (a number) sets a new gain
/// from the next sample on, as a GNU Radio `multiply_const` with a callback.
#[derive(Block)]
#[message_inputs(gain)]
pub struct MultiplyConst<R = DefaultCpuReader<Cf32>, W = DefaultCpuWriter<Cf32>>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    #[input]
    input: R,
    #[output]
    output: W,
    gain: f32,
    stats: Arc<BlockStats>,
}

impl<R, W> MultiplyConst<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    /// A block multiplying by `gain`.
    pub fn new(gain: f32, stats: Arc<BlockStats>) -> Self {
        stats.set_note("gain", gain.to_string());
        Self {
            input: R::default(),
            output: W::default(),
            gain,
            stats,
        }
    }

    async fn gain(
        &mut self,
        _io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
        p: Pmt,
    ) -> Result<Pmt> {
        let gain = match p {
            Pmt::F32(v) => v,
            Pmt::F64(v) => v as f32,
            Pmt::U32(v) => v as f32,
            Pmt::U64(v) => v as f32,
            Pmt::Usize(v) => v as f32,
            Pmt::Isize(v) => v as f32,
            // Anything else is a query: answer with the current gain.
            _ => return Ok(Pmt::F32(self.gain)),
        };
        self.gain = gain;
        self.stats.set_note("gain", gain.to_string());
        Ok(Pmt::F32(gain))
    }
}

impl<R, W> Kernel for MultiplyConst<R, W>
where
    R: CpuBufferReader<Item = Cf32>,
    W: CpuBufferWriter<Item = Cf32>,
{
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        let g = self.gain;
        sync_work(
            &mut self.input,
            &mut self.output,
            &self.stats,
            io,
            |i, o| {
                for (x, y) in i.iter().zip(o) {
                    *y = x * g;
                }
            },
        );
        Ok(())
    }
}

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports {
        message_inputs: vec!["gain"],
        ..Ports::sync(ItemType::Cf32, ItemType::Cf32)
    })
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let gain = ctx.params.float("gain")? as f32;
    let stats = ctx.stats();
    Ok(add_sync!(ctx, Cf32 => Cf32, |R, W| MultiplyConst::<R, W>::new(gain, stats)))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "multiply_const",
        doc: "Multiply complex samples by a gain; message port `gain` changes it while running",
        params: vec![
            ParamSpec::optional("gain", ParamType::Float, Value::Float(1.0), "initial gain")
                .within(-1e9, 1e9),
        ],
        ports,
        build,
    }
}

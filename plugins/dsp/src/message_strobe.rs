//! `message_strobe`: FutureSDR's message source, posting a number periodically.

use std::time::Duration;

use futuresdr::blocks::MessageSource;
use futuresdr::runtime::{BlockId, Pmt};
use weir_core::{BlockDescriptor, BuildContext, BuildError, ParamSpec, ParamType, Params, Ports};

fn ports(_: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::messages(&[], &["out"]))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let value = ctx.params.float("value")?;
    let interval = ctx.params.float("interval")?;
    if !(interval.is_finite() && interval > 0.0) {
        return Err(BuildError::param(
            "interval",
            format!("must be a positive number of seconds, found {interval}"),
        ));
    }
    let count = ctx.params.uint("count")?;
    let count = (count > 0).then_some(count as usize);
    Ok(ctx.add(MessageSource::new(
        Pmt::F64(value),
        Duration::from_secs_f64(interval),
        count,
    )))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "message_strobe",
        doc: "Post a number on message port `out` every `interval` seconds (FutureSDR's MessageSource)",
        params: vec![
            ParamSpec::required("value", ParamType::Float, "number to post"),
            ParamSpec::float("interval", 1.0, "seconds between messages (1 µs ..= 1 day)")
            .within(1e-6, 86_400.0),
            ParamSpec::int(
                "count",
                0,
                "messages to post, then stop (0 = forever, and the flowgraph then runs until stopped, as with GNU Radio's message strobe)",
            )
            .within(0.0, 2f64.powi(53)),
        ],
        ports,
        build,
    }
}

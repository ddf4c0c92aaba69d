//! `weir record`: the common capture in one line — a device (or the simulator) into a SigMF
//! recording — built as a flowgraph in code, so it gets every check a flowgraph file gets.

use clap::{Args, ValueEnum};
use weir_core::{FlowgraphBuilder, FlowgraphSpec, LoadError, Registry, Value};

/// What `weir record` records.
#[derive(Args)]
pub struct RecordArgs {
    /// The recording to write: OUT.sigmf-data and OUT.sigmf-meta.
    pub out: String,
    /// IIO device: id (`iio:device0`), label or name; `sim` is the built-in simulated ADC.
    #[arg(long, default_value = "sim")]
    pub device: String,
    /// Comma-separated channel ids (`voltage0,voltage1`); empty = every channel of the buffer.
    #[arg(long, default_value = "")]
    pub channels: String,
    /// Sample rate to set, samples/s; the rate the device accepts is what is recorded (0 =
    /// leave the device's rate; the simulator then runs as fast as it can).
    #[arg(long, value_name = "HZ", default_value_t = 0.0)]
    pub rate: f64,
    /// Stop after this many samples (the recording then holds exactly this many).
    #[arg(long, value_name = "N")]
    pub samples: Option<u64>,
    /// Stop after this many seconds, at most a year.
    #[arg(long, value_name = "SECONDS", value_parser = crate::parse_duration, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Centre frequency for the recording's metadata (`core:frequency`), Hz.
    #[arg(long, value_name = "HZ")]
    pub frequency: Option<f64>,
    /// `ci16`: the device's 16-bit I/Q pairs as they are (no conversion, written from the DMA
    /// blocks); `cf32`: converted from the device's own channel format.
    #[arg(long, value_enum, default_value_t = Format::Ci16)]
    pub format: Format,
    /// Samples (scans) per DMA block.
    #[arg(long, value_name = "N", default_value_t = 16384)]
    pub samples_per_block: u64,
    /// DMA blocks in flight.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub blocks: u64,
}

/// The recording's sample format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Interleaved 16-bit I/Q (`ci16_le`), straight from the device.
    Ci16,
    /// Complex float (`cf32_le`), converted with `scan_to_cf32`.
    Cf32,
}

/// Converts a count for a block parameter; counts beyond `i64` are refused by the parameter's
/// own range check rather than wrapped.
fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The flowgraph of a recording: `dmabuf_source` → (`scan_to_cf32`) → `sigmf_sink`.
pub fn flowgraph(args: &RecordArgs, registry: &Registry) -> Result<FlowgraphSpec, LoadError> {
    let (item, source_item) = match args.format {
        Format::Ci16 => ("ci16", "ci16"),
        // The converter reads the device's raw scans in place and takes their format from it.
        Format::Cf32 => ("cf32", "u8"),
    };
    let mut b = FlowgraphBuilder::new(registry).block(
        "src",
        "dmabuf_source",
        [
            ("device", Value::Str(args.device.clone())),
            ("channels", Value::Str(args.channels.clone())),
            ("sample_rate", Value::Float(args.rate)),
            ("samples_per_block", count(args.samples_per_block)),
            ("blocks", count(args.blocks)),
            ("item", Value::Str(source_item.into())),
        ],
    );
    let mut last = "src.out".to_string();
    if args.format == Format::Cf32 {
        b = b
            .block("conv", "scan_to_cf32", [])
            .connect(&last, "conv.in");
        last = "conv.out".into();
    }
    let mut sink = vec![
        ("path", Value::Str(args.out.clone())),
        ("item", Value::Str(item.into())),
    ];
    // The recorder counts the samples itself, so that it writes the DMA blocks in place (a
    // `head` in between would copy them).
    if let Some(n) = args.samples {
        sink.push(("items", count(n)));
    }
    if let Some(f) = args.frequency {
        sink.push(("frequency", Value::Float(f)));
    }
    b.block("rec", "sigmf_sink", sink)
        .connect(&last, "rec.in")
        .spec()
}

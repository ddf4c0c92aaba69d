//! A short radio built in code rather than TOML, from the same registry and with the same
//! checks: a simulated IIO ADC, the i16-to-complex converter, a gain, a head that ends the run,
//! and a file sink whose samples are read back. The gain is turned up by message while it runs,
//! and the recorded samples show the change.
//!
//! ```sh
//! cargo run --example build_in_code
//! ```

use std::time::{Duration, Instant};

use futuresdr::runtime::Pmt;
use weir::prelude::*;

/// Samples to record: one second at the source's real-time rate, so there is time to change
/// the gain while it runs.
const SAMPLES: i64 = 4_000_000;

fn sink_items(fg: &weir::core::RunningFlowgraph) -> u64 {
    fg.stats().block("sink").map_or(0, |b| b.items_in)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("weir-build-in-code-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("rx.cf32");

    let registry = registry();
    let running = FlowgraphBuilder::new(&registry)
        .block(
            "rx",
            "dmabuf_source",
            [
                ("pattern", "tone".into()),
                ("tone_frequency", 0.02.into()),
                ("tone_amplitude", 8192.into()),
                ("sample_rate", 4e6.into()), // real-time, like a radio
                ("samples_per_block", 4096.into()),
            ],
        )
        .block("conv", "ci16_to_cf32", [])
        .block("gain", "multiply_const", [("gain", 1.0.into())])
        .block("head", "head", [("items", SAMPLES.into())])
        .block(
            "sink",
            "file_sink",
            [("path", path.display().to_string().into())],
        )
        .connect("rx.out", "conv.in")
        .connect("conv.out", "gain.in")
        .connect("gain.out", "head.in")
        .connect("head.out", "sink.in")
        .build()?
        .start()?;

    let deadline = Instant::now() + Duration::from_secs(30);
    while sink_items(&running) < 400_000 {
        if Instant::now() > deadline {
            return Err("no progress after 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Turn the gain up while the radio runs.
    let answer = running.call("gain", "gain", Pmt::F64(3.0))?;
    println!(
        "gain set to 3 after {} samples ({answer:?})",
        sink_items(&running)
    );

    let report = running.wait()?;
    print!("{report}");

    // The tone has magnitude 8192/32768 = 0.25: 0.25 up to one switch point, 0.75 after.
    let bytes = std::fs::read(&path)?;
    std::fs::remove_dir_all(&dir)?;
    let mags: Vec<f32> = bytes
        .chunks_exact(8)
        .map(|b| {
            let re = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let im = f32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            re.hypot(im)
        })
        .collect();
    if mags.len() as i64 != SAMPLES {
        return Err(format!("recorded {} samples, expected {SAMPLES}", mags.len()).into());
    }
    let switch = mags
        .iter()
        .position(|m| (m - 0.75).abs() < 0.01)
        .ok_or("no sample at the new gain")?;
    for (i, m) in mags.iter().enumerate() {
        let expected = if i < switch { 0.25 } else { 0.75 };
        if (m - expected).abs() > 0.01 {
            return Err(format!("sample {i}: |z| = {m}, expected {expected}").into());
        }
    }
    println!("recorded {SAMPLES} samples: gain 1 for {switch}, gain 3 for the rest");
    Ok(())
}

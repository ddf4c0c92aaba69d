//! A small radio application embedding weir: it loads a flowgraph from a TOML string, starts
//! it, watches its statistics, changes the receive gain by message while it runs, and stops it.
//!
//! ```sh
//! cargo run --example radio
//! ```

use std::time::{Duration, Instant};

use futuresdr::runtime::Pmt;
use weir::prelude::*;

const FLOWGRAPH: &str = r#"
connections = ["rx.out -> conv.in", "conv.out -> gain.in", "gain.out -> sink.in"]

[blocks.rx]
type = "dmabuf_source"
pattern = "tone"
tone_frequency = 0.02
tone_amplitude = 8192
sample_rate = 4e6          # real-time, like a radio
samples_per_block = 4096

[blocks.conv]
type = "ci16_to_cf32"

[blocks.gain]
type = "multiply_const"
gain = 1.0

[blocks.sink]
type = "null_sink"
"#;

fn sink_items(fg: &weir::core::RunningFlowgraph) -> u64 {
    fg.stats().block("sink").map_or(0, |b| b.items_in)
}

fn wait_for_samples(fg: &weir::core::RunningFlowgraph, n: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink_items(fg) < n {
        if Instant::now() > deadline {
            return Err(format!(
                "no progress: {} samples after 30 s",
                sink_items(fg)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = registry();
    let spec = FlowgraphSpec::parse(FLOWGRAPH, "radio.toml", &registry)?;
    let running = spec.build(&registry)?.start()?;

    wait_for_samples(&running, 400_000)?;
    println!("receiving: {} samples so far", sink_items(&running));

    // The operator turns the gain up: a message to the block's `gain` port, handled in order
    // with its sample processing.
    let answer = running.call("gain", "gain", Pmt::F64(4.0))?;
    println!("gain set, block answered {answer:?}");
    let target = sink_items(&running) + 400_000;
    wait_for_samples(&running, target)?;

    running.stop()?;
    let report = running.wait()?;
    print!("{report}");
    let gain = report.block("gain").and_then(|b| {
        b.notes
            .iter()
            .find(|(k, _)| *k == "gain")
            .map(|(_, v)| v.clone())
    });
    if gain.as_deref() != Some("4") {
        return Err(format!("gain block reports gain {gain:?}, expected 4").into());
    }
    Ok(())
}

//! A slow consumer starves the simulated hardware: the simulator counts overruns, the source
//! reports them, and the lost samples show up as gaps in the ramp — never hidden.

use std::sync::Arc;
use std::time::Duration;

use futuresdr::runtime::Flowgraph;
use futuresdr::runtime::Timer;
use futuresdr::runtime::dev::prelude::*;
use weir_core::{BlockHandle, BlockStats, Ci16, MappedBlockReader, RunReport, runtime};
use weir_iio::sim::{SimConfig, SimRx};
use weir_plugin_iio::DmabufSource;
use weir_plugin_iio::dmabuf_source::{BLOCK_TAG, OVERRUN_TAG};

const SAMPLES_PER_BLOCK: u64 = 1024;

/// A consumer that holds every block it gets until the source has reported `hold_until`
/// overruns, then reads `total` samples, checking the ramp and recording each gap.
#[derive(Block)]
struct GateSink {
    #[input]
    input: MappedBlockReader<Ci16>,
    source: Arc<BlockStats>,
    hold_until: u64,
    total: u64,
    next: Option<u16>,
    next_sequence: u64,
    /// Per block read: samples skipped at its start, and the overrun tag it carried.
    blocks: Arc<std::sync::Mutex<Vec<(u64, u64)>>>,
}

impl Kernel for GateSink {
    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> Result<()> {
        if self.source.counter("overruns").unwrap_or(0) < self.hold_until {
            // Wait for a condition, not for time: poll the counter again shortly.
            io.block_on(async {
                Timer::after(Duration::from_millis(2)).await;
            });
            return Ok(());
        }
        let (samples, tags) = self.input.slice_with_tags();
        let n = samples.len().min(self.total as usize);
        let tagged = tags
            .iter()
            .find_map(|t| match &t.tag {
                Tag::NamedUsize(name, v) if name == OVERRUN_TAG && t.index == 0 => Some(*v as u64),
                _ => None,
            })
            .unwrap_or(0);
        // Every block starts with its sequence number, counting every block the source
        // delivered: consecutive, whatever was lost between them.
        let sequence = tags.iter().find_map(|t| match &t.tag {
            Tag::NamedUsize(name, v) if name == BLOCK_TAG && t.index == 0 => Some(*v as u64),
            _ => None,
        });
        if n > 0 {
            assert_eq!(
                sequence,
                Some(self.next_sequence),
                "block tag at the block start"
            );
            self.next_sequence += 1;
        }
        let mut gap_at_start = 0;
        for (k, s) in samples[..n].iter().enumerate() {
            let i = s.re as u16;
            if let Some(expected) = self.next
                && i != expected
            {
                assert_eq!(k, 0, "a gap in the middle of a block");
                // The ramp counts I and Q, two values per sample.
                gap_at_start = u64::from(i.wrapping_sub(expected)) / 2;
            }
            assert_eq!(
                s.im as u16,
                i.wrapping_add(1),
                "Q follows I within a sample"
            );
            self.next = Some(i.wrapping_add(2));
        }
        if n > 0 {
            self.blocks
                .lock()
                .expect("blocks")
                .push((gap_at_start, tagged));
        }
        self.input.consume(n);
        self.total -= n as u64;
        if self.total == 0 || self.input.finished() {
            io.finished = true;
        }
        Ok(())
    }
}

#[test]
fn slow_consumer_makes_the_simulator_count_overruns() {
    let sim = SimRx::new(SimConfig {
        sample_rate: Some(4e6),
        block_size: SAMPLES_PER_BLOCK as usize * 4,
        block_count: 2,
        ..SimConfig::default()
    })
    .expect("simulated device");
    let stats = Arc::new(BlockStats::default());
    let blocks = Arc::default();

    let mut fg = Flowgraph::new();
    let src = fg.add(DmabufSource::<Ci16>::new(Box::new(sim), stats.clone()));
    let sink = fg.add(GateSink {
        input: MappedBlockReader::default(),
        source: stats.clone(),
        hold_until: 3,
        total: 64 * SAMPLES_PER_BLOCK,
        next: None,
        next_sequence: 0,
        blocks: Arc::clone(&blocks),
    });
    fg.stream_dyn(src, "output", sink, "input")
        .expect("connect");
    runtime().run(fg).expect("runs");

    let overruns = stats.counter("overruns").expect("overruns counted");
    let dropped = stats.counter("dropped_samples").expect("dropped counted");
    assert!(overruns >= 3, "overruns = {overruns}");
    assert_eq!(dropped % SAMPLES_PER_BLOCK, 0, "whole block slots are lost");
    assert!(dropped >= 3 * SAMPLES_PER_BLOCK);

    let blocks = blocks.lock().expect("blocks");
    let (mut skipped, mut tagged) = (0, 0);
    for &(gap, tag) in blocks.iter() {
        assert_eq!(
            gap % SAMPLES_PER_BLOCK,
            0,
            "whole block slots are lost: gap {gap}"
        );
        skipped += gap;
        tagged += tag;
        // The source learns of a loss no later than when it completes the block after it, so
        // the tags never lag behind what the ramp shows (they may come a block early).
        assert!(
            tagged >= skipped,
            "tags say {tagged} dropped, ramp skipped {skipped}"
        );
    }
    assert!(
        skipped > 0,
        "the lost samples are visible as a gap in the ramp"
    );
    assert!(
        skipped <= dropped,
        "ramp skipped {skipped}, counter says {dropped}"
    );
    assert!(
        tagged <= dropped,
        "tags say {tagged}, counter says {dropped}"
    );

    // The counts are reported.
    let report = RunReport::collect(
        &[BlockHandle {
            name: "src".into(),
            type_name: "dmabuf_source".into(),
            id: src.id(),
            stats,
        }],
        Duration::from_secs(1),
    );
    let text = report.to_string();
    assert!(text.contains(&format!("overruns={overruns}")), "{text}");
    assert!(
        text.contains(&format!("dropped_samples={dropped}")),
        "{text}"
    );
}

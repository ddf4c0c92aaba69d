//! `BuiltFlowgraph::with_threads` sets the number of executor threads the flowgraph runs on.
//!
//! One test in its own binary: it counts this process's FutureSDR executor threads (named
//! `smol-<core>`), which another flowgraph running in the same process would add to.

use weir_core::FlowgraphSpec;

/// Threads of this process whose name starts with `smol-` (FutureSDR's executors).
fn executor_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("smol-"))
        .count()
}

#[test]
fn flowgraph_runs_on_the_requested_number_of_executor_threads() {
    let registry = weir::registry();
    // A paced source that would run for minutes: it is stopped once the threads are counted.
    let text = r#"
connections = ["src.out -> conv.in", "conv.out -> sink.in"]
[blocks.src]
type = "dmabuf_source"
sample_rate = 1e5
samples_per_block = 1024
[blocks.conv]
type = "ci16_to_cf32"
[blocks.sink]
type = "null_sink"
item = "cf32"
"#;
    let spec = FlowgraphSpec::parse(text, "threads.toml", &registry).expect("loads");
    // 3 is neither 1 nor this machine's core count in CI (2): the default would not give it.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, if cores == 3 { 4 } else { 3 }] {
        assert_eq!(executor_threads(), 0, "no runtime is alive before the run");
        let running = spec
            .build(&registry)
            .expect("builds")
            .with_threads(threads)
            .start()
            .expect("starts");
        // A thread starts with the name of the thread that spawned it and renames itself a
        // moment later, so a thread spawned from an executor (the simulator's, when the source
        // starts) counts as one for an instant: count once the flowgraph is running, until the
        // count is right or the deadline says it never will be.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while running
            .stats()
            .block("sink")
            .is_none_or(|sink| sink.items_in == 0)
            || executor_threads() != threads
        {
            assert!(
                std::time::Instant::now() < deadline,
                "executor threads while running: {} instead of {threads}",
                executor_threads()
            );
            std::thread::yield_now();
        }
        running.stop().expect("stop");
        let report = running.wait().expect("stops cleanly");
        assert!(report.block("sink").is_some());
        // The runtime (and its threads) went with the RunningFlowgraph; wait for the threads
        // to be gone before the next round counts again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while executor_threads() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "executor threads outlived their runtime"
            );
            std::thread::yield_now();
        }
    }
}

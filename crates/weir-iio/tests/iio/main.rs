//! weir-iio's integration tests, one binary: the simulated ADC and DAC, and the kernel-facing
//! paths (buffer opening, scan layouts, the seed's ioctls) on fake sysfs trees
//! (`weir_iio::testing`). The leak checks, which need a process of their own, are in
//! `tests/fd_leak/`.

mod iio_open_fifo;
mod iio_scan_layout;
mod iio_seed_fd;
mod iio_sim;
mod iio_sim_tx;

/// Runs `f` on a thread of its own and returns what it returned, or panics naming `what` when
/// it has not returned within `limit`: for a call that hangs when it is wrong (a device thread
/// that is never told to stop), so the test fails instead of hanging.
fn returns_within<T: Send + 'static>(
    limit: std::time::Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, returned) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(f()));
    returned
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} took over {limit:?}"))
}

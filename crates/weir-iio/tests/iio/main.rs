//! weir-iio's integration tests, one binary: the simulated ADC and DAC, and the kernel-facing
//! paths (buffer opening, scan layouts, the seed's ioctls) on fake sysfs trees
//! (`weir_iio::testing`). The leak checks, which need a process of their own, are in
//! `tests/fd_leak/`.

mod iio_open_fifo;
mod iio_scan_layout;
mod iio_seed_fd;
mod iio_sim;
mod iio_sim_tx;

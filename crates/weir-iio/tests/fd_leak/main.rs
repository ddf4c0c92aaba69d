//! Descriptor and mapping leak checks: a binary of their own, as they count this process's
//! open descriptors (/proc/self/fd) and memfd mappings (/proc/self/maps) before and after, and
//! any other test of the same process opening or closing one in between would change the
//! count. The two tests here take [`alone`] so that they do not run at the same time either.

use std::sync::{Mutex, MutexGuard, PoisonError};

mod iio_fd_leak_kernel;
mod iio_fd_leak_sim;

/// Held by each test for its whole run: the other test must not open descriptors meanwhile.
fn alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    // A test that failed while holding it poisons it; the other test can still run alone.
    ALONE.lock().unwrap_or_else(PoisonError::into_inner)
}

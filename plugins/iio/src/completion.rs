//! Waiting for DMA block completions without blocking the runtime, with a stall timeout.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futuresdr::futures::future::select;
use futuresdr::runtime::dev::WorkIo;
use weir_iio::transport::{Interest, Transport};

/// How long without a completion before each wait first asks whether the device is still
/// there ([`Transport::check_present`]), and how often it asks again while nothing completes.
/// A block queued after the device went away never completes and fails nothing (see
/// `weir_iio::presence`): without this a source or sink would wait for it forever (or until
/// its `timeout`). A device that completes blocks faster than this is never asked.
const PRESENCE_INTERVAL: Duration = Duration::from_millis(500);

/// The completion fds of a transport's blocks, registered with the async reactor, and the
/// time of the last completion, so a device that stops completing blocks is reported instead
/// of waited on forever, and one that went away is found out.
pub struct Completions {
    ready: Vec<Arc<Async<OwnedFd>>>,
    timeout: Option<Duration>,
    last_progress: Instant,
}

impl Completions {
    /// Register every block of `transport`; `timeout` of zero waits forever.
    pub fn register(transport: &dyn Transport, timeout: Duration) -> anyhow::Result<Self> {
        let mut ready = Vec::new();
        for block in 0..transport.block_count() {
            let (fd, _) = transport.completion_fd(block);
            // The reactor needs an fd it owns; a duplicate shares the completion state.
            ready.push(Arc::new(Async::new(fd.try_clone_to_owned()?)?));
        }
        Ok(Self {
            ready,
            timeout: (!timeout.is_zero()).then_some(timeout),
            last_progress: Instant::now(),
        })
    }

    /// A block completed.
    pub fn progress(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Have the block woken when `block` completes (or when the timeout would expire, or
    /// when it is time to ask again whether the device is there). Fails when no block has
    /// completed for longer than the timeout, and when the device has gone away.
    pub fn wait(
        &self,
        io: &mut WorkIo,
        transport: &dyn Transport,
        block: usize,
    ) -> anyhow::Result<()> {
        if self.last_progress.elapsed() >= PRESENCE_INTERVAL {
            transport.check_present()?;
        }
        let remaining = match self.timeout {
            Some(t) => {
                let waited = self.last_progress.elapsed();
                if waited >= t {
                    anyhow::bail!(
                        "{}: no DMA block completed for {:.3} s (timeout {:.3} s): the device stalled",
                        transport.device(),
                        waited.as_secs_f64(),
                        t.as_secs_f64()
                    );
                }
                Some(t - waited)
            }
            None => None,
        };
        let fd = self.ready[block].clone();
        let (_, interest) = transport.completion_fd(block);
        io.block_on(async move {
            let ready = Box::pin(async move {
                let _ = match interest {
                    Interest::Readable => fd.readable().await,
                    Interest::Writable => fd.writable().await,
                };
            });
            let wake = remaining.map_or(PRESENCE_INTERVAL, |r| r.min(PRESENCE_INTERVAL));
            let _ = select(ready, Box::pin(Timer::after(wake))).await;
        });
        Ok(())
    }
}

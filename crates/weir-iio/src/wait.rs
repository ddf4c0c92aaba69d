//! Waiting for a file descriptor until a deadline: the one poll loop of every transport.
//!
//! A transport's `wait_complete(block, timeout)` checks the block, waits for its completion
//! fd, and checks again, until the block completes or the time is up. The deadline is
//! computed once, and [`Deadline`] cannot overflow: `Instant::now() + Duration::MAX` panics,
//! and `Duration::MAX` is how callers say "wait forever" (the simulator's `read` does).

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;

use crate::vocabulary::Interest;

/// A point in time to wait until, or none (wait without a limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now; no limit when that is beyond what [`Instant`] can represent
    /// (`Duration::MAX`, say).
    pub(crate) fn after(timeout: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(timeout))
    }

    /// The time left: `None` without a limit, zero once the deadline has passed.
    pub(crate) fn remaining(self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed (never, without a limit).
    pub(crate) fn passed(self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }
}

/// Polls `fd` for `interest` until it is ready or `deadline` passes (a deadline that has
/// passed polls once without waiting). `Ok(true)` when the fd reported the event or an error
/// condition (`POLLERR`: the caller's next operation on it tells which); `Ok(false)` on
/// timeout. Interrupted polls (`EINTR`) are resumed; a closed fd is `EBADF`.
pub(crate) fn wait_fd(
    fd: BorrowedFd<'_>,
    interest: Interest,
    deadline: Deadline,
) -> rustix::io::Result<bool> {
    let event = match interest {
        Interest::Readable => PollFlags::IN,
        Interest::Writable => PollFlags::OUT,
    };
    loop {
        // A remaining time beyond what a timespec holds waits without a timeout.
        let timeout = deadline
            .remaining()
            .and_then(|left| Timespec::try_from(left).ok());
        let mut fds = [PollFd::new(&fd, event)];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => return Ok(false),
            Ok(_) => {
                let revents = fds[0].revents();
                if revents.contains(PollFlags::NVAL) {
                    return Err(Errno::BADF);
                }
                return Ok(revents.intersects(event | PollFlags::ERR));
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use rustix::event::{EventfdFlags, eventfd};

    use super::*;

    #[test]
    fn deadline_beyond_instant_is_no_limit() {
        let forever = Deadline::after(Duration::MAX);
        assert_eq!(forever.remaining(), None);
        assert!(!forever.passed());
        assert!(Deadline::after(Duration::ZERO).passed());
    }

    #[test]
    fn waits_for_readiness_or_the_deadline() {
        let fd = eventfd(0, EventfdFlags::CLOEXEC).expect("eventfd");
        // Not readable: times out at once when the deadline has passed.
        let passed = Deadline::after(Duration::ZERO);
        assert!(!wait_fd(fd.as_fd(), Interest::Readable, passed).expect("poll"));
        // An eventfd is always writable; and readable once signalled, even without a limit.
        assert!(wait_fd(fd.as_fd(), Interest::Writable, passed).expect("poll"));
        rustix::io::write(&fd, &1u64.to_ne_bytes()).expect("signal");
        let forever = Deadline::after(Duration::MAX);
        assert!(wait_fd(fd.as_fd(), Interest::Readable, forever).expect("poll"));
    }
}

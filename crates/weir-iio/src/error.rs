//! The error type of the crate.
//!
//! Every error names the device it happened on, because an application usually streams from
//! several buffers at once and "EBUSY" alone does not say which one refused.

use std::path::PathBuf;
use std::time::Duration;

use rustix::io::Errno;

use crate::format::FormatError;
use crate::vocabulary::TransportKind;

/// Everything that can go wrong while configuring or streaming an IIO buffer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call or kernel-rule refusal: names the operation, the device, and the errno.
    #[error("{op} on {device}: {errno}{}", detail_suffix(detail))]
    Os {
        /// The operation that failed, e.g. `"enqueue"` or `"mmap"`.
        op: &'static str,
        /// The device (or file descriptor) it was applied to.
        device: String,
        /// The errno the kernel (or the simulator, following the kernel) returned.
        errno: Errno,
        /// Optional explanation of which rule was broken; empty when the errno says it all.
        detail: String,
    },
    /// Bad configuration (zero block size, etc.).
    #[error("{device}: {message}")]
    Config {
        /// The device being configured.
        device: String,
        /// What is wrong with the configuration.
        message: String,
    },
    /// A transfer completed with an error status (the kernel's fence error); the block's data
    /// must not be used.
    #[error("{device}: transfer of block {block} failed: {errno}")]
    TransferFailed {
        /// The device whose transfer failed.
        device: String,
        /// Index of the failed block; it now belongs to the CPU again and may be requeued.
        block: usize,
        /// The error status of the transfer.
        errno: Errno,
    },
    /// A transfer finished but whether it succeeded cannot be known, so its data must not be
    /// used: a failed transfer would read exactly like this one. See [`UnknownStatus`] for
    /// the ways this happens; the transports that report it count it
    /// ([`crate::TransportCounters::status_unknown`]).
    #[error(
        "{device}: the status of the transfer of block {block} is unknown: {reason}; its data \
         was not used"
    )]
    TransferStatusUnknown {
        /// The device whose transfer it was.
        device: String,
        /// Index of the block (its ring slot); it now belongs to the CPU again and may be
        /// requeued.
        block: usize,
        /// Why its status is unknown.
        reason: UnknownStatus,
    },
    /// The device went away while it was in use: its driver was unbound or the hardware
    /// removed (see [`crate::presence`] for what the kernel does then, and how this is told
    /// from a failed transfer). Nothing more will come from it; its errno is `ENODEV`.
    #[error("{device}: the device went away ({evidence}){}", cause_suffix(cause))]
    DeviceGone {
        /// The device (and buffer).
        device: String,
        /// How its absence was found, e.g. "its sysfs attributes answer ENODEV …".
        evidence: String,
        /// The error that revealed it (an aborted transfer, a refused call), if any.
        cause: Option<Box<Error>>,
    },
    /// A file (sysfs attribute, device node) could not be opened, read or written.
    #[error("{op} {}: {errno}{}", path.display(), detail_suffix(detail))]
    File {
        /// What was being done, e.g. `"read"` or `"open"`.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The errno.
        errno: Errno,
        /// Optional explanation; empty when the errno says it all.
        detail: String,
    },
    /// Writing a device or buffer attribute failed (the kernel refused the value, or the
    /// attribute does not exist).
    #[error("cannot set attribute {attr} to {value:?} ({}): {errno}", path.display())]
    Attribute {
        /// The attribute name, e.g. `in_voltage_sampling_frequency`.
        attr: String,
        /// Its file.
        path: PathBuf,
        /// The value that was written.
        value: String,
        /// The errno the write failed with.
        errno: Errno,
    },
    /// A channel type file holds a string that is not a valid scan format.
    #[error("{}: {source}", path.display())]
    Format {
        /// The `…_type` file.
        path: PathBuf,
        /// The parse error, which names the string.
        source: FormatError,
    },
    /// A sysfs file holds something other than what it should (a number, a 0/1 flag …).
    #[error("{}: expected {expected}, found {text:?}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Its content.
        text: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A parameter string is not of the form `attr=value`.
    #[error("bad parameter {param:?}: {reason}")]
    Param {
        /// The parameter as given.
        param: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No transport could be opened; each was tried and refused for the reason given.
    #[error("{device}: no transport could be opened ({})", rejections(rejected))]
    NoTransport {
        /// The device (and buffer).
        device: String,
        /// Each transport tried, with the reason it was refused.
        rejected: Vec<(TransportKind, String)>,
    },
}

/// Why the status of a finished transfer is unknown ([`Error::TransferStatusUnknown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownStatus {
    /// The fence exported right after `ENQUEUE` was the kernel's always-successful stub: every
    /// fence on the DMABUF, the transfer's included, had already signalled, and
    /// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` no longer exports a signalled fence
    /// (`drivers/dma-buf/dma-buf.c`, `dma_buf_export_sync_file`). A transfer that fails at
    /// submit (the DMA buffer layer signals its fence with the error inside `ENQUEUE`, which
    /// still returns 0) always ends here; so does one that the device finished before user
    /// space could export its fence.
    ///
    /// The two durations bound the window in which the fence signalled (from inside `ENQUEUE`
    /// to the export). A window shorter than the device needs for the block rules out a
    /// successful transfer (it ended inside `ENQUEUE`: failed at submit, or aborted); a longer
    /// one — the thread was preempted on its way out of `ENQUEUE` or before the export —
    /// tells nothing either way. On the kernel bench (QEMU, 2 vCPUs) both a failed submit and
    /// healthy 100 µs blocks showed windows of about 0.7–2.5 ms.
    FenceSignalledBeforeExport {
        /// How long the `ENQUEUE` ioctl took.
        enqueue_took: Duration,
        /// How long after `ENQUEUE` returned the export returned.
        export_delay: Duration,
    },
    /// Exporting the fence failed with this errno although the kernel exports fences.
    ExportFailed(Errno),
}

impl std::fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownStatus::FenceSignalledBeforeExport {
                enqueue_took,
                export_delay,
            } => write!(
                f,
                "its fence had signalled before it could be exported (the kernel handed out its \
                 stub fence; ENQUEUE took {}, the export returned {} later), so a failed \
                 transfer cannot be told from a good one",
                short_duration(*enqueue_took),
                short_duration(*export_delay)
            ),
            UnknownStatus::ExportFailed(errno) => write!(
                f,
                "its fence could not be exported (DMA_BUF_IOCTL_EXPORT_SYNC_FILE: {}), so a \
                 failed transfer cannot be told from a good one",
                errno_name(*errno)
            ),
        }
    }
}

/// `17 µs`, `43.2 ms`: a delay as a reader compares it with a block's duration.
fn short_duration(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

fn rejections(rejected: &[(TransportKind, String)]) -> String {
    rejected
        .iter()
        .map(|(kind, reason)| format!("{kind}: {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn cause_suffix(cause: &Option<Box<Error>>) -> String {
    match cause {
        Some(cause) => format!("; what failed: {cause}"),
        None => String::new(),
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl Error {
    /// The errno behind this error, if there is one (`None` for configuration errors).
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. }
            | Error::TransferFailed { errno, .. }
            | Error::File { errno, .. }
            | Error::Attribute { errno, .. }
            | Error::TransferStatusUnknown {
                reason: UnknownStatus::ExportFailed(errno),
                ..
            } => Some(*errno),
            Error::DeviceGone { .. } => Some(Errno::NODEV),
            Error::TransferStatusUnknown {
                reason: UnknownStatus::FenceSignalledBeforeExport { .. },
                ..
            } => None,
            Error::Config { .. }
            | Error::Format { .. }
            | Error::Parse { .. }
            | Error::Param { .. }
            | Error::NoTransport { .. } => None,
        }
    }

    /// The same error, said of `device`: `sys` names what it was handed ("fd 7", a memfd),
    /// and the transport that called it knows which device that was. Other errors already
    /// name their file or device and are returned as they are.
    pub(crate) fn on_device(self, device: &str) -> Error {
        match self {
            Error::Os {
                op, errno, detail, ..
            } => Error::Os {
                op,
                device: device.to_string(),
                errno,
                detail,
            },
            other => other,
        }
    }

    /// Shorthand for an [`Error::Os`] without detail.
    pub fn os(op: &'static str, device: impl Into<String>, errno: Errno) -> Self {
        Error::Os {
            op,
            device: device.into(),
            errno,
            detail: String::new(),
        }
    }

    /// Shorthand for an [`Error::Os`] that explains which rule was broken.
    pub fn os_detail(
        op: &'static str,
        device: impl Into<String>,
        errno: Errno,
        detail: impl Into<String>,
    ) -> Self {
        Error::Os {
            op,
            device: device.into(),
            errno,
            detail: detail.into(),
        }
    }
}

/// The errno of a `std::io::Error` (`EIO` when it carries none, e.g. invalid UTF-8).
pub(crate) fn errno_of(e: &std::io::Error) -> Errno {
    if e.kind() == std::io::ErrorKind::InvalidData {
        return Errno::ILSEQ;
    }
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

/// The symbolic name of the errnos the ioctl paths meet (`ENOTTY`, `EINVAL` …), for reasons a
/// user reads side by side ("device node …: ENODEV; buffer fd: ENOTTY"); any other errno in
/// its usual words.
pub(crate) fn errno_name(errno: Errno) -> String {
    let name = match errno {
        Errno::NOTTY => "ENOTTY",
        Errno::INVAL => "EINVAL",
        Errno::NODEV => "ENODEV",
        Errno::PERM => "EPERM",
        Errno::ACCESS => "EACCES",
        Errno::BUSY => "EBUSY",
        Errno::NOMEM => "ENOMEM",
        Errno::NOENT => "ENOENT",
        Errno::NOSYS => "ENOSYS",
        Errno::OPNOTSUPP => "EOPNOTSUPP",
        Errno::FAULT => "EFAULT",
        Errno::MFILE => "EMFILE",
        Errno::BADF => "EBADF",
        Errno::IO => "EIO",
        other => return other.to_string(),
    };
    name.to_string()
}

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_device_and_errno() {
        let e = Error::os_detail("enqueue", "sim-adc", Errno::PERM, "block 3 is not attached");
        let s = e.to_string();
        assert!(s.starts_with("enqueue on sim-adc: "), "{s}");
        assert!(s.ends_with(" (block 3 is not attached)"), "{s}");
        assert_eq!(e.errno(), Some(Errno::PERM));
        let plain = Error::os("mmap", "fd 7", Errno::NODEV).to_string();
        assert_eq!(plain, format!("mmap on fd 7: {}", Errno::NODEV));
        let unknown = Error::TransferStatusUnknown {
            device: "iio:device3".into(),
            block: 2,
            reason: UnknownStatus::FenceSignalledBeforeExport {
                enqueue_took: Duration::from_micros(40),
                export_delay: Duration::from_micros(17),
            },
        };
        let s = unknown.to_string();
        assert!(
            s.contains("ENQUEUE took 40 µs, the export returned 17 µs later"),
            "{s}"
        );
        let slow = UnknownStatus::FenceSignalledBeforeExport {
            enqueue_took: Duration::from_millis(2),
            export_delay: Duration::from_micros(43_250),
        };
        assert!(
            slow.to_string()
                .contains("took 2.0 ms, the export returned 43.2 ms later"),
            "{slow}"
        );
        assert!(s.starts_with("iio:device3: the status of the transfer of block 2 is unknown: "));
        assert!(
            s.contains("its fence had signalled before it could be exported"),
            "{s}"
        );
        assert!(
            s.contains("a failed transfer cannot be told from a good one"),
            "{s}"
        );
        assert_eq!(unknown.errno(), None);
        let export = Error::TransferStatusUnknown {
            device: "d".into(),
            block: 0,
            reason: UnknownStatus::ExportFailed(Errno::NOMEM),
        };
        assert!(
            export.to_string().contains("EXPORT_SYNC_FILE: ENOMEM"),
            "{export}"
        );
        assert_eq!(export.errno(), Some(Errno::NOMEM));
        let config = Error::Config {
            device: "d".into(),
            message: "m".into(),
        };
        assert_eq!(config.errno(), None);
    }
}

//! weir owns FutureSDR's runtime configuration.
//!
//! FutureSDR 0.0.40 builds its configuration (`futuresdr::runtime::config`) the first time
//! anything asks for it, from `~/.config/futuresdr/config.toml`, from `config.toml` in the
//! *current directory* and from every `FUTURESDR_*` environment variable, and it panics on a
//! value it cannot parse (`config_parse`: `println!` then `panic!()`), which poisons the
//! configuration for the rest of the process. A value it can parse can still break weir: a
//! `queue_size` of 0 gives every block an inbox of no capacity and the flowgraph hangs, a
//! `buffer_size` of 0 changes every buffer weir sized at load time, `ctrlport_enable` starts a
//! web server on a fixed port.
//!
//! So weir takes the configuration over before any runtime is made ([`take_over`]): the
//! first access happens here, inside `catch_unwind`, so a value FutureSDR cannot parse becomes
//! a clear error naming the variables and files it may have come from; and then every value
//! FutureSDR's runtime reads is set to weir's ([`WEIR_VALUES`]), whatever the files and the
//! variables said, each variable that was set being named in a warning. The `weir` binary also
//! hides the current directory from that first read ([`take_over_hiding_cwd`]): a `config.toml`
//! there is usually someone else's (a project's, a static site's), not FutureSDR's.
//!
//! What FutureSDR cannot be kept from doing: reading the files and the variables at all (its
//! configuration is a private `Lazy` with no other constructor); a panic while doing so is
//! therefore refused (the process cannot build a runtime any more), not repaired.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The default size in bytes of the circular buffer between two blocks (FutureSDR's
/// `buffer_size`; a connection's `buffer = N` sets its own): 64 KiB, GNU Radio 3.10's default
/// (twice its 32 KiB `GR_FIXED_BUFFER_SIZE`, for double buffering), not FutureSDR's 32 KiB.
/// Fewer, larger work calls per block: on the GNU Radio comparison's chains (`weir run`, DMA
/// blocks of 16384 samples, 200 M samples) 5-12 % faster than 32 KiB, 128 KiB 10-20 %
/// (BENCHMARKS.md, "Thirteenth session"); 64 KiB keeps a long chain's buffers within the L2 of
/// the boards weir runs on and compares like for like with GNU Radio.
pub const BUFFER_BYTES: usize = 65536;

/// The values weir runs FutureSDR with, set after FutureSDR has read its sources: FutureSDR's
/// own default queue size, [`BUFFER_BYTES`] as the buffer size, no control-port web server (it
/// would bind a fixed TCP port, so two flowgraphs could not run side by side) and quiet runtime
/// logging.
pub const WEIR_VALUES: [(&str, &str); 6] = [
    ("queue_size", "8192"),
    ("buffer_size", "65536"),
    ("stack_size", "16777216"),
    ("slab_reserved", "0"),
    ("ctrlport_enable", "false"),
    ("log_level", "warn"),
];

/// `FUTURESDR_LOG` is FutureSDR's log filter (read by its logger, not a setting weir owns).
const LOG_VARIABLE: &str = "FUTURESDR_LOG";

static TAKEN_OVER: OnceLock<Result<Vec<String>, String>> = OnceLock::new();

/// Takes FutureSDR's configuration over (see the [module documentation](self)); only the first
/// call does anything. Returns the warnings to show (each `FUTURESDR_*` variable and user
/// configuration file that was overridden), or why FutureSDR could not read its configuration.
pub fn take_over() -> Result<&'static [String], String> {
    taken_over(false)
}

/// [`take_over`], with FutureSDR's first read made from a directory that holds no
/// `config.toml` (`/proc`, where no one can create one) and the working directory restored
/// through a descriptor of it afterwards. The working directory is the process's: call this
/// before any other thread could resolve a relative path (the `weir` binary does it first
/// thing in `main`).
pub fn take_over_hiding_cwd() -> Result<&'static [String], String> {
    taken_over(true)
}

/// The outcome of the first take-over, made now (`hide_cwd` as that call asks) if none was.
fn taken_over(hide_cwd: bool) -> Result<&'static [String], String> {
    TAKEN_OVER
        .get_or_init(|| take_over_now(hide_cwd))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// The `FUTURESDR_*` variables set in the environment, as `NAME=VALUE`.
fn futuresdr_variables() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_string_lossy().into_owned();
            k.to_ascii_uppercase()
                .starts_with("FUTURESDR_")
                .then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect()
}

/// FutureSDR's user configuration file (its `dirs::config_dir()`), if there is one.
fn user_config_file() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let file = dir.join("futuresdr").join("config.toml");
    file.exists().then_some(file)
}

fn take_over_now(hide_cwd: bool) -> Result<Vec<String>, String> {
    let variables = futuresdr_variables();
    let user_file = user_config_file();
    // The working directory, kept open so that it is found again even if it was renamed.
    let cwd = if hide_cwd {
        rustix::fs::open(
            ".",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()
        .filter(|_| std::env::set_current_dir("/proc").is_ok())
    } else {
        None
    };
    // FutureSDR's panic message would be printed as weir's; the error below says it better.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let read = std::panic::catch_unwind(futuresdr::runtime::config::config);
    std::panic::set_hook(hook);
    if let Some(cwd) = cwd {
        rustix::process::fchdir(&cwd)
            .map_err(|e| format!("cannot return to the working directory: {e}"))?;
    }
    if read.is_err() {
        let mut sources: Vec<String> = variables.iter().map(|(k, v)| format!("{k}={v}")).collect();
        sources.extend(user_file.iter().map(|f| f.display().to_string()));
        if !hide_cwd {
            sources.push("config.toml in the working directory".into());
        }
        let sources = if sources.is_empty() {
            "none found".to_string()
        } else {
            sources.join(", ")
        };
        return Err(format!(
            "FutureSDR cannot read its configuration: a value there does not parse (its \
             sources: {sources}). weir sets the runtime configuration itself: unset the \
             FUTURESDR_* variables and move the file away"
        ));
    }
    for (name, value) in WEIR_VALUES {
        futuresdr::runtime::config::set(name, value);
    }
    let mut warnings: Vec<String> = variables
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(LOG_VARIABLE))
        .map(|(k, v)| {
            format!("{k}={v} is ignored: weir sets FutureSDR's runtime configuration itself")
        })
        .collect();
    warnings.extend(user_file.iter().map(|f| {
        format!(
            "{} is ignored: weir sets FutureSDR's runtime configuration itself",
            f.display()
        )
    }));
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weir_values_are_in_force_after_the_take_over() {
        take_over().expect("no hostile configuration in the unit tests' environment");
        let c = futuresdr::runtime::config::config();
        assert_eq!(c.queue_size, 8192);
        assert_eq!(c.buffer_size, BUFFER_BYTES);
        let (_, written) = WEIR_VALUES
            .iter()
            .find(|(k, _)| *k == "buffer_size")
            .unwrap();
        assert_eq!(written.parse::<usize>(), Ok(BUFFER_BYTES));
        assert!(!c.ctrlport_enable);
    }
}

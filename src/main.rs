//! The `weir` command-line tool.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use weir_core::{FlowgraphSpec, LoadError, RunReport};

mod output;
mod record;
use output::{out, outln};

/// Run and inspect weir flowgraphs.
#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about,
    after_help = "Exit status: 0 success (also when `run` is stopped by --duration or Ctrl-C); \
                  1 the flowgraph could not be built or failed while running (a device, file or \
                  socket that cannot be opened, a block error), or Graphviz failed; 2 bad input \
                  (command line, flowgraph file, parameters: what `weir check` rejects). `run` \
                  stops the flowgraph on SIGINT (Ctrl-C), SIGTERM or SIGHUP and prints the final \
                  report (exit 0 when it stopped cleanly); a second signal quits at once with \
                  128 + its number (130 for Ctrl-C, 143 SIGTERM, 129 SIGHUP); a flowgraph that \
                  has not stopped 10 s after a stop request (a signal or --duration) is left \
                  behind: the statistics so far are printed with the blocks that did not \
                  finish, and `run` exits 1."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, check and run a TOML flowgraph, then print per-block statistics.
    Run {
        /// Flowgraph file.
        file: PathBuf,
        /// Override a variable of the file's [vars] table (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
        set: Vec<(String, String)>,
        /// Stop after this many seconds, at most a year (the flowgraph otherwise runs until its
        /// stream ends).
        #[arg(long, value_name = "SECONDS", value_parser = parse_duration, allow_negative_numbers = true)]
        duration: Option<f64>,
        /// Print live statistics every this many seconds (0 = only at the end), at most a day.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_stats_interval, allow_negative_numbers = true)]
        stats_interval: f64,
        /// Live statistics redrawn in place (`always`), as plain lines (`never`), or redrawn
        /// only when stderr is a terminal (`auto`).
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
        /// Executor threads the blocks run on (0 = one per core), at most 1024. Fewer than
        /// cores can be faster when a device thread needs a core (see BENCHMARKS.md).
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads, allow_negative_numbers = true)]
        threads: usize,
    },
    /// Record from an IIO device (or the simulator) into a SigMF recording: OUT.sigmf-data
    /// and OUT.sigmf-meta (the device's rate, channel formats and every loss).
    Record {
        #[command(flatten)]
        args: record::RecordArgs,
        /// Print live statistics every this many seconds (0 = only at the end), at most a day.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_stats_interval, allow_negative_numbers = true)]
        stats_interval: f64,
        /// Live statistics redrawn in place (`always`), as plain lines (`never`), or redrawn
        /// only when stderr is a terminal (`auto`).
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
    },
    /// Load and check a flowgraph without running it.
    Check {
        /// Flowgraph file.
        file: PathBuf,
        /// Override a variable of the file's [vars] table (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
        set: Vec<(String, String)>,
    },
    /// List the block types this build can create, or describe one.
    Blocks {
        /// Only this block type.
        name: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also load the plugin libraries of WEIR_PLUGIN_PATH and list their blocks (loaded
        /// anyway when NAME is not a built-in block type).
        #[arg(long)]
        plugins: bool,
    },
    /// List the plugin libraries loaded from WEIR_PLUGIN_PATH, and those refused with why.
    Plugins,
    /// Inspect IIO devices.
    Iio {
        #[command(subcommand)]
        command: IioCommand,
    },
    /// Print a flowgraph as a Graphviz digraph.
    Graph {
        /// Flowgraph file.
        file: PathBuf,
        /// Override a variable of the file's [vars] table (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
        set: Vec<(String, String)>,
        /// Also render it to this SVG file with Graphviz's `dot`.
        #[arg(long, value_name = "PATH")]
        svg: Option<PathBuf>,
    },
}

/// How `run` shows live statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Progress {
    /// Redraw in place when stderr is a terminal, plain lines otherwise.
    Auto,
    /// Always redraw in place (ANSI cursor movement).
    Always,
    /// Always plain lines.
    Never,
}

impl Progress {
    /// Whether the live statistics are redrawn in place.
    fn redraws(self) -> bool {
        match self {
            Progress::Auto => std::io::stderr().is_terminal(),
            Progress::Always => true,
            Progress::Never => false,
        }
    }
}

#[derive(Subcommand)]
enum IioCommand {
    /// List devices, channels with scan formats, buffers and the transports each supports.
    List {
        /// Sysfs devices directory to read (a fake tree for tests).
        #[arg(long, value_name = "DIR", default_value = "/sys/bus/iio/devices")]
        sysfs_root: PathBuf,
        /// Try the DMABUF interfaces on accessible device nodes (nothing is enabled).
        #[arg(long)]
        probe: bool,
    },
}

/// The longest `--duration`: a year. A run meant to go on longer has no `--duration`; the
/// bound keeps the deadline (`Instant + Duration`) far from overflowing.
const MAX_DURATION_S: f64 = 365.0 * 86_400.0;
/// The longest `--stats-interval`: a day.
const MAX_STATS_INTERVAL_S: f64 = 86_400.0;
/// The most `--threads`: beyond any machine weir runs on; each is an OS thread with a stack.
const MAX_THREADS: usize = 1024;

/// Seconds from the command line: a finite number within `0 ..= max`.
fn parse_seconds(s: &str, max: f64) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=max).contains(&v) {
        return Err(format!(
            "must be a number of seconds within 0 ..= {max}, found {v}"
        ));
    }
    Ok(v)
}

/// `--duration` (also `weir record`'s).
pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    parse_seconds(s, MAX_DURATION_S)
}

/// `--stats-interval`.
fn parse_stats_interval(s: &str) -> Result<f64, String> {
    parse_seconds(s, MAX_STATS_INTERVAL_S)
}

/// `--threads`: 0 ..= [`MAX_THREADS`].
fn parse_threads(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_THREADS)
        .ok_or_else(|| format!("must be a whole number within 0 ..= {MAX_THREADS}, found `{s}`"))
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// Exit status for input that could not be loaded (bad file, bad flowgraph, bad arguments).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status for a flowgraph that could not be built (a device, file or socket a block needs
/// cannot be opened) or failed while running: the input was fine, the world was not.
const EXIT_RUN_FAILED: u8 = 1;
/// How long `run` waits for the flowgraph to stop once asked to (by a signal or `--duration`)
/// before it quits without it (exit 1). Longer than the blocks' own bounded waits on the way
/// out (a DMABUF transport waits up to 5 s for the transfers still in flight after disabling
/// the buffer), so that a stop that is merely slow still ends with the final report; short
/// enough that a block stuck in a device call cannot keep a service manager waiting forever.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// The signals that stop `run`: Ctrl-C, `kill`'s default, and the terminal going away.
const STOP_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// How a stop signal is named to the user (Ctrl-C keeps the words of the first versions).
fn signal_name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGINT => "Ctrl-C",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The stop signals received by `run`: the first asks the flowgraph to stop, a second one
/// quits at once.
struct StopSignals {
    /// The first signal received (0: none yet).
    first: Arc<AtomicI32>,
    handle: Option<signal_hook::iterator::Handle>,
}

impl StopSignals {
    /// Installs the handlers. The signals are handled on signal-hook's own thread, not in
    /// signal context, so printing and exiting there is fine.
    fn install() -> StopSignals {
        let first = Arc::new(AtomicI32::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let mut signals = match signal_hook::iterator::Signals::new(STOP_SIGNALS) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("warning: signals will not stop the flowgraph cleanly: {e}");
                return StopSignals {
                    first,
                    handle: None,
                };
            }
        };
        let handle = signals.handle();
        let seen = first.clone();
        std::thread::spawn(move || {
            for signal in signals.forever() {
                // A second signal is for a flowgraph that does not stop (a block stuck in a
                // device call): quit at once, as a shell reports a process killed by it.
                if received.fetch_add(1, Ordering::SeqCst) >= 1 {
                    eprintln!(
                        "second signal ({}): quitting without waiting for the flowgraph to stop",
                        signal_name(signal)
                    );
                    std::process::exit(128 + signal);
                }
                seen.store(signal, Ordering::SeqCst);
            }
        });
        StopSignals {
            first,
            handle: Some(handle),
        }
    }

    /// The first stop signal received, if any.
    fn received(&self) -> Option<i32> {
        match self.first.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.close();
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Before anything reads FutureSDR's configuration and before any other thread exists (the
    // working directory is changed for an instant): weir's values, not those of `FUTURESDR_*`
    // variables or of a `config.toml` that happens to be in the current directory.
    match weir_core::runtime_config::take_over_hiding_cwd() {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let cli = Cli::parse();
    // Loading a plugin library runs its initialisers: only when the command needs plugins (a
    // file naming a block type that is not built in, `blocks` naming one or asked with
    // `--plugins`, `plugins` itself).
    let mut registry = weir::registry();
    let wants_plugins = match &cli.command {
        Command::Plugins => true,
        Command::Blocks { name, plugins, .. } => {
            *plugins || name.as_deref().is_some_and(|n| registry.get(n).is_none())
        }
        Command::Run { file, .. } | Command::Check { file, .. } | Command::Graph { file, .. } => {
            weir::file_needs_plugins(file, &registry)
        }
        Command::Record { .. } | Command::Iio { .. } => false,
    };
    let plugins = if wants_plugins {
        weir::load_plugin_path(&mut registry)
    } else {
        weir_core::dynamic::PluginLoad::default()
    };
    if !matches!(cli.command, Command::Plugins) {
        // A refused plugin does not stop weir (its blocks are just missing), but it is never
        // skipped silently.
        for failed in &plugins.failed {
            eprintln!("warning: plugin not loaded: {failed}");
        }
    }
    match cli.command {
        Command::Plugins => list_plugins(&plugins),
        Command::Blocks { name, json, .. } => blocks(&registry, name.as_deref(), json),
        Command::Check { file, set } => match FlowgraphSpec::load_with(&file, &registry, &set) {
            Ok(spec) => {
                outln!(
                    "{}: ok ({} blocks, {} connections)",
                    file.display(),
                    spec.blocks.len(),
                    spec.connections.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => report_load_error(e),
        },
        Command::Iio {
            command: IioCommand::List { sysfs_root, probe },
        } => {
            let sysfs = weir_iio::sysfs::Sysfs::new(&sysfs_root);
            let options = weir_iio::InventoryOptions {
                probe,
                ..Default::default()
            };
            match weir::iio_list::list_report_with(&sysfs, &options) {
                Ok(text) => {
                    out!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Graph { file, set, svg } => match FlowgraphSpec::load_with(&file, &registry, &set)
        {
            Ok(spec) => graph(&spec, svg),
            Err(e) => report_load_error(e),
        },
        Command::Record {
            args,
            stats_interval,
            progress,
        } => {
            let spec = match record::flowgraph(&args, &registry) {
                Ok(s) => s,
                Err(e) => return report_load_error(e),
            };
            let built = match spec.build(&registry) {
                Ok(b) => b,
                Err(e) => {
                    output::error(&e);
                    return ExitCode::from(EXIT_RUN_FAILED);
                }
            };
            let terminal = progress.redraws();
            let status = run(built, args.duration, stats_interval, terminal);
            let (data, meta) = weir::sigmf::meta::paths(&args.out);
            if meta.exists() {
                outln!("recording: {} and {}", data.display(), meta.display());
            }
            status
        }
        Command::Run {
            file,
            set,
            duration,
            stats_interval,
            progress,
            threads,
        } => {
            let spec = match FlowgraphSpec::load_with(&file, &registry, &set) {
                Ok(s) => s,
                Err(e) => return report_load_error(e),
            };
            // The file is valid (`weir check` would accept it); what fails now is a block
            // creating what it needs (opening a device, a file, a socket): a run-time failure.
            let built = match spec.build(&registry) {
                Ok(b) => b.with_threads(threads),
                Err(e) => {
                    output::error(&e);
                    return ExitCode::from(EXIT_RUN_FAILED);
                }
            };
            let terminal = progress.redraws();
            run(built, duration, stats_interval, terminal)
        }
    }
}

fn run(
    built: weir_core::BuiltFlowgraph,
    duration: Option<f64>,
    stats_interval: f64,
    terminal: bool,
) -> ExitCode {
    let signals = StopSignals::install();
    let mut running = match built.start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    let start = Instant::now();
    let deadline = duration.map(|d| start + Duration::from_secs_f64(d.max(0.0)));
    let tick = Duration::from_millis(100);
    let interval = (stats_interval > 0.0).then(|| Duration::from_secs_f64(stats_interval));
    let mut live = LiveStats::new(terminal);
    let mut next_stats = interval.map(|i| start + i);
    // When the stop was asked for, and why (for the message if it does not come).
    let mut stopping: Option<(Instant, String)> = None;
    let report = loop {
        match running.wait_timeout(tick) {
            Ok(Some(report)) => break Ok(report),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        let now = Instant::now();
        if stopping.is_none() {
            let why = match signals.received() {
                Some(signal) => {
                    live.clear();
                    let name = signal_name(signal);
                    if signal == signal_hook::consts::SIGINT {
                        eprintln!("Ctrl-C: stopping the flowgraph (Ctrl-C again to quit at once)");
                    } else {
                        eprintln!("{name}: stopping the flowgraph (a second signal quits at once)");
                    }
                    Some(name.to_string())
                }
                None => deadline
                    .is_some_and(|d| now >= d)
                    .then(|| "--duration".to_string()),
            };
            if let Some(why) = why {
                stopping = Some((now, why));
                if let Err(e) = running.stop() {
                    break Err(e);
                }
            }
        }
        if let Some((asked, why)) = &stopping
            && now.duration_since(*asked) >= STOP_DEADLINE
        {
            // Some block did not finish (stuck in a device or socket call): report what is
            // known and leave without it. Returning would drop the runtime, which waits for
            // its threads, so exit here.
            live.clear();
            // The blocks whose run has not ended, named with their type (a block stuck in a
            // device or socket call; the others stopped).
            let stuck: Vec<String> = running
                .unfinished_blocks()
                .iter()
                .map(|b| format!("`{}` ({})", b.name, b.type_name))
                .collect();
            let stuck = match stuck.len() {
                0 => "no block is left running (the runtime itself did not end)".to_string(),
                1 => format!("block {} did not finish", stuck[0]),
                _ => format!("blocks {} did not finish", stuck.join(", ")),
            };
            out!("{}", running.stats());
            outln!(
                "not stopped: the flowgraph was still running {STOP_DEADLINE:?} after the stop ({why}): {stuck}"
            );
            eprintln!(
                "error: the flowgraph did not stop within {STOP_DEADLINE:?} of the stop request \
                 ({why}): {stuck}; quitting without waiting for it (the statistics above are \
                 from then)"
            );
            std::process::exit(i32::from(EXIT_RUN_FAILED));
        }
        if let (Some(at), Some(i)) = (next_stats, interval)
            && now >= at
        {
            live.show(&running.stats());
            next_stats = Some(at + i);
        }
    };
    live.clear();
    match report {
        Ok(report) => {
            out!("{report}");
            if let Some(signal) = signals.received() {
                outln!("stopped by {}", signal_name(signal));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// Live statistics on stderr: redrawn in place on a terminal, plain lines otherwise.
struct LiveStats {
    terminal: bool,
    lines_drawn: usize,
    last: Option<RunReport>,
}

impl LiveStats {
    fn new(terminal: bool) -> Self {
        Self {
            terminal,
            lines_drawn: 0,
            last: None,
        }
    }

    fn show(&mut self, now: &RunReport) {
        let mut out = std::io::stderr().lock();
        if self.terminal && self.lines_drawn > 0 {
            // Move up over the previous table and clear it.
            let _ = write!(out, "\x1b[{}A\x1b[J", self.lines_drawn);
        }
        let dt = self
            .last
            .as_ref()
            .map_or(now.elapsed, |l| now.elapsed.saturating_sub(l.elapsed))
            .as_secs_f64();
        let at = now.elapsed.as_secs_f64();
        let mut lines = 0;
        for b in &now.blocks {
            // Stock FutureSDR blocks do not count items: `-` rather than a rate of 0.
            let (items, rate) = if b.counts_items() {
                let before = self
                    .last
                    .as_ref()
                    .and_then(|l| l.block(&b.name))
                    .map_or(0, |l| l.items());
                let rate = if dt > 0.0 {
                    b.items().saturating_sub(before) as f64 / dt
                } else {
                    0.0
                };
                (b.items().to_string(), format!("{:.2} M/s", rate / 1e6))
            } else {
                ("-".to_string(), "- M/s".to_string())
            };
            let mut line = format!("[{at:7.1} s] {:<12} {items:>14} items {rate:>12}", b.name);
            // Every counter a block keeps (`overruns` of any block among them) is shown.
            for text in b.counter_texts() {
                line.push_str(&format!("  {text}"));
            }
            if let Some(latency) = &b.latency {
                line.push_str(&format!("  {latency}"));
            }
            let _ = writeln!(out, "{line}");
            lines += 1;
        }
        for c in &now.connections {
            let _ = writeln!(
                out,
                "[{at:7.1} s] buffer {} -> {}  fill {}",
                c.from,
                c.to,
                c.fill_text()
            );
            lines += 1;
        }
        self.lines_drawn = if self.terminal { lines } else { 0 };
        self.last = Some(now.clone());
    }

    fn clear(&mut self) {
        if self.terminal && self.lines_drawn > 0 {
            let _ = write!(std::io::stderr(), "\x1b[{}A\x1b[J", self.lines_drawn);
        }
        self.lines_drawn = 0;
    }
}

fn list_plugins(plugins: &weir_core::dynamic::PluginLoad) -> ExitCode {
    if plugins.loaded.is_empty() && plugins.failed.is_empty() {
        outln!(
            "no plugin libraries ({} is {})",
            weir::PLUGIN_PATH_VAR,
            std::env::var(weir::PLUGIN_PATH_VAR)
                .map(|v| format!("`{v}`"))
                .unwrap_or_else(|_| "not set".into())
        );
    }
    for p in &plugins.loaded {
        outln!(
            "loaded  {} ({}): {}",
            p.name,
            p.path.display(),
            p.blocks.join(", ")
        );
    }
    for f in &plugins.failed {
        outln!("FAILED  {f}");
    }
    // Listing is the command's job: refused plugins are reported, not a failure of `plugins`.
    ExitCode::SUCCESS
}

fn blocks(registry: &weir_core::Registry, name: Option<&str>, json: bool) -> ExitCode {
    let selected: Vec<_> = match name {
        Some(n) => match registry.get(n) {
            Some(d) => vec![d],
            None => {
                eprintln!(
                    "error: no block type `{n}`{}",
                    weir_core::suggest::did_you_mean(n, &registry.type_names())
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
        None => registry.iter().collect(),
    };
    let infos: Vec<_> = selected.iter().map(|d| d.info()).collect();
    if json {
        match serde_json::to_string_pretty(&infos) {
            Ok(s) => outln!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_RUN_FAILED);
            }
        }
        return ExitCode::SUCCESS;
    }
    for info in infos {
        outln!("{:<16} {}", info.type_name, info.doc);
        for p in &info.params {
            let default = p
                .default
                .as_ref()
                .map(|v| format!("= {v}"))
                .unwrap_or_else(|| "(required)".to_string());
            let range = p
                .range
                .as_ref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            outln!(
                "    {:<18} {:<10} {default:<14} {}{range}",
                p.name,
                p.ty,
                p.doc
            );
        }
        if let Some(ports) = &info.ports {
            for (n, t) in &ports.inputs {
                outln!("    in  {n} ({t})");
            }
            for (n, t) in &ports.outputs {
                outln!("    out {n} ({t})");
            }
            for n in &ports.message_inputs {
                outln!("    msg in  {n}");
            }
            for n in &ports.message_outputs {
                outln!("    msg out {n}");
            }
            if !ports.depends_on.is_empty() {
                outln!("    ports depend on: {}", ports.depends_on.join(", "));
            }
            if !ports.example_params.is_empty() {
                let examples: Vec<String> = ports
                    .example_params
                    .iter()
                    .map(|(name, value)| format!("{name} = {value}"))
                    .collect();
                outln!("    ports shown for: {}", examples.join(", "));
            }
        }
    }
    ExitCode::SUCCESS
}

fn graph(spec: &FlowgraphSpec, svg: Option<PathBuf>) -> ExitCode {
    let dot = spec.to_dot();
    out!("{dot}");
    let Some(path) = svg else {
        return ExitCode::SUCCESS;
    };
    let child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "error: cannot run Graphviz `dot` to write {}: {e} (install the graphviz package)",
                path.display()
            );
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(dot.as_bytes());
    }
    match child.wait() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("error: `dot` failed ({s}) writing {}", path.display());
            ExitCode::from(EXIT_RUN_FAILED)
        }
        Err(e) => {
            eprintln!("error: waiting for `dot`: {e}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

fn report_load_error(e: LoadError) -> ExitCode {
    output::error(&e);
    ExitCode::from(EXIT_BAD_INPUT)
}

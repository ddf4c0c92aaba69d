//! Opening the IIO device a source or sink names: the simulator, or a real (or fake-sysfs)
//! device through `weir-iio`'s transport choice. Parameters shared by both blocks live here.

use std::path::PathBuf;

use weir_core::{
    BuildError, ChannelLayout, ItemType, LayoutChannel, ParamSpec, Params, PortLayout,
};
use weir_iio::SampleRate;

use crate::latency_budget::{BlockSizing, align_samples, block_sizing};
use weir_iio::open::{Allocator, BufferOptions, TransportChoice};
use weir_iio::sysfs::Sysfs;
use weir_iio::transport::{Direction, Transport};
use weir_iio::{ScanFormat, ScanLayout};

weir_core::choice! {
    /// The `transport` parameter: which kernel interface to use (weir-iio's
    /// [`TransportChoice`]).
    pub enum TransportParam {
        /// Mainline DMABUF, then the seed's interface, then read()/write().
        Auto = "auto",
        /// Mainline DMABUF only.
        Dmabuf = "dmabuf",
        /// The seed's interface only.
        Seed = "seed",
        /// read()/write() only.
        FileIo = "fileio",
    }
}

weir_core::choice! {
    /// The `allocator` parameter: where mainline DMABUF memory comes from.
    pub enum AllocatorParam {
        /// dma-heap, then udmabuf.
        Auto = "auto",
        /// dma-heap only.
        Heap = "heap",
        /// udmabuf only.
        Udmabuf = "udmabuf",
    }
}

/// The device name that selects the built-in simulator.
pub const SIMULATOR: &str = "sim";

/// A transport opened for a block, with what to tell the user about the choice.
pub struct OpenedDevice {
    /// The transport, not started.
    pub transport: Box<dyn Transport>,
    /// Why faster transports were not used (empty for the simulator).
    pub rejected: Vec<String>,
    /// Where the DMABUFs come from (mainline DMABUF), e.g. `dma-heap /dev/dma_heap/system`.
    pub allocator: Option<String>,
    /// The rate the device runs at, in samples (scans) per second: a real device's, read back
    /// from its sampling-frequency attribute after setting it (`None` when it has none); the
    /// simulator's configured rate when > 0 (`None`: unpaced).
    pub sample_rate: Option<f64>,
    /// The `sample_rate` note of the block statistics, e.g.
    /// `30720000 Hz (in_voltage_sampling_frequency)`; `None` when no rate is known.
    pub sample_rate_note: Option<String>,
    /// The device's latched over/underflow status (Analog Devices HDL cores), when it has one
    /// that can be read: exact loss events, better than the estimate.
    pub xflow: Option<weir_iio::XflowMonitor>,
    /// Where each enabled channel sits in a scan (timestamp included when enabled): the
    /// layout the blocks were checked against at load time.
    pub layout: ScanLayout,
    /// The samples per block and depth the transport was opened with, and what chose them.
    pub sizing: BlockSizing,
}

impl OpenedDevice {
    /// The simulator's transport, paced at `rate` samples/s (0: unpaced), sized by `sizing`.
    pub fn simulated(
        transport: Box<dyn Transport>,
        rate: f64,
        sizing: BlockSizing,
    ) -> OpenedDevice {
        let sample_rate = (rate > 0.0).then_some(rate);
        OpenedDevice {
            transport,
            rejected: Vec::new(),
            allocator: None,
            sample_rate,
            sample_rate_note: sample_rate.map(|r| format!("{r} Hz (simulated)")),
            xflow: None,
            layout: simulator_layout(),
            sizing,
        }
    }
}

/// Parameters of the simulator only: a real device refuses them at load time when the
/// flowgraph sets them.
pub const SIM_ONLY_SOURCE: &[&str] = &[
    "pattern",
    "sim_fail_block",
    "tone_frequency",
    "tone_amplitude",
];
/// Parameters of the simulated DAC only.
pub const SIM_ONLY_SINK: &[&str] = &["sim_output"];

/// What a DMABUF block's parameters open: the real device they name, or what the block makes
/// its simulated device from.
pub enum Opening {
    /// A real IIO device, opened.
    Device(OpenedDevice),
    /// The simulator, with the item type, `sample_rate` (0 = as fast as possible) and block
    /// sizes its parameters give.
    Simulator {
        /// The `item` parameter.
        item: ItemType,
        /// The `sample_rate` parameter.
        rate: f64,
        /// The block sizes, as given or derived from a latency budget (logged).
        sizing: BlockSizing,
    },
}

/// Opens the real device `p` names for `direction`, or reads what the simulator (whose scans
/// are `sim_scan_bytes` wide) is made from: the start that `dmabuf_source` and `dmabuf_sink`
/// share.
pub fn open_or_simulate(
    p: &Params,
    direction: Direction,
    sim_scan_bytes: usize,
) -> Result<Opening, BuildError> {
    let real = p.str("device")? != SIMULATOR;
    let item = p.item("item")?;
    if real {
        return open_real(p, direction, item).map(Opening::Device);
    }
    let rate = sample_rate(p)?;
    let sizing = load_sizing(p, direction, sim_scan_bytes)?;
    if let Some(derived) = &sizing.derived {
        tracing::info!("{SIMULATOR}: latency budget {derived}");
    }
    Ok(Opening::Simulator { item, rate, sizing })
}

/// The `sample_rate` parameter: a finite rate >= 0.
pub fn sample_rate(p: &Params) -> Result<f64, BuildError> {
    let rate = p.float("sample_rate")?;
    if rate < 0.0 || !rate.is_finite() {
        return Err(BuildError::param(
            "sample_rate",
            format!(
                "must be a finite rate >= 0 (0 = leave it / as fast as possible), found {rate}"
            ),
        ));
    }
    Ok(rate)
}

/// The bytes of one DMA block: `samples` scans of `scan_bytes` each, checked (on a 32-bit
/// board the largest allowed block of the widest scan does not fit in `usize`).
pub fn block_bytes(samples: usize, scan_bytes: usize) -> Result<usize, BuildError> {
    samples.checked_mul(scan_bytes).ok_or_else(|| {
        BuildError::param(
            "samples_per_block",
            format!(
                "{samples} samples of {scan_bytes} bytes make a DMA block larger than this \
                 machine can address"
            ),
        )
    })
}

/// The block sizes at load time (`ports()`, so `weir check` refuses what the build would):
/// as given, or derived from `latency` (see [`crate::latency_budget`]) at the simulator's
/// `sample_rate`, or a real device's `sample_rate` when set, else the rate it reports now, with
/// the transfer alignment its sysfs gives. A real device that cannot be found now is left to
/// the build (which refuses it, or derives the sizes from the rate it reads back): the sizes
/// given or the defaults stand in until then.
pub fn load_sizing(
    p: &Params,
    direction: Direction,
    scan_bytes: usize,
) -> Result<BlockSizing, BuildError> {
    let item = p.item("item")?;
    let device_name = p.str("device")?;
    let asked = sample_rate(p)?;
    if device_name == SIMULATOR {
        return block_sizing(
            p,
            direction,
            Some(asked),
            align_samples(scan_bytes, 1, item),
            "the simulator is unpaced (`sample_rate` = 0): give it a rate",
        );
    }
    if crate::latency_budget::budget(p)?.is_none() {
        return block_sizing(p, direction, None, 1, "");
    }
    let Ok(device) = sysfs(p)?.find(device_name) else {
        return Ok(BlockSizing {
            samples_per_block: p.positive("samples_per_block")?,
            blocks: p.positive("blocks")?,
            derived: None,
        });
    };
    let buffer = p.uint("buffer")? as u32;
    let channels = split_list(p.str("channels")?, ',');
    let rate = if asked > 0.0 {
        Some(asked)
    } else {
        device
            .sampling_frequency(buffer, &channels)
            .ok()
            .flatten()
            .map(|r| r.hz)
    };
    block_sizing(
        p,
        direction,
        rate,
        align_samples(scan_bytes, length_align_bytes(&device, buffer), item),
        &reports_no_rate(&device, buffer, &channels),
    )
}

/// A buffer's `length_align_bytes`, 1 when it has none.
fn length_align_bytes(device: &weir_iio::Device, buffer: u32) -> usize {
    device
        .buffer(buffer)
        .and_then(|b| b.attrs.length_align_bytes)
        .and_then(|a| usize::try_from(a).ok())
        .unwrap_or(1)
}

/// Why a device's rate is unknown, for a `latency` that needs it.
fn reports_no_rate(device: &weir_iio::Device, buffer: u32, channels: &[String]) -> String {
    format!(
        "`{}` reports none (looked for {})",
        device.display_name(),
        device
            .sampling_frequency_candidates(buffer, channels)
            .join(", ")
    )
}

fn sysfs(p: &Params) -> Result<Sysfs, BuildError> {
    Ok(Sysfs::new(p.str("sysfs_root")?).with_dev_root(p.str("dev_root")?))
}

/// Load-time checks of a source's or sink's parameters against a real device (called from
/// the blocks' `ports()`, so that `weir check` refuses them too, located at the parameter):
/// simulator-only parameters (`sim_only`) that the flowgraph sets, and a non-zero
/// `sample_rate` on a device without a sampling-frequency attribute.
///
/// The device is looked up only for a non-zero `sample_rate`. A device that cannot be found
/// at load time is left to the build, which refuses it (exit status 1: the flowgraph is
/// fine, the device is missing) — the check cannot tell before then whether it has the
/// attribute, and the build checks again.
pub fn check_params(p: &Params, sim_only: &[&str]) -> Result<(), BuildError> {
    let device_name = p.str("device")?;
    let rate = sample_rate(p)?;
    // A channel named twice would be laid out twice (its bytes counted in the scan twice).
    let channels = split_list(p.str("channels")?, ',');
    let mut seen = std::collections::HashSet::new();
    for c in &channels {
        if !seen.insert(c) {
            return Err(BuildError::param(
                "channels",
                format!("`{c}` is named twice: name each channel once"),
            ));
        }
    }
    if device_name == SIMULATOR {
        return Ok(());
    }
    if let Some(name) = sim_only.iter().find(|n| p.is_set(n)) {
        return Err(BuildError::param(
            name,
            format!(
                "`{name}` configures the simulator (`device = \"{SIMULATOR}\"`); `{device_name}` is a real IIO device: remove it"
            ),
        ));
    }
    if rate > 0.0
        && let Ok(device) = sysfs(p)?.find(device_name)
    {
        let buffer = p.uint("buffer")? as u32;
        let channels = split_list(p.str("channels")?, ',');
        if device
            .sampling_frequency_attrs(buffer, &channels)
            .is_empty()
        {
            return Err(no_rate_attribute(&device, buffer, &channels));
        }
    }
    Ok(())
}

fn no_rate_attribute(device: &weir_iio::Device, buffer: u32, channels: &[String]) -> BuildError {
    BuildError::param(
        "sample_rate",
        format!(
            "`{}` has no sampling-frequency attribute (looked for {}), so its rate cannot be set: remove `sample_rate`, or set the driver's own attribute with `attrs`",
            device.display_name(),
            device
                .sampling_frequency_candidates(buffer, channels)
                .join(", ")
        ),
    )
}

/// The channels of the simulated ADC and DAC (`weir_iio::sim`): 16-bit
/// I then Q, little endian, `voltage0` and `voltage1`.
pub fn simulator_layout() -> ScanLayout {
    let format = ScanFormat::parse("le:s16/16>>0").expect("a valid type string");
    ScanLayout::new([("voltage0", 0, format), ("voltage1", 1, format)])
}

/// `layout` for a port description: every channel's id, scan index and type string, in scan
/// order, as weir-core carries it to the connected blocks.
pub fn channel_layout(layout: &ScanLayout, device: impl Into<String>) -> ChannelLayout {
    ChannelLayout {
        device: device.into(),
        channels: layout
            .elements()
            .iter()
            .map(|e| LayoutChannel {
                id: e.channel.clone(),
                scan_index: e.index,
                format: e.format.to_string(),
            })
            .collect(),
    }
}

/// The scan layout a block's device delivers (`In`) or takes (`Out`), and what to call the
/// device in messages, read at load time **without changing anything on the device**: the
/// simulator's, or a real device's from sysfs for the `channels` and `buffer` parameters.
/// `Err`: why it cannot be known now (no such device, say); the build reports it properly.
pub fn load_layout(p: &Params, direction: Direction) -> Result<(ScanLayout, String), String> {
    let text = |e: BuildError| e.to_string();
    let device_name = p.str("device").map_err(text)?;
    if device_name == SIMULATOR {
        let what = match direction {
            Direction::In => "the simulated ADC",
            Direction::Out => "the simulated DAC",
        };
        return Ok((simulator_layout(), what.to_string()));
    }
    let sysfs = Sysfs::new(p.str("sysfs_root").map_err(text)?)
        .with_dev_root(p.str("dev_root").map_err(text)?);
    let device = sysfs
        .find(device_name)
        .map_err(|e| format!("cannot open IIO device `{device_name}`: {e}"))?;
    let buffer = p.uint("buffer").map_err(text)? as u32;
    let channels = split_list(p.str("channels").map_err(text)?, ',');
    let (found, layout) = device
        .scan_layout(buffer, &channels)
        .map_err(|e| e.to_string())?;
    if found != direction {
        return Err(format!(
            "`{device_name}` buffer {buffer} streams {found}, this block needs {direction}"
        ));
    }
    let what = if device.display_name() == device.id {
        format!("{} buffer{buffer}", device.id)
    } else {
        format!("{} ({}) buffer{buffer}", device.id, device.display_name())
    };
    Ok((layout, what))
}

/// What [`load_layout`] found, as a port describes it.
pub fn port_layout(loaded: &Result<(ScanLayout, String), String>) -> PortLayout {
    match loaded {
        Ok((layout, device)) => PortLayout::Known(channel_layout(layout, device.as_str())),
        Err(why) => PortLayout::Unknown(why.clone()),
    }
}

/// Parameters every DMABUF block takes, beyond `device` and `item`.
pub fn common_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::int(
            "samples_per_block",
            16384,
            "samples (scans, e.g. I/Q pairs) per DMA block, like gr-iio's buffer_size; at most 2^24 (with 1024 blocks of 8-byte scans that is already 128 GiB)",
        )
        .within(1.0, 16_777_216.0),
        ParamSpec::int(
            "blocks",
            4,
            "number of DMA blocks: the queue depth, and so the back-pressure bound",
        )
        .range(Some(1.0), Some(1024.0)),
        ParamSpec::string(
            "latency",
            "",
            "latency budget, a duration (`2ms`, `500us`): derives samples_per_block and blocks from the device's rate (the rate it accepted, read back), the kernel's rescheduling time after a DMA interrupt (1 ms, Zynq) and a 25 % margin — RX: block + reschedule <= 75 % of it, TX: the full queue <= 75 % of it; refused with samples_per_block or blocks, or when it cannot be met; empty = use those two",
        ),
        ParamSpec::float(
            "timeout",
            0.0,
            "seconds without a completed DMA block before the device counts as stalled and the flowgraph stops with an error; 0 = wait forever, else 1 ms ..= 1 day",
        )
        .within(0.001, 86_400.0)
        .or_zero(true),
        ParamSpec::string(
            "channels",
            "",
            "comma-separated channel ids (`voltage0,voltage1`); empty = every channel of the buffer",
        ),
        ParamSpec::int("buffer", 0, "IIO buffer index (`bufferN`)")
        .range(Some(0.0), Some(63.0)),
        ParamSpec::choice(
            "transport",
            TransportParam::NAMES,
            "auto",
            "`auto` (dmabuf, then seed, then fileio), `dmabuf`, `seed` or `fileio`",
        ),
        ParamSpec::choice(
            "allocator",
            AllocatorParam::NAMES,
            "auto",
            "DMABUF memory for the mainline interface: `auto` (dma-heap, then udmabuf), `heap` or `udmabuf`",
        ),
        ParamSpec::string("dma_heap", "/dev/dma_heap/system", "dma-heap to allocate from"),
        ParamSpec::string(
            "attrs",
            "",
            "device attributes to set before start, `attr=value` separated by `;` (like gr-iio's params)",
        ),
        ParamSpec::string(
            "sysfs_root",
            "/sys/bus/iio/devices",
            "where IIO devices are listed (a fake tree in tests)",
        ),
        ParamSpec::string("dev_root", "/dev", "where device nodes are (a fake tree in tests)"),
    ]
}

fn split_list(s: &str, sep: char) -> Vec<String> {
    s.split(sep)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Open a real device named by `device` (id such as `iio:device0`, label or name) with the
/// common parameters, for `direction`, checking that its samples hold whole `item`s.
pub fn open_real(
    p: &Params,
    direction: Direction,
    item: ItemType,
) -> Result<OpenedDevice, BuildError> {
    let device_name = p.str("device")?;
    let other = |e: weir_iio::Error| BuildError::Other(e.to_string());
    let sysfs = sysfs(p)?;
    let device = sysfs.find(device_name).map_err(|e| {
        BuildError::param(
            "device",
            format!("cannot open IIO device `{device_name}`: {e}"),
        )
    })?;
    // What the flowgraph was checked against at load time, before `attrs` may change it.
    let checked = device
        .scan_layout(
            p.uint("buffer")? as u32,
            &split_list(p.str("channels")?, ','),
        )
        .ok()
        .map(|(_, layout)| layout);
    let attrs = split_list(p.str("attrs")?, ';');
    device
        .apply_params(&attrs)
        .map_err(|e| BuildError::param("attrs", e.to_string()))?;
    // Open with the channels as sysfs describes them now: some drivers change a channel's
    // type when an attribute changes (a resolution or oversampling mode).
    let device = if attrs.is_empty() {
        device
    } else {
        sysfs.load(&device.id).map_err(other)?
    };
    let buffer = p.uint("buffer")? as u32;
    let channels = split_list(p.str("channels")?, ',');
    let rate = device_rate(&device, buffer, &channels, sample_rate(p)?)?;
    // Sized from the rate the device accepted, read back (a driver may round the rate it was
    // asked for), with the scan and alignment it has now.
    let scan_bytes = checked.as_ref().map_or(1, ScanLayout::scan_bytes);
    let sizing = block_sizing(
        p,
        direction,
        rate.as_ref().map(|r| r.hz),
        align_samples(scan_bytes, length_align_bytes(&device, buffer), item),
        &reports_no_rate(&device, buffer, &channels),
    )?;
    if let Some(derived) = &sizing.derived {
        tracing::info!("{device_name}: latency budget {derived}");
    }
    let transport = match p.read::<TransportParam>("transport")? {
        TransportParam::Auto => TransportChoice::Auto,
        TransportParam::Dmabuf => TransportChoice::Dmabuf,
        TransportParam::Seed => TransportChoice::Seed,
        TransportParam::FileIo => TransportChoice::FileIo,
    };
    let heap = Allocator::DmaHeap(PathBuf::from(p.str("dma_heap")?));
    let udmabuf = Allocator::defaults()
        .into_iter()
        .find(|a| matches!(a, Allocator::Udmabuf(_)));
    let allocators = match p.read::<AllocatorParam>("allocator")? {
        AllocatorParam::Auto => std::iter::once(heap).chain(udmabuf).collect(),
        AllocatorParam::Heap => vec![heap],
        AllocatorParam::Udmabuf => udmabuf.into_iter().collect(),
    };
    let options = BufferOptions {
        buffer,
        channels,
        samples_per_block: sizing.samples_per_block,
        block_count: sizing.blocks,
        transport,
        allocators,
    };
    let opened = device.open_buffer(&options).map_err(other)?;
    if let Some(checked) = checked
        && checked != opened.layout
    {
        // The converters were set up, at load time, for the layout before.
        let show = |l: &ScanLayout| channel_layout(l, device_name).to_string();
        return Err(BuildError::param(
            "attrs",
            format!(
                "setting the attributes changed the scan layout the flowgraph was checked against: {} became {}; set them on the device before loading the flowgraph",
                show(&checked),
                show(&opened.layout)
            ),
        ));
    }
    if opened.transport.direction() != direction {
        return Err(BuildError::param(
            "device",
            format!(
                "`{device_name}` buffer {} streams {}, this block needs {direction}",
                options.buffer,
                opened.transport.direction()
            ),
        ));
    }
    let sample = opened.transport.sample_size();
    if !sample.is_multiple_of(item.size()) && !item.size().is_multiple_of(sample) {
        return Err(BuildError::param(
            "item",
            format!(
                "a scan of `{device_name}` is {sample} bytes; {item} items ({} bytes) do not divide it",
                item.size()
            ),
        ));
    }
    let rejected = opened
        .rejected
        .iter()
        .map(|(kind, why)| format!("{kind}: {why}"))
        .collect();
    if opened.rejected.is_empty() {
        tracing::info!("{device_name}: using {}", opened.summary());
    } else {
        // A slower transport than the kernel could offer (a copy, or no fence status): the user
        // must see why at the default log level, not only in the final report.
        tracing::warn!("{device_name}: using {}", opened.summary());
    }
    Ok(OpenedDevice {
        allocator: opened.allocator.as_ref().map(ToString::to_string),
        transport: opened.transport,
        rejected,
        sample_rate: rate.as_ref().map(|r| r.hz).filter(|hz| *hz > 0.0),
        sample_rate_note: rate.as_ref().map(ToString::to_string),
        xflow: weir_iio::XflowMonitor::open(&device, direction),
        layout: opened.layout,
        sizing,
    })
}

/// Sets the rate of a real device's buffer when `asked` > 0 and reads back what the driver
/// accepted; with `asked` = 0 reads the rate it runs at, if it has the attribute. Said at the
/// default log level, since it is what every rate-dependent number rests on.
fn device_rate(
    device: &weir_iio::Device,
    buffer: u32,
    channels: &[String],
    asked: f64,
) -> Result<Option<SampleRate>, BuildError> {
    let name = device.display_name();
    let rate = if asked > 0.0 {
        if device.sampling_frequency_attrs(buffer, channels).is_empty() {
            return Err(no_rate_attribute(device, buffer, channels));
        }
        let rate = device
            .set_sampling_frequency(buffer, channels, asked)
            .map_err(|e| BuildError::param("sample_rate", e.to_string()))?;
        if rate.differs_from_request() {
            tracing::warn!(
                "{name}: asked for {asked} Hz, the device runs at {} Hz ({})",
                rate.hz,
                rate.attr
            );
        } else {
            tracing::warn!("{name}: sample rate {rate}");
        }
        Some(rate)
    } else {
        // Only informative: a device whose attribute cannot be read still streams.
        match device.sampling_frequency(buffer, channels) {
            Ok(Some(rate)) => {
                tracing::warn!("{name}: sample rate {rate} (as the device was set)");
                Some(rate)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("{name}: cannot read its sample rate: {e}");
                None
            }
        }
    };
    Ok(rate)
}

/// The `timeout` parameter.
pub fn timeout(p: &Params) -> Result<std::time::Duration, BuildError> {
    let t = p.float("timeout")?;
    std::time::Duration::try_from_secs_f64(t)
        .map_err(|e| BuildError::param("timeout", format!("{t}: {e}")))
}

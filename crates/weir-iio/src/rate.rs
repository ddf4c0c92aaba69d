//! The sampling frequency of a device's buffer: which attribute governs it, setting it, and
//! reading back the rate the driver accepted.
//!
//! IIO has no single "sample rate" file. A driver exposes `sampling_frequency` as an info
//! attribute of its channels, and the kernel names the file after how widely it is shared
//! (`iio_chan_spec`'s `info_mask_separate`, `_shared_by_type`, `_shared_by_dir`,
//! `_shared_by_all`); libiio shows all four as the channel attribute `sampling_frequency`:
//!
//! ```text
//! in_voltage0_sampling_frequency   this channel only
//! in_voltage_sampling_frequency    every input voltage channel (Analog Devices' HDL cores)
//! in_sampling_frequency            every input channel
//! sampling_frequency               the whole device
//! ```
//!
//! For a buffer, the channels it streams decide: each selected channel takes the first of
//! those files that exists, in that order (`out_…` for an output buffer). Drivers round a
//! rate to what their clocks can make, so the rate to report is always the one read back.

use std::fmt;

use crate::error::{Error, Result};
use crate::sysfs::{Channel, Device};

/// The rate a device's buffer runs at, read back from its sampling-frequency attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRate {
    /// Samples (scans) per second, as the device reports it.
    pub hz: f64,
    /// The attribute it was read from, e.g. `in_voltage_sampling_frequency`.
    pub attr: String,
    /// The rate asked for, when it was just set; a driver may have rounded it to [`hz`](Self::hz).
    pub requested: Option<f64>,
}

impl SampleRate {
    /// Whether the device runs at another rate than the one asked for.
    pub fn differs_from_request(&self) -> bool {
        self.requested.is_some_and(|r| r != self.hz)
    }
}

impl fmt::Display for SampleRate {
    /// `30720000 Hz (in_voltage_sampling_frequency)`, and when the driver chose another rate
    /// than the one asked: `30719999 Hz (in_voltage_sampling_frequency; asked 30720000 Hz)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz ({}", self.hz, self.attr)?;
        if let Some(asked) = self.requested.filter(|_| self.differs_from_request()) {
            write!(f, "; asked {asked} Hz")?;
        }
        f.write_str(")")
    }
}

/// The text written to a sampling-frequency attribute: integral rates without a fraction
/// (`30720000`; many drivers parse the value with `kstrtoint`, which refuses `30720000.0`),
/// others in full (`1000.5`, for drivers taking `IIO_VAL_INT_PLUS_MICRO`).
fn rate_text(hz: f64) -> String {
    // f64's Display never uses an exponent and prints no fraction for integral values.
    format!("{hz}")
}

/// Parses what a sampling-frequency attribute reads: a number (`30720000`, `1000.000000`),
/// optionally followed by other text that some drivers append.
fn parse_rate(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|hz| hz.is_finite() && *hz >= 0.0)
}

/// The channels a buffer streams with `channels` selected (ids; empty = every channel of the
/// buffer's direction but the timestamp, as [`Device::open_buffer`] enables them), without the
/// timestamp, which has no rate of its own. Unknown ids are skipped: opening the buffer
/// reports them.
fn streamed_channels<'d>(device: &'d Device, buffer: u32, channels: &[String]) -> Vec<&'d Channel> {
    let Some(buffer) = device.buffer(buffer) else {
        return Vec::new();
    };
    if channels.is_empty() {
        let direction = buffer.direction();
        buffer
            .channels
            .iter()
            .filter(|c| !c.is_timestamp() && direction.is_none_or(|d| c.direction == d))
            .collect()
    } else {
        channels
            .iter()
            .filter_map(|id| buffer.channel(id.trim()))
            .filter(|c| !c.is_timestamp())
            .collect()
    }
}

/// The channel type of a channel id: `voltage0` → `voltage`, `accel_x` → `accel`,
/// `voltage0-voltage1` → `voltage` (IIO type names are lower-case letters).
fn channel_type(id: &str) -> &str {
    let end = id
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(id.len());
    &id[..end]
}

/// The sampling-frequency files that may govern `channel`, most specific first.
fn channel_candidates(channel: &Channel) -> [String; 4] {
    let dir = channel.direction;
    [
        format!("{dir}_{}_sampling_frequency", channel.id),
        format!("{dir}_{}_sampling_frequency", channel_type(&channel.id)),
        format!("{dir}_sampling_frequency"),
        "sampling_frequency".to_string(),
    ]
}

impl Device {
    /// The attribute files that could hold the sampling frequency of buffer `buffer` streaming
    /// `channels` (ids; empty = every channel but the timestamp), whether or not they exist,
    /// most specific first: what to name when a device has none.
    pub fn sampling_frequency_candidates(&self, buffer: u32, channels: &[String]) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for channel in streamed_channels(self, buffer, channels) {
            for name in channel_candidates(channel) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            names.push("sampling_frequency".to_string());
        }
        names
    }

    /// The sampling-frequency attributes that govern buffer `buffer` streaming `channels`
    /// (ids; empty = every channel but the timestamp): for each channel, the first that exists
    /// of `<dir>_<channel>_sampling_frequency`, `<dir>_<type>_sampling_frequency`,
    /// `<dir>_sampling_frequency` and the device's `sampling_frequency`, without repeats.
    /// Usually one (a shared attribute); several for a driver with a rate per channel; empty
    /// when the device has no sampling-frequency attribute. Uses the attribute list read with
    /// the device, without touching sysfs.
    pub fn sampling_frequency_attrs(&self, buffer: u32, channels: &[String]) -> Vec<String> {
        let exists = |name: &String| self.attributes.iter().any(|a| a == name);
        let mut attrs: Vec<String> = Vec::new();
        let streamed = streamed_channels(self, buffer, channels);
        for channel in &streamed {
            if let Some(name) = channel_candidates(channel).into_iter().find(exists)
                && !attrs.contains(&name)
            {
                attrs.push(name);
            }
        }
        // A buffer whose channels are unknown still runs at the device's rate.
        let device_level = "sampling_frequency".to_string();
        if streamed.is_empty() && exists(&device_level) {
            attrs.push(device_level);
        }
        attrs
    }

    /// The rate buffer `buffer` streaming `channels` runs at, read from its sampling-frequency
    /// attribute(s); `Ok(None)` when the device has none. [`Error::Parse`] names the file when
    /// it does not hold a rate, [`Error::Config`] when channels with a rate each disagree.
    pub fn sampling_frequency(
        &self,
        buffer: u32,
        channels: &[String],
    ) -> Result<Option<SampleRate>> {
        let attrs = self.sampling_frequency_attrs(buffer, channels);
        if attrs.is_empty() {
            return Ok(None);
        }
        read_back(self, &attrs, None, |attr| self.read_attr(attr)).map(Some)
    }

    /// Sets the rate of buffer `buffer` streaming `channels` to `hz` by writing every
    /// sampling-frequency attribute that governs it, then reads the rate back: the returned
    /// [`SampleRate`] is what the driver accepted, which may differ from `hz` (drivers round
    /// to what their clocks make), with `hz` as [`SampleRate::requested`].
    ///
    /// [`Error::Config`] when the device has no sampling-frequency attribute (naming the files
    /// looked for) or `hz` is not a finite positive rate; [`Error::Attribute`] when the driver
    /// refuses the value.
    pub fn set_sampling_frequency(
        &self,
        buffer: u32,
        channels: &[String],
        hz: f64,
    ) -> Result<SampleRate> {
        if !(hz.is_finite() && hz > 0.0) {
            return Err(Error::Config {
                device: self.display_name().to_string(),
                message: format!("a sampling frequency must be a finite rate > 0 Hz, not {hz}"),
            });
        }
        let attrs = self.sampling_frequency_attrs(buffer, channels);
        if attrs.is_empty() {
            return Err(Error::Config {
                device: self.display_name().to_string(),
                message: format!(
                    "no sampling-frequency attribute to set (looked for {})",
                    self.sampling_frequency_candidates(buffer, channels)
                        .join(", ")
                ),
            });
        }
        set_and_read_back(
            self,
            &attrs,
            hz,
            |attr, value| self.write_attr(attr, value),
            |attr| self.read_attr(attr),
        )
    }
}

/// Writes `hz` to every attribute in `attrs`, then reads them back. Separate from the file
/// system so that a driver that rounds can be played in tests (a plain file reads back what
/// was written).
fn set_and_read_back(
    device: &Device,
    attrs: &[String],
    hz: f64,
    mut write: impl FnMut(&str, &str) -> Result<()>,
    read: impl FnMut(&str) -> Result<String>,
) -> Result<SampleRate> {
    let text = rate_text(hz);
    for attr in attrs {
        write(attr, &text)?;
    }
    read_back(device, attrs, Some(hz), read)
}

/// Reads the rate from every attribute in `attrs` (at least one); they must agree.
fn read_back(
    device: &Device,
    attrs: &[String],
    requested: Option<f64>,
    mut read: impl FnMut(&str) -> Result<String>,
) -> Result<SampleRate> {
    let mut rates: Vec<(String, f64)> = Vec::with_capacity(attrs.len());
    for attr in attrs {
        let text = read(attr)?;
        let hz = parse_rate(&text).ok_or_else(|| Error::Parse {
            path: device.path.join(attr),
            text: text.clone(),
            expected: "a sampling frequency in Hz",
        })?;
        rates.push((attr.clone(), hz));
    }
    let (attr, hz) = rates[0].clone();
    if rates.iter().any(|(_, r)| *r != hz) {
        let list = rates
            .iter()
            .map(|(a, r)| format!("{a} = {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::Config {
            device: device.display_name().to_string(),
            message: format!("the streamed channels run at different rates ({list})"),
        });
    }
    Ok(SampleRate {
        hz,
        attr,
        requested,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::Sysfs;
    use crate::testing::{FakeChannel, FakeSysfs};

    fn iq(dir: &str) -> [FakeChannel; 3] {
        [
            FakeChannel::new(&format!("{dir}_voltage0"), 0, "le:s16/16>>0", false),
            FakeChannel::new(&format!("{dir}_voltage1"), 1, "le:s16/16>>0", false),
            FakeChannel::new(&format!("{dir}_timestamp"), 2, "le:s64/64>>0", false),
        ]
    }

    /// Device 0 of a fake tree with an I/Q buffer in direction `dir` and the given attributes.
    fn device(fake: &FakeSysfs, dir: &str, attrs: &[(&str, &str)]) -> Device {
        let mut d = fake.device(0).name("fake");
        for (a, v) in attrs {
            d = d.attr(a, v);
        }
        d.buffer(0, &[("enable", "0")], &iq(dir));
        Sysfs::new(fake.root()).load("iio:device0").expect("loads")
    }

    fn all() -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn shared_by_type_attribute_is_found_set_and_read_back() {
        let fake = FakeSysfs::new();
        let dev = device(
            &fake,
            "in",
            &[("in_voltage_sampling_frequency", "30720000")],
        );
        assert_eq!(
            dev.sampling_frequency_attrs(0, &all()),
            ["in_voltage_sampling_frequency"]
        );
        let now = dev
            .sampling_frequency(0, &all())
            .expect("reads")
            .expect("has a rate");
        assert_eq!(now.hz, 30_720_000.0);
        assert_eq!(now.requested, None);
        assert_eq!(
            now.to_string(),
            "30720000 Hz (in_voltage_sampling_frequency)"
        );

        let set = dev
            .set_sampling_frequency(0, &all(), 1_024_000.0)
            .expect("sets");
        assert_eq!(set.hz, 1_024_000.0);
        assert_eq!(set.requested, Some(1_024_000.0));
        assert!(!set.differs_from_request());
        assert_eq!(
            set.to_string(),
            "1024000 Hz (in_voltage_sampling_frequency)"
        );
        // Written without a fraction, which integer-parsing drivers need.
        assert_eq!(
            dev.read_attr("in_voltage_sampling_frequency")
                .expect("file"),
            "1024000"
        );
    }

    #[test]
    fn the_most_specific_attribute_wins_per_channel() {
        let fake = FakeSysfs::new();
        let dev = device(
            &fake,
            "in",
            &[
                ("sampling_frequency", "1"),
                ("in_sampling_frequency", "2"),
                ("in_voltage_sampling_frequency", "3"),
                ("in_voltage1_sampling_frequency", "3"),
            ],
        );
        // voltage0 has no attribute of its own, voltage1 has: both are set.
        assert_eq!(
            dev.sampling_frequency_attrs(0, &all()),
            [
                "in_voltage_sampling_frequency",
                "in_voltage1_sampling_frequency"
            ]
        );
        assert_eq!(
            dev.sampling_frequency_attrs(0, &["voltage1".into()]),
            ["in_voltage1_sampling_frequency"]
        );
        // The timestamp alone has no rate of its own: the device's.
        assert_eq!(
            dev.sampling_frequency_attrs(0, &["timestamp".into()]),
            ["sampling_frequency"]
        );
        let set = dev
            .set_sampling_frequency(0, &all(), 48_000.0)
            .expect("sets");
        assert_eq!(
            (set.hz, set.attr.as_str()),
            (48_000.0, "in_voltage_sampling_frequency")
        );
        assert_eq!(
            dev.read_attr("in_voltage1_sampling_frequency").unwrap(),
            "48000"
        );
        // The less specific ones were left alone.
        assert_eq!(dev.read_attr("in_sampling_frequency").unwrap(), "2");

        // Fall back through shared-by-direction to the device level.
        let fake = FakeSysfs::new();
        let dev = device(
            &fake,
            "in",
            &[("in_sampling_frequency", "2"), ("sampling_frequency", "1")],
        );
        assert_eq!(
            dev.sampling_frequency_attrs(0, &all()),
            ["in_sampling_frequency"]
        );
        let fake = FakeSysfs::new();
        let dev = device(&fake, "in", &[("sampling_frequency", "961538")]);
        assert_eq!(
            dev.sampling_frequency_attrs(0, &all()),
            ["sampling_frequency"]
        );
        assert_eq!(
            dev.sampling_frequency(0, &all()).unwrap().unwrap().hz,
            961_538.0
        );
    }

    #[test]
    fn output_buffers_use_out_attributes() {
        let fake = FakeSysfs::new();
        let dev = device(
            &fake,
            "out",
            &[
                ("in_voltage_sampling_frequency", "1"),
                ("out_voltage_sampling_frequency", "30720000"),
            ],
        );
        assert_eq!(
            dev.sampling_frequency_attrs(0, &all()),
            ["out_voltage_sampling_frequency"]
        );
        assert_eq!(
            dev.sampling_frequency(0, &all()).unwrap().unwrap().hz,
            30_720_000.0
        );
    }

    #[test]
    fn a_device_without_the_attribute_says_what_it_looked_for() {
        let fake = FakeSysfs::new();
        let dev = device(&fake, "in", &[("in_voltage0_hardwaregain", "10 dB")]);
        assert!(dev.sampling_frequency_attrs(0, &all()).is_empty());
        assert_eq!(dev.sampling_frequency(0, &all()).unwrap(), None);
        let e = dev.set_sampling_frequency(0, &all(), 1e6).unwrap_err();
        let s = e.to_string();
        for name in [
            "in_voltage0_sampling_frequency",
            "in_voltage1_sampling_frequency",
            "in_voltage_sampling_frequency",
            "in_sampling_frequency",
            "sampling_frequency",
        ] {
            assert!(s.contains(name), "{name} not in: {s}");
        }
        assert!(!s.contains("timestamp"), "{s}");
        // Nothing was created.
        assert!(!dev.path.join("in_voltage_sampling_frequency").exists());
    }

    #[test]
    fn a_rounding_driver_is_reported_at_the_rate_it_accepted() {
        let fake = FakeSysfs::new();
        let dev = device(
            &fake,
            "in",
            &[("in_voltage_sampling_frequency", "30720000")],
        );
        let attrs = dev.sampling_frequency_attrs(0, &all());
        // A driver whose clock divides 61.44 MHz by an integer.
        let register = std::cell::Cell::new(0.0_f64);
        let rate = set_and_read_back(
            &dev,
            &attrs,
            25_000_000.0,
            |attr, value| {
                assert_eq!((attr, value), ("in_voltage_sampling_frequency", "25000000"));
                let asked: f64 = value.parse().unwrap();
                register.set(61_440_000.0 / (61_440_000.0 / asked).round());
                Ok(())
            },
            |_| Ok(format!("{}\n", register.get())),
        )
        .expect("accepted");
        assert_eq!(rate.hz, 30_720_000.0);
        assert_eq!(rate.requested, Some(25_000_000.0));
        assert!(rate.differs_from_request());
        assert_eq!(
            rate.to_string(),
            "30720000 Hz (in_voltage_sampling_frequency; asked 25000000 Hz)"
        );

        // The same read-back path on the file system: the driver rewrote the file.
        let set = dev.set_sampling_frequency(0, &all(), 25_000_000.0).unwrap();
        assert!(!set.differs_from_request());
        std::fs::write(dev.path.join("in_voltage_sampling_frequency"), "30720000\n").unwrap();
        let now = dev.sampling_frequency(0, &all()).unwrap().unwrap();
        assert_eq!(now.hz, 30_720_000.0);
    }

    #[test]
    fn refusals_and_bad_values_are_errors() {
        let fake = FakeSysfs::new();
        let dev = device(&fake, "in", &[("in_voltage_sampling_frequency", "fast")]);
        let e = dev.sampling_frequency(0, &all()).unwrap_err();
        assert!(
            matches!(&e, Error::Parse { path, text, .. }
                if path.ends_with("in_voltage_sampling_frequency") && text == "fast"),
            "{e:?}"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                dev.set_sampling_frequency(0, &all(), bad),
                Err(Error::Config { .. })
            ));
        }
        // A driver refusing the value: its errno, through the attribute error.
        let attrs = dev.sampling_frequency_attrs(0, &all());
        let e = set_and_read_back(
            &dev,
            &attrs,
            1e9,
            |attr, value| {
                Err(Error::Attribute {
                    attr: attr.to_string(),
                    path: dev.path.join(attr),
                    value: value.to_string(),
                    errno: rustix::io::Errno::INVAL,
                })
            },
            |_| unreachable!("not read after a refusal"),
        )
        .unwrap_err();
        assert_eq!(e.errno(), Some(rustix::io::Errno::INVAL));
        // Fractional rates and values with a unit.
        assert_eq!(rate_text(1000.5), "1000.5");
        assert_eq!(parse_rate("1000.000000\n"), Some(1000.0));
        assert_eq!(parse_rate("2500000 Hz"), Some(2_500_000.0));
        assert_eq!(parse_rate(""), None);
    }

    #[test]
    fn channels_that_disagree_are_an_error() {
        let fake = FakeSysfs::new();
        let dev = device(
            &fake,
            "in",
            &[
                ("in_voltage0_sampling_frequency", "1000"),
                ("in_voltage1_sampling_frequency", "2000"),
            ],
        );
        let e = dev.sampling_frequency(0, &all()).unwrap_err().to_string();
        assert!(e.contains("in_voltage0_sampling_frequency = 1000"), "{e}");
        assert!(e.contains("in_voltage1_sampling_frequency = 2000"), "{e}");
        assert_eq!(channel_type("voltage0-voltage1"), "voltage");
        assert_eq!(channel_type("accel_x"), "accel");
        assert_eq!(channel_type("temp"), "temp");
    }
}

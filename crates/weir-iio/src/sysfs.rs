//! The sysfs model of IIO devices: devices, buffers, channels and their attributes.
//!
//! IIO describes every device under `/sys/bus/iio/devices/iio:deviceN/` (the root is
//! configurable, so that fake trees can stand in for it in tests):
//!
//! ```text
//! iio:device0/
//!   name, label (optional), sampling_frequency, in_voltage0_hardwaregain, …   device attributes
//!   buffer0/  buffer1/ …                 one directory per buffer (Linux 5.11+), holding
//!     length  enable  watermark  data_available  direction  length_align_bytes (optional)
//!     in_voltage0_en  in_voltage0_index  in_voltage0_type  …         the scan elements
//!   buffer/  scan_elements/              the legacy layout of buffer 0 (older kernels; newer
//!                                        ones keep it as a duplicate of buffer0/)
//! ```
//!
//! Reading is strict: a missing mandatory file or a malformed value is an error that names
//! the file ([`Error::File`], [`Error::Format`], [`Error::Parse`]); optional files (`label`,
//! `watermark`, `length_align_bytes`, `direction` …) are `None` when absent.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rustix::io::Errno;

use crate::error::{Error, Result, errno_of};
use crate::format::{ScanFormat, ScanLayout};
use crate::vocabulary::Direction;

/// Where the kernel lists IIO devices.
pub const DEFAULT_ROOT: &str = "/sys/bus/iio/devices";
/// Where the device nodes (`iio:deviceN`) are.
pub const DEFAULT_DEV_ROOT: &str = "/dev";

/// An IIO sysfs tree: the devices directory and the directory of the device nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
    dev_root: PathBuf,
}

impl Default for Sysfs {
    /// `/sys/bus/iio/devices` and `/dev`.
    fn default() -> Self {
        Sysfs::new(DEFAULT_ROOT)
    }
}

impl Sysfs {
    /// A tree rooted at `root` (the directory holding `iio:deviceN`), with nodes in `/dev`.
    pub fn new(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs {
            root: root.into(),
            dev_root: PathBuf::from(DEFAULT_DEV_ROOT),
        }
    }

    /// The same tree with the device nodes looked up in `dev_root` instead of `/dev`.
    pub fn with_dev_root(mut self, dev_root: impl Into<PathBuf>) -> Sysfs {
        self.dev_root = dev_root.into();
        self
    }

    /// The devices directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the device nodes.
    pub fn dev_root(&self) -> &Path {
        &self.dev_root
    }

    /// The `iio:deviceN` entries of the root, in numeric order. Other entries (triggers,
    /// `iio_sysfs_trigger`) are skipped. A missing root is an error naming it.
    pub fn device_ids(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.root).map_err(|e| file_error("list", &self.root, &e))?;
        let mut ids: Vec<(u64, String)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| file_error("list", &self.root, &e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if let Some(n) = name
                .strip_prefix("iio:device")
                .and_then(|n| n.parse::<u64>().ok())
            {
                ids.push((n, name));
            }
        }
        ids.sort();
        Ok(ids.into_iter().map(|(_, id)| id).collect())
    }

    /// Every device, fully read. Fails on the first device that cannot be read; use
    /// [`Self::device_ids`] and [`Self::load`] to skip broken ones.
    pub fn devices(&self) -> Result<Vec<Device>> {
        self.device_ids()?.iter().map(|id| self.load(id)).collect()
    }

    /// Reads the device `id` (`iio:deviceN`).
    pub fn load(&self, id: &str) -> Result<Device> {
        Device::load(&self.root.join(id), id, &self.dev_root)
    }

    /// Finds a device by id (`iio:device0`), label or name, in that order of preference;
    /// [`Error::Config`] listing what exists when nothing matches.
    pub fn find(&self, key: &str) -> Result<Device> {
        let ids = self.device_ids()?;
        if ids.iter().any(|id| id == key) {
            return self.load(key);
        }
        let mut by_name = None;
        for id in &ids {
            let path = self.root.join(id);
            if read_optional(&path.join("label"))?.as_deref() == Some(key) {
                return self.load(id);
            }
            if by_name.is_none() && read_optional(&path.join("name"))?.as_deref() == Some(key) {
                by_name = Some(id.clone());
            }
        }
        match by_name {
            Some(id) => self.load(&id),
            None => Err(Error::Config {
                device: key.to_string(),
                message: format!(
                    "no IIO device with this id, label or name under {} (found: {})",
                    self.root.display(),
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                ),
            }),
        }
    }
}

/// One IIO device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// `iio:deviceN`.
    pub id: String,
    /// Its sysfs directory.
    pub path: PathBuf,
    /// The `name` attribute (the driver's name for it), if present.
    pub name: Option<String>,
    /// The `label` attribute (board-specific name), if present.
    pub label: Option<String>,
    /// The device node, `/dev/iio:deviceN` (it may not exist, or not be accessible).
    pub node: PathBuf,
    /// The buffers, by index.
    pub buffers: Vec<Buffer>,
    /// Names of the device-level attribute files (sampling frequency, gains, …), sorted;
    /// `name`, `label`, `dev` and `uevent` are not listed.
    pub attributes: Vec<String>,
}

/// How a buffer's files are laid out in sysfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferLayout {
    /// `bufferN/` holds both the attributes and the scan elements (Linux 5.11+).
    PerBuffer,
    /// `buffer/` holds the attributes and `scan_elements/` the channels (buffer 0 only).
    Legacy,
}

/// The attributes of a buffer; `None` when the file does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BufferAttributes {
    /// `length`: capacity in samples (scans).
    pub length: Option<u64>,
    /// `watermark`: samples that make the buffer readable.
    pub watermark: Option<u64>,
    /// `enable`.
    pub enabled: Option<bool>,
    /// `length_align_bytes`: transfers must be a multiple of this many bytes.
    pub length_align_bytes: Option<u64>,
    /// `data_available`: samples ready to be read.
    pub data_available: Option<u64>,
    /// `direction` (`in`/`out`, Linux 5.13+).
    pub direction: Option<Direction>,
}

/// One buffer of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Buffer {
    /// Buffer index (the `N` of `bufferN`; 0 for the legacy layout).
    pub index: u32,
    /// How its files are laid out.
    pub layout: BufferLayout,
    /// The directory holding `length`, `enable`, ….
    pub attr_dir: PathBuf,
    /// The directory holding the channels' `_en`, `_index` and `_type` files.
    pub scan_dir: PathBuf,
    /// The attributes as read.
    pub attrs: BufferAttributes,
    /// The channels, in scan-index order.
    pub channels: Vec<Channel>,
}

/// One channel of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel identifier: the file prefix without `in_`/`out_`, e.g. `voltage0`,
    /// `voltage0-voltage1`, `timestamp`.
    pub id: String,
    /// In or out.
    pub direction: Direction,
    /// Scan index.
    pub index: u32,
    /// Whether it is enabled (`_en`).
    pub enabled: bool,
    /// Its storage format (`_type`).
    pub format: ScanFormat,
}

impl Channel {
    /// The file prefix, `in_voltage0`.
    pub fn prefix(&self) -> String {
        format!("{}_{}", self.direction, self.id)
    }

    /// Whether this is the timestamp channel.
    pub fn is_timestamp(&self) -> bool {
        self.id == "timestamp"
    }
}

impl Device {
    fn load(path: &Path, id: &str, dev_root: &Path) -> Result<Device> {
        let meta = fs::metadata(path).map_err(|e| file_error("stat", path, &e))?;
        if !meta.is_dir() {
            return Err(Error::File {
                op: "open",
                path: path.to_path_buf(),
                errno: Errno::NOTDIR,
                detail: "an IIO device is a directory".to_string(),
            });
        }
        let name = read_optional(&path.join("name"))?;
        let label = read_optional(&path.join("label"))?;
        let mut buffers = Vec::new();
        let mut attributes = Vec::new();
        let mut buffer_dirs: Vec<(u32, PathBuf)> = Vec::new();
        let entries = fs::read_dir(path).map_err(|e| file_error("list", path, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| file_error("list", path, &e))?;
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            let entry_path = entry.path();
            // Follow symlinks: sysfs attributes are regular files, `subsystem` and `device`
            // are links to directories.
            let Ok(meta) = fs::metadata(&entry_path) else {
                continue;
            };
            if meta.is_dir() {
                if let Some(n) = file_name
                    .strip_prefix("buffer")
                    .filter(|n| !n.is_empty())
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    buffer_dirs.push((n, entry_path));
                }
            } else if meta.is_file()
                && !matches!(file_name.as_str(), "name" | "label" | "dev" | "uevent")
            {
                attributes.push(file_name);
            }
        }
        attributes.sort();
        buffer_dirs.sort();
        if buffer_dirs.is_empty() {
            let legacy = path.join("buffer");
            if legacy.is_dir() {
                let scan_dir = path.join("scan_elements");
                buffers.push(Buffer::load(0, BufferLayout::Legacy, legacy, scan_dir)?);
            }
        } else {
            for (index, dir) in buffer_dirs {
                buffers.push(Buffer::load(
                    index,
                    BufferLayout::PerBuffer,
                    dir.clone(),
                    dir,
                )?);
            }
        }
        Ok(Device {
            id: id.to_string(),
            path: path.to_path_buf(),
            name,
            label,
            node: dev_root.join(id),
            buffers,
            attributes,
        })
    }

    /// The label, else the name, else the id: what to call the device in messages.
    pub fn display_name(&self) -> &str {
        self.label
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.id)
    }

    /// Buffer `index`, if the device has it.
    pub fn buffer(&self, index: u32) -> Option<&Buffer> {
        self.buffers.iter().find(|b| b.index == index)
    }

    /// Reads the device attribute `attr` (trailing newline removed).
    pub fn read_attr(&self, attr: &str) -> Result<String> {
        check_attr_name(attr)?;
        read_trimmed(&self.path.join(attr))
    }

    /// Writes `value` to the device attribute `attr` (e.g. `sampling_frequency`,
    /// `in_voltage0_hardwaregain`). [`Error::Attribute`] names the attribute, the file and
    /// the errno (`ENOENT` for an unknown attribute, `EINVAL` for a value the driver
    /// refuses, `EACCES` for a read-only one).
    pub fn write_attr(&self, attr: &str, value: &str) -> Result<()> {
        check_attr_name(attr)?;
        write_attribute(attr, &self.path.join(attr), value)
    }

    /// Applies gr-iio style parameters, each `"attr=value"`, in order; stops at the first
    /// failure ([`Error::Param`] for a malformed one, [`Error::Attribute`] for a refused one).
    pub fn apply_params<S: AsRef<str>>(&self, params: &[S]) -> Result<()> {
        for param in params {
            let (attr, value) = parse_param(param.as_ref())?;
            self.write_attr(&attr, &value)?;
            tracing::debug!(device = %self.id, attr, value, "attribute set");
        }
        Ok(())
    }
}

/// Splits a gr-iio style parameter `"attr=value"` at the first `=`. The attribute name is
/// trimmed and must be a plain file name; the value is kept as given (it may contain `=`
/// and be empty).
pub fn parse_param(param: &str) -> Result<(String, String)> {
    let bad = |reason: &str| Error::Param {
        param: param.to_string(),
        reason: reason.to_string(),
    };
    let (attr, value) = param
        .split_once('=')
        .ok_or_else(|| bad("expected attr=value"))?;
    let attr = attr.trim();
    if attr.is_empty() {
        return Err(bad("the attribute name is empty"));
    }
    check_attr_name(attr).map_err(|_| bad("the attribute name must be a plain file name"))?;
    Ok((attr.to_string(), value.to_string()))
}

fn check_attr_name(attr: &str) -> Result<()> {
    if attr.is_empty() || attr == "." || attr == ".." || attr.contains(['/', '\0']) {
        return Err(Error::Param {
            param: attr.to_string(),
            reason: "an attribute name must be a plain file name".to_string(),
        });
    }
    Ok(())
}

impl Buffer {
    fn load(
        index: u32,
        layout: BufferLayout,
        attr_dir: PathBuf,
        scan_dir: PathBuf,
    ) -> Result<Buffer> {
        let number = |name: &str| -> Result<Option<u64>> {
            let path = attr_dir.join(name);
            read_optional(&path)?
                .map(|text| parse_u64(&path, &text))
                .transpose()
        };
        let enabled_path = attr_dir.join("enable");
        let enabled = read_optional(&enabled_path)?
            .map(|t| parse_flag(&enabled_path, &t))
            .transpose()?;
        let direction_path = attr_dir.join("direction");
        let direction = match read_optional(&direction_path)? {
            None => None,
            Some(t) if t == "in" => Some(Direction::In),
            Some(t) if t == "out" => Some(Direction::Out),
            Some(text) => {
                return Err(Error::Parse {
                    path: direction_path,
                    text,
                    expected: "`in` or `out`",
                });
            }
        };
        let attrs = BufferAttributes {
            length: number("length")?,
            watermark: number("watermark")?,
            enabled,
            length_align_bytes: number("length_align_bytes")?,
            data_available: number("data_available")?,
            direction,
        };
        let channels = if scan_dir.is_dir() {
            load_channels(&scan_dir)?
        } else {
            Vec::new()
        };
        Ok(Buffer {
            index,
            layout,
            attr_dir,
            scan_dir,
            attrs,
            channels,
        })
    }

    /// The channel `id` (`voltage0`), if the buffer has it.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The buffer's direction: the `direction` attribute, else that of its channels
    /// (`None` if it has none, or both kinds).
    pub fn direction(&self) -> Option<Direction> {
        if let Some(d) = self.attrs.direction {
            return Some(d);
        }
        let mut dirs = self.channels.iter().map(|c| c.direction);
        let first = dirs.next()?;
        dirs.all(|d| d == first).then_some(first)
    }

    /// The scan layout of the channels enabled as read.
    pub fn enabled_layout(&self) -> ScanLayout {
        ScanLayout::new(
            self.channels
                .iter()
                .filter(|c| c.enabled)
                .map(|c| (c.id.as_str(), c.index, c.format)),
        )
    }

    /// Enables or disables a channel of this buffer (its `_en` file). `EBUSY` from the
    /// kernel while the buffer is enabled.
    pub fn set_channel_enabled(&self, channel: &Channel, enabled: bool) -> Result<()> {
        let file = format!("{}_en", channel.prefix());
        write_attribute(
            &file,
            &self.scan_dir.join(&file),
            if enabled { "1" } else { "0" },
        )
    }

    /// The control of this buffer's `length`, `watermark` and `enable` attributes, with
    /// `device` as the name in messages.
    pub fn control(&self, device: impl Into<String>) -> BufferControl {
        BufferControl::new(device, &self.attr_dir)
    }
}

/// Reads the channels of a scan-elements directory.
fn load_channels(dir: &Path) -> Result<Vec<Channel>> {
    let mut prefixes = BTreeSet::new();
    let entries = fs::read_dir(dir).map_err(|e| file_error("list", dir, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| file_error("list", dir, &e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !(name.starts_with("in_") || name.starts_with("out_")) {
            continue;
        }
        for suffix in ["_en", "_index", "_type"] {
            if let Some(prefix) = name.strip_suffix(suffix) {
                prefixes.insert(prefix.to_string());
            }
        }
    }
    let mut channels = Vec::with_capacity(prefixes.len());
    for prefix in prefixes {
        let (direction, id) = if let Some(id) = prefix.strip_prefix("in_") {
            (Direction::In, id)
        } else if let Some(id) = prefix.strip_prefix("out_") {
            (Direction::Out, id)
        } else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        let index_path = dir.join(format!("{prefix}_index"));
        let index_text = read_trimmed(&index_path)?;
        let index = index_text.parse::<u32>().map_err(|_| Error::Parse {
            path: index_path.clone(),
            text: index_text.clone(),
            expected: "a scan index (a non-negative integer)",
        })?;
        let type_path = dir.join(format!("{prefix}_type"));
        let format =
            ScanFormat::parse(&read_trimmed(&type_path)?).map_err(|source| Error::Format {
                path: type_path.clone(),
                source,
            })?;
        let en_path = dir.join(format!("{prefix}_en"));
        let enabled = parse_flag(&en_path, &read_trimmed(&en_path)?)?;
        channels.push(Channel {
            id: id.to_string(),
            direction,
            index,
            enabled,
            format,
        });
    }
    channels.sort_by(|a, b| a.index.cmp(&b.index).then_with(|| a.id.cmp(&b.id)));
    Ok(channels)
}

/// Writes a buffer's `length`, `watermark` and `enable` attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferControl {
    device: String,
    attr_dir: PathBuf,
}

impl BufferControl {
    /// Control of the buffer whose attributes are in `attr_dir` (`…/bufferN` or
    /// `…/buffer`); `device` names it in messages.
    pub fn new(device: impl Into<String>, attr_dir: impl Into<PathBuf>) -> BufferControl {
        BufferControl {
            device: device.into(),
            attr_dir: attr_dir.into(),
        }
    }

    /// The attributes directory.
    pub fn attr_dir(&self) -> &Path {
        &self.attr_dir
    }

    /// The device name used in messages.
    pub fn device(&self) -> &str {
        &self.device
    }

    fn write(&self, attr: &str, value: &str) -> Result<()> {
        write_attribute(attr, &self.attr_dir.join(attr), value)
    }

    /// Sets `length` (samples), unless it already has that value (the kernel treats an
    /// unchanged value as a no-op too, even while enabled).
    pub fn set_length(&self, samples: u64) -> Result<()> {
        let path = self.attr_dir.join("length");
        if read_optional(&path)?.is_some_and(|t| t == samples.to_string()) {
            return Ok(());
        }
        self.write("length", &samples.to_string())
    }

    /// Sets `watermark` (samples) if the buffer has one; `Ok(false)` when it does not.
    pub fn set_watermark(&self, samples: u64) -> Result<bool> {
        let path = self.attr_dir.join("watermark");
        match read_optional(&path)? {
            None => Ok(false),
            Some(t) if t == samples.to_string() => Ok(true),
            Some(_) => self.write("watermark", &samples.to_string()).map(|()| true),
        }
    }

    /// Writes `enable`.
    pub fn set_enabled(&self, enabled: bool) -> Result<()> {
        self.write("enable", if enabled { "1" } else { "0" })
    }

    /// Reads `enable`.
    pub fn is_enabled(&self) -> Result<bool> {
        let path = self.attr_dir.join("enable");
        parse_flag(&path, &read_trimmed(&path)?)
    }
}

pub(crate) fn file_error(op: &'static str, path: &Path, e: &std::io::Error) -> Error {
    Error::File {
        op,
        path: path.to_path_buf(),
        errno: errno_of(e),
        detail: String::new(),
    }
}

/// Reads a sysfs file, without its trailing newline.
pub(crate) fn read_trimmed(path: &Path) -> Result<String> {
    read_optional(path)?.ok_or_else(|| Error::File {
        op: "read",
        path: path.to_path_buf(),
        errno: Errno::NOENT,
        detail: String::new(),
    })
}

/// Like [`read_trimmed`], `None` when the file does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    let Some(bytes) = read_attribute_file(path)? else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).map_err(|_| Error::File {
        op: "read",
        path: path.to_path_buf(),
        errno: Errno::ILSEQ,
        detail: "not UTF-8 text".to_string(),
    })?;
    Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
}

/// Reads an attribute file whole, at most one page (`sysfs_emit` fills one page at the most;
/// 4096 bytes on the usual kernels), `None` when it does not exist. Only a regular file is
/// opened, and without blocking: a FIFO or a device node where an attribute should be (a
/// broken or hostile tree; `/dev/zero` would never end, a FIFO never answer) is refused with
/// an error naming the file, as is a file larger than a page.
pub(crate) fn read_attribute_file(path: &Path) -> Result<Option<Vec<u8>>> {
    use rustix::fs::{FileType, Mode, OFlags};
    let refused = |errno: Errno, detail: String| Error::File {
        op: "read",
        path: path.to_path_buf(),
        errno,
        detail,
    };
    let stat = match rustix::fs::stat(path) {
        Ok(stat) => stat,
        Err(Errno::NOENT) => return Ok(None),
        Err(errno) => return Err(refused(errno, String::new())),
    };
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        let what = match kind {
            FileType::Fifo => "a FIFO",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            FileType::Socket => "a socket",
            FileType::Directory => "a directory",
            _ => "not a regular file",
        };
        return Err(refused(
            Errno::INVAL,
            format!("{what}, where an attribute file was expected"),
        ));
    }
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(errno) => return Err(refused(errno, String::new())),
    };
    let limit = rustix::param::page_size();
    // One byte more than the limit, to tell a full page from a larger file.
    let mut bytes = vec![0u8; limit + 1];
    let mut len = 0;
    while len < bytes.len() {
        match rustix::io::read(&fd, &mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(errno) => return Err(refused(errno, String::new())),
        }
    }
    if len > limit {
        return Err(refused(
            Errno::FBIG,
            format!("larger than a page ({limit} bytes), which no attribute is"),
        ));
    }
    bytes.truncate(len);
    Ok(Some(bytes))
}

fn parse_u64(path: &Path, text: &str) -> Result<u64> {
    text.trim().parse::<u64>().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        text: text.to_string(),
        expected: "a non-negative integer",
    })
}

fn parse_flag(path: &Path, text: &str) -> Result<bool> {
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(Error::Parse {
            path: path.to_path_buf(),
            text: text.to_string(),
            expected: "0 or 1",
        }),
    }
}

/// Writes `value` to an attribute file in one `write()` (what sysfs requires). The file must
/// exist: attributes are never created. Truncating is harmless on sysfs and keeps plain
/// files (fake trees) holding exactly the value.
pub(crate) fn write_attribute(attr: &str, path: &Path, value: &str) -> Result<()> {
    let attribute_error = |e: &std::io::Error| Error::Attribute {
        attr: attr.to_string(),
        path: path.to_path_buf(),
        value: value.to_string(),
        errno: errno_of(e),
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| attribute_error(&e))?;
    let written = file
        .write(value.as_bytes())
        .map_err(|e| attribute_error(&e))?;
    if written != value.len() {
        return Err(Error::Attribute {
            attr: attr.to_string(),
            path: path.to_path_buf(),
            value: value.to_string(),
            errno: Errno::IO,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeChannel, FakeSysfs};

    /// A `name` that is not an attribute file: whoever lists or opens the device gets an error
    /// naming the file at once, neither a hang (a FIFO with no writer) nor an endless read
    /// (`/dev/zero`), nor a file read whole however large.
    #[test]
    fn a_name_that_is_no_attribute_file_is_refused_naming_it() {
        let page = rustix::param::page_size();
        type MakeName<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, MakeName); 3] = [
            ("a FIFO", &|name| {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    name,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    0,
                )
                .unwrap();
            }),
            ("a character device", &|name| {
                std::os::unix::fs::symlink("/dev/zero", name).unwrap();
            }),
            ("larger than a page", &|name| {
                fs::write(name, vec![b'a'; page + 1]).unwrap();
            }),
        ];
        for (what, make) in cases {
            let fake = FakeSysfs::new();
            let device = fake.device(0);
            let name = device.path().join("name");
            let _ = fs::remove_file(&name);
            make(&name);
            let sysfs = Sysfs::new(fake.root()).with_dev_root(fake.dev_root());
            for e in [
                sysfs.devices().unwrap_err(),
                sysfs.find("anything").unwrap_err(),
            ] {
                let text = e.to_string();
                assert!(text.contains(&name.display().to_string()), "{what}: {text}");
                assert!(text.contains(what), "{what}: {text}");
            }
        }
        // A page exactly (the name and its newline) is an attribute's most, and is read.
        let fake = FakeSysfs::new();
        fake.device(0).name(&"n".repeat(page - 1));
        let device = Sysfs::new(fake.root()).load("iio:device0").unwrap();
        assert_eq!(device.name.as_deref().map(str::len), Some(page - 1));
    }

    fn two_device_tree() -> FakeSysfs {
        let fake = FakeSysfs::new();
        fake.device(0)
            .name("ad9361-phy")
            .attr("in_voltage_sampling_frequency", "30720000")
            .attr("in_voltage0_hardwaregain", "71.000000 dB");
        fake.device(2)
            .name("cf-ad9361-lpc")
            .label("rx0")
            .buffer(
                0,
                &[
                    ("length", "4096"),
                    ("enable", "0"),
                    ("watermark", "2048"),
                    ("length_align_bytes", "8"),
                    ("direction", "in"),
                ],
                &[
                    FakeChannel::new("in_voltage1", 1, "le:s12/16>>0", true),
                    FakeChannel::new("in_voltage0", 0, "le:s12/16>>4", true),
                    FakeChannel::new("in_timestamp", 4, "le:s64/64>>0", false),
                ],
            )
            .buffer(
                1,
                &[("length", "1024"), ("enable", "0")],
                &[FakeChannel::new("out_voltage0", 0, "be:u24/32>>0", false)],
            );
        fake.device(10).name("legacy-adc").legacy_buffer(
            &[("length", "128"), ("enable", "1")],
            &[
                FakeChannel::new("in_voltage0", 0, "le:u8/8>>0", true),
                FakeChannel::new("in_voltage1", 1, "le:s16/16X4>>0", true),
            ],
        );
        fake
    }

    #[test]
    fn enumerates_devices_in_numeric_order_and_skips_triggers() {
        let fake = two_device_tree();
        fs::create_dir(fake.root().join("trigger0")).unwrap();
        let sysfs = Sysfs::new(fake.root()).with_dev_root(fake.dev_root());
        assert_eq!(
            sysfs.device_ids().unwrap(),
            ["iio:device0", "iio:device2", "iio:device10"]
        );
        let devices = sysfs.devices().unwrap();
        assert_eq!(devices.len(), 3);
        let phy = &devices[0];
        assert_eq!(phy.name.as_deref(), Some("ad9361-phy"));
        assert_eq!(phy.label, None);
        assert_eq!(phy.display_name(), "ad9361-phy");
        assert!(phy.buffers.is_empty());
        assert_eq!(
            phy.attributes,
            ["in_voltage0_hardwaregain", "in_voltage_sampling_frequency"]
        );
        assert_eq!(phy.node, fake.dev_root().join("iio:device0"));
        assert_eq!(
            phy.read_attr("in_voltage0_hardwaregain").unwrap(),
            "71.000000 dB"
        );
    }

    #[test]
    fn per_buffer_layout_with_channels_and_attributes() {
        let fake = two_device_tree();
        let dev = Sysfs::new(fake.root()).load("iio:device2").unwrap();
        assert_eq!(dev.label.as_deref(), Some("rx0"));
        assert_eq!(dev.display_name(), "rx0");
        assert_eq!(dev.buffers.len(), 2);
        let b0 = dev.buffer(0).unwrap();
        assert_eq!(b0.layout, BufferLayout::PerBuffer);
        assert_eq!(b0.attr_dir, dev.path.join("buffer0"));
        assert_eq!(b0.scan_dir, dev.path.join("buffer0"));
        assert_eq!(
            b0.attrs,
            BufferAttributes {
                length: Some(4096),
                watermark: Some(2048),
                enabled: Some(false),
                length_align_bytes: Some(8),
                data_available: None,
                direction: Some(Direction::In),
            }
        );
        let ids: Vec<_> = b0
            .channels
            .iter()
            .map(|c| (c.id.as_str(), c.index))
            .collect();
        assert_eq!(ids, [("voltage0", 0), ("voltage1", 1), ("timestamp", 4)]);
        let v0 = b0.channel("voltage0").unwrap();
        assert_eq!(v0.format.to_string(), "le:s12/16>>4");
        assert_eq!(v0.direction, Direction::In);
        assert!(v0.enabled);
        assert_eq!(v0.prefix(), "in_voltage0");
        assert!(b0.channel("timestamp").unwrap().is_timestamp());
        assert_eq!(b0.enabled_layout().scan_bytes(), 4);
        let b1 = dev.buffer(1).unwrap();
        assert_eq!(b1.attrs.watermark, None);
        assert_eq!(b1.attrs.length_align_bytes, None);
        assert_eq!(b1.attrs.direction, None);
        assert_eq!(b1.direction(), Some(Direction::Out)); // from its channels
        assert_eq!(b1.channels[0].format.to_string(), "be:u24/32>>0");
        assert!(dev.buffer(2).is_none());
    }

    #[test]
    fn legacy_layout() {
        let fake = two_device_tree();
        let dev = Sysfs::new(fake.root()).load("iio:device10").unwrap();
        assert_eq!(dev.buffers.len(), 1);
        let b = &dev.buffers[0];
        assert_eq!((b.index, b.layout), (0, BufferLayout::Legacy));
        assert_eq!(b.attr_dir, dev.path.join("buffer"));
        assert_eq!(b.scan_dir, dev.path.join("scan_elements"));
        assert_eq!(b.attrs.enabled, Some(true));
        assert_eq!(b.attrs.length, Some(128));
        assert_eq!(b.channels.len(), 2);
        assert_eq!(b.channels[1].format.repeat, 4);
        // u8 at 0, s16X4 (8 bytes) at 8 → 16.
        assert_eq!(b.enabled_layout().scan_bytes(), 16);
        assert_eq!(b.direction(), Some(Direction::In));
    }

    #[test]
    fn new_kernels_with_both_layouts_use_the_per_buffer_one() {
        let fake = FakeSysfs::new();
        fake.device(0)
            .buffer(
                0,
                &[("enable", "0")],
                &[FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", true)],
            )
            .legacy_buffer(
                &[("enable", "0")],
                &[FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", true)],
            );
        let dev = Sysfs::new(fake.root()).load("iio:device0").unwrap();
        assert_eq!(dev.buffers.len(), 1);
        assert_eq!(dev.buffers[0].layout, BufferLayout::PerBuffer);
    }

    #[test]
    fn find_by_id_label_or_name() {
        let fake = two_device_tree();
        let sysfs = Sysfs::new(fake.root());
        assert_eq!(sysfs.find("iio:device10").unwrap().id, "iio:device10");
        assert_eq!(sysfs.find("rx0").unwrap().id, "iio:device2");
        assert_eq!(sysfs.find("cf-ad9361-lpc").unwrap().id, "iio:device2");
        assert_eq!(sysfs.find("legacy-adc").unwrap().id, "iio:device10");
        let e = sysfs.find("nope").unwrap_err().to_string();
        assert!(e.contains("iio:device0, iio:device2, iio:device10"), "{e}");
    }

    #[test]
    fn bad_type_string_is_a_typed_error_naming_file_and_string() {
        let fake = FakeSysfs::new();
        fake.device(0).buffer(
            0,
            &[("enable", "0")],
            &[FakeChannel::new("in_voltage0", 0, "le:s12/8>>4", true)],
        );
        let e = Sysfs::new(fake.root()).load("iio:device0").unwrap_err();
        let Error::Format { path, source } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(
            path,
            &fake.root().join("iio:device0/buffer0/in_voltage0_type")
        );
        assert_eq!(source.text, "le:s12/8>>4");
        let s = e.to_string();
        assert!(
            s.contains("in_voltage0_type") && s.contains("\"le:s12/8>>4\""),
            "{s}"
        );
    }

    #[test]
    fn missing_or_malformed_files_name_the_file() {
        let fake = FakeSysfs::new();
        let dev = fake.device(0).buffer(
            0,
            &[("enable", "0")],
            &[FakeChannel::new("in_voltage0", 0, "le:s16/16>>0", true)],
        );
        let sysfs = Sysfs::new(fake.root());
        let index = dev.path().join("buffer0/in_voltage0_index");
        fs::write(&index, "x\n").unwrap();
        let e = sysfs.load("iio:device0").unwrap_err();
        assert!(
            matches!(&e, Error::Parse { path, text, .. } if *path == index && text == "x"),
            "{e:?}"
        );
        fs::remove_file(&index).unwrap();
        let e = sysfs.load("iio:device0").unwrap_err();
        assert!(
            matches!(&e, Error::File { path, errno: Errno::NOENT, .. } if *path == index),
            "{e:?}"
        );
        assert_eq!(e.errno(), Some(Errno::NOENT));
        fs::write(&index, "0\n").unwrap();
        fs::write(dev.path().join("buffer0/enable"), "maybe").unwrap();
        let e = sysfs.load("iio:device0").unwrap_err();
        assert!(e.to_string().contains("expected 0 or 1"), "{e}");
        fs::write(dev.path().join("buffer0/enable"), "1").unwrap();
        fs::write(dev.path().join("buffer0/length"), "-3").unwrap();
        assert!(matches!(
            sysfs.load("iio:device0"),
            Err(Error::Parse { .. })
        ));
        fs::write(dev.path().join("buffer0/length"), "3").unwrap();
        fs::write(dev.path().join("buffer0/direction"), "sideways").unwrap();
        assert!(matches!(
            sysfs.load("iio:device0"),
            Err(Error::Parse { .. })
        ));
        let e = Sysfs::new(fake.root().join("nope"))
            .device_ids()
            .unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT));
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn attribute_writes_and_params() {
        let fake = two_device_tree();
        let dev = Sysfs::new(fake.root()).load("iio:device0").unwrap();
        dev.apply_params(&[
            "in_voltage_sampling_frequency=1000000",
            " in_voltage0_hardwaregain =10 dB",
        ])
        .unwrap();
        assert_eq!(
            dev.read_attr("in_voltage_sampling_frequency").unwrap(),
            "1000000"
        );
        assert_eq!(dev.read_attr("in_voltage0_hardwaregain").unwrap(), "10 dB");
        // Unknown attribute: ENOENT, naming attribute, path and value; never created.
        let e = dev.apply_params(&["nonexistent=5"]).unwrap_err();
        let Error::Attribute {
            attr,
            path,
            value,
            errno,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(
            (attr.as_str(), value.as_str(), *errno),
            ("nonexistent", "5", Errno::NOENT)
        );
        assert_eq!(path, &dev.path.join("nonexistent"));
        assert!(!path.exists());
        let s = e.to_string();
        assert!(
            s.contains("nonexistent") && s.contains(&path.display().to_string()),
            "{s}"
        );
        // Malformed parameters.
        for p in ["novalue", "=5", "../name=x", "a/b=1"] {
            assert!(
                matches!(dev.apply_params(&[p]), Err(Error::Param { .. })),
                "{p}"
            );
        }
        assert_eq!(
            parse_param("a=b=c").unwrap(),
            ("a".to_string(), "b=c".to_string())
        );
        assert_eq!(parse_param("a=").unwrap(), ("a".to_string(), String::new()));
        assert!(dev.write_attr("../x", "1").is_err());
        assert!(dev.read_attr("").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn attribute_write_refused_by_permissions_names_errno() {
        use std::os::unix::fs::PermissionsExt;
        let fake = two_device_tree();
        let dev = Sysfs::new(fake.root()).load("iio:device0").unwrap();
        // A directory where a file is expected: EISDIR, whoever we run as.
        fs::create_dir(dev.path.join("odd")).unwrap();
        let e = dev.write_attr("odd", "1").unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ISDIR));
        let ro = dev.path.join("in_voltage0_hardwaregain");
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o444)).unwrap();
        // Root ignores file modes, so only check the message shape when refused.
        if let Err(e) = dev.write_attr("in_voltage0_hardwaregain", "1") {
            assert_eq!(e.errno(), Some(Errno::ACCESS));
        }
    }

    #[test]
    fn buffer_control_and_channel_enables() {
        let fake = two_device_tree();
        let dev = Sysfs::new(fake.root()).load("iio:device2").unwrap();
        let b0 = dev.buffer(0).unwrap();
        let control = b0.control("rx0");
        assert_eq!(control.device(), "rx0");
        control.set_length(8192).unwrap();
        assert!(control.set_watermark(1024).unwrap());
        control.set_enabled(true).unwrap();
        assert!(control.is_enabled().unwrap());
        let b0 = Sysfs::new(fake.root()).load("iio:device2").unwrap().buffers[0].clone();
        assert_eq!(b0.attrs.length, Some(8192));
        assert_eq!(b0.attrs.watermark, Some(1024));
        let b1 = dev.buffer(1).unwrap();
        assert!(!b1.control("x").set_watermark(1).unwrap()); // no watermark file
        b0.set_channel_enabled(b0.channel("voltage1").unwrap(), false)
            .unwrap();
        b0.set_channel_enabled(b0.channel("timestamp").unwrap(), true)
            .unwrap();
        let b0 = Sysfs::new(fake.root()).load("iio:device2").unwrap().buffers[0].clone();
        let enabled: Vec<_> = b0
            .channels
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(enabled, ["voltage0", "timestamp"]);
        // voltage0 s16 at 0, timestamp s64 aligned to 8 → 16.
        assert_eq!(b0.enabled_layout().scan_bytes(), 16);
        let e = BufferControl::new("gone", fake.root().join("nope"))
            .set_enabled(true)
            .unwrap_err();
        assert!(matches!(
            e,
            Error::Attribute {
                errno: Errno::NOENT,
                ..
            }
        ));
    }
}

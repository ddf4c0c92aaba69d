//! The text of `weir iio list`: devices, buffers, channels, and transports, rendered from
//! [`mod@weir_iio::inventory`].

use std::fmt::Write as _;
use std::path::Path;

use weir_iio::inventory::{
    DeviceEntry, DeviceInventory, Inventory, InventoryOptions, MainlineProbe, NodeAccess, SeedOn,
    SeedProbe, Transports, inventory,
};
use weir_iio::sysfs::{Buffer, BufferLayout, Sysfs};
use weir_iio::{Direction, Error, TransportKind};

/// The text of `weir iio list` for the devices under `root` (e.g. `/sys/bus/iio/devices`),
/// without probing: which DMABUF interfaces a buffer supports can only be known by trying,
/// so they are reported as untested. Device nodes are looked up in `/dev`.
pub fn list_report(root: &Path) -> weir_iio::Result<String> {
    list_report_with(&Sysfs::new(root), &InventoryOptions::default())
}

/// [`list_report`] for any tree, optionally probing the transports.
///
/// Fails only when the root cannot be listed; a device that cannot be read is reported in
/// the text with its error.
pub fn list_report_with(sysfs: &Sysfs, options: &InventoryOptions) -> weir_iio::Result<String> {
    Ok(text(&inventory(sysfs, options)?))
}

/// The text of an inventory.
pub fn text(inventory: &Inventory) -> String {
    let mut out = String::new();
    if inventory.devices.is_empty() {
        let _ = writeln!(out, "no IIO devices under {}", inventory.root.display());
        return out;
    }
    for entry in &inventory.devices {
        match entry {
            DeviceEntry::Read(device) => device_report(&mut out, device),
            DeviceEntry::Unreadable { id, error } => {
                let _ = writeln!(out, "{id}: error: {error}");
            }
        }
    }
    out
}

fn device_report(out: &mut String, entry: &DeviceInventory) {
    let device = &entry.device;
    let _ = write!(out, "{}", device.id);
    match (&device.name, &device.label) {
        (Some(name), Some(label)) => {
            let _ = write!(out, ": {name} (label {label})");
        }
        (Some(name), None) => {
            let _ = write!(out, ": {name}");
        }
        (None, Some(label)) => {
            let _ = write!(out, ": (label {label})");
        }
        (None, None) => {}
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "  node: {} ({})",
        device.node.display(),
        describe(entry.node)
    );
    if !device.attributes.is_empty() {
        let _ = writeln!(out, "  attributes: {}", device.attributes.join(", "));
    }
    if device.buffers.is_empty() {
        let _ = writeln!(out, "  no buffers");
    }
    for (buffer, transports) in entry.buffers() {
        buffer_report(out, buffer, entry.node, transports);
    }
}

fn describe(node: NodeAccess) -> String {
    match node {
        NodeAccess::Absent => "absent".to_string(),
        NodeAccess::Inaccessible(e) => format!("not accessible: {e}"),
        NodeAccess::Accessible => "accessible".to_string(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn buffer_report(out: &mut String, buffer: &Buffer, node: NodeAccess, transports: &Transports) {
    let a = &buffer.attrs;
    let _ = write!(
        out,
        "  buffer{}: {}, length {}, watermark {}, enable {}",
        buffer.index,
        buffer.direction().map_or("mixed", |d| match d {
            Direction::In => "in",
            Direction::Out => "out",
        }),
        opt(a.length),
        opt(a.watermark),
        opt(a.enabled.map(u8::from)),
    );
    if let Some(align) = a.length_align_bytes {
        let _ = write!(out, ", length_align_bytes {align}");
    }
    if let Some(available) = a.data_available {
        let _ = write!(out, ", data_available {available}");
    }
    if buffer.layout == BufferLayout::Legacy {
        out.push_str(" (legacy buffer/ + scan_elements/)");
    }
    out.push('\n');
    let _ = writeln!(out, "    transports: {}", transports_line(node, transports));
    if buffer.channels.is_empty() {
        let _ = writeln!(out, "    no channels");
        return;
    }
    let _ = writeln!(out, "    channels (scan index, name, format, state):");
    let width = buffer
        .channels
        .iter()
        .map(|c| c.prefix().len())
        .max()
        .unwrap_or(0);
    for c in &buffer.channels {
        let _ = writeln!(
            out,
            "      {:>3}  {:<width$}  {:<16}  {}",
            c.index,
            c.prefix(),
            c.format.to_string(),
            if c.enabled { "enabled" } else { "disabled" },
        );
    }
    let layout = buffer.enabled_layout();
    let _ = writeln!(
        out,
        "    sample size with the enabled channels: {} bytes",
        layout.scan_bytes()
    );
}

/// "dmabuf: …; seed: …; fileio: …".
fn transports_line(node: NodeAccess, transports: &Transports) -> String {
    let fileio = match node {
        NodeAccess::Absent => "fileio: needs the device node",
        _ => "fileio: available",
    };
    match transports {
        Transports::NotProbed => format!(
            "dmabuf: untested (needs /dev access); seed: untested (needs /dev access); {fileio}"
        ),
        Transports::NoNode => {
            format!("dmabuf: untested (no device node); seed: untested (no device node); {fileio}")
        }
        Transports::NodeInaccessible(e) => {
            format!("dmabuf: untested (device node not accessible: {e}); seed: untested; {fileio}")
        }
        Transports::NoBufferFd(e) => format!("dmabuf: untested ({e}); seed: untested; {fileio}"),
        Transports::Probed { mainline, seed } => {
            let mainline = match mainline {
                MainlineProbe::Works(allocator) => format!("yes (with {allocator})"),
                MainlineProbe::Refused(e) => format!("no ({})", short(e)),
                MainlineProbe::NoAllocator(refusals) => {
                    let reasons: Vec<String> = refusals
                        .iter()
                        .map(|(allocator, e)| format!("{allocator}: {}", short(e)))
                        .collect();
                    format!("untested (no DMABUF allocator: {})", reasons.join("; "))
                }
            };
            let seed = match seed {
                SeedProbe::Works(SeedOn::Node) => "yes (on the device node)".to_string(),
                SeedProbe::Works(SeedOn::Buffer) => "yes (on the buffer fd)".to_string(),
                SeedProbe::Refused(e) => format!("no ({})", seed_short(e)),
            };
            format!(
                "{}: {mainline}; {}: {seed}; {fileio}",
                TransportKind::Dmabuf,
                TransportKind::Seed
            )
        }
    }
}

/// The seed's refusal in a few words: each fd tried with its errno.
fn seed_short(e: &Error) -> String {
    match e {
        Error::Os { detail, .. } if !detail.is_empty() => detail.clone(),
        other => short(other),
    }
}

/// An error in a few words: the errno, else the message.
fn short(e: &Error) -> String {
    match e {
        Error::Os { op, errno, .. } => format!("{op}: {errno}"),
        Error::File {
            op, errno, path, ..
        } => format!("{op} {}: {errno}", path.display()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_iio::Allocator;
    use weir_iio::testing::{FakeChannel, FakeSysfs};

    fn tree() -> FakeSysfs {
        let fake = FakeSysfs::new();
        fake.device(0)
            .name("adc")
            .label("rx")
            .attr("sampling_frequency", "1000")
            .buffer(
                0,
                &[
                    ("length", "4096"),
                    ("enable", "0"),
                    ("watermark", "1"),
                    ("length_align_bytes", "16"),
                    ("direction", "in"),
                ],
                &[
                    FakeChannel::new("in_voltage0", 0, "le:s12/16>>4", true),
                    FakeChannel::new("in_voltage1", 1, "le:s12/16>>4", false),
                    FakeChannel::new("in_timestamp", 2, "le:s64/64>>0", true),
                ],
            );
        fake.device(1).name("phy");
        fake.device(3).legacy_buffer(
            &[("length", "8"), ("enable", "1")],
            &[FakeChannel::new("out_voltage0", 0, "be:u16/16>>0", true)],
        );
        fake
    }

    #[test]
    fn report_lists_devices_buffers_channels_and_transports() {
        let fake = tree();
        let text = list_report(fake.root()).unwrap();
        let expected_lines = [
            "iio:device0: adc (label rx)",
            "  node: /dev/iio:device0 (",
            "  attributes: sampling_frequency",
            "  buffer0: in, length 4096, watermark 1, enable 0, length_align_bytes 16",
            "    transports: dmabuf: untested (needs /dev access); seed: untested (needs /dev access); fileio: ",
            "        0  in_voltage0   le:s12/16>>4      enabled",
            "        1  in_voltage1   le:s12/16>>4      disabled",
            "        2  in_timestamp  le:s64/64>>0      enabled",
            "    sample size with the enabled channels: 16 bytes",
            "iio:device1: phy",
            "  no buffers",
            "iio:device3",
            "  buffer0: out, length 8, watermark -, enable 1 (legacy buffer/ + scan_elements/)",
            "        0  out_voltage0  be:u16/16>>0      enabled",
        ];
        for line in expected_lines {
            assert!(
                text.lines().any(|l| l.starts_with(line)),
                "missing {line:?} in\n{text}"
            );
        }
        // Devices in order.
        let d0 = text.find("iio:device0").unwrap();
        let d1 = text.find("iio:device1").unwrap();
        let d3 = text.find("iio:device3").unwrap();
        assert!(d0 < d1 && d1 < d3);
    }

    #[test]
    fn probing_with_a_node_that_knows_no_ioctl() {
        let fake = tree();
        fake.fifo_node(0);
        let sysfs = Sysfs::new(fake.root()).with_dev_root(fake.dev_root());
        // Without probing: untested even though the node is there.
        let text = list_report_with(&sysfs, &InventoryOptions::default()).unwrap();
        assert!(text.contains("(accessible)"), "{text}");
        assert!(
            text.contains("dmabuf: untested (needs /dev access)"),
            "{text}"
        );
        assert!(text.contains("iio:device1"), "{text}");
        assert!(
            text.contains("node: ") && text.contains("iio:device1 (absent)"),
            "{text}"
        );
        // Probing: the FIFO answers ENOTTY to everything, like a kernel without DMABUF.
        let heap = fake.base().join("heap");
        std::fs::write(&heap, "").unwrap(); // a file, not a heap: its ioctl fails too
        let options = InventoryOptions {
            probe: true,
            allocators: vec![
                Allocator::DmaHeap(fake.base().join("missing-heap")),
                Allocator::DmaHeap(heap),
            ],
        };
        let text = list_report_with(&sysfs, &options).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("transports:") && l.contains("seed: no"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            line.contains("dmabuf: untested (no DMABUF allocator: dma-heap"),
            "{line}"
        );
        assert!(line.contains("missing-heap: open"), "{line}");
        assert!(line.contains("DMA_HEAP_IOCTL_ALLOC"), "{line}");
        assert!(line.contains("fileio: available"), "{line}");
        // Device 3 has no node: untested.
        assert!(text.contains("dmabuf: untested (no device node)"), "{text}");
        // Nothing was written to sysfs by probing.
        let again = list_report_with(&sysfs, &InventoryOptions::default()).unwrap();
        assert!(again.contains("enable 0, length_align_bytes 16"), "{again}");
    }

    #[test]
    fn broken_device_is_reported_inline_and_empty_trees_say_so() {
        let fake = tree();
        fake.device(7).buffer(
            0,
            &[("enable", "0")],
            &[FakeChannel::new("in_voltage0", 0, "le:s12/16", true)],
        );
        let text = list_report(fake.root()).unwrap();
        let line = text.lines().find(|l| l.starts_with("iio:device7")).unwrap();
        assert!(
            line.contains("error:")
                && line.contains("in_voltage0_type")
                && line.contains("le:s12/16"),
            "{line}"
        );
        let empty = FakeSysfs::new();
        assert!(
            list_report(empty.root())
                .unwrap()
                .starts_with("no IIO devices under")
        );
        assert!(list_report(&empty.root().join("missing")).is_err());
    }
}

//! `Device::scan_layout`: the layout `open_buffer` would set up, read from sysfs without
//! changing anything on the device (what a flowgraph checks its converters against at load
//! time).

use std::fs;

use weir_iio::testing::{FakeChannel, FakeSysfs};
use weir_iio::{Direction, Sysfs};

fn read(fake: &FakeSysfs, file: &str) -> String {
    fs::read_to_string(fake.root().join("iio:device0/buffer0").join(file))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn the_layout_of_the_channels_asked_for_without_touching_their_enables() {
    let fake = FakeSysfs::new();
    fake.device(0).name("adc").buffer(
        0,
        &[("enable", "0"), ("direction", "in")],
        &[
            // Scan-index order differs from the names' order; enables are as left by someone
            // else, and must stay so.
            FakeChannel::new("in_voltage1", 0, "be:s24/32>>8", false),
            FakeChannel::new("in_voltage0", 1, "le:s12/16>>4", true),
            FakeChannel::new("in_timestamp", 2, "le:s64/64>>0", true),
        ],
    );
    let device = Sysfs::new(fake.root()).find("adc").unwrap();

    // Default: every channel of the buffer's direction except the timestamp.
    let (direction, layout) = device.scan_layout(0, &[]).unwrap();
    assert_eq!(direction, Direction::In);
    let placed: Vec<_> = layout
        .elements()
        .iter()
        .map(|e| (e.channel.as_str(), e.index, e.format.to_string(), e.offset))
        .collect();
    assert_eq!(
        placed,
        [
            ("voltage1", 0, "be:s24/32>>8".to_string(), 0),
            ("voltage0", 1, "le:s12/16>>4".to_string(), 4),
        ]
    );
    assert_eq!(layout.scan_bytes(), 8);

    // The timestamp, when asked for, in its scan-index place, aligned to 8 bytes.
    let channels = ["timestamp".to_string(), "voltage0".to_string()];
    let (_, layout) = device.scan_layout(0, &channels).unwrap();
    let placed: Vec<_> = layout
        .elements()
        .iter()
        .map(|e| (e.channel.as_str(), e.offset))
        .collect();
    assert_eq!(placed, [("voltage0", 0), ("timestamp", 8)]);
    assert_eq!(layout.scan_bytes(), 16);

    // Read only.
    assert_eq!(read(&fake, "in_voltage1_en"), "0");
    assert_eq!(read(&fake, "in_voltage0_en"), "1");
    assert_eq!(read(&fake, "in_timestamp_en"), "1");
    assert_eq!(read(&fake, "enable"), "0");

    // Errors name the device and what is missing.
    let e = device
        .scan_layout(0, &["voltage7".to_string()])
        .unwrap_err();
    assert!(e.to_string().contains("voltage7"), "{e}");
    assert!(e.to_string().contains("adc"), "{e}");
    let e = device.scan_layout(3, &[]).unwrap_err();
    assert!(e.to_string().contains("no buffer 3"), "{e}");
}

#[test]
fn an_output_buffer_says_so() {
    let fake = FakeSysfs::new();
    fake.device(0).name("dac").buffer(
        0,
        &[("enable", "0")],
        &[
            FakeChannel::new("out_voltage0", 0, "le:S12/16>>0", false),
            FakeChannel::new("out_voltage1", 1, "le:S12/16>>0", false),
        ],
    );
    let device = Sysfs::new(fake.root()).find("dac").unwrap();
    let (direction, layout) = device.scan_layout(0, &[]).unwrap();
    assert_eq!(direction, Direction::Out);
    assert_eq!(layout.scan_bytes(), 4);
    assert!(layout.elements().iter().all(|e| e.format.fully_defined));
}

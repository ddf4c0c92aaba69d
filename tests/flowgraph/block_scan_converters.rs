//! `scan_to_cf32` / `scan_to_f32`: every scan format form against hand-computed values, through
//! real FutureSDR flowgraphs (circular buffers, and by-reference blocks ending mid-scan).

use std::sync::Arc;

use futuresdr::runtime::dev::{DefaultCpuReader, DefaultCpuWriter, ItemTag};
use weir_core::buffer::MappedBlockReader;
use weir_core::testing::blocks::{CollectSink, MappedSource, id_tag, tag_ids};
use weir_core::testing::{run_chain, run_through};
use weir_core::{
    BuildError, Cf32, ChannelLayout, ItemType, LayoutChannel, Params, PeerLayout, PeerLayouts,
    Value,
};
use weir_plugin_dsp::scan::{ScanSpec, ci16_pairs, device_scan_layout, scan_spec};
use weir_plugin_dsp::{AddressLog, ScanConverter, scan_to_cf32, scan_to_f32};

use crate::support::param_names;

/// Resolved parameters of `scan_to_cf32` (defaults filled in) from `raw`.
fn cf32_params(raw: &[(&str, Value)]) -> Result<Params, BuildError> {
    scan_to_cf32::descriptor().resolve(raw.iter().map(|(k, v)| (*k, v.clone())))
}

fn f32_params(raw: &[(&str, Value)]) -> Result<Params, BuildError> {
    scan_to_f32::descriptor().resolve(raw.iter().map(|(k, v)| (*k, v.clone())))
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn cf32_spec(raw: &[(&str, Value)]) -> ScanSpec {
    scan_spec(&cf32_params(raw).expect("params"), &["i", "q"]).expect("spec")
}

/// `scan_to_cf32` of a four-channel `format`, I element 2 and Q element 3, scale 1.
fn iq_of_four(format: &str) -> ScanSpec {
    cf32_spec(&[
        ("format", s(format)),
        ("channels", Value::Int(4)),
        ("i", Value::Int(2)),
        ("q", Value::Int(3)),
        ("scale", Value::Float(1.0)),
    ])
}

/// `scan_to_f32` of element `element` of a four-channel `format`, with `scale` if given.
fn element_of_four(format: &str, element: i64, scale: Option<f64>) -> ScanSpec {
    let mut raw = vec![
        ("format", s(format)),
        ("channels", Value::Int(4)),
        ("element", Value::Int(element)),
    ];
    raw.extend(scale.map(|v| ("scale", Value::Float(v))));
    scan_spec(&f32_params(&raw).expect("params"), &["element"]).expect("spec")
}

/// `spec` lays a scan out in `scan_bytes` bytes with its elements at `offsets`.
fn assert_layout(spec: &ScanSpec, scan_bytes: usize, offsets: [usize; 2]) {
    assert_eq!(spec.scan_bytes, scan_bytes);
    assert_eq!(
        spec.elements.iter().map(|e| e.offset).collect::<Vec<_>>(),
        offsets
    );
}

/// Runs `bytes` through VectorSource → converter → VectorSink (circular buffers).
fn convert_cf32(spec: ScanSpec, bytes: Vec<u8>) -> Vec<Cf32> {
    run_through(
        bytes,
        ScanConverter::<Cf32, DefaultCpuReader<u8>, DefaultCpuWriter<Cf32>>::new(
            spec,
            Arc::default(),
        ),
        |b| b.input(),
        |b| b.output(),
    )
}

fn convert_f32(spec: ScanSpec, bytes: Vec<u8>) -> Vec<f32> {
    run_through(
        bytes,
        ScanConverter::<f32, DefaultCpuReader<u8>, DefaultCpuWriter<f32>>::new(
            spec,
            Arc::default(),
        ),
        |b| b.input(),
        |b| b.output(),
    )
}

/// Runs by-reference `blocks` through the converter, as a DMABUF source's blocks would be.
fn convert_mapped(
    spec: ScanSpec,
    blocks: Vec<(Vec<u8>, Vec<ItemTag>)>,
) -> (Vec<Cf32>, Vec<(usize, u64)>, Option<u64>) {
    let stats = Arc::new(weir_core::BlockStats::default());
    // Where the "device memory" is: the vectors' heap buffers move into the source unchanged.
    let memory: Vec<std::ops::Range<usize>> = blocks
        .iter()
        .map(|(b, _)| b.as_ptr() as usize..b.as_ptr() as usize + b.len())
        .collect();
    let log = AddressLog::default();
    let (items, tags) = run_chain(
        MappedSource::new(blocks),
        |s| s.output(),
        ScanConverter::<Cf32, MappedBlockReader<u8>, DefaultCpuWriter<Cf32>>::new(
            spec,
            stats.clone(),
        )
        .with_address_log(log.clone()),
        |b| b.input(),
        |b| b.output(),
        CollectSink::<Cf32>::default(),
        |s| s.input(),
        |s| (s.items.clone(), tag_ids(&s.tags)),
    );
    // Zero-copy: every slice the converter read lies inside one of the source's blocks.
    let read = log.lock().expect("log").clone();
    assert!(!read.is_empty());
    for r in &read {
        assert!(
            memory.iter().any(|m| m.start <= r.start && r.end <= m.end),
            "read {r:x?} outside the blocks {memory:x?}"
        );
    }
    (items, tags, stats.counter("partial_bytes_dropped"))
}

#[test]
fn le_s12_shift_4_sign_extends_and_drops_the_noise_bits() {
    // Two channels of le:s12/16>>4. Hand-decoded:
    //   0x0010 → 1, 0xFFF0 → -1 (sign extension), 0x7FF0 → 2047, 0x800F → -2048 (the low
    //   four bits are below the shift and ignored), 0x0005 → 0.
    let bytes = vec![
        0x10, 0x00, 0xF0, 0xFF, // scan 0: I = 1, Q = -1
        0xF0, 0x7F, 0x0F, 0x80, // scan 1: I = 2047, Q = -2048
        0x05, 0x00, 0x30, 0xFF, // scan 2: I = 0, Q = 0xFF30 >> 4 = 0xFF3 → -13
    ];
    let spec = cf32_spec(&[("format", s("le:s12/16>>4"))]);
    assert_eq!(spec.scan_bytes, 4);
    let out = convert_cf32(spec, bytes);
    // Default scale: 1 / 2^11.
    let fs = 2048.0;
    assert_eq!(
        out,
        [
            Cf32::new(1.0 / fs, -1.0 / fs),
            Cf32::new(2047.0 / fs, -1.0),
            Cf32::new(0.0, -13.0 / fs),
        ]
    );
}

#[test]
fn be_s24_in_32_shift_8() {
    // be:s24/32>>8: the value is in the three high bytes, the low byte is noise.
    //   FF FF FE AB → 0xFFFFFE → -2;  40 00 00 00 → 0x400000 = 2^22 → 0.5 of full scale;
    //   80 00 00 7F → 0x800000 → -2^23 → -1.0;  00 00 03 00 → 3.
    let bytes = vec![
        0xFF, 0xFF, 0xFE, 0xAB, 0x40, 0x00, 0x00, 0x00, // scan 0
        0x80, 0x00, 0x00, 0x7F, 0x00, 0x00, 0x03, 0x00, // scan 1
    ];
    let spec = cf32_spec(&[("format", s("be:s24/32>>8"))]);
    assert_eq!(spec.scan_bytes, 8);
    let out = convert_cf32(spec, bytes.clone());
    let fs = 8_388_608.0; // 2^23
    assert_eq!(out, [Cf32::new(-2.0 / fs, 0.5), Cf32::new(-1.0, 3.0 / fs)]);
    // Explicit scale: the raw integers.
    let spec = cf32_spec(&[("format", s("be:s24/32>>8")), ("scale", Value::Float(1.0))]);
    assert_eq!(
        convert_cf32(spec, bytes),
        [Cf32::new(-2.0, 4_194_304.0), Cf32::new(-8_388_608.0, 3.0)]
    );
}

#[test]
fn le_u12_is_unsigned_and_masked() {
    // le:u12/16>>0: 0x0800 → 2048 → 0.5; 0xFFFF → bits above 12 masked → 4095;
    // 0x0001 → 1; 0xF000 → 0.
    let bytes = vec![0x00, 0x08, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0xF0];
    let spec = cf32_spec(&[("format", s("le:u12/16>>0"))]);
    let out = convert_cf32(spec, bytes);
    assert_eq!(
        out,
        [
            Cf32::new(0.5, 4095.0 / 4096.0),
            Cf32::new(1.0 / 4096.0, 0.0)
        ]
    );
}

#[test]
fn mixed_channels_with_i_and_q_elsewhere_in_the_scan() {
    // Four channels: s16 at 0, u8 at 2, s32 aligned to 4, s16 at 8; 10 bytes padded to the
    // largest element (4) → 12. I is element 2 (the s32), Q is element 3 (the be s16).
    let format = "le:s16/16>>0, le:u8/8>>0, le:s32/32>>0, be:s16/16>>0";
    let spec = iq_of_four(format);
    assert_layout(&spec, 12, [4, 8]);
    let mut bytes = Vec::new();
    // scan 0: ch0 = 0x1111, ch1 = 0x22, pad, I = -100000 (LE), Q = -300 (BE), pad.
    bytes.extend_from_slice(&[0x11, 0x11, 0x22, 0xEE]);
    bytes.extend_from_slice(&[0x60, 0x79, 0xFE, 0xFF]); // 0xFFFE7960 = -100000
    bytes.extend_from_slice(&[0xFE, 0xD4, 0xEE, 0xEE]); // 0xFED4 = -300
    // scan 1: I = 70000 = 0x00011170, Q = 0x1234 = 4660.
    bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]);
    bytes.extend_from_slice(&[0x70, 0x11, 0x01, 0x00]);
    bytes.extend_from_slice(&[0x12, 0x34, 0x00, 0x00]);
    assert_eq!(
        convert_cf32(spec, bytes.clone()),
        [Cf32::new(-100_000.0, -300.0), Cf32::new(70_000.0, 4660.0)]
    );
    // The same scans as f32: element 1 (the u8) and element 3.
    let spec = element_of_four(format, 1, None);
    assert_eq!(convert_f32(spec, bytes.clone()), [34.0 / 256.0, 0.0]);
    let spec = element_of_four(format, 3, None);
    assert_eq!(
        convert_f32(spec, bytes),
        [-300.0 / 32768.0, 4660.0 / 32768.0]
    );
}

#[test]
fn swapped_i_and_q() {
    let bytes = vec![0x01, 0x00, 0x02, 0x00];
    let spec = cf32_spec(&[
        ("format", s("le:s16/16>>0")),
        ("i", Value::Int(1)),
        ("q", Value::Int(0)),
        ("scale", Value::Float(1.0)),
    ]);
    assert_eq!(convert_cf32(spec, bytes), [Cf32::new(2.0, 1.0)]);
}

#[test]
fn a_large_stream_matches_weir_iio_sample_for_sample() {
    // 300 000 scans of le:s12/16>>4 (more than one circular buffer's worth), checked against
    // weir-iio's own extraction.
    let n = 300_000usize;
    let mut bytes = Vec::with_capacity(n * 4);
    for k in 0..n {
        let i = ((k * 7) % 4096) as i16 - 2048;
        let q = 2047 - ((k * 13) % 4096) as i16;
        bytes.extend_from_slice(&(((i << 4) as u16) | (k as u16 & 0xF)).to_le_bytes());
        bytes.extend_from_slice(&((q << 4) as u16).to_le_bytes());
    }
    let f = weir_iio::ScanFormat::parse("le:s12/16>>4").expect("format");
    let layout = weir_iio::ScanLayout::new([("i", 0, f), ("q", 1, f)]);
    let mut i = vec![0f32; n];
    let mut q = vec![0f32; n];
    layout.extract_f32(&bytes, 0, &mut i);
    layout.extract_f32(&bytes, 1, &mut q);
    let out = convert_cf32(cf32_spec(&[("format", s("le:s12/16>>4"))]), bytes);
    assert_eq!(out.len(), n);
    for k in 0..n {
        assert_eq!(out[k], Cf32::new(i[k], q[k]), "scan {k}");
    }
}

#[test]
fn by_reference_blocks_ending_mid_scan_are_joined_and_tags_move_to_scans() {
    // be:s24/32>>8, two channels: 8-byte scans. Scan k has I = k, Q = -k (raw integers).
    let spec = cf32_spec(&[("format", s("be:s24/32>>8")), ("scale", Value::Float(1.0))]);
    let mut bytes = Vec::new();
    for k in 0..20i32 {
        bytes.extend_from_slice(&((k << 8) as u32).to_be_bytes());
        bytes.extend_from_slice(&((-k << 8) as u32).to_be_bytes());
    }
    // Block sizes that cut scans anywhere, including blocks smaller than a scan, and a final
    // partial scan of 3 bytes that the stream ends with.
    let sizes = [5usize, 3, 1, 12, 7, 20, 4, 4, 60, 44];
    assert_eq!(sizes.iter().sum::<usize>(), 160);
    let mut blocks = Vec::new();
    let mut start = 0;
    // Tags at absolute byte positions: 0 (scan 0), 6 (scan 0, carried), 9 (scan 1, carried
    // across two blocks), 40 (scan 5), 159 (scan 19, within the block that completes it).
    let tag_bytes = [(0usize, 100u64), (6, 101), (9, 102), (40, 103), (159, 104)];
    for n in sizes {
        let tags = tag_bytes
            .iter()
            .filter(|(b, _)| (start..start + n).contains(b))
            .map(|(b, id)| id_tag(b - start, *id))
            .collect();
        blocks.push((bytes[start..start + n].to_vec(), tags));
        start += n;
    }
    blocks.push((vec![0x00, 0x00, 0x01], vec![id_tag(0, 105)]));
    let (out, tags, dropped) = convert_mapped(spec, blocks);
    let expected: Vec<Cf32> = (0..20).map(|k| Cf32::new(k as f32, -(k as f32))).collect();
    assert_eq!(out, expected);
    assert_eq!(
        tags,
        [(0, 100), (0, 101), (1, 102), (5, 103), (19, 104)],
        "the tag on the dropped partial scan goes nowhere"
    );
    assert_eq!(dropped, Some(3));
}

#[test]
fn bad_parameters_are_clear_errors_naming_the_parameter() {
    let ports = |raw: &[(&str, Value)]| {
        let p = cf32_params(raw).expect("types are right");
        (scan_to_cf32::descriptor().ports)(&p).expect_err("refused")
    };
    let name_and_message = |e: BuildError| match e {
        BuildError::Param { name, message } => (name, message),
        other => panic!("not a parameter error: {other}"),
    };
    let (name, msg) = name_and_message(ports(&[("format", s("le:s12/12>>4"))]));
    assert_eq!(name, "format");
    assert!(msg.contains("\"le:s12/12>>4\""), "{msg}");
    assert!(msg.contains("storage bits"), "{msg}");
    let (name, msg) = name_and_message(ports(&[("format", s("int16"))]));
    assert_eq!(name, "format");
    assert!(msg.contains("\"int16\""), "{msg}");
    let (name, msg) = name_and_message(ports(&[(
        "format",
        s("le:s16/16>>0,le:s16/16>>0,le:s16/16>>0"),
    )]));
    assert_eq!(name, "format");
    assert!(
        msg.contains("lists 3 channel formats but `channels` is 2"),
        "{msg}"
    );
    let (name, msg) = name_and_message(ports(&[("format", s("le:s16/16>>0,le:s1x/16>>0"))]));
    assert_eq!(name, "format");
    assert!(msg.contains("le:s1x/16>>0"), "{msg}");
    let (name, msg) = name_and_message(ports(&[
        ("format", s("le:s16/16>>0")),
        ("q", Value::Int(2)),
    ]));
    assert_eq!(name, "q");
    assert!(
        msg.contains("element 2 is not in a scan of 2 channels"),
        "{msg}"
    );
    let (name, msg) = name_and_message(ports(&[("format", s("le:s16/16X4>>0"))]));
    assert_eq!(name, "i");
    assert!(msg.contains("repeated"), "{msg}");
    // Out-of-range numbers are refused by the descriptor itself.
    let e = cf32_params(&[("format", s("le:s16/16>>0")), ("channels", Value::Int(0))])
        .expect_err("no channels");
    assert!(e.to_string().contains("channels"), "{e}");
    let e = f32_params(&[("format", s("le:s16/16>>0")), ("element", Value::Int(-1))])
        .expect_err("negative element");
    assert!(e.to_string().contains("element"), "{e}");
    // Without a device to take it from, the format is required (once the loader has said
    // there is none; before that, the block waits for it).
    let p = cf32_params(&[]).expect("format has a default: the device's");
    (scan_to_cf32::descriptor().ports)(&p).expect("no layouts known yet");
    let p = p.with_peer_layouts(PeerLayouts::default());
    let (name, msg) =
        name_and_message((scan_to_cf32::descriptor().ports)(&p).expect_err("no device, no format"));
    assert_eq!(name, "format");
    assert!(msg.contains("publishes no channel layout"), "{msg}");
}

#[test]
fn self_descriptions() {
    for (d, elements) in [
        (scan_to_cf32::descriptor(), &["i", "q"][..]),
        (scan_to_f32::descriptor(), &["element"][..]),
    ] {
        let names = param_names(&d);
        let mut expected = vec!["format", "channels"];
        expected.extend_from_slice(elements);
        expected.push("scale");
        assert_eq!(names, expected, "{}", d.type_name);
        let get = |n: &str| d.params.iter().find(|p| p.name == n).expect("param");
        assert_eq!(get("format").default, Some(s("")));
        assert_eq!(get("format").ty, weir_core::ParamType::Str);
        assert_eq!(get("channels").default, Some(Value::Int(2)));
        assert_eq!(get("channels").min, Some(1.0));
        assert_eq!(get("scale").default, Some(Value::Float(0.0)));
        for (k, e) in elements.iter().enumerate() {
            assert_eq!(get(e).default, Some(Value::Int(k as i64)));
            assert_eq!(get(e).min, Some(0.0));
        }
        let p = d
            .resolve([("format", s("le:s12/16>>4"))])
            .expect("resolves");
        let ports = (d.ports)(&p).expect("ports");
        assert_eq!(ports.inputs.len(), 1);
        assert_eq!(
            (ports.inputs[0].name, ports.inputs[0].item),
            ("in", ItemType::U8)
        );
        assert_eq!(ports.outputs[0].name, "out");
        assert!(ports.outputs[0].fills_blocks);
        assert!(ports.message_inputs.is_empty());
    }
    let out = |d: weir_core::BlockDescriptor| {
        let p = d
            .resolve([("format", s("le:s12/16>>4"))])
            .expect("resolves");
        (d.ports)(&p).expect("ports").outputs[0].item
    };
    assert_eq!(out(scan_to_cf32::descriptor()), ItemType::Cf32);
    assert_eq!(out(scan_to_f32::descriptor()), ItemType::F32);
}

/// Little-endian bytes of i16 words.
fn le_words(words: &[i16]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[test]
fn a_repeated_channel_before_i_and_q_shifts_their_offsets() {
    // u8, then s16 X2 (4 bytes, aligned to 4), then I and Q as s16. Hand layout:
    //   ch0 at 0 (1 byte), ch1 at ALIGN(1, 4) = 4 (4 bytes), I at 8, Q at 10; 12 bytes,
    //   padded to the largest element (4): 12.
    let format = "le:u8/8>>0, le:s16/16X2>>0, le:s16/16>>0, le:s16/16>>0";
    let spec = iq_of_four(format);
    assert_layout(&spec, 12, [8, 10]);
    // Scan k: ch0 = 0xAA, pad, ch1 = [1000 + k, -1000 - k], I = 7k - 3, Q = -5k.
    let mut bytes = Vec::new();
    for k in 0..5i16 {
        bytes.extend_from_slice(&[0xAA, 0xEE, 0xEE, 0xEE]);
        bytes.extend(le_words(&[1000 + k, -1000 - k, 7 * k - 3, -5 * k]));
    }
    let expected: Vec<Cf32> = (0..5)
        .map(|k| Cf32::new((7 * k - 3) as f32, (-5 * k) as f32))
        .collect();
    assert_eq!(convert_cf32(spec.clone(), bytes.clone()), expected);
    // The same scans by reference, in blocks that cut scans (and the repeated channel) apart.
    let cuts = [5usize, 14, 3, 20, 18];
    assert_eq!(cuts.iter().sum::<usize>(), bytes.len());
    let mut blocks = Vec::new();
    let mut start = 0;
    for n in cuts {
        blocks.push((bytes[start..start + n].to_vec(), Vec::new()));
        start += n;
    }
    let (out, _, dropped) = convert_mapped(spec, blocks);
    assert_eq!(out, expected);
    assert_eq!(dropped, None, "no partial scan left over");
}

#[test]
fn a_repeat_of_three_is_laid_out_as_the_kernel_aligns_it() {
    // s16, then s16 X3 (6 bytes), then I and Q. The kernel's ALIGN(x, a) is
    // (x + a − 1) & ~(a − 1), even for a = 6 (not a power of two):
    //   ch0 at 0; ch1 at ALIGN(2, 6) = 7 & ~5 = 2 (ends at 8); I at 8, Q at 10;
    //   scan bytes ALIGN(12, 6) = 17 & ~5 = 16.
    let format = "le:s16/16>>0, le:s16/16X3>>0, le:s16/16>>0, le:s16/16>>0";
    let spec = iq_of_four(format);
    assert_layout(&spec, 16, [8, 10]);
    let mut bytes = Vec::new();
    for k in 0..3i16 {
        // ch0, ch1 × 3, I, Q, 4 padding bytes.
        bytes.extend(le_words(&[
            -1,
            11,
            22,
            33,
            100 * k + 1,
            -100 * k - 2,
            0x5555,
            0x5555,
        ]));
    }
    assert_eq!(
        convert_cf32(spec, bytes.clone()),
        [
            Cf32::new(1.0, -2.0),
            Cf32::new(101.0, -102.0),
            Cf32::new(201.0, -202.0)
        ]
    );
    // scan_to_f32 of the channel before the repeat: offset 0, unaffected.
    let spec = element_of_four(format, 0, Some(1.0));
    assert_eq!(spec.scan_bytes, 16);
    assert_eq!(convert_f32(spec, bytes), [-1.0, -1.0, -1.0]);
}

/// `raw` resolved for `scan_to_cf32`, fed by a device whose channels are `(id, scan index,
/// format)`, as the loader hands it over.
fn fed_by_device(raw: &[(&str, Value)], channels: &[(&str, u32, &str)]) -> Params {
    let device = ChannelLayout {
        device: "iio:device0 (adc) buffer0".into(),
        channels: channels
            .iter()
            .map(|&(id, scan_index, format)| LayoutChannel {
                id: id.into(),
                scan_index,
                format: format.into(),
            })
            .collect(),
    };
    let mut peers = PeerLayouts::default();
    peers.inputs.insert(
        "in".into(),
        PeerLayout {
            peer: "src.out".into(),
            peer_type: "dmabuf_source".into(),
            layout: Ok(device),
        },
    );
    cf32_params(raw).expect("params").with_peer_layouts(peers)
}

#[test]
fn the_device_layout_replaces_the_hand_written_format() {
    // The same bytes as `le_s12_shift_4_sign_extends_and_drops_the_noise_bits`, with the
    // format from the device instead of the parameters: the same samples.
    let bytes = vec![
        0x10, 0x00, 0xF0, 0xFF, 0xF0, 0x7F, 0x0F, 0x80, 0x05, 0x00, 0x30, 0xFF,
    ];
    let p = fed_by_device(
        &[],
        &[
            ("voltage0", 0, "le:s12/16>>4"),
            ("voltage1", 1, "le:s12/16>>4"),
        ],
    );
    let auto = scan_spec(&p, &["i", "q"]).expect("from the device");
    let by_hand = cf32_spec(&[("format", s("le:s12/16>>4"))]);
    assert_eq!(auto, by_hand);
    let fs = 2048.0;
    assert_eq!(
        convert_cf32(auto, bytes),
        [
            Cf32::new(1.0 / fs, -1.0 / fs),
            Cf32::new(2047.0 / fs, -1.0),
            Cf32::new(0.0, -13.0 / fs),
        ]
    );
    // be:s24/32>>8 and a timestamp after I and Q: offsets 0, 4, timestamp at 8; 16 bytes.
    let p = fed_by_device(
        &[("scale", Value::Float(1.0))],
        &[
            ("timestamp", 2, "le:s64/64>>0"),
            ("voltage1", 1, "be:s24/32>>8"),
            ("voltage0", 0, "be:s24/32>>8"),
        ],
    );
    let spec = scan_spec(&p, &["i", "q"]).expect("from the device");
    assert_eq!(spec.scan_bytes, 16);
    let mut bytes = Vec::new();
    for k in 0..4i32 {
        bytes.extend_from_slice(&(((-k * 1000) << 8) as u32 | 0x7F).to_be_bytes());
        bytes.extend_from_slice(&((k << 8) as u32).to_be_bytes());
        bytes.extend_from_slice(&(1_000_000 * k as i64).to_le_bytes());
    }
    assert_eq!(
        convert_cf32(spec, bytes),
        (0..4)
            .map(|k| Cf32::new((-k * 1000) as f32, k as f32))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_hand_written_format_or_count_must_agree_with_the_device() {
    let device = [
        ("voltage0", 0, "le:S12/16>>0"),
        ("voltage1", 1, "le:S12/16>>0"),
    ];
    let name_and_message = |p: &Params| match scan_spec(p, &["i", "q"]) {
        Err(BuildError::Param { name, message }) => (name, message),
        other => panic!("not a parameter error: {other:?}"),
    };
    // `s` is not `S`: the device says its bits are sign-extended, the text says not.
    let p = fed_by_device(&[("format", s("le:s12/16>>0"))], &device);
    let (name, msg) = name_and_message(&p);
    assert_eq!(name, "format");
    assert!(
        msg.contains("\"le:s12/16>>0\" disagrees with the device"),
        "{msg}"
    );
    assert!(msg.contains("voltage0 le:S12/16>>0"), "{msg}");
    assert!(
        msg.contains("write `format = \"le:S12/16>>0, le:S12/16>>0\"`"),
        "{msg}"
    );
    let p = fed_by_device(&[("channels", Value::Int(3))], &device);
    let (name, msg) = name_and_message(&p);
    assert_eq!(name, "channels");
    assert!(msg.contains("(2 channels)"), "{msg}");
    // Agreeing ones are accepted, as one string or one per channel.
    for format in ["le:S12/16>>0", " le:S12/16>>0 ,le:S12/16>>0"] {
        let p = fed_by_device(
            &[("format", s(format)), ("channels", Value::Int(2))],
            &device,
        );
        scan_spec(&p, &["i", "q"]).expect("agrees");
    }
}

#[test]
fn ci16_pairs_are_exactly_the_16_bit_sign_extended_ones() {
    let layout = |formats: &[&str]| {
        let channels: Vec<(String, u32, String)> = formats
            .iter()
            .enumerate()
            .map(|(k, f)| (format!("voltage{k}"), k as u32, f.to_string()))
            .collect();
        device_scan_layout(&ChannelLayout {
            device: "d".into(),
            channels: channels
                .into_iter()
                .map(|(id, scan_index, format)| LayoutChannel {
                    id,
                    scan_index,
                    format,
                })
                .collect(),
        })
        .expect("valid formats")
    };
    let host = if cfg!(target_endian = "little") {
        "le"
    } else {
        "be"
    };
    let other = if cfg!(target_endian = "little") {
        "be"
    } else {
        "le"
    };
    let pair = |f: &str| layout(&[f, f]);
    assert_eq!(ci16_pairs(&pair(&format!("{host}:s16/16>>0"))), Ok(16));
    assert_eq!(ci16_pairs(&pair(&format!("{host}:S12/16>>0"))), Ok(12));
    assert_eq!(ci16_pairs(&pair(&format!("{host}:S16/16>>0"))), Ok(16));
    for bad in [
        format!("{host}:s12/16>>4"),
        format!("{host}:s12/16>>0"),
        format!("{host}:S12/16>>4"),
        format!("{host}:u16/16>>0"),
        format!("{host}:s16/16X2>>0"),
        format!("{host}:s16/32>>0"),
        format!("{other}:s16/16>>0"),
    ] {
        assert!(ci16_pairs(&pair(&bad)).is_err(), "{bad}");
    }
    let s16 = format!("{host}:s16/16>>0");
    assert!(ci16_pairs(&layout(&[&s16])).is_err(), "one channel");
    assert!(ci16_pairs(&layout(&[&s16, &s16, &s16])).is_err(), "three");
    let mixed = layout(&[&s16, &format!("{host}:S12/16>>0")]);
    assert!(
        ci16_pairs(&mixed)
            .unwrap_err()
            .contains("different valid bits")
    );
    // A device's format that does not parse is named.
    let e = device_scan_layout(&ChannelLayout {
        device: "d".into(),
        channels: vec![LayoutChannel {
            id: "voltage0".into(),
            scan_index: 0,
            format: "le:s12/12>>0".into(),
        }],
    })
    .unwrap_err();
    assert!(e.contains("voltage0") && e.contains("le:s12/12>>0"), "{e}");
}

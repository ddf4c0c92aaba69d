//! The SigMF metadata weir writes and reads: the fields of the core namespace it uses, plus
//! the `weir` extension for lost samples.
//!
//! Field names follow the SigMF specification (1.2); anything else in a file being read is
//! ignored, as the specification allows.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use weir_core::ItemType;

/// The SigMF specification version written.
pub const SPEC_VERSION: &str = "1.2.0";
/// Namespace and version of weir's extension fields (declared in `core:extensions`).
pub const EXTENSION: &str = "weir";
/// Version of the `weir` extension fields.
pub const EXTENSION_VERSION: &str = "1.0.0";

/// A `.sigmf-meta` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The global object.
    pub global: Global,
    /// Capture segments, in sample order.
    #[serde(default)]
    pub captures: Vec<Capture>,
    /// Annotations, in sample order.
    #[serde(default)]
    pub annotations: Vec<Annotation>,
}

/// The global object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Global {
    /// `core:datatype`, e.g. `ci16_le`.
    #[serde(rename = "core:datatype")]
    pub datatype: String,
    /// `core:version`.
    #[serde(rename = "core:version")]
    pub version: String,
    /// `core:sample_rate`, samples per second.
    #[serde(
        rename = "core:sample_rate",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub sample_rate: Option<f64>,
    /// `core:num_channels`: interleaved channels (each a sample of `datatype`).
    #[serde(
        rename = "core:num_channels",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub num_channels: Option<u64>,
    /// `core:hw`: the device.
    #[serde(rename = "core:hw", skip_serializing_if = "Option::is_none", default)]
    pub hw: Option<String>,
    /// `core:recorder`.
    #[serde(
        rename = "core:recorder",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub recorder: Option<String>,
    /// `core:description`.
    #[serde(
        rename = "core:description",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub description: Option<String>,
    /// `core:extensions`.
    #[serde(
        rename = "core:extensions",
        skip_serializing_if = "Vec::is_empty",
        default
    )]
    pub extensions: Vec<Extension>,
    /// `core:header_bytes` / `core:trailing_bytes` are not supported; kept to refuse them.
    #[serde(
        rename = "core:trailing_bytes",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub trailing_bytes: Option<u64>,
}

/// One entry of `core:extensions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    /// Namespace.
    pub name: String,
    /// Version of its fields.
    pub version: String,
    /// Whether a reader may ignore it.
    pub optional: bool,
}

/// A capture segment: where the samples from `sample_start` on came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    /// `core:sample_start`: first sample of the segment in the data file.
    #[serde(rename = "core:sample_start")]
    pub sample_start: u64,
    /// `core:global_index`: that sample's index in the device's stream, lost samples counted.
    #[serde(
        rename = "core:global_index",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub global_index: Option<u64>,
    /// `core:datetime`, RFC 3339 UTC.
    #[serde(
        rename = "core:datetime",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub datetime: Option<String>,
    /// `core:frequency`, Hz.
    #[serde(
        rename = "core:frequency",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub frequency: Option<f64>,
    /// `core:header_bytes`: not supported; kept to refuse it.
    #[serde(
        rename = "core:header_bytes",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub header_bytes: Option<u64>,
}

/// An annotation; weir writes one per overrun.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// `core:sample_start`: the first sample after the gap.
    #[serde(rename = "core:sample_start")]
    pub sample_start: u64,
    /// `core:label`.
    #[serde(
        rename = "core:label",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub label: Option<String>,
    /// `core:comment`: the loss in words.
    #[serde(
        rename = "core:comment",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub comment: Option<String>,
    /// `core:generator`.
    #[serde(
        rename = "core:generator",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub generator: Option<String>,
    /// `weir:lost_samples`: samples lost before `sample_start` (absent: count unknown).
    #[serde(
        rename = "weir:lost_samples",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub lost_samples: Option<u64>,
    /// `weir:gaps`: loss events merged into this annotation.
    #[serde(rename = "weir:gaps", skip_serializing_if = "Option::is_none", default)]
    pub gaps: Option<u64>,
    /// `weir:evidence`: `exact`, `hardware status` or `estimate`.
    #[serde(
        rename = "weir:evidence",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub evidence: Option<String>,
}

/// The SigMF datatype of an item type (little-endian, as weir keeps items in memory on every
/// platform it runs on).
pub fn datatype(item: ItemType) -> &'static str {
    match item {
        ItemType::U8 => "ru8",
        ItemType::I16 => "ri16_le",
        ItemType::F32 => "rf32_le",
        ItemType::Ci16 => "ci16_le",
        ItemType::Cf32 => "cf32_le",
    }
}

/// The item type of a SigMF datatype, or why weir cannot play it.
pub fn item_type(datatype: &str) -> Result<ItemType, String> {
    ItemType::ALL
        .into_iter()
        .find(|&t| self::datatype(t) == datatype)
        .ok_or_else(|| {
            let known: Vec<_> = ItemType::ALL.into_iter().map(self::datatype).collect();
            format!(
                "SigMF datatype `{datatype}` has no weir item type (weir plays {})",
                known.join(", ")
            )
        })
}

/// The data and metadata paths of a recording named `path`: `base.sigmf-data` and
/// `base.sigmf-meta`, whether `path` names the base or either file.
pub fn paths(path: &str) -> (PathBuf, PathBuf) {
    let base = [".sigmf-data", ".sigmf-meta", ".sigmf"]
        .iter()
        .find_map(|suffix| path.strip_suffix(suffix))
        .unwrap_or(path);
    (
        PathBuf::from(format!("{base}.sigmf-data")),
        PathBuf::from(format!("{base}.sigmf-meta")),
    )
}

/// Reads and parses the metadata file `meta`.
pub fn read(meta: &Path) -> Result<Meta, String> {
    let text = std::fs::read_to_string(meta)
        .map_err(|e| format!("cannot read `{}`: {e}", meta.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "`{}` is not SigMF metadata weir can read: {e}",
            meta.display()
        )
    })
}

/// Writes `meta` to `path` whole or not at all: a temporary file beside it, then renamed, so a
/// reader never sees half a metadata file.
pub fn write(path: &Path, meta: &Meta) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(meta).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("sigmf-meta.tmp");
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatypes_round_trip_and_unknown_ones_are_named() {
        for t in ItemType::ALL {
            assert_eq!(item_type(datatype(t)), Ok(t));
        }
        let e = item_type("ci16_be").unwrap_err();
        assert!(e.contains("`ci16_be`") && e.contains("cf32_le"), "{e}");
    }

    #[test]
    fn paths_accept_the_base_or_either_file() {
        for p in ["/r/x", "/r/x.sigmf-data", "/r/x.sigmf-meta", "/r/x.sigmf"] {
            let (d, m) = paths(p);
            assert_eq!(d, PathBuf::from("/r/x.sigmf-data"), "{p}");
            assert_eq!(m, PathBuf::from("/r/x.sigmf-meta"), "{p}");
        }
    }

    #[test]
    fn optional_fields_are_left_out_and_unknown_ones_ignored() {
        let text = r#"{"global": {"core:datatype": "cf32_le", "core:version": "1.0.0",
            "core:author": "someone"}, "captures": [{"core:sample_start": 0}],
            "annotations": []}"#;
        let meta: Meta = serde_json::from_str(text).expect("parses");
        assert_eq!(meta.global.sample_rate, None);
        let out = serde_json::to_string(&meta).expect("serialises");
        assert!(
            !out.contains("sample_rate") && !out.contains("author"),
            "{out}"
        );
    }
}

//! Typed stream-tag payloads that sources attach to their items and any block may read.
//!
//! FutureSDR 0.0.40 carries arbitrary cloneable payloads as `Tag::NamedAny(name, Box<dyn
//! TagAny>)`; a reader matches the name and downcasts:
//!
//! ```
//! use weir_core::futuresdr::runtime::dev::Tag;
//! use weir_core::tags::{Overrun, OVERRUN};
//!
//! fn lost(tag: &Tag) -> Option<&Overrun> {
//!     match tag {
//!         Tag::NamedAny(name, any) if name == OVERRUN => any.downcast_ref::<Overrun>(),
//!         _ => None,
//!     }
//! }
//! # let tag = Overrun { lost_samples: Some(4), events: 1, evidence: weir_core::tags::Evidence::Exact }.tag();
//! # assert_eq!(lost(&tag).unwrap().lost_samples, Some(4));
//! ```
//!
//! They live here, not in the plugin that writes them, so that blocks of other plugins (a file
//! sink recording overruns, `tag_debug`) can read them: plugins never depend on each other.

use std::fmt;

use futuresdr::runtime::dev::Tag;

/// Tag name of [`BlockTime`], at the first item of every block a DMA source delivers.
pub const BLOCK_TIME: &str = "dmabuf_time";
/// Tag name of [`Overrun`], at the first item delivered after samples were lost.
pub const OVERRUN: &str = "dmabuf_overrun";
/// Tag name of [`StreamInfo`], at the first item a device's source delivers.
pub const STREAM_INFO: &str = "dmabuf_stream";

/// Where a loss figure comes from (the same three kinds as `weir_iio::loss::LossEvidence`,
/// which weir-core cannot name: weir-iio does not depend on the runtime side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Evidence {
    /// Counted by the device, sample for sample.
    Exact,
    /// The device's latched over/underflow status: the event is certain, the count estimated.
    HardwareStatus,
    /// Inferred from queue starvation or completion timing.
    Estimate,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Evidence::Exact => "exact",
            Evidence::HardwareStatus => "hardware status",
            Evidence::Estimate => "estimate",
        })
    }
}

/// When a DMA block completed and where it sits in the device's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockTime {
    /// The block's sequence number among the blocks delivered (0, 1, …).
    pub sequence: u64,
    /// When its completion was seen, `CLOCK_MONOTONIC` nanoseconds.
    pub completed_ns: u64,
    /// Index of its first sample in the device's stream, counting the samples lost before it
    /// (by the best evidence at hand, see [`Overrun`]).
    pub first_sample: u64,
    /// The device's own timestamp of the block's first scan (the `timestamp` channel, in the
    /// clock the device's `current_timestamp_clock` names), when that channel is enabled.
    pub device_timestamp_ns: Option<i64>,
}

/// Samples lost just before the item this tag is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun {
    /// How many samples were lost; `None` when the evidence gives no count (an estimate for a
    /// device whose rate is unknown).
    pub lost_samples: Option<u64>,
    /// Losses (gaps) these samples came from since the previous tag.
    pub events: u64,
    /// Where the figures come from.
    pub evidence: Evidence,
}

/// What a device's stream is, at its first item: which device, at what rate, in which channel
/// formats. A recording's metadata comes from here (the rate the device accepted, not the one
/// asked for), however many blocks sit between the source and the recorder.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// The device as the user named it, with what it is: `iio:device0 (cf-ad9361-lpc)`.
    pub device: String,
    /// The rate the device runs at, samples (scans) per second; `None` when it has no rate
    /// attribute (or the simulator runs unpaced).
    pub sample_rate: Option<f64>,
    /// The enabled channels in scan order: id and the device's type string
    /// (`voltage0`, `le:S12/16>>0`).
    pub channels: Vec<(String, String)>,
}

impl StreamInfo {
    /// This payload as a tag ([`STREAM_INFO`]).
    pub fn tag(self) -> Tag {
        Tag::NamedAny(STREAM_INFO.to_string(), Box::new(self))
    }

    /// The payload of `tag`, if it is a [`STREAM_INFO`] tag.
    pub fn from_tag(tag: &Tag) -> Option<&StreamInfo> {
        match tag {
            Tag::NamedAny(name, any) if name == STREAM_INFO => any.downcast_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for StreamInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.device)?;
        match self.sample_rate {
            Some(r) => write!(f, " at {r} samples/s")?,
            None => f.write_str(", rate unknown")?,
        }
        for (i, (id, format)) in self.channels.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{id} {format}")?;
        }
        Ok(())
    }
}

impl BlockTime {
    /// As a stream tag named [`BLOCK_TIME`].
    pub fn tag(self) -> Tag {
        Tag::NamedAny(BLOCK_TIME.to_string(), Box::new(self))
    }

    /// The payload of a [`BLOCK_TIME`] tag.
    pub fn from_tag(tag: &Tag) -> Option<&BlockTime> {
        match tag {
            Tag::NamedAny(name, any) if name == BLOCK_TIME => any.downcast_ref(),
            _ => None,
        }
    }
}

impl Overrun {
    /// As a stream tag named [`OVERRUN`].
    pub fn tag(self) -> Tag {
        Tag::NamedAny(OVERRUN.to_string(), Box::new(self))
    }

    /// The payload of an [`OVERRUN`] tag.
    pub fn from_tag(tag: &Tag) -> Option<&Overrun> {
        match tag {
            Tag::NamedAny(name, any) if name == OVERRUN => any.downcast_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for BlockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "block {} completed at {} ns, first sample {}",
            self.sequence, self.completed_ns, self.first_sample
        )?;
        if let Some(t) = self.device_timestamp_ns {
            write!(f, ", device timestamp {t} ns")?;
        }
        Ok(())
    }
}

impl fmt::Display for Overrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lost_samples {
            Some(n) if self.evidence == Evidence::Exact => write!(f, "{n} samples lost")?,
            Some(n) => write!(f, "≈{n} samples lost")?,
            None => f.write_str("samples lost (count unknown)")?,
        }
        write!(f, " in {} gap(s) ({})", self.events, self.evidence)
    }
}

/// A human-readable text of a weir tag payload ([`BlockTime`], [`Overrun`], [`StreamInfo`]), for printing
/// blocks; `None` for other tags.
pub fn describe(tag: &Tag) -> Option<String> {
    BlockTime::from_tag(tag)
        .map(ToString::to_string)
        .or_else(|| Overrun::from_tag(tag).map(ToString::to_string))
        .or_else(|| StreamInfo::from_tag(tag).map(ToString::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_through_tags_and_print() {
        let t = BlockTime {
            sequence: 3,
            completed_ns: 1_000,
            first_sample: 4096,
            device_timestamp_ns: Some(-5),
        };
        assert_eq!(BlockTime::from_tag(&t.tag()), Some(&t));
        assert_eq!(Overrun::from_tag(&t.tag()), None);
        let o = Overrun {
            lost_samples: Some(49152),
            events: 3,
            evidence: Evidence::Estimate,
        };
        assert_eq!(Overrun::from_tag(&o.tag()), Some(&o));
        assert_eq!(
            describe(&o.tag()).unwrap(),
            "≈49152 samples lost in 3 gap(s) (estimate)"
        );
        assert_eq!(
            describe(&t.tag()).unwrap(),
            "block 3 completed at 1000 ns, first sample 4096, device timestamp -5 ns"
        );
        let exact = Overrun {
            lost_samples: Some(7),
            events: 1,
            evidence: Evidence::Exact,
        };
        assert_eq!(exact.to_string(), "7 samples lost in 1 gap(s) (exact)");
        assert_eq!(describe(&Tag::Id(1)), None);
        let info = StreamInfo {
            device: "iio:device2 (adc)".into(),
            sample_rate: Some(1e6),
            channels: vec![("voltage0".into(), "le:S12/16>>0".into())],
        };
        assert_eq!(StreamInfo::from_tag(&info.clone().tag()), Some(&info));
        assert_eq!(
            describe(&info.tag()).unwrap(),
            "iio:device2 (adc) at 1000000 samples/s: voltage0 le:S12/16>>0"
        );
    }
}

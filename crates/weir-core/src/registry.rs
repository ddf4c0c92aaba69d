//! The block registry: block types by name, each describing its parameters and ports and
//! knowing how to build itself onto a FutureSDR flowgraph.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use futuresdr::runtime::__private::KernelInterface;
use futuresdr::runtime::dev::{CpuBufferReader, Kernel};
use futuresdr::runtime::{BlockId, Flowgraph};

use crate::buffer::BufferKind;
use crate::guard::Guarded;
use crate::item::ItemType;
use crate::stats::BlockStats;

/// The type of a block parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A whole number (TOML integer).
    Int,
    /// A number (TOML float or integer).
    Float,
    /// A string.
    Str,
    /// A boolean.
    Bool,
    /// An item type name (`"cf32"`, ...).
    Item,
    /// A list of numbers (TOML array of integers and floats), e.g. FIR taps.
    FloatList,
    /// One of these strings (an enum declared with [`choice!`](crate::choice)).
    Choice(&'static [&'static str]),
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamType::Int => "integer",
            ParamType::Float => "float",
            ParamType::Str => "string",
            ParamType::Bool => "boolean",
            ParamType::Item => "item type",
            ParamType::FloatList => "list of floats",
            ParamType::Choice(names) => return f.write_str(&names.join("|")),
        })
    }
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// String (also item type names).
    Str(String),
    /// Boolean.
    Bool(bool),
    /// List of numbers (integers in the file are converted to floats).
    List(Vec<f64>),
}

impl Value {
    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bool(_) => "boolean",
            Value::List(_) => "list of floats",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            // TOML array syntax, so a default reads as it would be written in a file.
            Value::List(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x:?}")?;
                }
                f.write_str("]")
            }
        }
    }
}

// Conversions for parameters given in code (`FlowgraphBuilder::block`), so `65536.into()`,
// `0.5.into()` or `"cf32".into()` read like the TOML they stand for.
macro_rules! value_from {
    ($($t:ty => $v:ident($conv:expr)),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(x: $t) -> Self {
                Value::$v($conv(x))
            }
        })*
    };
}

value_from! {
    i64 => Int(std::convert::identity),
    i32 => Int(i64::from),
    i16 => Int(i64::from),
    u32 => Int(i64::from),
    u16 => Int(i64::from),
    u8 => Int(i64::from),
    f64 => Float(std::convert::identity),
    f32 => Float(f64::from),
    bool => Bool(std::convert::identity),
    String => Str(std::convert::identity),
    &str => Str(str::to_string),
    Vec<f64> => List(std::convert::identity),
    &[f64] => List(<[f64]>::to_vec),
    ItemType => Str(|t: ItemType| t.name().to_string()),
}

/// Describes one parameter of a block type.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// Name used in flowgraph files.
    pub name: &'static str,
    /// Expected type.
    pub ty: ParamType,
    /// Default; `None` makes the parameter required.
    pub default: Option<Value>,
    /// One-line documentation.
    pub doc: &'static str,
    /// Smallest allowed value (numbers only).
    pub min: Option<f64>,
    /// Largest allowed value (numbers only).
    pub max: Option<f64>,
    /// `min` itself is excluded: the value must be greater than it (`> 0` for a rate).
    pub min_exclusive: bool,
    /// 0 is allowed besides `min ..= max` (it means "none" or "forever", as a timeout of 0).
    pub zero_allowed: bool,
    /// Infinite values are allowed (NaN never is); without this a float must be finite, so
    /// `inf` is refused at load time rather than overflowing a duration or a size at build.
    pub non_finite: bool,
    /// A value to describe the block's ports with when the parameter is required (`weir
    /// blocks`); `None`: one derived from the type and range.
    pub example: Option<Value>,
}

impl ParamSpec {
    /// A required parameter.
    pub fn required(name: &'static str, ty: ParamType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            default: None,
            doc,
            min: None,
            max: None,
            min_exclusive: false,
            zero_allowed: false,
            non_finite: false,
            example: None,
        }
    }

    /// An optional parameter with a default.
    pub fn optional(name: &'static str, ty: ParamType, default: Value, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            default: Some(default),
            doc,
            min: None,
            max: None,
            min_exclusive: false,
            zero_allowed: false,
            non_finite: false,
            example: None,
        }
    }

    /// An optional float parameter ([`ParamType::Float`]) and its default.
    pub fn float(name: &'static str, default: f64, doc: &'static str) -> Self {
        Self::optional(name, ParamType::Float, Value::Float(default), doc)
    }

    /// An optional integer parameter ([`ParamType::Int`]) and its default.
    pub fn int(name: &'static str, default: i64, doc: &'static str) -> Self {
        Self::optional(name, ParamType::Int, Value::Int(default), doc)
    }

    /// An optional boolean parameter ([`ParamType::Bool`]) and its default.
    pub fn boolean(name: &'static str, default: bool, doc: &'static str) -> Self {
        Self::optional(name, ParamType::Bool, Value::Bool(default), doc)
    }

    /// An optional string parameter ([`ParamType::Str`]) and its default (`""`: not given).
    pub fn string(name: &'static str, default: &str, doc: &'static str) -> Self {
        Self::optional(name, ParamType::Str, Value::Str(default.into()), doc)
    }

    /// An optional string choice ([`ParamType::Choice`] of `names`) and its default, one of
    /// them.
    pub fn choice(
        name: &'static str,
        names: &'static [&'static str],
        default: &str,
        doc: &'static str,
    ) -> Self {
        debug_assert!(
            names.contains(&default),
            "`{name}`: default {default:?} not in {names:?}"
        );
        Self::optional(
            name,
            ParamType::Choice(names),
            Value::Str(default.into()),
            doc,
        )
    }

    /// The optional `item` parameter: the item type of the block's streams, `default` unless
    /// the flowgraph names another.
    pub fn item(default: ItemType, doc: &'static str) -> Self {
        Self::optional(
            "item",
            ParamType::Item,
            Value::Str(default.name().into()),
            doc,
        )
    }

    /// The required float `sample_rate`, in samples/s: above 0 and at most 10^12 (1 THz), as
    /// every block that takes one checks it.
    pub fn sample_rate(doc: &'static str) -> Self {
        Self::required("sample_rate", ParamType::Float, doc)
            .above(0.0)
            .max(1e12)
    }

    /// Describe the block's ports with `value` for this (required) parameter.
    pub fn with_example(mut self, value: Value) -> Self {
        self.example = Some(value);
        self
    }

    /// A valid value to describe the block's ports with: the given example, or one derived from
    /// the type within the range (the smallest allowed number, at least 1; `cf32`; `[1.0]`).
    pub fn example_value(&self) -> Value {
        if let Some(v) = &self.example {
            return v.clone();
        }
        let number = || {
            let lowest = self.min.map_or(1.0, |m| m.max(1.0));
            self.max.map_or(lowest, |m| lowest.min(m))
        };
        match self.ty {
            ParamType::Int => Value::Int(number().ceil() as i64),
            ParamType::Float => Value::Float(number()),
            ParamType::Str => Value::Str(String::new()),
            ParamType::Bool => Value::Bool(false),
            ParamType::Item => Value::Str(ItemType::Cf32.name().to_string()),
            ParamType::FloatList => Value::List(vec![number()]),
            ParamType::Choice(names) => Value::Str(names.first().copied().unwrap_or("").into()),
        }
    }

    /// The smallest allowed value (for [`block_config!`](crate::block_config)'s
    /// `#[param(min = ..)]`).
    pub fn min(mut self, min: impl Into<f64>) -> Self {
        self.min = Some(min.into());
        self.min_exclusive = false;
        self
    }

    /// The largest allowed value (`#[param(max = ..)]`).
    pub fn max(mut self, max: impl Into<f64>) -> Self {
        self.max = Some(max.into());
        self
    }

    /// Values must be greater than `bound` (`#[param(above = 0)]`): a rate or a ratio that
    /// may be as small as the user likes but not 0.
    pub fn above(mut self, bound: impl Into<f64>) -> Self {
        self.min = Some(bound.into());
        self.min_exclusive = true;
        self
    }

    /// With `true`, 0 is allowed besides the range (`#[param(or_zero = true)]`): a timeout
    /// whose 0 means "wait forever" but whose other values must be sensible durations.
    pub fn or_zero(mut self, allowed: bool) -> Self {
        self.zero_allowed = allowed;
        self
    }

    /// With `true`, `inf` and `-inf` are allowed (`#[param(non_finite = true)]`); NaN never is.
    pub fn non_finite(mut self, allowed: bool) -> Self {
        self.non_finite = allowed;
        self
    }

    /// [`Self::with_example`] (`#[param(example = ..)]`).
    pub fn example(self, value: impl Into<Value>) -> Self {
        self.with_example(value.into())
    }

    /// Restrict the value to `min..=max` (either bound may be `None`).
    pub fn range(mut self, min: Option<f64>, max: Option<f64>) -> Self {
        self.min = min;
        self.max = max;
        self.min_exclusive = false;
        self
    }

    /// [`Self::range`] with both bounds: `min ..= max`.
    pub fn within(self, min: impl Into<f64>, max: impl Into<f64>) -> Self {
        self.range(Some(min.into()), Some(max.into()))
    }

    /// The allowed range as text, e.g. `1 ..= 64`, `>= 0`, `> 0 and <= 1e12`,
    /// `0 or 0.001 ..= 86400`; `None` when any finite number goes.
    pub fn range_text(&self) -> Option<String> {
        let n = number_text;
        let bounds = match (self.min, self.max, self.min_exclusive) {
            (Some(a), Some(b), false) => Some(format!("{} ..= {}", n(a), n(b))),
            (Some(a), Some(b), true) => Some(format!("> {} and <= {}", n(a), n(b))),
            (Some(a), None, false) => Some(format!(">= {}", n(a))),
            (Some(a), None, true) => Some(format!("> {}", n(a))),
            (None, Some(b), _) => Some(format!("<= {}", n(b))),
            (None, None, _) => None,
        };
        match (bounds, self.zero_allowed) {
            (Some(b), true) => Some(format!("0 or {b}")),
            (b, _) => b,
        }
    }

    /// Check `v` (shown as `found` in the message) against the range.
    fn check_range(&self, v: f64, found: &str) -> Result<(), String> {
        if v.is_nan() {
            return Err("must be a number, found NaN".to_string());
        }
        if v.is_infinite() && !self.non_finite {
            let range = self
                .range_text()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(format!("must be finite{range}, found {v}"));
        }
        if self.zero_allowed && v == 0.0 {
            return Ok(());
        }
        let below = self
            .min
            .is_some_and(|m| v < m || (self.min_exclusive && v == m));
        let above = self.max.is_some_and(|m| v > m);
        if below || above {
            Err(format!(
                "must be {}, found {found}",
                self.range_text().unwrap_or_default(),
            ))
        } else {
            Ok(())
        }
    }

    /// Check `value` against this parameter's type, converting integers to floats where a float
    /// is expected.
    pub fn check(&self, value: Value) -> Result<Value, String> {
        let v = match (self.ty, value) {
            (ParamType::Int, v @ Value::Int(_))
            | (ParamType::Float, v @ Value::Float(_))
            | (ParamType::Str, v @ Value::Str(_))
            | (ParamType::Bool, v @ Value::Bool(_))
            | (ParamType::FloatList, v @ Value::List(_)) => v,
            (ParamType::Float, Value::Int(i)) => Value::Float(i as f64),
            (ParamType::Item, Value::Str(s)) => {
                s.parse::<ItemType>()?;
                Value::Str(s)
            }
            (ParamType::Choice(names), Value::Str(s)) => {
                if !names.contains(&s.as_str()) {
                    // The caller names the parameter (`parameter `x`: expects ...`).
                    return Err(format!(
                        "expects {}, found {s:?}",
                        crate::config::choice_text(names)
                    ));
                }
                Value::Str(s)
            }
            (ty, v) => {
                return Err(format!("expects {}, found {} {v}", ty, v.type_name()));
            }
        };
        match &v {
            Value::Int(i) => self.check_range(*i as f64, &i.to_string())?,
            Value::Float(f) => self.check_range(*f, &number_text(*f))?,
            // A range on a list bounds every element.
            Value::List(l) => {
                for (i, x) in l.iter().enumerate() {
                    self.check_range(*x, &number_text(*x))
                        .map_err(|e| format!("element {}: {e}", i + 1))?;
                }
            }
            _ => {}
        }
        Ok(v)
    }
}

/// A bound or a value as people write it: `16384`, `0.001`, `1e12`, `2.2e-308` (no 300
/// digits of `f64::MIN_POSITIVE`).
pub fn number_text(v: f64) -> String {
    let plain = v.to_string();
    if plain.len() <= 12 {
        plain
    } else {
        format!("{v:e}")
    }
}

/// An error while describing or building a block.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    /// A parameter is missing, of the wrong type or out of range.
    #[error("parameter `{name}`: {message}")]
    Param {
        /// Parameter name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Anything else (device could not be opened, ...).
    #[error("{0}")]
    Other(String),
}

impl BuildError {
    /// A parameter error.
    pub fn param(name: &str, message: impl Into<String>) -> Self {
        BuildError::Param {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// Resolved parameters of one block instance (defaults filled in, types checked), and what the
/// loader learned about the channel layouts at the other ends of its connections.
///
/// It remembers which values came from the descriptor's defaults
/// ([`BlockDescriptor::resolve`]) rather than from the flowgraph, so that a block can refuse a
/// parameter that makes no sense in its configuration only when the user wrote it
/// ([`is_set`](Self::is_set)).
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, Value>,
    /// Names whose value is the descriptor's default, filled in by `resolve`.
    defaulted: BTreeSet<String>,
    /// `None` until the loader has looked at the block's connections.
    peers: Option<PeerLayouts>,
    /// The typed configuration, parsed on first use ([`Self::config`]).
    config: OnceLock<crate::config::CachedConfig>,
}

impl Params {
    /// Parameters from name/value pairs, without checking them against a descriptor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a parameter (builder style).
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }

    /// Set a parameter. It counts as [set](Self::is_set), even to its default value.
    pub fn set(&mut self, name: &str, value: Value) {
        self.config = OnceLock::new();
        self.defaulted.remove(name);
        self.values.insert(name.to_string(), value);
    }

    /// Fill in a parameter with its default: it has a value but is not [set](Self::is_set).
    fn set_default(&mut self, name: &str, value: Value) {
        self.config = OnceLock::new();
        self.values.insert(name.to_string(), value);
        self.defaulted.insert(name.to_string());
    }

    /// Whether parameter `name` was written (in the file, or in code), rather than filled in
    /// from its default: a block that can take a setting from its device tells "the user asked
    /// for this" (to be checked against the device) from "nobody said" (take the device's).
    pub fn given(&self, name: &str) -> bool {
        self.is_set(name)
    }

    /// Whether the loader has filled in the layouts of this block's peers
    /// ([`Self::input_layout`], [`Self::output_layouts`]). `false` while a flowgraph's blocks
    /// are first described, one by one, and for parameters outside a flowgraph: a block must
    /// then not refuse for want of a layout that may still come.
    pub fn layouts_known(&self) -> bool {
        self.peers.is_some()
    }

    /// The channel layout published by the output that feeds input `port`, if it publishes
    /// one (an RX device's source); see [`PortSpec::layout`].
    pub fn input_layout(&self, port: &str) -> Option<&PeerLayout> {
        self.peers.as_ref()?.inputs.get(port)
    }

    /// The channel layouts required by the inputs that output `port` feeds, for those that
    /// require one (a TX device's sink); empty when none does.
    pub fn output_layouts(&self, port: &str) -> &[PeerLayout] {
        self.peers
            .as_ref()
            .and_then(|p| p.outputs.get(port))
            .map_or(&[], Vec::as_slice)
    }

    /// The peer layouts, once the loader has filled them in.
    pub fn peer_layouts(&self) -> Option<&PeerLayouts> {
        self.peers.as_ref()
    }

    /// Set the layouts of the block's peers (the loader does; tests and code that describe a
    /// block outside a flowgraph may).
    pub fn set_peer_layouts(&mut self, peers: PeerLayouts) {
        self.peers = Some(peers);
    }

    /// [`Self::set_peer_layouts`], builder style.
    pub fn with_peer_layouts(mut self, peers: PeerLayouts) -> Self {
        self.peers = Some(peers);
        self
    }

    /// The block's typed configuration, parsed from these parameters on first use and kept:
    /// the loader's first description of the block's ports parses it (at check time, so its
    /// errors are located in the file), and `build`, given the same parameters, reads the
    /// same value. Changing a parameter ([`Self::set`]) discards it.
    pub fn config<C: crate::config::BlockConfig>(&self) -> Result<Arc<C>, BuildError> {
        if let Some(cached) = self.config.get()
            && let Ok(config) = cached.clone().downcast::<C>()
        {
            return Ok(config);
        }
        let config = Arc::new(C::parse(self)?);
        // A block reads one configuration type; should another be asked for, it is parsed
        // each time rather than replacing the first.
        let _ = self.config.set(config.clone());
        Ok(config)
    }

    /// The raw value of a parameter.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Whether parameter `name` was given (in the flowgraph file, through a variable, or in
    /// code with [`set`](Self::set)), as opposed to taking its default or being absent. A
    /// parameter written with its default value counts as given: the user asked for it.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name) && !self.defaulted.contains(name)
    }

    fn require(&self, name: &str) -> Result<&Value, BuildError> {
        self.values
            .get(name)
            .ok_or_else(|| BuildError::param(name, "missing"))
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64, BuildError> {
        match self.require(name)? {
            Value::Int(v) => Ok(*v),
            v => Err(BuildError::param(
                name,
                format!("expected integer, found {v}"),
            )),
        }
    }

    /// A non-negative integer parameter.
    pub fn uint(&self, name: &str) -> Result<u64, BuildError> {
        let v = self.int(name)?;
        u64::try_from(v).map_err(|_| BuildError::param(name, format!("must be >= 0, found {v}")))
    }

    /// A positive integer parameter usable as a size or count.
    pub fn positive(&self, name: &str) -> Result<usize, BuildError> {
        let v = self.int(name)?;
        usize::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| BuildError::param(name, format!("must be > 0, found {v}")))
    }

    /// A float parameter (integers are accepted).
    pub fn float(&self, name: &str) -> Result<f64, BuildError> {
        match self.require(name)? {
            Value::Float(v) => Ok(*v),
            Value::Int(v) => Ok(*v as f64),
            v => Err(BuildError::param(
                name,
                format!("expected float, found {v}"),
            )),
        }
    }

    /// A list-of-floats parameter.
    pub fn float_list(&self, name: &str) -> Result<&[f64], BuildError> {
        match self.require(name)? {
            Value::List(v) => Ok(v),
            v => Err(BuildError::param(
                name,
                format!("expected list of floats, found {v}"),
            )),
        }
    }

    /// A string parameter.
    pub fn str(&self, name: &str) -> Result<&str, BuildError> {
        match self.require(name)? {
            Value::Str(v) => Ok(v),
            v => Err(BuildError::param(
                name,
                format!("expected string, found {v}"),
            )),
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> Result<bool, BuildError> {
        match self.require(name)? {
            Value::Bool(v) => Ok(*v),
            v => Err(BuildError::param(
                name,
                format!("expected boolean, found {v}"),
            )),
        }
    }

    /// A parameter read as `T`: a number, a string, an enum declared with
    /// [`choice!`](crate::choice), ... (see [`ParamValue`](crate::config::ParamValue)).
    pub fn read<T: crate::config::ParamValue>(&self, name: &str) -> Result<T, BuildError> {
        T::read(self, name)
    }

    /// An item type parameter.
    pub fn item(&self, name: &str) -> Result<ItemType, BuildError> {
        self.str(name)?
            .parse()
            .map_err(|e: String| BuildError::param(name, e))
    }
}

/// One channel of a [`ChannelLayout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutChannel {
    /// Channel id, e.g. `voltage0`, `timestamp`.
    pub id: String,
    /// Its scan index (channels sit in a scan in scan-index order).
    pub scan_index: u32,
    /// How its samples are stored, as the device describes it: for IIO the kernel's type
    /// string, e.g. `le:s12/16>>4`.
    pub format: String,
}

/// The channels of the samples (scans) a device delivers or takes, in scan-index order, as
/// its driver describes them.
///
/// weir-core does not interpret the formats: it carries the layout from the port that knows it
/// (a device's source or sink, see [`PortSpec::layout`]) to the blocks connected to it, which
/// decode it (e.g. with weir-iio) and check or derive their settings from it at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLayout {
    /// The device (and buffer) the layout is of, for messages: `iio:device0 (adc) buffer0`.
    pub device: String,
    /// The enabled channels, in scan-index order.
    pub channels: Vec<LayoutChannel>,
}

impl ChannelLayout {
    /// The channel formats, comma-separated in scan order: what a converter's `format`
    /// parameter would say for this device.
    pub fn formats(&self) -> String {
        self.channels
            .iter()
            .map(|c| c.format.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ChannelLayout {
    /// `iio:device0 (adc) buffer0: voltage0 le:s12/16>>4, voltage1 le:s12/16>>4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.device)?;
        if self.channels.is_empty() {
            return f.write_str("no channels");
        }
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", c.id, c.format)?;
        }
        Ok(())
    }
}

/// What a port says about the channel layout of the bytes it carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PortLayout {
    /// Nothing: the port is not a device's, or its block does not know.
    #[default]
    None,
    /// The device's layout.
    Known(ChannelLayout),
    /// The port is a device's, but its layout cannot be read now (the device is absent, say);
    /// the reason, for the blocks that would have taken their settings from it.
    Unknown(String),
}

/// The channel layout at the other end of one of a block's connections, as the loader hands it
/// to the block ([`Params::input_layout`], [`BuildContext::input_layout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLayout {
    /// The other end, `block.port`.
    pub peer: String,
    /// The other end's block type.
    pub peer_type: String,
    /// Its layout, or why it is unknown.
    pub layout: Result<ChannelLayout, String>,
}

impl PeerLayout {
    /// The other end for messages: `` `src.out` (dmabuf_source) ``.
    pub fn describe(&self) -> String {
        format!("`{}` ({})", self.peer, self.peer_type)
    }
}

/// The layouts at the other ends of a block's connections, by the block's port name; only
/// peers that publish a layout ([`PortLayout::Known`] or [`PortLayout::Unknown`]) are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerLayouts {
    /// Input port → the output feeding it.
    pub inputs: BTreeMap<String, PeerLayout>,
    /// Output port → the inputs it feeds.
    pub outputs: BTreeMap<String, Vec<PeerLayout>>,
}

/// One stream port of a block instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Name used in flowgraph files (`in`, `out`).
    pub name: &'static str,
    /// The FutureSDR port (field) name it maps to.
    pub runtime_name: &'static str,
    /// Item type carried.
    pub item: ItemType,
    /// For outputs: the buffer the block writes into. Ignored for inputs, which adapt to the
    /// buffer of the output they are connected to.
    pub buffer: BufferKind,
    /// For inputs: the fewest items the block needs to make progress (an FFT's length).
    pub min_items: usize,
    /// For outputs whose buffer has a fixed size (DMA blocks): items per block.
    pub fixed_buffer_items: Option<usize>,
    /// For outputs: the block can write into a [`BufferKind::FillBlock`] buffer (device
    /// memory of a zero-copy TX sink) as well as into a circular one.
    pub fills_blocks: bool,
    /// The channel layout of the bytes on this port, where a device defines it: on an output,
    /// the layout of what it writes (an RX device's source); on an input, the layout it must
    /// be given (a TX device's sink). The loader hands it to the block at the other end of
    /// each connection ([`Params::input_layout`], [`Params::output_layouts`]).
    pub layout: PortLayout,
    /// The block's ports depend on the layout of this port's peer: once the connections are
    /// known, the loader describes the block again with the peers' layouts filled in, so its
    /// [`PortsFn`] can check them (refusing a mismatch at load time) or derive settings from
    /// them, and its factory finds them in [`BuildContext`].
    pub reads_layout: bool,
    /// For inputs a block writes to a file with `O_DIRECT`: the input must come straight from
    /// an output of fixed-size device blocks ([`Self::fixed_buffer_items`]) whose size in bytes
    /// is a multiple of this alignment, so that every block is one aligned write. Checked by
    /// the loader (and so by `weir check`).
    pub aligned_blocks: Option<usize>,
    /// For inputs: the buffer (in items) the block wants in front of it when the flowgraph
    /// asks for none: a block that makes one system call per call on its own thread (a file
    /// writer) makes fewer, larger calls, and waits for fewer wake-ups, from a larger buffer.
    /// Only a default: a connection's `buffer` wins, and a device's fixed blocks stay as they
    /// are.
    pub preferred_buffer_items: Option<usize>,
}

impl PortSpec {
    /// An input port.
    pub fn input(name: &'static str, runtime_name: &'static str, item: ItemType) -> Self {
        Self {
            name,
            runtime_name,
            item,
            buffer: BufferKind::Circular,
            min_items: 1,
            fixed_buffer_items: None,
            fills_blocks: false,
            layout: PortLayout::None,
            reads_layout: false,
            aligned_blocks: None,
            preferred_buffer_items: None,
        }
    }

    /// An output port writing into `buffer`.
    pub fn output(
        name: &'static str,
        runtime_name: &'static str,
        item: ItemType,
        buffer: BufferKind,
    ) -> Self {
        Self {
            name,
            runtime_name,
            item,
            buffer,
            min_items: 1,
            fixed_buffer_items: None,
            fills_blocks: false,
            layout: PortLayout::None,
            reads_layout: false,
            aligned_blocks: None,
            preferred_buffer_items: None,
        }
    }

    /// An input that needs at least `n` items per call.
    pub fn with_min_items(mut self, n: usize) -> Self {
        self.min_items = n;
        self
    }

    /// An input that wants a buffer of at least `items` in front of it where the flowgraph
    /// sets none ([`Self::preferred_buffer_items`]).
    pub fn with_preferred_buffer(mut self, items: usize) -> Self {
        self.preferred_buffer_items = Some(items);
        self
    }

    /// An input that needs its upstream output to write into device memory in place.
    pub fn wanting_filled_blocks(mut self) -> Self {
        self.buffer = BufferKind::FillBlock;
        self
    }

    /// An output that can write straight into a zero-copy sink's device memory.
    pub fn filling_blocks(mut self) -> Self {
        self.fills_blocks = true;
        self
    }

    /// An output whose buffer holds exactly `n` items per block.
    pub fn with_fixed_buffer(mut self, n: usize) -> Self {
        self.fixed_buffer_items = Some(n);
        self
    }

    /// A port carrying a device's channel layout (see [`Self::layout`]).
    pub fn with_layout(mut self, layout: PortLayout) -> Self {
        self.layout = layout;
        self
    }

    /// A port whose block reads its peer's channel layout (see [`Self::reads_layout`]).
    pub fn reading_layout(mut self) -> Self {
        self.reads_layout = true;
        self
    }

    /// An input that must be fed whole device blocks of a multiple of `align` bytes (see
    /// [`Self::aligned_blocks`]).
    pub fn wanting_aligned_blocks(mut self, align: usize) -> Self {
        self.aligned_blocks = Some(align);
        self
    }
}

/// The stream ports of a block instance (they may depend on its parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports {
    /// Stream inputs.
    pub inputs: Vec<PortSpec>,
    /// Stream outputs.
    pub outputs: Vec<PortSpec>,
    /// Message inputs (FutureSDR handler names, used as-is in flowgraph files).
    pub message_inputs: Vec<&'static str>,
    /// Message outputs.
    pub message_outputs: Vec<&'static str>,
}

/// What a factory gets to build one block instance.
pub struct BuildContext<'a> {
    /// Instance name from the flowgraph file.
    pub name: &'a str,
    /// Resolved parameters.
    pub params: &'a Params,
    input_buffers: HashMap<&'static str, BufferKind>,
    input_sizes: HashMap<&'static str, usize>,
    output_buffers: HashMap<&'static str, BufferKind>,
    fg: &'a mut Flowgraph,
    stats: Arc<BlockStats>,
    /// The ports the block described at load time, to check the kernel's against.
    declared: Option<&'a Ports>,
    /// What [`Self::add`] found wrong with the kernel's ports; the builder refuses the block.
    port_mismatch: Option<String>,
}

impl<'a> BuildContext<'a> {
    /// A context for building one block onto `fg`.
    pub fn new(
        name: &'a str,
        params: &'a Params,
        input_buffers: HashMap<&'static str, BufferKind>,
        fg: &'a mut Flowgraph,
    ) -> Self {
        Self {
            name,
            params,
            input_buffers,
            input_sizes: HashMap::new(),
            output_buffers: HashMap::new(),
            fg,
            stats: Arc::default(),
            declared: None,
            port_mismatch: None,
        }
    }

    /// Check the kernel [`add`](Self::add)ed against `ports`, the ports the block described at
    /// load time (the builder does, for every block of a flowgraph).
    pub fn declare_ports(&mut self, ports: &'a Ports) {
        self.declared = Some(ports);
    }

    /// Make output `port` write into `kind` (set by the builder from the input it feeds).
    pub fn set_output_buffer(&mut self, port: &'static str, kind: BufferKind) {
        self.output_buffers.insert(port, kind);
    }

    /// The buffer output `port` must write into: circular, or the device memory of a
    /// zero-copy sink ([`BufferKind::FillBlock`]).
    pub fn output_buffer(&self, port: &str) -> BufferKind {
        self.output_buffers
            .get(port)
            .copied()
            .unwrap_or(BufferKind::Circular)
    }

    /// Set the buffer size (in items) asked for on the connection into input `port`.
    pub fn set_input_buffer_items(&mut self, port: &'static str, items: usize) {
        self.input_sizes.insert(port, items);
    }

    /// The buffer size (in items) the flowgraph asks for on input `port`, if any.
    pub fn input_buffer_items(&self, port: &str) -> Option<usize> {
        self.input_sizes.get(port).copied()
    }

    /// Apply the buffer size asked for on input `port` to the block's reader; factories call
    /// this for every input before adding the block.
    pub fn configure_input<R: CpuBufferReader>(&self, port: &str, reader: &mut R) {
        if let Some(n) = self.input_buffer_items(port) {
            reader.set_min_buffer_size_in_items(n);
        }
    }

    /// The channel layout of the output feeding input `port`, when it publishes one (see
    /// [`Params::input_layout`]). The loader found it, so it is there whatever order blocks
    /// are built in.
    pub fn input_layout(&self, port: &str) -> Option<&PeerLayout> {
        self.params.input_layout(port)
    }

    /// The channel layouts the inputs fed by output `port` require (see
    /// [`Params::output_layouts`]).
    pub fn output_layouts(&self, port: &str) -> &[PeerLayout] {
        self.params.output_layouts(port)
    }

    /// The buffer kind the input `port` is connected to (circular when unconnected).
    pub fn input_buffer(&self, port: &str) -> BufferKind {
        self.input_buffers
            .get(port)
            .copied()
            .unwrap_or(BufferKind::Circular)
    }

    /// The statistics the block must update.
    pub fn stats(&self) -> Arc<BlockStats> {
        self.stats.clone()
    }

    /// Add the built kernel to the flowgraph, [`Guarded`]: its `init`, `work` and `deinit`
    /// errors and its panics are recorded in the block's [`BlockStats`], so a run fails naming
    /// the block and the reason, and a message its handler refuses is answered rather than
    /// ending the flowgraph.
    ///
    /// The kernel's stream and message ports are checked against the ports the block
    /// described ([`declare_ports`](Self::declare_ports)); a difference is a bug of the block,
    /// and the builder refuses it naming both.
    pub fn add<K: Kernel + KernelInterface + Send + 'static>(&mut self, kernel: K) -> BlockId {
        let stats = self.stats.clone();
        self.add_guarded(Guarded::new(kernel, stats, ""))
    }

    /// [`add`](Self::add) a kernel already wrapped in [`Guarded`], with the context its errors
    /// are recorded with (a device, an address) or a hook to run after its `deinit`. Wrap it
    /// with [`Self::stats`].
    pub fn add_guarded<K: Kernel + KernelInterface + Send + 'static>(
        &mut self,
        kernel: Guarded<K>,
    ) -> BlockId {
        if let Some(declared) = self.declared
            && self.port_mismatch.is_none()
        {
            self.port_mismatch = port_mismatch::<K>(declared, kernel.inner());
        }
        let r = self.fg.add(kernel);
        if let Ok(mut b) = self.fg.block_mut(&r) {
            b.set_instance_name(self.name);
        }
        r.id()
    }

    /// What [`add`](Self::add) found wrong with the kernel's ports, if anything.
    pub(crate) fn port_mismatch(&self) -> Option<&str> {
        self.port_mismatch.as_deref()
    }

    pub(crate) fn into_stats(self) -> Arc<BlockStats> {
        self.stats
    }
}

/// How the ports of `kernel` differ from `declared` (by FutureSDR name), if they do: its
/// stream ports must be exactly those declared (an undeclared input could never be connected,
/// and FutureSDR refuses to run a block with one unconnected); every declared message port must
/// exist (a kernel may have handlers the block does not offer in flowgraph files, as FutureSDR's
/// `Fft` has `fft_size`).
fn port_mismatch<K: KernelInterface>(declared: &Ports, kernel: &K) -> Option<String> {
    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }
    fn exactly(what: &str, declared: Vec<String>, real: Vec<String>) -> Option<String> {
        let (declared, real) = (sorted(declared), sorted(real));
        (declared != real).then(|| {
            format!(
                "its {what} are [{}] but the kernel's are [{}]",
                declared.join(", "),
                real.join(", ")
            )
        })
    }
    fn present(what: &str, declared: &[&str], real: &[&str]) -> Option<String> {
        let missing: Vec<&str> = declared
            .iter()
            .copied()
            .filter(|d| !real.contains(d))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "it declares {what} [{}] but the kernel's are [{}]",
                missing.join(", "),
                real.join(", ")
            )
        })
    }
    let names = |p: &[PortSpec]| p.iter().map(|p| p.runtime_name.to_string()).collect();
    let differences: Vec<String> = [
        exactly(
            "stream inputs",
            names(&declared.inputs),
            kernel.stream_inputs(),
        ),
        exactly(
            "stream outputs",
            names(&declared.outputs),
            kernel.stream_outputs(),
        ),
        present(
            "message inputs",
            &declared.message_inputs,
            K::message_inputs(),
        ),
        present(
            "message outputs",
            &declared.message_outputs,
            K::message_outputs(),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!differences.is_empty()).then(|| {
        format!(
            "the block's declared ports do not match its kernel `{}`: {}",
            K::type_name(),
            differences.join("; ")
        )
    })
}

/// Builds a block instance from its context.
pub type BuildFn = fn(&mut BuildContext<'_>) -> Result<BlockId, BuildError>;
/// Describes a block instance's ports from its parameters.
pub type PortsFn = fn(&Params) -> Result<Ports, BuildError>;

/// Everything the registry knows about one block type.
#[derive(Clone)]
pub struct BlockDescriptor {
    /// Type name used in flowgraph files.
    pub type_name: &'static str,
    /// One-line documentation.
    pub doc: &'static str,
    /// Parameters.
    pub params: Vec<ParamSpec>,
    /// Ports, as a function of the parameters.
    pub ports: PortsFn,
    /// The factory.
    pub build: BuildFn,
}

impl fmt::Debug for BlockDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockDescriptor")
            .field("type_name", &self.type_name)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl BlockDescriptor {
    /// Check raw parameters against this descriptor and fill in defaults.
    ///
    /// Errors name the offending parameter; `unknown` parameters are reported with the closest
    /// known name.
    pub fn resolve<'v>(
        &self,
        raw: impl IntoIterator<Item = (&'v str, Value)>,
    ) -> Result<Params, BuildError> {
        let mut params = Params::new();
        for (name, value) in raw {
            let Some(spec) = self.params.iter().find(|p| p.name == name) else {
                let known: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                return Err(BuildError::param(
                    name,
                    format!(
                        "unknown parameter for block type `{}`{}",
                        self.type_name,
                        crate::suggest::did_you_mean(name, &known)
                    ),
                ));
            };
            let v = spec.check(value).map_err(|m| BuildError::param(name, m))?;
            params.set(name, v);
        }
        for spec in &self.params {
            if params.get(spec.name).is_none() {
                match &spec.default {
                    Some(d) => params.set_default(spec.name, d.clone()),
                    None => {
                        return Err(BuildError::param(
                            spec.name,
                            format!("required by block type `{}` but not given", self.type_name),
                        ));
                    }
                }
            }
        }
        Ok(params)
    }
}

/// Something that adds block types to a registry.
pub trait Plugin {
    /// The plugin's name.
    fn name(&self) -> &'static str;
    /// Register the plugin's block types.
    fn register(&self, registry: &mut Registry);
}

/// Declares a plugin whose block types are its block files: the unit struct and its [`Plugin`]
/// implementation, which registers them all through the `register_blocks` function that
/// `weir-plugin-build` writes for the plugin's build script (one per file of `src/` defining
/// `pub fn descriptor()`), and that the plugin's `lib.rs` includes with [`Registry`] in scope:
///
/// ```ignore
/// use weir_core::Registry;
/// include!(concat!(env!("OUT_DIR"), "/blocks.rs"));
///
/// weir_core::plugin! {
///     /// Registers the DSP blocks.
///     pub struct DspPlugin = "dsp";
/// }
/// ```
#[macro_export]
macro_rules! plugin {
    ($(#[$attr:meta])* $vis:vis struct $plugin:ident = $name:literal;) => {
        $(#[$attr])*
        $vis struct $plugin;

        impl $crate::Plugin for $plugin {
            fn name(&self) -> &'static str {
                $name
            }

            fn register(&self, registry: &mut $crate::Registry) {
                register_blocks(registry);
            }
        }
    };
}

/// Block types by name.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    blocks: BTreeMap<&'static str, BlockDescriptor>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a plugin's blocks (builder style).
    pub fn with_plugin(mut self, plugin: &dyn Plugin) -> Self {
        plugin.register(&mut self);
        self
    }

    /// Add one block type; a later registration of the same name replaces the earlier one.
    pub fn register(&mut self, descriptor: BlockDescriptor) {
        self.blocks.insert(descriptor.type_name, descriptor);
    }

    /// Look up a block type.
    pub fn get(&self, type_name: &str) -> Option<&BlockDescriptor> {
        self.blocks.get(type_name)
    }

    /// All block types, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &BlockDescriptor> {
        self.blocks.values()
    }

    /// All type names, sorted.
    pub fn type_names(&self) -> Vec<&'static str> {
        self.blocks.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor() -> BlockDescriptor {
        BlockDescriptor {
            type_name: "probe",
            doc: "",
            params: vec![
                ParamSpec::required("rate", ParamType::Float, ""),
                ParamSpec::optional("pattern", ParamType::Str, Value::Str("ramp".into()), ""),
                ParamSpec::optional("count", ParamType::Int, Value::Int(4), ""),
            ],
            ports: |_| Ok(Ports::default()),
            build: |_| Err(BuildError::Other("not built in this test".into())),
        }
    }

    #[test]
    fn is_set_tells_given_parameters_from_defaults() {
        let p = descriptor()
            .resolve([("rate", Value::Int(5)), ("count", Value::Int(4))])
            .expect("resolves");
        assert!(p.is_set("rate"));
        // Given with the default value: still given.
        assert!(p.is_set("count"));
        // Filled in from the default.
        assert!(!p.is_set("pattern"));
        assert_eq!(p.str("pattern").expect("default"), "ramp");
        assert!(!p.is_set("nonexistent"));
    }

    #[test]
    fn floats_must_be_finite_unless_allowed_and_ranges_read_as_written() {
        let rate = ParamSpec::required("rate", ParamType::Float, "")
            .above(0.0)
            .max(1e12);
        assert_eq!(rate.range_text().as_deref(), Some("> 0 and <= 1e12"));
        assert!(rate.check(Value::Float(1e-300)).is_ok());
        let e = rate.check(Value::Float(0.0)).expect_err("0 is not above 0");
        assert_eq!(e, "must be > 0 and <= 1e12, found 0");
        let e = rate.check(Value::Float(f64::INFINITY)).expect_err("inf");
        assert_eq!(e, "must be finite (> 0 and <= 1e12), found inf");
        let e = rate.check(Value::Float(f64::NAN)).expect_err("NaN");
        assert_eq!(e, "must be a number, found NaN");

        // No range at all: any finite number, but not inf.
        let gain = ParamSpec::required("gain", ParamType::Float, "");
        assert!(gain.check(Value::Float(-1e300)).is_ok());
        assert!(gain.check(Value::Float(f64::NEG_INFINITY)).is_err());
        let open = gain.clone().non_finite(true);
        assert!(open.check(Value::Float(f64::NEG_INFINITY)).is_ok());
        assert!(open.check(Value::Float(f64::NAN)).is_err());

        // 0 besides a range: a timeout whose 0 means "forever".
        let timeout = ParamSpec::required("timeout", ParamType::Float, "")
            .within(0.001, 86_400.0)
            .or_zero(true);
        assert_eq!(
            timeout.range_text().as_deref(),
            Some("0 or 0.001 ..= 86400")
        );
        assert!(timeout.check(Value::Float(0.0)).is_ok());
        assert!(timeout.check(Value::Float(0.0001)).is_err());
        assert!(timeout.check(Value::Float(1e300)).is_err());

        // Integers are shown as written, and lists name the element.
        let n = ParamSpec::required("n", ParamType::Int, "").within(1, 16_777_216);
        assert_eq!(
            n.check(Value::Int(i64::MAX)).expect_err("too large"),
            "must be 1 ..= 16777216, found 9223372036854775807"
        );
        let taps = ParamSpec::required("taps", ParamType::FloatList, "");
        assert_eq!(
            taps.check(Value::List(vec![1.0, f64::INFINITY]))
                .expect_err("inf tap"),
            "element 2: must be finite, found inf"
        );
        assert_eq!(number_text(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    }

    #[test]
    fn setting_a_defaulted_parameter_makes_it_set() {
        let mut p = descriptor()
            .resolve([("rate", Value::Float(1.0))])
            .expect("resolves");
        assert!(!p.is_set("pattern"));
        p.set("pattern", Value::Str("tone".into()));
        assert!(p.is_set("pattern"));
        // Parameters made in code are all given.
        let q = Params::new().with("pattern", Value::Str("ramp".into()));
        assert!(q.is_set("pattern"));
    }
}

//! Typed block configuration: each parameter declared once, as a field of a struct.
//!
//! [`block_config!`](crate::block_config) declares a block's parameters as the fields of a
//! struct: the field's name is the parameter's, its doc comment the parameter's documentation,
//! its type says how the value is checked and read ([`ParamValue`]), `= default` makes it
//! optional, and `#[param(min = .., max = .., example = ..)]` adds a range or an example. The
//! macro makes the [`ParamSpec`]s the registry shows and checks ([`BlockConfig::params`]) and
//! the parser ([`BlockConfig::parse`]) from that one declaration.
//!
//! The loader parses the configuration when it describes the block's ports, at check time, so
//! `weir check` refuses what the parser refuses, with file, line and column; the parsed value is
//! kept with the parameters ([`Params::config`]) and the block's `build` reads the same one.
//!
//! String choices are enums declared with [`choice!`](crate::choice): the registry refuses any
//! other string when it resolves the parameters.
//!
//! ```
//! use weir_core::config::BlockConfig;
//! use weir_core::{Value, block_config, choice};
//!
//! choice! {
//!     /// Which way the transform goes.
//!     pub enum Direction {
//!         /// Time to frequency.
//!         Forward = "forward",
//!         /// Frequency to time.
//!         Inverse = "inverse",
//!     }
//! }
//!
//! block_config! {
//!     /// The parameters of a transform.
//!     pub struct Config {
//!         /// transform length (items per frame)
//!         #[param(min = 1)]
//!         pub len: usize,
//!         /// `forward` or `inverse`
//!         pub direction: Direction = Direction::Forward,
//!     }
//! }
//!
//! let spec = Config::params();
//! assert_eq!(spec[0].name, "len");
//! let descriptor_params = weir_core::Params::new().with("len", Value::Int(64));
//! # let mut p = descriptor_params;
//! # p.set("direction", Value::Str("inverse".into()));
//! let config = p.config::<Config>().expect("parses");
//! assert_eq!((config.len, config.direction), (64, Direction::Inverse));
//! ```

use std::any::Any;
use std::sync::Arc;

use crate::item::ItemType;
use crate::registry::{BuildError, ParamSpec, ParamType, Params, Value};

/// A block's parameters as one typed value, declared with
/// [`block_config!`](crate::block_config).
pub trait BlockConfig: Sized + Send + Sync + 'static {
    /// The parameters, as the registry lists and checks them.
    fn params() -> Vec<ParamSpec>;
    /// Read the (resolved) parameters. Called once per block instance, when the loader first
    /// describes its ports; see [`Params::config`].
    fn parse(params: &Params) -> Result<Self, BuildError>;
}

/// A Rust type a parameter can be read as.
pub trait ParamValue: Sized {
    /// The parameter type it is declared with.
    const TYPE: ParamType;
    /// As a parameter value (for a default).
    fn into_value(self) -> Value;
    /// Read parameter `name` from resolved parameters.
    fn read(params: &Params, name: &str) -> Result<Self, BuildError>;
}

impl ParamValue for i64 {
    const TYPE: ParamType = ParamType::Int;
    fn into_value(self) -> Value {
        Value::Int(self)
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        params.int(name)
    }
}

/// Unsigned integers: a negative value, or one too large for the type, is refused.
macro_rules! unsigned_param {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            const TYPE: ParamType = ParamType::Int;
            fn into_value(self) -> Value {
                Value::Int(i64::try_from(self).unwrap_or(i64::MAX))
            }
            fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
                let v = params.int(name)?;
                <$t>::try_from(v).map_err(|_| {
                    BuildError::param(
                        name,
                        format!("must be 0 ..= {}, found {v}", <$t>::MAX),
                    )
                })
            }
        }
    )*};
}
unsigned_param!(u8, u16, u32, u64, usize);

impl ParamValue for f64 {
    const TYPE: ParamType = ParamType::Float;
    fn into_value(self) -> Value {
        Value::Float(self)
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        params.float(name)
    }
}

impl ParamValue for f32 {
    const TYPE: ParamType = ParamType::Float;
    fn into_value(self) -> Value {
        Value::Float(f64::from(self))
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        Ok(params.float(name)? as f32)
    }
}

impl ParamValue for bool {
    const TYPE: ParamType = ParamType::Bool;
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        params.bool(name)
    }
}

impl ParamValue for String {
    const TYPE: ParamType = ParamType::Str;
    fn into_value(self) -> Value {
        Value::Str(self)
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        params.str(name).map(str::to_string)
    }
}

impl ParamValue for ItemType {
    const TYPE: ParamType = ParamType::Item;
    fn into_value(self) -> Value {
        Value::Str(self.name().to_string())
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        params.item(name)
    }
}

impl ParamValue for Vec<f64> {
    const TYPE: ParamType = ParamType::FloatList;
    fn into_value(self) -> Value {
        Value::List(self)
    }
    fn read(params: &Params, name: &str) -> Result<Self, BuildError> {
        params.float_list(name).map(<[f64]>::to_vec)
    }
}

/// The spec of parameter `name` of type `T` (used by [`block_config!`](crate::block_config)).
pub fn spec<T: ParamValue>(name: &'static str, doc: &'static str, default: Option<T>) -> ParamSpec {
    match default {
        Some(d) => ParamSpec::optional(name, T::TYPE, d.into_value(), doc),
        None => ParamSpec::required(name, T::TYPE, doc),
    }
}

/// `` `a`, `b` or `c` ``: the names of a choice, for messages.
pub fn choice_text(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [rest @ .., last] => format!(
            "{} or `{last}`",
            rest.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The configuration cached in a [`Params`].
pub(crate) type CachedConfig = Arc<dyn Any + Send + Sync>;

/// Declare an enum whose variants are the strings a parameter may take.
///
/// The enum gets `NAMES` (in declaration order), `name()`, `Display`, and [`ParamValue`] with
/// type [`ParamType::Choice`], so the registry refuses any other string when it resolves the
/// parameters (`weir check`, with file, line and column). See the [module](self) example.
#[macro_export]
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The names written in flowgraph files, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The name written in flowgraph files.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl $crate::config::ParamValue for $name {
            const TYPE: $crate::ParamType = $crate::ParamType::Choice(Self::NAMES);
            fn into_value(self) -> $crate::Value {
                $crate::Value::Str(self.name().to_string())
            }
            fn read(
                params: &$crate::Params,
                name: &str,
            ) -> ::std::result::Result<Self, $crate::BuildError> {
                match params.str(name)? {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::BuildError::param(
                        name,
                        format!(
                            "expected {}, found `{other}`",
                            $crate::config::choice_text(Self::NAMES)
                        ),
                    )),
                }
            }
        }
    };
}

/// Declare a block's parameters as a struct implementing [`BlockConfig`]; see the
/// [module](self) documentation.
///
/// Each field: its doc comment (the parameter's documentation), optionally
/// `#[param(min = .., max = .., example = ..)]` ([`ParamSpec`]'s builder methods of those
/// names), `name: Type`, and `= default` for an optional parameter.
#[macro_export]
macro_rules! block_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                $(#[param($($key:ident = $arg:expr),* $(,)?)])?
                $fvis:vis $field:ident : $ty:ty $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            $($(#[doc = $doc])+ $fvis $field: $ty,)*
        }

        impl $crate::config::BlockConfig for $name {
            fn params() -> ::std::vec::Vec<$crate::ParamSpec> {
                vec![$({
                    let default: ::std::option::Option<$ty> =
                        $crate::block_config!(@default $ty $(, $default)?);
                    #[allow(unused_mut)]
                    let mut spec = $crate::config::spec::<$ty>(
                        stringify!($field),
                        concat!($($doc),+).trim_ascii(),
                        default,
                    );
                    $($(spec = spec.$key($arg);)*)?
                    spec
                }),*]
            }

            fn parse(
                params: &$crate::Params,
            ) -> ::std::result::Result<Self, $crate::BuildError> {
                Ok(Self {
                    $($field: <$ty as $crate::config::ParamValue>::read(
                        params,
                        stringify!($field),
                    )?,)*
                })
            }
        }
    };
    (@default $ty:ty) => {
        None
    };
    (@default $ty:ty, $default:expr) => {
        Some(::std::convert::Into::<$ty>::into($default))
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::registry::{BlockDescriptor, Ports};
    use crate::{BlockConfig, BuildError, Value};

    crate::choice! {
        /// A test choice.
        enum Shape {
            /// One.
            Round = "round",
            /// Two.
            Square = "square",
        }
    }

    crate::block_config! {
        /// A test configuration.
        struct Config {
            /// a count
            /// over two lines
            #[param(min = 1, max = 64)]
            count: usize,
            /// a shape
            shape: Shape = Shape::Square,
            /// a name
            name: String = "x",
        }
    }

    fn descriptor() -> BlockDescriptor {
        BlockDescriptor {
            type_name: "probe",
            doc: "",
            params: Config::params(),
            ports: |_| Ok(Ports::default()),
            build: |_| Err(BuildError::Other("not built in this test".into())),
        }
    }

    #[test]
    fn one_declaration_gives_the_specs_the_checks_and_the_parser() {
        let specs = Config::params();
        let names: Vec<_> = specs.iter().map(|s| s.name).collect();
        assert_eq!(names, ["count", "shape", "name"]);
        assert_eq!(specs[0].doc, "a count over two lines");
        assert_eq!((specs[0].min, specs[0].max), (Some(1.0), Some(64.0)));
        assert!(specs[0].default.is_none());
        assert_eq!(specs[1].default, Some(Value::Str("square".into())));
        assert_eq!(specs[1].ty.to_string(), "round|square");

        let d = descriptor();
        let p = d.resolve([("count", Value::Int(3))]).expect("resolves");
        let c = p.config::<Config>().expect("parses");
        assert_eq!((c.count, c.shape, c.name.as_str()), (3, Shape::Square, "x"));
        // Parsed once: the same value again.
        assert!(Arc::ptr_eq(&c, &p.config::<Config>().expect("cached")));
        // Cloned parameters keep it; changed ones parse anew.
        assert!(Arc::ptr_eq(
            &c,
            &p.clone().config::<Config>().expect("kept")
        ));
        let mut q = p.clone();
        q.set("shape", Value::Str("round".into()));
        assert_eq!(q.config::<Config>().expect("parses").shape, Shape::Round);

        let e = d
            .resolve([
                ("count", Value::Int(3)),
                ("shape", Value::Str("oval".into())),
            ])
            .expect_err("not a shape");
        assert!(
            e.to_string()
                .contains("expects `round` or `square`, found \"oval\""),
            "{e}"
        );
        let e = d
            .resolve([("count", Value::Int(0))])
            .expect_err("below min");
        assert!(e.to_string().contains("must be 1 ..= 64"), "{e}");
    }
}

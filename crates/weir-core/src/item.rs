//! Stream item types that flowgraph files name (`"ci16"`, `"cf32"`, ...).

use std::fmt;
use std::str::FromStr;

use num_complex::Complex;

/// Interleaved 16-bit I/Q sample, as most IIO converters deliver it.
pub type Ci16 = Complex<i16>;
/// Complex 32-bit float sample, the usual DSP type.
pub type Cf32 = Complex<f32>;

/// The item type carried by a stream port.
///
/// Every item type is plain old data, so a by-reference buffer can view mapped device memory as a
/// slice of it without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// `u8`: raw bytes.
    U8,
    /// `i16`: one real 16-bit sample.
    I16,
    /// `f32`: one real float sample.
    F32,
    /// `ci16`: interleaved 16-bit I/Q ([`Ci16`]).
    Ci16,
    /// `cf32`: complex float ([`Cf32`]).
    Cf32,
}

impl ItemType {
    /// Every item type, in the order documentation lists them.
    pub const ALL: [ItemType; 5] = [
        ItemType::U8,
        ItemType::I16,
        ItemType::F32,
        ItemType::Ci16,
        ItemType::Cf32,
    ];

    /// The name used in flowgraph files.
    pub fn name(self) -> &'static str {
        match self {
            ItemType::U8 => "u8",
            ItemType::I16 => "i16",
            ItemType::F32 => "f32",
            ItemType::Ci16 => "ci16",
            ItemType::Cf32 => "cf32",
        }
    }

    /// Size of one item in bytes.
    pub fn size(self) -> usize {
        match self {
            ItemType::U8 => 1,
            ItemType::I16 => 2,
            ItemType::F32 | ItemType::Ci16 => 4,
            ItemType::Cf32 => 8,
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ItemType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ItemType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ItemType::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "unknown item type `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// Runs `$body` with the type alias `$T` bound to the Rust type of an [`ItemType`] value.
///
/// Blocks that work on any item type use it in their factories to pick the monomorphised block.
///
/// ```
/// use weir_core::{with_item_type, ItemType};
/// let size = with_item_type!(ItemType::Cf32, T => std::mem::size_of::<T>());
/// assert_eq!(size, 8);
/// ```
#[macro_export]
macro_rules! with_item_type {
    ($item:expr, $T:ident => $body:expr) => {
        match $item {
            $crate::ItemType::U8 => {
                type $T = u8;
                $body
            }
            $crate::ItemType::I16 => {
                type $T = i16;
                $body
            }
            $crate::ItemType::F32 => {
                type $T = f32;
                $body
            }
            $crate::ItemType::Ci16 => {
                type $T = $crate::Ci16;
                $body
            }
            $crate::ItemType::Cf32 => {
                type $T = $crate::Cf32;
                $body
            }
        }
    };
}

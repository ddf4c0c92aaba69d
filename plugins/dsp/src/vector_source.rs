//! `vector_source`: items from a list in the flowgraph file, once (FutureSDR's VectorSource)
//! or repeated forever (FutureSDR's Source cycling through them).

use futuresdr::blocks::{Source, VectorSource};
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, Cf32, Ci16, ItemType, ParamSpec, ParamType, Params,
    Ports, Value, with_item_type, with_writer,
};

/// Items of one type from a list of numbers: one number per real item, an interleaved
/// (re, im) pair per complex item.
pub trait FromList: Sized {
    /// The items `list` describes, or why it does not describe any.
    fn from_list(list: &[f64]) -> Result<Vec<Self>, String>;
}

/// `v` as a whole number in `min..=max`.
fn whole(v: f64, min: f64, max: f64, ty: &str) -> Result<f64, String> {
    if v.fract() == 0.0 && (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not a {ty} value (whole number in {min} ..= {max})"
        ))
    }
}

fn pairs(list: &[f64]) -> Result<impl Iterator<Item = (f64, f64)> + '_, String> {
    if !list.len().is_multiple_of(2) {
        return Err(format!(
            "complex items are given as interleaved re, im pairs, but the list has {} numbers",
            list.len()
        ));
    }
    Ok(list.chunks_exact(2).map(|c| (c[0], c[1])))
}

impl FromList for u8 {
    fn from_list(list: &[f64]) -> Result<Vec<Self>, String> {
        list.iter()
            .map(|&v| whole(v, 0.0, 255.0, "u8").map(|v| v as u8))
            .collect()
    }
}

impl FromList for i16 {
    fn from_list(list: &[f64]) -> Result<Vec<Self>, String> {
        list.iter()
            .map(|&v| whole(v, -32768.0, 32767.0, "i16").map(|v| v as i16))
            .collect()
    }
}

impl FromList for f32 {
    fn from_list(list: &[f64]) -> Result<Vec<Self>, String> {
        Ok(list.iter().map(|&v| v as f32).collect())
    }
}

impl FromList for Ci16 {
    fn from_list(list: &[f64]) -> Result<Vec<Self>, String> {
        pairs(list)?
            .map(|(re, im)| {
                Ok(Ci16::new(
                    whole(re, -32768.0, 32767.0, "i16")? as i16,
                    whole(im, -32768.0, 32767.0, "i16")? as i16,
                ))
            })
            .collect()
    }
}

impl FromList for Cf32 {
    fn from_list(list: &[f64]) -> Result<Vec<Self>, String> {
        Ok(pairs(list)?
            .map(|(re, im)| Cf32::new(re as f32, im as f32))
            .collect())
    }
}

fn check(p: &Params) -> Result<ItemType, BuildError> {
    let item = p.item("item")?;
    let list = p.float_list("items")?;
    if list.is_empty() {
        return Err(BuildError::param("items", "the list of items is empty"));
    }
    with_item_type!(item, T => T::from_list(list).map(drop).map_err(|m| BuildError::param("items", m)))?;
    Ok(item)
}

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::source(check(p)?))
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let item = check(ctx.params)?;
    let list = ctx.params.float_list("items")?;
    let repeat = ctx.params.bool("repeat")?;
    let out = ctx.output_buffer("out");
    with_item_type!(item, T => {
        let items = T::from_list(list).map_err(|m| BuildError::param("items", m))?;
        Ok(with_writer!(out, T, W => {
            if repeat {
                let mut i = 0;
                ctx.add(Source::<_, T, W>::with_buffer(move || {
                    let v = items[i];
                    i = (i + 1) % items.len();
                    v
                }))
            } else {
                ctx.add(VectorSource::<T, W>::new(items))
            }
        }))
    })
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "vector_source",
        doc: "Items from the list `items` (complex: interleaved re, im), once then end, or repeated forever (FutureSDR's VectorSource / Source)",
        params: vec![
            ParamSpec::required(
                "items",
                ParamType::FloatList,
                "the items; complex types take interleaved re, im pairs",
            )
            .with_example(Value::List(vec![1.0, 0.0])),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::boolean(
                "repeat",
                false,
                "start over at the end instead of ending the stream",
            ),
        ],
        ports,
        build,
    }
}

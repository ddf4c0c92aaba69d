//! `file_source`: FutureSDR's FileSource: raw items from a file, as `file_sink` writes them.

use futuresdr::blocks::FileSource;
use futuresdr::runtime::BlockId;
use weir_core::{
    BlockDescriptor, BuildContext, BuildError, ItemType, ParamSpec, ParamType, Params, Ports,
    Value, with_item_type, with_writer,
};

fn ports(p: &Params) -> Result<Ports, BuildError> {
    Ok(Ports::source(p.item("item")?))
}

/// Checks what FutureSDR's FileSource would otherwise panic on (it unwraps the open) or get
/// wrong (a partial item at the end shifts every repetition).
fn check_file(path: &str, item: ItemType, repeat: bool) -> Result<(), BuildError> {
    let meta = std::fs::File::open(path)
        .and_then(|f| f.metadata())
        .map_err(|e| BuildError::param("path", format!("cannot open `{path}`: {e}")))?;
    if !meta.is_file() {
        return Err(BuildError::param(
            "path",
            format!("`{path}` is not a regular file"),
        ));
    }
    let len = meta.len();
    if !len.is_multiple_of(item.size() as u64) {
        return Err(BuildError::param(
            "path",
            format!(
                "`{path}` has {len} bytes, not a whole number of {item} items ({} bytes each)",
                item.size()
            ),
        ));
    }
    if repeat && len == 0 {
        return Err(BuildError::param(
            "repeat",
            format!("`{path}` is empty: there is nothing to repeat"),
        ));
    }
    Ok(())
}

fn build(ctx: &mut BuildContext<'_>) -> Result<BlockId, BuildError> {
    let path = ctx.params.str("path")?.to_string();
    let item = ctx.params.item("item")?;
    let repeat = ctx.params.bool("repeat")?;
    check_file(&path, item, repeat)?;
    let out = ctx.output_buffer("out");
    Ok(with_item_type!(item, T => {
        with_writer!(out, T, W => ctx.add(FileSource::<T, W>::new(&path, repeat)))
    }))
}

/// Registry entry.
pub fn descriptor() -> BlockDescriptor {
    BlockDescriptor {
        type_name: "file_source",
        doc: "Raw items (little-endian, in-memory layout, as file_sink writes them) from a file (FutureSDR's FileSource)",
        params: vec![
            ParamSpec::required("path", ParamType::Str, "file to read"),
            ParamSpec::item(ItemType::Cf32, "item type"),
            ParamSpec::optional(
                "repeat",
                ParamType::Bool,
                Value::Bool(false),
                "start over at the end of the file instead of ending the stream",
            ),
        ],
        ports,
        build,
    }
}

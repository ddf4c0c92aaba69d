//! Checking blocks against the registry and connections against the blocks, and the
//! flowgraph as a whole.

use std::collections::HashMap;
use std::ops::Range;

use super::{
    BlockSpec, Connection, ConnectionKind, Endpoint, FlowgraphSpec, MAX_BUFFER_BYTES, Origin,
    RawBlock, RawConnection, list, name_index,
};
use crate::buffer::BufferKind;
use crate::error::LoadError;
use crate::registry::{BuildError, PortSpec, Registry};
use crate::suggest::did_you_mean;

/// The stream port `port` of block `b` among its `ports` (`what`: "output" or "input"), or
/// the message naming the ports it has.
fn stream_port<'p>(
    b: &BlockSpec,
    ports: &'p [PortSpec],
    port: &str,
    what: &str,
) -> Result<&'p PortSpec, String> {
    ports.iter().find(|p| p.name == port).ok_or_else(|| {
        let names: Vec<&str> = ports.iter().map(|p| p.name).collect();
        format!(
            "no {what} port `{port}` on `{}` ({}); {what}s: {}{}",
            b.name,
            b.type_name,
            list(&names),
            did_you_mean(port, &names)
        )
    })
}

impl FlowgraphSpec {
    /// Check every connection against the checked blocks, then the flowgraph as a whole:
    /// inputs connected once, fill-in-place outputs feeding one input, device channel layouts
    /// accepted by the blocks that read them, and buffer sizes every reader of an output can
    /// live with. Shared by files and [`FlowgraphBuilder`](crate::builder::FlowgraphBuilder).
    pub(crate) fn assemble(
        origin: Origin,
        registry: &Registry,
        mut blocks: Vec<BlockSpec>,
        raw_connections: Vec<RawConnection>,
    ) -> Result<Self, LoadError> {
        let index = name_index(&blocks);
        let mut connections = Vec::with_capacity(raw_connections.len());
        let mut spans = Vec::with_capacity(raw_connections.len());
        let mut driven: HashMap<(String, String), (Range<usize>, String)> = HashMap::new();
        for c in &raw_connections {
            let conn = Self::check_connection(&origin, &blocks, &index, c)?;
            if conn.kind == ConnectionKind::Stream {
                // A message input may have any number of senders; a stream input only one.
                let key = (conn.to.block.clone(), conn.to.port.clone());
                if let Some((first, first_text)) = driven.get(&key) {
                    return Err(origin.error(
                        c.span.clone(),
                        Some(&conn.to.block),
                        format!(
                            "input `{}` is connected twice: `{}` after `{}`{}",
                            conn.to.port,
                            c.text,
                            first_text,
                            origin.position(first)
                        ),
                    ));
                }
                driven.insert(key, (c.span.clone(), c.text.clone()));
            }
            connections.push(conn);
            spans.push(c.span.clone());
        }

        Self::refuse_loops(&origin, &blocks, &index, &connections, &spans)?;

        // An output writing into a sink's device memory cannot feed anything else.
        let mut fan_out: HashMap<&Endpoint, usize> = HashMap::new();
        for c in connections
            .iter()
            .filter(|c| c.kind == ConnectionKind::Stream)
        {
            *fan_out.entry(&c.from).or_default() += 1;
        }
        for c in &connections {
            let fills = index
                .get(&c.to.block)
                .and_then(|&b| blocks[b].ports.inputs.iter().find(|p| p.name == c.to.port))
                .is_some_and(|p| p.buffer == BufferKind::FillBlock);
            if fills && fan_out.get(&c.from).copied().unwrap_or(0) > 1 {
                let b = index
                    .get(&c.from.block)
                    .map_or(0..0, |&b| blocks[b].span.clone());
                return Err(origin.error(
                    b,
                    Some(&c.from.block),
                    format!(
                        "`{}.{}` writes into `{}`'s device blocks in place, so it cannot also feed other inputs",
                        c.from.block, c.from.port, c.to.block
                    ),
                ));
            }
        }

        for b in &blocks {
            for input in &b.ports.inputs {
                if !driven.contains_key(&(b.name.clone(), input.name.to_string())) {
                    return Err(origin.error(
                        b.span.clone(),
                        Some(&b.name),
                        format!("input `{}` is not connected", input.name),
                    ));
                }
            }
        }

        Self::flow_layouts(&origin, registry, &mut blocks, &index, &connections, &spans)?;
        Self::size_shared_buffers(&origin, &blocks, &index, &mut connections, &spans)?;

        Ok(Self {
            blocks,
            connections,
            origin,
            index,
        })
    }

    /// Refuse connections that close a loop of one kind: a block connected to itself, or a
    /// cycle of stream connections (every block in it waits for input from the one before, so
    /// none ever starts) or of message connections (a message going round would be forwarded
    /// for ever, as by two `message_copy` blocks feeding each other). A loop through a stream
    /// and a message connection is feedback a flowgraph may want (a detector retuning a mixer
    /// upstream) and is allowed.
    ///
    /// Linear in blocks and connections: one depth-first search per kind.
    fn refuse_loops(
        origin: &Origin,
        blocks: &[BlockSpec],
        index: &HashMap<String, usize>,
        connections: &[Connection],
        spans: &[Range<usize>],
    ) -> Result<(), LoadError> {
        for kind in [ConnectionKind::Stream, ConnectionKind::Message] {
            let arrow = if kind == ConnectionKind::Stream {
                "->"
            } else {
                "=>"
            };
            let text = |c: &Connection| {
                format!(
                    "{}.{} {arrow} {}.{}",
                    c.from.block, c.from.port, c.to.block, c.to.port
                )
            };
            // Outgoing connections (by position) of every block.
            let mut out: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
            for (i, c) in connections.iter().enumerate() {
                if c.kind != kind {
                    continue;
                }
                if c.from.block == c.to.block {
                    let why = if kind == ConnectionKind::Stream {
                        "its input would wait for its own output, so it can never start"
                    } else {
                        "each message it forwards would come back to it for ever"
                    };
                    return Err(origin.error(
                        spans[i].clone(),
                        Some(&c.from.block),
                        format!(
                            "`{}` connects block `{}` to itself: {why}",
                            text(c),
                            c.from.block
                        ),
                    ));
                }
                if let Some(&from) = index.get(&c.from.block) {
                    out[from].push(i);
                }
            }
            // Iterative depth-first search: 0 unvisited, 1 on the current path, 2 done.
            let mut state = vec![0u8; blocks.len()];
            // The path: (block, next of its outgoing connections to try).
            let mut path: Vec<(usize, usize)> = Vec::new();
            for root in 0..blocks.len() {
                if state[root] != 0 {
                    continue;
                }
                state[root] = 1;
                path.push((root, 0));
                while let Some(top) = path.len().checked_sub(1) {
                    let (b, next) = path[top];
                    let Some(&c) = out[b].get(next) else {
                        state[b] = 2;
                        path.pop();
                        continue;
                    };
                    path[top].1 += 1;
                    let Some(&to) = index.get(&connections[c].to.block) else {
                        continue;
                    };
                    match state[to] {
                        0 => {
                            state[to] = 1;
                            path.push((to, 0));
                        }
                        1 => {
                            // A cycle: the path from `to` back to `to` through `c`.
                            let first = path.iter().position(|&(p, _)| p == to).unwrap_or(0);
                            let mut names: Vec<&str> = path[first..]
                                .iter()
                                .map(|&(p, _)| blocks[p].name.as_str())
                                .collect();
                            names.push(blocks[to].name.as_str());
                            let why = if kind == ConnectionKind::Stream {
                                "every block in it waits for input from the one before, so none can start"
                            } else {
                                "a message sent round it would be forwarded for ever"
                            };
                            return Err(origin.error(
                                spans[c].clone(),
                                Some(&blocks[to].name),
                                format!(
                                    "`{}` closes a cycle of {} connections {}: {why}",
                                    text(&connections[c]),
                                    if kind == ConnectionKind::Stream {
                                        "stream"
                                    } else {
                                        "message"
                                    },
                                    names
                                        .iter()
                                        .map(|n| format!("`{n}`"))
                                        .collect::<Vec<_>>()
                                        .join(&format!(" {arrow} "))
                                ),
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Check one block against the registry: its type, parameters and ports.
    pub(crate) fn check_block(
        origin: &Origin,
        registry: &Registry,
        raw: RawBlock,
    ) -> Result<BlockSpec, LoadError> {
        let block = raw.name.as_str();
        let type_name = raw.type_name.as_str();
        let type_span = raw.type_span.clone();
        // A name is printed in every message and report about the block: no control
        // characters (they could rewrite the terminal), and written in a connection as
        // `name.port`, so no dot, no blank, not empty.
        if block.is_empty()
            || block
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '.')
        {
            return Err(origin.error(
                raw.table_span.clone(),
                Some(block),
                "block names may not be empty nor contain control characters, blanks or `.` (write letters, digits, `_` or `-`)",
            ));
        }
        let Some(descriptor) = registry.get(type_name) else {
            return Err(origin
                .error(
                    type_span,
                    Some(block),
                    format!(
                        "unknown block type `{type_name}`{}",
                        did_you_mean(type_name, &registry.type_names())
                    ),
                )
                .with_help("`weir blocks` lists the block types"));
        };
        let spans: HashMap<&str, Range<usize>> = raw
            .params
            .iter()
            .map(|(k, _, span)| (k.as_str(), span.clone()))
            .collect();
        let locate = |e: BuildError| match &e {
            BuildError::Param { name, .. } => {
                // Parameter errors point at the parameter's key (the block table when the
                // parameter is missing altogether).
                let span = spans
                    .get(name.as_str())
                    .cloned()
                    .unwrap_or_else(|| raw.table_span.clone());
                origin.error(span, Some(block), e.to_string())
            }
            BuildError::Other(m) => origin.error(type_span.clone(), Some(block), m),
        };
        let params = descriptor
            .resolve(raw.params.iter().map(|(k, v, _)| (k.as_str(), v.clone())))
            .map_err(locate)?;
        let ports = (descriptor.ports)(&params).map_err(locate)?;
        let param_spans = spans.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Ok(BlockSpec {
            name: block.to_string(),
            type_name: type_name.to_string(),
            params,
            ports,
            span: type_span,
            param_spans,
        })
    }

    fn check_connection(
        origin: &Origin,
        blocks: &[BlockSpec],
        index: &HashMap<String, usize>,
        c: &RawConnection,
    ) -> Result<Connection, LoadError> {
        let text = &c.text;
        let kind = c.kind;
        let buffer = c.buffer;
        let err = |block: Option<&str>, m: String| origin.error(c.span.clone(), block, m);
        let endpoint = |s: &str| -> Result<Endpoint, LoadError> {
            let s = s.trim();
            let Some((block, port)) = s
                .split_once('.')
                .filter(|(b, p)| !b.trim().is_empty() && !p.trim().is_empty())
            else {
                return Err(err(
                    None,
                    format!("`{s}` is not `block.port` in connection `{text}`"),
                ));
            };
            Ok(Endpoint {
                block: block.trim().to_string(),
                port: port.trim().to_string(),
            })
        };
        let from = endpoint(&c.from)?;
        let to = endpoint(&c.to)?;
        let find = |e: &Endpoint| {
            index.get(&e.block).map(|&i| &blocks[i]).ok_or_else(|| {
                let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
                err(
                    None,
                    format!(
                        "unknown block `{}` in connection `{text}`{}",
                        e.block,
                        did_you_mean(&e.block, &names)
                    ),
                )
            })
        };
        let src = find(&from)?;
        let dst = find(&to)?;
        if kind == ConnectionKind::Message {
            let check = |b: &BlockSpec, port: &str, ports: &[&'static str], what: &str| {
                if ports.contains(&port) {
                    Ok(())
                } else {
                    Err(err(
                        Some(&b.name),
                        format!(
                            "no message {what} `{port}` on `{}` ({}); message {what}s: {}{}",
                            b.name,
                            b.type_name,
                            list(ports),
                            did_you_mean(port, ports)
                        ),
                    ))
                }
            };
            check(src, &from.port, &src.ports.message_outputs, "output")?;
            check(dst, &to.port, &dst.ports.message_inputs, "input")?;
            if buffer.is_some() {
                return Err(err(
                    None,
                    "`buffer` applies to stream connections, not messages".to_string(),
                ));
            }
            return Ok(Connection {
                from,
                to,
                kind,
                buffer: None,
                effective_buffer: None,
            });
        }
        let out = stream_port(src, &src.ports.outputs, &from.port, "output")
            .map_err(|m| err(Some(&src.name), m))?;
        let inp = stream_port(dst, &dst.ports.inputs, &to.port, "input")
            .map_err(|m| err(Some(&dst.name), m))?;
        if inp.buffer == BufferKind::FillBlock && !out.fills_blocks {
            return Err(err(
                Some(&dst.name),
                format!(
                    "`{}.{}` fills device blocks in place, but `{}` ({}) cannot write into them; use `mode = \"copy\"` on `{}` or put a block that can (e.g. head) in between",
                    dst.name, inp.name, src.name, src.type_name, dst.name
                ),
            ));
        }
        if out.item != inp.item {
            return Err(err(
                Some(&dst.name),
                format!(
                    "item types differ: `{}.{}` produces {} but `{}.{}` takes {}",
                    src.name, out.name, out.item, dst.name, inp.name, inp.item
                ),
            ));
        }
        if let Some(align) = inp.aligned_blocks {
            let block_bytes = out
                .fixed_buffer_items
                .map(|n| n.saturating_mul(out.item.size()));
            match block_bytes {
                None => {
                    return Err(err(
                        Some(&dst.name),
                        format!(
                            "`{}.{}` writes with O_DIRECT, which takes whole device blocks, but `{}.{}` ({}) hands over an ordinary stream; connect it straight to a DMA source (dmabuf_source) or leave o_direct off",
                            dst.name, inp.name, src.name, out.name, src.type_name
                        ),
                    ));
                }
                Some(bytes) if !bytes.is_multiple_of(align) => {
                    return Err(err(
                        Some(&src.name),
                        format!(
                            "`{}.{}` writes with O_DIRECT in {align}-byte units, but the device blocks of `{}.{}` are {bytes} bytes; choose samples_per_block so that a block is a multiple of {align} bytes, or leave o_direct off",
                            dst.name, inp.name, src.name, out.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let buffer = match buffer {
            None => None,
            Some(b) if out.fixed_buffer_items.is_some() => {
                return Err(err(
                    Some(&src.name),
                    format!(
                        "`{}.{}` hands over fixed-size device blocks; set their size on `{}` instead of `buffer = {b}`",
                        src.name, out.name, src.name
                    ),
                ));
            }
            Some(b) => {
                let items = usize::try_from(b).ok().filter(|b| *b > 0).ok_or_else(|| {
                    err(
                        None,
                        format!("`buffer` must be a positive number of items, found {b}"),
                    )
                })?;
                let fits = items
                    .checked_mul(out.item.size().max(1))
                    .is_some_and(|bytes| bytes <= MAX_BUFFER_BYTES);
                if !fits {
                    return Err(err(
                        None,
                        format!(
                            "`buffer = {b}` items of {} is more than a buffer may hold ({MAX_BUFFER_BYTES} bytes, {} items)",
                            out.item,
                            MAX_BUFFER_BYTES / out.item.size().max(1)
                        ),
                    ));
                }
                Some(items)
            }
        };
        // A buffer that can never hold the chunk the reader needs stalls the flowgraph silently.
        if let Some(size) = buffer.or(out.fixed_buffer_items)
            && size < inp.min_items
        {
            return Err(err(
                Some(&dst.name),
                format!(
                    "`{}.{}` needs {} items per call but the buffer from `{}.{}` holds {size}: the flowgraph would stall",
                    dst.name, inp.name, inp.min_items, src.name, out.name
                ),
            ));
        }
        Ok(Connection {
            from,
            to,
            kind,
            buffer,
            // Decided for the whole output by `size_shared_buffers`.
            effective_buffer: buffer,
        })
    }
}

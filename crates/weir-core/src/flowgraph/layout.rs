//! Device channel layouts handed along stream connections, and buffer sizes shared by the
//! readers of one output.

use std::collections::HashMap;
use std::ops::Range;

use super::{BlockSpec, Connection, ConnectionKind, Endpoint, FlowgraphSpec, Origin};
use crate::error::LoadError;
use crate::registry::{BuildError, PeerLayout, PeerLayouts, PortLayout, PortSpec, Registry};

impl FlowgraphSpec {
    /// Hand every device channel layout a port publishes ([`PortSpec::layout`]) to the block
    /// at the other end of its connections, and describe the blocks that read layouts
    /// ([`PortSpec::reads_layout`]) again with them, so that they refuse a layout they cannot
    /// decode, or settings that disagree with it, now rather than with wrong samples later.
    ///
    /// Layouts go both ways: downstream from an RX device's output, upstream from a TX device's
    /// input. A block described again may publish a layout itself (one that passes its input's
    /// on), so this runs until nothing changes; the build order of `run` plays no part, every
    /// block's layouts are in its [`BlockSpec::params`] before anything is built.
    pub(super) fn flow_layouts(
        origin: &Origin,
        registry: &Registry,
        blocks: &mut [BlockSpec],
        index: &HashMap<String, usize>,
        connections: &[Connection],
        spans: &[Range<usize>],
    ) -> Result<(), LoadError> {
        let reads = |b: &BlockSpec| {
            let p = &b.ports;
            p.inputs.iter().chain(&p.outputs).any(|p| p.reads_layout)
        };
        // The stream connections of every block, either end.
        let mut links: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
        for (i, c) in connections.iter().enumerate() {
            if c.kind != ConnectionKind::Stream {
                continue;
            }
            for end in [&c.from.block, &c.to.block] {
                if let Some(&b) = index.get(end) {
                    links[b].push(i);
                }
            }
        }
        // A work list: the readers, then every reader next to a block whose ports changed.
        // Each visit costs the block's own connections, so a chain of n readers settles in
        // O(n); a bound on the visits catches blocks that keep changing each other's
        // layouts (a plugin's bug).
        let mut queue: std::collections::VecDeque<usize> =
            (0..blocks.len()).filter(|&i| reads(&blocks[i])).collect();
        let mut queued = vec![false; blocks.len()];
        for &b in &queue {
            queued[b] = true;
        }
        let mut budget = 8 * (queue.len() + connections.len()) + 16;
        let first_reader = queue.front().copied();
        while let Some(b) = queue.pop_front() {
            queued[b] = false;
            if budget == 0 {
                let b = first_reader.unwrap_or(b);
                return Err(origin.error(
                    blocks[b].span.clone(),
                    Some(&blocks[b].name),
                    "the channel layouts between blocks never settle: blocks keep changing each other's",
                ));
            }
            budget -= 1;
            let peers = peer_layouts(blocks, index, connections, &links[b], &blocks[b].name);
            if blocks[b].params.peer_layouts() == Some(&peers) {
                continue;
            }
            let block = &blocks[b];
            let Some(descriptor) = registry.get(&block.type_name) else {
                continue;
            };
            // A parameter written in the file is where the user can fix a mismatch; anything
            // else is about the connection that brought the layout.
            let at = links[b]
                .iter()
                .map(|&i| (&connections[i], &spans[i]))
                .find(|(c, _)| {
                    c.to.block == block.name && peers.inputs.contains_key(&c.to.port)
                        || c.from.block == block.name && peers.outputs.contains_key(&c.from.port)
                })
                .map_or_else(|| block.span.clone(), |(_, s)| s.clone());
            let locate = |e: BuildError| {
                let span = match &e {
                    BuildError::Param { name, .. } => block.param_spans.get(name).cloned(),
                    BuildError::Other(_) => None,
                };
                origin.error(
                    span.unwrap_or_else(|| at.clone()),
                    Some(&block.name),
                    e.to_string(),
                )
            };
            let mut params = block.params.clone();
            params.set_peer_layouts(peers);
            let ports = (descriptor.ports)(&params).map_err(locate)?;
            let shape = |p: &[PortSpec]| -> Vec<_> {
                p.iter().map(|p| (p.name, p.item, p.buffer)).collect()
            };
            if shape(&ports.inputs) != shape(&block.ports.inputs)
                || shape(&ports.outputs) != shape(&block.ports.outputs)
            {
                return Err(origin.error(
                    block.span.clone(),
                    Some(&block.name),
                    format!(
                        "block type `{}` changed its ports' names or item types when given its peers' channel layouts; it may only check or derive settings from them",
                        block.type_name
                    ),
                ));
            }
            let layouts_changed = ports
                .inputs
                .iter()
                .chain(&ports.outputs)
                .map(|p| &p.layout)
                .ne(block
                    .ports
                    .inputs
                    .iter()
                    .chain(&block.ports.outputs)
                    .map(|p| &p.layout));
            blocks[b].params = params;
            blocks[b].ports = ports;
            if layouts_changed {
                // What its neighbours see of it changed: describe the readers among them again.
                for &i in &links[b] {
                    let c = &connections[i];
                    let other = if c.from.block == blocks[b].name {
                        &c.to.block
                    } else {
                        &c.from.block
                    };
                    if let Some(&o) = index.get(other)
                        && !queued[o]
                        && reads(&blocks[o])
                    {
                        queued[o] = true;
                        queue.push_back(o);
                    }
                }
            }
        }
        Ok(())
    }

    /// Decide the buffer size of every circular output once for all its readers.
    ///
    /// FutureSDR 0.0.40 creates an output's circular buffer when the first reader connects,
    /// sized for the writer, that reader and their `buffer` requests; a later reader's request
    /// and minimum chunk are only logged as a warning (`runtime/buffer/circular.rs`). So an
    /// explicit `buffer` applies to the whole output (two different ones are refused), must
    /// hold every reader's minimum chunk, and without one the output is sized for its most
    /// demanding reader when the runtime's default buffer is too small for it.
    pub(super) fn size_shared_buffers(
        origin: &Origin,
        blocks: &[BlockSpec],
        index: &HashMap<String, usize>,
        connections: &mut [Connection],
        spans: &[Range<usize>],
    ) -> Result<(), LoadError> {
        let port = |e: &Endpoint, outputs: bool| {
            index
                .get(&e.block)
                .map(|&b| &blocks[b])
                .and_then(|b| {
                    let ports = if outputs {
                        &b.ports.outputs
                    } else {
                        &b.ports.inputs
                    };
                    ports.iter().find(|p| p.name == e.port)
                })
                .cloned()
        };
        let describe = |c: &Connection| {
            format!(
                "{}.{} -> {}.{}",
                c.from.block, c.from.port, c.to.block, c.to.port
            )
        };
        // The stream connections of every output, in file order.
        let mut by_output: HashMap<Endpoint, Vec<usize>> = HashMap::new();
        for (j, c) in connections.iter().enumerate() {
            if c.kind == ConnectionKind::Stream {
                by_output.entry(c.from.clone()).or_default().push(j);
            }
        }
        for i in 0..connections.len() {
            let from = connections[i].from.clone();
            if connections[i].kind != ConnectionKind::Stream {
                continue;
            }
            // Each output once, at its first connection.
            let Some(readers) = by_output.remove(&from) else {
                continue;
            };
            let Some(out) = port(&from, true) else {
                continue;
            };
            // Device blocks have their own size, checked per connection.
            if out.fixed_buffer_items.is_some() {
                continue;
            }
            let mut asked: Option<usize> = None;
            for &j in &readers {
                let Some(size) = connections[j].buffer else {
                    continue;
                };
                match asked {
                    Some(first) if first != size => {
                        let k = readers
                            .iter()
                            .copied()
                            .find(|&k| connections[k].buffer == Some(first))
                            .unwrap_or(i);
                        return Err(origin.error(
                            spans[j].clone(),
                            Some(&from.block),
                            format!(
                                "`{}.{}` has one buffer for all its readers, but `{}` asks for buffer = {size} and `{}`{} for buffer = {first}; ask for one size (on one connection is enough)",
                                from.block,
                                from.port,
                                describe(&connections[j]),
                                describe(&connections[k]),
                                origin.position(&spans[k]),
                            ),
                        ));
                    }
                    _ => asked = Some(size),
                }
            }
            let effective = match asked {
                Some(size) => {
                    for &j in &readers {
                        let c = &connections[j];
                        let min = port(&c.to, false).map_or(1, |p| p.min_items);
                        if size < min {
                            return Err(origin.error(
                                spans[j].clone(),
                                Some(&c.to.block),
                                format!(
                                    "`{}.{}` needs {min} items per call but the buffer from `{}.{}` holds {size}: the flowgraph would stall",
                                    c.to.block, c.to.port, from.block, from.port
                                ),
                            ));
                        }
                    }
                    Some(size)
                }
                None => {
                    // The writer and a reader each hold up to their minimum less one item
                    // while waiting for the other: the buffer needs room for both.
                    let need = readers
                        .iter()
                        .map(|&j| port(&connections[j].to, false).map_or(1, |p| p.min_items))
                        .max()
                        .unwrap_or(1)
                        + out.min_items.max(1)
                        - 1;
                    // And what a reader prefers (a file writer: fewer, larger writes).
                    let preferred = readers
                        .iter()
                        .filter_map(|&j| port(&connections[j].to, false)?.preferred_buffer_items)
                        .max()
                        .unwrap_or(0);
                    let need = need.max(preferred);
                    let default =
                        futuresdr::runtime::config::config().buffer_size / out.item.size().max(1);
                    (need > default).then_some(need)
                }
            };
            for &j in &readers {
                connections[j].effective_buffer = effective;
            }
        }
        Ok(())
    }
}

/// The layouts published at the other ends of block `name`'s stream connections (`links`:
/// the positions of its connections in `connections`).
fn peer_layouts(
    blocks: &[BlockSpec],
    index: &HashMap<String, usize>,
    connections: &[Connection],
    links: &[usize],
    name: &str,
) -> PeerLayouts {
    let port = |e: &Endpoint, outputs: bool| {
        let b = &blocks[*index.get(&e.block)?];
        let ports = if outputs {
            &b.ports.outputs
        } else {
            &b.ports.inputs
        };
        let p = ports.iter().find(|p| p.name == e.port)?;
        let layout = match &p.layout {
            PortLayout::None => return None,
            PortLayout::Known(l) => Ok(l.clone()),
            PortLayout::Unknown(why) => Err(why.clone()),
        };
        Some(PeerLayout {
            peer: format!("{}.{}", e.block, e.port),
            peer_type: b.type_name.clone(),
            layout,
        })
    };
    let mut peers = PeerLayouts::default();
    for c in links
        .iter()
        .map(|&i| &connections[i])
        .filter(|c| c.kind == ConnectionKind::Stream)
    {
        if c.to.block == name
            && let Some(l) = port(&c.from, true)
        {
            peers.inputs.insert(c.to.port.clone(), l);
        }
        if c.from.block == name
            && let Some(l) = port(&c.to, false)
        {
            peers
                .outputs
                .entry(c.from.port.clone())
                .or_default()
                .push(l);
        }
    }
    peers
}

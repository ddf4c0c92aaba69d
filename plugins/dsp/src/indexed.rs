//! Port names for blocks with a parameter-dependent number of ports (`out0`, `out1`, ...).

use std::sync::LazyLock;

/// The most indexed ports a block may have.
pub(crate) const MAX_PORTS: usize = 256;

/// (weir name, FutureSDR name) of every indexed output, e.g. (`out3`, `outputs[3]`).
static OUTPUTS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    (0..MAX_PORTS)
        .map(|i| (format!("out{i}"), format!("outputs[{i}]")))
        .collect()
});

/// The names of output `i` (< [`MAX_PORTS`]): weir's `out{i}` and FutureSDR's `outputs[{i}]`,
/// the name its derive macro gives element `i` of an array or `Vec` of outputs.
pub(crate) fn output(i: usize) -> (&'static str, &'static str) {
    let (a, b) = &OUTPUTS[i];
    (a.as_str(), b.as_str())
}

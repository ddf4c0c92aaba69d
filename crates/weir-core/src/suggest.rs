//! "Did you mean" suggestions for misspelt names.

/// Names longer than this get no suggestion (nobody misspells a 65-character name, and the
/// cost of comparing grows with the square of the length).
pub const MAX_SUGGESTED_LEN: usize = 64;

/// At most this many candidates are compared: a flowgraph of 50 000 blocks still answers an
/// unknown block name at once.
pub const MAX_CANDIDATES: usize = 10_000;

/// `" (did you mean `x`?)"` for the closest candidate, or an empty string when none is close.
///
/// Close means at most a third of the name's characters differ (at least one, so short names
/// with a swapped pair still get a suggestion), counting transpositions as one edit. Bounded:
/// names longer than [`MAX_SUGGESTED_LEN`] get none, candidates whose length alone rules them
/// out are skipped, and at most [`MAX_CANDIDATES`] are compared.
pub fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    let len = name.chars().count();
    if len > MAX_SUGGESTED_LEN {
        return String::new();
    }
    let limit = (len / 3).max(1);
    candidates
        .iter()
        // Byte lengths bound character lengths (a character is 1 to 4 bytes): a candidate
        // that many more or fewer characters away cannot be within `limit` edits.
        .filter(|c| c.len() <= 4 * (len + limit) && c.len() + limit >= len)
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .take(MAX_CANDIDATES)
        .map(|c| (strsim::osa_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean `{}`?)", crate::error::escape_controls(c)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("scr", &["src", "sink"]),
            " (did you mean `src`?)"
        );
        assert_eq!(
            did_you_mean("hed", &["head", "null_sink"]),
            " (did you mean `head`?)"
        );
        assert_eq!(did_you_mean("fft", &["head", "null_sink"]), "");
    }
}

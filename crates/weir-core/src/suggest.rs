//! "Did you mean" suggestions for misspelt names.

/// `" (did you mean `x`?)"` for the closest candidate, or an empty string when none is close.
///
/// Close means at most a third of the name's characters differ (at least one, so short names
/// with a swapped pair still get a suggestion), counting transpositions as one edit.
pub fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
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

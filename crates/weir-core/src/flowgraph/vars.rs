//! `[vars]`, `--set` overrides and `${name}` substitution.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use toml::Spanned;

use super::parse::{RawValue, to_value};
use super::{MAX_EXPANDED_BYTES, list};
use crate::error::{LoadError, SourceFile};
use crate::registry::Value;
use crate::suggest::did_you_mean;

/// A string value for a message: quoted, escaped, and cut after 80 characters.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// The `[vars]` of a flowgraph, after command-line overrides.
pub(super) struct Vars {
    values: BTreeMap<String, Value>,
    /// Bytes the substituted values hold so far, bounded by [`MAX_EXPANDED_BYTES`].
    expanded: std::cell::Cell<usize>,
}

/// The bytes a value holds, for the expansion bound.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len().saturating_mul(8),
        _ => 8,
    }
}

impl Vars {
    pub(super) fn resolve(
        source: &Arc<SourceFile>,
        declared: &BTreeMap<Spanned<String>, Spanned<RawValue>>,
        overrides: &[(String, String)],
    ) -> Result<Self, LoadError> {
        let mut values = BTreeMap::new();
        let mut spans = HashMap::new();
        for (k, v) in declared {
            let value = v.get_ref().to_value().map_err(|(at, m)| {
                LoadError::at(
                    source,
                    at.unwrap_or_else(|| v.span()),
                    None,
                    format!("variable `{}`: {m}", k.get_ref()),
                )
            })?;
            spans.insert(k.get_ref().clone(), v.span());
            values.insert(k.get_ref().clone(), value);
        }
        for (name, raw) in overrides {
            let Some(current) = values.get(name) else {
                let names: Vec<&str> = values.keys().map(String::as_str).collect();
                return Err(LoadError::unlocated(
                    &source.name,
                    None,
                    format!(
                        "command line: --set {name}={raw}: the flowgraph has no variable `{name}` (variables: {}){}",
                        list(&names),
                        did_you_mean(name, &names)
                    ),
                ));
            };
            let span = spans.get(name).cloned().unwrap_or(0..0);
            let value = parse_override(raw, current).map_err(|m| {
                LoadError::at(source, span, None, format!("--set {name}={raw}: {m}"))
            })?;
            values.insert(name.clone(), value);
        }
        Ok(Self {
            values,
            expanded: std::cell::Cell::new(0),
        })
    }

    /// Replace `${name}` references: a value that is exactly one reference takes the variable's
    /// type; references inside a longer string are interpolated as text.
    pub(super) fn substitute(&self, value: Value) -> Result<Value, String> {
        let Value::Str(text) = value else {
            return Ok(value);
        };
        if !text.contains("${") {
            return Ok(Value::Str(text));
        }
        let value = self.expand(&text)?;
        let total = self.expanded.get().saturating_add(value_bytes(&value));
        if total > MAX_EXPANDED_BYTES {
            return Err(format!(
                "the variables expand to more than {MAX_EXPANDED_BYTES} bytes in all (a variable referenced too many times?)"
            ));
        }
        self.expanded.set(total);
        Ok(value)
    }

    /// [`Self::substitute`] of a string holding `${`, without the bound on the whole file.
    fn expand(&self, text: &str) -> Result<Value, String> {
        let lookup = |name: &str| {
            self.values.get(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = self.values.keys().map(String::as_str).collect();
                format!(
                    "unknown variable `{name}` (variables: {}){}",
                    list(&names),
                    did_you_mean(name, &names)
                )
            })
        };
        if let Some(name) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
            && !name.contains('}')
        {
            return lookup(name);
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in {}", quoted(text)))?;
            match lookup(&after[..end])? {
                Value::Str(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            }
            // Checked as it grows: one string holding a long variable many times over would
            // otherwise be built whole before the file's bound is looked at.
            if self.expanded.get().saturating_add(out.len()) > MAX_EXPANDED_BYTES {
                return Err(format!(
                    "the variables expand to more than {MAX_EXPANDED_BYTES} bytes in all (a variable referenced too many times?)"
                ));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::Str(out))
    }
}

/// A `--set` value, read as TOML when it parses as one (numbers, booleans, quoted strings) and
/// as a plain string otherwise, and required to have the declared variable's type.
fn parse_override(raw: &str, current: &Value) -> Result<Value, String> {
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|t| t.get("v").and_then(|v| to_value(v).ok()));
    let value = match (current, parsed) {
        (Value::Str(_), Some(Value::Str(s))) => Value::Str(s),
        (Value::Str(_), _) => Value::Str(raw.to_string()),
        (Value::Float(_), Some(Value::Int(i))) => Value::Float(i as f64),
        (_, Some(v)) if std::mem::discriminant(&v) == std::mem::discriminant(current) => v,
        (_, _) => {
            return Err(format!(
                "expected {} like the variable's value {current} in [vars]",
                current.type_name()
            ));
        }
    };
    Ok(value)
}

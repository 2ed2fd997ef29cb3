//! Filling a template in: the project name, the base image, the ports, and the step inputs
//! that exist in the project. The template is edited as a `toml_edit` document, so every
//! comment, blank line and alignment the template has stays where it is; the result is
//! checked by the real manifest parser before it is written (in the command), and every
//! template is in the unit tests.

use std::fmt::Write as _;
use std::path::Path;

use toml_edit::{Array, DocumentMut, Item, KeyMut, Table, Value};

use super::Template;

/// What the user chose (or accepted).
#[derive(Debug, Clone)]
pub struct Choices {
    pub template: &'static Template,
    pub name: String,
    pub base: String,
    pub ports: Vec<String>,
}

/// The manifest text, and the step inputs left out because the project lacks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub left_out: Vec<String>,
}

/// Render `choices.template` for the project in `dir`.
pub fn render(choices: &Choices, dir: &Path) -> Rendered {
    let mut doc = document(choices.template.text);
    set(&mut doc, "", "name", basic_string(&choices.name));
    set(&mut doc, "base", "image", basic_string(&choices.base));
    let ports: Array = choices.ports.iter().map(|p| basic_string(p)).collect();
    set(&mut doc, "container", "ports", ports.into());
    let mut left_out = Vec::new();
    if let Some(steps) = doc.get_mut("step").and_then(Item::as_array_of_tables_mut) {
        for step in steps.iter_mut() {
            left_out.extend(prune_inputs(step, dir));
        }
    }
    Rendered {
        text: doc.to_string(),
        left_out,
    }
}

/// The string value of `key` in `section` (`""` = top level), as the template has it.
pub(super) fn current_string(text: &str, section: &str, key: &str) -> Option<String> {
    let doc = document(text);
    lookup(&doc, section, key)?.as_str().map(str::to_owned)
}

/// The array-of-strings value of `key` in `section`.
pub(super) fn current_array(text: &str, section: &str, key: &str) -> Option<Vec<String>> {
    let doc = document(text);
    let array = lookup(&doc, section, key)?.as_array()?;
    Some(
        array
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// Ports as typed at the prompt or on the command line: separated by commas or spaces; a
/// bare port `N` means `N:N`.
pub fn parse_ports(input: &str) -> Vec<String> {
    input
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                format!("{p}:{p}")
            } else {
                p.to_owned()
            }
        })
        .collect()
}

/// A template's text as an editable document. Templates are our own files and the unit
/// tests parse every one, so one that is not TOML is a bug in devenv.
fn document(text: &str) -> DocumentMut {
    text.parse()
        .unwrap_or_else(|e| panic!("an embedded template is not valid TOML: {e}"))
}

fn lookup<'a>(doc: &'a DocumentMut, section: &str, key: &str) -> Option<&'a Item> {
    if section.is_empty() {
        doc.get(key)
    } else {
        doc.get(section)?.get(key)
    }
}

/// Set `key` in `section` (`""` = top level) to `value`. A value already there keeps its
/// decoration (the spaces around it and the comment after it); a missing one is added.
fn set(doc: &mut DocumentMut, section: &str, key: &str, mut value: Value) {
    let item = if section.is_empty() {
        &mut doc[key]
    } else {
        &mut doc[section][key]
    };
    match item.as_value_mut() {
        Some(old) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        None => *item = Item::Value(value),
    }
}

/// Drop the step's literal inputs that the project lacks, and say so in a comment above
/// `inputs`. Returns what was dropped.
fn prune_inputs(step: &mut Table, dir: &Path) -> Vec<String> {
    let Some((key, Item::Value(Value::Array(array)))) = step.get_key_value_mut("inputs") else {
        return Vec::new();
    };
    let inputs: Vec<String> = array
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let missing = missing_inputs(dir, &inputs);
    if missing.is_empty() {
        return missing;
    }
    array.retain(|v| v.as_str().is_none_or(|s| !missing.iter().any(|m| m == s)));
    array.fmt();
    comment_above(
        key,
        &format!(
            "# Left out, the project has none yet (add if you create them): {}",
            missing.join(", ")
        ),
    );
    missing
}

/// The paths among `inputs` that the project does not have: a literal path that does not
/// exist, a glob whose directory does not (`requirements/*.txt` without `requirements/`).
/// Other globs stay, and so does everything when nothing would be left (the build then says
/// which input is missing).
fn missing_inputs(dir: &Path, inputs: &[String]) -> Vec<String> {
    let is_glob = |p: &str| p.contains(['*', '?', '[', '{']);
    let literal_dir = |p: &str| {
        let head = &p[..p.find(['*', '?', '[', '{']).unwrap_or(p.len())];
        head.rfind('/').map_or("", |i| &head[..i]).to_owned()
    };
    let (keep, missing): (Vec<&String>, Vec<&String>) = inputs.iter().partition(|p| {
        if is_glob(p) {
            dir.join(literal_dir(p)).is_dir()
        } else {
            dir.join(p).exists()
        }
    });
    if keep.is_empty() {
        return Vec::new();
    }
    missing.into_iter().cloned().collect()
}

#[cfg(test)]
pub(super) fn missing_inputs_for_tests(dir: &Path, inputs: &[String]) -> Vec<String> {
    missing_inputs(dir, inputs)
}

/// Add a comment line right above `key`, indented like the key. The key's prefix holds the
/// comments and blank lines before it and then its own indentation.
fn comment_above(mut key: KeyMut<'_>, comment: &str) {
    let decor = key.leaf_decor_mut();
    let prefix = decor
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_owned();
    let (above, indent) = prefix.split_at(prefix.rfind('\n').map_or(0, |i| i + 1));
    decor.set_prefix(format!("{above}{indent}{comment}\n{indent}"));
}

/// `s` as a TOML basic string (double quotes, like the rest of the template), where
/// `toml_edit` would pick a literal string for text with a double quote in it.
fn basic_string(s: &str) -> Value {
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('"');
    for c in s.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
        .parse()
        .unwrap_or_else(|e| panic!("{quoted} is not a TOML string: {e}"))
}

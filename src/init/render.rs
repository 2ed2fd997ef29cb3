//! Filling a template in: the project name, the base image, the ports, and the step inputs
//! that exist in the project. Templates are our own files, so this edits known lines in
//! place and keeps every comment; the result is checked by the real manifest parser
//! before it is written (in the command), and every template is in the unit tests.

use std::fmt::Write as _;
use std::path::Path;

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
    let mut left_out = Vec::new();
    let mut out = String::with_capacity(choices.template.text.len() + 256);
    for line in scan(choices.template.text) {
        let replaced = match (line.section, line.key) {
            ("", Some("name")) => Some(quote(&choices.name)),
            ("base", Some("image")) => Some(quote(&choices.base)),
            ("container", Some("ports")) => Some(array(&choices.ports)),
            ("step", Some("inputs")) => {
                let inputs = parse_array(line.value.unwrap_or_default());
                let (keep, missing) = existing_inputs(dir, &inputs);
                if !missing.is_empty() {
                    let indent = &line.text[..line.text.len() - line.text.trim_start().len()];
                    let _ = writeln!(
                        out,
                        "{indent}# Left out, the project has none yet (add if you create them): {}",
                        missing.join(", ")
                    );
                    left_out.extend(missing);
                }
                (keep.len() != inputs.len()).then(|| array(&keep))
            }
            _ => None,
        };
        match (replaced, line.value) {
            (Some(new), Some(old)) => {
                let start = line.value_start;
                out.push_str(&line.text[..start]);
                out.push_str(&new);
                out.push_str(&line.text[start + old.len()..]);
            }
            _ => out.push_str(line.text),
        }
        out.push('\n');
    }
    Rendered {
        text: out,
        left_out,
    }
}

/// Split inputs into those to keep and the literal paths the project does not have. Glob
/// patterns are always kept, and so is everything when nothing would be left (the build
/// then says which input is missing).
fn existing_inputs(dir: &Path, inputs: &[String]) -> (Vec<String>, Vec<String>) {
    let is_glob = |p: &str| p.contains(['*', '?', '[', '{']);
    let (keep, missing): (Vec<String>, Vec<String>) = inputs
        .iter()
        .cloned()
        .partition(|p| is_glob(p) || dir.join(p).exists());
    if keep.is_empty() {
        return (inputs.to_vec(), Vec::new());
    }
    (keep, missing)
}

/// The string value of `key` in `section` (`""` = top level), as the template has it.
pub(super) fn current_string(text: &str, section: &str, key: &str) -> Option<String> {
    let line = scan(text).find(|l| l.section == section && l.key == Some(key))?;
    parse_array(line.value?).into_iter().next()
}

/// The array-of-strings value of `key` in `section`.
pub(super) fn current_array(text: &str, section: &str, key: &str) -> Option<Vec<String>> {
    let line = scan(text).find(|l| l.section == section && l.key == Some(key))?;
    Some(parse_array(line.value?))
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

/// One line of a template, with the table it is in and, for a `key = value` line, the key
/// and the value's text (a quoted string or a one-line array).
struct Line<'a> {
    text: &'a str,
    section: &'a str,
    key: Option<&'a str>,
    value: Option<&'a str>,
    value_start: usize,
}

/// The lines of a template, skipping the insides of multi-line strings.
fn scan(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut section = "";
    let mut in_multiline = false;
    text.lines().map(move |raw| {
        let plain = |key, value, value_start| Line {
            text: raw,
            section,
            key,
            value,
            value_start,
        };
        let opens_or_closes = (raw.matches("'''").count() + raw.matches("\"\"\"").count()) % 2 == 1;
        if in_multiline {
            in_multiline = !opens_or_closes;
            return plain(None, None, 0);
        }
        in_multiline = opens_or_closes;
        let trimmed = raw.trim_start();
        if trimmed.starts_with('[') {
            section = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim();
            return Line {
                text: raw,
                section,
                key: None,
                value: None,
                value_start: 0,
            };
        }
        match key_value(raw) {
            Some((key, value, start)) => plain(Some(key), value, start),
            None => plain(None, None, 0),
        }
    })
}

/// `key = value  # comment` → key, the value's text (only for strings and arrays on one
/// line) and where it starts.
fn key_value(raw: &str) -> Option<(&str, Option<&str>, usize)> {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('#') {
        return None;
    }
    let (key, rest) = trimmed.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let value = rest.trim_start();
    let start = raw.len() - value.len();
    let len = value_len(value);
    Some((key, len.map(|n| &value[..n]), start))
}

/// Length of the string or array at the start of `s`, when it ends on this line.
fn value_len(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    in_string = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => depth += 1,
            ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The basic strings in `s` (a string, or an array of strings), unescaped.
fn parse_array(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut escaped = false;
    for c in s.chars() {
        match current.as_mut() {
            None if c == '"' => current = Some(String::new()),
            None => {}
            Some(cur) if escaped => {
                cur.push(c);
                escaped = false;
            }
            Some(_) if c == '\\' => escaped = true,
            Some(_) if c == '"' => out.extend(current.take()),
            Some(cur) => cur.push(c),
        }
    }
    out
}

/// A TOML basic string.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(", "))
}

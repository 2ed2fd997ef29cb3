//! Walks toml's spanned document and builds a [`Manifest`], collecting every error.
//!
//! The document comes from `DeTable::parse_recoverable`, which keeps a byte span on every
//! key and value. This file owns the walk's machinery: the error sink ([`Cx`]), the view of
//! one table with its known keys ([`Table`]) and the typed accessors that report a wrong
//! type instead of failing. `sections.rs` reads each manifest section with them and
//! `values.rs` holds the grammars of individual values (image references, ports, …).
//!
//! When the text is not valid TOML only the syntax errors are reported: the recovered tree
//! is a guess, and checking it would add errors that vanish once the syntax is fixed.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

use super::{Diagnostic, Manifest, ManifestError};

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

pub(super) fn parse(src: &str, path: &Path, root: &Path) -> Result<Manifest, ManifestError> {
    let (doc, errors) = DeTable::parse_recoverable(src);
    let mut cx = Cx::new(src, root);
    if errors.is_empty() {
        let top = Table {
            map: doc.get_ref(),
            span: 0..0,
            name: "the top level".to_owned(),
        };
        let manifest = super::sections::manifest(&mut cx, &top, path);
        if cx.diags.is_empty() {
            return Ok(manifest);
        }
    } else {
        for e in &errors {
            cx.push(syntax_error(e));
        }
    }
    Err(cx.into_error(path))
}

fn syntax_error(e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim_end();
    let d = Diagnostic::new(span, format!("invalid TOML: {message}"));
    if message.starts_with("duplicate key") {
        return d.with_hint(
            "each key and each [table] may appear once; repeated sections such as \
             [[step]] and [[watch]] use double brackets",
        );
    }
    if message.contains("must be quoted") {
        return d.with_hint("put string values in double quotes: `key = \"value\"`");
    }
    d
}

/// The error sink and the facts every check needs.
pub(super) struct Cx<'a> {
    pub(super) src: &'a str,
    pub(super) root: &'a Path,
    /// The canonical project directory, when it exists: symlink escapes are checked
    /// against it, and skipped without it.
    pub(super) canonical_root: Option<PathBuf>,
    diags: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    fn new(src: &'a str, root: &'a Path) -> Self {
        Cx {
            src,
            root,
            canonical_root: root.canonicalize().ok(),
            diags: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Report `problem` (built without a position) at `span`.
    pub(super) fn report(&mut self, span: Range<usize>, mut problem: Diagnostic) {
        problem.span = span;
        self.diags.push(problem);
    }

    /// 1-based line of a byte offset, for hints that point at another place.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        super::diag::line_col(self.src, offset).0
    }

    fn into_error(mut self, path: &Path) -> ManifestError {
        self.diags
            .sort_by_key(|d| (d.span.start, d.span.end, d.message.clone()));
        self.diags.dedup();
        ManifestError::Invalid {
            path: path.to_path_buf(),
            source_text: self.src.to_owned(),
            diagnostics: self.diags,
        }
    }
}

/// One TOML table being read: its entries, where it starts (its `[header]`, the inline
/// table, or 0..0 for the top level) and how messages name it.
pub(super) struct Table<'t, 'i> {
    pub(super) map: &'t DeTable<'i>,
    pub(super) span: Range<usize>,
    pub(super) name: String,
}

/// A string value and its span.
#[derive(Debug, Clone)]
pub(super) struct Str<'t> {
    pub(super) value: &'t str,
    pub(super) span: Range<usize>,
}

impl<'t, 'i> Table<'t, 'i> {
    pub(super) fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.map.get(key)
    }

    /// Report every key not in `known`, with a "did you mean" when one is close.
    pub(super) fn check_keys(&self, cx: &mut Cx<'_>, known: &[&str]) {
        for key in self.map.keys() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let mut d =
                Diagnostic::new(key.span(), format!("unknown key `{name}` in {}", self.name))
                    .with_label(expected_one_of(known));
            if let Some(hint) = super::sections::unknown_key_hint(&self.name, name, known) {
                d = d.with_hint(hint);
            }
            cx.push(d);
        }
    }

    /// A required key: report it missing at the table's start.
    pub(super) fn require(&self, cx: &mut Cx<'_>, key: &str, hint: &str) -> Option<&'t Value<'i>> {
        let value = self.get(key);
        if value.is_none() {
            cx.push(
                Diagnostic::new(
                    self.span.clone(),
                    format!("missing key `{key}` in {}", self.name),
                )
                .with_hint(hint.to_owned()),
            );
        }
        value
    }

    /// An optional string; a value of another type is reported.
    pub(super) fn string(&self, cx: &mut Cx<'_>, key: &str) -> Option<Str<'t>> {
        let value = self.get(key)?;
        as_str(cx, key, value)
    }

    /// An optional string that must not be blank.
    pub(super) fn non_empty(&self, cx: &mut Cx<'_>, key: &str) -> Option<Str<'t>> {
        let s = self.string(cx, key)?;
        if s.value.trim().is_empty() {
            cx.push(
                Diagnostic::new(s.span, format!("`{key}` is empty"))
                    .with_label("expected a non-empty string")
                    .with_hint(format!("remove `{key}` or give it a value")),
            );
            return None;
        }
        Some(s)
    }

    /// An optional array; a value of another type is reported.
    pub(super) fn array(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
    ) -> Option<(&'t DeArray<'i>, Range<usize>)> {
        let value = self.get(key)?;
        if let DeValue::Array(items) = value.get_ref() {
            return Some((items, value.span()));
        }
        cx.push(wrong_type(cx.src, key, value, "an array"));
        None
    }

    /// An optional array of strings: every element of another type is reported.
    pub(super) fn strings(&self, cx: &mut Cx<'_>, key: &str) -> Option<Vec<Str<'t>>> {
        let (items, _) = self.array(cx, key)?;
        let strings = items
            .iter()
            .filter_map(|item| element_str(cx, key, item))
            .collect();
        Some(strings)
    }

    /// An optional sub-table (a `[header]` or an inline table).
    pub(super) fn table(&self, cx: &mut Cx<'_>, key: &str, name: &str) -> Option<Table<'t, 'i>> {
        let value = self.get(key)?;
        as_table(cx, key, value, name)
    }
}

/// The string in `value`, or a report that it is something else.
pub(super) fn as_str<'t>(cx: &mut Cx<'_>, what: &str, value: &'t Value<'_>) -> Option<Str<'t>> {
    if let DeValue::String(s) = value.get_ref() {
        return Some(Str {
            value: s.as_ref(),
            span: value.span(),
        });
    }
    cx.push(wrong_type(cx.src, what, value, "a string"));
    None
}

/// An element of the string array `key`, or a report that it is something else.
pub(super) fn element_str<'t>(cx: &mut Cx<'_>, key: &str, item: &'t Value<'_>) -> Option<Str<'t>> {
    if let DeValue::String(s) = item.get_ref() {
        return Some(Str {
            value: s.as_ref(),
            span: item.span(),
        });
    }
    let label = format!("each element of `{key}` must be a string");
    cx.push(wrong_type(cx.src, key, item, "a string").with_label(label));
    None
}

/// The table in `value`, named `name` in messages, or a report that it is something else.
pub(super) fn as_table<'t, 'i>(
    cx: &mut Cx<'_>,
    what: &str,
    value: &'t Value<'i>,
    name: &str,
) -> Option<Table<'t, 'i>> {
    if let DeValue::Table(map) = value.get_ref() {
        return Some(Table {
            map,
            span: value.span(),
            name: name.to_owned(),
        });
    }
    cx.push(wrong_type(cx.src, what, value, "a table"));
    None
}

/// "expected a string, found an integer", with a hint fitting the pair of types.
pub(super) fn wrong_type(src: &str, what: &str, value: &Value<'_>, expected: &str) -> Diagnostic {
    let found = value.get_ref().type_str();
    let message = format!("expected {expected}, found {} {found}", article(found));
    let d =
        Diagnostic::new(value.span(), message).with_label(format!("`{what}` must be {expected}"));
    let raw = src.get(value.span()).unwrap_or_default();
    match (expected, value.get_ref()) {
        (
            "a string",
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_),
        ) => d.with_hint(format!("quote the value: \"{raw}\"")),
        ("an array", DeValue::String(_)) => d.with_hint(format!("write a list: [{raw}]")),
        ("a table", _) => d.with_hint(format!(
            "`{what}` is a table: write a [{what}] section, or `{what} = {{ key = \"value\" }}`"
        )),
        _ => d,
    }
}

fn article(type_name: &str) -> &'static str {
    if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// "expected one of `a`, `b`, `c`".
pub(super) fn expected_one_of(known: &[&str]) -> String {
    let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    format!("expected one of {}", list.join(", "))
}

/// The known word closest to `word`, when it is close enough to be a likely typo.
pub(super) fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::jaro_winkler(&lower, k),
                strsim::levenshtein(&lower, k),
                *k,
            )
        })
        .filter(|(jw, lev, k)| *jw > 0.8 || (*lev <= 2 && *lev * 2 < k.len()))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, _, k)| k)
}

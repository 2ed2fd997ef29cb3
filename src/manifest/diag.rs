//! Manifest errors with source positions, rendered like rustc (`file:line:col`, the
//! offending line and a caret) through annotate-snippets.

use std::ops::Range;
use std::path::PathBuf;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// One problem in the manifest, located by a byte span in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Range<usize>,
    /// What is wrong, lowercase, no trailing period: "unknown key `imge`".
    pub message: String,
    /// Short label under the caret: what was expected there.
    pub label: Option<String>,
    /// What to do about it: "did you mean `image`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with a message only; add a label or hint with the builder methods.
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            label: None,
            hint: None,
        }
    }

    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}", not_found_message(searched, *explicit))]
    NotFound { searched: PathBuf, explicit: bool },
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{} has {} error{}", path.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        path: PathBuf,
        source_text: String,
        diagnostics: Vec<Diagnostic>,
    },
}

fn not_found_message(searched: &std::path::Path, explicit: bool) -> String {
    if explicit {
        format!("manifest {} does not exist", searched.display())
    } else {
        format!(
            "no devenv.toml in {} or any parent directory",
            searched.display()
        )
    }
}

impl ManifestError {
    /// Full report: for `Invalid`, every diagnostic with its location and source line,
    /// separated by blank lines and ending in a newline. ANSI colour only when `color` is
    /// true.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        match self {
            ManifestError::Invalid {
                path,
                source_text,
                diagnostics,
            } => {
                let path = path.display().to_string();
                let reports: Vec<String> = diagnostics
                    .iter()
                    .map(|d| render_one(&renderer, &path, source_text, d))
                    .collect();
                format!("{}\n", reports.join("\n\n"))
            }
            ManifestError::NotFound { .. } => {
                let hint = "run `devenv init` to create one, or pass -f PATH / -C DIR";
                let report = [Level::ERROR
                    .primary_title(self.to_string())
                    .element(hint_level().message(hint))];
                format!("{}\n", renderer.render(&report))
            }
            ManifestError::Io { .. } => {
                let report = [Group::with_title(
                    Level::ERROR.primary_title(self.to_string()),
                )];
                format!("{}\n", renderer.render(&report))
            }
        }
    }
}

/// `= hint: …` rather than annotate-snippets' default `= help: …`.
fn hint_level() -> Level<'static> {
    Level::HELP.with_name("hint")
}

fn render_one(renderer: &Renderer, path: &str, src: &str, d: &Diagnostic) -> String {
    let span = display_span(src, &d.span);
    let annotation = AnnotationKind::Primary.span(span).label(d.label.as_deref());
    let snippet = Snippet::source(src).path(path).annotation(annotation);
    let mut group = Level::ERROR.primary_title(&d.message).element(snippet);
    if let Some(hint) = &d.hint {
        group = group.element(hint_level().message(hint));
    }
    renderer.render(&[group])
}

/// Clamp a span into the source, onto char boundaries, and onto its first line: a caret
/// under the start of a multi-line value reads better than ASCII art around it.
fn display_span(src: &str, span: &Range<usize>) -> Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(src.len());
        while !src.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    let mut end = floor(span.end.max(start));
    if let Some(nl) = src[start..end].find('\n') {
        end = start + nl;
    }
    start..end
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

//! Manifest errors with source positions, rendered as `file:line:col` with a caret.

use std::ops::Range;
use std::path::PathBuf;

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
    /// Full report: for `Invalid`, every diagnostic with its location and source line.
    pub fn render(&self, color: bool) -> String {
        let _ = color;
        match self {
            ManifestError::Invalid {
                path,
                source_text,
                diagnostics,
            } => {
                let mut out = String::new();
                for d in diagnostics {
                    let (line, col) = line_col(source_text, d.span.start);
                    out.push_str(&format!(
                        "error: {}\n  --> {}:{line}:{col}\n",
                        d.message,
                        path.display()
                    ));
                    if let Some(h) = &d.hint {
                        out.push_str(&format!("  = hint: {h}\n"));
                    }
                }
                out
            }
            ManifestError::NotFound { .. } => format!(
                "error: {self}\nhint: run `devenv init` to create one, or pass -f PATH / -C DIR\n"
            ),
            ManifestError::Io { .. } => format!("error: {self}\n"),
        }
    }
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

//! `devenv init`: the embedded templates (`templates/<name>.toml`), project detection, and
//! writing the rendered manifest and the `.gitignore` entry. Asking the user is the command
//! layer's business (through `ui::prompt`); this module only decides and writes.
//!
//! This module is the home of `toml_edit` (in `render`): a template is edited as a document,
//! which keeps its comments and layout, where the `toml` crate (home: `manifest`) would drop
//! them. Reading manifests stays with `manifest`.

mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use render::{parse_ports, render, Choices, Rendered};

/// One embedded template: a commented `devenv.toml` in the v1 format.
#[derive(Debug, PartialEq, Eq)]
pub struct Template {
    pub name: &'static str,
    pub summary: &'static str,
    /// Files whose presence in the project picks this template, in order of preference.
    pub markers: &'static [&'static str],
    pub text: &'static str,
}

/// Every template, in detection order: the first whose marker file exists wins, and
/// `generic` (no markers) catches the rest.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "rust",
        summary: "Rust with cargo: registry in the image, target/ in a volume",
        markers: &["Cargo.toml"],
        text: include_str!("../../templates/rust.toml"),
    },
    Template {
        name: "go",
        summary: "Go modules: module cache in the image, build cache in a volume",
        markers: &["go.mod"],
        text: include_str!("../../templates/go.toml"),
    },
    Template {
        name: "node",
        summary: "Node.js with npm: npm cache in the image, node_modules in a volume",
        markers: &["package.json"],
        text: include_str!("../../templates/node.toml"),
    },
    Template {
        name: "python",
        summary: "Python: a virtualenv in the image from pyproject.toml / requirements.txt",
        markers: &["pyproject.toml", "requirements.txt"],
        text: include_str!("../../templates/python.toml"),
    },
    Template {
        name: "generic",
        summary: "Any project: a Debian base with git and make, ready to extend",
        markers: &[],
        text: include_str!("../../templates/generic.toml"),
    },
];

/// The template used when nothing is detected.
pub const GENERIC: &str = "generic";

/// Entry added to the project's `.gitignore` for devenv's local state directory.
const GITIGNORE_ENTRY: &str = ".devenv/";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists", path.display())]
    Exists { path: PathBuf },
    #[error("unknown template `{name}`")]
    UnknownTemplate {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("cannot write {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("cannot read the answer: {0}")]
    Prompt(String),
}

impl InitError {
    pub fn hint(&self) -> Option<String> {
        match self {
            InitError::Exists { .. } => {
                Some("edit it, or pass --force to replace it with a new one".into())
            }
            InitError::UnknownTemplate { suggestion, .. } => Some(match suggestion {
                Some(s) => format!("did you mean `{s}`? `devenv init --list` shows them all"),
                None => "`devenv init --list` shows the templates".into(),
            }),
            InitError::Io { .. } => Some("check the directory's permissions".into()),
            InitError::Prompt(_) => Some(
                "run `devenv init --yes` (optionally with --template/--base/--ports) to skip \
                 the questions"
                    .into(),
            ),
        }
    }
}

impl Template {
    /// The `[base] image` the template ships with.
    pub fn default_base(&self) -> String {
        render::current_string(self.text, "base", "image").unwrap_or_default()
    }

    /// The `[container] ports` the template ships with.
    pub fn default_ports(&self) -> Vec<String> {
        render::current_array(self.text, "container", "ports").unwrap_or_default()
    }
}

/// Look a template up by name.
pub fn template(name: &str) -> Result<&'static Template, InitError> {
    TEMPLATES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| InitError::UnknownTemplate {
            name: name.to_owned(),
            suggestion: TEMPLATES
                .iter()
                .map(|t| t.name)
                .find(|t| strsim::levenshtein(t, &name.to_ascii_lowercase()) <= 2),
        })
}

/// What the project in `dir` looks like.
#[derive(Debug)]
pub struct Detection {
    pub template: &'static Template,
    /// The file that decided it; `None` for the generic fallback.
    pub evidence: Option<&'static str>,
}

/// Pick the template for the project in `dir` from the files at its top level.
pub fn detect(dir: &Path) -> Detection {
    for template in TEMPLATES {
        if let Some(marker) = template.markers.iter().find(|m| dir.join(m).is_file()) {
            return Detection {
                template,
                evidence: Some(marker),
            };
        }
    }
    Detection {
        template: template(GENERIC).expect("the generic template exists"),
        evidence: None,
    }
}

/// Refuse to replace an existing manifest unless `force`.
pub fn check_target(path: &Path, force: bool) -> Result<(), InitError> {
    if !force && path.exists() {
        return Err(InitError::Exists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Write the manifest; without `force` an existing file is never replaced, even one that
/// appeared since `check_target`.
pub fn write_manifest(path: &Path, text: &str, force: bool) -> Result<(), InitError> {
    let io = |e: std::io::Error| InitError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => InitError::Exists {
            path: path.to_path_buf(),
        },
        _ => io(e),
    })?;
    file.write_all(text.as_bytes()).map_err(io)
}

/// What happened to `.gitignore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitignoreChange {
    Created,
    Appended,
    AlreadyIgnored,
}

/// Make sure `dir/.gitignore` ignores devenv's local state directory.
pub fn ensure_gitignored(dir: &Path) -> Result<GitignoreChange, InitError> {
    let path = dir.join(".gitignore");
    let io = |e: std::io::Error| InitError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let state = crate::project::STATE_DIR;
    let ignored = existing.as_deref().is_some_and(|text| {
        text.lines().map(str::trim).any(|l| {
            let l = l.trim_start_matches('/').trim_end_matches('/');
            l == state
        })
    });
    if ignored {
        return Ok(GitignoreChange::AlreadyIgnored);
    }
    let mut addition = String::new();
    if existing
        .as_deref()
        .is_some_and(|t| !t.is_empty() && !t.ends_with('\n'))
    {
        addition.push('\n');
    }
    addition.push_str("# devenv's local state (build records, caches)\n");
    addition.push_str(GITIGNORE_ENTRY);
    addition.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(io)?;
    file.write_all(addition.as_bytes()).map_err(io)?;
    Ok(match existing {
        Some(_) => GitignoreChange::Appended,
        None => GitignoreChange::Created,
    })
}

#[cfg(test)]
mod tests;

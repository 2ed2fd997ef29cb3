//! Interoperability with tools that do not know devenv: export the environment as a
//! Dockerfile (plus a self-contained build context) or a devcontainer.json, and import a
//! devcontainer.json (image- or Dockerfile-based) as a devenv.toml.
//!
//! Everything here is pure: it renders text and lists what it could not express; the
//! command layer resolves the base, builds, writes files and prints the warnings.
//! jsonc-parser (JSON with comments and trailing commas) is used in this module only.

pub mod compose_export;
pub mod devcontainer_export;
pub mod devcontainer_import;
pub mod dockerfile;
mod dockerfile_import;
mod draft;
mod json;
mod run_args;
pub mod stack_export;
mod text;

pub use devcontainer_import::{Imported, Warning};

#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    #[error("{path}: not valid JSON with comments: {message}")]
    Json { path: String, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: String, message: String },
    #[error("cannot express {what} in {format}: {why}")]
    Inexpressible {
        /// `a Dockerfile`, `a devcontainer.json`.
        format: &'static str,
        what: String,
        why: String,
    },
    #[error("{path} already exists")]
    Exists { path: String },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error(
        "{path}: dockerComposeFile names `{named}`, which cannot be read at {tried}: {message}"
    )]
    ComposeFile {
        /// The devcontainer.json that names it, as shown to the user.
        path: String,
        named: String,
        tried: String,
        message: String,
    },
    #[error("no devcontainer.json found (looked for {looked})")]
    NotFound { looked: String },
}

impl InteropError {
    pub fn hint(&self) -> Option<String> {
        match self {
            InteropError::Exists { .. } => {
                Some("pass --force to overwrite it, or -o to write somewhere else".into())
            }
            InteropError::NotFound { .. } => {
                Some("pass the path: `devenv import devcontainer path/to/devcontainer.json`".into())
            }
            InteropError::Json { .. } => Some("fix the file and import again".into()),
            InteropError::Unsupported { .. } => Some(
                "write devenv.toml by hand (see `devenv init`), or point the devcontainer at an \
                 image or a Dockerfile"
                    .into(),
            ),
            InteropError::Inexpressible { .. } => {
                Some("change the manifest value, or write that file by hand".into())
            }
            InteropError::ComposeFile { path, .. } => Some(format!(
                "fix dockerComposeFile in {path} (a relative path is read from that file's \
                 folder), or create the Compose file there"
            )),
            InteropError::Io { .. } => None,
        }
    }

    pub(crate) fn io(what: impl std::fmt::Display, e: &std::io::Error) -> InteropError {
        InteropError::Io {
            what: what.to_string(),
            message: e.to_string(),
        }
    }
}

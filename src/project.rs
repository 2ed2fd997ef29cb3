//! Locating and loading the project: manifest discovery (`-f`, `-C`), the project root and
//! the local state directory (`.devenv/`, next to the manifest).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::StatePaths;
use crate::manifest::{self, Manifest};

/// Name of devenv's local state directory inside the project.
pub const STATE_DIR: &str = ".devenv";

#[derive(Debug, Clone)]
pub struct Project {
    pub manifest: Manifest,
    pub paths: StatePaths,
    /// The manifest path as the user would recognise it (for messages).
    pub display_path: PathBuf,
}

/// Where devenv was asked to run: `-C DIR` or the current directory.
pub fn start_dir(directory: Option<&Path>) -> Result<PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::other(format!("cannot read the current directory: {e}"), None))?;
    Ok(match directory {
        Some(d) if d.is_absolute() => d.to_path_buf(),
        Some(d) => cwd.join(d),
        None => cwd,
    })
}

/// Find and validate the manifest.
pub fn load(file: Option<&Path>, directory: Option<&Path>) -> Result<Project> {
    let start = start_dir(directory)?;
    let path = manifest::discover(&start, file)?;
    let root = path
        .parent()
        .map_or_else(|| start.clone(), Path::to_path_buf);
    let root = root.canonicalize().unwrap_or(root);
    let display_path = path
        .strip_prefix(&start)
        .map_or_else(|_| path.clone(), Path::to_path_buf);
    let mut manifest = manifest::load(&path, &root).map_err(|e| relabel(e, &display_path))?;
    manifest.path = path.canonicalize().unwrap_or(path);
    let paths = StatePaths {
        lock: manifest::lock_path(&manifest.path),
        dir: root.join(STATE_DIR),
    };
    Ok(Project {
        manifest,
        paths,
        display_path,
    })
}

/// Show the manifest path relative to where the user is.
fn relabel(err: manifest::ManifestError, shown: &Path) -> Error {
    match err {
        manifest::ManifestError::Invalid {
            source_text,
            diagnostics,
            ..
        } => manifest::ManifestError::Invalid {
            path: shown.to_path_buf(),
            source_text,
            diagnostics,
        }
        .into(),
        other => other.into(),
    }
}

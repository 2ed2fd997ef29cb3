//! `devenv.toml` and `devenv.lock`: the validated, defaulted types the rest of devenv reads.
//!
//! Parsing walks toml's spanned document tree by hand (see `parse.rs`) so that every error
//! carries a byte span; `diag.rs` turns those into `file:line:col` reports with a caret.
//! toml is used in this module only.

mod diag;
pub mod lock;
mod parse;
mod reference;
mod runtime;
mod sections;
#[cfg(test)]
mod parse_tests;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use diag::{Diagnostic, ManifestError};
pub use lock::{LockEntry, LockFile};

/// The manifest's file name, looked up from the current directory upwards.
pub const MANIFEST_FILE: &str = "devenv.toml";
/// The lock file's name, always next to the manifest.
pub const LOCK_FILE: &str = "devenv.lock";
/// Default mount point of the project inside the container.
pub const DEFAULT_WORKDIR: &str = "/workspace";

/// A validated manifest with every default filled in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest file (absolute).
    pub path: PathBuf,
    /// The project directory: the manifest's directory unless `-C` said otherwise.
    pub root: PathBuf,
    /// Project name, sanitised to `[a-z0-9][a-z0-9_.-]*`.
    pub name: String,
    pub base: Base,
    /// Image environment, baked into the image.
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    pub shell: Shell,
    pub container: Container,
    pub hooks: Hooks,
    pub cache: Option<Cache>,
    pub watch: Vec<WatchRule>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Base {
    #[serde(flatten)]
    pub source: BaseSource,
    pub pull: PullPolicy,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BaseSource {
    /// A registry reference or a local image id.
    Image(ImageRef),
    /// A root filesystem tarball, relative to the project root.
    Rootfs(String),
}

/// `name[:tag][@sha256:…]`, or a local image id (`sha256:…` or a hex prefix).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageRef {
    /// Exactly what the user wrote.
    pub raw: String,
    /// Repository including any registry host, e.g. `ghcr.io/acme/base`.
    pub name: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>` when pinned in the manifest.
    pub digest: Option<String>,
}

impl ImageRef {
    /// The reference without its digest: what a pull or a lookup by name uses.
    pub fn name_and_tag(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{}:{tag}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Step {
    /// Display name; defaults to `step N`.
    pub name: String,
    pub run: String,
    /// Glob patterns relative to the project root, as written.
    pub inputs: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Names of host environment variables visible to this step only.
    pub secrets: Vec<String>,
    /// User the step runs as; default `root`.
    pub user: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Shell {
    /// `None` means: bash if the image has it, else `/bin/sh`.
    pub command: Option<String>,
    pub user: ShellUser,
    pub workdir: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShellUser {
    /// The host's uid/gid, named after the host user.
    Host,
    Root,
    /// A user that exists in the image.
    Named(String),
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Container {
    pub env: BTreeMap<String, String>,
    /// dotenv file relative to the project root.
    pub env_file: Option<String>,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    pub network: Network,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortSpec {
    pub raw: String,
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VolumeSpec {
    /// A named volume, scoped to the project (the engine name gets a project prefix).
    Named {
        name: String,
        target: String,
        read_only: bool,
    },
    /// A bind mount of a path inside the project (relative, as written without `./`).
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    #[default]
    Bridge,
    None,
    Host,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Hooks {
    pub on_create: Option<String>,
    pub on_start: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cache {
    pub registry: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WatchRule {
    pub paths: Vec<String>,
    pub action: WatchAction,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WatchAction {
    Run(String),
    Rebuild,
    Restart,
}

/// Parse and validate manifest text. `path` is used in messages and stored in the result;
/// `root` is the project directory against which relative paths are checked (including
/// symlink escapes, so it must exist for those checks to be meaningful).
pub fn parse_str(src: &str, path: &Path, root: &Path) -> Result<Manifest, ManifestError> {
    parse::parse(src, path, root)
}

/// Read and validate the manifest at `path` with project directory `root`.
pub fn load(path: &Path, root: &Path) -> Result<Manifest, ManifestError> {
    let src = std::fs::read(path).map_err(|e| ManifestError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let src = String::from_utf8(src).map_err(|e| ManifestError::Io {
        path: path.to_path_buf(),
        message: format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    parse_str(&src, path, root)
}

/// Find the manifest: `explicit` when given (`-f`), else the nearest `devenv.toml` walking
/// up from `start`.
pub fn discover(start: &Path, explicit: Option<&Path>) -> Result<PathBuf, ManifestError> {
    if let Some(file) = explicit {
        let file = if file.is_absolute() {
            file.to_path_buf()
        } else {
            start.join(file)
        };
        if !file.is_file() {
            return Err(ManifestError::NotFound {
                searched: file,
                explicit: true,
            });
        }
        return Ok(file);
    }
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(MANIFEST_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(ManifestError::NotFound {
        searched: start.to_path_buf(),
        explicit: false,
    })
}

/// Sanitise a directory name into a project name: lowercase, `[a-z0-9_.-]`, starting with
/// an alphanumeric; `project` when nothing is left.
pub fn sanitise_name(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(|c: char| !c.is_ascii_alphanumeric()) {
        out.remove(0);
    }
    if out.is_empty() {
        "project".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitise_names() {
        assert_eq!(sanitise_name("Shop API"), "shop-api");
        assert_eq!(sanitise_name("..x"), "x");
        assert_eq!(sanitise_name("@@"), "project");
    }
}

impl Manifest {
    /// The resolved manifest as TOML (what `devenv config` prints): every default filled in,
    /// unset optional values left out.
    pub fn to_toml(&self) -> String {
        fn strip_nulls(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    map.retain(|_, v| !v.is_null());
                    map.values_mut().for_each(strip_nulls);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
                _ => {}
            }
        }
        let mut value = serde_json::to_value(self).expect("manifest serialises");
        strip_nulls(&mut value);
        toml::to_string_pretty(&value).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

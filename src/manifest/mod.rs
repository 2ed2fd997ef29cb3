//! `devenv.toml` and `devenv.lock`: the validated, defaulted types the rest of devenv reads.
//!
//! Parsing walks toml's spanned document tree by hand (see `parse.rs`) so that every error
//! carries a byte span; `diag.rs` turns those into `file:line:col` reports with a caret.
//! toml is used in this module only.

mod caches;
mod diag;
pub mod limits;
pub mod lock;
mod parse;
pub mod platform;
mod provision;
mod reference;
mod runtime;
mod sections;
mod services;
pub mod user;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use diag::{Diagnostic, ManifestError};
pub use lock::{LockEntry, LockFile};
pub use platform::Platform;
pub use services::{start_levels, RestartPolicy, Service, ServiceCommand, DEFAULT_READY_TIMEOUT};

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
    /// `[sync]`: files brought back from a remote workspace.
    pub sync: SyncConfig,
    /// `[services.NAME]`, keyed by name.
    pub services: BTreeMap<String, Service>,
    /// `[provision]`: the tools steps run with (the Ansible controller).
    #[serde(skip_serializing_if = "Provision::is_empty")]
    pub provision: Provision,
}

/// `[provision]`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Provision {
    /// `[provision.ansible]`; devenv provides a controller when it is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ansible: Option<AnsibleController>,
}

impl Provision {
    fn is_empty(&self) -> bool {
        self.ansible.is_none()
    }
}

/// `[provision.ansible]`: the image the playbooks run from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct AnsibleController {
    /// An image with `ansible-playbook`, the `community.docker` collection and Python's
    /// `requests`; `None`: devenv builds one from the base with Debian's packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A step's `ansible`: a playbook run against the step's container from a controller.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AnsibleStep {
    /// Relative to the project root.
    pub playbook: String,
    /// Extra variables (`-e`), scalars.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// `--tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Base {
    #[serde(flatten)]
    pub source: BaseSource,
    pub pull: PullPolicy,
    /// `[base] platform` (what a rootfs tarball holds), or the one `--platform` /
    /// `DOCKER_DEFAULT_PLATFORM` asked for; `None`: the engine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
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
    /// The shell command; empty for an `ansible` step.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub run: String,
    /// A playbook instead of `run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ansible: Option<AnsibleStep>,
    /// Glob patterns relative to the project root, as written.
    pub inputs: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Names of host environment variables visible to this step only.
    pub secrets: Vec<String>,
    /// User the step runs as; default `root`.
    pub user: String,
    /// Cache directories mounted while the step runs: in no layer, history or key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<CacheMount>,
}

/// One of a step's `caches`: a directory that persists across rebuilds of the step, kept
/// in an engine volume keyed by `id` and the client (see `image::caches`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CacheMount {
    /// Absolute path in the step's container.
    pub target: String,
    /// The cache's name; defaults to `target`. Steps naming the same id share it.
    pub id: String,
    pub sharing: CacheSharing,
    pub scope: CacheScope,
    /// Owner and mode of the cache's root (BuildKit's defaults: 0, 0, 0o755).
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// What concurrent builds using one cache do (BuildKit's `sharing`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CacheSharing {
    /// All use it at once.
    #[default]
    Shared,
    /// One at a time; the others wait.
    Locked,
    /// Each gets a volume nobody else is using at the moment.
    Private,
}

/// Who shares a cache on an engine.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CacheScope {
    /// The projects of this client (user and machine) only.
    #[default]
    Client,
    /// Every client of the engine naming the same id (a shared engine, on purpose).
    Engine,
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

/// `[sync]`: runtime only, in neither the image hash nor the container's settings.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct SyncConfig {
    /// Paths in the project (as written; a trailing `/` marks a directory) copied back from
    /// the workspace after every `devenv run` when the workspace is a synced volume.
    pub fetch: Vec<String>,
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

/// Whether `path` (as given to `devenv fetch` or in `[sync] fetch`) names a plain path in
/// the project that can be fetched: relative, no `..` or `.` components, no wildcards,
/// outside `.git` and `.devenv`. Symlinks are checked where the files are written.
pub fn check_fetch_path(path: &str) -> Result<(), Diagnostic> {
    values::fetch_path(path, Path::new(""), None)
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

/// The lock file belonging to a manifest: `devenv.toml` → `devenv.lock`, and another
/// manifest such as `ci.devenv.toml` → `ci.devenv.lock`, so several manifests in one
/// directory never fight over one lock.
pub fn lock_path(manifest: &Path) -> PathBuf {
    if manifest.file_name().is_some_and(|n| n == MANIFEST_FILE) {
        manifest.with_file_name(LOCK_FILE)
    } else {
        manifest.with_extension("lock")
    }
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

/// Sanitise a directory name into a project name: lowercase alphanumeric groups joined by
/// single `-`, at most 63 characters (always a valid Docker repository component);
/// `project` when nothing is left.
pub fn sanitise_name(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let groups: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|g| !g.is_empty())
        .collect();
    let mut out = groups.join("-");
    out.truncate(63);
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "project".to_owned()
    } else {
        out.to_owned()
    }
}

/// Docker's repository path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn is_repo_component(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !s.starts_with(alnum) || !s.ends_with(alnum) {
        return false;
    }
    // Every run of separators must be `.`, `_`, `__` or `-`+.
    let mut run = String::new();
    for c in s.chars().chain(std::iter::once('a')) {
        if alnum(c) {
            let ok = run.is_empty()
                || run == "."
                || run == "_"
                || run == "__"
                || run.chars().all(|c| c == '-');
            if !ok {
                return false;
            }
            run.clear();
        } else if ".-_".contains(c) {
            run.push(c);
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitise_names() {
        assert_eq!(sanitise_name("Shop API"), "shop-api");
        assert_eq!(sanitise_name("..x"), "x");
        assert_eq!(sanitise_name("@@"), "project");
        assert_eq!(sanitise_name("shop-"), "shop");
        assert_eq!(sanitise_name("a..b__c"), "a-b-c");
        assert_eq!(sanitise_name(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn repo_components() {
        for ok in ["a", "shop-api", "a.b", "a_b", "a__b", "a---b", "x1"] {
            assert!(is_repo_component(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", "a___b", "A", "a b", "a._b"] {
            assert!(!is_repo_component(bad), "{bad}");
        }
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

#[cfg(test)]
mod parse_tests;

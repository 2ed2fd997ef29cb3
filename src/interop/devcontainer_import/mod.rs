//! `devenv import devcontainer`: devcontainer.json (JSON with comments and trailing commas)
//! to devenv.toml text. Every property that is not carried over exactly is listed in a
//! warning (and in a comment at the top of the manifest); nothing is dropped silently.
//!
//! This file reads the file and maps the workspace, the base (`image`, or a Dockerfile
//! through `dockerfile_import`) and the users; `properties` maps every other top-level
//! property (environment, ports, lifecycle commands, warnings for the rest) and `mounts`
//! the mounts.

mod mounts;
mod properties;

use std::path::{Component, Path, PathBuf};

use self::mounts::mount_options;
pub(super) use self::mounts::volume;
use self::properties::property;
pub(super) use self::properties::{valid_env_name, valid_port};
use super::dockerfile_import;
use super::draft::Draft;
pub use super::draft::Warning;
use super::json::J;
use super::InteropError;

/// The result of an import: manifest text and what was not carried over.
#[derive(Debug, Clone)]
pub struct Imported {
    pub text: String,
    pub warnings: Vec<Warning>,
}

/// Where `devenv import devcontainer` looks when no path is given, in order.
pub const DEFAULT_PATHS: &[&str] = &[".devcontainer/devcontainer.json", ".devcontainer.json"];

/// Find the devcontainer.json of a project: the default paths, then a single
/// `.devcontainer/<name>/devcontainer.json`.
pub fn discover(root: &Path) -> Result<PathBuf, InteropError> {
    for p in DEFAULT_PATHS {
        if root.join(p).is_file() {
            return Ok(root.join(p));
        }
    }
    let mut nested: Vec<PathBuf> = std::fs::read_dir(root.join(".devcontainer"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("devcontainer.json"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    if nested.len() == 1 {
        return Ok(nested.remove(0));
    }
    Err(InteropError::NotFound {
        looked: format!(
            "{} and .devcontainer/*/devcontainer.json",
            DEFAULT_PATHS.join(", ")
        ),
    })
}

/// Import the devcontainer.json at `path` for the project in `root` (where devenv.toml will
/// be written; `${localWorkspaceFolder}`).
pub fn import(path: &Path, root: &Path) -> Result<Imported, InteropError> {
    let shown = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InteropError::io(&shown, &e))?;
    let obj = J::parse(&text).map_err(|message| InteropError::Json {
        path: shown.clone(),
        message,
    })?;
    let J::Obj(_) = obj else {
        return Err(InteropError::Json {
            path: shown,
            message: "expected an object at the top".into(),
        });
    };
    let dir = path.parent().unwrap_or(root);
    let cx = Cx {
        root,
        dir,
        basename: root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        shown: shown.clone(),
    };
    let mut d = Draft {
        source: shown.clone(),
        ..Draft::default()
    };
    if obj.get("dockerComposeFile").is_some() {
        return Err(InteropError::Unsupported {
            path: shown,
            message: "a Docker Compose devcontainer (dockerComposeFile) has no devenv form: \
                      devenv runs one container"
                .into(),
        });
    }
    workspace(&cx, &obj, &mut d);
    base(&cx, &obj, &mut d)?;
    for (key, value) in obj.entries() {
        property(&cx, key, value, &mut d);
    }
    users(&obj, &mut d);
    Ok(Imported {
        text: d.render(),
        warnings: d.warnings,
    })
}

pub(super) struct Cx<'a> {
    pub root: &'a Path,
    /// The devcontainer.json's directory (relative paths in it start here).
    pub dir: &'a Path,
    pub basename: String,
    pub shown: String,
}

impl Cx<'_> {
    /// Replace the variables devenv can resolve at import time; `None` when others remain.
    pub(super) fn substitute(&self, s: &str) -> Option<String> {
        let out = s
            .replace("${localWorkspaceFolderBasename}", &self.basename)
            .replace("${containerWorkspaceFolderBasename}", &self.basename);
        (!out.contains("${")).then_some(out)
    }
}

/// `workspaceFolder` / `workspaceMount` → `shell.workdir`.
fn workspace(cx: &Cx<'_>, obj: &J, d: &mut Draft) {
    let mount_target = obj.get("workspaceMount").and_then(J::as_str).and_then(|m| {
        let opts = mount_options(m);
        let source = opts.iter().find(|(k, _)| k == "source" || k == "src");
        if source.is_none_or(|(_, s)| s != "${localWorkspaceFolder}") {
            d.warn(
                "workspaceMount",
                format!("\"{m}\": devenv always mounts the project directory itself"),
            );
        }
        opts.iter()
            .find(|(k, _)| k == "target" || k == "destination" || k == "dst")
            .map(|(_, t)| t.clone())
    });
    let folder = obj
        .get("workspaceFolder")
        .and_then(J::as_str)
        .map(str::to_owned);
    let (raw, note) = match (folder, mount_target) {
        (Some(f), _) => (f, None),
        (None, Some(t)) => (t, Some("from workspaceMount's target".to_owned())),
        (None, None) => (
            "/workspaces/${localWorkspaceFolderBasename}".to_owned(),
            Some("devcontainers' default mount point /workspaces/<folder>".to_owned()),
        ),
    };
    match cx.substitute(&raw) {
        Some(w) if valid_container_path(&w) => {
            let note = match (note, raw.contains("${")) {
                (n, true) => Some(format!(
                    "{}{raw} with the folder name of this checkout",
                    n.map(|n| format!("{n}: ")).unwrap_or_default()
                )),
                (n, false) => n,
            };
            d.workdir = Some((w, note));
        }
        _ => d.warn(
            "workspaceFolder",
            format!("\"{raw}\" is not a plain absolute path; devenv's default /workspace is used"),
        ),
    }
}

pub(super) fn valid_container_path(s: &str) -> bool {
    s.starts_with('/')
        && s != "/"
        && !s.ends_with('/')
        && s[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// `image`, or `build` / `dockerFile` → `[base]` (and steps from the Dockerfile).
fn base(cx: &Cx<'_>, obj: &J, d: &mut Draft) -> Result<(), InteropError> {
    if let Some(image) = obj.get("image").and_then(J::as_str) {
        let Some(image) = cx.substitute(image) else {
            return Err(InteropError::Unsupported {
                path: cx.shown.clone(),
                message: format!("image \"{image}\" uses a variable devenv cannot resolve"),
            });
        };
        d.base_image = Some(image);
        return Ok(());
    }
    let build = obj.get("build").filter(|b| matches!(b, J::Obj(_)));
    let dockerfile = build
        .and_then(|b| b.get("dockerfile").or_else(|| b.get("dockerFile")))
        .or_else(|| obj.get("dockerFile"))
        .and_then(J::as_str);
    let Some(dockerfile) = dockerfile else {
        return Err(InteropError::Unsupported {
            path: cx.shown.clone(),
            message: "neither `image` nor `build.dockerfile` is set".into(),
        });
    };
    let context = build
        .and_then(|b| b.get("context"))
        .or_else(|| obj.get("context"))
        .and_then(J::as_str)
        .unwrap_or(".");
    let mut args = Vec::new();
    if let Some(a) = build.and_then(|b| b.get("args")) {
        for (k, v) in a.entries() {
            if let Some(v) = J::as_str(v).and_then(|v| cx.substitute(v)) {
                args.push((k.clone(), v));
            } else {
                d.warn(
                    format!("build.args.{k}"),
                    format!("{} cannot be resolved", v.describe()),
                );
            }
        }
    }
    let target = build.and_then(|b| b.get("target")).and_then(J::as_str);
    for key in ["cacheFrom", "options"] {
        if let Some(v) = build.and_then(|b| b.get(key)) {
            d.warn(
                format!("build.{key}"),
                format!("{}: no devenv equivalent", v.describe()),
            );
        }
    }
    let input = dockerfile_import::Input {
        path: cx.dir.join(dockerfile),
        context: normalise(&cx.dir.join(context)),
        root: cx.root.to_path_buf(),
        args,
        target: target.map(str::to_owned),
        workdir: d.workdir.as_ref().map_or_else(
            || crate::manifest::DEFAULT_WORKDIR.to_owned(),
            |w| w.0.clone(),
        ),
    };
    dockerfile_import::import(&input, d)
}

/// Lexically resolve `.` and `..`.
pub(super) fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `remoteUser` / `containerUser` (or the Dockerfile's last USER) → `shell.user`.
fn users(obj: &J, d: &mut Draft) {
    let remote = obj.get("remoteUser").and_then(J::as_str);
    let container = obj.get("containerUser").and_then(J::as_str);
    if let (Some(r), Some(c)) = (remote, container) {
        if r != c {
            d.warn(
                "containerUser",
                format!("\"{c}\": devenv has one user; remoteUser \"{r}\" is used"),
            );
        }
    }
    let Some(user) = remote
        .or(container)
        .map(str::to_owned)
        .or_else(|| d.user.take())
    else {
        return;
    };
    let user = if user == "0" { "root".to_owned() } else { user };
    let body = user.strip_suffix('$').unwrap_or(&user);
    let valid = user.chars().all(|c| c.is_ascii_digit())
        || (body.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && body
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'));
    if !valid || user.is_empty() {
        d.warn(
            "remoteUser",
            format!("\"{user}\" is not a user name devenv accepts"),
        );
        return;
    }
    if user != "root"
        && obj
            .get("updateRemoteUserUID")
            .is_none_or(|v| !matches!(v, J::Bool(false)))
    {
        d.warn(
            "updateRemoteUserUID",
            format!(
                "devcontainers give {user} your host uid; devenv runs as {user} unchanged \
                 (shell.user = \"host\" runs as your host uid instead)"
            ),
        );
    }
    d.user = Some(user);
}

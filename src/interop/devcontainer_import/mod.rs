//! `devenv import devcontainer`: devcontainer.json (JSON with comments and trailing commas)
//! to devenv.toml text. Every property that is not carried over exactly is listed in a
//! warning (and in a comment at the top of the manifest); nothing is dropped silently.
//!
//! This file reads the file and maps the workspace, the base (`image`, or a Dockerfile
//! through `dockerfile_import`) and the users; `properties` maps every other top-level
//! property (environment, ports, lifecycle commands, warnings for the rest), `mounts`
//! the mounts and `variables` the devcontainer variables in lifecycle commands.

mod compose;
mod mounts;
mod properties;
mod variables;

use std::path::{Component, Path, PathBuf};

use self::mounts::mount_options;
pub(super) use self::mounts::volume;
use self::properties::property;
pub(super) use self::properties::{same_host_port, valid_env_name, valid_port};
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
    let mut cx = Cx {
        root,
        dir,
        basename: root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        shown: shown.clone(),
        folder: String::new(),
        workdir: String::new(),
    };
    let mut d = Draft {
        source: shown.clone(),
        ..Draft::default()
    };
    workspace(&mut cx, &obj, &mut d);
    if obj.get("dockerComposeFile").is_some() {
        compose::import(&mut cx, &obj, &mut d)?;
    } else {
        base(&cx, &obj, &mut d)?;
    }
    for (key, value) in obj.entries() {
        property(&cx, key, value, &mut d);
    }
    users(&obj, &mut d);
    compose::dedupe_ports(&mut d);
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
    /// The devcontainer's `workspaceFolder` in the container (`${containerWorkspaceFolder}`).
    pub folder: String,
    /// Where the project is mounted: `shell.workdir`.
    pub workdir: String,
}

impl Cx<'_> {
    /// Replace the variables devenv can resolve at import time; `None` when others remain.
    pub(super) fn substitute(&self, s: &str) -> Option<String> {
        let mut out = s.replace("${localWorkspaceFolderBasename}", &self.basename);
        if !self.folder.is_empty() {
            let base = self.folder.rsplit('/').next().unwrap_or_default();
            out = out
                .replace("${containerWorkspaceFolderBasename}", base)
                .replace("${containerWorkspaceFolder}", &self.folder);
        }
        // Any other `${…}` (sh's own, `${HOME}`) devcontainers leave as it is, and so do we.
        crate::interop::text::first_substituted(&out)
            .is_none()
            .then_some(out)
    }
}

/// `workspaceFolder` / `workspaceMount` → `shell.workdir`: where the project's own files
/// are in the devcontainer. Without `workspaceMount` devcontainers mount the project at
/// `/workspaces/<folder>` whatever `workspaceFolder` says; a mount of the project's parent
/// puts it below the target. When `workspaceFolder` is elsewhere (a subfolder, a parent),
/// hooks run there as lifecycle commands do, and a warning says so.
fn workspace(cx: &mut Cx<'_>, obj: &J, d: &mut Draft) {
    let default_mount = "/workspaces/${localWorkspaceFolderBasename}".to_owned();
    let (raw_mount, how) = match obj.get("workspaceMount").and_then(J::as_str) {
        None => (
            Some(default_mount),
            "devcontainers' default mount point /workspaces/<folder>".to_owned(),
        ),
        Some(m) => (mount_location(cx, m, d), "from workspaceMount".to_owned()),
    };
    let folder = obj
        .get("workspaceFolder")
        .and_then(J::as_str)
        .map(str::to_owned);
    let plain = |raw: &str, what: &str, d: &mut Draft| match cx.substitute(raw) {
        Some(w) if valid_container_path(&w) => Some(w),
        _ => {
            d.warn(
                what,
                format!(
                    "\"{raw}\" is not a plain absolute path; devenv's default /workspace is used"
                ),
            );
            None
        }
    };
    let mount = raw_mount
        .as_deref()
        .and_then(|m| plain(m, "workspaceMount", d));
    let folder_path = folder
        .as_deref()
        .and_then(|f| plain(f, "workspaceFolder", d));
    let (workdir, note) = match (&mount, &folder_path) {
        (Some(m), _) => (m.clone(), {
            let raw = raw_mount.unwrap_or_default();
            if raw.contains("${") {
                format!("{how}: {raw} with the folder name of this checkout")
            } else {
                how
            }
        }),
        // A workspaceMount devenv cannot follow (warned): the folder is the best guess.
        (None, Some(f)) => (f.clone(), "from workspaceFolder".to_owned()),
        (None, None) => {
            crate::manifest::DEFAULT_WORKDIR.clone_into(&mut cx.workdir);
            cx.folder = cx.workdir.clone();
            return;
        }
    };
    let folder_path = folder_path.unwrap_or_else(|| workdir.clone());
    if folder_path != workdir {
        let relation = if folder_path.starts_with(&format!("{workdir}/")) {
            "a folder inside the project"
        } else if workdir.starts_with(&format!("{folder_path}/")) {
            "a folder above the project"
        } else {
            "a folder outside the project"
        };
        d.warn(
            "workspaceFolder",
            format!(
                "\"{folder_path}\" is {relation}, whose files devcontainers have at {workdir}; \
                 devenv mounts the project there (shell.workdir), runs the hooks in \
                 {folder_path} as devcontainers do, and opens shells in {workdir}"
            ),
        );
        d.hook_dir = Some(folder_path.clone());
    }
    cx.workdir.clone_from(&workdir);
    cx.folder = folder_path;
    d.workdir = Some((workdir, Some(note)));
}

/// Where a `workspaceMount` puts the project, when it mounts the project or one of its
/// parent folders; for anything else (warned) its target is the best guess.
fn mount_location(cx: &Cx<'_>, m: &str, d: &mut Draft) -> Option<String> {
    let opts = mount_options(m);
    let get = |names: &[&str]| {
        opts.iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.trim_matches('"').to_owned())
    };
    let source = get(&["source", "src"]).unwrap_or_default();
    let target = get(&["target", "destination", "dst"]);
    let rest = source
        .strip_prefix("${localWorkspaceFolder}")
        .map(|r| r.trim_end_matches('/'));
    let ups = rest.and_then(|r| {
        let parts: Vec<&str> = r
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        parts.iter().all(|p| *p == "..").then_some(parts.len())
    });
    let Some(ups) = ups else {
        d.warn(
            "workspaceMount",
            format!("\"{m}\": devenv always mounts the project directory itself"),
        );
        return target;
    };
    let target = target?;
    if ups == 0 {
        return Some(target);
    }
    // The project lies below the target, at the path it has below the mounted parent.
    let names: Vec<String> = cx
        .root
        .components()
        .rev()
        .take(ups)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let below: Vec<&str> = names.iter().rev().map(String::as_str).collect();
    d.warn(
        "workspaceMount",
        format!(
            "\"{m}\" mounts a parent of the project; devenv mounts only the project, at \
             {target}/{}, where that mount puts it (the folders beside it are not there)",
            below.join("/")
        ),
    );
    Some(format!(
        "{}/{}",
        target.trim_end_matches('/'),
        below.join("/")
    ))
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
        // `.devcontainer/./Dockerfile` reads better as `.devcontainer/Dockerfile`; one
        // outside the project keeps its `../` so messages name it relative to the project.
        path: Some(normalise(&cx.dir.join(dockerfile)))
            .filter(|p| p.starts_with(cx.root))
            .unwrap_or_else(|| cx.dir.join(dockerfile)),
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
    if user != "root" {
        if let Some((what, _)) = d
            .refused_runs
            .iter()
            .find(|(_, text)| crate::interop::text::mentions_word(text, &user))
        {
            d.warn(
                "remoteUser",
                format!(
                    "\"{user}\" is not used: {what}, which was not imported, may be what \
                     creates it; devenv's default (your host uid) is used instead"
                ),
            );
            d.user = None;
            return;
        }
    }
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

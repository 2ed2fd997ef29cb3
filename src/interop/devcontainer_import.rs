//! `devenv import devcontainer`: devcontainer.json (JSON with comments and trailing commas)
//! to devenv.toml text. Every property that is not carried over exactly is listed in a
//! warning (and in a comment at the top of the manifest); nothing is dropped silently.

use std::path::{Component, Path, PathBuf};

use super::dockerfile_import;
pub use super::draft::Warning;
use super::draft::{set, Draft};
use super::json::J;
use super::text::sh_join;
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

/// Every other top-level property.
fn property(cx: &Cx<'_>, key: &str, v: &J, d: &mut Draft) {
    match key {
        "image"
        | "build"
        | "dockerFile"
        | "context"
        | "workspaceFolder"
        | "workspaceMount"
        | "remoteUser"
        | "containerUser"
        | "$schema"
        | "updateRemoteUserUID" => {}
        // devenv always runs an init process and its own idle command.
        "init" | "overrideCommand" if matches!(v, J::Bool(true)) => {}
        "containerEnv" | "remoteEnv" => env_object(cx, key, v, d),
        "forwardPorts" | "appPort" => ports(key, v, d),
        "mounts" => mounts(cx, v, d),
        "runArgs" => super::run_args::import(cx, v, d),
        "onCreateCommand" | "updateContentCommand" | "postCreateCommand" => {
            if key == "updateContentCommand" {
                d.warn(
                    key,
                    "runs once with on_create (devenv has no content-update event)",
                );
            }
            if let Some(c) = lifecycle(key, v, d) {
                d.on_create.push(c);
            }
        }
        "postStartCommand" => {
            if let Some(c) = lifecycle(key, v, d) {
                d.on_start.push(c);
            }
        }
        "features" => {
            let names: Vec<String> = match v {
                J::Obj(o) => o.iter().map(|(k, _)| k.clone()).collect(),
                other => vec![other.describe()],
            };
            d.warn(
                key,
                format!(
                    "{} not installed: devenv has no features; add their install commands as \
                     [[step]]s",
                    names.join(", ")
                ),
            );
        }
        "name" => d.warn(
            key,
            format!(
                "{}: devenv names the project after its directory",
                v.describe()
            ),
        ),
        "customizations" => d.warn(
            key,
            format!(
                "{}: editor settings, not part of the environment",
                v.describe()
            ),
        ),
        "initializeCommand" => d.warn(
            key,
            "runs on the host before the container; devenv has no host hooks",
        ),
        "postAttachCommand" => d.warn(key, "devenv has no attach event; run it in your shell"),
        _ => d.warn(key, format!("{}: no devenv equivalent", v.describe())),
    }
}

/// `containerEnv` / `remoteEnv` → `[container] env`.
fn env_object(cx: &Cx<'_>, key: &str, v: &J, d: &mut Draft) {
    let J::Obj(o) = v else {
        d.warn(key, format!("{}: expected an object", v.describe()));
        return;
    };
    if key == "remoteEnv" && !o.is_empty() {
        d.warn(
            key,
            "set on the container (devenv has no exec-only environment)",
        );
    }
    for (name, value) in o {
        let prop = format!("{key}.{name}");
        if !valid_env_name(name) {
            d.warn(prop, "not a valid environment variable name");
            continue;
        }
        match J::as_str(value).and_then(|s| cx.substitute(s)) {
            Some(s) => set(&mut d.container_env, name, s),
            None => d.warn(
                prop,
                format!(
                    "{}: refers to a variable devenv cannot resolve",
                    value.describe()
                ),
            ),
        }
    }
}

pub(super) fn valid_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `forwardPorts` / `appPort` → `[container] ports` as `P:P`.
fn ports(key: &str, v: &J, d: &mut Draft) {
    let items: Vec<&J> = match v {
        J::Arr(a) => a.iter().collect(),
        one => vec![one],
    };
    for item in items {
        let mapped = match item {
            J::Num(n) => n
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .map(|p| format!("{p}:{p}")),
            J::Str(s) => {
                let s = s.strip_prefix("localhost:").unwrap_or(s);
                match s.parse::<u16>() {
                    Ok(p) if p > 0 => Some(format!("{p}:{p}")),
                    _ => valid_port(s).then(|| s.to_owned()),
                }
            }
            _ => None,
        };
        match mapped {
            Some(p) if !d.ports.contains(&p) => d.ports.push(p),
            Some(_) => {}
            None => d.warn(
                key,
                format!("{}: not a port devenv can publish", item.describe()),
            ),
        }
    }
}

/// `[ip:]host:container[/tcp|/udp]` as devenv accepts it.
pub(super) fn valid_port(s: &str) -> bool {
    let mapping = match s.rsplit_once('/') {
        Some((m, "tcp" | "udp")) => m,
        Some(_) => return false,
        None => s,
    };
    let parts: Vec<&str> = mapping.split(':').collect();
    let port =
        |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0) && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [h, c] => port(h) && port(c),
        [ip, h, c] => ip.parse::<std::net::Ipv4Addr>().is_ok() && port(h) && port(c),
        _ => false,
    }
}

/// `key=value` pairs of a `--mount`-style string; a bare word is `(word, "true")`.
pub(super) fn mount_options(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
            None => (p.trim().to_owned(), "true".to_owned()),
        })
        .collect()
}

/// `mounts` (strings and objects) → `[container] volumes`.
fn mounts(cx: &Cx<'_>, v: &J, d: &mut Draft) {
    let J::Arr(items) = v else {
        d.warn("mounts", format!("{}: expected an array", v.describe()));
        return;
    };
    for item in items {
        let opts = match item {
            J::Str(s) => mount_options(s),
            J::Obj(o) => o
                .iter()
                .filter_map(|(k, v)| match v {
                    J::Str(s) => Some((k.clone(), s.clone())),
                    J::Bool(b) => Some((k.clone(), b.to_string())),
                    _ => None,
                })
                .collect(),
            other => {
                d.warn("mounts", format!("{}: not a mount", other.describe()));
                continue;
            }
        };
        let get = |names: &[&str]| {
            opts.iter()
                .find(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, v)| v.clone())
        };
        let kind = get(&["type"]).unwrap_or_else(|| "volume".into());
        let source = get(&["source", "src"]);
        let target = get(&["target", "destination", "dst"]);
        let read_only = get(&["readonly", "ro"]).is_some_and(|v| v != "false");
        match volume(cx, &kind, source.as_deref(), target.as_deref(), read_only) {
            Ok(spec) => d.volumes.push(spec),
            Err(why) => d.warn("mounts", format!("{}: {why}", item.describe())),
        }
    }
}

/// One mount as a devenv volume string, or why it cannot be one.
pub(super) fn volume(
    cx: &Cx<'_>,
    kind: &str,
    source: Option<&str>,
    target: Option<&str>,
    read_only: bool,
) -> Result<String, String> {
    let Some(target) = target.and_then(|t| cx.substitute(t)) else {
        return Err("no usable target".into());
    };
    if !valid_container_path(&target) {
        return Err(format!("target {target} is not a plain absolute path"));
    }
    let mode = if read_only { ":ro" } else { "" };
    match kind {
        "bind" => {
            let source = source.unwrap_or_default();
            let rel = match source.strip_prefix("${localWorkspaceFolder}") {
                Some("") => ".".to_owned(),
                Some(rest) if rest.starts_with('/') && !rest.split('/').any(|c| c == "..") => {
                    format!(".{rest}")
                }
                _ => {
                    return Err(format!(
                        "binds {source} from outside the project; devenv binds project paths only"
                    ))
                }
            };
            Ok(format!("{rel}:{target}{mode}"))
        }
        "volume" => {
            let Some(source) = source else {
                return Err("an anonymous volume; devenv volumes are named".into());
            };
            let name = source
                .replace("${devcontainerId}", "")
                .replace("${localWorkspaceFolderBasename}", "");
            let name = name.trim_matches(|c: char| "-_.".contains(c));
            let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !valid {
                return Err(format!(
                    "volume name {source} cannot be a devenv volume name"
                ));
            }
            Ok(format!("{name}:{target}{mode}"))
        }
        other => Err(format!("type {other} has no devenv equivalent")),
    }
}

/// A lifecycle command in any of its three forms, as one sh command line.
fn lifecycle(key: &str, v: &J, d: &mut Draft) -> Option<String> {
    match v {
        J::Str(s) if !s.trim().is_empty() => Some(s.clone()),
        J::Arr(a) => argv(a).or_else(|| {
            d.warn(key, "an array with non-string items");
            None
        }),
        J::Obj(o) => {
            let mut parts = Vec::new();
            for (name, part) in o {
                match part {
                    J::Str(s) if !s.trim().is_empty() => parts.push(s.clone()),
                    J::Arr(a) if argv(a).is_some() => parts.extend(argv(a)),
                    other => d.warn(
                        format!("{key}.{name}"),
                        format!("{}: not a command", other.describe()),
                    ),
                }
            }
            if parts.len() > 1 {
                let names: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
                d.warn(
                    key,
                    format!(
                        "{} run in parallel in devcontainers; devenv runs them one after another",
                        names.join(", ")
                    ),
                );
            }
            let joined: Vec<String> = parts
                .into_iter()
                .map(|p| {
                    if p.contains([';', '&', '|', '\n']) {
                        format!("( {p} )")
                    } else {
                        p
                    }
                })
                .collect();
            (!joined.is_empty()).then(|| joined.join(" && "))
        }
        J::Str(_) => None,
        other => {
            d.warn(key, format!("{}: not a command", other.describe()));
            None
        }
    }
}

fn argv(a: &[J]) -> Option<String> {
    let words: Option<Vec<String>> = a.iter().map(|w| J::as_str(w).map(str::to_owned)).collect();
    words.filter(|w| !w.is_empty()).map(|w| sh_join(&w))
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

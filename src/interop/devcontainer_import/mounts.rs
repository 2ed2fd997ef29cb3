//! devcontainer mounts as devenv volumes: the `mounts` property, the `key=value` mount
//! strings (also read for `workspaceMount`), and `volume`, which turns one mount into a
//! project bind or a named volume (or says why it cannot) for `mounts` and runArgs' `-v`.

use super::{valid_container_path, Cx};
use crate::interop::draft::Draft;
use crate::interop::json::J;

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
pub(super) fn mounts(cx: &Cx<'_>, v: &J, d: &mut Draft) {
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
pub(in crate::interop) fn volume(
    cx: &Cx<'_>,
    kind: &str,
    source: Option<&str>,
    target: Option<&str>,
    read_only: bool,
) -> Result<String, String> {
    // A trailing slash names the same directory (`/home/u/.cache/`).
    let target = target.map(|t| {
        if t.len() > 1 {
            t.trim_end_matches('/')
        } else {
            t
        }
    });
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

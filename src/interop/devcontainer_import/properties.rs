//! Every top-level devcontainer.json property other than the workspace, the base and the
//! users: `containerEnv`/`remoteEnv`, ports, lifecycle commands as hooks, `mounts` and
//! `runArgs` (handed to their modules), and a warning for each property devenv has no form
//! for.

use super::mounts::mounts;
use super::variables::{shell_text, shell_word};
use super::Cx;
use crate::interop::draft::{set, Draft};
use crate::interop::json::J;
use crate::interop::text::sh_sequence;

/// Every other top-level property.
pub(super) fn property(cx: &Cx<'_>, key: &str, v: &J, d: &mut Draft) {
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
        | "updateRemoteUserUID"
        | "dockerComposeFile"
        | "service"
        | "runServices" => {}
        // devenv always runs an init process and its own idle command.
        "init" | "overrideCommand" if matches!(v, J::Bool(true)) => {}
        "containerEnv" | "remoteEnv" => env_object(cx, key, v, d),
        "forwardPorts" | "appPort" => ports(key, v, d),
        "mounts" => mounts(cx, v, d),
        "runArgs" => crate::interop::run_args::import(cx, v, d),
        "onCreateCommand" | "updateContentCommand" | "postCreateCommand" => {
            if key == "updateContentCommand" {
                d.warn(
                    key,
                    "runs once with on_create (devenv has no content-update event)",
                );
            }
            if let Some(c) = lifecycle(cx, key, v, d) {
                d.on_create.push(c);
            }
        }
        "postStartCommand" => {
            if let Some(c) = lifecycle(cx, key, v, d) {
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

pub(in crate::interop) fn valid_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `forwardPorts` / `appPort` → `[container] ports`. Editors forward `forwardPorts` to
/// localhost only, so they are published on 127.0.0.1; `appPort` is published as
/// `docker run -p` publishes it, on every interface. A host port already published is
/// not published twice.
fn ports(key: &str, v: &J, d: &mut Draft) {
    let ip = if key == "forwardPorts" {
        "127.0.0.1:"
    } else {
        ""
    };
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
                .map(|p| format!("{ip}{p}:{p}")),
            J::Str(s) => {
                let s = s.strip_prefix("localhost:").unwrap_or(s);
                match s.parse::<u16>() {
                    Ok(p) if p > 0 => Some(format!("{ip}{p}:{p}")),
                    _ => valid_port(s).then(|| s.to_owned()),
                }
            }
            _ => None,
        };
        match mapped {
            Some(p) if !d.ports.iter().any(|q| same_host_port(q, &p)) => d.ports.push(p),
            Some(_) => {}
            None => d.warn(
                key,
                format!("{}: not a port devenv can publish", item.describe()),
            ),
        }
    }
}

/// Whether two `[ip:]host:container[/proto]` mappings publish the same host port.
pub(in crate::interop) fn same_host_port(a: &str, b: &str) -> bool {
    let key = |m: &str| {
        let (mapping, proto) = m.rsplit_once('/').unwrap_or((m, "tcp"));
        let parts: Vec<&str> = mapping.split(':').collect();
        let host = parts.len().checked_sub(2).map_or("", |i| parts[i]);
        (host.to_owned(), proto.to_owned())
    };
    key(a) == key(b)
}

/// `[ip:]host:container[/tcp|/udp]` as devenv accepts it.
pub(in crate::interop) fn valid_port(s: &str) -> bool {
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

/// A lifecycle command in any of its three forms, as one sh script; its devcontainer
/// variables resolved, and a part that uses what a refused COPY/ADD provides left out.
fn lifecycle(cx: &Cx<'_>, key: &str, v: &J, d: &mut Draft) -> Option<String> {
    match v {
        J::Str(s) if !s.trim().is_empty() => command(cx, key, &J::Str(s.clone()), d),
        J::Arr(_) => command(cx, key, v, d),
        J::Obj(o) => {
            let mut parts = Vec::new();
            for (name, part) in o {
                let prop = format!("{key}.{name}");
                match part {
                    J::Str(s) if !s.trim().is_empty() => parts.extend(command(cx, &prop, part, d)),
                    J::Arr(_) => parts.extend(command(cx, &prop, part, d)),
                    other => d.warn(prop, format!("{}: not a command", other.describe())),
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
            sh_sequence(&parts)
        }
        J::Str(_) => None,
        other => {
            d.warn(key, format!("{}: not a command", other.describe()));
            None
        }
    }
}

/// One command (a string for sh, or an argv) as sh text, or `None` with a warning.
fn command(cx: &Cx<'_>, key: &str, v: &J, d: &mut Draft) -> Option<String> {
    let text = match v {
        J::Str(s) => shell_text(cx, key, s, d),
        J::Arr(a) if !a.is_empty() => a
            .iter()
            .map(|w| match w {
                J::Str(s) => shell_word(cx, key, s, d),
                _ => Err("an array with non-string items".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|w| w.join(" ")),
        _ => Err("an empty or non-string command".to_owned()),
    };
    let text = match text {
        Ok(t) => t,
        Err(why) => {
            d.warn(key, format!("not imported: {why}"));
            return None;
        }
    };
    if let Some((path, what)) = uses_refused_copy(&text, &d.copied_to) {
        d.warn(
            key,
            format!(
                "not imported: it uses {path}, which {what} puts in the image, and that was \
                 not imported"
            ),
        );
        return None;
    }
    Some(text)
}

/// The first absolute path in `text` that a refused COPY/ADD provides (`copied`: its
/// destinations, which may be globs; a path below one counts too), and that instruction.
fn uses_refused_copy(text: &str, copied: &[(String, String)]) -> Option<(String, String)> {
    let matchers: Vec<(globset::GlobMatcher, &String)> = copied
        .iter()
        .flat_map(|(dest, what)| {
            [dest.clone(), format!("{}/**", dest.trim_end_matches('/'))]
                .into_iter()
                .filter_map(move |p| {
                    globset::GlobBuilder::new(&p)
                        .literal_separator(true)
                        .build()
                        .ok()
                        .map(|g| (g.compile_matcher(), what))
                })
        })
        .collect();
    text.split(|c: char| c.is_whitespace() || "'\"`;&|()<>=".contains(c))
        .filter(|w| w.starts_with('/'))
        .find_map(|w| {
            matchers
                .iter()
                .find(|(m, _)| m.is_match(w))
                .map(|(_, what)| (w.to_owned(), (*what).clone()))
        })
}

//! The runtime sections: `[container]` (env, ports, volumes, network), `[[watch]]` and
//! `[sync]`.

use std::collections::HashMap;

use super::parse::{as_str, element_str, Cx, Table};
use super::sections::{
    array_of_tables, choice, entry_table, env_table, glob_path, non_blank, project_path, report,
};
use super::{
    values, Container, Diagnostic, Network, PortSpec, SyncConfig, VolumeSpec, WatchAction,
    WatchRule,
};

pub(super) const CONTAINER_KEYS: &[&str] = &["env", "env_file", "ports", "volumes", "network"];
pub(super) const WATCH_KEYS: &[&str] = &["paths", "run", "action"];
pub(super) const SYNC_KEYS: &[&str] = &["fetch"];

pub(super) fn container(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Container {
    let Some(t) = top.table(cx, "container", "[container]") else {
        return Container::default();
    };
    t.check_keys(cx, CONTAINER_KEYS);
    let env = t
        .table(cx, "env", "the env of [container]")
        .map(|e| env_table(cx, &e))
        .unwrap_or_default();
    let env_file = t.string(cx, "env_file").and_then(|s| {
        project_path(cx, &s)?;
        Some(s.value.to_owned())
    });
    let networks = [
        ("bridge", Network::Bridge),
        ("none", Network::None),
        ("host", Network::Host),
    ];
    Container {
        env,
        env_file,
        ports: ports(cx, &t),
        volumes: volumes(cx, &t),
        network: choice(cx, &t, "network", &networks).unwrap_or_default(),
    }
}

fn ports(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Vec<PortSpec> {
    let mut seen: HashMap<(u16, String), usize> = HashMap::new();
    let mut ports = Vec::new();
    for s in t.strings(cx, "ports").unwrap_or_default() {
        let Some(port) = report(cx, &s.span, values::port(s.value)) else {
            continue;
        };
        let key = (port.host_port, port.protocol.clone());
        if let Some(first) = seen.get(&key) {
            let line = cx.line_of(*first);
            cx.push(
                Diagnostic::new(
                    s.span,
                    format!("host port {}/{} is published twice", key.0, key.1),
                )
                .with_hint(format!(
                    "the first mapping of this port is on line {line}; publish each host port once"
                )),
            );
            continue;
        }
        seen.insert(key, s.span.start);
        ports.push(port);
    }
    ports
}

fn volumes(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Vec<VolumeSpec> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut volumes = Vec::new();
    for s in t.strings(cx, "volumes").unwrap_or_default() {
        let Some(volume) = report(cx, &s.span, values::volume(s.value)) else {
            continue;
        };
        let target = match &volume {
            VolumeSpec::Bind { source, target, .. } => {
                let source = super::parse::Str {
                    value: source,
                    span: s.span.clone(),
                };
                if project_path(cx, &source).is_none() {
                    continue;
                }
                target
            }
            VolumeSpec::Named { target, .. } => target,
        };
        if let Some(first) = seen.get(target) {
            let line = cx.line_of(*first);
            cx.push(
                Diagnostic::new(s.span, format!("two volumes are mounted at `{target}`"))
                    .with_hint(format!(
                        "the first is on line {line}; mount one volume per target"
                    )),
            );
            continue;
        }
        seen.insert(target.clone(), s.span.start);
        volumes.push(volume);
    }
    volumes
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Run,
    Rebuild,
    Restart,
}

pub(super) fn watch(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Vec<WatchRule> {
    let mut rules = Vec::new();
    for (i, item) in array_of_tables(cx, top, "watch").into_iter().enumerate() {
        let name = format!("[[watch]] #{}", i + 1);
        if let Some(t) = entry_table(cx, "watch", item, &name) {
            rules.extend(watch_rule(cx, &t));
        }
    }
    rules
}

fn watch_rule(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<WatchRule> {
    t.check_keys(cx, WATCH_KEYS);
    let paths = watch_paths(cx, t);
    let actions = [
        ("run", Action::Run),
        ("rebuild", Action::Rebuild),
        ("restart", Action::Restart),
    ];
    let action = choice(cx, t, "action", &actions);
    let run_value = t.get("run");
    let run = run_value
        .and_then(|v| as_str(cx, "run", v))
        .and_then(|s| non_blank(cx, "run", s));
    if t.get("action").is_some() && action.is_none() {
        return None;
    }
    let action = match (run_value, action) {
        (Some(_), None | Some(Action::Run)) => WatchAction::Run(run?.value.to_owned()),
        (None, Some(Action::Rebuild)) => WatchAction::Rebuild,
        (None, Some(Action::Restart)) => WatchAction::Restart,
        (None, Some(Action::Run)) => {
            let span = t.get("action").map_or(t.span.clone(), toml::Spanned::span);
            cx.push(
                Diagnostic::new(span, "`action = \"run\"` needs a `run` command")
                    .with_hint("add `run = \"…\"` to this [[watch]] rule"),
            );
            return None;
        }
        (Some(v), Some(_)) => {
            cx.push(
                Diagnostic::new(
                    v.span(),
                    "a [[watch]] rule cannot both `run` a command and rebuild or restart",
                )
                .with_label("`run` is only used with `action = \"run\"`")
                .with_hint("remove `run`, or split this into two [[watch]] rules"),
            );
            return None;
        }
        (None, None) => {
            cx.push(
                Diagnostic::new(
                    t.span.clone(),
                    "[[watch]] rule has neither `run` nor `action`",
                )
                .with_hint(
                    "add `run = \"cargo check\"`, or `action = \"rebuild\"` or `\"restart\"`",
                ),
            );
            return None;
        }
    };
    Some(WatchRule {
        paths: paths?,
        action,
    })
}

fn watch_paths(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Vec<String>> {
    t.require(
        cx,
        "paths",
        "add the files to watch, e.g. `paths = [\"src/**/*.rs\"]`",
    )?;
    let (items, span) = t.array(cx, "paths")?;
    if items.is_empty() {
        cx.push(
            Diagnostic::new(span, "`paths` is empty")
                .with_hint("list at least one glob, e.g. `paths = [\"src/**/*.rs\"]`"),
        );
        return None;
    }
    let mut paths = Vec::new();
    let mut ok = true;
    for item in items {
        let path = element_str(cx, "paths", item).and_then(|s| glob_path(cx, &s));
        ok &= path.is_some();
        paths.extend(path);
    }
    ok.then_some(paths)
}

/// `[sync]`: `fetch`, the paths brought back after every `run` (each once, none inside
/// another, since a directory comes back whole).
pub(super) fn sync(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> SyncConfig {
    let Some(t) = top.table(cx, "sync", "[sync]") else {
        return SyncConfig::default();
    };
    t.check_keys(cx, SYNC_KEYS);
    let mut kept: Vec<(String, usize)> = Vec::new();
    let mut fetch = Vec::new();
    for s in t.strings(cx, "fetch").unwrap_or_default() {
        let checked = values::fetch_path(s.value, cx.root, cx.canonical_root.as_deref());
        if report(cx, &s.span, checked).is_none() {
            continue;
        }
        let path = s.value.trim_end_matches('/');
        if let Some(d) = overlap(cx, &kept, path) {
            cx.report(s.span, d);
            continue;
        }
        kept.push((path.to_owned(), s.span.start));
        fetch.push(s.value.to_owned());
    }
    SyncConfig { fetch }
}

/// The problem with fetching `path` next to the `earlier` ones (path, offset), if any.
fn overlap(cx: &Cx<'_>, earlier: &[(String, usize)], path: &str) -> Option<Diagnostic> {
    let inside = |inner: &str, outer: &str| {
        inner.len() > outer.len()
            && inner.starts_with(outer)
            && inner[outer.len()..].starts_with('/')
    };
    let (first, at) = earlier
        .iter()
        .find(|(p, _)| p == path || inside(path, p) || inside(p, path))?;
    let line = cx.line_of(*at);
    if first == path {
        return Some(
            Diagnostic::new(0..0, format!("`{path}` is listed twice in `fetch`"))
                .with_hint(format!("the first is on line {line}; list each path once")),
        );
    }
    let (inner, outer) = if inside(path, first) {
        (path, first.as_str())
    } else {
        (first.as_str(), path)
    };
    Some(
        Diagnostic::new(
            0..0,
            format!("`{inner}` is inside `{outer}`, which is fetched whole"),
        )
        .with_hint(format!(
            "keep one of them (the other is on line {line}): a directory comes back with \
                 everything in it"
        )),
    )
}

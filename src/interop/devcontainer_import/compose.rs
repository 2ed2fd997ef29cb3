//! A Compose-based devcontainer (`dockerComposeFile` + `service`): the dev container's
//! service becomes `[base]` and `[container]`, every other service (or those in
//! `runServices`) a `[services.NAME]`. What has no devenv form is warned about.

use std::path::{Path, PathBuf};

use serde_json::Value as Y;

use super::{normalise, same_host_port, valid_container_path, valid_env_name, valid_port, Cx};
use crate::interop::dockerfile_import;
use crate::interop::draft::{set, Draft, DraftService};
use crate::interop::json::J;
use crate::interop::text::sh_quote;
use crate::interop::InteropError;

/// Read the Compose file(s) and fill `d`; the devcontainer's own properties are mapped by
/// the caller.
pub(super) fn import(cx: &mut Cx<'_>, obj: &J, d: &mut Draft) -> Result<(), InteropError> {
    let unsupported = |message: String| InteropError::Unsupported {
        path: cx.shown.clone(),
        message,
    };
    let files: Vec<String> = match obj.get("dockerComposeFile") {
        Some(J::Arr(items)) => items
            .iter()
            .filter_map(|i| J::as_str(i).map(str::to_owned))
            .collect(),
        Some(v) => J::as_str(v).map(str::to_owned).into_iter().collect(),
        None => Vec::new(),
    };
    if files.is_empty() {
        return Err(unsupported(
            "dockerComposeFile must name a Compose file".into(),
        ));
    }
    let Some(dev) = obj.get("service").and_then(J::as_str) else {
        return Err(unsupported(
            "a dockerComposeFile devcontainer needs `service` (its dev container's service)".into(),
        ));
    };
    // Compose resolves relative paths from the first file's directory.
    let compose_dir = normalise(&cx.dir.join(&files[0]))
        .parent()
        .map_or_else(|| cx.dir.to_path_buf(), Path::to_path_buf);
    let mut merged = Y::Object(serde_json::Map::new());
    for f in &files {
        let path = normalise(&cx.dir.join(f));
        let shown = path
            .strip_prefix(cx.root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| InteropError::ComposeFile {
            path: cx.shown.clone(),
            named: f.clone(),
            tried: path.display().to_string(),
            message: e.to_string(),
        })?;
        let text = interpolate(&text, &shown, d);
        let bad = |e: serde_yaml_ng::Error| InteropError::Json {
            path: shown.clone(),
            message: e.to_string(),
        };
        let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(bad)?;
        yaml.apply_merge().map_err(bad)?;
        let mut value: Y = serde_json::to_value(yaml).map_err(|e| InteropError::Json {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        normalise_environment(&mut value);
        if !value.is_object() {
            return Err(InteropError::Json {
                path: shown,
                message: "expected a mapping at the top".into(),
            });
        }
        merge(&mut merged, value);
    }
    let services = merged
        .get("services")
        .and_then(Y::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(dev_service) = services.get(dev) else {
        return Err(unsupported(format!(
            "service \"{dev}\" is not in the Compose file(s)"
        )));
    };
    let cs = Compose {
        root: cx.root,
        dir: &compose_dir,
    };
    for (key, v) in merged.as_object().into_iter().flatten() {
        match key.as_str() {
            "services" | "version" | "name" => {}
            "volumes" => {
                for (name, spec) in v.as_object().into_iter().flatten() {
                    if spec.as_object().is_some_and(|o| !o.is_empty()) {
                        d.warn(
                            format!("compose volumes.{name}"),
                            format!(
                                "{}: devenv creates its own project-scoped volume {name}",
                                describe(spec)
                            ),
                        );
                    }
                }
            }
            "networks" => d.warn(
                format!("compose {key}"),
                format!(
                    "{}: devenv puts every service on one project network",
                    describe(v)
                ),
            ),
            _ => other(&format!("compose {key}"), v, d),
        }
    }
    dev_container(cx, &cs, dev, dev_service, d)?;
    let run: Option<Vec<String>> = match obj.get("runServices") {
        Some(J::Arr(items)) => Some(
            items
                .iter()
                .filter_map(|i| J::as_str(i).map(str::to_owned))
                .collect(),
        ),
        _ => None,
    };
    let imported: Vec<&String> = services
        .keys()
        .filter(|n| *n != dev && run.as_ref().is_none_or(|r| r.contains(n)))
        .collect();
    for name in services.keys() {
        if name != dev && !imported.contains(&name) {
            d.warn(
                format!("compose services.{name}"),
                "not in runServices: not imported",
            );
        }
    }
    for name in &imported {
        if let Some(s) = service(&cs, name, &services[name.as_str()], &imported, d) {
            d.services.push(s);
        }
    }
    Ok(())
}

/// A host port is published once: a service's port wins over the same host port of the dev
/// container (`forwardPorts` of a devcontainer that shares a service's network mean the
/// service's), a later service's over an earlier one's is dropped.
pub(super) fn dedupe_ports(d: &mut Draft) {
    let mut taken: Vec<String> = Vec::new();
    for s in &mut d.services {
        let mut kept = Vec::new();
        for p in std::mem::take(&mut s.ports) {
            if taken.iter().any(|q| same_host_port(q, &p)) {
                d.warnings.push(crate::interop::draft::Warning {
                    property: format!("compose services.{}.ports", s.name),
                    message: format!("\"{p}\": that host port is already published"),
                });
            } else {
                taken.push(p.clone());
                kept.push(p);
            }
        }
        s.ports = kept;
    }
    let before = std::mem::take(&mut d.ports);
    for p in before {
        if let Some(q) = taken.iter().find(|q| same_host_port(q, &p)) {
            let owner = d
                .services
                .iter()
                .find(|s| s.ports.contains(q))
                .map(|s| s.name.clone())
                .unwrap_or_default();
            d.warn(
                "ports",
                format!(
                    "\"{p}\": service {owner} publishes that host port ({q}); not published twice"
                ),
            );
        } else {
            d.ports.push(p);
        }
    }
}

struct Compose<'a> {
    root: &'a Path,
    dir: &'a Path,
}

/// Where a bind source of the Compose file is, relative to the project.
enum Source {
    /// The project itself, or a folder above it: the path of the project below the target.
    Project(String),
    /// `./path` inside the project.
    Inside(String),
    Outside,
}

impl Compose<'_> {
    fn source(&self, src: &str) -> Source {
        let p = normalise(&self.dir.join(src));
        if let Ok(rel) = p.strip_prefix(self.root) {
            if rel.as_os_str().is_empty() {
                return Source::Project(String::new());
            }
            return Source::Inside(format!("./{}", rel.display()));
        }
        if let Ok(below) = self.root.strip_prefix(&p) {
            return Source::Project(format!("/{}", below.display()));
        }
        Source::Outside
    }

    /// A project path for an `env_file`, or `None` outside the project.
    fn file(&self, f: &str) -> Option<String> {
        let p: PathBuf = normalise(&self.dir.join(f));
        p.strip_prefix(self.root)
            .ok()
            .map(|r| r.display().to_string())
    }
}

/// The dev container's service: image or build → `[base]`, environment, ports and
/// volumes → `[container]`, the workspace bind → `shell.workdir`.
fn dev_container(
    cx: &mut Cx<'_>,
    cs: &Compose<'_>,
    name: &str,
    s: &Y,
    d: &mut Draft,
) -> Result<(), InteropError> {
    let at = |k: &str| format!("compose services.{name}.{k}");
    if let Some(image) = s.get("image").and_then(Y::as_str) {
        d.base_image = Some(image.to_owned());
        if s.get("build").is_some() {
            d.warn(at("build"), "the service's `image` is used, not its build");
        }
    } else if let Some(b) = s.get("build") {
        build(cx, cs, name, b, d)?;
    } else {
        return Err(InteropError::Unsupported {
            path: cx.shown.clone(),
            message: format!("service \"{name}\" has neither `image` nor `build`"),
        });
    }
    let mut env = Vec::new();
    environment(&at("environment"), s.get("environment"), &mut env, d);
    for (k, v) in env {
        set(&mut d.container_env, &k, v);
    }
    if let Some(f) = env_files(cs, &at("env_file"), s.get("env_file"), d) {
        d.env_file = Some(f);
    }
    for p in ports(&at("ports"), s.get("ports"), d) {
        d.ports.push(p);
    }
    for v in s.get("volumes").and_then(Y::as_array).into_iter().flatten() {
        let Some((src, target, mode)) = volume_parts(v) else {
            d.warn(at("volumes"), format!("{}: not understood", describe(v)));
            continue;
        };
        if src.starts_with('.') || src.starts_with('/') {
            match cs.source(&src) {
                Source::Project(below) => {
                    let w = format!("{}{below}", target.trim_end_matches('/'));
                    if !valid_container_path(&w) || w.contains('$') {
                        d.warn(
                            at("volumes"),
                            format!(
                                "\"{src}:{target}\" mounts the project at a path devenv cannot \
                                 use; shell.workdir stays {}",
                                cx.workdir
                            ),
                        );
                    } else {
                        cx.workdir.clone_from(&w);
                        d.hook_dir =
                            (!cx.folder.is_empty() && cx.folder != w).then(|| cx.folder.clone());
                        d.workdir =
                            Some((w, Some(format!("from the Compose bind {src}:{target}"))));
                    }
                }
                Source::Inside(p) => d.volumes.push(format!("{p}:{target}{mode}")),
                Source::Outside => d.warn(
                    at("volumes"),
                    format!("\"{src}:{target}\": a folder outside the project is not mounted"),
                ),
            }
        } else {
            d.volumes.push(format!("{src}:{target}{mode}"));
        }
    }
    if let Some(u) = s.get("user").and_then(Y::as_str) {
        if d.user.is_none() {
            d.user = Some(u.to_owned());
        }
    }
    for (key, v) in s.as_object().into_iter().flatten() {
        match key.as_str() {
            // depends_on: devenv starts every service (ready first) before the dev container.
            "image" | "build" | "environment" | "env_file" | "ports" | "volumes" | "user"
            | "depends_on" => {}
            "command" | "entrypoint" => d.warn(
                at(key),
                format!(
                    "{}: devenv runs its own idle command in the dev container",
                    describe(v)
                ),
            ),
            "network_mode" => network_mode(&at(key), v, d),
            _ => other(&at(key), v, d),
        }
    }
    Ok(())
}

/// `build` of the dev container's service → `[base]` and steps, as a devcontainer's
/// `build.dockerfile`.
fn build(
    cx: &Cx<'_>,
    cs: &Compose<'_>,
    name: &str,
    b: &Y,
    d: &mut Draft,
) -> Result<(), InteropError> {
    let at = |k: &str| format!("compose services.{name}.build.{k}");
    let (context, dockerfile) = match b {
        Y::String(c) => (c.clone(), "Dockerfile".to_owned()),
        Y::Object(o) => (
            o.get("context")
                .and_then(Y::as_str)
                .unwrap_or(".")
                .to_owned(),
            o.get("dockerfile")
                .and_then(Y::as_str)
                .unwrap_or("Dockerfile")
                .to_owned(),
        ),
        _ => {
            return Err(InteropError::Unsupported {
                path: cx.shown.clone(),
                message: format!("service \"{name}\": `build` is not understood"),
            })
        }
    };
    let context = normalise(&cs.dir.join(&context));
    let mut args = Vec::new();
    let mut target = None;
    if let Y::Object(o) = b {
        for (k, v) in o {
            match (k.as_str(), v) {
                ("context" | "dockerfile", _) => {}
                ("target", Y::String(t)) => target = Some(t.clone()),
                ("args", Y::Object(a)) => {
                    for (k, v) in a {
                        match scalar(v) {
                            Some(v) => args.push((k.clone(), v)),
                            None => d.warn(at(&format!("args.{k}")), "no value: not passed"),
                        }
                    }
                }
                _ => other(&at(k), v, d),
            }
        }
    }
    let input = dockerfile_import::Input {
        path: normalise(&context.join(&dockerfile)),
        context,
        root: cx.root.to_path_buf(),
        args,
        target,
        workdir: d.workdir.as_ref().map_or_else(
            || crate::manifest::DEFAULT_WORKDIR.to_owned(),
            |w| w.0.clone(),
        ),
    };
    dockerfile_import::import(&input, d)
}

/// Another service of the Compose file → `[services.NAME]`; `None` (warned) when it has no
/// image devenv can use.
fn service(
    cs: &Compose<'_>,
    name: &str,
    s: &Y,
    imported: &[&String],
    d: &mut Draft,
) -> Option<DraftService> {
    let at = |k: &str| format!("compose services.{name}.{k}");
    let valid_name = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if !valid_name {
        d.warn(
            format!("compose services.{name}"),
            "not a host name devenv accepts (lowercase letters, digits, `-`): not imported",
        );
        return None;
    }
    let Some(image) = s.get("image").and_then(Y::as_str) else {
        d.warn(
            format!("compose services.{name}"),
            "has no `image` (devenv builds no service images): not imported",
        );
        return None;
    };
    let mut out = DraftService {
        name: name.to_owned(),
        image: image.to_owned(),
        ..DraftService::default()
    };
    match s.get("command") {
        Some(Y::String(c)) => out.command_shell = Some(c.clone()),
        Some(Y::Array(a)) => {
            out.command = Some(a.iter().filter_map(scalar).collect());
        }
        _ => {}
    }
    environment(&at("environment"), s.get("environment"), &mut out.env, d);
    out.env_file = env_files(cs, &at("env_file"), s.get("env_file"), d);
    out.ports = ports(&at("ports"), s.get("ports"), d);
    for v in s.get("volumes").and_then(Y::as_array).into_iter().flatten() {
        let Some((src, target, mode)) = volume_parts(v) else {
            d.warn(at("volumes"), format!("{}: not understood", describe(v)));
            continue;
        };
        if src.starts_with('.') || src.starts_with('/') {
            match cs.source(&src) {
                Source::Inside(p) => out.volumes.push(format!("{p}:{target}{mode}")),
                Source::Project(_) => out.volumes.push(format!(".:{target}{mode}")),
                Source::Outside => d.warn(
                    at("volumes"),
                    format!("\"{src}:{target}\": a folder outside the project is not mounted"),
                ),
            }
        } else {
            out.volumes.push(format!("{src}:{target}{mode}"));
        }
    }
    let deps: Vec<String> = match s.get("depends_on") {
        Some(Y::Array(a)) => a.iter().filter_map(scalar).collect(),
        Some(Y::Object(o)) => o.keys().cloned().collect(),
        _ => Vec::new(),
    };
    for dep in deps {
        if imported.iter().any(|n| **n == dep) {
            out.depends_on.push(dep);
        } else {
            d.warn(
                at("depends_on"),
                format!("\"{dep}\" is not imported as a service: dropped"),
            );
        }
    }
    if let Some(h) = s.get("healthcheck") {
        out.ready = healthcheck(&at("healthcheck"), h, d);
    }
    match s.get("restart").and_then(Y::as_str) {
        None => {}
        Some(r @ ("no" | "on-failure" | "always" | "unless-stopped")) => {
            out.restart = Some(r.to_owned());
        }
        Some(r) => d.warn(
            at("restart"),
            format!("\"{r}\": devenv's default \"on-failure\" is used"),
        ),
    }
    if let Some(u) = s.get("user").and_then(scalar) {
        out.user = Some(u);
    }
    for (key, v) in s.as_object().into_iter().flatten() {
        match key.as_str() {
            "image" | "command" | "environment" | "env_file" | "ports" | "volumes"
            | "depends_on" | "healthcheck" | "restart" | "user" => {}
            "deploy" => deploy(&at(key), v, &mut out, d),
            "network_mode" => network_mode(&at(key), v, d),
            _ => other(&at(key), v, d),
        }
    }
    Some(out)
}

/// A stack file's `deploy:` → `replicas`, `memory`, `cpus`, `placement`; the rest (restart
/// policy, endpoint mode, update settings) is the swarm's and is warned about.
fn deploy(at: &str, v: &Y, out: &mut DraftService, d: &mut Draft) {
    use crate::manifest::limits;
    for (k, item) in v.as_object().into_iter().flatten() {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "replicas" => match scalar(item).map(|n| limits::replica_count(&n)) {
                Some(Ok(n)) if n >= 1 => out.replicas = Some(n),
                _ => d.warn(
                    here,
                    format!("{}: not a replica count from 1 to 1000", describe(item)),
                ),
            },
            "resources" => resources(&here, item, out, d),
            "placement" => {
                for (pk, pv) in item.as_object().into_iter().flatten() {
                    if pk == "constraints" {
                        let list = pv.as_array().into_iter().flatten().filter_map(scalar);
                        out.placement.extend(list);
                    } else {
                        d.warn(
                            format!("{here}.{pk}"),
                            format!("{}: no devenv equivalent", describe(pv)),
                        );
                    }
                }
            }
            // devenv's own: dnsrr names and a restart policy from `restart`.
            "endpoint_mode" | "restart_policy" => {}
            _ => other(&here, item, d),
        }
    }
}

/// `deploy.resources.limits` → `memory`, `cpus`; reservations are warned about.
fn resources(at: &str, v: &Y, out: &mut DraftService, d: &mut Draft) {
    use crate::manifest::limits;
    for (k, item) in v.as_object().into_iter().flatten() {
        if k != "limits" {
            other(&format!("{at}.{k}"), item, d);
            continue;
        }
        for (lk, lv) in item.as_object().into_iter().flatten() {
            let here = format!("{at}.limits.{lk}");
            let text = scalar(lv).unwrap_or_default();
            match lk.as_str() {
                "memory" if limits::memory_bytes(&text).is_ok() => {
                    out.memory = Some(text.to_ascii_lowercase());
                }
                "cpus" if limits::nano_cpus(&text).is_ok() => out.cpus = Some(text),
                _ => d.warn(here, format!("{}: not imported", describe(lv))),
            }
        }
    }
}

/// `healthcheck` → `ready`: `["CMD", argv...]` as a shell-quoted command, `CMD-SHELL` and a
/// string as they are, `NONE` / `disable` none.
fn healthcheck(at: &str, check: &Y, d: &mut Draft) -> Option<String> {
    let mut ready = None;
    if check.get("disable").and_then(Y::as_bool) == Some(true) {
        return None;
    }
    match check.get("test") {
        Some(Y::String(s)) => ready = Some(s.clone()),
        Some(Y::Array(items)) => {
            let parts: Vec<String> = items.iter().filter_map(scalar).collect();
            match parts.split_first() {
                Some((k, rest)) if k == "CMD" && !rest.is_empty() => {
                    ready = Some(
                        rest.iter()
                            .map(|p| sh_quote(p))
                            .collect::<Vec<_>>()
                            .join(" "),
                    );
                }
                Some((kind, [script])) if kind == "CMD-SHELL" => ready = Some(script.clone()),
                Some((kind, _)) if kind == "NONE" => {}
                _ => d.warn(
                    format!("{at}.test"),
                    format!("{}: not understood", describe(check)),
                ),
            }
        }
        _ => {}
    }
    for (k, v) in check.as_object().into_iter().flatten() {
        if k != "test" && k != "disable" {
            d.warn(
                format!("{at}.{k}"),
                format!(
                    "{}: devenv probes every 2 s and waits up to ready_timeout (60 s)",
                    describe(v)
                ),
            );
        }
    }
    ready
}

fn network_mode(at: &str, v: &Y, d: &mut Draft) {
    match v.as_str().and_then(|m| m.strip_prefix("service:")) {
        Some(other) => d.warn(
            at,
            format!(
                "\"service:{other}\" shares {other}'s network; devenv puts every container \
                 on one project network where {other} resolves by name, so \
                 localhost:PORT for {other}'s ports must become {other}:PORT (and \
                 forwarded ports are the dev container's own)"
            ),
        ),
        None => d.warn(
            at,
            format!(
                "{}: devenv puts every container on one project network",
                describe(v)
            ),
        ),
    }
}

fn other(at: &str, v: &Y, d: &mut Draft) {
    d.warn(at, format!("{}: no devenv equivalent", describe(v)));
}

/// `environment` in map or `KEY=VALUE` list form, into `out`.
fn environment(at: &str, v: Option<&Y>, out: &mut Vec<(String, String)>, d: &mut Draft) {
    let mut put = |k: &str, v: Option<String>, d: &mut Draft| {
        if !valid_env_name(k) {
            d.warn(at, format!("\"{k}\" is not a variable name devenv accepts"));
            return;
        }
        match v {
            Some(v) => set(out, k, v),
            None => d.warn(
                at,
                format!("{k} has no value (Compose takes it from your shell): not set"),
            ),
        }
    };
    match v {
        Some(Y::Object(o)) => {
            for (k, v) in o {
                put(k, scalar(v), d);
            }
        }
        Some(Y::Array(a)) => {
            for item in a.iter().filter_map(Y::as_str) {
                match item.split_once('=') {
                    Some((k, v)) => put(k, Some(v.to_owned()), d),
                    None => put(item, None, d),
                }
            }
        }
        _ => {}
    }
}

/// `env_file` (a string or a list; devenv reads one file).
fn env_files(cs: &Compose<'_>, at: &str, v: Option<&Y>, d: &mut Draft) -> Option<String> {
    let files: Vec<String> = match v {
        Some(Y::String(s)) => vec![s.clone()],
        Some(Y::Array(a)) => a
            .iter()
            .filter_map(|f| {
                f.as_str()
                    .or_else(|| f.get("path").and_then(Y::as_str))
                    .map(str::to_owned)
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut first = None;
    for f in files {
        match cs.file(&f) {
            Some(p) if first.is_none() => first = Some(p),
            Some(_) => d.warn(at, format!("\"{f}\": devenv reads one env_file; not read")),
            None => d.warn(at, format!("\"{f}\" is outside the project: not read")),
        }
    }
    first
}

/// `ports` (short or long form) → `host:container` mappings devenv publishes.
fn ports(at: &str, v: Option<&Y>, d: &mut Draft) -> Vec<String> {
    let mut out = Vec::new();
    for p in v.and_then(Y::as_array).into_iter().flatten() {
        let mapped = match p {
            Y::Object(o) => {
                let target = o.get("target").and_then(scalar);
                let published = o.get("published").and_then(scalar);
                let proto = o
                    .get("protocol")
                    .and_then(Y::as_str)
                    .map_or(String::new(), |p| format!("/{p}"));
                let ip = o
                    .get("host_ip")
                    .and_then(Y::as_str)
                    .map_or(String::new(), |i| format!("{i}:"));
                match (target, published) {
                    (Some(target), Some(host)) => Some(format!("{ip}{host}:{target}{proto}")),
                    _ => None,
                }
            }
            other => scalar(other),
        };
        match mapped {
            Some(m) if valid_port(&m) => out.push(m),
            Some(m) if m.chars().all(|c| c.is_ascii_digit()) => d.warn(
                at,
                format!(
                    "\"{m}\" publishes on a random host port; devenv publishes fixed ports \
                     only (the port is reachable by name from the other containers)"
                ),
            ),
            _ => d.warn(
                at,
                format!("{}: not a port mapping devenv accepts", describe(p)),
            ),
        }
    }
    out
}

/// A volume in short (`src:target[:mode]`) or long form; a bare target is an anonymous
/// volume, which devenv has no form for.
fn volume_parts(v: &Y) -> Option<(String, String, String)> {
    match v {
        Y::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let mode = |m: &str| match m {
                "ro" | "rw" => format!(":{m}"),
                _ => String::new(),
            };
            match parts.as_slice() {
                [src, target] => Some(((*src).to_owned(), (*target).to_owned(), String::new())),
                [src, target, m] => Some(((*src).to_owned(), (*target).to_owned(), mode(m))),
                _ => None,
            }
        }
        Y::Object(o) => {
            let src = o.get("source").and_then(Y::as_str)?;
            let target = o.get("target").and_then(Y::as_str)?;
            let ro = o.get("read_only").and_then(Y::as_bool) == Some(true);
            Some((
                src.to_owned(),
                target.to_owned(),
                if ro { ":ro".into() } else { String::new() },
            ))
        }
        _ => None,
    }
}

/// A YAML scalar as a string (numbers and booleans as Compose writes them).
fn scalar(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn describe(v: &Y) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// `environment` in list form (`KEY=VALUE`, `KEY`) as a mapping, so that files merge by
/// variable.
fn normalise_environment(top: &mut Y) {
    let Some(services) = top.get_mut("services").and_then(Y::as_object_mut) else {
        return;
    };
    for s in services.values_mut() {
        let Some(env) = s.get_mut("environment") else {
            continue;
        };
        if let Y::Array(items) = env {
            let map = items
                .iter()
                .filter_map(Y::as_str)
                .map(|i| match i.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Y::String(v.to_owned())),
                    None => (i.to_owned(), Y::Null),
                })
                .collect();
            *env = Y::Object(map);
        }
    }
}

/// Later Compose files override earlier ones: mappings merge, `ports` and `volumes` add up,
/// everything else is replaced.
fn merge(into: &mut Y, from: Y) {
    match (into, from) {
        (Y::Object(a), Y::Object(b)) => {
            for (k, v) in b {
                match (a.get_mut(&k), v) {
                    (Some(Y::Array(old)), Y::Array(new)) if k == "ports" || k == "volumes" => {
                        for item in new {
                            if !old.contains(&item) {
                                old.push(item);
                            }
                        }
                    }
                    (Some(slot), v) => merge(slot, v),
                    (None, v) => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Compose's variable interpolation: `$$` is a `$`, `${VAR:-default}` / `${VAR-default}`
/// become the default (warned), other variables stay and are warned about.
fn interpolate(text: &str, shown: &str, d: &mut Draft) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                out.push('$');
                rest = after;
                continue;
            };
            let inner = &body[..end];
            let default = inner
                .split_once(":-")
                .or_else(|| inner.split_once('-'))
                .filter(|(v, _)| valid_env_name(v));
            if let Some((var, def)) = default {
                d.warn(
                    shown,
                    format!("${{{inner}}}: the default \"{def}\" is used, not ${var}"),
                );
                out.push_str(def);
            } else {
                d.warn(
                    shown,
                    format!("${{{inner}}}: Compose takes it from your shell; left as it is"),
                );
                out.push_str(&rest[i..=i + 2 + end]);
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_resolves_defaults_and_warns() {
        let mut d = Draft::default();
        let out = interpolate(
            "a: ${X:-one}\nb: ${Y-two}\nc: ${Z}\nd: $$HOME\n",
            "f.yml",
            &mut d,
        );
        assert_eq!(out, "a: one\nb: two\nc: ${Z}\nd: $HOME\n");
        assert_eq!(d.warnings.len(), 3, "{:?}", d.warnings);
        assert!(d.warnings[2].message.contains("from your shell"));
    }

    #[test]
    fn healthcheck_forms_become_ready_commands() {
        let mut d = Draft::default();
        let y = |s: &str| -> Y { serde_yaml_ng::from_str(s).unwrap() };
        let cmd = y("test: [CMD, redis-cli, -e, \"it's\"]");
        assert_eq!(
            healthcheck("h", &cmd, &mut d).as_deref(),
            Some("redis-cli -e 'it'\\''s'")
        );
        let shell = y("test: [CMD-SHELL, \"pg_isready || exit 1\"]");
        assert_eq!(
            healthcheck("h", &shell, &mut d).as_deref(),
            Some("pg_isready || exit 1")
        );
        let plain = y("test: curl -f http://localhost/");
        assert_eq!(
            healthcheck("h", &plain, &mut d).as_deref(),
            Some("curl -f http://localhost/")
        );
        assert_eq!(healthcheck("h", &y("test: [NONE]"), &mut d), None);
        assert_eq!(healthcheck("h", &y("disable: true"), &mut d), None);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn ports_short_and_long_forms() {
        let mut d = Draft::default();
        let v: Y = serde_yaml_ng::from_str(
            "[\"8080:80\", 5432, {target: 80, published: 9090, protocol: udp}]",
        )
        .unwrap();
        assert_eq!(ports("p", Some(&v), &mut d), ["8080:80", "9090:80/udp"]);
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0].message.contains("random host port"));
    }

    #[test]
    fn later_files_merge_environment_and_add_ports() {
        let mut a: Y = serde_json::json!({"services": {"app": {
            "environment": ["A=1", "B=2"], "ports": ["1:1"], "image": "x"}}});
        let mut b: Y = serde_json::json!({"services": {"app": {
            "environment": {"B": "3"}, "ports": ["2:2"], "image": "y"}}});
        normalise_environment(&mut a);
        normalise_environment(&mut b);
        merge(&mut a, b);
        let app = &a["services"]["app"];
        assert_eq!(app["environment"], serde_json::json!({"A": "1", "B": "3"}));
        assert_eq!(app["ports"], serde_json::json!(["1:1", "2:2"]));
        assert_eq!(app["image"], "y");
    }
}

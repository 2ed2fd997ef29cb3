//! `[services.NAME]`: the containers next to the dev container (databases, caches,
//! workers). Parsed with the same machinery as the other sections, every problem reported
//! with its span; the checks across services (unknown or cyclic `depends_on`, a host port
//! published twice, a network that cannot carry services) run once all are read.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::Serialize;
use toml::de::DeValue;

use super::parse::{as_str, closest, element_str, expected_one_of, wrong_type, Cx, Table};
use super::sections::{choice, env_table, non_blank, project_path, report};
use super::{values, Diagnostic, ImageRef, PortSpec, VolumeSpec};

pub(super) const SERVICE_KEYS: &[&str] = &[
    "image",
    "rootfs",
    "command",
    "env",
    "env_file",
    "ports",
    "volumes",
    "ready",
    "ready_timeout",
    "restart",
    "depends_on",
    "user",
    "replicas",
    "memory",
    "cpus",
    "placement",
];

/// Default seconds `up` waits for a service's `ready` probe.
pub const DEFAULT_READY_TIMEOUT: u64 = 60;

/// One service. Without `image` and `rootfs` it runs from the environment's own image with
/// the project mounted at `shell.workdir`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Service {
    /// A registry reference or local image id; pinned in the lock.
    pub image: Option<ImageRef>,
    /// A root filesystem tarball relative to the project root; pinned by its sha256.
    pub rootfs: Option<String>,
    /// `None`: the image's own command.
    pub command: Option<ServiceCommand>,
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    /// Shell command run inside the service; ready when it exits 0.
    pub ready: Option<String>,
    /// Seconds.
    pub ready_timeout: u64,
    pub restart: RestartPolicy,
    pub depends_on: Vec<String>,
    /// `None`: the image's user (for a service from the environment image: `shell.user`).
    pub user: Option<String>,
    /// How many containers (on a swarm: tasks) run the service behind its one name.
    pub replicas: u32,
    /// Memory limit in bytes (`memory = "256m"`).
    pub memory: Option<u64>,
    /// CPU limit in billionths of a CPU, the engine's `NanoCpus` (`cpus = 0.5`).
    pub nano_cpus: Option<u64>,
    /// Placement constraints on a swarm (`node.labels.tier==web`), as Compose's
    /// `deploy.placement.constraints`; one engine has nowhere else to place a service.
    pub placement: Vec<String>,
}

impl Service {
    /// Whether the service runs from the environment's own image.
    pub fn uses_environment_image(&self) -> bool {
        self.image.is_none() && self.rootfs.is_none()
    }

    /// What the lock pins for this service: the reference as written.
    pub fn reference(&self) -> Option<&str> {
        match (&self.image, &self.rootfs) {
            (Some(i), _) => Some(&i.raw),
            (None, Some(r)) => Some(r),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ServiceCommand {
    /// Run as written (no shell).
    Argv(Vec<String>),
    /// Run by `sh -c`.
    Shell(String),
}

impl ServiceCommand {
    pub fn argv(&self) -> Vec<String> {
        match self {
            ServiceCommand::Argv(a) => a.clone(),
            ServiceCommand::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
        }
    }
}

/// Compose's restart policies; `unless-stopped` is accepted as Compose users write it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    #[default]
    OnFailure,
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// The engine's name for the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}

/// Where each service's `depends_on` entries are, for the checks across services.
type DependsSpans = HashMap<String, Vec<(String, Range<usize>)>>;

pub(super) fn services(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> BTreeMap<String, Service> {
    let mut out = BTreeMap::new();
    let Some(t) = top.table(cx, "services", "[services]") else {
        return out;
    };
    let mut deps: DependsSpans = HashMap::new();
    let mut header = HashMap::new();
    for (key, value) in t.map {
        let name: &str = key.get_ref();
        let table_name = format!("[services.{name}]");
        let name_ok = report(cx, &key.span(), service_name(name)).is_some();
        let DeValue::Table(map) = value.get_ref() else {
            cx.push(
                wrong_type(cx.src, name, value, "a table")
                    .with_hint(format!("write a [services.{name}] section")),
            );
            continue;
        };
        let st = Table {
            map,
            span: key.span(),
            name: table_name,
        };
        let (service, spans) = service(cx, &st);
        if name_ok {
            header.insert(name.to_owned(), key.span());
            deps.insert(name.to_owned(), spans);
            out.insert(name.to_owned(), service);
        }
    }
    check_depends(cx, &out, &deps, &header);
    check_network(cx, top, &t, &out);
    check_ports(cx, top, &out);
    out
}

fn service_name(s: &str) -> Result<(), Diagnostic> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        return Ok(());
    }
    Err(Diagnostic::new(0..0, format!("invalid service name `{s}`"))
        .with_label("expected lowercase letters, digits and `-` (a host name)")
        .with_hint(
            "other containers reach a service by its name, so it must be a valid host name, \
             e.g. `db` or `redis-cache`",
        ))
}

fn service(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> (Service, Vec<(String, Range<usize>)>) {
    t.check_keys(cx, SERVICE_KEYS);
    let image = t
        .string(cx, "image")
        .and_then(|s| report(cx, &s.span, super::reference::image_ref(s.value)));
    let rootfs = t.string(cx, "rootfs").and_then(|s| {
        project_path(cx, &s)?;
        Some(s.value.to_owned())
    });
    if let (Some(_), Some(second)) = (t.get("image"), t.get("rootfs")) {
        cx.push(
            Diagnostic::new(
                second.span(),
                format!("{} has both `image` and `rootfs`", t.name),
            )
            .with_hint("keep one; without either the service runs from the environment's image"),
        );
    }
    let command = command(cx, t);
    if command.is_none()
        && t.get("command").is_none()
        && t.get("image").is_none()
        && t.get("rootfs").is_none()
    {
        cx.push(
            Diagnostic::new(
                t.span.clone(),
                format!("{} runs from the environment's image but has no `command`", t.name),
            )
            .with_hint(
                "add `command = \"…\"` (what the service runs), or `image = \"…\"` to run another image",
            ),
        );
    }
    let env_name = format!("the env of {}", t.name);
    let env = t
        .table(cx, "env", &env_name)
        .map(|e| env_table(cx, &e))
        .unwrap_or_default();
    let env_file = t.string(cx, "env_file").and_then(|s| {
        project_path(cx, &s)?;
        Some(s.value.to_owned())
    });
    let ready = t
        .get("ready")
        .and_then(|v| as_str(cx, "ready", v))
        .and_then(|s| non_blank(cx, "ready", s))
        .map(|s| s.value.to_owned());
    let restarts = [
        ("no", RestartPolicy::No),
        ("on-failure", RestartPolicy::OnFailure),
        ("always", RestartPolicy::Always),
        ("unless-stopped", RestartPolicy::UnlessStopped),
    ];
    let (depends_on, spans) = depends_on(cx, t);
    let service = Service {
        image,
        rootfs,
        command,
        env,
        env_file,
        ports: ports(cx, t),
        volumes: volumes(cx, t),
        ready,
        ready_timeout: ready_timeout(cx, t).unwrap_or(DEFAULT_READY_TIMEOUT),
        restart: choice(cx, t, "restart", &restarts).unwrap_or_default(),
        depends_on,
        user: t.non_empty(cx, "user").map(|s| s.value.to_owned()),
        replicas: super::limits::replicas(cx, t).unwrap_or(1),
        memory: super::limits::memory(cx, t),
        nano_cpus: super::limits::cpus(cx, t),
        placement: super::limits::placement(cx, t),
    };
    (service, spans)
}

fn command(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<ServiceCommand> {
    let value = t.get("command")?;
    match value.get_ref() {
        DeValue::String(_) => {
            let s = as_str(cx, "command", value)?;
            let s = non_blank(cx, "command", s)?;
            Some(ServiceCommand::Shell(s.value.to_owned()))
        }
        DeValue::Array(items) => {
            if items.is_empty() {
                cx.push(
                    Diagnostic::new(value.span(), "`command` is empty")
                        .with_hint("give the program and its arguments, e.g. [\"redis-server\"], or remove `command` to use the image's"),
                );
                return None;
            }
            let argv: Vec<String> = items
                .iter()
                .filter_map(|i| element_str(cx, "command", i))
                .map(|s| s.value.to_owned())
                .collect();
            (argv.len() == items.len()).then_some(ServiceCommand::Argv(argv))
        }
        _ => {
            cx.push(
                wrong_type(cx.src, "command", value, "a string or an array of strings")
                    .with_hint("write `command = \"python -m worker\"` or `command = [\"postgres\", \"-c\", \"fsync=off\"]`"),
            );
            None
        }
    }
}

fn ready_timeout(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<u64> {
    let value = t.get("ready_timeout")?;
    let DeValue::Integer(i) = value.get_ref() else {
        cx.push(
            wrong_type(cx.src, "ready_timeout", value, "an integer")
                .with_hint("write the number of seconds, e.g. `ready_timeout = 60`"),
        );
        return None;
    };
    let parsed = i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok();
    if let Some(n @ 1..=86_400) = parsed {
        return u64::try_from(n).ok();
    }
    cx.push(
        Diagnostic::new(value.span(), "`ready_timeout` is out of range")
            .with_label("expected seconds from 1 to 86400")
            .with_hint("e.g. `ready_timeout = 60`"),
    );
    None
}

fn depends_on(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> (Vec<String>, Vec<(String, Range<usize>)>) {
    let mut names = Vec::new();
    let mut spans = Vec::new();
    for s in t.strings(cx, "depends_on").unwrap_or_default() {
        if names.iter().any(|n| n == s.value) {
            cx.push(
                Diagnostic::new(
                    s.span,
                    format!("`{}` is listed twice in depends_on", s.value),
                )
                .with_hint("list each service once"),
            );
            continue;
        }
        names.push(s.value.to_owned());
        spans.push((s.value.to_owned(), s.span));
    }
    (names, spans)
}

fn ports(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Vec<PortSpec> {
    t.strings(cx, "ports")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| report(cx, &s.span, values::port(s.value)))
        .collect()
}

fn volumes(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Vec<VolumeSpec> {
    let mut out: Vec<VolumeSpec> = Vec::new();
    for s in t.strings(cx, "volumes").unwrap_or_default() {
        let Some(v) = report(cx, &s.span, values::volume(s.value)) else {
            continue;
        };
        if let VolumeSpec::Bind { source, .. } = &v {
            let src = super::parse::Str {
                value: source,
                span: s.span.clone(),
            };
            if project_path(cx, &src).is_none() {
                continue;
            }
        }
        let target = |v: &VolumeSpec| match v {
            VolumeSpec::Named { target, .. } | VolumeSpec::Bind { target, .. } => target.clone(),
        };
        if out.iter().any(|o| target(o) == target(&v)) {
            cx.push(
                Diagnostic::new(
                    s.span,
                    format!("two volumes are mounted at `{}`", target(&v)),
                )
                .with_hint("mount one volume per target"),
            );
            continue;
        }
        out.push(v);
    }
    out
}

/// Unknown names, self-dependencies and cycles in `depends_on`.
fn check_depends(
    cx: &mut Cx<'_>,
    services: &BTreeMap<String, Service>,
    deps: &DependsSpans,
    header: &HashMap<String, Range<usize>>,
) {
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    let mut broken = false;
    for (name, list) in deps {
        for (dep, span) in list {
            if dep == name {
                cx.push(
                    Diagnostic::new(span.clone(), format!("service `{name}` depends on itself"))
                        .with_hint("remove it from its own depends_on"),
                );
                broken = true;
            } else if !services.contains_key(dep) {
                let mut d = Diagnostic::new(span.clone(), format!("`{dep}` is not a service"))
                    .with_label(expected_one_of(&known));
                d = match closest(dep, &known) {
                    Some(near) => d.with_hint(format!("did you mean `{near}`?")),
                    None => d.with_hint(format!("add a [services.{dep}] section, or remove it")),
                };
                cx.push(d);
                broken = true;
            }
        }
    }
    if broken {
        return;
    }
    if let Some(cycle) = find_cycle(services) {
        let span = header.get(&cycle[0]).cloned().unwrap_or(0..0);
        cx.push(
            Diagnostic::new(
                span,
                format!(
                    "services depend on each other in a cycle: {}",
                    cycle.join(" → ")
                ),
            )
            .with_hint(
                "remove one of these depends_on entries; services start in dependency order",
            ),
        );
    }
}

/// A dependency cycle as the list of names walked (first repeated at the end), if any.
fn find_cycle(services: &BTreeMap<String, Service>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        name: &str,
        services: &BTreeMap<String, Service>,
        marks: &mut HashMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|p| p == name).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(name.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name.to_owned(), Mark::Open);
        path.push(name.to_owned());
        for dep in services
            .get(name)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default()
        {
            if let Some(c) = visit(dep, services, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(name.to_owned(), Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    services
        .keys()
        .find_map(|n| visit(n, services, &mut marks, &mut Vec::new()))
}

/// Services need the project's own network: `none` and `host` cannot carry it.
fn check_network(
    cx: &mut Cx<'_>,
    top: &Table<'_, '_>,
    services: &Table<'_, '_>,
    parsed: &BTreeMap<String, Service>,
) {
    if parsed.is_empty() && services.map.is_empty() {
        return;
    }
    let Some(DeValue::Table(container)) = top.get("container").map(toml::Spanned::get_ref) else {
        return;
    };
    let Some(network) = container.get("network") else {
        return;
    };
    let DeValue::String(value) = network.get_ref() else {
        return;
    };
    if value == "none" || value == "host" {
        cx.push(
            Diagnostic::new(
                network.span(),
                format!("`network = \"{value}\"` cannot be used together with [services]"),
            )
            .with_label("services need the project's own network")
            .with_hint(
                "remove `network` (the dev container then joins the project network, where \
                 every service is reachable by its name), or remove [services]",
            ),
        );
    }
}

/// A host port may be published once across the dev container and every service.
fn check_ports(cx: &mut Cx<'_>, top: &Table<'_, '_>, services: &BTreeMap<String, Service>) {
    let mut seen: HashMap<(Option<String>, u16, String), String> = HashMap::new();
    if let Some(DeValue::Table(container)) = top.get("container").map(toml::Spanned::get_ref) {
        if let Some(DeValue::Array(items)) = container.get("ports").map(toml::Spanned::get_ref) {
            for item in items {
                if let DeValue::String(s) = item.get_ref() {
                    if let Ok(p) = values::port(s) {
                        seen.insert((p.host_ip, p.host_port, p.protocol), "[container]".into());
                    }
                }
            }
        }
    }
    for (name, s) in services {
        for p in &s.ports {
            let key = (p.host_ip.clone(), p.host_port, p.protocol.clone());
            if let Some(first) = seen.get(&key) {
                let span = port_span(top, name, &p.raw).unwrap_or(0..0);
                cx.push(
                    Diagnostic::new(
                        span,
                        format!(
                            "host port {}/{} is published twice",
                            p.host_port, p.protocol
                        ),
                    )
                    .with_hint(format!(
                        "{first} publishes it too; publish each host port once"
                    )),
                );
                continue;
            }
            seen.insert(key, format!("[services.{name}]"));
        }
    }
}

fn port_span(top: &Table<'_, '_>, service: &str, raw: &str) -> Option<Range<usize>> {
    let DeValue::Table(all) = top.get("services")?.get_ref() else {
        return None;
    };
    let DeValue::Table(t) = all.get(service)?.get_ref() else {
        return None;
    };
    let DeValue::Array(items) = t.get("ports")?.get_ref() else {
        return None;
    };
    items
        .iter()
        .find(|i| matches!(i.get_ref(), DeValue::String(s) if s == raw))
        .map(toml::Spanned::span)
}

/// Service names in start order: every service after all it depends on (names sorted
/// within a level so the order is stable).
pub fn start_levels(services: &BTreeMap<String, Service>) -> Vec<Vec<String>> {
    let mut done: Vec<String> = Vec::new();
    let mut levels = Vec::new();
    while done.len() < services.len() {
        let level: Vec<String> = services
            .iter()
            .filter(|(n, s)| !done.contains(n) && s.depends_on.iter().all(|d| done.contains(d)))
            .map(|(n, _)| n.clone())
            .collect();
        if level.is_empty() {
            break; // a cycle: refused by validation
        }
        done.extend(level.iter().cloned());
        levels.push(level);
    }
    levels
}

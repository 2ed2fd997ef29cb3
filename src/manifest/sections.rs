//! Reads each section of the manifest (`name`, `[base]`, `[env]`, `[[step]]`, `[shell]`,
//! `[hooks]`, `[cache]`) into its typed form, filling defaults and reporting every problem.
//! `[container]`, `[[watch]]` and `[sync]` live in `runtime.rs`.
//!
//! A section with errors still yields a value (defaults or placeholders) so the walk can
//! go on and report the rest; the caller discards the manifest when anything was reported.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use toml::de::DeValue;

use super::parse::{as_str, as_table, closest, expected_one_of, wrong_type, Cx, Str, Table, Value};
use super::{
    values, Base, BaseSource, Cache, Diagnostic, Hooks, Manifest, PullPolicy, Shell, ShellUser,
    Step,
};

pub(super) const TOP_KEYS: &[&str] = &[
    "name",
    "base",
    "env",
    "step",
    "shell",
    "container",
    "hooks",
    "cache",
    "watch",
    "sync",
    "services",
    "provision",
];
const BASE_KEYS: &[&str] = &["image", "rootfs", "pull", "platform"];
const STEP_KEYS: &[&str] = &[
    "name", "run", "ansible", "inputs", "env", "secrets", "user", "caches",
];
const SHELL_KEYS: &[&str] = &["command", "user", "workdir"];
const HOOKS_KEYS: &[&str] = &["on_create", "on_start"];
const CACHE_KEYS: &[&str] = &["registry"];

/// Where a key that is unknown at the top level belongs, for the hint.
const HOMES: &[(&str, &[&str])] = &[
    ("[base]", BASE_KEYS),
    ("[[step]]", STEP_KEYS),
    ("[shell]", SHELL_KEYS),
    ("[container]", super::runtime::CONTAINER_KEYS),
    ("[hooks]", HOOKS_KEYS),
    ("[cache]", CACHE_KEYS),
    ("[[watch]]", super::runtime::WATCH_KEYS),
    ("[sync]", super::runtime::SYNC_KEYS),
    ("[services.NAME]", super::services::SERVICE_KEYS),
    ("[provision.ansible]", super::provision::CONTROLLER_KEYS),
];

const BASE_EXAMPLE: &str = "a minimal manifest is:\n  [base]\n  image = \"debian:bookworm-slim\"";

/// The whole manifest from the top-level table.
pub(super) fn manifest(cx: &mut Cx<'_>, top: &Table<'_, '_>, path: &Path) -> Manifest {
    top.check_keys(cx, TOP_KEYS);
    let name = top
        .string(cx, "name")
        .and_then(|s| {
            report(cx, &s.span, values::project_name(s.value)).map(|()| s.value.to_owned())
        })
        .unwrap_or_else(|| default_name(cx));
    // Read first: a step's caches are checked against the workdir.
    let shell = shell(cx, top);
    Manifest {
        path: path.to_path_buf(),
        root: cx.root.to_path_buf(),
        name,
        base: base(cx, top),
        env: top
            .table(cx, "env", "[env]")
            .map(|t| env_table(cx, &t))
            .unwrap_or_default(),
        steps: steps(cx, top, &shell.workdir),
        shell,
        container: super::runtime::container(cx, top),
        hooks: hooks(cx, top),
        cache: cache(cx, top),
        watch: super::runtime::watch(cx, top),
        sync: super::runtime::sync(cx, top),
        services: super::services::services(cx, top),
        provision: super::provision::provision(cx, top),
    }
}

/// Report `result`'s problem at `span`; the value when there was none.
pub(super) fn report<T>(
    cx: &mut Cx<'_>,
    span: &Range<usize>,
    result: Result<T, Diagnostic>,
) -> Option<T> {
    result.map_err(|d| cx.report(span.clone(), d)).ok()
}

fn default_name(cx: &Cx<'_>) -> String {
    let dir = cx.canonical_root.as_deref().unwrap_or(cx.root);
    let last = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    super::sanitise_name(&last.unwrap_or_default())
}

/// The hint for an unknown key: at the top level, the section a key of another section
/// belongs in; else a close known key, or where the key belongs.
pub(super) fn unknown_key_hint(table: &str, key: &str, known: &[&str]) -> Option<String> {
    // A key of another section is more likely misplaced than misspelt (`fetch` is not a
    // typo of `watch`).
    let home = HOMES.iter().find(|(_, keys)| keys.contains(&key));
    if let (Some(home), "the top level") = (home, table) {
        return Some(format!("`{key}` belongs in {}", home.0));
    }
    if let Some(near) = closest(key, known) {
        let written = match near {
            "step" | "watch" if table == "the top level" => format!(" (written [[{near}]])"),
            _ => String::new(),
        };
        return Some(format!("did you mean `{near}`?{written}"));
    }
    if table != "the top level" && TOP_KEYS.contains(&key) {
        return Some(format!(
            "keys after a [table] header belong to that table; \
             move `{key}` above the first header"
        ));
    }
    home.map(|home| format!("`{key}` belongs in {}", home.0))
}

/// A string that must be one of `options`; an unknown one is reported with its choices.
pub(super) fn choice<T: Copy>(
    cx: &mut Cx<'_>,
    table: &Table<'_, '_>,
    key: &str,
    options: &[(&str, T)],
) -> Option<T> {
    let s = table.string(cx, key)?;
    if let Some((_, v)) = options.iter().find(|(name, _)| *name == s.value) {
        return Some(*v);
    }
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let mut d = Diagnostic::new(s.span, format!("invalid `{key}` value \"{}\"", s.value))
        .with_label(expected_one_of(&names));
    if let Some(near) = closest(s.value, &names) {
        d = d.with_hint(format!("did you mean \"{near}\"?"));
    }
    cx.push(d);
    None
}

fn base(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Base {
    let placeholder = Base {
        source: BaseSource::Rootfs(String::new()),
        pull: PullPolicy::Missing,
        platform: None,
    };
    let Some(value) = top.get("base") else {
        cx.push(Diagnostic::new(0..0, "missing [base] table").with_hint(BASE_EXAMPLE));
        return placeholder;
    };
    let Some(t) = as_table(cx, "base", value, "[base]") else {
        return placeholder;
    };
    t.check_keys(cx, BASE_KEYS);
    let pull = [
        ("missing", PullPolicy::Missing),
        ("always", PullPolicy::Always),
        ("never", PullPolicy::Never),
    ];
    let pull = choice(cx, &t, "pull", &pull).unwrap_or_default();
    let source = base_source(cx, &t).unwrap_or(placeholder.source);
    let platform = t.string(cx, "platform").and_then(|s| {
        let parsed = super::Platform::parse(s.value)
            .map_err(|e| Diagnostic::new(0..0, format!("invalid `platform`: {e}")));
        report(cx, &s.span, parsed)
    });
    Base {
        source,
        pull,
        platform,
    }
}

fn base_source(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<BaseSource> {
    let image = t.string(cx, "image");
    let rootfs = t.string(cx, "rootfs");
    match (t.get("image"), t.get("rootfs")) {
        (Some(_), Some(second)) => {
            cx.push(
                Diagnostic::new(second.span(), "[base] has both `image` and `rootfs`")
                    .with_label("expected only one of `image` and `rootfs`")
                    .with_hint("`image` uses a registry or local image, `rootfs` imports a tarball; keep one"),
            );
            None
        }
        (None, None) => {
            cx.push(
                Diagnostic::new(t.span.clone(), "[base] needs `image` or `rootfs`")
                    .with_hint("add `image = \"debian:bookworm-slim\"`, or `rootfs = \"path/to/rootfs.tar.gz\"`"),
            );
            None
        }
        _ => {
            if let Some(s) = image {
                let reference = report(cx, &s.span, super::reference::image_ref(s.value))?;
                return Some(BaseSource::Image(reference));
            }
            let s = rootfs?;
            project_path(cx, &s)?;
            Some(BaseSource::Rootfs(s.value.to_owned()))
        }
    }
}

/// Check a project path (or glob) for absolute paths, `..` and symlink escapes.
pub(super) fn project_path(cx: &mut Cx<'_>, s: &Str<'_>) -> Option<()> {
    let result = values::project_path(s.value, cx.root, cx.canonical_root.as_deref());
    report(cx, &s.span, result)
}

/// An environment table: valid names, string values.
pub(super) fn env_table(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (key, value) in t.map {
        let name: &str = key.get_ref();
        let name_ok = report(cx, &key.span(), values::env_name(name)).is_some();
        if let Some(s) = as_str(cx, name, value) {
            if name_ok {
                env.insert(name.to_owned(), s.value.to_owned());
            }
        }
    }
    env
}

/// An array of tables (`[[step]]`, `[[watch]]`); anything else is reported.
pub(super) fn array_of_tables<'t, 'i>(
    cx: &mut Cx<'_>,
    top: &Table<'t, 'i>,
    key: &str,
) -> Vec<&'t Value<'i>> {
    let Some(value) = top.get(key) else {
        return Vec::new();
    };
    if let DeValue::Array(items) = value.get_ref() {
        return items.iter().collect();
    }
    cx.push(
        wrong_type(cx.src, key, value, "an array of tables").with_hint(format!(
            "write each entry as [[{key}]] (double brackets), once per {key}"
        )),
    );
    Vec::new()
}

/// One entry of `[[key]]`: a table, else a report saying how entries are written.
pub(super) fn entry_table<'t, 'i>(
    cx: &mut Cx<'_>,
    key: &str,
    item: &'t Value<'i>,
    name: &str,
) -> Option<Table<'t, 'i>> {
    if !matches!(item.get_ref(), DeValue::Table(_)) {
        let hint = format!("write each entry as a [[{key}]] table");
        cx.push(wrong_type(cx.src, key, item, "a table").with_hint(hint));
        return None;
    }
    as_table(cx, key, item, name)
}

fn steps(cx: &mut Cx<'_>, top: &Table<'_, '_>, workdir: &str) -> Vec<Step> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut steps = Vec::new();
    for (i, item) in array_of_tables(cx, top, "step").into_iter().enumerate() {
        let name = format!("[[step]] #{}", i + 1);
        let Some(t) = entry_table(cx, "step", item, &name) else {
            continue;
        };
        let step = step(cx, &t, i + 1, workdir);
        let (name_span, name) = step_name(cx, &t, i + 1);
        if let Some(first) = seen.get(&name) {
            let line = cx.line_of(*first);
            let hint =
                format!("the first step named `{name}` is on line {line}; names must be unique");
            let message = format!("duplicate step name `{name}`");
            cx.push(Diagnostic::new(name_span, message).with_hint(hint));
        } else {
            seen.insert(name.clone(), name_span.start);
        }
        steps.extend(step.map(|s| Step { name, ..s }));
    }
    steps
}

/// The step's display name and where to point at it (the header when it has no name).
fn step_name(cx: &mut Cx<'_>, t: &Table<'_, '_>, n: usize) -> (Range<usize>, String) {
    match t.non_empty(cx, "name") {
        Some(s) => (s.span, s.value.to_owned()),
        None => (t.span.clone(), format!("step {n}")),
    }
}

fn step(cx: &mut Cx<'_>, t: &Table<'_, '_>, n: usize, workdir: &str) -> Option<Step> {
    t.check_keys(cx, STEP_KEYS);
    let ansible = t
        .get("ansible")
        .map(|v| (v, super::provision::step_ansible(cx, v, n)));
    if let (Some((v, _)), Some(run)) = (&ansible, t.get("run")) {
        let second = if run.span().start > v.span().start {
            run
        } else {
            v
        };
        cx.push(
            Diagnostic::new(second.span(), "[[step]] has both `run` and `ansible`")
                .with_hint("a step runs a command or a playbook: split it into two steps"),
        );
        return None;
    }
    // What the step runs; checked last so the other keys' problems are reported too.
    let what = if let Some((_, a)) = ansible {
        a.map(|a| (String::new(), Some(a)))
    } else {
        let run = t.require(
            cx,
            "run",
            "add the command to run, e.g. `run = \"make deps\"`, or a playbook: \
             `ansible = \"provision/site.yml\"`",
        );
        run.and_then(|v| as_str(cx, "run", v))
            .and_then(|s| non_blank(cx, "run", s))
            .map(|s| (s.value.to_owned(), None))
    };
    let inputs = t.strings(cx, "inputs").unwrap_or_default();
    let inputs: Vec<String> = inputs.iter().filter_map(|s| glob_path(cx, s)).collect();
    let env_name = format!("the env of [[step]] #{n}");
    let env = t
        .table(cx, "env", &env_name)
        .map(|e| env_table(cx, &e))
        .unwrap_or_default();
    let secrets = secrets(cx, t);
    let user = t
        .non_empty(cx, "user")
        .map_or("root", |s| s.value)
        .to_owned();
    let caches = super::caches::caches(cx, t, n, workdir);
    let (run, ansible) = what?;
    Some(Step {
        name: String::new(),
        run,
        ansible,
        inputs,
        env,
        secrets,
        user,
        caches,
    })
}

/// `s` when it has something besides whitespace, else a report.
pub(super) fn non_blank<'t>(cx: &mut Cx<'_>, key: &str, s: Str<'t>) -> Option<Str<'t>> {
    if !s.value.trim().is_empty() {
        return Some(s);
    }
    cx.push(
        Diagnostic::new(s.span, format!("`{key}` is empty"))
            .with_label("expected a command")
            .with_hint(format!(
                "give `{key}` a shell command, e.g. `{key} = \"make\"`"
            )),
    );
    None
}

/// A glob over project files: syntax, then the path rules on its literal prefix.
pub(super) fn glob_path(cx: &mut Cx<'_>, s: &Str<'_>) -> Option<String> {
    report(cx, &s.span, values::glob(s.value))?;
    project_path(cx, s)?;
    Some(s.value.to_owned())
}

fn secrets(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in t.strings(cx, "secrets").unwrap_or_default() {
        if report(cx, &s.span, values::env_name(s.value)).is_none() {
            continue;
        }
        if out.iter().any(|o| o == s.value) {
            cx.push(
                Diagnostic::new(s.span, format!("duplicate secret `{}`", s.value))
                    .with_hint("list each secret once"),
            );
            continue;
        }
        out.push(s.value.to_owned());
    }
    out
}

fn shell(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Shell {
    let mut shell = Shell {
        command: None,
        user: ShellUser::Host,
        workdir: super::DEFAULT_WORKDIR.to_owned(),
    };
    let Some(t) = top.table(cx, "shell", "[shell]") else {
        return shell;
    };
    t.check_keys(cx, SHELL_KEYS);
    shell.command = t.non_empty(cx, "command").map(|s| s.value.to_owned());
    if let Some(s) = t.string(cx, "user") {
        shell.user = report(cx, &s.span, values::shell_user(s.value)).unwrap_or(ShellUser::Host);
    }
    if let Some(s) = t.string(cx, "workdir") {
        if report(cx, &s.span, values::container_path(s.value, "workdir")).is_some() {
            s.value.clone_into(&mut shell.workdir);
        }
    }
    shell
}

fn hooks(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Hooks {
    let Some(t) = top.table(cx, "hooks", "[hooks]") else {
        return Hooks::default();
    };
    t.check_keys(cx, HOOKS_KEYS);
    Hooks {
        on_create: t.non_empty(cx, "on_create").map(|s| s.value.to_owned()),
        on_start: t.non_empty(cx, "on_start").map(|s| s.value.to_owned()),
    }
}

fn cache(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Option<Cache> {
    let t = top.table(cx, "cache", "[cache]")?;
    t.check_keys(cx, CACHE_KEYS);
    let value = t.require(
        cx,
        "registry",
        "add `registry = \"ghcr.io/acme/shop-env\"`, or remove [cache]",
    )?;
    let s = as_str(cx, "registry", value)?;
    let registry = report(cx, &s.span, values::cache_registry(s.value))?;
    Some(Cache { registry })
}

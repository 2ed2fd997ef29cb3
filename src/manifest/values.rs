//! Grammars of single manifest values: names, image references, ports, volumes, paths.
//!
//! Each check takes the string as written and returns the typed value or a [`Diagnostic`]
//! without a position (the caller knows where the value is). Values are refused, never
//! normalised: what the user wrote is what the rest of devenv sees.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::{Diagnostic, PortSpec, ShellUser, VolumeSpec};

type Checked<T> = Result<T, Diagnostic>;

fn problem(message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(0..0, message)
}

const INSIDE_PROJECT: &str =
    "paths are relative to the project directory; keep them inside the project";

/// At most 63 characters, and usable as a Docker repository component (it names the
/// image `devenv/<name>`): lowercase alphanumeric groups joined by `.`, `_`, `__` or `-`s.
pub(super) fn project_name(s: &str) -> Checked<()> {
    if s.len() <= 63 && super::is_repo_component(s) {
        return Ok(());
    }
    let suggestion = super::sanitise_name(s);
    Err(problem(format!("invalid project name `{s}`"))
        .with_label("expected lowercase letters and digits joined by `.`, `_` or `-`, at most 63")
        .with_hint(format!("use `{suggestion}`")))
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn env_name(s: &str) -> Checked<()> {
    let valid = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        return Ok(());
    }
    Err(problem(format!("invalid environment variable name `{s}`"))
        .with_label("expected letters, digits and `_`, not starting with a digit"))
}

/// `host` | `root` | a user name or numeric uid.
pub(super) fn shell_user(s: &str) -> Checked<ShellUser> {
    match s {
        "host" => return Ok(ShellUser::Host),
        "root" => return Ok(ShellUser::Root),
        _ => {}
    }
    let body = s.strip_suffix('$').unwrap_or(s);
    let is_uid = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && s.parse::<u32>().is_ok();
    let is_name = body.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && body
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if is_uid || is_name {
        return Ok(ShellUser::Named(s.to_owned()));
    }
    Err(problem(format!("invalid shell user `{s}`"))
        .with_label("expected `host`, `root`, a user name or a numeric uid")
        .with_hint("user names are lowercase: letters, digits, `_` and `-`"))
}

/// An absolute container path: not `/`, no `.`/`..`/empty components, no trailing `/`.
pub(super) fn container_path(s: &str, what: &str) -> Checked<()> {
    let fail = |why: &str| {
        Err(problem(format!("invalid {what} `{s}`: {why}"))
            .with_hint("write a plain absolute path such as `/workspace`"))
    };
    if !s.starts_with('/') {
        return fail("it must be an absolute path");
    }
    if s == "/" {
        return fail("it cannot be `/`");
    }
    let body = s[1..].strip_suffix('/').unwrap_or(&s[1..]);
    match body
        .split('/')
        .find(|c| c.is_empty() || *c == "." || *c == "..")
    {
        Some("..") => fail("it contains a `..` component"),
        Some(".") => fail("it contains a `.` component"),
        Some(_) => fail("it contains an empty component (`//`)"),
        None if s.ends_with('/') => fail("remove the trailing `/`"),
        None => Ok(()),
    }
}

/// A glob over project files: valid syntax, relative, no `..`.
pub(super) fn glob(s: &str) -> Checked<()> {
    if let Err(e) = globset::GlobBuilder::new(s).literal_separator(true).build() {
        return Err(problem(format!("invalid glob `{s}`: {}", e.kind()))
            .with_hint("globs use `*`, `**`, `?`, `[abc]` and `{a,b}`; `*` does not cross `/`"));
    }
    Ok(())
}

/// A path in the project: relative, without `..`, and not escaping through a symlink.
/// For a glob only the literal prefix (the components before the first wildcard) is
/// checked on disk.
pub(super) fn project_path(s: &str, root: &Path, canonical_root: Option<&Path>) -> Checked<()> {
    if s.is_empty() {
        return Err(problem("empty path").with_label("expected a path relative to the project"));
    }
    if s.starts_with('/') || Path::new(s).is_absolute() {
        return Err(problem(format!("`{s}` is an absolute path")).with_hint(INSIDE_PROJECT));
    }
    if s.split('/').any(|c| c == "..") {
        return Err(
            problem(format!("`{s}` leaves the project directory (`..`)")).with_hint(INSIDE_PROJECT),
        );
    }
    let Some(canonical_root) = canonical_root else {
        return Ok(());
    };
    let mut here = root.to_path_buf();
    for component in literal_prefix(s) {
        here.push(component);
        if here.symlink_metadata().is_err() {
            break;
        }
        if let Some(target) = escapes(&here, canonical_root) {
            return Err(problem(format!(
                "`{s}` leads outside the project through a symlink (to {})",
                target.display()
            ))
            .with_hint(INSIDE_PROJECT));
        }
    }
    Ok(())
}

/// A path fetched back from the workspace (`[sync] fetch`, `devenv fetch`): the project
/// path rules, then a plain path (a trailing `/` allowed): no wildcards (the engine copies
/// one path at a time), no `.` or empty components (`.` alone would be the whole project),
/// and nothing in `.git` or `.devenv`, which are never synced (the latter is devenv's state).
pub(super) fn fetch_path(s: &str, root: &Path, canonical_root: Option<&Path>) -> Checked<()> {
    project_path(s, root, canonical_root)?;
    let hint = "name a file or directory that commands in the environment write, e.g. \
                `target/nextest/junit.xml` or `coverage/`";
    if s.contains(['*', '?', '[', ']', '{', '}']) {
        return Err(problem(format!("`{s}` is a pattern, not a path"))
            .with_label("expected a file or directory")
            .with_hint(
                "list each file, or the directory that holds them (`reports/`): a directory \
                 is fetched whole",
            ));
    }
    let body = s.strip_suffix('/').unwrap_or(s);
    if body.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(
            problem(format!("`{s}` has an empty or `.` component")).with_hint(format!(
                "write the path plainly, without `./` or `//`; {hint}"
            )),
        );
    }
    // The directories the sync never sends (`watch::SKIPPED_DIRS`; `manifest` is a leaf).
    if let Some(dir) = body.split('/').find(|c| [".git", ".devenv"].contains(c)) {
        return Err(
            problem(format!("`{s}` is inside `{dir}`, which is never synced")).with_hint(hint),
        );
    }
    Ok(())
}

fn literal_prefix(s: &str) -> impl Iterator<Item = &str> {
    s.split('/')
        .take_while(|c| !c.contains(['*', '?', '[', ']', '{', '}']))
        .filter(|c| !c.is_empty() && *c != ".")
}

fn escapes(path: &Path, canonical_root: &Path) -> Option<PathBuf> {
    let real = path.canonicalize().ok()?;
    (!real.starts_with(canonical_root)).then_some(real)
}

/// `[ip:]host:container[/tcp|/udp]`, host IP v4 or `[v6]`, ports 1–65535.
pub(super) fn port(s: &str) -> Checked<PortSpec> {
    let fail = |why: String| {
        Err(problem(format!("invalid port mapping `{s}`: {why}"))
            .with_label("expected `[ip:]host:container[/tcp|/udp]`")
            .with_hint("for example \"8080:80\" or \"127.0.0.1:5432:5432/tcp\""))
    };
    let (mapping, protocol) = match s.rsplit_once('/') {
        Some((m, p @ ("tcp" | "udp"))) => (m, p),
        Some((_, p)) => return fail(format!("unknown protocol `{p}`")),
        None => (s, "tcp"),
    };
    let (host_ip, ports) = match split_host_ip(mapping) {
        Ok(split) => split,
        Err(why) => return fail(why),
    };
    let Some((host, container)) = ports.split_once(':') else {
        return fail("expected both a host and a container port".to_owned());
    };
    let host_port = match port_number(host) {
        Ok(p) => p,
        Err(why) => return fail(why),
    };
    let container_port = match port_number(container) {
        Ok(p) => p,
        Err(why) => return fail(why),
    };
    Ok(PortSpec {
        raw: s.to_owned(),
        host_ip,
        host_port,
        container_port,
        protocol: protocol.to_owned(),
    })
}

/// Split `ip:host:container` into the IP (if any) and `host:container`.
fn split_host_ip(mapping: &str) -> Result<(Option<String>, &str), String> {
    if let Some(rest) = mapping.strip_prefix('[') {
        let (ip, rest) = rest
            .split_once(']')
            .ok_or("unclosed `[` around the IPv6 address")?;
        ip.parse::<Ipv6Addr>()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        let ports = rest
            .strip_prefix(':')
            .ok_or("expected `:` after the IPv6 address")?;
        return Ok((Some(ip.to_owned()), ports));
    }
    match mapping.matches(':').count() {
        0 | 1 => Ok((None, mapping)),
        2 => {
            let (ip, ports) = mapping.split_once(':').unwrap_or_default();
            ip.parse::<Ipv4Addr>()
                .map_err(|_| format!("`{ip}` is not an IPv4 address (write IPv6 as `[::1]`)"))?;
            Ok((Some(ip.to_owned()), ports))
        }
        _ => Err("too many `:` (write IPv6 addresses in brackets: `[::1]:80:80`)".to_owned()),
    }
}

fn port_number(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` is not a port number"));
    }
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port `{s}` is out of range 1-65535")),
        Ok(p) => Ok(p),
    }
}

/// `source:target[:ro|:rw]`. A source starting with `./`, `../` or `/`, or equal to `.`,
/// is a bind mount (checked by the caller as a project path); anything else names a volume.
pub(super) fn volume(s: &str) -> Checked<VolumeSpec> {
    let fail = |why: String| {
        Err(problem(format!("invalid volume `{s}`: {why}"))
            .with_label("expected `source:target[:ro|:rw]`")
            .with_hint("for example \"cache:/root/.cache\" or \"./data:/data:ro\""))
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, read_only) = match parts.as_slice() {
        [source, target] | [source, target, "rw"] => (*source, *target, false),
        [source, target, "ro"] => (*source, *target, true),
        [_, _, mode] => return fail(format!("unknown mode `{mode}`, expected `ro` or `rw`")),
        _ => return fail("expected one or two `:`".to_owned()),
    };
    container_path(target, "volume target")?;
    let target = target.to_owned();
    if is_bind(source) {
        let source = match source.strip_prefix("./") {
            Some("") => ".".to_owned(),
            Some(rest) => rest.to_owned(),
            None => source.to_owned(),
        };
        return Ok(VolumeSpec::Bind {
            source,
            target,
            read_only,
        });
    }
    let valid = source.starts_with(|c: char| c.is_ascii_alphanumeric())
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid {
        return fail(format!(
            "`{source}` is not a volume name (letters, digits, `_`, `.`, `-`); \
             start a bind mount source with `./`"
        ));
    }
    Ok(VolumeSpec::Named {
        name: source.to_owned(),
        target,
        read_only,
    })
}

fn is_bind(source: &str) -> bool {
    matches!(source, "." | "..")
        || source.starts_with("./")
        || source.starts_with("../")
        || source.starts_with('/')
}

/// A registry repository for `[cache]`: `host/repo` without tag or digest.
pub(super) fn cache_registry(s: &str) -> Checked<String> {
    let reference = super::reference::image_ref(s)?;
    if reference.tag.is_some() || reference.digest.is_some() {
        return Err(problem(format!("`{s}` has a tag or digest"))
            .with_label("expected a repository such as `ghcr.io/acme/shop-env`")
            .with_hint("devenv tags cached images with their hash itself; remove the tag"));
    }
    if !reference.name.contains('/') {
        return Err(
            problem(format!("`{s}` is not a repository you can push to"))
                .with_label("expected `registry-host/repository`")
                .with_hint("for example `ghcr.io/acme/shop-env`"),
        );
    }
    Ok(reference.name)
}

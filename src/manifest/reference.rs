//! Docker image references: `[host[:port]/]path[:tag][@sha256:hex]`, or a local image id
//! `sha256:hex`. Follows the grammar of distribution/reference, refusing what the engine
//! would refuse so the error points at the manifest rather than at a failed pull.

use super::{Diagnostic, ImageRef};

type Checked<T> = Result<T, Diagnostic>;

const EXAMPLE: &str =
    "for example \"debian:bookworm-slim\" or \"ghcr.io/acme/base:1.2@sha256:<64 hex>\"";

fn invalid(raw: &str, why: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(0..0, format!("invalid image reference `{raw}`: {why}"))
}

/// Parse and check an image reference.
pub(super) fn image_ref(raw: &str) -> Checked<ImageRef> {
    if raw.is_empty() {
        return Err(invalid(raw, "it is empty").with_hint(EXAMPLE));
    }
    if raw.starts_with("sha256:") && !raw.contains(['/', '@']) {
        digest(raw, raw)?;
        return Ok(ImageRef {
            raw: raw.to_owned(),
            name: raw.to_owned(),
            tag: None,
            digest: None,
        });
    }
    let (rest, digest_part) = match raw.split_once('@') {
        Some((rest, d)) => (rest, Some(digest(raw, d)?)),
        None => (raw, None),
    };
    let (name, tag) = split_tag(rest);
    if let Some(tag) = tag {
        check_tag(raw, tag)?;
    }
    check_name(raw, name)?;
    Ok(ImageRef {
        raw: raw.to_owned(),
        name: name.to_owned(),
        tag: tag.map(str::to_owned),
        digest: digest_part,
    })
}

/// The tag is after the last `:` that follows the last `/` (a `:` before it is a port).
fn split_tag(s: &str) -> (&str, Option<&str>) {
    let last_slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], Some(&s[last_slash + i + 1..])),
        None => (s, None),
    }
}

/// `sha256:` and exactly 64 lowercase hex characters.
fn digest(raw: &str, d: &str) -> Checked<String> {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return Err(invalid(raw, format!("digest `{d}` has no algorithm"))
            .with_hint("write digests as `sha256:<64 hex>`"));
    };
    if algorithm != "sha256" {
        return Err(
            invalid(raw, format!("unsupported digest algorithm `{algorithm}`"))
                .with_hint("devenv supports `sha256:` digests only"),
        );
    }
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(invalid(
            raw,
            format!("`{bad}` is not a hex character in the digest"),
        ));
    }
    if hex.len() != 64 {
        return Err(invalid(
            raw,
            format!("a sha256 digest has 64 hex characters, found {}", hex.len()),
        )
        .with_hint("copy the full digest, e.g. from `docker images --digests`"));
    }
    if hex.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(invalid(raw, "digests are lowercase hex")
            .with_hint(format!("write `sha256:{}`", hex.to_ascii_lowercase())));
    }
    Ok(d.to_owned())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(raw: &str, tag: &str) -> Checked<()> {
    let valid = tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        return Ok(());
    }
    Err(invalid(raw, format!("invalid tag `{tag}`"))
        .with_label("tags are letters, digits, `_`, `.` and `-`, at most 128")
        .with_hint(EXAMPLE))
}

/// Optional registry host, then `/`-separated lowercase path components.
fn check_name(raw: &str, name: &str) -> Checked<()> {
    if name.len() > 255 {
        return Err(invalid(raw, "the name is longer than 255 characters"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_host(components[0]) {
        check_host(raw, components.remove(0))?;
    }
    for component in components {
        check_component(raw, component)?;
    }
    Ok(())
}

fn is_host(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

/// `host[:port]`: DNS labels joined by `.`, optional numeric port.
fn check_host(raw: &str, host: &str) -> Checked<()> {
    let (name, port) = match host.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if name.split('.').all(label_ok) && port_ok {
        return Ok(());
    }
    Err(invalid(raw, format!("invalid registry host `{host}`")).with_hint(EXAMPLE))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn check_component(raw: &str, component: &str) -> Checked<()> {
    if component.is_empty() {
        return Err(invalid(raw, "empty path component").with_hint(EXAMPLE));
    }
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(
            invalid(raw, "repository names must be lowercase").with_hint(format!(
                "write `{}`",
                raw.replace(component, &component.to_ascii_lowercase())
            )),
        );
    }
    if component_ok(component) {
        return Ok(());
    }
    Err(
        invalid(raw, format!("invalid path component `{component}`"))
            .with_label(
                "components are lowercase letters and digits separated by `.`, `_`, `__` or `-`",
            )
            .with_hint(EXAMPLE),
    )
}

fn component_ok(c: &str) -> bool {
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    let bytes: Vec<char> = c.chars().collect();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        let sep_ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|ch| ch == '-');
        if !sep_ok {
            return false;
        }
    }
    true
}

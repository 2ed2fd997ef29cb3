//! A step's `caches`: each a target path, or a table `{ target, id, sharing, scope, uid,
//! gid, mode }` (BuildKit's cache mounts, plus `scope`, who shares the cache on an engine).

use std::ops::Range;

use toml::de::DeValue;

use super::parse::{wrong_type, Cx, Str, Table, Value};
use super::sections::{choice, report};
use super::{values, CacheMount, CacheScope, CacheSharing, Diagnostic};

pub(super) const CACHE_KEYS: &[&str] = &["target", "id", "sharing", "scope", "uid", "gid", "mode"];
const EXAMPLE: &str =
    "e.g. `caches = [\"/root/.cache/pip\"]` or `caches = [{ target = \"/var/cache/apt/archives\", sharing = \"locked\" }]`";
const MAX_ID: usize = 128;

/// The step's caches; every problem reported, the good entries kept.
pub(super) fn caches(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    step: usize,
    workdir: &str,
) -> Vec<CacheMount> {
    let Some(value) = t.get("caches") else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        cx.push(wrong_type(cx.src, "caches", value, "an array").with_hint(EXAMPLE));
        return Vec::new();
    };
    let mut out: Vec<(CacheMount, Range<usize>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some((cache, span)) = entry(cx, item, step, i + 1, workdir) else {
            continue;
        };
        if let Some((_, first)) = out.iter().find(|(c, _)| c.target == cache.target) {
            let line = cx.line_of(first.start);
            cx.push(
                Diagnostic::new(span, format!("duplicate cache target `{}`", cache.target))
                    .with_hint(format!(
                        "the first cache at `{}` is on line {line}; mount each path once",
                        cache.target
                    )),
            );
            continue;
        }
        out.push((cache, span));
    }
    out.into_iter().map(|(c, _)| c).collect()
}

fn entry(
    cx: &mut Cx<'_>,
    item: &Value<'_>,
    step: usize,
    n: usize,
    workdir: &str,
) -> Option<(CacheMount, Range<usize>)> {
    let defaults = |target: &str| CacheMount {
        target: target.to_owned(),
        id: target.to_owned(),
        sharing: CacheSharing::Shared,
        scope: CacheScope::Client,
        uid: 0,
        gid: 0,
        mode: 0o755,
    };
    match item.get_ref() {
        DeValue::String(s) => {
            let s = Str {
                value: s.as_ref(),
                span: item.span(),
            };
            target(cx, &s, workdir)?;
            Some((defaults(s.value), s.span))
        }
        DeValue::Table(map) => {
            let t = Table {
                map,
                span: item.span(),
                name: format!("cache #{n} of [[step]] #{step}"),
            };
            t.check_keys(cx, CACHE_KEYS);
            let value = t.require(cx, "target", "add `target = \"/root/.cache/pip\"`")?;
            let s = super::parse::as_str(cx, "target", value)?;
            let mut ok = target(cx, &s, workdir).is_some();
            let mut cache = defaults(s.value);
            if let Some(id) = t.string(cx, "id") {
                match report(cx, &id.span, cache_id(id.value)) {
                    Some(id) => cache.id = id,
                    None => ok = false,
                }
            }
            let sharing = [
                ("shared", CacheSharing::Shared),
                ("locked", CacheSharing::Locked),
                ("private", CacheSharing::Private),
            ];
            cache.sharing = choice(cx, &t, "sharing", &sharing).unwrap_or_default();
            let scope = [
                ("client", CacheScope::Client),
                ("engine", CacheScope::Engine),
            ];
            cache.scope = choice(cx, &t, "scope", &scope).unwrap_or_default();
            cache.uid = id_number(cx, &t, "uid").unwrap_or(0);
            cache.gid = id_number(cx, &t, "gid").unwrap_or(0);
            cache.mode = mode(cx, &t).unwrap_or(0o755);
            ok.then_some((cache, s.span))
        }
        _ => {
            let what = "each element of `caches`";
            cx.push(
                wrong_type(cx.src, "caches", item, "a string or a table").with_hint(format!(
                    "{what} is a path (\"/root/.cache/pip\") or a table with `target`"
                )),
            );
            None
        }
    }
}

/// An absolute path that does not hide the workdir (where the step's inputs are).
fn target(cx: &mut Cx<'_>, s: &Str<'_>, workdir: &str) -> Option<()> {
    report(cx, &s.span, values::container_path(s.value, "cache target"))?;
    let hides = workdir == s.value
        || workdir
            .strip_prefix(s.value)
            .is_some_and(|rest| rest.starts_with('/'));
    if hides {
        cx.push(
            Diagnostic::new(
                s.span.clone(),
                format!(
                    "cache target `{}` would hide the workdir `{workdir}`",
                    s.value
                ),
            )
            .with_label("the step's inputs are copied into the workdir")
            .with_hint("cache a directory outside the workdir, such as `/root/.cache/pip`"),
        );
        return None;
    }
    Some(())
}

fn cache_id(s: &str) -> Result<String, Diagnostic> {
    let bad = s.is_empty() || s.len() > MAX_ID || s.chars().any(char::is_control);
    if bad {
        return Err(Diagnostic::new(0..0, format!("invalid cache id `{s}`"))
            .with_label(format!("expected 1 to {MAX_ID} printable characters"))
            .with_hint("e.g. `id = \"pip\"`; steps naming the same id share the cache"));
    }
    Ok(s.to_owned())
}

fn integer(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    key: &str,
    hint: &str,
) -> Option<(i64, u32, Range<usize>)> {
    let value = t.get(key)?;
    let DeValue::Integer(i) = value.get_ref() else {
        cx.push(wrong_type(cx.src, key, value, "an integer").with_hint(hint.to_owned()));
        return None;
    };
    let parsed = i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok();
    let Some(n) = parsed else {
        cx.push(
            Diagnostic::new(value.span(), format!("`{key}` is out of range"))
                .with_hint(hint.to_owned()),
        );
        return None;
    };
    Some((n, i.radix(), value.span()))
}

/// A numeric uid or gid (the engine does not resolve names for a volume's owner).
fn id_number(cx: &mut Cx<'_>, t: &Table<'_, '_>, key: &str) -> Option<u32> {
    let hint = format!("write a number, e.g. `{key} = 1000`");
    let (n, _, span) = integer(cx, t, key, &hint)?;
    if let Ok(n @ 0..=2_147_483_647) = u32::try_from(n) {
        return Some(n);
    }
    cx.push(
        Diagnostic::new(span, format!("`{key}` is out of range"))
            .with_label("expected a number from 0 to 2147483647")
            .with_hint(hint),
    );
    None
}

/// The root's permission bits: an octal string (`"0755"`) or an octal integer (`0o755`).
fn mode(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<u32> {
    const HINT: &str = "write the mode in octal, as a string: `mode = \"0755\"`";
    let value = t.get("mode")?;
    let (n, span) = if let DeValue::String(s) = value.get_ref() {
        let digits = s.as_ref();
        let octal = !digits.is_empty()
            && digits.len() <= 5
            && digits.chars().all(|c| ('0'..='7').contains(&c));
        (
            octal.then(|| u32::from_str_radix(digits, 8).ok()).flatten(),
            value.span(),
        )
    } else {
        let (n, radix, span) = integer(cx, t, "mode", HINT)?;
        if radix != 8 {
            let message = format!("`mode` {n} is not octal");
            cx.push(
                Diagnostic::new(span, message)
                    .with_label("a decimal number")
                    .with_hint(HINT),
            );
            return None;
        }
        (u32::try_from(n).ok(), span)
    };
    if let Some(m @ 0..=0o7777) = n {
        return Some(m);
    }
    let raw = cx.src.get(span.clone()).unwrap_or_default().to_owned();
    cx.push(
        Diagnostic::new(span, format!("invalid `mode` {raw}"))
            .with_label("expected octal permission bits from 0 to 7777")
            .with_hint(HINT),
    );
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{parse_str, CacheMount, CacheScope, CacheSharing, ManifestError};

    fn parse(caches: &str) -> Result<Vec<CacheMount>, ManifestError> {
        let src =
            format!("[base]\nimage = \"debian:12\"\n[[step]]\nrun = \"x\"\ncaches = {caches}\n");
        let m = parse_str(&src, Path::new("devenv.toml"), Path::new("/nonexistent"))?;
        Ok(m.steps[0].caches.clone())
    }

    fn messages(caches: &str) -> Vec<String> {
        match parse(caches) {
            Err(ManifestError::Invalid { diagnostics, .. }) => {
                diagnostics.into_iter().map(|d| d.message).collect()
            }
            other => panic!("expected errors, got {other:?}"),
        }
    }

    #[test]
    fn a_path_takes_buildkits_defaults() {
        let c = parse(r#"["/root/.cache/pip"]"#).unwrap();
        assert_eq!(
            c,
            vec![CacheMount {
                target: "/root/.cache/pip".into(),
                id: "/root/.cache/pip".into(),
                sharing: CacheSharing::Shared,
                scope: CacheScope::Client,
                uid: 0,
                gid: 0,
                mode: 0o755,
            }]
        );
    }

    #[test]
    fn a_table_sets_every_field() {
        let c = parse(
            r#"[{ target = "/var/cache/apt/archives", id = "apt", sharing = "locked", scope = "engine", uid = 1000, gid = 100, mode = "0700" }, { target = "/c", mode = 0o750, sharing = "private" }]"#,
        )
        .unwrap();
        assert_eq!(c[0].id, "apt");
        assert_eq!(c[0].sharing, CacheSharing::Locked);
        assert_eq!(c[0].scope, CacheScope::Engine);
        assert_eq!((c[0].uid, c[0].gid, c[0].mode), (1000, 100, 0o700));
        assert_eq!((c[1].id.as_str(), c[1].mode), ("/c", 0o750));
        assert_eq!(c[1].sharing, CacheSharing::Private);
    }

    #[test]
    fn every_problem_is_reported() {
        let m = messages(
            r#"["relative", { id = "x" }, { target = "/a", sharing = "lockd", mode = 755, uid = -1 }, "/workspace", "/b", "/b", 5, { target = "/m", mode = "9" }]"#,
        );
        let want = [
            "invalid cache target `relative`: it must be an absolute path",
            "missing key `target` in cache #2 of [[step]] #1",
            "invalid `sharing` value \"lockd\"",
            "`mode` 755 is not octal",
            "`uid` is out of range",
            "cache target `/workspace` would hide the workdir `/workspace`",
            "duplicate cache target `/b`",
            "expected a string or a table, found an integer",
            "invalid `mode` \"9\"",
        ];
        for w in want {
            assert!(m.iter().any(|g| g == w), "{w} not in {m:#?}");
        }
        assert_eq!(messages(r#""/x""#), ["expected an array, found a string"]);
    }
}

//! Package caches of steps (a step's `caches`): directories that persist across rebuilds of
//! a step and are never part of a layer, its history or its key.
//!
//! Each cache is a named volume on the engine the build runs on, mounted at its target in
//! the step's container only while the step runs. A commit never includes a mounted
//! volume, so the layer holds at most the empty mount point; the key is computed from the
//! manifest fields that are hashed, and `caches` is not one of them.
//!
//! A volume is keyed as BuildKit keys its cache mounts, by `id` (default the target), and
//! by who may share it: the client ([`crate::ownership::client`]) unless the cache says
//! `scope = "engine"`. So the steps and projects of one user on one machine share a cache,
//! and another machine using the same remote engine has its own. The name is
//! `devenv-cache-<16 hex of scope and id>` (`-p<N>` for the extra volumes of a private
//! cache); labels record the id, the scope and the project that made it.
//!
//! Concurrency (`sharing`) uses the named locks of [`super::lock`], which serialise the
//! processes of one user on one machine: `locked` waits for the cache, `private` takes the
//! first of the cache's volumes nobody holds, `shared` takes no lock.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::lock::NamedLock;
use super::{BuildError, Reporter};
use crate::engine::{labels, ContainerSpec, Engine, EngineError, Mount};
use crate::manifest::{CacheMount, CacheScope, CacheSharing, Manifest, Step};

/// The role label of a cache volume (and of the helper that measures caches).
pub const ROLE: &str = "cache";
/// Label: the cache's id as the manifest names it.
pub const ID_LABEL: &str = "dev.devenv.cache-id";
/// Label: the client id owning the cache, or `engine` for one every client shares.
pub const SCOPE_LABEL: &str = "dev.devenv.cache-scope";
/// Prefix of every cache volume's name.
pub const PREFIX: &str = "devenv-cache-";
/// How many volumes a private cache may use at once before a build waits for one.
const PRIVATE_MAX: usize = 8;

/// The scope value of `cache` for the client `client`.
pub fn scope(cache: &CacheMount, client: &str) -> String {
    match cache.scope {
        CacheScope::Client => client.to_owned(),
        CacheScope::Engine => "engine".to_owned(),
    }
}

/// The volume holding the cache `id` of `scope`.
pub fn volume_name(scope: &str, id: &str) -> String {
    let mut h = crate::fingerprint::Hasher::new("cache");
    h.field("scope", scope.as_bytes());
    h.field("id", id.as_bytes());
    format!("{PREFIX}{}", &h.finish()[..16])
}

/// The caches a step's build holds: its mounts, and the locks that keep them.
pub struct Held {
    pub mounts: Vec<Mount>,
    /// The command (run as root in the step container before the step) that gives each
    /// cache's root its owner and mode.
    pub setup: Vec<String>,
    /// Released on drop.
    locks: Vec<NamedLock>,
}

/// Make (if needed), lock (per `sharing`) and describe the step's caches.
pub async fn acquire(
    engine: &Engine,
    manifest: &Manifest,
    step: &Step,
    client: &str,
    reporter: &mut dyn Reporter,
) -> Result<Held, BuildError> {
    let mut held = Held {
        mounts: Vec::new(),
        setup: Vec::new(),
        locks: Vec::new(),
    };
    let mut script = String::from("set -e");
    for cache in &step.caches {
        let scope = scope(cache, client);
        let base = volume_name(&scope, &cache.id);
        let (name, lock) = match cache.sharing {
            CacheSharing::Shared => (base, None),
            CacheSharing::Locked => (base.clone(), Some(wait(&base, cache, reporter).await?)),
            CacheSharing::Private => private(&base, cache, reporter).await?,
        };
        engine
            .ensure_volume(&name, volume_labels(manifest, cache, &scope))
            .await?;
        held.locks.extend(lock);
        let target = quote(&cache.target);
        let _ = write!(
            script,
            "\nchown {}:{} {target}\nchmod {:o} {target}",
            cache.uid, cache.gid, cache.mode
        );
        held.mounts.push(Mount::Synced {
            name,
            target: cache.target.clone(),
            read_only: false,
        });
    }
    held.setup = vec!["/bin/sh".into(), "-c".into(), script];
    Ok(held)
}

/// Wait for the lock of the volume `name`, saying so when another build holds it.
async fn wait(
    name: &str,
    cache: &CacheMount,
    reporter: &mut dyn Reporter,
) -> Result<NamedLock, BuildError> {
    let lock_name = format!("cache-{name}");
    if let Some(lock) = NamedLock::try_acquire(&lock_name)? {
        return Ok(lock);
    }
    reporter.note(&format!(
        "waiting for cache `{}`: another build is using it (sharing = \"{}\")",
        cache.id,
        sharing_word(cache.sharing)
    ));
    NamedLock::acquire(&lock_name).await
}

/// The first of the private cache's volumes that no build holds (the cache's own first).
async fn private(
    base: &str,
    cache: &CacheMount,
    reporter: &mut dyn Reporter,
) -> Result<(String, Option<NamedLock>), BuildError> {
    for n in 0..PRIVATE_MAX {
        let name = if n == 0 {
            base.to_owned()
        } else {
            format!("{base}-p{n}")
        };
        if let Some(lock) = NamedLock::try_acquire(&format!("cache-{name}"))? {
            return Ok((name, Some(lock)));
        }
    }
    let lock = wait(base, cache, reporter).await?;
    Ok((base.to_owned(), Some(lock)))
}

fn sharing_word(s: CacheSharing) -> &'static str {
    match s {
        CacheSharing::Shared => "shared",
        CacheSharing::Locked => "locked",
        CacheSharing::Private => "private",
    }
}

fn volume_labels(manifest: &Manifest, cache: &CacheMount, scope: &str) -> HashMap<String, String> {
    HashMap::from([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::ROLE.to_owned(), ROLE.to_owned()),
        // The project that made it (caches are shared by the client's projects).
        (labels::PROJECT.to_owned(), manifest.name.clone()),
        (ID_LABEL.to_owned(), cache.id.clone()),
        (SCOPE_LABEL.to_owned(), scope.to_owned()),
        (
            labels::VERSION.to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ])
}

/// `s` as one shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A cache volume on the engine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheVolume {
    pub name: String,
    pub id: String,
    /// The client id owning it, or `engine`.
    pub scope: String,
    /// Bytes used; `None` when it could not be measured.
    pub bytes: Option<u64>,
}

/// The cache volumes of the client `client` (and those of scope `engine` among `also`),
/// with their sizes when `measure` (a helper container runs `du`).
pub async fn list(
    engine: &Engine,
    client: &str,
    also: &[String],
    measure: bool,
) -> Result<Vec<CacheVolume>, EngineError> {
    let mut out: Vec<CacheVolume> = engine
        .list_volumes(&[(labels::MANAGED, "true"), (labels::ROLE, ROLE)])
        .await?
        .into_iter()
        .filter(|(name, l)| {
            name.starts_with(PREFIX)
                && (l.get(SCOPE_LABEL).map(String::as_str) == Some(client) || also.contains(name))
        })
        .map(|(name, l)| CacheVolume {
            id: l.get(ID_LABEL).cloned().unwrap_or_default(),
            scope: l.get(SCOPE_LABEL).cloned().unwrap_or_default(),
            name,
            bytes: None,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if measure && !out.is_empty() {
        let names: Vec<String> = out.iter().map(|v| v.name.clone()).collect();
        let sizes = sizes(engine, &names).await;
        for v in &mut out {
            v.bytes = sizes.get(&v.name).copied();
        }
    }
    Ok(out)
}

/// The volumes a manifest's steps use (their first volume; private caches may have more).
pub fn manifest_volumes(manifest: &Manifest, client: &str) -> Vec<(String, CacheMount)> {
    let mut out: Vec<(String, CacheMount)> = Vec::new();
    for cache in manifest.steps.iter().flat_map(|s| &s.caches) {
        let name = volume_name(&scope(cache, client), &cache.id);
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, cache.clone()));
        }
    }
    out
}

/// Sizes of the volumes `names` in bytes, measured by `du` in a helper container made from
/// one of devenv's layer images (the engine's API 1.41 reports volume sizes only through
/// `system df`, whose format bollard no longer reads). Empty when no image can do it.
async fn sizes(engine: &Engine, names: &[String]) -> HashMap<String, u64> {
    match measure(engine, names).await {
        Ok(Some(sizes)) => sizes,
        Ok(None) | Err(_) => HashMap::new(),
    }
}

async fn measure(
    engine: &Engine,
    names: &[String],
) -> Result<Option<HashMap<String, u64>>, EngineError> {
    let images = engine
        .list_images(&[(labels::MANAGED, "true"), (labels::ROLE, "layer")])
        .await?;
    let Some(image) = images.first() else {
        return Ok(None);
    };
    let mounts = names
        .iter()
        .enumerate()
        .map(|(i, n)| Mount::Volume {
            name: n.clone(),
            target: format!("/devenv-cache/{i}"),
            read_only: true,
        })
        .collect();
    let spec = ContainerSpec {
        image: image.id.clone(),
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "cd /devenv-cache && du -sk *".into(),
        ],
        labels: HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::ROLE.to_owned(), ROLE.to_owned()),
        ]),
        mounts,
        network: Some("none".into()),
        user: Some("0:0".into()),
        ..ContainerSpec::default()
    };
    let id = engine.create_container(&spec).await?;
    let mut out = Vec::new();
    let status = engine
        .run_container(&id, |chunk| {
            if let crate::engine::ExecOutput::Stdout(b) = chunk {
                out.extend_from_slice(&b);
            }
        })
        .await;
    engine.remove_container(&id).await?;
    if status? != 0 {
        return Ok(None);
    }
    Ok(Some(parse_du(&String::from_utf8_lossy(&out), names)))
}

/// `du -sk` lines (`<KiB>\t<index>`) to sizes by volume name.
fn parse_du(text: &str, names: &[String]) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (kib, index) = l.split_once(char::is_whitespace)?;
            let name = names.get(index.trim().parse::<usize>().ok()?)?;
            Some((name.clone(), kib.trim().parse::<u64>().ok()? * 1024))
        })
        .collect()
}

/// Remove the client's cache volumes (and those of scope `engine` among `also`); returns
/// how many went and the bytes they held (as measured before).
pub async fn remove(
    engine: &Engine,
    client: &str,
    also: &[String],
) -> Result<(usize, u64), EngineError> {
    let found = list(engine, client, also, true).await?;
    let names: Vec<String> = found.iter().map(|v| v.name.clone()).collect();
    let removed = engine
        .remove_volumes(&[(labels::MANAGED, "true"), (labels::ROLE, ROLE)], &|n| {
            names.iter().any(|m| m == n)
        })
        .await?;
    let bytes = found
        .iter()
        .filter(|v| removed.iter().any(|(n, _)| *n == v.name))
        .filter_map(|v| v.bytes)
        .sum();
    Ok((removed.len(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_keyed_by_scope_and_id() {
        let a = volume_name("client-a", "/root/.cache/pip");
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 16, "{a}");
        assert_eq!(a, volume_name("client-a", "/root/.cache/pip"));
        assert_ne!(a, volume_name("client-b", "/root/.cache/pip"));
        assert_ne!(a, volume_name("client-a", "pip"));
        assert_ne!(a, volume_name("engine", "/root/.cache/pip"));
    }

    #[test]
    fn du_output_is_read_by_index() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let sizes = parse_du("4\t0\n2048\t1\nx\t2\n", &names);
        assert_eq!(sizes.get("a"), Some(&4096));
        assert_eq!(sizes.get("b"), Some(&(2048 * 1024)));
        assert_eq!(sizes.len(), 2);
    }

    #[test]
    fn quoting_keeps_one_word() {
        assert_eq!(quote("/a b"), "'/a b'");
        assert_eq!(quote("/it's"), r"'/it'\''s'");
    }
}

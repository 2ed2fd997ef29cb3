//! Pinning the services' images in `devenv.lock`, as the base is pinned: a registry
//! reference by its repo digest, a local image by its id, a rootfs tarball by its sha256.
//! A current lock is read without the engine (the warm path); resolving writes it.

use std::collections::BTreeMap;

use super::StackError;
use crate::engine::{Engine, EngineError};
use crate::fingerprint::{file_digest, StatCache};
use crate::image::base::ROOTFS_REPO;
use crate::image::LockMode;
use crate::manifest::lock::{LockEntry, LockFile, LockKind, LOCK_VERSION};
use crate::manifest::{Manifest, Platform, Service};

/// What a locked entry runs: `name@digest`, a local image id, or the imported rootfs.
pub fn run_ref(service: &Service, entry: &LockEntry) -> String {
    match (entry.kind, &service.image) {
        (LockKind::Registry, Some(image)) => format!("{}@{}", image.name, entry.digest),
        (LockKind::Rootfs, _) => format!(
            "{ROOTFS_REPO}:{}",
            entry.digest.trim_start_matches("sha256:")
        ),
        _ => entry.digest.clone(),
    }
}

/// The platform the services' images are pinned and pulled for: the environment's
/// (`--platform` / `[base] platform`), else the engine's.
async fn services_platform(engine: &Engine, manifest: &Manifest) -> Result<Platform, StackError> {
    if let Some(p) = &manifest.base.platform {
        return Ok(p.clone());
    }
    let raw = engine.platform().await?;
    Ok(Platform::normalise(&raw.os, &raw.arch, &raw.variant))
}

/// Whether a registry entry pins `platform`: one that pins other platforms only does not (a
/// local image or rootfs has one platform; an entry whose registry could not be read, or
/// written before platforms, names none and pins its digest for all).
fn pins_platform(entry: &LockEntry, platform: &Platform) -> bool {
    entry.kind != LockKind::Registry
        || entry.platforms.is_empty()
        || entry.platforms.contains_key(&platform.to_string())
}

/// Record `platform`'s manifest digest of a registry entry, read from the registry's index
/// (the platforms pinned before for the same digest are kept). A registry that cannot be
/// read leaves the entry without it (the image itself is pinned by its digest all the same).
async fn pin_platform(
    engine: &Engine,
    entry: &mut LockEntry,
    old: Option<&LockEntry>,
    platform: &Platform,
) {
    if entry.kind != LockKind::Registry {
        return;
    }
    if let Some(old) = old.filter(|o| o.digest == entry.digest) {
        entry.platforms.clone_from(&old.platforms);
    }
    let name = entry
        .image
        .as_deref()
        .and_then(|i| i.split_once('@'))
        .map_or(entry.reference.as_str(), |(n, _)| n)
        .to_owned();
    let digest = match engine
        .registry_manifest(&name, &entry.digest, crate::fingerprint::sha256_hex)
        .await
    {
        Ok(crate::engine::RegistryManifest::Index(list)) => list
            .into_iter()
            .find(|(raw, _)| Platform::normalise(&raw.os, &raw.arch, &raw.variant) == *platform)
            .map(|(_, d)| d),
        Ok(crate::engine::RegistryManifest::Single) => Some(entry.digest.clone()),
        Err(_) => None,
    };
    if let Some(d) = digest {
        entry.platforms.insert(platform.to_string(), d);
    }
}

/// Whether `entry` still pins what the manifest says for `service`.
fn is_current(
    manifest: &Manifest,
    service: &Service,
    entry: &LockEntry,
    cache: &mut StatCache,
) -> Result<bool, StackError> {
    if Some(entry.reference.as_str()) != service.reference() {
        return Ok(false);
    }
    if let Some(rel) = &service.rootfs {
        let digest = format!("sha256:{}", file_digest(cache, &manifest.root, rel)?);
        return Ok(digest == entry.digest);
    }
    if let Some(d) = service.image.as_ref().and_then(|i| i.digest.as_ref()) {
        return Ok(*d == entry.digest);
    }
    Ok(true)
}

/// The image each service with its own image runs, from a current lock without the
/// engine; a service whose entry is missing or stale is left out.
pub fn locked_images(
    manifest: &Manifest,
    lock: Option<&LockFile>,
    cache: &mut StatCache,
) -> Result<BTreeMap<String, String>, StackError> {
    let mut out = BTreeMap::new();
    let Some(lock) = lock else {
        return Ok(out);
    };
    for (name, service) in &manifest.services {
        let Some(entry) = lock.services.get(name) else {
            continue;
        };
        if is_current(manifest, service, entry, cache)? {
            out.insert(name.clone(), run_ref(service, entry));
        }
    }
    Ok(out)
}

/// Pin every service image per `mode` (writing the lock when allowed and needed) and make
/// each available locally; returns what each service runs.
pub async fn ensure(
    engine: &Engine,
    manifest: &Manifest,
    lock_path: &std::path::Path,
    mode: LockMode,
    cache: &mut StatCache,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, StackError> {
    // From reading the lock file to writing it: another devenv of this project (resolving
    // the base, or these pins) must not write its stale copy back over ours.
    let held = crate::image::NamedLock::acquire_for_file(lock_path)
        .await
        .map_err(|e| StackError::Locking(e.to_string()))?;
    let lock = LockFile::read(lock_path)?;
    let platform = services_platform(engine, manifest).await?;
    let mut entries: BTreeMap<String, LockEntry> = BTreeMap::new();
    let mut changed = false;
    for (name, service) in &manifest.services {
        if service.uses_environment_image() {
            continue;
        }
        let old = lock.as_ref().and_then(|l| l.services.get(name));
        let current = match old {
            Some(e) if mode != LockMode::Update => {
                is_current(manifest, service, e, cache)? && pins_platform(e, &platform)
            }
            _ => false,
        };
        if current {
            entries.insert(name.clone(), old.cloned().expect("checked above"));
            continue;
        }
        if mode == LockMode::Locked {
            let mut reference = service.reference().unwrap_or_default().to_owned();
            if old.is_some_and(|e| !pins_platform(e, &platform)) {
                reference = format!("{reference} for {platform}");
            }
            return Err(StackError::LockOutdated {
                file: crate::image::base::file_name(lock_path),
                service: name.clone(),
                reference,
            });
        }
        let mut entry = resolve(engine, manifest, name, service, &platform, cache).await?;
        pin_platform(engine, &mut entry, old, &platform).await;
        if old != Some(&entry) {
            changed = true;
            notes.push(format!(
                "pinned service {name}: {} → {}",
                entry.reference,
                crate::image::base::short(&entry.digest)
            ));
        }
        entries.insert(name.clone(), entry);
    }
    let dropped = lock
        .as_ref()
        .is_some_and(|l| l.services.keys().any(|k| !entries.contains_key(k)));
    if changed || dropped {
        // The base was resolved just before (by the build), so the lock exists.
        if let Some(mut lock) = lock {
            lock.services = entries.clone();
            lock.version = LOCK_VERSION;
            lock.write(lock_path)?;
        }
    }
    drop(held);
    let mut out = BTreeMap::new();
    for (name, entry) in &entries {
        let service = &manifest.services[name];
        out.insert(
            name.clone(),
            available(engine, manifest, name, service, entry, &platform).await?,
        );
    }
    Ok(out)
}

/// Resolve a service's image from scratch.
async fn resolve(
    engine: &Engine,
    manifest: &Manifest,
    name: &str,
    service: &Service,
    platform: &Platform,
    cache: &mut StatCache,
) -> Result<LockEntry, StackError> {
    if let Some(rel) = &service.rootfs {
        let digest = format!("sha256:{}", file_digest(cache, &manifest.root, rel)?);
        return Ok(LockEntry {
            platforms: std::collections::BTreeMap::new(),
            reference: rel.clone(),
            kind: LockKind::Rootfs,
            digest,
            image: None,
        });
    }
    let r = service
        .image
        .as_ref()
        .expect("a service with its own image");
    let lookup = r
        .digest
        .as_ref()
        .map_or_else(|| r.name_and_tag(), |d| format!("{}@{d}", r.name));
    let mut found = engine.image(&lookup).await?;
    let mut pull_error = None;
    if found.is_none() && !r.raw.starts_with("sha256:") {
        let pull = if r.digest.is_some() || r.tag.is_some() {
            lookup.clone()
        } else {
            format!("{}:latest", r.name)
        };
        match engine.pull_platform(&pull, &platform.to_string()).await {
            Ok(()) => found = engine.image(&pull).await?,
            // The engine itself went away: that, not the image, is the error (exit 3).
            Err(e @ EngineError::Unreachable { .. }) => return Err(e.into()),
            Err(e) => pull_error = Some(e),
        }
    }
    let Some(img) = found else {
        // Say why the pull failed (unauthorized, not found, network…) and what fixes it.
        let (reason, fix) = match &pull_error {
            Some(e) => (format!("not present locally, and {e}"), e.hint()),
            None => ("not present locally".to_owned(), None),
        };
        return Err(StackError::ImageUnavailable {
            service: name.to_owned(),
            reference: r.raw.clone(),
            reason,
            fix,
        });
    };
    let strip = |n: &str| {
        let n = n.strip_prefix("docker.io/").unwrap_or(n);
        n.strip_prefix("library/").unwrap_or(n).to_owned()
    };
    let repo_digest = img
        .repo_digests
        .iter()
        .find(|d| d.split('@').next().map(strip) == Some(strip(&r.name)))
        .and_then(|d| d.split_once('@'))
        .map(|(_, d)| d.to_owned());
    Ok(match (r.digest.clone(), repo_digest) {
        (Some(d), _) | (None, Some(d)) => LockEntry {
            platforms: std::collections::BTreeMap::new(),
            reference: r.raw.clone(),
            kind: LockKind::Registry,
            image: Some(format!("{}@{d}", r.name)),
            digest: d.clone(),
        },
        (None, None) => LockEntry {
            platforms: std::collections::BTreeMap::new(),
            reference: r.raw.clone(),
            kind: LockKind::Local,
            digest: img.id,
            image: None,
        },
    })
}

/// Make a pinned image available: a pinned image that cannot be found is an error, never a
/// silent re-resolve.
async fn available(
    engine: &Engine,
    manifest: &Manifest,
    name: &str,
    service: &Service,
    entry: &LockEntry,
    platform: &Platform,
) -> Result<String, StackError> {
    let reference = run_ref(service, entry);
    // A copy present for another platform is used as it is: Docker 20.10 keeps one image per
    // digest reference and refuses to pull another platform's over it.
    if engine.image(&reference).await?.is_some() {
        return Ok(reference);
    }
    let missing = |reason: String, fix: Option<String>| StackError::ImageUnavailable {
        service: name.to_owned(),
        reference: format!("{} ({})", entry.reference, entry.digest),
        reason,
        fix,
    };
    match (&service.rootfs, entry.kind) {
        (Some(rel), _) => {
            // The same verified, streamed import as the base's rootfs.
            crate::image::base::import_rootfs(engine, manifest, rel, &entry.digest)
                .await
                .map_err(|e| missing(e.to_string(), None))?;
            Ok(reference)
        }
        (None, LockKind::Registry) => {
            engine
                .pull_platform(&reference, &platform.to_string())
                .await
                .map_err(|e| missing(e.to_string(), e.hint()))?;
            Ok(reference)
        }
        _ => Err(missing("no local image has this id".into(), None)),
    }
}

//! Resolving `[base]` to a pinned identity through `devenv.lock`.

use std::path::Path;

use super::{BuildError, Reporter};
use crate::engine::{labels, Engine};
use crate::fingerprint::{file_digest, StatCache};
use crate::manifest::lock::{LockEntry, LockFile, LockKind, LOCK_VERSION};
use crate::manifest::{BaseSource, ImageRef, Manifest, Platform, PullPolicy};

/// How a command may treat `devenv.lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Create it when missing; re-resolve only an entry whose reference changed.
    Normal,
    /// Any change to the lock is an error (CI).
    Locked,
    /// Re-resolve on purpose.
    Update,
}

/// The base, pinned: its identity (part of the hash) and how to reach the image locally.
#[derive(Debug, Clone)]
pub struct ResolvedBase {
    pub entry: LockEntry,
    /// The platform the base was resolved for (part of the hash).
    pub platform: Platform,
    /// Reference or id to create containers from; `None` until made available (a current
    /// lock is taken without asking the engine: nothing needs the base image unless a layer
    /// has to be built).
    pub image: Option<String>,
}

impl ResolvedBase {
    /// The base image, made available locally (pulled or imported) if it is not yet.
    pub async fn image(
        &mut self,
        engine: &Engine,
        manifest: &Manifest,
        reporter: &mut dyn Reporter,
    ) -> Result<String, BuildError> {
        if let Some(image) = &self.image {
            return Ok(image.clone());
        }
        let image = ensure_pinned(engine, manifest, &self.entry, &self.platform, reporter).await?;
        self.image = Some(image.clone());
        Ok(image)
    }
}

/// Repository used for imported root filesystems.
pub const ROOTFS_REPO: &str = "devenv/rootfs";

fn reference_of(manifest: &Manifest) -> String {
    match &manifest.base.source {
        BaseSource::Image(r) => r.raw.clone(),
        BaseSource::Rootfs(p) => p.clone(),
    }
}

/// The platform to build for: `[base] platform` (or `--platform`), else the engine's.
pub async fn target_platform(engine: &Engine, manifest: &Manifest) -> Result<Platform, BuildError> {
    if let Some(p) = &manifest.base.platform {
        return Ok(p.clone());
    }
    let raw = engine.platform().await?;
    Ok(Platform::normalise(&raw.os, &raw.arch, &raw.variant))
}

/// The platform an image of the engine records, normalised.
fn platform_of(raw: &crate::engine::RawPlatform) -> Platform {
    Platform::normalise(&raw.os, &raw.arch, &raw.variant)
}

/// The lock's entry when it still pins the manifest's base (for whichever platforms), without
/// any engine work. A rootfs is hashed here so that a changed tarball counts as a changed
/// reference.
pub fn matching_entry(
    manifest: &Manifest,
    lock_path: &Path,
    cache: &mut StatCache,
) -> Result<Option<LockEntry>, BuildError> {
    let Some(lock) = LockFile::read(lock_path)? else {
        return Ok(None);
    };
    if lock.base.reference != reference_of(manifest) {
        return Ok(None);
    }
    if let BaseSource::Rootfs(rel) = &manifest.base.source {
        let digest = format!("sha256:{}", file_digest(cache, &manifest.root, rel)?);
        if digest != lock.base.digest {
            return Ok(None);
        }
    }
    if let BaseSource::Image(ImageRef {
        digest: Some(d), ..
    }) = &manifest.base.source
    {
        if *d != lock.base.digest {
            return Ok(None);
        }
    }
    Ok(Some(lock.base))
}

/// The lock entry and platform that apply without any engine work, if the lock is current
/// for `platform` (else `[base] platform` / `--platform`, else the one platform the lock
/// pins; a lock pinning several cannot tell which is meant without the engine).
pub fn current_entry(
    manifest: &Manifest,
    lock_path: &Path,
    cache: &mut StatCache,
    platform: Option<&Platform>,
) -> Result<Option<(LockEntry, Platform)>, BuildError> {
    let Some(entry) = matching_entry(manifest, lock_path, cache)? else {
        return Ok(None);
    };
    let wanted = match platform.or(manifest.base.platform.as_ref()) {
        Some(p) => p.clone(),
        None => match entry.platforms.keys().collect::<Vec<_>>().as_slice() {
            [only] => Platform::parse(only).map_err(|message| BuildError::Io {
                what: file_name(lock_path),
                message,
            })?,
            _ => return Ok(None),
        },
    };
    if !entry.platforms.contains_key(&wanted.to_string()) {
        return Ok(None);
    }
    Ok(Some((entry, wanted)))
}

/// The platforms an entry pins, for messages.
pub fn pinned_platforms(entry: &LockEntry) -> String {
    if entry.platforms.is_empty() {
        return "no platform (a lock written before devenv recorded platforms)".into();
    }
    entry
        .platforms
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolve the base per `mode`, writing the lock when allowed and needed. A fresh resolution
/// leaves the image available locally; a current lock is taken as it is.
pub async fn resolve(
    engine: &Engine,
    manifest: &Manifest,
    lock_path: &Path,
    mode: LockMode,
    cache: &mut StatCache,
    reporter: &mut dyn Reporter,
) -> Result<ResolvedBase, BuildError> {
    let platform = target_platform(engine, manifest).await?;
    let matching = if mode == LockMode::Update {
        None
    } else {
        matching_entry(manifest, lock_path, cache)?
    };
    if let Some(entry) = &matching {
        if entry.platforms.contains_key(&platform.to_string()) {
            return Ok(ResolvedBase {
                entry: entry.clone(),
                platform,
                image: None,
            });
        }
    }
    let existed = lock_path.exists();
    if mode == LockMode::Locked {
        if let Some(entry) = matching {
            return Err(BuildError::LockLacksPlatform {
                file: file_name(lock_path),
                reference: entry.reference.clone(),
                platform: platform.to_string(),
                have: pinned_platforms(&entry),
            });
        }
        return Err(BuildError::LockOutdated {
            file: file_name(lock_path),
            missing: !existed,
            reference: reference_of(manifest),
        });
    }
    let _held = super::NamedLock::acquire_for_file(lock_path).await?;
    let old = LockFile::read(lock_path).ok().flatten();
    let fresh = Fresh {
        mode,
        platform: &platform,
        keep: matching.as_ref(),
        old: old.as_ref().map(|l| &l.base),
    };
    let (entry, image) = match resolve_fresh(engine, manifest, &fresh, cache, reporter).await {
        Ok(resolved) => resolved,
        // An update that fails moves nothing, and says so.
        Err(e) if mode == LockMode::Update && old.is_some() => {
            return Err(BuildError::LockKept {
                file: file_name(lock_path),
                digest: short(&old.map(|l| l.base.digest).unwrap_or_default()),
                source: Box::new(e),
            })
        }
        Err(e) => return Err(e),
    };
    let lock = LockFile {
        version: LOCK_VERSION,
        base: entry.clone(),
        // The services' pins are resolved apart (by the stack) and kept here.
        services: old.as_ref().map(|l| l.services.clone()).unwrap_or_default(),
        // So is the Ansible controller's (`image::ansible`).
        ansible: old.as_ref().and_then(|l| l.ansible.clone()),
    };
    if old.as_ref() != Some(&lock) {
        lock.write(lock_path)?;
        let file = file_name(lock_path);
        reporter.note(&format!(
            "{} {file}: base {} → {} ({})",
            if existed { "updated" } else { "wrote" },
            entry.reference,
            short(&entry.digest),
            pinned_platforms(&entry),
        ));
    }
    Ok(ResolvedBase {
        entry,
        platform,
        image: Some(image),
    })
}

/// What a fresh resolution is for.
struct Fresh<'a> {
    mode: LockMode,
    platform: &'a Platform,
    /// The lock's entry, still the manifest's base, which lacks `platform`: the platform is
    /// added to it, the base does not move.
    keep: Option<&'a LockEntry>,
    /// The lock's entry before (whatever it pins): an update keeps its platforms.
    old: Option<&'a LockEntry>,
}

/// Make a locked base available locally; a pinned base that cannot be found is an error,
/// never a silent re-resolve.
async fn ensure_pinned(
    engine: &Engine,
    manifest: &Manifest,
    entry: &LockEntry,
    platform: &Platform,
    reporter: &mut dyn Reporter,
) -> Result<String, BuildError> {
    match (&manifest.base.source, entry.kind) {
        (BaseSource::Rootfs(rel), _) => import_rootfs(engine, manifest, rel, &entry.digest).await,
        (BaseSource::Image(r), LockKind::Registry) => {
            // The platform's own manifest: an index digest names every platform's image, and
            // the engine keeps one image per name.
            let digest = entry
                .platforms
                .get(&platform.to_string())
                .unwrap_or(&entry.digest);
            let pinned = format!("{}@{digest}", r.name);
            let present = match engine.image_platform(&pinned).await? {
                Some(p) => platform_of(&p) == *platform || *digest != entry.digest,
                None => false,
            };
            if !present || manifest.base.pull == PullPolicy::Always {
                if manifest.base.pull == PullPolicy::Never && !present {
                    return Err(BuildError::PinnedBaseMissing {
                        image: format!("{pinned} ({platform})"),
                        reason: "not present locally and base.pull = \"never\"".into(),
                    });
                }
                reporter.note(&format!("pulling {pinned} ({platform})"));
                let scoped = cache_scoped(engine, manifest);
                if let Err(e) = pull_for(&scoped, &pinned, platform).await {
                    if matches!(e, BuildError::Interrupted) {
                        return Err(e);
                    }
                    if !present {
                        return Err(BuildError::PinnedBaseMissing {
                            image: pinned,
                            reason: unwrap_engine(e),
                        });
                    }
                }
            }
            Ok(pinned)
        }
        (BaseSource::Image(_), _) => match engine.image(&entry.digest).await? {
            Some(img) => Ok(img.id),
            None => Err(BuildError::PinnedBaseMissing {
                image: format!("{} ({})", entry.reference, entry.digest),
                reason: "no local image has this id".into(),
            }),
        },
    }
}

/// The engine for pulling the base: the `DEVENV_REGISTRY_*` credentials go along only
/// when the base is on the registry cache's host.
fn cache_scoped(engine: &Engine, manifest: &Manifest) -> Engine {
    engine.for_cache(manifest.cache.as_ref().map(|c| c.registry.as_str()))
}

/// Resolve the manifest's base from scratch (or add a platform to the lock's entry).
async fn resolve_fresh(
    engine: &Engine,
    manifest: &Manifest,
    fresh: &Fresh<'_>,
    cache: &mut StatCache,
    reporter: &mut dyn Reporter,
) -> Result<(LockEntry, String), BuildError> {
    let platform = fresh.platform;
    match &manifest.base.source {
        BaseSource::Rootfs(rel) => {
            let digest = format!("sha256:{}", file_digest(cache, &manifest.root, rel)?);
            let image = import_rootfs(engine, manifest, rel, &digest).await?;
            // A tarball holds one platform's files: the one it is declared as.
            let entry = LockEntry {
                reference: rel.clone(),
                kind: LockKind::Rootfs,
                digest: digest.clone(),
                image: None,
                platforms: [(platform.to_string(), digest)].into(),
            };
            Ok((entry, image))
        }
        BaseSource::Image(r) => {
            let (mut entry, image) = if let Some(keep) = fresh.keep {
                (keep.clone(), None)
            } else {
                let (entry, image) =
                    resolve_image(engine, manifest, r, fresh.mode, platform, reporter).await?;
                (entry, Some(image))
            };
            let image = if entry.kind == LockKind::Registry {
                pin_platforms(engine, manifest, r, &mut entry, fresh, reporter).await?
            } else {
                pin_local(engine, r, &mut entry, platform).await?;
                image.unwrap_or_else(|| entry.digest.clone())
            };
            Ok((entry, image))
        }
    }
}

/// A local image has one platform: the one asked for, or it cannot be the base.
async fn pin_local(
    engine: &Engine,
    r: &ImageRef,
    entry: &mut LockEntry,
    platform: &Platform,
) -> Result<(), BuildError> {
    let id = entry.digest.clone();
    let actual = engine.image_platform(&id).await?.map(|p| platform_of(&p));
    if actual.as_ref() != Some(platform) {
        return Err(BuildError::BaseUnavailable {
            reference: r.raw.clone(),
            reason: format!(
                "the local image {} is {}, not {platform} (a local image has one platform)",
                short(&id),
                actual.map_or_else(|| "gone".into(), |p| p.to_string())
            ),
        });
    }
    entry.platforms = [(platform.to_string(), id)].into();
    Ok(())
}

/// Record the per-platform manifest digests of a registry base (read from the registry's
/// index): `platform`'s, and those the lock pinned before that the index still has. Makes
/// `platform`'s image available; returns its reference.
async fn pin_platforms(
    engine: &Engine,
    manifest: &Manifest,
    r: &ImageRef,
    entry: &mut LockEntry,
    fresh: &Fresh<'_>,
    reporter: &mut dyn Reporter,
) -> Result<String, BuildError> {
    let platform = fresh.platform;
    let scoped = cache_scoped(engine, manifest);
    let unavailable = |reason: String| BuildError::BaseUnavailable {
        reference: r.raw.clone(),
        reason,
    };
    let index = scoped
        .registry_manifest(&r.name, &entry.digest, crate::fingerprint::sha256_hex)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let mut platforms = std::collections::BTreeMap::new();
    let wanted = match index {
        crate::engine::RegistryManifest::Index(list) => {
            for (raw, digest) in list {
                platforms
                    .entry(platform_of(&raw).to_string())
                    .or_insert(digest);
            }
            platforms
                .get(&platform.to_string())
                .cloned()
                .ok_or_else(|| {
                    unavailable(format!(
                        "its image index {} has no {platform} image (it has {})",
                        short(&entry.digest),
                        platforms.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?
        }
        crate::engine::RegistryManifest::Single => {
            let pinned = format!("{}@{}", r.name, entry.digest);
            if engine.image_platform(&pinned).await?.is_none() {
                pull_for(&scoped, &pinned, platform).await?;
            }
            let actual = engine
                .image_platform(&pinned)
                .await?
                .map(|p| platform_of(&p));
            if actual.as_ref() != Some(platform) {
                return Err(unavailable(format!(
                    "{pinned} is one image of {}, not a {platform} one",
                    actual.map_or_else(|| "no known platform".into(), |p| p.to_string())
                )));
            }
            platforms.insert(platform.to_string(), entry.digest.clone());
            entry.digest.clone()
        }
    };
    // Keep what was pinned before (the same digest, or the platforms an update moves).
    let before: Vec<String> = fresh
        .keep
        .or(fresh.old.filter(|o| o.reference == entry.reference))
        .map(|e| e.platforms.keys().cloned().collect())
        .unwrap_or_default();
    let mut kept = std::collections::BTreeMap::new();
    for p in before.iter().chain(std::iter::once(&platform.to_string())) {
        match platforms.get(p) {
            Some(d) => {
                kept.insert(p.clone(), d.clone());
            }
            None => reporter.warn(&format!(
                "{} has no {p} image any more: the lock no longer pins that platform",
                r.raw
            )),
        }
    }
    entry.platforms = kept;
    let pinned = format!("{}@{wanted}", r.name);
    let present = engine
        .image_platform(&pinned)
        .await?
        .is_some_and(|p| platform_of(&p) == *platform || wanted != entry.digest);
    if !present {
        if manifest.base.pull == PullPolicy::Never {
            return Err(unavailable(format!(
                "{pinned} ({platform}) is not present locally and base.pull = \"never\""
            )));
        }
        reporter.note(&format!("pulling {pinned} ({platform})"));
        pull_for(&scoped, &pinned, platform)
            .await
            .map_err(|e| unavailable(format!("the pull failed: {}", unwrap_engine(e))))?;
    }
    Ok(pinned)
}

async fn resolve_image(
    engine: &Engine,
    manifest: &Manifest,
    r: &ImageRef,
    mode: LockMode,
    platform: &Platform,
    reporter: &mut dyn Reporter,
) -> Result<(LockEntry, String), BuildError> {
    let lookup = r
        .digest
        .as_ref()
        .map_or_else(|| r.name_and_tag(), |d| format!("{}@{d}", r.name));
    let mut found = engine.image(&lookup).await?;
    // A local copy of another platform does not count (the engine keeps one per name).
    if found.is_some() && !is_local_id(&r.raw) {
        let actual = engine.image_platform(&lookup).await?;
        if actual.is_some_and(|p| platform_of(&p) != *platform) {
            found = None;
        }
    }
    // `lock --update` asks the registry what the reference is now (unless told never to):
    // a local copy of the tag may be older than the registry's.
    let update = mode == LockMode::Update && manifest.base.pull != PullPolicy::Never;
    let want_pull = manifest.base.pull == PullPolicy::Always
        || update
        || (found.is_none() && manifest.base.pull == PullPolicy::Missing);
    if want_pull && !is_local_id(&r.raw) {
        let pull_ref = if r.digest.is_some() || r.tag.is_some() {
            lookup.clone()
        } else {
            format!("{}:latest", r.name)
        };
        reporter.note(&format!("pulling {pull_ref} ({platform})"));
        match pull_for(&cache_scoped(engine, manifest), &pull_ref, platform).await {
            Ok(()) => found = engine.image(&pull_ref).await?,
            Err(BuildError::Interrupted) => return Err(BuildError::Interrupted),
            // Never a silent pin of an older local copy when an update was asked for.
            Err(e) if found.is_none() || update => {
                return Err(BuildError::BaseUnavailable {
                    reference: r.raw.clone(),
                    reason: format!("the pull failed: {}", unwrap_engine(e)),
                })
            }
            Err(_) => {}
        }
    }
    let Some(img) = found else {
        return Err(BuildError::BaseUnavailable {
            reference: r.raw.clone(),
            reason: "not present locally".into(),
        });
    };
    let repo_digest = img
        .repo_digests
        .iter()
        // Only a digest of this very repository pins it: an image tagged under several
        // names carries the others' digests too, and those do not resolve under ours.
        .find(|d| d.split('@').next().map(normalise_repo) == Some(normalise_repo(&r.name)))
        .and_then(|d| d.split_once('@'))
        .map(|(_, digest)| digest.to_owned());
    let entry = match (&r.digest, repo_digest) {
        (Some(d), _) => registry_entry(r, d),
        (None, Some(d)) if !is_local_id(&r.raw) => registry_entry(r, &d),
        _ => LockEntry {
            reference: r.raw.clone(),
            kind: LockKind::Local,
            digest: img.id.clone(),
            image: None,
            platforms: std::collections::BTreeMap::new(),
        },
    };
    let image = match entry.kind {
        LockKind::Registry => format!("{}@{}", r.name, entry.digest),
        _ => img.id,
    };
    Ok((entry, image))
}

fn registry_entry(r: &ImageRef, digest: &str) -> LockEntry {
    LockEntry {
        reference: r.raw.clone(),
        kind: LockKind::Registry,
        digest: digest.to_owned(),
        image: Some(format!("{}@{digest}", r.name)),
        platforms: std::collections::BTreeMap::new(),
    }
}

/// `docker.io/library/debian` and `debian` are one repository.
fn normalise_repo(name: &str) -> &str {
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name)
}

fn is_local_id(raw: &str) -> bool {
    raw.starts_with("sha256:")
}

/// Import the rootfs tarball unless an image for its digest already exists.
pub(crate) async fn import_rootfs(
    engine: &Engine,
    manifest: &Manifest,
    rel: &str,
    digest: &str,
) -> Result<String, BuildError> {
    let tag = digest.trim_start_matches("sha256:");
    let reference = format!("{ROOTFS_REPO}:{tag}");
    if let Some(img) = engine.image(&reference).await? {
        // Imported before as another platform (the same tarball, declared otherwise): again.
        let other = match (
            &manifest.base.platform,
            engine.image_platform(&reference).await?,
        ) {
            (Some(wanted), Some(raw)) => !platform_of(&raw).native_on(wanted),
            _ => false,
        };
        if !other {
            return Ok(img.id);
        }
    }
    let path = manifest.root.join(rel);
    std::fs::metadata(&path).map_err(|e| BuildError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    let identity = super::project_identity(manifest);
    let labels = [
        (labels::MANAGED, "true"),
        (labels::ROLE, "base"),
        (labels::PROJECT, manifest.name.as_str()),
        (labels::PROJECT_ID, identity.as_str()),
    ];
    // Streamed under a name of its own, and named by its digest only once every byte sent
    // proved to be the hashed one: the engine may finish the import before it sees the
    // stream fail.
    let incoming = format!("incoming-{tag}-{}", std::process::id());
    let foreign = match &manifest.base.platform {
        Some(p) if !p.native_on(&target_platform_of_engine(engine).await?) => Some(p.clone()),
        _ => None,
    };
    let imported = if let Some(platform) = foreign {
        // `docker import` records the engine's architecture whatever the tarball holds (and
        // ignores `--platform` on Docker 20.10): load an image whose config says it.
        let diff_id = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || uncompressed_digest(&path))
                .await
                .map_err(|e| BuildError::Io {
                    what: "reading the rootfs".into(),
                    message: e.to_string(),
                })??
        };
        let (body, verdict) =
            foreign_archive(&path, digest, &diff_id, &platform, &labels, &incoming);
        let loaded = engine.load_images(body).await;
        (loaded, verdict)
    } else {
        let (body, verdict) = super::archive::verified_file(&path, digest);
        let imported = engine
            .import_rootfs(body, ROOTFS_REPO, &incoming, &labels)
            .await;
        (imported.map(|id| vec![id]), verdict)
    };
    let (imported, verdict) = imported;
    let imported = match imported {
        Ok(_) => engine
            .image(&format!("{ROOTFS_REPO}:{incoming}"))
            .await
            .and_then(|i| {
                i.map(|i| i.id).ok_or(crate::engine::EngineError::NotFound {
                    what: "imported image",
                    name: format!("{ROOTFS_REPO}:{incoming}"),
                })
            }),
        Err(e) => Err(e),
    };
    let verdict = verdict.await.map_err(|e| BuildError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    });
    let incoming = format!("{ROOTFS_REPO}:{incoming}");
    let outcome = match (verdict, imported) {
        (Ok(Ok(())), Ok(id)) => engine.tag(&id, ROOTFS_REPO, tag).await.map(|()| id),
        (Ok(Ok(())), Err(e)) => Err(e),
        (Ok(Err(e)) | Err(e), _) => {
            let _ = engine.remove_image(&incoming).await;
            return Err(e);
        }
    };
    engine.remove_image(&incoming).await?;
    Ok(outcome?)
}

async fn target_platform_of_engine(engine: &Engine) -> Result<Platform, BuildError> {
    let raw = engine.platform().await?;
    Ok(platform_of(&raw))
}

/// sha256 of a rootfs tarball's uncompressed bytes (its diff id): a gzip tarball is
/// decompressed; other compressions are refused (only `docker import` reads those).
fn uncompressed_digest(path: &Path) -> Result<String, BuildError> {
    let io = |e: std::io::Error| BuildError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    };
    let mut file = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let head = std::io::BufRead::fill_buf(&mut file).map_err(io)?.to_vec();
    let mut reader: Box<dyn std::io::Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if head.len() > 262 && &head[257..262] == b"ustar" || head.is_empty() {
        Box::new(file)
    } else {
        return Err(BuildError::Io {
            what: path.display().to_string(),
            message: "a rootfs of another platform than the engine's must be a tar or tar.gz \
                      (other compressions are read by `docker import` only, which records the \
                      engine's platform)"
                .into(),
        });
    };
    let mut diff = crate::fingerprint::StreamDigest::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut reader, &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        diff.update(&buf[..n]);
    }
    Ok(diff.finish())
}

/// The image archive of a rootfs tarball of another platform than the engine's: its config
/// names the platform, its layer is the tarball (diff id: `diff_id`, its uncompressed
/// sha256).
fn foreign_archive(
    path: &Path,
    digest: &str,
    diff_id: &str,
    platform: &Platform,
    labels: &[(&str, &str)],
    incoming: &str,
) -> (crate::stream::Body, super::archive::Verdict) {
    let label_map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let mut config = serde_json::json!({
        "architecture": platform.arch,
        "os": platform.os,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": label_map,
        },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
        "history": [{ "created_by": "imported by devenv" }],
    });
    if let Some(v) = &platform.variant {
        config["variant"] = serde_json::Value::from(v.as_str());
    }
    let config = config.to_string().into_bytes();
    let config_name = format!("{}.json", crate::fingerprint::sha256_hex(&config));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [format!("{ROOTFS_REPO}:{incoming}")],
        "Layers": ["layer/layer.tar"],
    }])
    .to_string()
    .into_bytes();
    super::archive::verified_image_archive(path, digest, (config_name, config), manifest)
}

/// Pull `platform` of `reference`, ended by Ctrl-C.
async fn pull_for(engine: &Engine, reference: &str, platform: &Platform) -> Result<(), BuildError> {
    let platform = platform.to_string();
    super::interrupt::or_interrupted(async {
        Ok(engine.pull_platform(reference, &platform).await?)
    })
    .await
}

/// The engine's message of a pull error.
fn unwrap_engine(e: BuildError) -> String {
    match e {
        BuildError::Engine(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// The lock file's name, for messages.
pub fn file_name(lock_path: &Path) -> String {
    lock_path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// `sha256:abcdef123456` → `sha256:abcdef123456` (first 12 hex).
pub fn short(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", super::head(hex, 12))
}

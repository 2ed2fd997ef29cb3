//! Resolving `[base]` to a pinned identity through `devenv.lock`.

use std::path::Path;

use super::{BuildError, Reporter};
use crate::engine::{labels, Engine};
use crate::fingerprint::{file_digest, StatCache};
use crate::manifest::lock::{LockEntry, LockFile, LockKind, LOCK_VERSION};
use crate::manifest::{BaseSource, ImageRef, Manifest, PullPolicy};

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
        let image = ensure_pinned(engine, manifest, &self.entry, reporter).await?;
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

/// The lock entry that applies without any engine work, if the lock is current. A rootfs
/// is hashed here so that a changed tarball counts as a changed reference.
pub fn current_entry(
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
    let current = if mode == LockMode::Update {
        None
    } else {
        current_entry(manifest, lock_path, cache)?
    };
    if let Some(entry) = current {
        return Ok(ResolvedBase { entry, image: None });
    }
    let existed = lock_path.exists();
    if mode == LockMode::Locked {
        return Err(BuildError::LockOutdated {
            file: file_name(lock_path),
            missing: !existed,
            reference: reference_of(manifest),
        });
    }
    let (entry, image) = resolve_fresh(engine, manifest, cache, reporter).await?;
    let lock = LockFile {
        version: LOCK_VERSION,
        base: entry.clone(),
    };
    let old = LockFile::read(lock_path).ok().flatten();
    if old.as_ref() != Some(&lock) {
        lock.write(lock_path)?;
        let file = file_name(lock_path);
        reporter.note(&format!(
            "{} {file}: base {} → {}",
            if existed { "updated" } else { "wrote" },
            entry.reference,
            short(&entry.digest)
        ));
    }
    Ok(ResolvedBase {
        entry,
        image: Some(image),
    })
}

/// Make a locked base available locally; a pinned base that cannot be found is an error,
/// never a silent re-resolve.
async fn ensure_pinned(
    engine: &Engine,
    manifest: &Manifest,
    entry: &LockEntry,
    reporter: &mut dyn Reporter,
) -> Result<String, BuildError> {
    match (&manifest.base.source, entry.kind) {
        (BaseSource::Rootfs(rel), _) => import_rootfs(engine, manifest, rel, &entry.digest).await,
        (BaseSource::Image(r), LockKind::Registry) => {
            let pinned = format!("{}@{}", r.name, entry.digest);
            let present = engine.image(&pinned).await?.is_some();
            if !present || manifest.base.pull == PullPolicy::Always {
                if manifest.base.pull == PullPolicy::Never && !present {
                    return Err(BuildError::PinnedBaseMissing {
                        image: pinned,
                        reason: "not present locally and base.pull = \"never\"".into(),
                    });
                }
                reporter.note(&format!("pulling {pinned}"));
                if let Err(e) = cache_scoped(engine, manifest).pull(&pinned, |_| {}).await {
                    if !present {
                        return Err(BuildError::PinnedBaseMissing {
                            image: pinned,
                            reason: e.to_string(),
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

/// Resolve the manifest's base from scratch.
async fn resolve_fresh(
    engine: &Engine,
    manifest: &Manifest,
    cache: &mut StatCache,
    reporter: &mut dyn Reporter,
) -> Result<(LockEntry, String), BuildError> {
    match &manifest.base.source {
        BaseSource::Rootfs(rel) => {
            let digest = format!("sha256:{}", file_digest(cache, &manifest.root, rel)?);
            let image = import_rootfs(engine, manifest, rel, &digest).await?;
            let entry = LockEntry {
                reference: rel.clone(),
                kind: LockKind::Rootfs,
                digest,
                image: None,
            };
            Ok((entry, image))
        }
        BaseSource::Image(r) => resolve_image(engine, manifest, r, reporter).await,
    }
}

async fn resolve_image(
    engine: &Engine,
    manifest: &Manifest,
    r: &ImageRef,
    reporter: &mut dyn Reporter,
) -> Result<(LockEntry, String), BuildError> {
    let lookup = r
        .digest
        .as_ref()
        .map_or_else(|| r.name_and_tag(), |d| format!("{}@{d}", r.name));
    let mut found = engine.image(&lookup).await?;
    let want_pull = manifest.base.pull == PullPolicy::Always
        || (found.is_none() && manifest.base.pull == PullPolicy::Missing);
    if want_pull && !is_local_id(&r.raw) {
        let pull_ref = if r.digest.is_some() || r.tag.is_some() {
            lookup.clone()
        } else {
            format!("{}:latest", r.name)
        };
        reporter.note(&format!("pulling {pull_ref}"));
        match cache_scoped(engine, manifest).pull(&pull_ref, |_| {}).await {
            Ok(()) => found = engine.image(&pull_ref).await?,
            Err(e) if found.is_none() => {
                return Err(BuildError::BaseUnavailable {
                    reference: r.raw.clone(),
                    reason: e.to_string(),
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
async fn import_rootfs(
    engine: &Engine,
    manifest: &Manifest,
    rel: &str,
    digest: &str,
) -> Result<String, BuildError> {
    let tag = digest.trim_start_matches("sha256:");
    let reference = format!("{ROOTFS_REPO}:{tag}");
    if let Some(img) = engine.image(&reference).await? {
        return Ok(img.id);
    }
    let path = manifest.root.join(rel);
    let bytes = tokio::fs::read(&path).await.map_err(|e| BuildError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    let got = format!("sha256:{}", crate::fingerprint::sha256_hex(&bytes));
    if got != digest {
        return Err(BuildError::Io {
            what: path.display().to_string(),
            message: "changed while it was being read".into(),
        });
    }
    let labels = [
        (labels::MANAGED, "true"),
        (labels::ROLE, "base"),
        (labels::PROJECT, manifest.name.as_str()),
    ];
    Ok(engine
        .import_rootfs(bytes, ROOTFS_REPO, tag, &labels)
        .await?)
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
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

//! The manifest's bind volumes (`./data:/data`, `./app.yml:/etc/app.yml:ro`) on an engine
//! that cannot see this machine's files (volume mode).
//!
//! - A directory source becomes a named volume on the engine, mounted at the target
//!   (read-only when asked) and kept an exact copy of the source: `.gitignore` does not
//!   apply (a bind shows everything), only the default ignores do. Like a bind, it never
//!   shows what the image has at the target (`Mount::Synced`: no copy-up).
//! - A file source is copied into the container at its target, and again whenever it
//!   changed. A read-only one (and every file of a service) lives in a volume of its own
//!   mounted at a hidden path, with a symlink at the target.
//!
//! What was sent into a volume is kept per volume (its nonce, [`labels::NONCE`], set when
//! devenv creates it), not per container: the volume outlives its containers (a recreate,
//! `down` without `--volumes`), so the next container's sync sends only what changed and
//! what the containers wrote there (a database in `./data`) stays, as it would on the
//! host with a real bind. Containers sharing a volume share its state and take turns.
//!
//! Each is synced with the workspace (before every `run`, `shell` and hook, and by `watch`).
//! A read-only volume cannot be written through the environment container, so a helper
//! container from the same image, with the volume mounted read-write, does it: created,
//! started (an idle shell, as the host user) only when something must be deleted or
//! checked, uploaded into (the engine mounts a created container's volumes for that) and
//! removed. Either way the writes follow the workspace's rules ([`write`]).

mod write;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::write::Writer;

use crate::engine::{labels, ContainerInfo, Engine, Mount};
use crate::manifest::{Manifest, VolumeSpec};
use crate::session::{ProjectId, SessionError};
use crate::sync;

/// One bind volume as the container was created with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// Project-relative, as in the manifest.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub kind: BindKind,
    /// The service whose bind this is, for a file: each service's copy of a file has a
    /// volume of its own (a directory's volume is shared like the directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindKind {
    Dir,
    File,
}

/// What the container's [`labels::BINDS`] label records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The image the container was created from (the helper's image).
    pub image: String,
    pub binds: Vec<Bind>,
    /// Each bind volume's nonce, by volume name (volumes made by older versions have none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nonces: BTreeMap<String, String>,
}

/// Where a read-only file's volume is mounted: `<HIDDEN>/<slug>/<file name>`.
const HIDDEN: &str = "/.devenv-binds";
/// Where the helper container mounts the volume it writes.
const HELPER_MOUNT: &str = "/devenv-sync";

/// The manifest's bind volumes, each a directory or a file as the source is now (a missing
/// source is created as a directory by the container setup).
pub fn plan(manifest: &Manifest) -> Vec<Bind> {
    plan_of(&manifest.root, &manifest.container.volumes, None)
}

/// The bind volumes among `volumes` (of the environment container, or of `service`).
pub fn plan_of(root: &Path, volumes: &[VolumeSpec], service: Option<&str>) -> Vec<Bind> {
    volumes
        .iter()
        .filter_map(|v| match v {
            VolumeSpec::Bind {
                source,
                target,
                read_only,
            } => {
                let kind = if root.join(source).is_file() {
                    BindKind::File
                } else {
                    BindKind::Dir
                };
                Some(Bind {
                    source: source.clone(),
                    target: target.clone(),
                    read_only: *read_only,
                    kind,
                    service: service
                        .filter(|_| kind == BindKind::File)
                        .map(str::to_owned),
                })
            }
            VolumeSpec::Named { .. } => None,
        })
        .collect()
}

/// The bind volumes recorded on a volume-mode container (none on older ones).
pub fn of(container_labels: &HashMap<String, String>) -> Record {
    container_labels
        .get(labels::BINDS)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

impl Bind {
    /// A name part unique to the source: readable, then 8 hex of it.
    fn slug(&self) -> String {
        let readable: String = self
            .source
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        let readable = readable.trim_matches(|c| c == '-' || c == '.');
        let mut h = crate::fingerprint::Hasher::new("bind-volume");
        h.field("source", self.source.as_bytes());
        if let Some(service) = &self.service {
            // A service's files: one volume per file and target (one file may be bound
            // at two targets).
            h.field("service", service.as_bytes());
            h.field("target", self.target.as_bytes());
        }
        let short = &h.finish()[..8];
        if readable.is_empty() {
            format!("bind-{short}")
        } else {
            format!("bind-{readable}-{short}")
        }
    }

    /// The engine volume and where the container mounts it; `None` for a writable file
    /// that is copied into the container (`copies`: the environment container; a service's
    /// files live in volumes, written before it starts).
    pub fn volume(&self, id: &ProjectId, copies: bool) -> Option<(String, String)> {
        let name = id.volume_name(&self.slug());
        match (self.kind, self.read_only) {
            (BindKind::Dir, _) => Some((name, self.target.clone())),
            (BindKind::File, false) if copies => None,
            (BindKind::File, _) => Some((name, format!("{HIDDEN}/{}", self.slug()))),
        }
    }

    /// The name a file source has in its tree: its path from `/` when copied into the
    /// container, its target's file name in a volume.
    fn file_name(&self, in_volume: bool) -> String {
        let path = self.target.trim_start_matches('/');
        if in_volume {
            path.rsplit('/').next().unwrap_or(path).to_owned()
        } else {
            path.to_owned()
        }
    }

    fn scan(&self, source: &Path, in_volume: bool) -> sync::Tree {
        match self.kind {
            BindKind::Dir => sync::scan(source, sync::Rules::Everything),
            BindKind::File => sync::scan_file(source, &self.file_name(in_volume)),
        }
    }

    /// Per container: the state of a copy in the container, or of a volume without a
    /// nonce; also marks a file's symlink as made in that container.
    fn state_path(&self, state_dir: &Path, container: &str) -> PathBuf {
        state_dir
            .join("sync")
            .join(format!("{container}.{}.state", self.slug()))
    }
}

/// The volume mounts of `binds` (`copies`: see [`Bind::volume`]).
pub fn volume_mounts(id: &ProjectId, binds: &[Bind], copies: bool) -> Vec<Mount> {
    binds
        .iter()
        .filter_map(|b| {
            b.volume(id, copies).map(|(name, target)| Mount::Synced {
                name,
                target,
                read_only: b.read_only,
            })
        })
        .collect()
}

/// The mounts of `binds` in a volume-mode environment container; makes their volumes and
/// returns their nonces.
pub async fn mounts(
    engine: &Engine,
    id: &ProjectId,
    binds: &[Bind],
    volume_labels: &HashMap<String, String>,
) -> Result<(Vec<Mount>, BTreeMap<String, String>), SessionError> {
    let mounts = volume_mounts(id, binds, true);
    let mut nonces = BTreeMap::new();
    for m in &mounts {
        if let Mount::Synced { name, .. } = m {
            let labels = engine
                .ensure_volume(name, with_nonce(volume_labels.clone()))
                .await?;
            if let Some(n) = labels.get(labels::NONCE) {
                nonces.insert(name.clone(), n.clone());
            }
        }
    }
    Ok((mounts, nonces))
}

/// `volume_labels` with a new nonce: a volume devenv creates with them is told apart from
/// any earlier one of the same name (an existing volume keeps its own).
pub fn with_nonce(mut volume_labels: HashMap<String, String>) -> HashMap<String, String> {
    volume_labels.insert(labels::NONCE.to_owned(), crate::session::unique_id());
    volume_labels
}

/// Writable directory volumes: handed to the user while empty, like named volumes.
pub fn writable_dir_targets(binds: &[Bind]) -> Vec<String> {
    binds
        .iter()
        .filter(|b| b.kind == BindKind::Dir && !b.read_only)
        .map(|b| b.target.clone())
        .collect()
}

/// The container whose bind volumes are synced, and how.
pub struct Owner<'a> {
    pub id: &'a str,
    /// What a helper container runs from: the environment image.
    pub helper_image: &'a str,
    /// The running environment container, which writes its writable binds itself; a
    /// service's binds are volumes written by a helper, also before it first starts.
    pub direct: bool,
}

/// Bring every bind volume of the environment container up to date with its source.
pub async fn sync(
    engine: &Engine,
    manifest: &Manifest,
    container: &ContainerInfo,
    state_dir: &Path,
) -> Result<(), SessionError> {
    let record = of(&container.labels);
    let image = helper_image(container);
    let owner = Owner {
        id: &container.id,
        helper_image: &image,
        direct: true,
    };
    sync_binds(engine, manifest, &owner, &record, state_dir).await
}

/// What helpers that write bind volumes run from: the environment container's image, there
/// for as long as the container is.
pub fn helper_image(env_container: &ContainerInfo) -> String {
    if env_container.image_id.is_empty() {
        of(&env_container.labels).image
    } else {
        env_container.image_id.clone()
    }
}

/// Bring the binds `record` lists of `owner` up to date with their sources.
pub async fn sync_binds(
    engine: &Engine,
    manifest: &Manifest,
    owner: &Owner<'_>,
    record: &Record,
    state_dir: &Path,
) -> Result<(), SessionError> {
    for b in &record.binds {
        sync_one(engine, manifest, owner, b, &record.nonces, state_dir).await?;
    }
    Ok(())
}

async fn sync_one(
    engine: &Engine,
    manifest: &Manifest,
    owner: &Owner<'_>,
    b: &Bind,
    nonces: &BTreeMap<String, String>,
    state_dir: &Path,
) -> Result<(), SessionError> {
    let source = manifest.root.join(&b.source);
    check_kind(b, &source)?;
    let volume = b.volume(&ProjectId::new(manifest), owner.direct);
    // One writer per volume (containers share a directory's volume), from the comparison
    // with what was sent to the saved state.
    let _lock = match &volume {
        Some((name, _)) => Some(crate::image::NamedLock::acquire(name).await?),
        None => None,
    };
    let own = b.state_path(state_dir, owner.id);
    let (state, link) = match volume.as_ref().and_then(|(name, _)| nonces.get(name)) {
        // A file's symlink is made once per container: marked by the container's own file.
        Some(nonce) => (
            super::workspace::volume_state(state_dir, "bind", nonce),
            b.kind == BindKind::File && !own.exists(),
        ),
        None => (
            own.clone(),
            b.kind == BindKind::File && volume.is_some() && !own.exists(),
        ),
    };
    let bind = b.clone();
    let from = source.clone();
    let in_volume = volume.is_some();
    let what = format!("scanning bind volume source {}", b.source);
    let (sent, mut new, delta) =
        compare(&state, &what, move || bind.scan(&from, in_volume)).await?;
    if !link && delta.is_empty() {
        if !state.exists() {
            let _ = sync::save(&state, &new);
        }
        return Ok(());
    }
    let writer = Writer {
        engine,
        container: owner.id,
        helper_image: owner.helper_image,
        manifest,
        direct: owner.direct,
    };
    let unsent = writer.apply(b, &source, &sent, delta, link).await?;
    if !unsent.is_empty() {
        let unsent: std::collections::HashSet<&str> = unsent.iter().map(String::as_str).collect();
        new.entries.retain(|(p, _)| !unsent.contains(p.as_str()));
    }
    let _ = sync::save(&state, &new);
    if link && state != own {
        let _ = std::fs::write(&own, b"");
    }
    Ok(())
}

/// Scan with `scan` on a blocking thread; the tree last sent (the file `state`), the tree
/// now and what changed between them. `what` names the scan in an error.
async fn compare(
    state: &Path,
    what: &str,
    scan: impl FnOnce() -> sync::Tree + Send + 'static,
) -> Result<(sync::Tree, sync::Tree, sync::Delta), SessionError> {
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let sent = sync::load(&state);
        let new = scan();
        let delta = sync::diff(&sent, &new);
        (sent, new, delta)
    })
    .await
    .map_err(|e| SessionError::Io {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

/// A source that is a file now but was a directory when the container was made (or the
/// reverse) cannot be synced into what the container has.
fn check_kind(b: &Bind, source: &Path) -> Result<(), SessionError> {
    let now = match std::fs::metadata(source) {
        Ok(m) if m.is_file() => BindKind::File,
        Ok(m) if m.is_dir() => BindKind::Dir,
        _ => return Ok(()),
    };
    if now == b.kind {
        return Ok(());
    }
    let name = |k: BindKind| match k {
        BindKind::Dir => "a directory",
        BindKind::File => "a file",
    };
    Err(SessionError::BindKindChanged {
        path: b.source.clone(),
        was: name(b.kind),
        now: name(now),
    })
}

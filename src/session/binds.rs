//! The manifest's bind volumes (`./data:/data`, `./app.yml:/etc/app.yml:ro`) on an engine
//! that cannot see this machine's files (volume mode).
//!
//! - A directory source becomes a named volume on the engine, mounted at the target
//!   (read-only when asked) and kept an exact copy of the source: `.gitignore` does not
//!   apply (a bind shows everything), only the default ignores do. The first sync into a
//!   container empties the volume first, so nothing stale (or copied up from the image)
//!   stays.
//! - A file source is copied into the container at its target, and again whenever it
//!   changed. A read-only one lives in a read-only volume of its own mounted at a hidden
//!   path, with a symlink at the target, so nothing in the container can write it.
//!
//! Each is synced with the workspace (before every `run`, `shell` and hook, and by `watch`)
//! with its own state file. A read-only volume cannot be written through the environment
//! container, so a helper container from the same image, with the volume mounted
//! read-write, does it: created, run only when something must be deleted, uploaded into
//! (the engine mounts a stopped container's volumes for that) and removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ProjectId, SessionError};
use crate::engine::{labels, ContainerInfo, ContainerSpec, Engine, EngineError, Mount};
use crate::manifest::{Manifest, VolumeSpec};
use crate::{stream, sync};

/// One bind volume as the container was created with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// Project-relative, as in the manifest.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub kind: BindKind,
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
}

/// Where a read-only file's volume is mounted: `<HIDDEN>/<slug>/<file name>`.
const HIDDEN: &str = "/.devenv-binds";
/// Where the helper container mounts the volume it writes.
const HELPER_MOUNT: &str = "/devenv-sync";

/// Empty a directory (`$2` = 1) and/or remove paths in it, as root with the system PATH:
/// `sh -c CLEAN sh DIR WIPE PATH...`.
const CLEAN: &str = r#"
dir=$1 wipe=$2
shift 2
cd "$dir" || exit 1
if [ "$wipe" = 1 ]; then
  for f in * .[!.]* ..?*; do
    if [ -e "$f" ] || [ -L "$f" ]; then rm -rf -- "$f" || exit 1; fi
  done
fi
if [ $# -gt 0 ]; then rm -rf -- "$@" || exit 1; fi
exit 0
"#;

/// The manifest's bind volumes, each a directory or a file as the source is now (a missing
/// source is created as a directory by the container setup).
pub fn plan(manifest: &Manifest) -> Vec<Bind> {
    manifest
        .container
        .volumes
        .iter()
        .filter_map(|v| match v {
            VolumeSpec::Bind {
                source,
                target,
                read_only,
            } => Some(Bind {
                source: source.clone(),
                target: target.clone(),
                read_only: *read_only,
                kind: if manifest.root.join(source).is_file() {
                    BindKind::File
                } else {
                    BindKind::Dir
                },
            }),
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
        let short = &h.finish()[..8];
        if readable.is_empty() {
            format!("bind-{short}")
        } else {
            format!("bind-{readable}-{short}")
        }
    }

    /// The engine volume and where the environment container mounts it; `None` for a
    /// writable file (copied into the container).
    pub fn volume(&self, id: &ProjectId) -> Option<(String, String)> {
        let name = id.volume_name(&self.slug());
        match (self.kind, self.read_only) {
            (BindKind::Dir, _) => Some((name, self.target.clone())),
            (BindKind::File, true) => Some((name, format!("{HIDDEN}/{}", self.slug()))),
            (BindKind::File, false) => None,
        }
    }

    /// The name a file source has in its tree: its path from `/` when copied into the
    /// container, its target's file name in its read-only volume.
    fn file_name(&self) -> String {
        let path = self.target.trim_start_matches('/');
        if self.read_only {
            path.rsplit('/').next().unwrap_or(path).to_owned()
        } else {
            path.to_owned()
        }
    }

    fn scan(&self, source: &Path) -> sync::Tree {
        match self.kind {
            BindKind::Dir => sync::scan(source, sync::Rules::Everything),
            BindKind::File => sync::scan_file(source, &self.file_name()),
        }
    }

    fn state_path(&self, state_dir: &Path, container: &str) -> PathBuf {
        state_dir
            .join("sync")
            .join(format!("{container}.{}.state", self.slug()))
    }
}

/// The mounts of `binds` in a volume-mode container; makes their volumes.
pub async fn mounts(
    engine: &Engine,
    id: &ProjectId,
    binds: &[Bind],
    volume_labels: &HashMap<String, String>,
) -> Result<Vec<Mount>, SessionError> {
    let mut mounts = Vec::new();
    for b in binds {
        if let Some((name, target)) = b.volume(id) {
            engine.ensure_volume(&name, volume_labels.clone()).await?;
            mounts.push(Mount::Volume {
                name,
                target,
                read_only: b.read_only,
            });
        }
    }
    Ok(mounts)
}

/// Writable directory volumes: handed to the user while empty, like named volumes.
pub fn writable_dir_targets(binds: &[Bind]) -> Vec<String> {
    binds
        .iter()
        .filter(|b| b.kind == BindKind::Dir && !b.read_only)
        .map(|b| b.target.clone())
        .collect()
}

/// Bring every bind volume of `container` up to date with its source.
pub async fn sync(
    engine: &Engine,
    manifest: &Manifest,
    container: &ContainerInfo,
    state_dir: &Path,
) -> Result<(), SessionError> {
    let record = of(&container.labels);
    for b in &record.binds {
        sync_one(engine, manifest, container, &record.image, b, state_dir).await?;
    }
    Ok(())
}

async fn sync_one(
    engine: &Engine,
    manifest: &Manifest,
    c: &ContainerInfo,
    image: &str,
    b: &Bind,
    state_dir: &Path,
) -> Result<(), SessionError> {
    let source = manifest.root.join(&b.source);
    check_kind(b, &source)?;
    let state = b.state_path(state_dir, &c.id);
    let first = !state.exists();
    let (new, delta) = scan_and_diff(b, &source, &state).await?;
    if !first && delta.is_empty() {
        return Ok(());
    }
    let writer = Writer {
        engine,
        container: c,
        image,
        manifest,
    };
    writer.apply(b, &source, first, delta).await?;
    let _ = sync::save(&state, &new);
    Ok(())
}

async fn scan_and_diff(
    b: &Bind,
    source: &Path,
    state: &Path,
) -> Result<(sync::Tree, sync::Delta), SessionError> {
    let (bind, source, state) = (b.clone(), source.to_path_buf(), state.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let new = bind.scan(&source);
        let delta = sync::diff(&sync::load(&state), &new);
        (new, delta)
    })
    .await
    .map_err(|e| SessionError::Io {
        what: format!("scanning bind volume source {}", b.source),
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

fn clean_cmd(dir: &str, wipe: bool, deleted: &[String]) -> Vec<String> {
    let mut cmd = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        CLEAN.to_owned(),
        "devenv-sync".to_owned(),
        dir.to_owned(),
        if wipe { "1" } else { "0" }.to_owned(),
    ];
    cmd.extend(deleted.iter().cloned());
    cmd
}

fn clean_failed(b: &Bind, out: &str) -> SessionError {
    SessionError::Io {
        what: format!(
            "removing deleted files from the bind volume of {}",
            b.source
        ),
        message: out.to_owned(),
    }
}

/// What goes up: changed entries of a directory, one file, or a symlink.
enum Payload {
    Dir {
        root: PathBuf,
        entries: Vec<(String, sync::Entry)>,
    },
    File {
        source: PathBuf,
        name: String,
        entry: sync::Entry,
    },
    Link {
        at: String,
        to: String,
    },
}

impl Payload {
    fn of(b: &Bind, source: &Path, changed: Vec<(String, sync::Entry)>) -> Option<Payload> {
        if changed.is_empty() {
            return None;
        }
        Some(match b.kind {
            BindKind::Dir => Payload::Dir {
                root: source.to_path_buf(),
                entries: changed,
            },
            BindKind::File => {
                let (name, entry) = changed.into_iter().next().expect("not empty");
                Payload::File {
                    source: source.to_path_buf(),
                    name,
                    entry,
                }
            }
        })
    }

    fn write(self, out: &mut stream::ChannelWriter) -> std::io::Result<()> {
        match self {
            Payload::Dir { root, entries } => sync::pack(&root, &entries, out).map(drop),
            Payload::File {
                source,
                name,
                entry,
            } => sync::pack_file(&source, &name, &entry, out).map(drop),
            Payload::Link { at, to } => {
                let mut tar = tar::Builder::new(out);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, at.trim_start_matches('/'), to)?;
                tar.into_inner().map(drop)
            }
        }
    }
}

async fn upload(
    engine: &Engine,
    container: &str,
    dest: &str,
    payload: Payload,
) -> Result<(), SessionError> {
    let (body, verdict) = stream::produce(move |out| payload.write(out));
    let uploaded = engine.upload_tar(container, dest, body).await;
    super::workspace::finish_upload(uploaded, verdict).await
}

/// Writes bind volumes and copies: through the environment container where it can, through
/// a short-lived helper container of its own for a read-only volume.
struct Writer<'a> {
    engine: &'a Engine,
    container: &'a ContainerInfo,
    image: &'a str,
    manifest: &'a Manifest,
}

impl Writer<'_> {
    /// Send `delta` (`first`: into a new container, so empty the volume first).
    async fn apply(
        &self,
        b: &Bind,
        source: &Path,
        first: bool,
        delta: sync::Delta,
    ) -> Result<(), SessionError> {
        let payload = Payload::of(b, source, delta.changed);
        let cid = &self.container.id;
        match (b.kind, b.read_only) {
            // A copy in the container; a vanished source leaves the last one.
            (BindKind::File, false) => {
                if let Some(p) = payload {
                    upload(self.engine, cid, "/", p).await?;
                }
            }
            (BindKind::Dir, false) => {
                if first || !delta.deleted.is_empty() {
                    let spec = super::user::as_root(clean_cmd(&b.target, first, &delta.deleted));
                    let (status, out) = self.engine.exec_collect(cid, &spec).await?;
                    if status != 0 {
                        return Err(clean_failed(b, out.trim()));
                    }
                }
                if let Some(p) = payload {
                    upload(self.engine, cid, &b.target, p).await?;
                }
            }
            (_, true) => {
                let id = ProjectId::new(self.manifest);
                let Some((volume, mount_point)) = b.volume(&id) else {
                    return Ok(()); // read-only binds always have a volume
                };
                self.via_helper(b, &volume, first, &delta.deleted, payload)
                    .await?;
                if b.kind == BindKind::File && first {
                    let link = Payload::Link {
                        at: b.target.clone(),
                        to: format!("{mount_point}/{}", b.file_name()),
                    };
                    upload(self.engine, cid, "/", link).await?;
                }
            }
        }
        Ok(())
    }

    async fn via_helper(
        &self,
        b: &Bind,
        volume: &str,
        wipe: bool,
        deleted: &[String],
        payload: Option<Payload>,
    ) -> Result<(), SessionError> {
        let clean = wipe || !deleted.is_empty();
        if !clean && payload.is_none() {
            return Ok(());
        }
        let cmd = if clean {
            clean_cmd(HELPER_MOUNT, wipe, deleted)
        } else {
            vec!["true".to_owned()]
        };
        let spec = self.helper_spec(volume, cmd);
        let helper = match self.engine.create_container(&spec).await {
            Ok(h) => h,
            // One left behind by an interrupted sync.
            Err(EngineError::Conflict { .. }) => {
                let name = spec.name.as_deref().unwrap_or_default();
                self.engine.remove_container(name).await?;
                self.engine.create_container(&spec).await?
            }
            Err(e) => return Err(e.into()),
        };
        let result = self.run_helper(&helper, b, clean, payload).await;
        let _ = self.engine.remove_container(&helper).await;
        result
    }

    fn helper_spec(&self, volume: &str, cmd: Vec<String>) -> ContainerSpec {
        let id = ProjectId::new(self.manifest);
        ContainerSpec {
            name: Some(format!("{}-sync", id.container_name)),
            // The environment container's image is there for as long as it is.
            image: if self.container.image_id.is_empty() {
                self.image.to_owned()
            } else {
                self.container.image_id.clone()
            },
            cmd,
            env: vec![format!("PATH={}", super::user::ROOT_PATH)],
            user: Some("0:0".into()),
            workdir: Some("/".into()),
            labels: HashMap::from([
                (labels::MANAGED.to_owned(), "true".to_owned()),
                (labels::ROLE.to_owned(), "sync".to_owned()),
                (labels::PROJECT.to_owned(), self.manifest.name.clone()),
                (labels::PROJECT_DIR.to_owned(), id.dir.clone()),
                (labels::MANIFEST.to_owned(), id.manifest.clone()),
            ]),
            mounts: vec![Mount::Volume {
                name: volume.to_owned(),
                target: HELPER_MOUNT.to_owned(),
                read_only: false,
            }],
            network: Some("none".into()),
            ..ContainerSpec::default()
        }
    }

    async fn run_helper(
        &self,
        helper: &str,
        b: &Bind,
        clean: bool,
        payload: Option<Payload>,
    ) -> Result<(), SessionError> {
        if clean {
            let mut out = Vec::new();
            let status = self
                .engine
                .run_container(helper, |o| match o {
                    crate::engine::ExecOutput::Stdout(b) | crate::engine::ExecOutput::Stderr(b) => {
                        out.extend_from_slice(&b);
                    }
                })
                .await?;
            if status != 0 {
                return Err(clean_failed(b, String::from_utf8_lossy(&out).trim()));
            }
        }
        if let Some(p) = payload {
            upload(self.engine, helper, HELPER_MOUNT, p).await?;
        }
        Ok(())
    }
}

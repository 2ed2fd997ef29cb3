//! Writing bind volumes and copies on the engine: through the environment container where
//! it can, through a short-lived helper container for a read-only volume.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Bind, BindKind, HELPER_MOUNT};
use crate::engine::{labels, ContainerSpec, Engine, EngineError, Mount};
use crate::manifest::Manifest;
use crate::session::{ProjectId, SessionError};
use crate::{stream, sync};

/// Remove paths in a directory, as root with the system PATH: `sh -c CLEAN sh DIR`, the
/// paths NUL-separated on stdin (data, so any number of them: argv has a limit). Each batch
/// goes to `rm` through a shell of its own: busybox's xargs runs `rm` in its own process
/// batch after batch, and then skips a path at a batch boundary (seen with 40,000 paths).
const CLEAN: &str = r#"
cd "$1" || exit 1
xargs -0 sh -c 'rm -rf -- "$@"' devenv-sync
"#;

/// Where a helper finds the list of paths to remove (uploaded before it starts: a
/// container's command has no stdin here).
const DELETED_LIST: &str = "/.devenv-sync-deleted";

fn clean_cmd(dir: &str) -> Vec<String> {
    ["/bin/sh", "-c", CLEAN, "devenv-sync", dir]
        .map(str::to_owned)
        .to_vec()
}

/// The helper's command: [`CLEAN`] with its stdin from [`DELETED_LIST`].
fn helper_clean_cmd(dir: &str) -> Vec<String> {
    let script = format!("exec < {DELETED_LIST}\n{CLEAN}");
    ["/bin/sh", "-c", &script, "devenv-sync", dir]
        .map(str::to_owned)
        .to_vec()
}

/// `deleted` as NUL-separated data.
fn nul_list(deleted: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in deleted {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    out
}

/// A tar holding `list` as [`DELETED_LIST`], for extraction at `/`.
fn list_tar(list: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o600);
    h.set_size(list.len() as u64);
    tar.append_data(&mut h, DELETED_LIST.trim_start_matches('/'), list)?;
    tar.into_inner()
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

    /// The payload as a tar for extraction at `/`, named below `under` (see `sync::pack`).
    fn write(self, under: &str, out: &mut stream::ChannelWriter) -> std::io::Result<()> {
        let below = |name: &str| sync::below(under, name);
        match self {
            Payload::Dir { root, entries } => sync::pack(&root, &entries, under, out).map(drop),
            Payload::File {
                source,
                name,
                entry,
            } => sync::pack_file(&source, &below(&name), &entry, out).map(drop),
            Payload::Link { at, to } => {
                let mut tar = tar::Builder::new(out);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, below(&at), to)?;
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
    let under = dest.to_owned();
    let (body, verdict) = stream::produce(move |out| payload.write(&under, out));
    let uploaded = engine.upload_tar(container, "/", body).await;
    crate::sync::workspace::finish_upload(uploaded, verdict).await
}

/// Writes bind volumes and copies: through the environment container where it can, through
/// a short-lived helper container of its own for a read-only volume and for every volume of
/// a service (whose image may have no shell, and which may not run yet).
pub(super) struct Writer<'a> {
    pub(super) engine: &'a Engine,
    /// The container the binds belong to (created or running).
    pub(super) container: &'a str,
    /// What a helper runs from: the environment image.
    pub(super) helper_image: &'a str,
    pub(super) manifest: &'a Manifest,
    /// Whether writable binds go through the container itself (the running environment
    /// container) rather than volumes written by a helper (a service).
    pub(super) direct: bool,
}

impl Writer<'_> {
    /// Send `delta` (`link`: make the symlink to a file's volume in the container). Volumes
    /// are never filled from the image (`Mount::Synced`): a new one starts empty.
    pub(super) async fn apply(
        &self,
        b: &Bind,
        source: &Path,
        delta: sync::Delta,
        link: bool,
    ) -> Result<(), SessionError> {
        let id = ProjectId::new(self.manifest);
        let volume = b.volume(&id, self.direct);
        let payload = Payload::of(b, source, delta.changed);
        let cid = self.container;
        match (volume, b.kind, b.read_only) {
            // A copy in the container; a vanished source leaves the last one.
            (None, _, _) => {
                if let Some(p) = payload {
                    upload(self.engine, cid, "/", p).await?;
                }
            }
            (Some(_), BindKind::Dir, false) if self.direct => {
                if !delta.deleted.is_empty() {
                    let spec = crate::session::as_root(clean_cmd(&b.target));
                    let list = nul_list(&delta.deleted);
                    let (status, _, err) = self.engine.exec_with_input(cid, &spec, list).await?;
                    if status != 0 {
                        return Err(clean_failed(b, String::from_utf8_lossy(&err).trim()));
                    }
                }
                if let Some(p) = payload {
                    upload(self.engine, cid, &b.target, p).await?;
                }
            }
            (Some((volume, mount_point)), _, _) => {
                self.via_helper(b, &volume, &delta.deleted, payload).await?;
                if link {
                    let link = Payload::Link {
                        at: b.target.clone(),
                        to: format!("{mount_point}/{}", b.file_name(true)),
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
        deleted: &[String],
        payload: Option<Payload>,
    ) -> Result<(), SessionError> {
        let clean = !deleted.is_empty();
        if !clean && payload.is_none() {
            return Ok(());
        }
        let cmd = if clean {
            helper_clean_cmd(HELPER_MOUNT)
        } else {
            vec!["true".to_owned()]
        };
        let spec = self.helper_spec(volume, cmd);
        let helper = match self.engine.create_container(&spec).await {
            Ok(h) => h,
            // One left behind by an interrupted sync; replaced only if devenv made it.
            Err(EngineError::Conflict { .. }) => {
                let name = spec.name.as_deref().unwrap_or_default();
                if !crate::ownership::made_by_devenv(self.engine, name, "sync").await? {
                    return Err(SessionError::NameTaken { name: name.into() });
                }
                self.engine.remove_container(name).await?;
                self.engine.create_container(&spec).await?
            }
            Err(e) => return Err(e.into()),
        };
        let listed = if clean {
            self.upload_list(&helper, deleted).await
        } else {
            Ok(())
        };
        let result = match listed {
            Ok(()) => self.run_helper(&helper, b, clean, payload).await,
            Err(e) => Err(e),
        };
        let _ = self.engine.remove_container(&helper).await;
        result
    }

    fn helper_spec(&self, volume: &str, cmd: Vec<String>) -> ContainerSpec {
        let id = ProjectId::new(self.manifest);
        ContainerSpec {
            // Named after the volume, whose lock the caller holds (a leftover of an
            // interrupted sync is replaced); no container of a project is called that.
            name: Some(format!("{volume}.sync")),
            image: self.helper_image.to_owned(),
            cmd,
            env: vec![format!("PATH={}", crate::session::ROOT_PATH)],
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

    /// Put the list of paths to remove into the created helper.
    async fn upload_list(&self, helper: &str, deleted: &[String]) -> Result<(), SessionError> {
        let tar = list_tar(&nul_list(deleted)).map_err(|e| SessionError::Io {
            what: "listing deleted files".into(),
            message: e.to_string(),
        })?;
        let (body, verdict) = stream::produce(move |out| std::io::Write::write_all(out, &tar));
        let uploaded = self.engine.upload_tar(helper, "/", body).await;
        crate::sync::workspace::finish_upload(uploaded, verdict).await
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

//! Writing bind volumes and copies on the engine: through the environment container where
//! it can, through a short-lived helper container for a read-only volume.
//!
//! A volume is written under the rules of the workspace ([`sync::apply`], the same script):
//! deletions (what was sent below a deleted path, deepest first) and the checks before
//! writing run as the owner (the host user, whose ids every file sync writes carries), so
//! nothing is written through a link sync did not make, nothing the owner could not change
//! is replaced, and what the containers made in a deleted directory stays. What was refused,
//! or could not be read here, is not recorded as sent: the next sync tries it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Bind, BindKind, HELPER_MOUNT};
use crate::engine::{labels, ContainerSpec, Engine, EngineError, ExecSpec, Mount};
use crate::manifest::Manifest;
use crate::session::{ProjectId, SessionError};
use crate::{stream, sync};

/// A tar for extraction at `/`: the volume's root, mounted at `mount_point`, owned and
/// moded as the bind's source is (a new volume's root is root's, or the `[shell] user`'s:
/// the owner could remove nothing in it).
fn root_tar(root: &RootOwner, mount_point: &str) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(root.mode);
    h.set_uid(u64::from(root.uid));
    h.set_gid(u64::from(root.gid));
    h.set_size(0);
    tar.append_data(&mut h, mount_point.trim_matches('/'), std::io::empty())?;
    tar.into_inner()
}

/// Who owns a volume's root: the bind's source directory's owner and mode (as a bind would
/// show it), the host user's for a file's volume or a missing source.
struct RootOwner {
    uid: u32,
    gid: u32,
    mode: u32,
}

impl RootOwner {
    fn of(b: &Bind, source: &Path) -> RootOwner {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(source) {
            Ok(m) if b.kind == BindKind::Dir && m.is_dir() => RootOwner {
                uid: m.uid(),
                gid: m.gid(),
                mode: m.mode() & 0o7777,
            },
            _ => {
                let (uid, gid) = sync::apply::owner();
                RootOwner {
                    uid,
                    gid,
                    mode: 0o755,
                }
            }
        }
    }
}

fn script_failed(b: &Bind, out: &str) -> SessionError {
    SessionError::Io {
        what: format!("updating the bind volume of {}", b.source),
        message: out.to_owned(),
    }
}

/// Warn about what the owner could not write or remove in `b`'s volume.
fn report(b: &Bind, refused: &sync::apply::Refused) {
    for p in &refused.under_link {
        tracing::warn!(
            "not synced: {p} (in the bind volume of {} a symlink sync did not make stands in \
             its path; remove it there to sync this path again)",
            b.source
        );
    }
    for p in &refused.not_permitted {
        tracing::warn!(
            "not synced: {p} (the owner may not change it in the bind volume of {}; it was \
             made there by another user)",
            b.source
        );
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

    /// The payload as a tar for extraction at `/`, named below `under` (see `sync::pack`);
    /// returns the files left out because this user may not read them.
    fn write(self, under: &str, out: &mut stream::ChannelWriter) -> std::io::Result<Vec<String>> {
        let below = |name: &str| sync::below(under, name);
        match self {
            Payload::Dir { root, entries } => {
                sync::pack(&root, &entries, under, out).map(|(_, unreadable)| unreadable)
            }
            Payload::File {
                source,
                name,
                entry,
            } => sync::pack_file(&source, &below(&name), &entry, out).map(|_| Vec::new()),
            Payload::Link { at, to } => {
                let mut tar = tar::Builder::new(out);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, below(&at), to)?;
                tar.into_inner().map(|_| Vec::new())
            }
        }
    }
}

async fn upload(
    engine: &Engine,
    container: &str,
    dest: &str,
    payload: Payload,
) -> Result<Vec<String>, SessionError> {
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
    /// Send `delta` (`sent`: what the last sync sent; `link`: make the symlink to a file's
    /// volume in the container); returns the paths not written, which are not recorded as
    /// sent. Volumes are never filled from the image (`Mount::Synced`): a new one starts
    /// empty, so the first upload has nothing to check.
    pub(super) async fn apply(
        &self,
        b: &Bind,
        source: &Path,
        sent: &sync::Tree,
        delta: sync::Delta,
        link: bool,
    ) -> Result<Vec<String>, SessionError> {
        let id = ProjectId::new(self.manifest);
        let cid = self.container;
        let Some((volume, mount_point)) = b.volume(&id, self.direct) else {
            // A copy in the container; a vanished source leaves the last one.
            return match Payload::of(b, source, delta.changed) {
                Some(p) => upload(self.engine, cid, "/", p).await,
                None => Ok(Vec::new()),
            };
        };
        // What was sent below each deleted path, deepest first. A file's source has nothing
        // below it, so nothing there is "still there".
        let mut records = sync::apply::removals(sent, &delta.deleted, source);
        if !sent.entries.is_empty() {
            records.extend(sync::apply::checks(&delta.changed));
        }
        let (refused, unsent) = if b.kind == BindKind::Dir && !b.read_only && self.direct {
            if sent.entries.is_empty() {
                // A new volume (or lost state): its root is the `[shell] user`'s.
                self.give_root(cid, &b.target, b, source).await?;
            }
            let refused = self.script(cid, &b.target, b, records).await?;
            let payload = Payload::of(b, source, allowed(delta.changed, &refused));
            let unsent = match payload {
                Some(p) => upload(self.engine, cid, &b.target, p).await?,
                None => Vec::new(),
            };
            (refused, unsent)
        } else {
            self.via_helper(b, source, &volume, records, delta.changed)
                .await?
        };
        report(b, &refused);
        if link {
            let link = Payload::Link {
                at: b.target.clone(),
                to: format!("{mount_point}/{}", b.file_name(true)),
            };
            upload(self.engine, cid, "/", link).await?;
        }
        Ok(refused
            .under_link
            .into_iter()
            .chain(refused.not_permitted)
            .chain(unsent)
            .collect())
    }

    /// Run the records through [`sync::apply::SCRIPT`] in `container`, as the owner, in the
    /// volume's mount point `workdir`.
    async fn script(
        &self,
        container: &str,
        workdir: &str,
        b: &Bind,
        records: Vec<u8>,
    ) -> Result<sync::apply::Refused, SessionError> {
        if records.is_empty() {
            return Ok(sync::apply::Refused::default());
        }
        let (uid, gid) = sync::apply::owner();
        let spec = ExecSpec {
            cmd: sync::apply::command(),
            user: Some(format!("{uid}:{gid}")),
            workdir: Some(workdir.to_owned()),
            ..ExecSpec::default()
        };
        let (status, out, err) = self
            .engine
            .exec_with_input(container, &spec, records)
            .await?;
        if status != 0 {
            return Err(script_failed(b, String::from_utf8_lossy(&err).trim()));
        }
        Ok(sync::apply::parse(&out))
    }

    /// Write `volume` through a helper of its own: created as the owner with the volume
    /// mounted, the volume's root given to its owner, started for the records when there
    /// are any (an idle shell to exec in: stdin and stdout as in the environment
    /// container), uploaded into, removed.
    async fn via_helper(
        &self,
        b: &Bind,
        source: &Path,
        volume: &str,
        records: Vec<u8>,
        changed: Vec<(String, sync::Entry)>,
    ) -> Result<(sync::apply::Refused, Vec<String>), SessionError> {
        if records.is_empty() && changed.is_empty() {
            return Ok(Default::default());
        }
        let spec = self.helper_spec(volume);
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
        let result = self.in_helper(&helper, b, source, records, changed).await;
        let _ = self.engine.remove_container(&helper).await;
        result
    }

    async fn in_helper(
        &self,
        helper: &str,
        b: &Bind,
        source: &Path,
        records: Vec<u8>,
        changed: Vec<(String, sync::Entry)>,
    ) -> Result<(sync::apply::Refused, Vec<String>), SessionError> {
        self.give_root(helper, HELPER_MOUNT, b, source).await?;
        let refused = if records.is_empty() {
            sync::apply::Refused::default()
        } else {
            self.engine.start_container(helper).await?;
            self.script(helper, HELPER_MOUNT, b, records).await?
        };
        let unsent = match Payload::of(b, source, allowed(changed, &refused)) {
            Some(p) => upload(self.engine, helper, HELPER_MOUNT, p).await?,
            None => Vec::new(),
        };
        Ok((refused, unsent))
    }

    fn helper_spec(&self, volume: &str) -> ContainerSpec {
        let id = ProjectId::new(self.manifest);
        let (uid, gid) = sync::apply::owner();
        ContainerSpec {
            // Named after the volume, whose lock the caller holds (a leftover of an
            // interrupted sync is replaced); no container of a project is called that.
            name: Some(format!("{volume}.sync")),
            image: self.helper_image.to_owned(),
            // Idles while started: stdin stays open with nothing attached.
            cmd: vec!["sh".to_owned()],
            open_stdin: true,
            env: vec![format!("PATH={}", crate::session::ROOT_PATH)],
            // The owner, never root: what it removes or checks, it could on the host.
            user: Some(format!("{uid}:{gid}")),
            workdir: Some(HELPER_MOUNT.into()),
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

    /// Give the volume's root, mounted at `mount_point` in `container`, to its owner (as
    /// its source is owned).
    async fn give_root(
        &self,
        container: &str,
        mount_point: &str,
        b: &Bind,
        source: &Path,
    ) -> Result<(), SessionError> {
        let tar =
            root_tar(&RootOwner::of(b, source), mount_point).map_err(|e| SessionError::Io {
                what: "preparing the bind volume's sync".into(),
                message: e.to_string(),
            })?;
        let (body, verdict) = stream::produce(move |out| std::io::Write::write_all(out, &tar));
        let uploaded = self.engine.upload_tar(container, "/", body).await;
        crate::sync::workspace::finish_upload(uploaded, verdict).await
    }
}

/// `changed` without what the script refused.
fn allowed(
    changed: Vec<(String, sync::Entry)>,
    refused: &sync::apply::Refused,
) -> Vec<(String, sync::Entry)> {
    changed
        .into_iter()
        .filter(|(p, _)| !refused.contains(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn bind(kind: BindKind) -> Bind {
        Bind {
            source: "data".into(),
            target: "/data".into(),
            read_only: true,
            kind,
            service: None,
        }
    }

    #[test]
    fn a_volume_root_is_owned_as_its_source_directory() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data");
        std::fs::create_dir(&src).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o750)).unwrap();
        let meta = std::fs::metadata(&src).unwrap();
        let root = RootOwner::of(&bind(BindKind::Dir), &src);
        assert_eq!(
            (root.uid, root.gid, root.mode),
            (
                std::os::unix::fs::MetadataExt::uid(&meta),
                std::os::unix::fs::MetadataExt::gid(&meta),
                0o750
            )
        );
        // A file's volume, or a source not there: the host user's, 0755.
        let (uid, gid) = sync::apply::owner();
        for (kind, path) in [
            (BindKind::File, src.clone()),
            (BindKind::Dir, dir.path().join("gone")),
        ] {
            let root = RootOwner::of(&bind(kind), &path);
            assert_eq!((root.uid, root.gid, root.mode), (uid, gid, 0o755));
        }
    }

    #[test]
    fn refused_paths_are_not_uploaded() {
        let e = sync::Entry {
            kind: sync::Kind::File,
            size: 0,
            mtime: (0, 0),
            ctime: (0, 0),
            ino: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        let changed = vec![("cfg/app.conf".to_owned(), e.clone()), ("ok".to_owned(), e)];
        let refused = sync::apply::parse(b"Lcfg/app.conf\0");
        let kept: Vec<String> = allowed(changed, &refused)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(kept, ["ok"]);
    }
}

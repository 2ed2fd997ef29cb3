//! Does the engine see the project? A bind mount only works when the engine runs where the
//! project is (or shares its filesystem). Before the first container of a project on an
//! endpoint, a probe answers that (a nonce file read back through a bind), remembered per
//! endpoint in `.devenv/binds.json`. When binds do not reach, the project lives in a named
//! volume on the engine, filled by an upload and kept current by incremental syncs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{labels, ContainerInfo, ContainerSpec, Engine, EngineError, ExecSpec, Mount};
use crate::manifest::Manifest;
use crate::session::{real, ProjectId, SessionError};
use crate::{stream, sync};

/// How the project reaches its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workspace {
    /// The project directory is bind-mounted (a local engine).
    Bind,
    /// A named volume on the engine, synced from the project (a remote engine).
    Volume,
}

impl Workspace {
    pub fn label(self) -> &'static str {
        match self {
            Workspace::Bind => "bind",
            Workspace::Volume => "volume",
        }
    }

    /// The mode an existing container was created in (older containers: bind).
    pub fn of(container_labels: &std::collections::HashMap<String, String>) -> Workspace {
        match container_labels.get(labels::WORKSPACE).map(String::as_str) {
            Some("volume") => Workspace::Volume,
            _ => Workspace::Bind,
        }
    }
}

const PROBE_TARGET: &str = "/devenv-bind-probe";
/// The probe file's name stem; each probe adds its nonce, so concurrent probes (two
/// devenvs starting the same project) never read each other's file.
const PROBE_FILE: &str = "bind-probe";

fn cache_path(state_dir: &Path) -> PathBuf {
    state_dir.join("binds.json")
}

/// The remembered answer for `endpoint`, if the probe ran.
pub fn remembered(state_dir: &Path, endpoint: &str) -> Option<Workspace> {
    let text = std::fs::read_to_string(cache_path(state_dir)).ok()?;
    let map: BTreeMap<String, bool> = serde_json::from_str(&text).ok()?;
    map.get(endpoint).map(|&reach| {
        if reach {
            Workspace::Bind
        } else {
            Workspace::Volume
        }
    })
}

/// The workspace mode for this project on `engine`: remembered, else probed with `image`.
pub async fn decide(
    engine: &Engine,
    manifest: &Manifest,
    image: &str,
    state_dir: &Path,
) -> Result<Workspace, SessionError> {
    if let Some(known) = remembered(state_dir, engine.endpoint()) {
        return Ok(known);
    }
    let reach = probe(engine, manifest, image, state_dir).await?;
    let path = cache_path(state_dir);
    let mut map: BTreeMap<String, bool> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    map.insert(engine.endpoint().to_owned(), reach);
    if let Ok(text) = serde_json::to_string_pretty(&map) {
        let _ = std::fs::write(&path, text);
    }
    Ok(if reach {
        Workspace::Bind
    } else {
        Workspace::Volume
    })
}

/// Write a nonce into the state directory and read it back through a bind mount of a
/// created (never started) container: the engine reads bind sources itself.
async fn probe(
    engine: &Engine,
    manifest: &Manifest,
    image: &str,
    state_dir: &Path,
) -> Result<bool, SessionError> {
    let io = |e: std::io::Error| SessionError::Io {
        what: state_dir.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let nonce = format!("devenv-probe-{}", crate::session::unique_id());
    let name = format!("{PROBE_FILE}-{nonce}");
    let file = state_dir.join(&name);
    std::fs::write(&file, &nonce).map_err(io)?;
    let id = ProjectId::new(manifest);
    let spec = ContainerSpec {
        image: image.to_owned(),
        cmd: vec!["true".into()],
        labels: std::collections::HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::ROLE.to_owned(), "probe".to_owned()),
            (labels::PROJECT.to_owned(), manifest.name.clone()),
            (labels::PROJECT_DIR.to_owned(), id.dir.clone()),
        ]),
        mounts: vec![Mount::Bind {
            source: real(state_dir),
            target: PROBE_TARGET.to_owned(),
            read_only: true,
        }],
        network: Some("none".into()),
        ..ContainerSpec::default()
    };
    let reach = match engine.create_container(&spec).await {
        Err(e) if bind_source_missing(&e) => Ok(false),
        Err(e) => Err(e),
        Ok(cid) => {
            let read = engine
                .download_tar(&cid, &format!("{PROBE_TARGET}/{name}"))
                .await;
            let _ = engine.remove_container(&cid).await;
            match read {
                Ok(tar) => Ok(tar_contains(&tar, nonce.as_bytes())),
                // The directory exists there but is another one: no nonce file in it.
                Err(EngineError::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        }
    };
    let _ = std::fs::remove_file(&file);
    // Any other failure (an engine gone for a moment, a full disk) answers nothing: it is
    // returned, and not remembered as "remote" forever.
    let reach = reach?;
    Ok(reach)
}

/// The engine's answer when a bind's source does not exist on its machine: the one
/// failure that means "binds do not reach".
fn bind_source_missing(e: &EngineError) -> bool {
    match e {
        EngineError::Api { message, .. } => {
            message.contains("bind source path does not exist")
                || message.contains("invalid mount config")
        }
        _ => false,
    }
}

fn tar_contains(tar: &[u8], content: &[u8]) -> bool {
    let mut archive = tar::Archive::new(tar);
    let Ok(entries) = archive.entries() else {
        return false;
    };
    entries.filter_map(Result::ok).any(|mut e| {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf).is_ok() && buf == content
    })
}

/// The engine volume holding the project in volume mode.
pub fn volume_name(id: &ProjectId) -> String {
    id.volume_name("workspace")
}

/// What was sent into `container`'s workspace: kept under its volume's nonce, so it
/// outlives the container with the volume (a recreate, `down` without `--volumes`) and the
/// next container's first sync sends only what changed meanwhile, deletions included.
/// Containers of volumes made by older versions (no nonce) keep their own.
fn state_path(state_dir: &Path, container: &ContainerInfo) -> PathBuf {
    match container.labels.get(labels::NONCE) {
        Some(nonce) => volume_state(state_dir, "workspace", nonce),
        None => state_dir
            .join("sync")
            .join(format!("{}.state", container.id)),
    }
}

/// A scan of the project started before the engine answered, when this endpoint is known to
/// need a synced workspace: the walk overlaps connecting and the list call.
pub struct Prescan(tokio::task::JoinHandle<sync::Tree>);

/// Start scanning the project now if the workspace on `endpoint` is a synced volume.
pub fn prescan(manifest: &Manifest, state_dir: &Path, endpoint: &str) -> Option<Prescan> {
    (remembered(state_dir, endpoint) == Some(Workspace::Volume)).then(|| {
        let root = manifest.root.clone();
        Prescan(tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let tree = sync::scan(&root, sync::Rules::Project);
            tracing::debug!(
                "workspace: scanned {} entries in {} ms",
                tree.entries.len(),
                started.elapsed().as_millis()
            );
            tree
        }))
    })
}

/// Send what changed in the project since the last sync into the container's workspace
/// ([`send`]): deletions and the checks before writing in one exec run as the workspace's
/// owner ([`super::apply`]), which extracts an edit's files itself; larger changes go up
/// as one tar stream after it. Nothing changed
/// costs a local scan (started earlier when `prescan` is given) and no engine call.
pub async fn sync(
    engine: &Engine,
    manifest: &Manifest,
    c: &ContainerInfo,
    state_dir: &Path,
    prescan: Option<Prescan>,
) -> Result<sync::Delta, SessionError> {
    let started = std::time::Instant::now();
    let container = c.id.as_str();
    let path = state_path(state_dir, c);
    let root = manifest.root.clone();
    let what = "scanning the project";
    let scanned = match prescan {
        Some(Prescan(task)) => Some(task.await.map_err(|e| scan_failed(what, &e))?),
        None => None,
    };
    let (mut new, delta) = compare(&path, what, move || {
        scanned.unwrap_or_else(|| sync::scan(&root, sync::Rules::Project))
    })
    .await?;
    tracing::debug!(
        "workspace: {} entries scanned, {} changed, {} deleted ({} ms)",
        new.entries.len(),
        delta.changed.len(),
        delta.deleted.len(),
        started.elapsed().as_millis()
    );
    if delta.is_empty() {
        return Ok(delta);
    }
    // One writer per volume (two devenvs syncing the same project, a fetch recording what
    // came back): from reading what was sent to saving it. Taken only once there is
    // something to send, so the warm path stays a scan; the state is read again under it.
    let _lock = lock(manifest).await?;
    let (sent, delta) = {
        let (path, new) = (path.clone(), new.clone());
        tokio::task::spawn_blocking(move || {
            let sent = sync::load(&path);
            let delta = sync::diff(&sent, &new);
            (sent, delta)
        })
        .await
        .map_err(|e| scan_failed(what, &e))?
    };
    if delta.is_empty() {
        return Ok(delta);
    }
    let (refused, unsent) = send(engine, container, manifest, &sent, &delta).await?;
    // What was not written is not recorded as sent: the next sync tries it again.
    let skip: std::collections::HashSet<&str> = refused
        .under_link
        .iter()
        .chain(&refused.not_permitted)
        .chain(&unsent)
        .map(String::as_str)
        .collect();
    if !skip.is_empty() {
        new.entries.retain(|(p, _)| !skip.contains(p.as_str()));
    }
    let _ = sync::save(&path, &new);
    Ok(delta)
}

/// Write `delta` into the container's workspace (`sent`: what was sent before): deletions,
/// the checks, and the changed files. An edit or a few go in one exec that checks, deletes
/// and extracts ([`sync::apply::EXTRACT`]); anything else (the first upload, a branch
/// switch, a path refused or one the owner cannot write itself, an image without `tar`)
/// has the checks and deletions done by one exec and the files sent by an archive PUT.
/// Returns what was refused and the files that could not be read.
async fn send(
    engine: &Engine,
    container: &str,
    manifest: &Manifest,
    sent: &sync::Tree,
    delta: &sync::Delta,
) -> Result<(sync::apply::Refused, Vec<String>), SessionError> {
    let (root, workdir) = (&manifest.root, manifest.shell.workdir.as_str());
    // The workspace's owner: the uid every file sync writes carries (the tar keeps the
    // host owner), whoever `[shell] user` is.
    let owner = format!(
        "{}:{}",
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw()
    );
    let mut records = sync::apply::removals(sent, &delta.deleted, root);
    // The first upload goes into a fresh volume: nothing there to check.
    let check = !sent.entries.is_empty();
    if check {
        records.extend(sync::apply::checks(&delta.changed));
    }
    let mut unsent = Vec::new();
    if check && fits_one_exec(&records, &delta.changed) {
        let (tar, unreadable) = pack_in_memory(root, &delta.changed).await?;
        let refused = apply(
            engine,
            container,
            workdir,
            &owner,
            sync::apply::extracting(&records),
            tar,
        )
        .await?;
        if !refused.not_extracted {
            report(&refused);
            return Ok((refused, unreadable));
        }
        // Named once: the archive below leaves them out.
        unsent = unreadable;
    }
    let refused = if records.is_empty() {
        sync::apply::Refused::default()
    } else {
        apply(
            engine,
            container,
            workdir,
            &owner,
            sync::apply::command(),
            records,
        )
        .await?
    };
    report(&refused);
    let changed: Vec<(String, sync::Entry)> = delta
        .changed
        .iter()
        .filter(|(p, _)| !refused.contains(p) && !unsent.contains(p))
        .cloned()
        .collect();
    if !changed.is_empty() {
        unsent.extend(upload(engine, container, root, workdir, &changed).await?);
    }
    Ok((refused, unsent))
}

/// The lock every writer of the project's workspace volume (and of what was sent into it)
/// holds.
pub async fn lock(manifest: &Manifest) -> Result<crate::image::NamedLock, SessionError> {
    Ok(crate::image::NamedLock::acquire(&volume_name(&ProjectId::new(manifest))).await?)
}

/// Warn about what the workspace's owner could not write or remove.
fn report(refused: &sync::apply::Refused) {
    for p in &refused.under_link {
        tracing::warn!(
            "not synced: {p} (in the remote workspace a symlink sync did not make stands in \
             its path; remove it there to sync this path again)"
        );
    }
    for p in &refused.not_permitted {
        tracing::warn!(
            "not synced: {p} (the workspace's owner may not change it in the remote \
             workspace; it was made there by another user)"
        );
    }
}

/// Run one of [`sync::apply`]'s scripts (`cmd`: [`sync::apply::command`] with the records
/// on stdin, or [`sync::apply::extracting`] with the tar on stdin) in `workdir`, as `owner`.
async fn apply(
    engine: &Engine,
    container: &str,
    workdir: &str,
    owner: &str,
    cmd: Vec<String>,
    stdin: Vec<u8>,
) -> Result<sync::apply::Refused, SessionError> {
    let spec = ExecSpec {
        cmd,
        user: Some(owner.to_owned()),
        workdir: Some(workdir.to_owned()),
        ..ExecSpec::default()
    };
    let (status, out, err) = engine.exec_with_input(container, &spec, stdin).await?;
    if status == 0 {
        Ok(sync::apply::parse(&out))
    } else {
        Err(SessionError::Io {
            what: "updating the remote workspace".into(),
            message: String::from_utf8_lossy(&err).trim().to_owned(),
        })
    }
}

/// What one exec may check and extract ([`sync::apply::EXTRACT`]): records that fit in its
/// arguments and files small enough to hold the archive in memory (a branch switch goes
/// the streaming way: checks, then the archive PUT).
fn fits_one_exec(records: &[u8], changed: &[(String, sync::Entry)]) -> bool {
    const ARCHIVE_MAX: u64 = 8 << 20;
    let size: u64 = changed.iter().map(|(_, e)| e.size + 1024).sum();
    !changed.is_empty() && records.len() <= sync::apply::EXTRACT_ARGS_MAX && size <= ARCHIVE_MAX
}

/// A tar of `changed` (relative to `root`, named relative to the workdir) in memory, and
/// the files this user may not read (left out, named in a warning).
async fn pack_in_memory(
    root: &Path,
    changed: &[(String, sync::Entry)],
) -> Result<(Vec<u8>, Vec<String>), SessionError> {
    let (root, changed) = (root.to_path_buf(), changed.to_vec());
    tokio::task::spawn_blocking(move || sync::pack(&root, &changed, "", Vec::new()))
        .await
        .map_err(|e| scan_failed("packing changed files", &e))?
        .map_err(|e| SessionError::Io {
            what: "packing changed files".into(),
            message: e.to_string(),
        })
}

/// Scan with `scan` on a blocking thread and compare the tree with the state last sent (the
/// file `state`); `what` names the scan in an error.
pub(super) async fn compare(
    state: &Path,
    what: &str,
    scan: impl FnOnce() -> sync::Tree + Send + 'static,
) -> Result<(sync::Tree, sync::Delta), SessionError> {
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let new = scan();
        let delta = sync::diff(&sync::load(&state), &new);
        (new, delta)
    })
    .await
    .map_err(|e| scan_failed(what, &e))
}

fn scan_failed(what: &str, e: &tokio::task::JoinError) -> SessionError {
    SessionError::Io {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

/// Stream a tar of `changed` (relative to `root`) into the container at `dest`. The tar is
/// written on a blocking thread while the engine reads it, so memory stays bounded whatever
/// the size of the tree.
async fn upload(
    engine: &Engine,
    container: &str,
    root: &Path,
    dest: &str,
    changed: &[(String, sync::Entry)],
) -> Result<Vec<String>, SessionError> {
    let root = root.to_path_buf();
    let changed = changed.to_vec();
    let under = dest.to_owned();
    let (body, verdict) = stream::produce(move |out| {
        sync::pack(&root, &changed, &under, out).map(|(_, unreadable)| unreadable)
    });
    // At `/`, named below `dest`: see `sync::pack`.
    finish_upload(engine.upload_tar(container, "/", body).await, verdict).await
}

/// The outcome of an upload and of the writer that fed it.
pub(super) async fn finish_upload<T>(
    uploaded: Result<(), EngineError>,
    verdict: stream::Verdict<T, std::io::Error>,
) -> Result<T, SessionError> {
    let packing = |message: String| SessionError::Io {
        what: "packing changed files".into(),
        message,
    };
    let packed = verdict.await.map_err(|e| packing(e.to_string()))?;
    // A file that could not be read aborted the upload: it is the cause. A writer that
    // stopped because the engine went away only echoes the upload's own error.
    match (packed, uploaded) {
        (Ok(t), Ok(())) => Ok(t),
        (Err(e), _) if !stream::is_closed(&e) => Err(packing(e.to_string())),
        (_, Err(e)) => Err(e.into()),
        (Err(e), Ok(())) => Err(packing(e.to_string())),
    }
}

/// What was sent into the volume with `nonce` (`role`: `workspace` or `bind`), shared by
/// the containers that mount it.
pub(super) fn volume_state(state_dir: &Path, role: &str, nonce: &str) -> PathBuf {
    state_dir.join("sync").join(format!("{role}-{nonce}.state"))
}

/// The volume with `nonce` is gone: forget what was sent into it (as the workspace or a
/// bind volume). Volumes on other engines keep theirs.
pub fn forget_volume(state_dir: &Path, nonce: &str) {
    for role in ["workspace", "bind"] {
        let _ = std::fs::remove_file(volume_state(state_dir, role, nonce));
    }
}

/// Whether anything was sent to `container`'s workspace yet.
pub fn synced_before(state_dir: &Path, container: &ContainerInfo) -> bool {
    state_path(state_dir, container).exists()
}

/// Forget what was sent to `container` (it is gone): every state file named after it.
pub fn forget(state_dir: &Path, container: &str) {
    let Ok(entries) = std::fs::read_dir(state_dir.join("sync")) else {
        return;
    };
    let prefix = format!("{container}.");
    for e in entries.filter_map(Result::ok) {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Project paths edited here since the last sync into `container`'s workspace: entries a
/// scan finds now that differ from what was sent, or were never sent. Empty when nothing
/// was sent yet.
pub fn edited_since_sync(
    root: &Path,
    state_dir: &Path,
    container: &ContainerInfo,
) -> std::collections::HashSet<String> {
    let path = state_path(state_dir, container);
    if !path.exists() {
        return std::collections::HashSet::new();
    }
    let sent = sync::load(&path);
    let sent: std::collections::HashMap<&str, &sync::Entry> =
        sent.entries.iter().map(|(p, e)| (p.as_str(), e)).collect();
    sync::scan(root, sync::Rules::Project)
        .entries
        .into_iter()
        .filter(|(p, e)| sent.get(p.as_str()) != Some(&e))
        .map(|(p, _)| p)
        .collect()
}

/// Record paths just fetched from `container`'s workspace into the project (`written`:
/// every path written, relative, with its parent directories) as already there, so the
/// next sync does not send them back: their entries as a scan sees them now. Nothing else
/// changes: an edit made meanwhile elsewhere is still sent.
pub fn note_fetched(root: &Path, state_dir: &Path, container: &ContainerInfo, written: &[String]) {
    let path = state_path(state_dir, container);
    if !path.exists() {
        return; // nothing sent yet: the first sync sends everything anyway
    }
    let mut sent = sync::load(&path);
    merge_fetched(&mut sent, &sync::scan(root, sync::Rules::Project), written);
    let _ = sync::save(&path, &sent);
}

/// `sent` with the entries of each written path, and of its parent directories, replaced
/// by `now`'s; kept in tree order.
fn merge_fetched(sent: &mut sync::Tree, now: &sync::Tree, written: &[String]) {
    let mut paths: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for rel in written {
        paths.insert(rel);
        paths.extend(rel.match_indices('/').map(|(i, _)| &rel[..i]));
    }
    sent.entries.retain(|(p, _)| !paths.contains(p.as_str()));
    sent.entries.extend(
        now.entries
            .iter()
            .filter(|(p, _)| paths.contains(p.as_str()))
            .cloned(),
    );
    // The tree's order: component by component, so a directory comes before its contents.
    sent.entries
        .sort_by(|(a, _), (b, _)| a.split('/').cmp(b.split('/')));
}

#[cfg(test)]
mod fetched_tests {
    use super::*;

    #[test]
    fn only_a_missing_bind_source_means_binds_do_not_reach() {
        let api = |message: &str| EngineError::Api {
            action: "create a container".into(),
            message: message.into(),
        };
        assert!(bind_source_missing(&api(
            "Error response from daemon: invalid mount config for type \"bind\": bind \
             source path does not exist: /home/me/p/.devenv"
        )));
        assert!(!bind_source_missing(&api(
            "Error response from daemon: no space left on device"
        )));
        assert!(!bind_source_missing(&EngineError::NotFound {
            what: "image",
            name: "devenv/x".into(),
        }));
    }

    fn entry(kind: sync::Kind, ino: u64) -> sync::Entry {
        sync::Entry {
            kind,
            size: 1,
            mtime: (1, 0),
            ctime: (1, 0),
            ino,
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }

    fn tree(items: &[(&str, u64)]) -> sync::Tree {
        let mut t = sync::Tree::default();
        for (p, ino) in items {
            t.entries
                .push(((*p).to_owned(), entry(sync::Kind::File, *ino)));
        }
        t.entries
            .sort_by(|(a, _), (b, _)| a.split('/').cmp(b.split('/')));
        t
    }

    #[test]
    fn fetched_entries_replace_what_was_sent_and_nothing_else() {
        let mut sent = tree(&[
            ("a.txt", 1),
            ("cov", 2),
            ("cov/stale.html", 3),
            ("cov-notes.txt", 4),
        ]);
        let now = tree(&[
            ("a.txt", 10), // edited locally meanwhile: still to be sent
            ("cov", 20),
            ("cov/index.html", 21),
            ("cov-notes.txt", 4),
            ("target", 30),
            ("target/nextest", 31),
            ("target/nextest/junit.xml", 32),
            ("target/other.txt", 33),
        ]);
        merge_fetched(
            &mut sent,
            &now,
            &[
                "cov".to_owned(),
                "cov/index.html".to_owned(),
                "target/nextest/junit.xml".to_owned(),
            ],
        );
        let inos: Vec<(&str, u64)> = sent
            .entries
            .iter()
            .map(|(p, e)| (p.as_str(), e.ino))
            .collect();
        assert_eq!(
            inos,
            [
                ("a.txt", 1),
                ("cov", 20),
                ("cov/index.html", 21),
                ("cov/stale.html", 3),
                ("cov-notes.txt", 4),
                ("target", 30),
                ("target/nextest", 31),
                ("target/nextest/junit.xml", 32),
            ]
        );
        // What the next sync sends: the local edit only.
        let delta = sync::diff(&sent, &now);
        let changed: Vec<&str> = delta.changed.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(changed, ["a.txt", "target/other.txt"]);
        // Not in what came back, gone here: the next sync removes it there too.
        assert_eq!(delta.deleted, ["cov/stale.html"]);
    }
}

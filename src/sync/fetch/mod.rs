//! Bringing files back from the environment's workspace into the project: `devenv fetch
//! PATH…`, and the manifest's `[sync] fetch` paths after every `devenv run`. With a remote
//! engine the workspace is a synced copy, so what commands make there stays there until
//! fetched.
//!
//! Each path comes as the engine's tar stream, unpacked as it arrives into a temporary
//! directory beside its destination, then merged into the local copy: what the workspace
//! holds replaces the local entry (each file renamed over it, atomically), local entries it
//! does not hold stay (a gitignored file, a file deleted remotely). A local file edited since
//! the last sync is not overwritten: the path is refused naming it, before anything is
//! written (`--force` overwrites). Whatever would land outside the project (entries with
//! `..` or absolute names, symlinks pointing out of it, a local parent directory that is a
//! symlink out of it) refuses the whole path.

mod unpack;

/// The name stem of a fetch's temporary directory beside its destination.
pub const STAGING_PREFIX: &str = ".devenv-fetch-";

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::workspace::{self, Workspace};
use crate::engine::{ContainerInfo, Engine, EngineError};
use crate::manifest::{Manifest, VolumeSpec};
use crate::session::{Forward, Signals};

/// What came back for one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    File,
    Dir,
    Symlink,
    /// Not in the workspace; nothing changed locally.
    Missing,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("the environment container is gone")]
    ContainerGone,
    #[error(transparent)]
    Engine(EngineError),
    #[error("changed here since the last sync, not overwritten: {}", .0.join(", "))]
    Edited(Vec<String>),
    #[error("cannot write it: {0}")]
    Io(String),
    #[error("interrupted")]
    Interrupted,
}

impl FetchError {
    pub fn hint(&self) -> Option<String> {
        match self {
            FetchError::Refused(_) => Some(
                "devenv writes fetched files inside the project only; fix or remove the \
                 offending file in the environment (or the symlink here) and fetch again"
                    .into(),
            ),
            FetchError::ContainerGone => {
                Some("run `devenv up` (or a `devenv run`), then fetch again".into())
            }
            FetchError::Edited(_) => Some(
                "sync them first (any `devenv run` does), or fetch with `--force` to \
                 overwrite them"
                    .into(),
            ),
            FetchError::Engine(e) => e.hint(),
            FetchError::Io(_) | FetchError::Interrupted => None,
        }
    }
}

/// Fetch `paths` (relative to the project, checked by `manifest::check_fetch_path`) from
/// `container`'s workspace, one after the other, each merged into the local copy (see
/// [`unpack::unpack_merge`]; `force` overwrites local edits); a signal, a vanished
/// container or a lost engine stops the rest. In volume mode what came back is recorded as
/// already in the workspace, so the next sync does not send it back.
pub async fn fetch(
    engine: &Engine,
    manifest: &Manifest,
    container: &ContainerInfo,
    state_dir: &Path,
    paths: &[String],
    force: bool,
) -> Vec<(String, Result<Fetched, FetchError>)> {
    let mut sigs = Signals::new().ok();
    let mut outcomes = Vec::new();
    let volume = Workspace::of(&container.labels) == Workspace::Volume;
    let guard = Arc::new(unpack::Guard {
        force,
        edited: if volume && !force {
            let (root, state_dir, c) = (
                manifest.root.clone(),
                state_dir.to_path_buf(),
                container.clone(),
            );
            tokio::task::spawn_blocking(move || workspace::edited_since_sync(&root, &state_dir, &c))
                .await
                .unwrap_or_default()
        } else {
            std::collections::HashSet::new()
        },
    });
    let mut fetched = Vec::new();
    for path in paths {
        let rel = path.trim_end_matches('/');
        let result = fetch_one(engine, manifest, &container.id, rel, &guard, sigs.as_mut()).await;
        let stop = matches!(
            result,
            Err(FetchError::Interrupted
                | FetchError::ContainerGone
                | FetchError::Engine(EngineError::Unreachable { .. }))
        );
        outcomes.push((
            path.clone(),
            result.map(|(kind, written)| {
                fetched.extend(written);
                kind
            }),
        ));
        if stop {
            break;
        }
    }
    if volume && !fetched.is_empty() {
        // A sync of the same workspace must not save its state over this record.
        let _lock = workspace::lock(manifest).await.ok();
        let (root, state_dir, c) = (
            manifest.root.clone(),
            state_dir.to_path_buf(),
            container.clone(),
        );
        let _ = tokio::task::spawn_blocking(move || {
            workspace::note_fetched(&root, &state_dir, &c, &fetched);
        })
        .await;
    }
    outcomes
}

/// The `[sync] fetch` paths to bring back after a `run` in `container`: all of them from a
/// synced volume; from a bind-mounted project only those on a named volume mounted inside
/// the workspace (everything else already is the project's own file).
pub fn after_run_paths(manifest: &Manifest, container: &ContainerInfo) -> Vec<String> {
    let paths = &manifest.sync.fetch;
    if Workspace::of(&container.labels) == Workspace::Volume {
        return paths.clone();
    }
    let workdir = &manifest.shell.workdir;
    paths
        .iter()
        .filter(|p| on_named_volume(p, workdir, &manifest.container.volumes))
        .cloned()
        .collect()
}

/// Whether project path `path` is (or holds) a named volume's mount inside `workdir`.
fn on_named_volume(path: &str, workdir: &str, volumes: &[VolumeSpec]) -> bool {
    let path = path.trim_end_matches('/');
    let prefix = format!("{}/", workdir.trim_end_matches('/'));
    volumes.iter().any(|v| match v {
        VolumeSpec::Named { target, .. } => target
            .strip_prefix(&prefix)
            .is_some_and(|t| same_or_inside(path, t) || same_or_inside(t, path)),
        VolumeSpec::Bind { .. } => false,
    })
}

fn same_or_inside(inner: &str, outer: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|r| r.starts_with('/'))
}

/// One path: download, unpack beside the destination, rename over it.
async fn fetch_one(
    engine: &Engine,
    manifest: &Manifest,
    container: &str,
    rel: &str,
    guard: &Arc<unpack::Guard>,
    mut sigs: Option<&mut Signals>,
) -> Result<(Fetched, Vec<String>), FetchError> {
    let source = format!("{}/{rel}", manifest.shell.workdir.trim_end_matches('/'));
    let mut stream = engine.download_tar_stream(container, &source);
    // The first answer says whether the path is there, before anything is written.
    let (first, mut ended) = match next_chunk(&mut stream, sigs.as_deref_mut()).await {
        Next::Interrupted => return Err(FetchError::Interrupted),
        Next::Chunk(None) => (Bytes::new(), true),
        Next::Chunk(Some(Ok(b))) => (b, false),
        Next::Chunk(Some(Err(EngineError::NotFound { what: "path", .. }))) => {
            return Ok((Fetched::Missing, Vec::new()));
        }
        Next::Chunk(Some(Err(e))) => return Err(engine_failure(e)),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let cancelled = Arc::new(AtomicBool::new(false));
    let reader = ChunkReader {
        rx,
        current: first,
        cancelled: Arc::clone(&cancelled),
    };
    let (root, rel_owned, guard) = (manifest.root.clone(), rel.to_owned(), Arc::clone(guard));
    let unpack = tokio::task::spawn_blocking(move || {
        unpack::unpack_merge(&root, &rel_owned, reader, &guard)
    });
    let mut failure = None;
    while !ended {
        ended = true;
        match next_chunk(&mut stream, sigs.as_deref_mut()).await {
            Next::Interrupted => failure = Some(FetchError::Interrupted),
            Next::Chunk(Some(Err(e))) => failure = Some(engine_failure(e)),
            // A closed channel: the unpacking stopped, and its result says why.
            Next::Chunk(Some(Ok(b))) => ended = tx.send(b).await.is_err(),
            Next::Chunk(None) => {}
        }
    }
    if failure.is_some() {
        // The reader must not take a cut-off stream for a complete archive.
        cancelled.store(true, Ordering::SeqCst);
    }
    drop(tx);
    let unpacked = unpack
        .await
        .map_err(|e| FetchError::Io(format!("unpacking stopped: {e}")))?;
    match (unpacked, failure) {
        // The archive was complete before the stream failed.
        (Ok(done), _) => Ok(done),
        (Err(_), Some(failure)) => Err(failure),
        (Err(e), None) => Err(e),
    }
}

fn engine_failure(e: EngineError) -> FetchError {
    match e {
        EngineError::NotFound {
            what: "container", ..
        } => FetchError::ContainerGone,
        e => FetchError::Engine(e),
    }
}

enum Next {
    Chunk(Option<crate::engine::Result<Bytes>>),
    Interrupted,
}

/// The stream's next item, or `Interrupted` when SIGINT, SIGTERM, SIGHUP or SIGQUIT comes
/// first (a window resize is not a reason to stop).
async fn next_chunk(
    stream: &mut BoxStream<'static, crate::engine::Result<Bytes>>,
    sigs: Option<&mut Signals>,
) -> Next {
    let Some(sigs) = sigs else {
        return Next::Chunk(stream.next().await);
    };
    loop {
        tokio::select! {
            item = stream.next() => return Next::Chunk(item),
            sig = sigs.next() => if let Forward::Signal(_) = sig {
                return Next::Interrupted;
            },
        }
    }
}

/// The download as a blocking `Read` for the tar unpacker, fed chunk by chunk.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
    cancelled: Arc<AtomicBool>,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None if self.cancelled.load(Ordering::SeqCst) => {
                    return Err(std::io::Error::other("the download stopped"));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests;

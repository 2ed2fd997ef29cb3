//! Build containers: claiming one for a key, and telling live ones from leftovers.
//!
//! The container name `devenv-build-<first 16 hex of the key>` is the engine-wide claim on
//! building that key: the engine refuses a second container of that name, whichever
//! session, user or CI job container asks. Whether an existing one is live is judged from
//! the engine, never from the absence of a lock file (another devenv's lock directory is
//! invisible here):
//!
//! - one whose `dev.devenv.owner` is this lock directory's [`lock::scope`]: dead exactly
//!   when its key's lock is free (the kernel frees it when the builder dies);
//! - otherwise: live while running (its main process is the step, or an idle `/bin/sh` on a
//!   stdin the builder holds attached: `StdinOnce` ends it when the builder dies); an exited
//!   container with such a held stdin is dead at once; any other created or exited one is
//!   dead once older than [`GRACE`] (a live builder spends that state uploading inputs or
//!   committing, seconds);
//! - a build container of an older devenv (no owner label) is judged by this directory's
//!   key lock, as that version did.
//!
//! Only containers devenv made are considered: role `build` and the name that matches their
//! key label (labels alone are inherited by anything made from devenv's images).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::lock::{self, NamedLock};
use super::{layer_ref, BuildError, Reporter};
use crate::engine::{labels, ContainerSpec, ContainerState, Engine, EngineError};

/// How long a build container that is not running may be in the hands of a live builder
/// it cannot prove (created and not yet started, or exited and not yet committed).
pub const GRACE: Duration = Duration::from_secs(600);

/// How often a build waits for another build of the same key to finish.
const POLL: Duration = Duration::from_millis(500);

/// The name of the build container of `key`.
pub fn container_name(key: &str) -> String {
    format!("devenv-build-{}", &key[..16.min(key.len())])
}

/// The outcome of claiming a key.
pub enum Claim {
    /// Our container, created.
    Created(String),
    /// The layer appeared while we waited for another build of it.
    Built,
}

/// Create the build container for `spec`'s key, holding the key's lock. A dead one in the
/// way is removed; a live one (another build of the key elsewhere) is waited for.
pub async fn claim(
    engine: &Engine,
    spec: &ContainerSpec,
    key: &str,
    reporter: &mut dyn Reporter,
) -> Result<Claim, BuildError> {
    let name = container_name(key);
    let mut waiting = false;
    loop {
        match engine.create_container(spec).await {
            Ok(id) => return Ok(Claim::Created(id)),
            Err(EngineError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(c) = engine.container_state(&name).await? else {
            continue;
        };
        if !is_build_container(&c.name, &c.labels) {
            return Err(BuildError::Io {
                what: format!("container {name}"),
                message: "exists and devenv did not make it; remove or rename it".into(),
            });
        }
        if dead(&c, true)? {
            engine.remove_container(&c.id).await?;
            continue;
        }
        if !waiting {
            reporter.note(&format!(
                "waiting for another build of layer {} (container {name})",
                &key[..12.min(key.len())]
            ));
            waiting = true;
        }
        tokio::time::sleep(POLL).await;
        if engine.image(&layer_ref(key)).await?.is_some() {
            return Ok(Claim::Built);
        }
    }
}

/// Remove build containers that no live build owns, of the project with identity
/// `project_id` (also those of an older devenv labelled with its `name`), or of every
/// project with `None`; returns how many.
pub async fn remove_dead(
    engine: &Engine,
    project: Option<(&str, &str)>,
) -> Result<usize, BuildError> {
    let filter = [(labels::MANAGED, "true"), (labels::ROLE, "build")];
    let mut removed = 0;
    for c in engine.list_containers(&filter).await? {
        if !is_build_container(&c.name, &c.labels) {
            continue;
        }
        if let Some((name, id)) = project {
            let theirs = match c.labels.get(labels::PROJECT_ID) {
                Some(pid) => pid == id,
                None => c.labels.get(labels::PROJECT).map(String::as_str) == Some(name),
            };
            if !theirs {
                continue;
            }
        }
        let Some(state) = engine.container_state(&c.id).await? else {
            continue;
        };
        // Hold the key's lock while removing, when it is ours to take.
        let key = state.labels.get(labels::KEY).cloned().unwrap_or_default();
        let guard = if by_lock(&state)? {
            match NamedLock::try_acquire(&key)? {
                Some(guard) => Some(guard),
                None => continue,
            }
        } else {
            None
        };
        if guard.is_some() || dead(&state, false)? {
            engine.remove_container(&state.id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Made by devenv as a build container: role `build`, named after its key.
fn is_build_container(name: &str, l: &std::collections::HashMap<String, String>) -> bool {
    l.get(labels::ROLE).map(String::as_str) == Some("build")
        && l.get(labels::KEY)
            .is_some_and(|k| k.len() == 64 && name == container_name(k))
}

/// Whether this lock directory's key lock decides about the container: it carries our
/// scope, or it is an older devenv's (no owner label).
fn by_lock(c: &ContainerState) -> Result<bool, BuildError> {
    // Empty: an older devenv's container, from a layer that carries the empty label.
    Ok(
        match c.labels.get(labels::OWNER).filter(|o| !o.is_empty()) {
            None => true,
            Some(owner) => *owner == lock::scope()?,
        },
    )
}

/// Whether the container is a leftover. `holding_key_lock`: the caller holds the lock of its
/// key (then a container decided by our locks is dead: its builder would hold that lock).
fn dead(c: &ContainerState, holding_key_lock: bool) -> Result<bool, BuildError> {
    if by_lock(c)? {
        if holding_key_lock {
            return Ok(true);
        }
        let key = c.labels.get(labels::KEY).cloned().unwrap_or_default();
        return Ok(NamedLock::try_acquire(&key)?.is_some());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let grace = i64::try_from(GRACE.as_secs()).unwrap_or(i64::MAX);
    let old = |t: Option<i64>| t.is_none_or(|t| now - t > grace);
    Ok(match c.state.as_str() {
        "dead" => true,
        // The builder holds an idle container's stdin: exited means it let go.
        "exited" if c.stdin_once => true,
        "exited" => old(c.finished),
        "created" => old(c.created),
        // running, paused, restarting, removing
        _ => false,
    })
}

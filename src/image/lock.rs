//! Named advisory file locks: concurrent builds of the same step, or concurrent `up`s of the
//! same project, wait for each other instead of doing the work twice. The kernel releases
//! a lock when its process dies, even by kill -9, so a lock is never left stale.

use std::fs::File;
use std::path::PathBuf;

use super::BuildError;

pub struct NamedLock(#[allow(dead_code)] File);

impl NamedLock {
    /// Wait for and take the lock called `name`. Another process may hold it for minutes
    /// (a build of the same step, an `up` of the same project), so Ctrl-C or SIGTERM ends
    /// the wait with [`BuildError::Interrupted`]. The wait polls rather than blocking a
    /// thread in the kernel, so ending it leaves nothing waiting behind.
    pub async fn acquire(name: &str) -> Result<NamedLock, BuildError> {
        const POLL: std::time::Duration = std::time::Duration::from_millis(100);
        if let Some(lock) = NamedLock::try_acquire(name)? {
            return Ok(lock);
        }
        super::interrupt::or_interrupted(async {
            loop {
                tokio::time::sleep(POLL).await;
                if let Some(lock) = NamedLock::try_acquire(name)? {
                    return Ok(lock);
                }
            }
        })
        .await
    }

    /// Take the lock if nobody holds it.
    pub fn try_acquire(name: &str) -> Result<Option<NamedLock>, BuildError> {
        let f = open(&path(name)).map_err(|e| lock_err(&e.to_string()))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(NamedLock(f))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(lock_err(&e.to_string())),
        }
    }
}

fn open(path: &std::path::Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

fn path(name: &str) -> PathBuf {
    lock_dir().join(format!("{name}.lock"))
}

fn lock_err(message: &str) -> BuildError {
    BuildError::Io {
        what: "lock file".into(),
        message: message.to_owned(),
    }
}

/// Per-user directory for devenv's advisory locks: the same for every process of the user
/// (so not `$TMPDIR`, which shells, IDEs and tmux may set differently).
pub fn lock_dir() -> PathBuf {
    let uid = nix::unistd::getuid();
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("devenv-locks"),
        _ => PathBuf::from("/tmp").join(format!("devenv-{uid}")),
    }
}

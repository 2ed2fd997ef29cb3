//! Named advisory file locks: concurrent builds of the same step, or concurrent `up`s of the
//! same project, wait for each other instead of doing the work twice. The kernel releases
//! a lock when its process dies, even by kill -9, so a lock is never left stale.
//!
//! A lock only speaks for the processes that share its directory: another session, user or
//! CI job container has its own. So the locks are an optimisation and a serialisation of
//! one user's processes; whether a build container is live is judged from the engine (see
//! `leftovers`), with the lock directory's [`scope`] id telling which containers this
//! directory's locks do speak for.
//!
//! The directory is private (mode 0700, owned by the user, never a symlink): in `/tmp`
//! another local user could otherwise plant it. A lock file is removed by its holder on
//! release, so lock files do not pile up; a waiter that then gets the lock on the removed
//! file notices (its path no longer leads to that file) and starts over.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::BuildError;

pub struct NamedLock {
    file: File,
    path: PathBuf,
}

impl Drop for NamedLock {
    fn drop(&mut self) {
        // Still holding the lock: nobody else can be between "locked" and "checked the path".
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

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

    /// The lock of a project's lock file (`devenv.lock`) at `file`: every writer (the base's
    /// resolution, the services' pins) holds it from reading the file to writing it, so
    /// neither writes the other's part back stale.
    pub async fn acquire_for_file(file: &Path) -> Result<NamedLock, BuildError> {
        let real = file
            .parent()
            .and_then(|d| d.canonicalize().ok())
            .map_or_else(
                || file.to_path_buf(),
                |d| d.join(file.file_name().unwrap_or_default()),
            );
        let mut h = crate::fingerprint::Hasher::new("lock-file");
        h.field("path", real.as_os_str().as_encoded_bytes());
        NamedLock::acquire(&format!("lockfile-{}", &h.finish()[..16])).await
    }

    /// Take the lock if nobody holds it.
    pub fn try_acquire(name: &str) -> Result<Option<NamedLock>, BuildError> {
        let path = path(name)?;
        loop {
            let f = open(&path).map_err(|e| lock_err(&e.to_string()))?;
            match f.try_lock() {
                Ok(()) if still_linked(&f, &path) => return Ok(Some(NamedLock { file: f, path })),
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(&e.to_string())),
            }
        }
    }
}

/// Whether `path` still names the file we locked (its holder removes it on release).
fn still_linked(f: &File, path: &Path) -> bool {
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

fn path(name: &str) -> Result<PathBuf, BuildError> {
    Ok(private_dir()?.join(format!("{name}.lock")))
}

fn lock_err(message: &str) -> BuildError {
    BuildError::Io {
        what: "lock file".into(),
        message: message.to_owned(),
    }
}

/// Per-user directory for devenv's advisory locks: `$XDG_RUNTIME_DIR/devenv-locks`, else
/// `/run/user/<uid>/devenv-locks` when that runtime directory exists and is the user's (a
/// session without the variable then still shares the locks), else `/tmp/devenv-<uid>`.
/// Not `$TMPDIR`, which shells, IDEs and tmux may set differently.
pub fn lock_dir() -> PathBuf {
    let uid = nix::unistd::getuid().as_raw();
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("devenv-locks");
    }
    let run = PathBuf::from(format!("/run/user/{uid}"));
    if std::fs::symlink_metadata(&run).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
        return run.join("devenv-locks");
    }
    PathBuf::from("/tmp").join(format!("devenv-{uid}"))
}

/// The lock directory, created private (0700) if missing. One that is not a directory of
/// ours (a symlink, a file, another user's directory: planted in `/tmp`) is refused, except
/// our own symlink or file, which is replaced; our own directory with looser permissions is
/// tightened.
fn private_dir() -> Result<PathBuf, BuildError> {
    let dir = lock_dir();
    let uid = nix::unistd::getuid().as_raw();
    for _ in 0..3 {
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // $XDG_RUNTIME_DIR itself is missing: make it as the user's own.
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .recursive(true)
                    .create(&dir)
                    .map_err(|e| dir_err(&dir, &e.to_string()))?;
            }
            Err(e) => return Err(dir_err(&dir, &e.to_string())),
        }
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| dir_err(&dir, &e.to_string()))?;
        if meta.uid() != uid {
            return Err(dir_err(
                &dir,
                &format!("it belongs to uid {}, not to you (uid {uid})", meta.uid()),
            ));
        }
        if !meta.is_dir() {
            // Ours, but a symlink or a file: never follow it; replace it.
            std::fs::remove_file(&dir).map_err(|e| dir_err(&dir, &e.to_string()))?;
            continue;
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| dir_err(&dir, &e.to_string()))?;
        }
        return Ok(dir);
    }
    Err(dir_err(&dir, "it keeps being replaced"))
}

fn dir_err(dir: &Path, why: &str) -> BuildError {
    BuildError::LockDir {
        dir: dir.display().to_string(),
        why: why.to_owned(),
    }
}

/// A random id of the lock directory, kept in it (`scope`). Build containers carry it, so
/// a devenv can tell the containers whose locks it sees (same id: a free key lock proves
/// the build dead) from those of another session, user or machine (judged by the engine).
pub fn scope() -> Result<String, BuildError> {
    let dir = private_dir()?;
    let file = dir.join("scope");
    let err = |e: std::io::Error| lock_err(&format!("{}: {e}", file.display()));
    for _ in 0..3 {
        if let Ok(id) = std::fs::read_to_string(&file) {
            if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(id);
            }
            std::fs::remove_file(&file).map_err(err)?;
        }
        // Written aside and linked into place: a reader never sees a half-written id.
        let mut bytes = [0u8; 8];
        std::io::Read::read_exact(&mut File::open("/dev/urandom").map_err(err)?, &mut bytes)
            .map_err(err)?;
        let tmp = dir.join(format!("scope.{}", std::process::id()));
        std::fs::write(&tmp, hex::encode(bytes)).map_err(err)?;
        let linked = std::fs::hard_link(&tmp, &file);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e)),
        }
    }
    Err(lock_err(&format!("{}: cannot be created", file.display())))
}

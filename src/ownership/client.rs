//! The client's identity: who, on a shared engine, owns a package cache (`image::caches`).
//! One id per user and machine, made once and kept in the user's state directory
//! (`$XDG_STATE_HOME/devenv/client`, default `~/.local/state`), so every project of one
//! user on one machine shares its caches and two machines using one remote engine never
//! share theirs unless the manifest says so (a cache's `scope = "engine"`).
//! `DEVENV_CLIENT` overrides it (two CI jobs of one team on purpose).

use std::path::PathBuf;

/// The environment variable that overrides the file.
pub const ENV: &str = "DEVENV_CLIENT";
/// The file holding the id, inside devenv's state directory.
const FILE: &str = "client";

/// The client id: `DEVENV_CLIENT`, else the state file (made with a fresh random id the
/// first time), else, without a writable home, one derived from the user and the host.
pub fn id() -> String {
    if let Some(v) = std::env::var(ENV)
        .ok()
        .filter(|v| super::checkout::valid(v))
    {
        return v;
    }
    let Some(path) = path() else {
        return derived();
    };
    if let Some(id) = read(&path) {
        return id;
    }
    let fresh = super::checkout::fresh();
    match write_once(&path, &fresh) {
        // Whichever id won a race is the client's.
        Ok(()) => read(&path).unwrap_or(fresh),
        Err(_) => derived(),
    }
}

/// Whether `DEVENV_CLIENT` holds something that cannot be an id (an error for the caller).
pub fn invalid_override() -> Option<String> {
    std::env::var(ENV)
        .ok()
        .filter(|v| !super::checkout::valid(v))
}

fn path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("devenv").join(FILE))
}

fn read(path: &std::path::Path) -> Option<String> {
    let id = std::fs::read_to_string(path).ok()?;
    let id = id.trim();
    super::checkout::valid(id).then(|| id.to_owned())
}

/// Written to a temporary file and linked into place: two first runs agree on one id.
fn write_once(path: &std::path::Path, id: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(path);
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{FILE}.{}", std::process::id()));
    std::fs::write(&tmp, format!("{id}\n"))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Without a state directory: the user and the host, hashed (stable, never random).
fn derived() -> String {
    let mut h = crate::fingerprint::Hasher::new("client");
    h.field("uid", nix::unistd::getuid().to_string().as_bytes());
    h.field("host", &std::fs::read("/etc/hostname").unwrap_or_default());
    h.finish()[..24].to_owned()
}

//! The checkout's identity: an id made once per checkout and kept in `.devenv/checkout`, so
//! two checkouts at the same path on two machines (one shared remote engine) are two
//! environments. `DEVENV_CHECKOUT` overrides it: two clients that set the same value share
//! one environment on purpose.
//!
//! A copy is kept in the user's state directory (`$XDG_STATE_HOME/devenv/checkouts/<key>`,
//! the key naming the project directory and manifest), so deleting `.devenv/` does not
//! make a new checkout and lose the environment. A checkout whose `.devenv/` exists without
//! the file, and without a copy, was used by a devenv from before checkout ids: it keeps
//! the names that version gave its containers and volumes (id `legacy`), so no database is
//! orphaned by the upgrade.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The file holding the id, inside the state directory.
pub const FILE: &str = "checkout";
/// The environment variable that overrides the file (shared environments).
pub const ENV: &str = "DEVENV_CHECKOUT";
/// The id of a checkout made before checkout ids: names as that version made them.
pub const LEGACY: &str = "legacy";
const MAX_LEN: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{what} holds `{value}`, which is not a checkout id")]
    Invalid { what: String, value: String },
}

impl CheckoutError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CheckoutError::Invalid { .. } => Some(format!(
                "a checkout id is 1 to {MAX_LEN} letters, digits, `-`, `_` or `.`; copy it \
                 from the `.devenv/{FILE}` of the checkout whose environment you mean to share"
            )),
        }
    }
}

/// Where the copy of a checkout's id is kept: `key` names the checkout's project directory
/// and manifest ([`key`]). `None` without a home.
fn copy_path(key: &str) -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("devenv").join("checkouts").join(key))
}

/// The key of the copy for a project directory and manifest (real paths).
pub fn key(dir: &str, manifest: &str) -> String {
    let mut h = crate::fingerprint::Hasher::new("checkout-key");
    h.field("dir", dir.as_bytes());
    h.field("manifest", manifest.as_bytes());
    h.finish()[..16].to_owned()
}

fn read_id(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether `value` can be a checkout id (it goes into labels and a hash, never a name).
pub fn valid(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The checkout id as it stands, without writing anything: `DEVENV_CHECKOUT`, else the
/// file, else its copy, else `legacy` (a state directory made before checkout ids, or one
/// devenv cannot write: [`ensure`] makes the file whenever it can).
pub fn current(state_dir: &Path, key: &str) -> String {
    if let Some(v) = std::env::var(ENV).ok().filter(|v| valid(v)) {
        return v;
    }
    read_id(&state_dir.join(FILE))
        .or_else(|| copy_path(key).and_then(|p| read_id(&p)))
        .filter(|s| valid(s))
        .unwrap_or_else(|| LEGACY.to_owned())
}

/// Make sure the checkout has its id, in `.devenv/` and in the copy: the copy's when
/// `.devenv/` lost it; else `legacy` for a state directory from before checkout ids; else
/// (a new checkout) a fresh random one. Checks `DEVENV_CHECKOUT` and the file. Writing is
/// best effort: a checkout devenv cannot write into is `legacy`.
pub fn ensure(state_dir: &Path, key: &str) -> Result<(), CheckoutError> {
    if let Ok(v) = std::env::var(ENV) {
        return check(&v, ENV);
    }
    ensure_with(state_dir, copy_path(key))
}

/// [`ensure`] for a loaded manifest whose state directory is `state_dir`.
pub fn ensure_for(
    manifest: &crate::manifest::Manifest,
    state_dir: &Path,
) -> Result<(), CheckoutError> {
    let (dir, path) = (super::real(&manifest.root), super::real(&manifest.path));
    ensure(state_dir, &key(&dir, &path))
}

fn ensure_with(state_dir: &Path, copy: Option<PathBuf>) -> Result<(), CheckoutError> {
    let file = state_dir.join(FILE);
    if let Some(id) = read_id(&file) {
        check(&id, &format!(".devenv/{FILE}"))?;
        if let Some(copy) = copy.filter(|c| read_id(c).as_deref() != Some(id.as_str())) {
            let _ = write(&copy, &id);
        }
        return Ok(());
    }
    let id = match copy.as_deref().and_then(read_id).filter(|id| valid(id)) {
        Some(id) => id,
        None if state_dir.exists() => LEGACY.to_owned(),
        None => fresh(),
    };
    if write_once(state_dir, &file, &id).is_ok() {
        if let Some(copy) = copy {
            // Whichever id won a race is the checkout's.
            let id = read_id(&file).unwrap_or(id);
            let _ = write(&copy, &id);
        }
    }
    Ok(())
}

fn write(path: &Path, id: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{id}\n"))
}

fn check(value: &str, what: &str) -> Result<(), CheckoutError> {
    if valid(value) {
        Ok(())
    } else {
        Err(CheckoutError::Invalid {
            what: what.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// Write the id unless another process wrote one first (then theirs stands): written to a
/// temporary file and linked into place, which fails when the file exists.
fn write_once(state_dir: &Path, file: &Path, id: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let ignore = state_dir.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(ignore, "# devenv's local state; never committed\n*\n");
    }
    let tmp = state_dir.join(format!(".{FILE}.{}", std::process::id()));
    std::fs::write(&tmp, format!("{id}\n"))?;
    let linked = std::fs::hard_link(&tmp, file);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// 24 hex of randomness from the system.
pub(super) fn fresh() -> String {
    let mut bytes = [0u8; 12];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom: the clock, the process and the host's name, hashed.
        let mut h = crate::fingerprint::Hasher::new("checkout");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.field("now", now.to_string().as_bytes());
        h.field("pid", std::process::id().to_string().as_bytes());
        h.field("host", &std::fs::read("/etc/hostname").unwrap_or_default());
        return h.finish()[..24].to_owned();
    }
    bytes.iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ensure(state: &Path) -> Result<(), CheckoutError> {
        ensure_with(state, Some(state.with_extension("copy")))
    }

    #[test]
    fn a_new_checkout_gets_a_fresh_id_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".devenv");
        ensure(&state).unwrap();
        let id = std::fs::read_to_string(state.join(FILE)).unwrap();
        let id = id.trim();
        assert_eq!(id.len(), 24, "{id}");
        assert!(valid(id));
        ensure(&state).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.join(FILE)).unwrap().trim(),
            id
        );
        assert!(state.join(".gitignore").exists());
        // `.devenv/` deleted: the copy brings the id back.
        std::fs::remove_dir_all(&state).unwrap();
        ensure(&state).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.join(FILE)).unwrap().trim(),
            id
        );
        assert_eq!(read_id(&state.with_extension("copy")).as_deref(), Some(id));
    }

    #[test]
    fn a_state_directory_from_before_checkout_ids_is_legacy() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".devenv");
        std::fs::create_dir_all(&state).unwrap();
        ensure(&state).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.join(FILE)).unwrap().trim(),
            LEGACY
        );
    }

    #[test]
    fn two_new_checkouts_differ() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        ensure(&a.path().join("s")).unwrap();
        ensure(&b.path().join("s")).unwrap();
        let read = |d: &Path| std::fs::read_to_string(d.join("s").join(FILE)).unwrap();
        assert_ne!(read(a.path()), read(b.path()));
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid("3f2a-team_db.1"));
        assert!(!valid(""));
        assert!(!valid("a b"));
        assert!(!valid("../x"));
        assert!(!valid(&"a".repeat(65)));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "no good\n").unwrap();
        assert!(matches!(
            ensure(dir.path()),
            Err(CheckoutError::Invalid { .. })
        ));
    }
}

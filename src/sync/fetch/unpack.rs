//! The blocking half of a fetch: unpacking the engine's archive of one path beside its
//! destination, checking every entry, and renaming the result over the local copy.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::{FetchError, Fetched};

fn io_error(e: &std::io::Error) -> FetchError {
    FetchError::Io(e.to_string())
}

/// What a fetch may overwrite: local files edited since the last sync (project-relative
/// paths) are kept, and the path refused naming them, unless `force`.
#[derive(Debug, Default, Clone)]
pub struct Guard {
    pub force: bool,
    pub edited: std::collections::HashSet<String>,
}

/// Unpack `tar` (the engine's archive of `rel`, its entries named from `rel`'s last
/// component) and merge it into the project at `root`: what the archive holds replaces the
/// local entry, local entries it does not hold stay. Nothing is written when an entry would
/// overwrite a file edited here since the last sync, or a local directory would give way to
/// a file (its contents would be lost), unless `guard.force`. Returns the kind and every
/// project-relative path written.
pub(super) fn unpack_merge(
    root: &Path,
    rel: &str,
    tar: impl Read,
    guard: &Guard,
) -> Result<(Fetched, Vec<String>), FetchError> {
    let rel = Path::new(rel);
    let Some(name) = rel.file_name() else {
        return Err(FetchError::Refused(format!(
            "`{}` is not a path in the project",
            rel.display()
        )));
    };
    let canonical_root = root.canonicalize().map_err(|e| io_error(&e))?;
    let parent = local_parent(root, &canonical_root, rel)?;
    let base = parent
        .strip_prefix(&canonical_root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let staging = Staging::new(&parent)?;
    let mut archive = tar::Archive::new(tar);
    let kind = unpack_into(&mut archive, &staging.incoming(), name, &base)?;
    let (new, dest, name) = (
        staging.incoming().join(name),
        parent.join(name),
        base.join(name),
    );
    let mut conflicts = Vec::new();
    if !guard.force {
        find_conflicts(&new, &dest, &name, guard, &mut conflicts);
    }
    if !conflicts.is_empty() {
        return Err(FetchError::Edited(conflicts));
    }
    std::fs::create_dir(staging.aside()).map_err(|e| io_error(&e))?;
    let mut merge = Merge {
        aside: staging.aside(),
        n: 0,
        written: Vec::new(),
    };
    merge.entry(&new, &dest, &name).map_err(|e| io_error(&e))?;
    Ok((kind, merge.written))
}

fn is_dir(p: &Path) -> bool {
    p.symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// The local entries merging `new` into `dest` would lose: files edited here since the
/// last sync, and directories a file would replace.
fn find_conflicts(new: &Path, dest: &Path, rel: &Path, guard: &Guard, out: &mut Vec<String>) {
    let Ok(local) = dest.symlink_metadata() else {
        return;
    };
    let rel_str = rel.to_string_lossy();
    if local.is_dir() && is_dir(new) {
        let Ok(kids) = std::fs::read_dir(new) else {
            return;
        };
        for k in kids.filter_map(Result::ok) {
            let name = k.file_name();
            find_conflicts(&k.path(), &dest.join(&name), &rel.join(&name), guard, out);
        }
    } else if local.is_dir() {
        out.push(format!("{rel_str}/ (a directory here)"));
    } else if guard.edited.contains(rel_str.as_ref()) {
        out.push(rel_str.into_owned());
    }
}

/// Merging a staged tree into the project; replaced local entries go to `aside` (inside the
/// staging directory, removed with it).
struct Merge {
    aside: PathBuf,
    n: usize,
    written: Vec<String>,
}

impl Merge {
    fn entry(&mut self, new: &Path, dest: &Path, rel: &Path) -> std::io::Result<()> {
        if is_dir(dest) && is_dir(new) {
            let mut kids: Vec<_> = std::fs::read_dir(new)?.filter_map(Result::ok).collect();
            kids.sort_by_key(std::fs::DirEntry::file_name);
            self.note(rel);
            for k in kids {
                let name = k.file_name();
                self.entry(&k.path(), &dest.join(&name), &rel.join(&name))?;
            }
            // The directory's own mode, as the workspace has it.
            if let Ok(m) = new.symlink_metadata() {
                let _ = std::fs::set_permissions(dest, m.permissions());
            }
            return Ok(());
        }
        self.note_tree(new, rel);
        self.n += 1;
        replace(new, dest, &self.aside.join(self.n.to_string()))
    }

    fn note(&mut self, rel: &Path) {
        if let Some(s) = rel.to_str() {
            self.written.push(s.to_owned());
        }
    }

    /// `rel` and everything below it in `new`.
    fn note_tree(&mut self, new: &Path, rel: &Path) {
        self.note(rel);
        if !is_dir(new) {
            return;
        }
        if let Ok(kids) = std::fs::read_dir(new) {
            for k in kids.filter_map(Result::ok) {
                let name = k.file_name();
                self.note_tree(&k.path(), &rel.join(&name));
            }
        }
    }
}

/// The destination's parent directory (created when missing), canonical and inside the
/// project: a local symlink out of the project would take the write elsewhere.
fn local_parent(root: &Path, canonical_root: &Path, rel: &Path) -> Result<PathBuf, FetchError> {
    let dir = root.join(rel.parent().unwrap_or(Path::new("")));
    let outside = |real: &Path| {
        FetchError::Refused(format!(
            "`{}` leads outside the project (to {})",
            rel.display(),
            real.display()
        ))
    };
    let mut existing = dir.as_path();
    while existing.symlink_metadata().is_err() {
        match existing.parent() {
            Some(p) => existing = p,
            None => break,
        }
    }
    let real = existing.canonicalize().map_err(|e| io_error(&e))?;
    if !real.starts_with(canonical_root) {
        return Err(outside(&real));
    }
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&e))?;
    let real = dir.canonicalize().map_err(|e| io_error(&e))?;
    if !real.starts_with(canonical_root) {
        return Err(outside(&real));
    }
    Ok(real)
}

/// A temporary directory beside the destination (same file system, so each rename is
/// atomic), removed with whatever is left in it: `new/` receives the archive, `old/` the
/// replaced local entries. Named `<STAGING_PREFIX><pid>-<id>`: sync never sends such a directory,
/// and one left by a fetch that was killed (its pid gone) is removed by the next fetch
/// into the same directory.
struct Staging(PathBuf);

impl Staging {
    fn new(parent: &Path) -> Result<Staging, FetchError> {
        sweep_stale(parent);
        let dir = parent.join(format!(
            "{}{}-{}",
            super::STAGING_PREFIX,
            std::process::id(),
            crate::session::unique_id()
        ));
        std::fs::create_dir(&dir).map_err(|e| io_error(&e))?;
        let staging = Staging(dir);
        std::fs::create_dir(staging.incoming()).map_err(|e| io_error(&e))?;
        Ok(staging)
    }

    fn incoming(&self) -> PathBuf {
        self.0.join("new")
    }

    fn aside(&self) -> PathBuf {
        self.0.join("old")
    }
}

/// Remove staging directories in `parent` whose fetch is no longer running.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(super::STAGING_PREFIX))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unpack every entry under `staging`, refusing the archive when an entry is not below
/// `name`, lies beneath a symlink of the archive, or is a link pointing out of the project
/// (`base` is the destination's parent, relative to the project).
fn unpack_into<R: Read>(
    archive: &mut tar::Archive<R>,
    staging: &Path,
    name: &OsStr,
    base: &Path,
) -> Result<Fetched, FetchError> {
    let mut symlinks: Vec<PathBuf> = Vec::new();
    for entry in archive.entries().map_err(|e| io_error(&e))? {
        let mut entry = entry.map_err(|e| io_error(&e))?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|e| io_error(&e))?.into_owned();
        check_entry(&path, name)?;
        if let Some(link) = symlinks.iter().find(|l| path.starts_with(l)) {
            return Err(FetchError::Refused(format!(
                "`{}` lies beneath the symlink `{}`",
                base.join(&path).display(),
                base.join(link).display()
            )));
        }
        let target = || -> Result<PathBuf, FetchError> {
            let t = entry.link_name().map_err(|e| io_error(&e))?;
            t.map(std::borrow::Cow::into_owned)
                .ok_or_else(|| FetchError::Io(format!("{} has no link target", path.display())))
        };
        match kind {
            tar::EntryType::Symlink => {
                check_symlink(base, &path, &target()?)?;
                symlinks.push(path.clone());
            }
            tar::EntryType::Link => check_entry(&target()?, name)?,
            tar::EntryType::Regular
            | tar::EntryType::Continuous
            | tar::EntryType::Directory
            | tar::EntryType::GNUSparse => {}
            // Devices, fifos and global headers do not come back.
            _ => continue,
        }
        if !entry.unpack_in(staging).map_err(|e| io_error(&e))? {
            return Err(FetchError::Refused(format!(
                "the archive entry `{}` leaves the project",
                path.display()
            )));
        }
    }
    let top = staging.join(name);
    let meta = top
        .symlink_metadata()
        .map_err(|_| FetchError::Io("the engine sent an empty archive".into()))?;
    Ok(if meta.is_dir() {
        Fetched::Dir
    } else if meta.file_type().is_symlink() {
        Fetched::Symlink
    } else {
        Fetched::File
    })
}

/// An archive path must be `name` or below it, in plain components.
fn check_entry(path: &Path, name: &OsStr) -> Result<(), FetchError> {
    let mut parts = path.components();
    let plain = parts.next() == Some(Component::Normal(name))
        && parts.all(|c| matches!(c, Component::Normal(_)));
    if plain {
        return Ok(());
    }
    Err(FetchError::Refused(format!(
        "the archive entry `{}` is not inside `{}`",
        path.display(),
        name.to_string_lossy()
    )))
}

/// A symlink at `base/path` pointing at `target` must stay in the project, read lexically
/// from where it is (an absolute target would name this machine's root, not the
/// workspace's).
fn check_symlink(base: &Path, path: &Path, target: &Path) -> Result<(), FetchError> {
    let at = base.join(path);
    let mut depth: Vec<&OsStr> = at
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let inside = target.components().all(|c| match c {
        Component::Normal(n) => {
            depth.push(n);
            true
        }
        Component::CurDir => true,
        Component::ParentDir => depth.pop().is_some(),
        Component::RootDir | Component::Prefix(_) => false,
    });
    if inside {
        return Ok(());
    }
    Err(FetchError::Refused(format!(
        "`{}` is a symlink to `{}`, outside the project",
        at.display(),
        target.display()
    )))
}

/// Put `new` at `dest`. Files and symlinks are renamed over the old copy (atomic); a
/// directory, or a change of kind, is swapped in with one atomic exchange where the system
/// has it, else the old copy is moved to `aside` first. Either way the old copy ends in the
/// staging directory and is removed with it.
fn replace(new: &Path, dest: &Path, aside: &Path) -> std::io::Result<()> {
    replace_with(new, dest, aside, exchange)
}

pub(super) fn replace_with(
    new: &Path,
    dest: &Path,
    aside: &Path,
    exchange: fn(&Path, &Path) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    let Ok(old) = dest.symlink_metadata() else {
        return std::fs::rename(new, dest);
    };
    if !old.is_dir() && !new.symlink_metadata()?.is_dir() {
        return std::fs::rename(new, dest);
    }
    if exchange(new, dest)? {
        return Ok(());
    }
    std::fs::rename(dest, aside)?;
    std::fs::rename(new, dest).inspect_err(|_| {
        let _ = std::fs::rename(aside, dest);
    })
}

/// Swap two paths atomically; `false` when the file system cannot.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use nix::errno::Errno;
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => Ok(true),
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
}

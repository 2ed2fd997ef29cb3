//! Keeping a copy of the project current on an engine that cannot see this machine's files:
//! scan the project (with its .gitignore files and the default ignores), compare with what
//! was last sent, and pack what changed as a tar stream. The engine side (upload, deletions)
//! is the session's business; this module only knows the host's tree.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

/// What is never sent: the watcher's default ignores (VCS metadata, devenv's own state,
/// editors' temp files).
use crate::watch::{SKIPPED_DIRS, TEMP_FILES};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

/// What an entry looked like when it was sent; any difference means "send again".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub kind: Kind,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The project's kept entries by `/`-separated relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    pub entries: BTreeMap<String, Entry>,
}

/// What the next sync sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// New or changed entries, parents before children.
    pub changed: Vec<String>,
    /// Entries gone from the project; a deleted directory stands for its contents.
    pub deleted: Vec<String>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty()
    }
}

/// Walk the project as git would see it (its ignore files, not following symlinks).
pub fn scan(root: &Path) -> Tree {
    let mut b = WalkBuilder::new(root);
    let temp = temp_globs();
    b.hidden(false)
        .parents(false)
        .git_global(false)
        .git_ignore(true)
        .git_exclude(true)
        .ignore(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            e.depth() == 0 || !ignored_name(&temp, e.file_name(), is_dir)
        });
    let mut tree = Tree::default();
    for entry in b.build().filter_map(Result::ok) {
        if entry.depth() == 0 {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str().map(str::to_owned) else {
            continue; // not UTF-8: tar paths and the state file need text
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_file() {
            Kind::File
        } else {
            continue; // sockets, fifos, devices
        };
        tree.entries.insert(
            rel,
            Entry {
                kind,
                // A directory's size says nothing; its mtime changes with its entries.
                size: if kind == Kind::Dir { 0 } else { meta.len() },
                mtime: if kind == Kind::Dir {
                    (0, 0)
                } else {
                    (meta.mtime(), meta.mtime_nsec())
                },
                ctime: if kind == Kind::Dir {
                    (0, 0)
                } else {
                    (meta.ctime(), meta.ctime_nsec())
                },
                ino: meta.ino(),
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            },
        );
    }
    tree
}

fn temp_globs() -> globset::GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for p in TEMP_FILES {
        b.add(globset::Glob::new(p).expect("built-in temp-file pattern"));
    }
    b.build().expect("built-in temp-file patterns")
}

fn ignored_name(temp: &globset::GlobSet, name: &OsStr, is_dir: bool) -> bool {
    if is_dir {
        SKIPPED_DIRS.iter().any(|d| name == OsStr::new(d))
    } else {
        temp.is_match(Path::new(name))
    }
}

/// What changed from `old` (last sent) to `new` (the project now).
pub fn diff(old: &Tree, new: &Tree) -> Delta {
    let mut delta = Delta::default();
    for (path, e) in &new.entries {
        if old.entries.get(path) != Some(e) {
            delta.changed.push(path.clone());
        }
    }
    for (path, e) in &old.entries {
        let gone = match new.entries.get(path) {
            None => true,
            // A directory replaced by a file (or the reverse) goes first.
            Some(n) => n.kind != e.kind,
        };
        // Only the topmost deleted path: `rm -rf dir` takes its contents.
        let covered = parent_deleted(&delta.deleted, path);
        if gone && !covered {
            delta.deleted.push(path.clone());
        }
    }
    delta
}

fn parent_deleted(deleted: &[String], path: &str) -> bool {
    deleted
        .last()
        .is_some_and(|d| path.starts_with(d.as_str()) && path[d.len()..].starts_with('/'))
}

/// A tar stream of `paths` (from `tree`) under `root`, owners and modes as on the host.
pub fn pack(root: &Path, tree: &Tree, paths: &[String]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for rel in paths {
        let Some(e) = tree.entries.get(rel) else {
            continue;
        };
        let abs: PathBuf = root.join(rel);
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        h.set_mtime(u64::try_from(e.mtime.0).unwrap_or(0));
        match e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, rel, std::io::empty())?;
            }
            Kind::Symlink => {
                let target = std::fs::read_link(&abs)?;
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                tar.append_link(&mut h, rel, target)?;
            }
            Kind::File => {
                let file = match std::fs::File::open(&abs) {
                    Ok(f) => f,
                    // Gone since the scan: the next sync deletes it.
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(err),
                };
                let len = file.metadata()?.len();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(len);
                tar.append_data(&mut h, rel, std::io::Read::take(file, len))?;
            }
        }
    }
    tar.into_inner()
}

/// The last sent tree, leniently (unreadable = nothing sent yet).
pub fn load(path: &Path) -> Tree {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Record what was sent (temporary file + rename).
pub fn save(path: &Path, tree: &Tree) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(tree).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_deletions_and_ignores() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "secret.txt\ntarget/\n").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("secret.txt"), "s").unwrap();
        std::fs::write(root.join(".a.txt.swp"), "x").unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/deep/m.rs"), "m").unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/HEAD"), "h").unwrap();
        let first = scan(root);
        let keys: Vec<&str> = first.entries.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [".gitignore", "a.txt", "src", "src/deep", "src/deep/m.rs"]
        );
        assert_eq!(diff(&first, &scan(root)), Delta::default());

        std::fs::write(root.join("a.txt"), "changed").unwrap();
        std::fs::write(root.join("b.txt"), "new").unwrap();
        std::fs::remove_dir_all(root.join("src")).unwrap();
        let d = diff(&first, &scan(root));
        assert_eq!(d.changed, ["a.txt", "b.txt"]);
        assert_eq!(d.deleted, ["src"]);

        let tar = pack(root, &scan(root), &d.changed).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
    }
}

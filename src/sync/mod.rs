//! Keeping a copy of the project current on an engine that cannot see this machine's files:
//! scan the project (with its .gitignore files and the default ignores), compare with what
//! was last sent, and pack what changed as a tar stream. The engine side (upload, deletions)
//! is the session's business; this module only knows the host's tree.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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

/// Write a tar of `paths` (from `tree`) under `root` into `out`, owners and modes as on
/// the host; returns `out`. Streams: one file at a time, never the whole archive in memory.
/// An error names the file.
pub fn pack<W: Write>(root: &Path, tree: &Tree, paths: &[String], out: W) -> std::io::Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for rel in paths {
        let Some(e) = tree.entries.get(rel) else {
            continue;
        };
        append(&mut tar, &root.join(rel), rel, e).map_err(|err| named(rel, err))?;
    }
    tar.into_inner()
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    abs: &Path,
    rel: &str,
    e: &Entry,
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_mode(e.mode);
    h.set_uid(u64::from(e.uid));
    h.set_gid(u64::from(e.gid));
    h.set_mtime(u64::try_from(e.mtime.0).unwrap_or(0));
    match e.kind {
        Kind::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, rel, std::io::empty())
        }
        Kind::Symlink => {
            let target = match std::fs::read_link(abs) {
                Ok(t) => t,
                // Gone since the scan: the next sync deletes it.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(err),
            };
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            tar.append_link(&mut h, rel, target)
        }
        Kind::File => {
            let file = match std::fs::File::open(abs) {
                Ok(f) => f,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(err),
            };
            let len = file.metadata()?.len();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(len);
            // Exactly `len` bytes even when the file shrinks while it is read: the archive
            // stays valid, and the changed mtime makes the next sync send it again.
            tar.append_data(&mut h, rel, Exact::new(file, len))
        }
    }
}

fn named(rel: &str, err: std::io::Error) -> std::io::Error {
    if crate::stream::is_closed(&err) {
        return err;
    }
    std::io::Error::new(err.kind(), format!("{rel}: {err}"))
}

/// A reader of exactly `len` bytes: the file's first `len`, padded with zeros if it ends
/// sooner (tar trusts the header's size, so a short entry would corrupt the archive).
struct Exact<R> {
    inner: std::io::Take<R>,
    left: u64,
}

impl<R: Read> Exact<R> {
    fn new(inner: R, len: u64) -> Exact<R> {
        Exact {
            inner: inner.take(len),
            left: len,
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let mut n = self.inner.read(buf)?;
        if n == 0 {
            n = buf
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            buf[..n].fill(0);
        }
        self.left -= n as u64;
        Ok(n)
    }
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

        let tar = pack(root, &scan(root), &d.changed, Vec::new()).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
    }

    #[test]
    fn a_file_that_shrank_after_the_stat_still_packs_its_stated_size() {
        let mut r = Exact::new(&b"abc"[..], 5);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        let mut r = Exact::new(&b"abcdef"[..], 2);
        out.clear();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }
}

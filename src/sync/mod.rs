//! Keeping a copy of a tree current on an engine that cannot see this machine's files.
//!
//! The host side lives here: scan a tree (the project with its .gitignore files and the
//! default ignores, or a bind mount's source whole), compare with what was last sent, and
//! pack what changed as a tar stream. The engine side sits beside it: [`workspace`] (does
//! the engine see the project; the project's volume and its syncs), [`binds`] (the
//! manifest's bind volumes in volume mode) and [`fetch`] (bringing files back).

pub(crate) mod apply;
pub(crate) mod binds;
pub(crate) mod fetch;
mod scan;
mod state;
pub(crate) mod workspace;

use std::cmp::Ordering;
use std::io::{Read, Write};
use std::path::Path;

pub use scan::{scan, scan_file, Rules};
pub use state::{load, save};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

/// What an entry looked like when it was sent; any difference means "send again".
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A tree's kept entries by `/`-separated relative path, in walk order: compared component
/// by component, so every directory comes right before its contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub entries: Vec<(String, Entry)>,
}

/// What the next sync sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// New or changed entries, parents before children.
    pub changed: Vec<(String, Entry)>,
    /// Entries gone from the tree; a deleted directory stands for its contents.
    pub deleted: Vec<String>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty()
    }
}

/// The tree's order: component by component (`a` < `a/b` < `a.txt`).
fn path_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// What changed from `old` (last sent) to `new` (the tree now): one merge of two sorted
/// lists.
pub fn diff(old: &Tree, new: &Tree) -> Delta {
    let mut delta = Delta::default();
    let (mut o, mut n) = (old.entries.iter().peekable(), new.entries.iter().peekable());
    loop {
        let order = match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((op, _)), Some((np, _))) => path_order(op, np),
        };
        match order {
            Ordering::Less => {
                let (path, _) = o.next().expect("peeked");
                delete(&mut delta.deleted, path);
            }
            Ordering::Greater => delta.changed.push(n.next().expect("peeked").clone()),
            Ordering::Equal => {
                let (path, oe) = o.next().expect("peeked");
                let (_, ne) = n.next().expect("peeked");
                // A directory replaced by a file (or the reverse) goes first.
                if oe.kind != ne.kind {
                    delete(&mut delta.deleted, path);
                }
                if oe != ne {
                    delta.changed.push((path.clone(), ne.clone()));
                }
            }
        }
    }
    delta
}

/// Note `path` as deleted unless a deleted directory already covers it (`rm -rf dir` takes
/// its contents; in tree order they come right after it).
fn delete(deleted: &mut Vec<String>, path: &str) {
    let covered = deleted
        .last()
        .is_some_and(|d| path.starts_with(d.as_str()) && path[d.len()..].starts_with('/'));
    if !covered {
        deleted.push(path.to_owned());
    }
}

/// Write a tar of `entries` (relative to `root`) into `out`, each named `<under>/<path>`,
/// owners and modes as on the host; returns `out`. Streams: one file at a time, never the
/// whole archive in memory. An error names the file.
///
/// The archive is meant for extraction at `/` with `under` the destination directory (no
/// leading `/`): the engine refuses a whole archive with a relative symlink that points
/// above the directory it extracts into (`invalid symlink`), and a project's links may
/// point above the project (`config -> ../shared/config`), as they may in a bind mount.
///
/// A file this user may not read (`chmod 000`) is left out with a warning and returned, so
/// it is not recorded as sent: one such file must not stop every sync (a bind would show
/// the rest of the tree).
pub fn pack<W: Write>(
    root: &Path,
    entries: &[(String, Entry)],
    under: &str,
    out: W,
) -> std::io::Result<(W, Vec<String>)> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut unreadable = Vec::new();
    for (rel, e) in entries {
        let name = below(under, rel);
        match append(&mut tar, &root.join(rel), &name, e) {
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::warn!("not synced: {rel}: {err}");
                unreadable.push(rel.clone());
            }
            r => r.map_err(|err| named(rel, err))?,
        }
    }
    Ok((tar.into_inner()?, unreadable))
}

/// The archive name of `path` extracted at `/` into `under` (both with or without
/// leading or trailing `/`; an empty `under` is `/`).
pub fn below(under: &str, path: &str) -> String {
    let (under, path) = (under.trim_matches('/'), path.trim_start_matches('/'));
    if under.is_empty() {
        path.to_owned()
    } else {
        format!("{under}/{path}")
    }
}

/// Write a tar of one file at `source` as `name` (a bind mount of a single file).
pub fn pack_file<W: Write>(source: &Path, name: &str, e: &Entry, out: W) -> std::io::Result<W> {
    let mut tar = tar::Builder::new(out);
    append(&mut tar, source, name, e).map_err(|err| named(name, err))?;
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
            // The scan keeps no directory times (they change with every entry added); the
            // engine would show 1970 without one.
            if let Ok(meta) = std::fs::symlink_metadata(abs) {
                h.set_mtime(
                    u64::try_from(std::os::unix::fs::MetadataExt::mtime(&meta)).unwrap_or(0),
                );
            }
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn paths(entries: &[(String, Entry)]) -> Vec<&str> {
        entries.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn changes_deletions_and_ignores() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let w = |rel: &str, content: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        };
        w(".gitignore", "secret.txt\ntarget/\n*.log\n");
        w("a.txt", "a");
        w("a/in.txt", "in");
        w("secret.txt", "s");
        w(".a.txt.swp", "x");
        w("target/debug/x", "x");
        w("src/deep/m.rs", "m");
        w("src/.gitignore", "!keep.log\ngen/\n");
        w("src/keep.log", "k");
        w("src/drop.log", "d");
        w("src/gen/g.rs", "g");
        w(".git/HEAD", "h");
        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        let first = scan(root, Rules::Project);
        assert_eq!(
            paths(&first.entries),
            [
                ".gitignore",
                "a",
                "a/in.txt",
                "a.txt",
                "link",
                "src",
                "src/.gitignore",
                "src/deep",
                "src/deep/m.rs",
                "src/keep.log",
            ]
        );
        assert_eq!(diff(&first, &scan(root, Rules::Project)), Delta::default());
        let all = scan(root, Rules::Everything);
        for p in [
            "secret.txt",
            "target/debug/x",
            "src/drop.log",
            "src/gen/g.rs",
        ] {
            assert!(paths(&all.entries).contains(&p), "{p} not in a bind's scan");
        }
        assert!(!paths(&all.entries).iter().any(|p| p.starts_with(".git/")));
        assert!(!paths(&all.entries).contains(&".a.txt.swp"));

        w("a.txt", "changed");
        w("b.txt", "new");
        std::fs::remove_dir_all(root.join("src")).unwrap();
        let now = scan(root, Rules::Project);
        let d = diff(&first, &now);
        assert_eq!(paths(&d.changed), ["a.txt", "b.txt"]);
        assert_eq!(d.deleted, ["src"]);

        let (tar, _) = pack(root, &d.changed, "/work/space/", Vec::new()).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["work/space/a.txt", "work/space/b.txt"]);
    }

    #[test]
    fn mode_changes_and_replaced_kinds_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("d/sub")).unwrap();
        std::fs::write(root.join("d/sub/x"), "x").unwrap();
        std::fs::write(root.join("f"), "f").unwrap();
        std::fs::write(root.join("run.sh"), "#!/bin/sh").unwrap();
        let first = scan(root, Rules::Project);

        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::remove_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d"), "now a file").unwrap();
        std::fs::remove_file(root.join("f")).unwrap();
        std::fs::create_dir(root.join("f")).unwrap();
        std::fs::write(root.join("f/inside"), "i").unwrap();
        let d = diff(&first, &scan(root, Rules::Project));
        assert_eq!(d.deleted, ["d", "f"]);
        assert_eq!(paths(&d.changed), ["d", "f", "f/inside", "run.sh"]);
        let (_, run) = &d.changed[3];
        assert_eq!(run.mode, 0o755);
    }

    #[test]
    fn one_file_as_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        assert_eq!(scan_file(&path, "etc/config.yml"), Tree::default());
        std::fs::write(&path, "a: 1").unwrap();
        let t = scan_file(&path, "etc/config.yml");
        assert_eq!(paths(&t.entries), ["etc/config.yml"]);
        let tar = pack_file(&path, "etc/config.yml", &t.entries[0].1, Vec::new()).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        let mut content = String::new();
        e.read_to_string(&mut content).unwrap();
        assert_eq!(content, "a: 1");
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

//! What was last sent, on disk: a compact binary file read on every command, so "nothing
//! changed" costs a few hundred kilobytes read and no parsing to speak of. Entries are
//! stored in the tree's order. Anything unreadable (missing, truncated, another version)
//! reads as "nothing sent yet", which makes the next sync send everything.

use std::path::Path;

use super::{Entry, Kind, Tree};

const MAGIC: &[u8] = b"devenv-sync-state-1\n";

/// The last sent tree, leniently.
pub fn load(path: &Path) -> Tree {
    std::fs::read(path)
        .ok()
        .and_then(|b| decode(&b))
        .unwrap_or_default()
}

/// Record what was sent (temporary file + rename).
pub fn save(path: &Path, tree: &Tree) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Its own temporary file: two devenvs syncing at once must not write into each other's.
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, encode(tree))?;
    std::fs::rename(tmp, path)
}

fn encode(tree: &Tree) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + tree.entries.len() * 96);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(tree.entries.len() as u64).to_le_bytes());
    for (path, e) in &tree.entries {
        out.extend_from_slice(&(path.len() as u64).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.push(match e.kind {
            Kind::Dir => 0,
            Kind::File => 1,
            Kind::Symlink => 2,
        });
        for n in [e.size, e.ino] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for n in [e.mtime.0, e.mtime.1, e.ctime.0, e.ctime.1] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for n in [e.mode, e.uid, e.gid] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    out
}

fn decode(bytes: &[u8]) -> Option<Tree> {
    let mut r = Reader {
        bytes: bytes.strip_prefix(MAGIC)?,
    };
    let count = usize::try_from(r.u64()?).ok()?;
    // Each entry takes at least 69 bytes: a count beyond that is a damaged file.
    if count > r.bytes.len() / 69 {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(r.u64()?).ok()?;
        let path = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
        let kind = match r.take(1)?[0] {
            0 => Kind::Dir,
            1 => Kind::File,
            2 => Kind::Symlink,
            _ => return None,
        };
        let (size, ino) = (r.u64()?, r.u64()?);
        let mtime = (r.i64()?, r.i64()?);
        let ctime = (r.i64()?, r.i64()?);
        let (mode, uid, gid) = (r.u32()?, r.u32()?, r.u32()?);
        let e = Entry {
            kind,
            size,
            mtime,
            ctime,
            ino,
            mode,
            uid,
            gid,
        };
        entries.push((path, e));
    }
    r.bytes.is_empty().then_some(Tree { entries })
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let e = |kind, size| Entry {
            kind,
            size,
            mtime: (1_700_000_000, 5),
            ctime: (-1, 999_999_999),
            ino: u64::MAX,
            mode: 0o755,
            uid: 1000,
            gid: 100,
        };
        let tree = Tree {
            entries: vec![
                ("dir".into(), e(Kind::Dir, 0)),
                ("dir/ü.txt".into(), e(Kind::File, 12)),
                ("link".into(), e(Kind::Symlink, 3)),
            ],
        };
        let bytes = encode(&tree);
        assert_eq!(decode(&bytes), Some(tree.clone()));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        assert_eq!(decode(b"{\"entries\":{}}"), None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync/x.state");
        assert_eq!(load(&path), Tree::default());
        save(&path, &tree).unwrap();
        assert_eq!(load(&path), tree);
    }
}

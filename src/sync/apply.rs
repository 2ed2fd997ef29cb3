//! Writing into a synced volume through the container, as the workspace's owner and
//! never through a link sync did not write.
//!
//! Commands in the environment share the volume with sync: any of them can replace a
//! directory sync made with a symlink (`cfg -> /etc`) or leave a root-owned file where a
//! host file lands. So before an upload, and for every deletion, one exec of a small POSIX
//! `sh` script (busybox has all it uses) runs as the owner (the host user's uid and gid,
//! which every file sync writes carries; a path it owns may be replaced even when
//! read-only, as on the host): the paths arrive as data on its
//! stdin (NUL-separated, any number, never argv), each path's parent components are checked
//! with `[ -L ]` one by one, and a path under a link, or one the owner could not write, is
//! named back and left alone. Deletions are done there too, as the owner: a file with
//! `rm -f`, a directory with `rmdir` once nothing but what was sent is in it, so what the
//! container made stays. A path swapped between the check and the write can only lead
//! where the owner could write anyway. Bind volumes go through the same script, in the
//! environment container or in a helper container.

use std::collections::HashSet;
use std::path::Path;

use super::{Entry, Kind, Tree};

/// The script; `$@` are records `<op><path>`: `f` remove a file or link, `d` remove an
/// empty directory, `w` check a path about to be written (an existing file must be the
/// owner's or writable by it). Prints `L<path>\0` for a path under a symlink and
/// `P<path>\0` for one the owner may not change.
pub const SCRIPT: &str = r#"under_link() {
  p= rest=$1
  while :; do
    case $rest in */*) ;; *) return 1 ;; esac
    c=${rest%%/*} rest=${rest#*/}
    p=${p:+$p/}$c
    [ -L "$p" ] && return 0
    [ -d "$p" ] || return 1
  done
}
for r; do
  op=${r%"${r#?}"} path=${r#?}
  if under_link "$path"; then printf 'L%s\0' "$path"; continue; fi
  case $op in
  f) if [ -L "$path" ] || { [ -e "$path" ] && [ ! -d "$path" ]; }; then
       rm -f -- "$path" 2>/dev/null || printf 'P%s\0' "$path"
     fi ;;
  d) [ -d "$path" ] && [ ! -L "$path" ] && rmdir -- "$path" 2>/dev/null ;;
  w) if [ -e "$path" ] && [ ! -L "$path" ] && [ ! -d "$path" ]; then
       [ -O "$path" ] || [ -w "$path" ] || printf 'P%s\0' "$path"
     fi ;;
  esac
done
true"#;

/// The exec's command: `xargs -0` hands the records to the script in batches.
pub fn command() -> Vec<String> {
    ["xargs", "-0", "sh", "-c", SCRIPT, "devenv-sync"]
        .map(str::to_owned)
        .to_vec()
}

/// The owner of what sync writes, `(uid, gid)`: the host user's ids, which every file
/// sync writes carries (the tar keeps the host owner), whoever `[shell] user` is.
pub fn owner() -> (u32, u32) {
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}

/// What the script refused.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Paths beneath a symlink in the volume (not written, not removed).
    pub under_link: Vec<String>,
    /// Paths the owner may not change (a root-owned file made in the container).
    pub not_permitted: Vec<String>,
}

impl Refused {
    pub fn contains(&self, path: &str) -> bool {
        self.under_link.iter().any(|p| p == path) || self.not_permitted.iter().any(|p| p == path)
    }
}

/// The script's output, read back.
pub fn parse(out: &[u8]) -> Refused {
    let mut r = Refused::default();
    for rec in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let path = String::from_utf8_lossy(&rec[1..]).into_owned();
        match rec[0] {
            b'L' => r.under_link.push(path),
            _ => r.not_permitted.push(path),
        }
    }
    r
}

/// The records removing what was sent at or below each `deleted` path (from `sent`, the
/// last sent tree), deepest first, so a directory comes after its contents. A path the
/// host still has, as the same kind, was not deleted but newly ignored: ignored means
/// "not synced", so it stays remotely.
pub fn removals(sent: &Tree, deleted: &[String], root: &Path) -> Vec<u8> {
    let gone: HashSet<&str> = deleted.iter().map(String::as_str).collect();
    let covered =
        |p: &str| gone.contains(p) || p.match_indices('/').any(|(i, _)| gone.contains(&p[..i]));
    let mut out = Vec::new();
    for (path, e) in sent.entries.iter().rev() {
        if !covered(path) || still_there(root, path, e) {
            continue;
        }
        out.push(if e.kind == Kind::Dir { b'd' } else { b'f' });
        out.extend_from_slice(path.as_bytes());
        out.push(0);
    }
    out
}

fn still_there(root: &Path, path: &str, e: &Entry) -> bool {
    std::fs::symlink_metadata(root.join(path)).is_ok_and(|m| {
        let kind = if m.is_dir() {
            Kind::Dir
        } else if m.file_type().is_symlink() {
            Kind::Symlink
        } else {
            Kind::File
        };
        kind == e.kind
    })
}

/// The records checking each changed path before it is written.
pub fn checks(changed: &[(String, Entry)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, _) in changed {
        out.push(b'w');
        out.extend_from_slice(path.as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind) -> Entry {
        Entry {
            kind,
            size: 0,
            mtime: (0, 0),
            ctime: (0, 0),
            ino: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }

    #[test]
    fn removals_take_what_was_sent_deepest_first_and_leave_ignored_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kept")).unwrap();
        let sent = Tree {
            entries: vec![
                ("data".into(), entry(Kind::Dir)),
                ("data/a".into(), entry(Kind::File)),
                ("data/sub".into(), entry(Kind::Dir)),
                ("data/sub/b".into(), entry(Kind::File)),
                ("kept".into(), entry(Kind::Dir)),
                ("other".into(), entry(Kind::File)),
            ],
        };
        let recs = removals(&sent, &["data".into(), "kept".into()], dir.path());
        let recs: Vec<&[u8]> = recs.split(|&b| b == 0).filter(|r| !r.is_empty()).collect();
        assert_eq!(
            recs,
            [&b"fdata/sub/b"[..], b"ddata/sub", b"fdata/a", b"ddata"]
        );
    }

    #[test]
    fn refusals_read_back() {
        let r = parse(b"Lcfg/app.conf\0Proot.txt\0");
        assert_eq!(r.under_link, ["cfg/app.conf"]);
        assert_eq!(r.not_permitted, ["root.txt"]);
        assert!(r.contains("root.txt") && !r.contains("cfg"));
    }
}

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
//!
//! An edit or a few need no second round trip: the same checks then extract the archive
//! from stdin with the image's `tar`, as the owner ([`EXTRACT`], the records as arguments),
//! when nothing was refused and the owner can write every path itself; otherwise (or with
//! no `tar`) it says so and the caller does the checks and deletions again as above and
//! sends the files by the engine's archive upload.

use std::collections::HashSet;
use std::path::Path;

use super::{Entry, Kind, Tree};

/// The checks and deletions; `$@` are records `<op><path>`: `f` remove a file or link, `d`
/// remove an empty directory, `w` check a path about to be written (an existing file must
/// be the owner's or writable by it), `v` the same for a directory. Prints `L<path>\0` for
/// a path under a symlink and `P<path>\0` for one the owner may not change; sets `bad` when
/// anything was refused, and clears `own` unless the owner's `tar` can write every path
/// as the archive has it (not: another user's file, a directory it may not write into, a
/// kind that changed where the container left something, an existing directory whose
/// mode changed: busybox tar leaves an existing directory's mode), which only [`EXTRACT`]
/// reads.
macro_rules! checks {
    () => {
        r#"under_link() {
  p= rest=$1
  while :; do
    case $rest in */*) ;; *) return 1 ;; esac
    c=${rest%%/*} rest=${rest#*/}
    p=${p:+$p/}$c
    [ -L "$p" ] && return 0
    [ -d "$p" ] || return 1
  done
}
bad= own=1
for r; do
  op=${r%"${r#?}"} path=${r#?}
  if under_link "$path"; then printf 'L%s\0' "$path"; bad=1; continue; fi
  case $op in
  f) if [ -L "$path" ] || { [ -e "$path" ] && [ ! -d "$path" ]; }; then
       rm -f -- "$path" 2>/dev/null || { printf 'P%s\0' "$path"; bad=1; }
     fi ;;
  d) [ -d "$path" ] && [ ! -L "$path" ] && rmdir -- "$path" 2>/dev/null ;;
  w) if [ -e "$path" ] && [ ! -L "$path" ] && [ ! -d "$path" ]; then
       [ -O "$path" ] || { [ -w "$path" ] && own=; } || { printf 'P%s\0' "$path"; bad=1; }
     fi
     [ -d "$path" ] && [ ! -L "$path" ] && own= ;;
  v) if [ -L "$path" ] || [ -e "$path" ]; then own=; fi ;;
  esac
  case $op in [wv])
    case $path in */*) up=${path%/*} ;; *) up=. ;; esac
    [ -d "$up" ] && [ ! -w "$up" ] && own= ;;
  esac
done
"#
    };
}

/// The script run by [`command`]: the checks and deletions, nothing written.
pub const SCRIPT: &str = concat!(checks!(), "true");

/// The script run by [`extracting`]: the checks and deletions, then, when nothing was
/// refused and the owner can write every path itself, the tar on stdin extracted there as
/// the owner; otherwise `F\0` (the caller sends the files the other way) and stdin unread.
pub const EXTRACT: &str = concat!(
    checks!(),
    "[ -z \"$bad\" ] && [ -n \"$own\" ] && command -v tar >/dev/null 2>&1 && umask 0 &&\n",
    "  exec tar -xpf -\n",
    "printf 'F\\0'"
);

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

/// The records [`extracting`] takes as arguments at most (bytes): far below any engine's
/// argument limit (a single argument may be 128 KiB, all of them 2 MiB on Linux).
pub const EXTRACT_ARGS_MAX: usize = 64 * 1024;

/// The command checking `records` (at most [`EXTRACT_ARGS_MAX`] bytes) and then extracting
/// the tar on its stdin ([`EXTRACT`]): the records are its arguments, as stdin carries the
/// archive.
pub fn extracting(records: &[u8]) -> Vec<String> {
    let mut cmd: Vec<String> = ["sh", "-c", EXTRACT, "devenv-sync"]
        .map(str::to_owned)
        .to_vec();
    cmd.extend(
        records
            .split(|&b| b == 0)
            .filter(|r| !r.is_empty())
            .map(|r| String::from_utf8_lossy(r).into_owned()),
    );
    cmd
}

/// What the script refused.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Paths beneath a symlink in the volume (not written, not removed).
    pub under_link: Vec<String>,
    /// Paths the owner may not change (a root-owned file made in the container).
    pub not_permitted: Vec<String>,
    /// [`EXTRACT`] did not extract: the files are still to be sent.
    pub not_extracted: bool,
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
            b'F' => r.not_extracted = true,
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
    for (path, e) in changed {
        out.push(if e.kind == Kind::Dir { b'v' } else { b'w' });
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
        assert!(!r.not_extracted && parse(b"F\0").not_extracted);
    }
}

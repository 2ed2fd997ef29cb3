//! Unpacking fetched archives: replacement, refusals, interrupted downloads, and which
//! declared paths a bind-mounted project still fetches.

use std::io::Read;
use std::path::Path;

use super::unpack::{replace_with, unpack_merge, Guard};
use super::*;

/// Merge without local edits to guard, as a fetch into a bind-mounted project does.
fn unpack_replace(root: &Path, rel: &str, tar: impl Read) -> Result<Fetched, FetchError> {
    unpack_merge(root, rel, tar, &Guard::default()).map(|(kind, _)| kind)
}

/// An archive entry: a path (written raw, so `..` and `/` can be tested), its kind and
/// the contents or link target.
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

fn archive(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_old();
        let (path, kind, data, link) = match e {
            E::Dir(p) => (*p, tar::EntryType::Directory, "", None),
            E::File(p, d) => (*p, tar::EntryType::Regular, *d, None),
            E::Symlink(p, t) => (*p, tar::EntryType::Symlink, "", Some(*t)),
            E::HardLink(p, t) => (*p, tar::EntryType::Link, "", Some(*t)),
        };
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

/// The names in `dir`, sorted (no staging directory may be left behind).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn refused(result: Result<Fetched, FetchError>) -> String {
    match result {
        Err(FetchError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_fetched_directory_is_merged_into_the_local_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("cov/old")).unwrap();
    std::fs::write(root.join("cov/index.html"), "old").unwrap();
    std::fs::write(root.join("cov/local-only.txt"), "mine").unwrap();
    std::fs::write(root.join("cov/old/x"), "kept").unwrap();
    let tar = archive(&[
        E::Dir("cov/"),
        E::File("cov/index.html", "new"),
        E::Dir("cov/sub/"),
        E::File("cov/sub/a.txt", "a"),
        E::Symlink("cov/latest", "sub/a.txt"),
    ]);
    let (kind, written) = unpack_merge(root, "cov", tar.as_slice(), &Guard::default()).unwrap();
    assert_eq!(kind, Fetched::Dir);
    assert_eq!(
        names(&root.join("cov")),
        ["index.html", "latest", "local-only.txt", "old", "sub"]
    );
    assert_eq!(read(root, "cov/index.html"), "new");
    assert_eq!(read(root, "cov/latest"), "a");
    assert_eq!(read(root, "cov/old/x"), "kept");
    let mut written = written;
    written.sort();
    assert_eq!(
        written,
        [
            "cov",
            "cov/index.html",
            "cov/latest",
            "cov/sub",
            "cov/sub/a.txt"
        ]
    );
    let only_tmp: Vec<String> = names(root);
    assert_eq!(only_tmp, ["cov"]);
}

#[test]
fn a_local_edit_is_not_overwritten_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("gen")).unwrap();
    std::fs::write(root.join("gen/a.rs"), "edited here").unwrap();
    std::fs::write(root.join("gen/b.rs"), "old").unwrap();
    let tar = archive(&[
        E::Dir("gen/"),
        E::File("gen/a.rs", "remote"),
        E::File("gen/b.rs", "remote"),
    ]);
    let guard = Guard {
        force: false,
        edited: ["gen/a.rs".to_owned()].into(),
    };
    match unpack_merge(root, "gen", tar.as_slice(), &guard) {
        Err(FetchError::Edited(paths)) => assert_eq!(paths, ["gen/a.rs"]),
        other => panic!("expected a refusal naming gen/a.rs, got {other:?}"),
    }
    assert_eq!(read(root, "gen/a.rs"), "edited here");
    assert_eq!(
        read(root, "gen/b.rs"),
        "old",
        "nothing is written on a refusal"
    );
    let forced = Guard {
        force: true,
        ..guard
    };
    unpack_merge(root, "gen", tar.as_slice(), &forced).unwrap();
    assert_eq!(read(root, "gen/a.rs"), "remote");
}

#[test]
fn a_fetched_file_replaces_the_local_one_and_creates_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let tar = archive(&[E::File("junit.xml", "<v1/>")]);
    let kind = unpack_replace(root, "target/nextest/junit.xml", tar.as_slice()).unwrap();
    assert_eq!(kind, Fetched::File);
    let tar = archive(&[E::File("junit.xml", "<v2/>")]);
    unpack_replace(root, "target/nextest/junit.xml", tar.as_slice()).unwrap();
    assert_eq!(read(root, "target/nextest/junit.xml"), "<v2/>");
    assert_eq!(names(&root.join("target/nextest")), ["junit.xml"]);
}

#[test]
fn a_change_of_kind_replaces_the_old_entry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("out"), "was a file").unwrap();
    let tar = archive(&[E::Dir("out/"), E::File("out/r.txt", "r")]);
    assert_eq!(
        unpack_replace(root, "out", tar.as_slice()).unwrap(),
        Fetched::Dir
    );
    assert_eq!(read(root, "out/r.txt"), "r");
    // A file in place of a local directory would lose what is in it: refused unless forced.
    let tar = archive(&[E::File("out", "a file again")]);
    assert!(matches!(
        unpack_replace(root, "out", tar.as_slice()),
        Err(FetchError::Edited(_))
    ));
    let force = Guard {
        force: true,
        ..Guard::default()
    };
    assert_eq!(
        unpack_merge(root, "out", tar.as_slice(), &force).unwrap().0,
        Fetched::File
    );
    assert_eq!(read(root, "out"), "a file again");
    assert_eq!(names(root), ["out"]);
}

#[test]
fn entries_leaving_the_project_refuse_the_whole_path() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    std::fs::create_dir_all(root.join("cov")).unwrap();
    std::fs::write(root.join("cov/keep.html"), "kept").unwrap();
    let escape = format!("{}/pwned", outside.path().display());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            archive(&[E::Dir("cov/"), E::File("cov/../../pwned", "x")]),
            "not inside `cov`",
        ),
        (archive(&[E::File(&escape, "x")]), "not inside `cov`"),
        (archive(&[E::File("other/x", "x")]), "not inside `cov`"),
        (
            archive(&[E::Dir("cov/"), E::Symlink("cov/up", "../../etc")]),
            "outside the project",
        ),
        (
            archive(&[E::Dir("cov/"), E::Symlink("cov/abs", "/etc/passwd")]),
            "outside the project",
        ),
        (
            archive(&[
                E::Dir("cov/"),
                E::Symlink("cov/in", "."),
                E::File("cov/in/x", "x"),
            ]),
            "beneath the symlink",
        ),
        (
            archive(&[E::Dir("cov/"), E::HardLink("cov/h", "../etc/passwd")]),
            "not inside `cov`",
        ),
    ];
    for (tar, why) in cases {
        let msg = refused(unpack_replace(&root, "cov", tar.as_slice()));
        assert!(msg.contains(why), "{msg}");
        assert_eq!(read(&root, "cov/keep.html"), "kept");
        assert_eq!(names(&root), ["cov"], "staging left behind");
    }
    assert!(names(outside.path()).is_empty());
    // A link that goes up but stays in the project is fine.
    let tar = archive(&[E::Dir("cov/"), E::Symlink("cov/readme", "../README")]);
    unpack_replace(&root, "cov", tar.as_slice()).unwrap();
}

#[test]
fn a_local_parent_symlinked_out_of_the_project_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    let tar = archive(&[E::File("r.txt", "x")]);
    let msg = refused(unpack_replace(root, "out/deep/r.txt", tar.as_slice()));
    assert!(msg.contains("leads outside the project"), "{msg}");
    assert!(names(outside.path()).is_empty());
    // The symlink itself is replaced, never followed.
    let tar = archive(&[E::Dir("out/"), E::File("out/r.txt", "x")]);
    unpack_replace(root, "out", tar.as_slice()).unwrap();
    assert!(!root.join("out").symlink_metadata().unwrap().is_symlink());
    assert!(names(outside.path()).is_empty());
}

/// A download that fails after `limit` bytes: the archive so far must not be taken for all.
struct Cut {
    data: Vec<u8>,
    pos: usize,
    limit: usize,
}

impl Read for Cut {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.limit {
            return Err(std::io::Error::other("connection reset"));
        }
        let n = (self.limit - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_failed_download_leaves_the_local_copy_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("cov")).unwrap();
    std::fs::write(root.join("cov/old.html"), "old").unwrap();
    let tar = archive(&[
        E::Dir("cov/"),
        E::File("cov/a.html", "a"),
        E::File("cov/b.html", "b"),
    ]);
    // Cut at an entry boundary: after the directory and the first file.
    let cut = Cut {
        data: tar,
        pos: 0,
        limit: 512 * 3,
    };
    let result = unpack_replace(root, "cov", cut);
    assert!(matches!(result, Err(FetchError::Io(_))), "{result:?}");
    assert_eq!(names(&root.join("cov")), ["old.html"]);
    assert_eq!(names(root), ["cov"]);
}

#[test]
fn the_chunk_reader_reports_a_cancelled_stream_as_an_error() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let cancelled = Arc::new(AtomicBool::new(false));
    let mut reader = ChunkReader {
        rx,
        current: Bytes::from_static(b"ab"),
        cancelled: Arc::clone(&cancelled),
    };
    tx.try_send(Bytes::from_static(b"cd")).unwrap();
    let mut buf = [0u8; 3];
    assert_eq!(reader.read(&mut buf).unwrap(), 2);
    assert_eq!(reader.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"cd");
    cancelled.store(true, Ordering::SeqCst);
    drop(tx);
    assert!(reader.read(&mut buf).is_err());
}

#[test]
fn bind_mounts_fetch_only_what_lies_on_a_named_volume() {
    let vols = [
        VolumeSpec::Named {
            name: "target-cache".into(),
            target: "/workspace/target".into(),
            read_only: false,
        },
        VolumeSpec::Named {
            name: "elsewhere".into(),
            target: "/cache".into(),
            read_only: false,
        },
        VolumeSpec::Bind {
            source: "data".into(),
            target: "/workspace/data".into(),
            read_only: false,
        },
    ];
    let on = |p: &str| on_named_volume(p, "/workspace", &vols);
    assert!(on("target/nextest/junit.xml"));
    assert!(on("target/"));
    assert!(on("target"));
    assert!(!on("targets/x"));
    assert!(!on("coverage/"));
    assert!(!on("data/x"));
    assert!(!on("cache/x"));
}

#[test]
fn without_an_atomic_exchange_the_old_copy_is_moved_aside_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let no_exchange: fn(&Path, &Path) -> std::io::Result<bool> = |_, _| Ok(false);
    for old_is_dir in [true, false] {
        let dest = root.join("cov");
        if old_is_dir {
            std::fs::create_dir_all(dest.join("stale")).unwrap();
        } else {
            std::fs::write(&dest, "a file").unwrap();
        }
        std::fs::create_dir_all(root.join("new/cov")).unwrap();
        std::fs::write(root.join("new/cov/index.html"), "new").unwrap();
        replace_with(&root.join("new/cov"), &dest, &root.join("old"), no_exchange).unwrap();
        assert_eq!(names(&dest), ["index.html"]);
        assert!(
            root.join("old").symlink_metadata().is_ok(),
            "old copy not aside"
        );
        std::fs::remove_dir_all(&dest).unwrap();
        let _ = std::fs::remove_dir_all(root.join("old"));
        let _ = std::fs::remove_file(root.join("old"));
    }
}

#[test]
fn sync_fetch_is_not_a_container_setting() {
    let root = tempfile::tempdir().unwrap();
    let parse = |extra: &str| {
        let src = format!("[base]\nimage = \"debian\"\n{extra}");
        crate::manifest::parse_str(&src, &root.path().join("devenv.toml"), root.path()).unwrap()
    };
    let settings =
        |m: &Manifest| crate::session::RuntimeSettings::new(m, "devenv/x:h", "h").unwrap();
    let with = parse("[sync]\nfetch = [\"coverage/\"]\n");
    assert_eq!(with.sync.fetch, ["coverage/"]);
    assert_eq!(settings(&parse("")), settings(&with));
}

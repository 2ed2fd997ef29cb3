//! Sync and fetch lose nothing (issue #20): the remote workspace is shared with what runs
//! in the environment, so sync never writes through a link it did not make, removes only
//! what it sent, carries any number of deletions, and its temporary files never travel.

use std::os::unix::ffi::OsStrExt;

use super::RemoteProject;
use crate::common::stderr;

/// A command replaced a synced directory with a link to `/etc`: the next sync writes
/// nothing through it (it wrote `/etc/app.conf` as root before) and says so.
#[test]
fn sync_never_writes_through_a_link_made_in_the_workspace() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write("cfg/old.conf", "old\n");
    p.ok(&["up"]);
    p.ok(&["run", "--", "sh", "-c", "rm -rf cfg && ln -s /etc cfg"]);
    p.t.write("cfg/app.conf", "evil\n");
    p.t.write("cfg/passwd.new", "evil\n");
    let out = p.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "ls /etc/app.conf /etc/passwd.new 2>/dev/null; readlink cfg",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/etc\n");
    let err = stderr(&out);
    assert!(
        err.contains("not synced: cfg/app.conf") && err.contains("symlink"),
        "{err}"
    );
}

/// A directory deleted on the host loses what was sent into it, and nothing the
/// container made there; a directory newly gitignored is not synced any more, and not
/// deleted either.
#[test]
fn a_deletion_removes_what_was_sent_and_ignoring_removes_nothing() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write("data/seed.txt", "seed\n");
    p.t.write("data/sub/more.txt", "more\n");
    p.t.write("cache/c.txt", "c\n");
    p.ok(&["up"]);
    p.ok(&["run", "--", "sh", "-c", "echo db > data/db.bin"]);
    std::fs::remove_dir_all(p.t.root().join("data")).unwrap();
    p.t.write(".gitignore", "cache/\n");
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "cd data && find . | sort; cat ../cache/c.txt",
    ]);
    assert_eq!(out, ".\n./db.bin\nc\n");
}

/// Deletions travel as data: 40,000 of them in one sync (argv could not hold them, and
/// the failed sync was never recorded, so every later command failed).
#[test]
fn forty_thousand_deletions_in_one_sync() {
    let p = RemoteProject::new();
    p.t.manifest("");
    let dir = p.t.root().join("many");
    std::fs::create_dir_all(&dir).unwrap();
    let name = |i: usize| format!("a-rather-long-generated-file-name-number-{i:06}.txt");
    for i in 0..40_000 {
        std::fs::write(dir.join(name(i)), "").unwrap();
    }
    p.t.write("many/keep.txt", "keep\n");
    p.ok(&["up"]);
    for i in 0..40_000 {
        std::fs::remove_file(dir.join(name(i))).unwrap();
    }
    let out = p.ok(&["run", "--", "ls", "many"]);
    assert_eq!(out, "keep.txt\n");
    assert_eq!(p.ok(&["run", "--", "true"]), "");
}

/// A name that is not UTF-8 cannot be synced: the sync says so, naming it.
#[test]
fn a_name_that_is_not_utf8_is_named_in_a_warning() {
    let p = RemoteProject::new();
    p.t.manifest("");
    let odd = std::ffi::OsStr::from_bytes(b"dir\xfe");
    std::fs::create_dir_all(p.t.root().join(odd).join("sub")).unwrap();
    std::fs::write(p.t.root().join(odd).join("sub/x"), "x").unwrap();
    let out = p.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not synced:") && err.contains("dir"), "{err}");
}

/// A fetch killed midway leaves its staging directory: it is never uploaded, and the
/// next fetch into the same directory removes it.
#[test]
fn a_killed_fetch_leaves_nothing_that_travels_or_stays() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "mkdir -p out && echo r > out/r.txt",
    ]);
    // What `kill -9` during a fetch leaves (a pid that no longer runs).
    let stale = p.t.root().join(".devenv-fetch-999999999-1/new");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("big.bin"), vec![0u8; 4096]).unwrap();
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "ls -a | grep devenv-fetch || echo none",
    ]);
    assert_eq!(out, "none\n");
    p.ok(&["fetch", "out"]);
    assert!(!p.t.root().join(".devenv-fetch-999999999-1").exists());
    assert_eq!(
        std::fs::read_to_string(p.t.root().join("out/r.txt")).unwrap(),
        "r\n"
    );
}

/// `devenv ARGS` against the test engine as host user `uid` (the project and HOME given to
/// it first).
fn as_user(p: &RemoteProject, uid: u32, args: &[&str]) -> std::process::Output {
    as_user_in(p, uid, None, args)
}

/// Sync writes as the workspace's owner would: a root-owned file made in the container is
/// reported, not overwritten; a file this user may not read is skipped with a warning
/// rather than failing every sync (a bind would show the rest).
#[test]
fn root_owned_files_and_unreadable_files_are_named_not_forced() {
    let p = RemoteProject::new();
    let uid = 65534;
    p.t.manifest("");
    p.t.write("root.conf", "mine\n");
    p.t.write("secret.bin", "s\n");
    p.t.write("other.txt", "o\n");
    std::fs::set_permissions(
        p.t.root().join("secret.bin"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    p.t.give_to(uid);
    let out = as_user(&p, uid, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not synced: secret.bin"),
        "{}",
        stderr(&out)
    );
    let c = p.container();
    let made = p.e.docker(&[
        "exec", "-u", "0", &c, "sh", "-c",
        "rm -f /workspace/root.conf && echo root > /workspace/root.conf && chmod 644 /workspace/root.conf",
    ]);
    assert!(made.status.success());
    std::fs::write(p.t.root().join("root.conf"), "edited\n").unwrap();
    std::fs::write(p.t.root().join("other.txt"), "edited\n").unwrap();
    let out = as_user(&p, uid, &["run", "--", "cat", "root.conf", "other.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "root\nedited\n");
    assert!(
        stderr(&out).contains("not synced: root.conf"),
        "{}",
        stderr(&out)
    );
}

/// Fetch merges: what the workspace holds replaces the local file, a local file it does
/// not hold (gitignored) stays, a local edit not synced yet is refused by name and kept
/// (`--force` overwrites); a path that can never be fetched is a usage error.
#[test]
fn fetch_merges_and_never_reverts_a_local_edit_silently() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write(".gitignore", "gen/local.log\n");
    p.t.write("gen/a.txt", "v1\n");
    p.t.write("gen/local.log", "mine\n");
    p.ok(&["up"]);
    p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo remote-a > gen/a.txt && echo remote-b > gen/b.txt",
    ]);
    let read = |rel: &str| std::fs::read_to_string(p.t.root().join(rel)).ok();
    // Nothing edited here since the sync: the remote copy comes back, the ignored file stays.
    p.ok(&["fetch", "gen"]);
    assert_eq!(read("gen/a.txt").as_deref(), Some("remote-a\n"));
    assert_eq!(read("gen/b.txt").as_deref(), Some("remote-b\n"));
    assert_eq!(read("gen/local.log").as_deref(), Some("mine\n"));

    p.ok(&["run", "--", "sh", "-c", "echo remote-2 > gen/b.txt"]);
    p.t.write("gen/b.txt", "edited here\n");
    let out = p.run(&["fetch", "gen"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("gen/b.txt"), "{}", stderr(&out));
    assert_eq!(read("gen/b.txt").as_deref(), Some("edited here\n"));
    p.ok(&["fetch", "--force", "gen"]);
    assert_eq!(read("gen/b.txt").as_deref(), Some("remote-2\n"));
    assert_eq!(read("gen/local.log").as_deref(), Some("mine\n"));

    let out = p.run(&["fetch", ".."]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Bind volumes' deletions travel as data too: through the environment container for a
/// writable one, through a helper for a read-only one.
#[test]
fn forty_thousand_deletions_in_bind_volumes() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./data:/data\", \"./conf:/etc/conf:ro\"]\n");
    let name = |i: usize| format!("a-rather-long-generated-file-name-number-{i:06}.txt");
    for dir in ["data", "conf"] {
        let d = p.t.root().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..40_000 {
            std::fs::write(d.join(name(i)), "").unwrap();
        }
        std::fs::write(d.join("keep.txt"), "keep\n").unwrap();
    }
    p.ok(&["up"]);
    for dir in ["data", "conf"] {
        for i in 0..40_000 {
            std::fs::remove_file(p.t.root().join(dir).join(name(i))).unwrap();
        }
    }
    let out = p.ok(&["run", "--", "ls", "/data", "/etc/conf"]);
    assert_eq!(out, "/data:\nkeep.txt\n\n/etc/conf:\nkeep.txt\n");
}

/// A command replaced a directory in a bind volume with a link to `/etc`: the next sync
/// writes nothing through it (it wrote `/etc/app.conf` as root before) and says so.
#[test]
fn bind_sync_never_writes_through_a_link_made_in_the_volume() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./data:/data\"]\n");
    p.t.write("data/cfg/old.conf", "old\n");
    p.ok(&["up"]);
    p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "rm -rf /data/cfg && ln -s /etc /data/cfg",
    ]);
    p.t.write("data/cfg/app.conf", "evil\n");
    let out = p.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "ls /etc/app.conf 2>/dev/null; readlink /data/cfg",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/etc\n");
    let err = stderr(&out);
    assert!(
        err.contains("not synced: cfg/app.conf") && err.contains("symlink"),
        "{err}"
    );
}

/// A directory deleted from a bind source loses what was sent into it, deepest first, and
/// nothing the container made there.
#[test]
fn a_deleted_bind_directory_keeps_what_the_container_made() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./data:/data\"]\n");
    p.t.write("data/sub/seed.txt", "seed\n");
    p.t.write("data/sub/deep/more.txt", "more\n");
    p.t.write("data/keep.txt", "keep\n");
    p.ok(&["up"]);
    p.ok(&["run", "--", "sh", "-c", "echo db > /data/sub/db.bin"]);
    std::fs::remove_dir_all(p.t.root().join("data/sub")).unwrap();
    let out = p.ok(&["run", "--", "sh", "-c", "cd /data && find . | sort"]);
    assert_eq!(out, ".\n./keep.txt\n./sub\n./sub/db.bin\n");
}

/// A bind source file this user may not read is not recorded as sent: once it can be read
/// (here: the user joins its group, so nothing about the file changes) the next sync sends
/// it.
#[test]
fn an_unreadable_bind_file_is_sent_once_it_can_be_read() {
    let p = RemoteProject::new();
    let (uid, group) = (65534, 4242);
    p.t.manifest("[container]\nvolumes = [\"./data:/data\"]\n");
    p.t.write("data/secret.bin", "s\n");
    p.t.write("data/other.txt", "o\n");
    p.t.give_to(uid);
    let secret = p.t.root().join("data/secret.bin");
    std::os::unix::fs::chown(&secret, Some(0), Some(group)).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o040)).unwrap();
    let out = as_user_in(&p, uid, None, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not synced: secret.bin"),
        "{}",
        stderr(&out)
    );
    let out = as_user_in(&p, uid, Some(group), &["run", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read =
        p.e.docker(&["exec", "-u", "0", &p.container(), "cat", "/data/secret.bin"]);
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        "s\n",
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
}

/// [`as_user`], with the supplementary group `group` when given.
fn as_user_in(
    p: &RemoteProject,
    uid: u32,
    group: Option<u32>,
    args: &[&str],
) -> std::process::Output {
    let groups = match group {
        Some(g) => format!("--groups={g}"),
        None => "--clear-groups".to_owned(),
    };
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            &groups,
        ])
        .arg(assert_cmd::cargo::cargo_bin("devenv"))
        .args(args)
        .current_dir(p.t.root())
        .env("HOME", p.t.home.path())
        .env("DOCKER_HOST", p.e.tcp_host())
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .expect("setpriv (util-linux)")
}

/// A read-only bind volume is written by a helper under the same rules: a link another
/// container made in the shared volume is not written through, and the sync says so.
#[test]
fn a_read_only_bind_volume_is_not_written_through_a_link_either() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./conf:/etc/conf:ro\"]\n");
    p.t.write("conf/cfg/old.conf", "old\n");
    p.ok(&["up"]);
    let label = format!("label={}", p.t.label());
    let volume =
        p.e.docker_lines(&["volume", "ls", "-q", "--filter", &label])
            .into_iter()
            .find(|v| v.contains("bind-conf"))
            .expect("the bind volume of ./conf");
    let image =
        p.e.docker_lines(&["inspect", "-f", "{{.Image}}", &p.container()]);
    let made = p.e.docker(&[
        "run",
        "--rm",
        "--label",
        &p.t.label(),
        "-v",
        &format!("{volume}:/v"),
        &image[0],
        "sh",
        "-c",
        "rm -rf /v/cfg && ln -s /etc /v/cfg",
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    p.t.write("conf/cfg/app.conf", "evil\n");
    let out = p.run(&["run", "--", "readlink", "/etc/conf/cfg"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/etc\n");
    let err = stderr(&out);
    assert!(
        err.contains("not synced: cfg/app.conf") && err.contains("symlink"),
        "{err}"
    );
}

/// The sync writes bind volumes as the host user whatever `[shell] user` is: with `root`
/// (which the user setup gives a new volume's root to), a file deleted at the top of the
/// source is still removed, the volume's root being the source's owner's as with a bind.
#[test]
fn bind_deletions_as_the_host_user_work_when_the_shell_user_is_root() {
    let p = RemoteProject::new();
    let uid = 65534;
    p.t.manifest("[shell]\nuser = \"root\"\n\n[container]\nvolumes = [\"./data:/data\"]\n");
    p.t.write("data/gone.txt", "g\n");
    p.t.write("data/keep.txt", "k\n");
    p.t.give_to(uid);
    let out = as_user(&p, uid, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(p.t.root().join("data/gone.txt")).unwrap();
    let out = as_user(
        &p,
        uid,
        &["run", "--", "sh", "-c", "ls /data; stat -c %u /data"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("keep.txt\n{uid}\n")
    );
    assert!(!stderr(&out).contains("not synced"), "{}", stderr(&out));
}

/// What one exec extracts as the workspace's owner (here not root) keeps the host's modes
/// exactly (the exec's umask dropped a group-writable bit), and a directory's mode change
/// still arrives.
#[test]
fn an_edit_extracted_as_the_owner_keeps_its_modes() {
    use std::os::unix::fs::PermissionsExt;
    let p = RemoteProject::new();
    let uid = 65534;
    p.t.manifest("");
    p.t.write("shared/a.txt", "a\n");
    p.t.give_to(uid);
    let out = as_user(&p, uid, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = p.t.root();
    p.t.write("shared/a.txt", "edited\n");
    p.t.write("new/b.txt", "b\n");
    std::fs::set_permissions(root.join("shared/a.txt"), PermissionsExt::from_mode(0o664)).unwrap();
    std::fs::set_permissions(root.join("new"), PermissionsExt::from_mode(0o775)).unwrap();
    std::fs::set_permissions(root.join("new/b.txt"), PermissionsExt::from_mode(0o666)).unwrap();
    p.t.give_to(uid);
    let stat = [
        "run",
        "--",
        "stat",
        "-c",
        "%a %n",
        "shared/a.txt",
        "new",
        "new/b.txt",
    ];
    let out = as_user(&p, uid, &stat);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "664 shared/a.txt\n775 new\n666 new/b.txt\n"
    );
    std::fs::set_permissions(root.join("shared"), PermissionsExt::from_mode(0o700)).unwrap();
    let out = as_user(&p, uid, &["run", "--", "stat", "-c", "%a", "shared"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "700\n",
        "{}",
        stderr(&out)
    );
}

//! Remote mode: the engine cannot see this machine's files, so the project lives in a
//! volume on it, uploaded first and synced before every command.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use super::RemoteProject;
use crate::common::{stderr, stdout, TestContext};

#[test]
fn remote_engine_gets_the_project_and_every_edit() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write("hello.txt", "hello\n");
    p.t.write(".gitignore", "secret.txt\n");
    p.t.write("secret.txt", "do not upload\n");
    p.t.write("sub/keep.txt", "keep\n");
    p.t.write("run.sh", "echo ran\n");
    p.t.write("swap/inner.txt", "inner\n");

    p.ok(&["up"]);
    let status = p.ok(&["status"]);
    assert!(status.contains("workspace: volume"), "{status}");
    let doctor = p.ok(&["doctor"]);
    assert!(doctor.contains("workspace:       volume"), "{doctor}");

    let out = p.ok(&["run", "--", "sh", "-c", "cat hello.txt sub/keep.txt; ls -a"]);
    assert!(out.contains("hello\nkeep\n"), "{out}");
    assert!(
        !out.contains("secret.txt"),
        "gitignored file uploaded: {out}"
    );

    // An edit, a new file and a deletion on the host are seen by the next run.
    p.t.write("hello.txt", "edited\n");
    p.t.write("new.txt", "new\n");
    std::fs::remove_dir_all(p.t.root().join("sub")).unwrap();
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat hello.txt new.txt; test -e sub && echo still-there || echo gone",
    ]);
    assert_eq!(out, "edited\nnew\ngone\n");

    // A mode change, and a directory replaced by a file.
    let script = p.t.root().join("run.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(p.t.root().join("swap")).unwrap();
    p.t.write("swap", "a file now\n");
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "test -x run.sh && ./run.sh; cat swap",
    ]);
    assert_eq!(out, "ran\na file now\n");

    // Files made inside the remote workspace stay there.
    p.ok(&["run", "--", "sh", "-c", "echo made > inside.txt"]);
    let out = p.ok(&["run", "--", "cat", "inside.txt"]);
    assert_eq!(out, "made\n");

    // `shell` (without a terminal: commands on stdin) sees the synced tree too.
    p.t.write("for-shell.txt", "shell sees it\n");
    let mut child = p
        .cmd(&["shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"cat for-shell.txt\nexit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        stdout(&out).contains("shell sees it"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn hooks_see_the_synced_project() {
    let p = RemoteProject::new();
    p.t.manifest("[hooks]\non_create = \"cat marker.txt > /tmp/hook-saw\"\n");
    p.t.write("marker.txt", "from host\n");
    p.ok(&["up"]);
    let out = p.ok(&["run", "--", "cat", "/tmp/hook-saw"]);
    assert_eq!(out, "from host\n");
}

#[test]
fn local_engine_still_binds() {
    let t = TestContext::new();
    t.manifest("");
    t.ok(&["up"]);
    let status = t.ok(&["status"]);
    assert!(status.contains("workspace: bind"), "{status}");
    // A file made on the host is there at once, without any sync: it is the same file.
    let id = t.containers().pop().unwrap();
    let mounts = crate::common::docker(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Type}} {{.Destination}};{{end}}",
        &id,
    ]);
    assert!(mounts.contains("bind /workspace"), "{mounts}");
}

#[test]
fn fetch_brings_files_back_from_the_remote_workspace() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "mkdir -p reports && echo '<ok/>' > reports/junit.xml && echo top > top.txt",
    ]);
    assert!(
        !p.t.root().join("reports").exists(),
        "binds reached the host?"
    );
    p.ok(&["fetch", "reports", "top.txt"]);
    let report = std::fs::read_to_string(p.t.root().join("reports/junit.xml")).unwrap();
    assert_eq!(report, "<ok/>\n");
    let top = std::fs::read_to_string(p.t.root().join("top.txt")).unwrap();
    assert_eq!(top, "top\n");
    let out = p.run(&["fetch", "../etc/passwd"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = p.run(&["fetch", "missing.txt"]);
    assert!(
        stderr(&out).contains("not in the workspace"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn watch_syncs_every_save_to_the_remote_workspace() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write("src/a.txt", "one\n");
    p.ok(&["up"]);
    let mut child = p
        .cmd(&["watch", "--debounce", "50"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The watcher is up once a save reaches the engine; no `run` in between.
    let synced = saves_reach_the_engine(&p, "src/a.txt", "/workspace/src/a.txt");
    crate::common::signal(&child, nix::sys::signal::Signal::SIGINT);
    let _ = child.wait();
    let _ = child.stderr.take();
    assert!(synced.is_ok(), "never synced: {synced:?}");
}

/// Save `rel` in the project every half second until the container shows the save at
/// `path` (Ok), or 30 s pass (Err: what the container shows).
fn saves_reach_the_engine(p: &RemoteProject, rel: &str, path: &str) -> Result<(), String> {
    let id = p.container();
    let read = || {
        let out = p.e.docker(&["exec", &id, "cat", path]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for n in 1.. {
        p.t.write(rel, &format!("save {n}\n"));
        std::thread::sleep(std::time::Duration::from_millis(500));
        if read() == format!("save {n}\n") {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            break;
        }
    }
    Err(read())
}

/// The `[sync] fetch` paths of the remote workspace, as the project sees them.
fn read_local(p: &RemoteProject, rel: &str) -> String {
    std::fs::read_to_string(p.t.root().join(rel))
        .unwrap_or_else(|e| panic!("{rel} was not fetched: {e}"))
}

#[test]
fn run_brings_declared_reports_back_whatever_its_exit_status() {
    let p = RemoteProject::new();
    p.t.manifest(
        "[sync]\nfetch = [\"target/nextest/junit.xml\", \"coverage/\", \"missing.txt\"]\n",
    );
    // A file here only (gitignored, so never uploaded): the fetched directory is merged
    // into the local one, so it stays (issue #20: fetch loses nothing).
    p.t.write(".gitignore", "coverage/\n");
    p.t.write("coverage/stale.html", "old\n");
    let out = p.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "mkdir -p target/nextest coverage/sub && echo '<testsuites failures=\"1\"/>' > \
         target/nextest/junit.xml && echo new > coverage/sub/index.html; exit 3",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(
        read_local(&p, "target/nextest/junit.xml"),
        "<testsuites failures=\"1\"/>\n"
    );
    assert_eq!(read_local(&p, "coverage/sub/index.html"), "new\n");
    assert_eq!(read_local(&p, "coverage/stale.html"), "old\n");
    assert!(err.contains("fetched coverage/"), "{err}");
    assert!(err.contains("missing.txt is not in the workspace"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(p.t.root())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("devenv-fetch"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // What came back is not sent back: a change made there since survives the next sync.
    let id = p.container();
    let edit = p.e.docker(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo changed-there > /workspace/target/nextest/junit.xml",
    ]);
    assert!(edit.status.success(), "{}", stderr(&edit));
    let out = p.ok(&["run", "--", "cat", "target/nextest/junit.xml"]);
    assert_eq!(
        out, "changed-there\n",
        "the fetched file was uploaded again"
    );
    assert_eq!(
        read_local(&p, "target/nextest/junit.xml"),
        "changed-there\n"
    );
}

#[test]
fn run_interrupted_by_ctrl_c_still_brings_reports_back() {
    let p = RemoteProject::new();
    p.t.manifest("[sync]\nfetch = [\"report.txt\"]\n");
    p.ok(&["up"]);
    let mut child = p
        .cmd(&[
            "run",
            "--",
            "sh",
            "-c",
            "echo partial > report.txt; exec sleep 60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = p.container();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !p
        .e
        .docker(&["exec", &id, "test", "-s", "/workspace/report.txt"])
        .status
        .success()
    {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command never wrote its report");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    crate::common::signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(read_local(&p, "report.txt"), "partial\n");
}

#[test]
fn fetch_refuses_what_would_land_outside_the_project() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "ln -s /etc/passwd leak && mkdir -p d out && ln -s ../../.. d/up && echo r > out/r.txt",
    ]);
    for path in ["leak", "d"] {
        let out = p.run(&["fetch", path]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("outside the project"),
            "{}",
            stderr(&out)
        );
        assert!(
            p.t.root().join(path).symlink_metadata().is_err(),
            "{path} was written"
        );
    }
    // A local parent directory that is a symlink out of the project is not followed.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), p.t.root().join("out")).unwrap();
    let out = p.run(&["fetch", "out/r.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("leads outside the project"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    // A path that can never be fetched is a usage error (2).
    for bad in [
        "..",
        "../x",
        "/etc/passwd",
        ".devenv/binds.json",
        "src/*.rs",
    ] {
        let out = p.run(&["fetch", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
}

#[test]
fn bind_mounted_project_fetches_only_what_is_on_a_named_volume() {
    let t = TestContext::new();
    t.manifest(
        "[container]\nvolumes = [\"reports:/workspace/out\"]\n\
         [sync]\nfetch = [\"out/report.txt\", \"made.txt\"]\n",
    );
    std::fs::create_dir_all(t.root().join("out")).unwrap();
    let out = t.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo r > out/report.txt; echo m > made.txt; exit 2",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let report = std::fs::read_to_string(t.root().join("out/report.txt")).unwrap();
    assert_eq!(report, "r\n");
    assert!(err.contains("fetched out/report.txt"), "{err}");
    // The rest is the project's own file already: nothing to fetch.
    assert!(!err.contains("made.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(t.root().join("made.txt")).unwrap(),
        "m\n"
    );
}

#[test]
fn a_directory_bind_is_a_synced_volume_on_a_remote_engine() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./data:/data\"]\n");
    // A bind shows everything in its source: .gitignore does not apply.
    p.t.write(".gitignore", "data/\n");
    p.t.write("data/a.txt", "one\n");
    p.t.write("data/old/x.txt", "x\n");
    p.ok(&["up"]);
    let out = p.ok(&["run", "--", "sh", "-c", "cat /data/a.txt /data/old/x.txt"]);
    assert_eq!(out, "one\nx\n");

    // An edit, a new file and a deletion are seen by the next run.
    p.t.write("data/a.txt", "two\n");
    p.t.write("data/b.txt", "new\n");
    std::fs::remove_dir_all(p.t.root().join("data/old")).unwrap();
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat /data/a.txt /data/b.txt; test -e /data/old && echo still-there || echo gone",
    ]);
    assert_eq!(out, "two\nnew\ngone\n");
    let id = p.container();
    let mounts = p.e.docker_lines(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Name}} {{.Destination}};{{end}}",
        &id,
    ]);
    assert!(
        mounts.concat().contains("-bind-data-"),
        "no bind volume among {mounts:?}"
    );

    // A helper left behind by an interrupted sync holds the volume; `down` removes it.
    let volume = mounts
        .concat()
        .split(';')
        .find(|m| m.contains("-bind-data-"))
        .and_then(|m| m.split(' ').next())
        .unwrap()
        .to_owned();
    let label = |key: &str| {
        let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
        let v = p.e.docker_lines(&["inspect", "--format", &format, &id]);
        format!("{key}={}", v.concat())
    };
    let image =
        p.e.docker_lines(&["inspect", "--format", "{{.Image}}", &id])
            .concat();
    let leftover = p.e.docker(&[
        "create",
        "--name",
        &format!("{volume}.sync"),
        "--label",
        "dev.devenv.managed=true",
        "--label",
        "dev.devenv.role=sync",
        "--label",
        &label("dev.devenv.project-dir"),
        "--label",
        &label("dev.devenv.manifest"),
        "--label",
        &p.t.label(),
        "-v",
        &format!("{volume}:/devenv-sync"),
        &image,
        "true",
    ]);
    assert!(leftover.status.success(), "{leftover:?}");

    // `down --volumes` removes it with the workspace volume.
    p.ok(&["down", "--volumes"]);
    let label = format!("label={}", p.t.label());
    let left =
        p.e.docker_lines(&["volume", "ls", "-q", "--filter", &label]);
    assert!(left.is_empty(), "volumes left: {left:?}");
}

#[test]
fn a_file_bind_is_copied_and_follows_edits() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./conf/app.yml:/etc/app/app.yml\"]\n");
    p.t.write("conf/app.yml", "level: 1\n");
    let out = p.ok(&["run", "--", "cat", "/etc/app/app.yml"]);
    assert_eq!(out, "level: 1\n");
    p.t.write("conf/app.yml", "level: 2\n");
    let out = p.ok(&["run", "--", "cat", "/etc/app/app.yml"]);
    assert_eq!(out, "level: 2\n");
}

#[test]
fn read_only_binds_refuse_writes_and_still_follow_the_host() {
    let p = RemoteProject::new();
    p.t.manifest(
        "[container]\nvolumes = [\"./ro:/ro:ro\", \"./secret.conf:/etc/secret.conf:ro\"]\n",
    );
    p.t.write("ro/a.txt", "a\n");
    p.t.write("ro/gone.txt", "bye\n");
    p.t.write("secret.conf", "s1\n");
    p.ok(&["up"]);
    let out = p.ok(&["run", "--", "sh", "-c", "cat /ro/a.txt /etc/secret.conf"]);
    assert_eq!(out, "a\ns1\n");

    // Nothing in the container writes them (these tests run as root: not even root).
    for write in [
        "echo x > /ro/new.txt",
        "echo x > /ro/a.txt",
        "rm /ro/gone.txt",
        "echo x > /etc/secret.conf",
    ] {
        let out = p.run(&["run", "--", "sh", "-c", write]);
        assert_ne!(out.status.code(), Some(0), "`{write}` succeeded");
    }
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat /ro/a.txt /ro/gone.txt /etc/secret.conf",
    ]);
    assert_eq!(out, "a\nbye\ns1\n");

    // The host's edits and deletions still reach them.
    p.t.write("ro/a.txt", "edited\n");
    std::fs::remove_file(p.t.root().join("ro/gone.txt")).unwrap();
    p.t.write("secret.conf", "s2\n");
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat /ro/a.txt /etc/secret.conf; test -e /ro/gone.txt && echo still-there || echo gone",
    ]);
    assert_eq!(out, "edited\ns2\ngone\n");
    // The helper that wrote them is gone.
    let label = format!("label={}", p.t.label());
    let helpers = p.e.docker_lines(&[
        "ps",
        "-aq",
        "--filter",
        &label,
        "--filter",
        "label=dev.devenv.role=sync",
    ]);
    assert!(helpers.is_empty(), "helpers left: {helpers:?}");
}

#[test]
fn watch_syncs_saves_in_a_gitignored_bind_source() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./data:/data\"]\n");
    p.t.write(".gitignore", "data/\n");
    p.t.write("data/a.txt", "one\n");
    p.ok(&["up"]);
    let (mut child, started) = start_watch(&p);
    // Only saves under data/ happen: the watcher must watch it although .gitignore hides it.
    let synced = saves_reach_the_engine(&p, "data/a.txt", "/data/a.txt");
    crate::common::signal(&child, nix::sys::signal::Signal::SIGINT);
    let _ = child.wait();
    assert!(started, "the watcher never started");
    assert!(synced.is_ok(), "never synced: {synced:?}");
}

#[test]
fn watch_follows_a_bind_source_added_while_it_watches() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write(".gitignore", "data/\n");
    p.t.write("data/a.txt", "one\n");
    p.ok(&["up"]);
    let before = p.container();
    let (mut child, started) = start_watch(&p);
    // The manifest gains a bind of the ignored directory: the watcher recreates the
    // container, then must watch data/ whole, which it did not when it started.
    let manifest = std::fs::read_to_string(p.t.root().join("devenv.toml")).unwrap();
    p.t.write(
        "devenv.toml",
        &format!("{manifest}[container]\nvolumes = [\"./data:/data\"]\n"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Recreated, and its first sync done (before it, any save would be sent anyway).
    let recreated = loop {
        let now =
            p.e.docker_lines(&["ps", "-q", "--filter", &format!("label={}", p.t.label())]);
        if now.len() == 1 && now[0] != before {
            let first = p.e.docker(&["exec", &now[0], "cat", "/data/a.txt"]);
            if first.stdout == b"one\n" {
                break true;
            }
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let synced = if recreated {
        saves_reach_the_engine(&p, "data/a.txt", "/data/a.txt")
    } else {
        Err("the container was not recreated".into())
    };
    crate::common::signal(&child, nix::sys::signal::Signal::SIGINT);
    let _ = child.wait();
    assert!(started, "the watcher never started");
    assert!(synced.is_ok(), "never synced: {synced:?}");
}

/// `devenv watch` with a short debounce; returns once it says it watches (true) or after
/// 60 s (false). Saves must wait for that: the sync before it would hide a blind watcher.
fn start_watch(p: &RemoteProject) -> (std::process::Child, bool) {
    let mut child = p
        .cmd(&["watch", "--debounce", "50"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let stderr_pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr_pipe)) {
            let Ok(line) = line else { break };
            if line.contains("watching ") {
                let _ = ready_tx.send(());
            }
        }
    });
    let started = ready
        .recv_timeout(std::time::Duration::from_secs(60))
        .is_ok();
    (child, started)
}

/// The engine refuses a whole archive holding a relative symlink that points above the
/// directory it extracts into; a project (or a bind source) may have such links, as a
/// bind mount shows them. Odd names travel too.
#[test]
fn links_pointing_out_of_the_project_and_odd_names_reach_the_engine() {
    let p = RemoteProject::new();
    p.t.manifest("[container]\nvolumes = [\"./conf:/etc/conf:ro\", \"./data:/data\"]\n");
    let root = p.t.root();
    p.t.write("conf/app.conf", "c\n");
    p.t.write("data/d.txt", "d\n");
    p.t.write("a $HOME\nb.txt", "odd\n");
    for (link, to) in [
        ("up-link", "../shared/config"),
        ("abs-link", "/etc/hostname"),
        ("conf/up-link", "../../../x"),
        ("data/up-link", "../../y"),
    ] {
        std::os::unix::fs::symlink(to, root.join(link)).unwrap();
    }
    p.ok(&["up"]);
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "for l in up-link abs-link /etc/conf/up-link /data/up-link; do readlink $l; done; \
         cat \"a \\$HOME\nb.txt\"",
    ]);
    assert_eq!(
        out,
        "../shared/config\n/etc/hostname\n../../../x\n../../y\nodd\n"
    );
    // A link added later goes with the next sync.
    std::os::unix::fs::symlink("../../later", root.join("later-link")).unwrap();
    assert_eq!(
        p.ok(&["run", "--", "readlink", "later-link"]),
        "../../later\n"
    );
}

/// `devenv shell` in a terminal against the remote engine, over tcp and over ssh: the
/// synced project, resize, Ctrl-C and the exit status, as on a local engine.
#[test]
fn interactive_shell_on_a_remote_engine_over_tcp_and_ssh() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.ok(&["up"]);
    let ssh_path = p.e.ssh_path();
    let tcp = [("DOCKER_HOST", p.e.tcp_host())];
    let ssh = [("DOCKER_HOST", p.e.ssh_host()), ("PATH", ssh_path)];
    for (n, env) in [&tcp[..], &ssh[..]].into_iter().enumerate() {
        // Saved just before: the shell syncs before it starts.
        p.t.write("for-pty.txt", &format!("edit-{n}\n"));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut pty = crate::common::PtySession::spawn(&p.t, &["shell"], &env);
        pty.send("cat for-pty.txt; echo $((6*7))-answer\r");
        pty.expect(&format!("edit-{n}"));
        pty.expect("42-answer");
        pty.resize(30, 100);
        std::thread::sleep(std::time::Duration::from_millis(300));
        pty.send("stty size\r");
        pty.expect("30 100");
        pty.send("sleep 100\r");
        std::thread::sleep(std::time::Duration::from_millis(500));
        pty.send("\x03");
        pty.send("echo after-$((1+1))\r");
        pty.expect("after-2");
        pty.send("exit 3\r");
        assert_eq!(pty.wait(), 3, "over {:?}", env[0].1);
    }
}

/// The workspace volume outlives its container (`down` without `--volumes`, a recreate):
/// the next container's first sync sends what changed meanwhile, deletions included, and
/// keeps what was made inside; a new volume gets everything.
#[test]
fn deletions_made_while_no_container_ran_reach_the_kept_workspace_volume() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write("a.txt", "a1\n");
    p.t.write("b.txt", "b\n");
    p.t.write("old/c.txt", "c\n");
    p.ok(&["run", "--", "sh", "-c", "echo inside > made.txt"]);
    p.ok(&["down"]);
    p.t.write("a.txt", "a2\n");
    std::fs::remove_file(p.t.root().join("b.txt")).unwrap();
    std::fs::remove_dir_all(p.t.root().join("old")).unwrap();
    let listing = "ls; cat a.txt made.txt";
    assert_eq!(
        p.ok(&["run", "--", "sh", "-c", listing]),
        "a.txt\nbase.tar\ndevenv.lock\ndevenv.toml\nmade.txt\na2\ninside\n"
    );

    // A recreate (a runtime setting changed) keeps the volume too.
    let manifest = std::fs::read_to_string(p.t.root().join("devenv.toml")).unwrap();
    p.t.write(
        "devenv.toml",
        &format!("{manifest}[container]\nenv = {{ X = \"1\" }}\n"),
    );
    std::fs::remove_file(p.t.root().join("a.txt")).unwrap();
    let out = p.run(&["up"]);
    assert!(
        stderr(&out).contains("1 deleted since the last container"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        p.ok(&["run", "--", "sh", "-c", "ls; echo $X"]),
        "base.tar\ndevenv.lock\ndevenv.toml\nmade.txt\n1\n"
    );

    // A new volume starts empty and gets the whole project.
    p.ok(&["down", "--volumes"]);
    assert_eq!(
        p.ok(&["run", "--", "ls"]),
        "base.tar\ndevenv.lock\ndevenv.toml\n"
    );
}

/// An edited file and a new one are checked and written by one exec as the workspace's
/// owner, with no archive upload after it (the separate upload cost an edit + run a third
/// more); the command's own exec is the other.
#[test]
fn an_edit_is_synced_by_one_exec_without_an_archive_upload() {
    let p = RemoteProject::new();
    p.t.manifest("");
    p.t.write("src/a.txt", "a\n");
    p.ok(&["up"]);
    let c = p.container();
    let now = || {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
    };
    let since = now();
    p.t.write("src/a.txt", "edited\n");
    p.t.write("src/new/b.txt", "b\n");
    let out = p.ok(&["run", "--", "cat", "src/a.txt", "src/new/b.txt"]);
    assert_eq!(out, "edited\nb\n");
    let until = now();
    let actions = p.e.docker_lines(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={c}"),
        "--format",
        "{{.Action}}",
    ]);
    let starts = actions
        .iter()
        .filter(|a| a.starts_with("exec_start"))
        .count();
    assert_eq!(starts, 2, "{actions:?}");
    assert!(
        !actions.iter().any(|a| a.starts_with("extract-to-dir")),
        "{actions:?}"
    );
}

//! The environment against the real engine: up, run, shell (through a pty), users, hooks,
//! recreation, down and status.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use crate::common::{
    docker, docker_lines, free_id, needs_root, signal, stderr, stdout, PtySession, TestContext,
};

fn env_project(extra: &str) -> TestContext {
    let t = TestContext::new();
    t.manifest(&format!(
        "[env]\nIMAGE_VAR = \"from-image\"\n[[step]]\nrun = \"echo built > /built\"\n{extra}"
    ));
    t
}

fn container_id(t: &TestContext) -> String {
    let json = t.ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["container"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn up_then_run_returns_exact_exit_codes_and_keeps_streams_apart() {
    let t = env_project("[container]\nenv = { RUNTIME_VAR = \"rt\" }\n");
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("environment ready"));
    let out = t.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo $IMAGE_VAR $RUNTIME_VAR; cat /built",
    ]);
    assert_eq!(stdout(&out), "from-image rt\nbuilt\n");
    for code in [0, 1, 7, 42, 255] {
        let out = t.run(&["run", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.status.code(), Some(code));
    }
    let out = t.run(&["run", "--", "sh", "-c", "echo to-out; echo to-err >&2"]);
    assert_eq!(stdout(&out), "to-out\n");
    assert_eq!(stderr(&out), "to-err\n");
    // Killed by a signal: 128+N.
    let out = t.run(&["run", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137));
    // The command sees the project at the workdir, matching the current directory.
    std::fs::create_dir_all(t.root().join("sub")).unwrap();
    let mut cmd = t.cmd(&["run", "--", "pwd"]);
    cmd.current_dir(t.root().join("sub"));
    assert_eq!(stdout(&cmd.output().unwrap()), "/workspace/sub\n");
}

#[test]
fn run_streams_stdin_and_large_output_in_order() {
    let t = env_project("");
    t.ok(&["up"]);
    let mut child = t
        .cmd(&["run", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hi\nthere\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "hi\nthere\n");
    // ~100 MB, in order.
    let out = t.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "seq 1 1000000; head -c 93000000 /dev/zero",
    ]);
    assert!(out.status.success());
    let lines = (1..=1_000_000).fold(String::new(), |mut s, i| {
        use std::fmt::Write as _;
        let _ = writeln!(s, "{i}");
        s
    });
    assert_eq!(out.stdout.len(), lines.len() + 93_000_000);
    assert!(
        out.stdout[..lines.len()] == *lines.as_bytes(),
        "lines out of order"
    );
    assert!(out.stdout[lines.len()..].iter().all(|b| *b == 0));
}

#[test]
fn sigint_and_sigterm_reach_the_command_and_it_never_outlives_devenv() {
    let t = env_project("");
    t.ok(&["up"]);
    let script = "trap 'echo got-int; exit 42' INT; echo ready; while :; do sleep 0.1; done";
    let mut child = t
        .cmd(&["run", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    child.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(stdout(&out), "got-int\n");

    let mut child = t
        .cmd(&["run", "--", "sh", "-c", "echo ready; exec sleep 300"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let id = container_id(&t);
    let ps = docker(&["exec", &id, "ps", "-o", "args"]);
    assert!(!ps.contains("sleep 300"), "command outlived devenv:\n{ps}");
}

#[test]
fn files_created_inside_belong_to_a_non_root_host_user() {
    if !needs_root("files_created_inside_belong_to_a_non_root_host_user") {
        return;
    }
    let t = env_project("");
    let uid = free_id(4321);
    t.give_to(uid);
    let out = t.as_user(uid, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = t.as_user(
        uid,
        &[
            "run",
            "--",
            "sh",
            "-c",
            "id -u; id -g; whoami; touch \"$HOME/w\" && echo home-ok; touch created-inside",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{uid}\n{uid}\nituser\nhome-ok\n"));
    let meta = std::fs::metadata(t.root().join("created-inside")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), uid);
}

#[test]
fn volume_mount_points_inside_the_project_belong_to_the_host_user() {
    if !needs_root("volume_mount_points_inside_the_project_belong_to_the_host_user") {
        return;
    }
    let t = env_project("[container]\nvolumes = [\"cache:/workspace/target\", \"./data:/data\"]\n");
    let uid = free_id(4323);
    t.give_to(uid);
    let out = t.as_user(uid, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::metadata(t.root().join("target")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
    // The fresh named volume itself is writable by the user, and a bind source that did
    // not exist was made by the user, not by the engine as root.
    let out = t.as_user(
        uid,
        &[
            "run",
            "--",
            "sh",
            "-c",
            "touch target/x && touch /data/y && echo ok",
        ],
    );
    assert_eq!(stdout(&out), "ok\n", "{}", stderr(&out));
    let meta = std::fs::metadata(t.root().join("data/y")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
}

#[test]
fn host_uid_that_exists_in_the_image_under_another_name_still_works() {
    if !needs_root("host_uid_that_exists_in_the_image_under_another_name_still_works") {
        return;
    }
    let t = TestContext::new();
    let uid = free_id(4322);
    t.manifest(&format!(
        "[[step]]\nrun = \"echo 'taken:x:{uid}:{uid}::/home/taken:/bin/sh' >> /etc/passwd; \
         echo 'tgroup:x:{uid}:' >> /etc/group; mkdir -p /home/taken && chown {uid}:{uid} /home/taken\"\n",
    ));
    t.give_to(uid);
    let script = "whoami; echo $HOME; touch $HOME/x && echo ok";
    let out = t.as_user(uid, &["run", "--", "sh", "-c", script]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "taken\n/home/taken\nok\n");
}

#[test]
fn changed_container_setting_recreates_the_container_and_says_why() {
    let t = env_project("[container]\nenv = { MODE = \"one\" }\n");
    t.ok(&["up"]);
    let first = container_id(&t);
    // Unchanged: reused.
    let out = t.run(&["up"]);
    assert!(!stderr(&out).contains("recreating"), "{}", stderr(&out));
    assert_eq!(container_id(&t), first);
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &manifest.replace("\"one\"", "\"two\""));
    let status: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["container"]["up_to_date"], false);
    let out = t.run(&["up"]);
    assert!(
        stderr(&out).contains("`env` (or `env_file`) in [container] changed"),
        "{}",
        stderr(&out)
    );
    assert_ne!(container_id(&t), first);
    assert_eq!(
        stdout(&t.run(&["run", "--", "sh", "-c", "echo $MODE"])),
        "two\n"
    );
    assert_eq!(t.containers().len(), 1);
}

#[test]
fn run_brings_a_stale_environment_up_to_date_first() {
    let t = env_project("");
    t.ok(&["up"]);
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &manifest.replace("from-image", "changed"));
    let out = t.run(&["run", "--", "sh", "-c", "echo $IMAGE_VAR"]);
    assert_eq!(stdout(&out), "changed\n", "{}", stderr(&out));
}

#[test]
fn stale_environment_in_use_by_another_shell_is_reported_not_destroyed() {
    let t = env_project("");
    t.ok(&["up"]);
    let mut busy = t
        .cmd(&["run", "--", "sh", "-c", "echo ready; sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    busy.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &format!("{manifest}[container]\nenv = {{ X = \"1\" }}\n"),
    );
    let out = t.run(&["run", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("stale"), "{}", stderr(&out));
    assert!(stderr(&out).contains("devenv up"), "{}", stderr(&out));
    signal(&busy, nix::sys::signal::Signal::SIGTERM);
    let _ = busy.wait();
}

#[test]
fn hooks_on_create_once_on_start_each_start_and_failed_create_retried() {
    let t = env_project(
        "[hooks]\non_create = \"test -f /workspace/allow && echo c >> /workspace/created.log\"\n\
         on_start = \"echo s >> /workspace/started.log\"\n",
    );
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("on_create"), "{}", stderr(&out));
    t.write("allow", "");
    t.ok(&["up"]);
    t.ok(&["up"]);
    let read = |f: &str| std::fs::read_to_string(t.root().join(f)).unwrap_or_default();
    assert_eq!(read("created.log"), "c\n");
    let starts = read("started.log").lines().count();
    docker(&["stop", "-t", "1", &container_id(&t)]);
    t.ok(&["up"]);
    assert_eq!(read("started.log").lines().count(), starts + 1);
    assert_eq!(read("created.log"), "c\n");
}

#[test]
fn down_removes_only_this_projects_container_and_volumes() {
    let t = env_project("[container]\nvolumes = [\"cache:/cache\"]\n");
    t.ok(&["up"]);
    t.ok(&["run", "--", "sh", "-c", "echo kept > /cache/f"]);
    t.ok(&["down"]);
    assert!(t.containers().is_empty());
    t.ok(&["up"]);
    assert_eq!(t.ok(&["run", "--", "cat", "/cache/f"]), "kept\n");
    let label = format!("label={}", t.label());
    assert_eq!(
        docker_lines(&["volume", "ls", "-q", "--filter", &label]).len(),
        1
    );
    t.ok(&["down", "--volumes"]);
    assert!(t.containers().is_empty());
    assert!(docker_lines(&["volume", "ls", "-q", "--filter", &label]).is_empty());
}

#[test]
fn status_json_follows_the_contract() {
    let t = env_project("");
    t.ok(&["lock"]);
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert_eq!(v["hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["image_present"], false);
    assert!(v["container"].is_null());
    assert!(v["image"].as_str().unwrap().starts_with("devenv/"));
    t.ok(&["up"]);
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert_eq!(v["image_present"], true);
    let c = &v["container"];
    assert_eq!(c["state"], "running");
    assert_eq!(c["up_to_date"], true);
    assert!(c["name"]
        .as_str()
        .unwrap()
        .starts_with(&format!("devenv-{}", t.name)));
    assert!(c["id"].as_str().unwrap().len() >= 12);
}

#[test]
fn two_concurrent_ups_end_with_one_container() {
    let t = env_project("");
    t.ok(&["build"]);
    let a = t.cmd(&["up"]).stderr(Stdio::piped()).spawn().unwrap();
    let b = t.cmd(&["up"]).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(t.containers().len(), 1);
}

#[test]
fn interactive_shell_through_a_pty() {
    let t = env_project("");
    t.ok(&["up"]);
    let mut pty = PtySession::spawn(&t, &["shell"], &[]);
    pty.send("echo $((6*7))-answer\r");
    pty.expect("42-answer");
    // Resize is forwarded.
    pty.resize(30, 100);
    std::thread::sleep(Duration::from_millis(300));
    pty.send("stty size\r");
    pty.expect("30 100");
    // Ctrl-C interrupts a running command and the shell lives on.
    pty.send("sleep 100\r");
    std::thread::sleep(Duration::from_millis(500));
    pty.send("\x03");
    pty.send("echo after-$((1+1))\r");
    pty.expect("after-2");
    pty.send("exit 3\r");
    assert_eq!(pty.wait(), 3);
}

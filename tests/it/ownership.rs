//! devenv touches only what it made: prune and the container-name conflict leave alone
//! images and containers that merely inherited devenv's labels; prune is scoped by project
//! identity, not name; build containers are judged live from the engine, not from a lock
//! file another session cannot see; and `export --force` removes only what an earlier export
//! wrote.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{docker, docker_lines, stderr, TestContext};

#[test]
fn export_force_into_the_project_keeps_the_users_steps_and_base_files() {
    let t = TestContext::new();
    t.manifest("[[step]]\ninputs = [\"tools\"]\nrun = \"true\"\n");
    t.write("tools/a.sh", "echo a\n");
    t.write("tools/b.sh", "echo b\n");
    t.write("steps/notes.md", "mine\n");
    t.write("steps/1/tools/mine.sh", "my own\n");
    t.write("base/keep.txt", "mine too\n");
    t.ok(&["export", "dockerfile", "-o", ".", "--force"]);
    assert!(t.root().join("steps/1/tools/a.sh").exists());
    assert!(t.root().join("steps/1/tools/b.sh").exists());
    // The input b.sh goes away: the next export drops its copy, and nothing of the user's.
    std::fs::remove_file(t.root().join("tools/b.sh")).unwrap();
    let out = t.run(&["export", "dockerfile", "-o", ".", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.root().join("steps/1/tools/a.sh").exists());
    assert!(!t.root().join("steps/1/tools/b.sh").exists());
    for (rel, content) in [
        ("steps/notes.md", "mine\n"),
        ("steps/1/tools/mine.sh", "my own\n"),
        ("base/keep.txt", "mine too\n"),
        ("tools/a.sh", "echo a\n"),
    ] {
        let got = std::fs::read_to_string(t.root().join(rel));
        assert_eq!(got.ok().as_deref(), Some(content), "{rel}");
    }
}

fn hash(t: &TestContext) -> String {
    t.ok(&["hash"]).trim().to_owned()
}

fn image_exists(reference: &str) -> bool {
    !docker_lines(&["images", "-q", reference]).is_empty()
}

/// Edit the manifest so the project moves on to a new hash, and build that.
fn move_on(t: &TestContext, from: &str, to: &str) {
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    assert!(manifest.contains(from));
    t.write("devenv.toml", &manifest.replace(from, to));
    t.ok(&["build"]);
}

#[test]
fn prune_keeps_a_users_image_built_from_or_committed_off_the_environment() {
    let t = TestContext::new();
    t.manifest("[[step]]\nrun = \"echo one > /one\"\n");
    t.ok(&["up"]);
    let old = format!("devenv/{}:{}", t.name, hash(&t));
    // docker build FROM the environment image (the classic builder) …
    let derived = format!("{}-derived:1", t.name);
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", &derived, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let dockerfile = format!("FROM {old}\nRUN echo mine > /mine\n");
    build
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(build.wait().unwrap().success());
    // … and a commit of the environment container: both inherit every devenv label.
    let env = docker_lines(&["ps", "-q", "--filter", &format!("label={}", t.label())]);
    assert_eq!(env.len(), 1, "{env:?}");
    let committed = format!("{}-commit:1", t.name);
    docker(&["commit", &env[0], &committed]);
    t.ok(&["down"]);
    move_on(&t, "echo one", "echo two");
    t.ok(&["prune"]);
    assert!(
        !image_exists(&old),
        "the old environment image was not pruned"
    );
    assert!(
        image_exists(&derived),
        "prune removed the user's derived image"
    );
    assert!(image_exists(&committed), "prune removed the user's commit");
    docker(&["run", "--rm", &derived, "cat", "/mine", "/one"]);
}

#[test]
fn a_foreign_container_under_the_environments_name_is_left_alone() {
    let t = TestContext::new();
    t.manifest("");
    t.ok(&["up"]);
    let name = docker(&[
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label={}", t.label()),
    ])
    .trim()
    .to_owned();
    t.ok(&["down"]);
    // Someone runs devenv's image under that name: it inherits `dev.devenv.managed=true`.
    let image = format!("devenv/{}:{}", t.name, hash(&t));
    let theirs = docker(&["create", "--name", &name, &image, "/bin/sh"])
        .trim()
        .to_owned();
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("devenv did not make it"),
        "{}",
        stderr(&out)
    );
    let now = docker(&["inspect", "--format", "{{.Id}}", &name]);
    assert_eq!(now.trim(), theirs, "the foreign container was replaced");
}

#[test]
fn prune_in_one_clone_keeps_the_current_image_of_another_clone_of_the_same_name() {
    let a = TestContext::new();
    let b = TestContext::new();
    a.manifest("[[step]]\nrun = \"echo a > /a\"\n");
    // b: the same name and base, other content (another checkout or worktree).
    std::fs::copy(a.root().join("base.tar"), b.root().join("base.tar")).unwrap();
    b.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nrootfs = \"base.tar\"\n[[step]]\nrun = \"echo b > /b\"\n",
            a.name
        ),
    );
    a.ok(&["build"]);
    b.ok(&["build"]);
    let hb = hash(&b);
    move_on(&a, "echo a", "echo A");
    a.ok(&["prune"]);
    assert!(
        image_exists(&format!("devenv/{}:{hb}", a.name)),
        "prune in a removed b's current image"
    );
    assert!(image_exists(&format!("devenv/layer:{hb}")));
    let out = b.run(&["build"]);
    assert!(stderr(&out).contains("0 steps run"), "{}", stderr(&out));
}

/// Build containers of the test project (any state).
fn build_containers(t: &TestContext) -> Vec<String> {
    docker_lines(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label={}", t.label()),
        "--filter",
        "label=dev.devenv.role=build",
    ])
}

/// The test project's running build container, once there is one (the step's: the config
/// layer's container is never started).
fn running_build_container(t: &TestContext) -> String {
    let running = || {
        docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &format!("label={}", t.label()),
            "--filter",
            "label=dev.devenv.role=build",
            "--filter",
            "status=running",
        ])
    };
    wait_for("a running build container", || running().len() == 1);
    running().remove(0)
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_build_under_another_lock_directory_survives_prune_and_build_elsewhere() {
    let t = TestContext::new();
    t.manifest("[[step]]\nname = \"slow\"\nrun = \"sleep 5; echo done > /done\"\n");
    t.ok(&["lock"]);
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = t
        .cmd(&["build"])
        .env("XDG_RUNTIME_DIR", first_dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let container = running_build_container(&t);
    // Another session (its own lock directory) prunes and builds the same project.
    let second = |args: &[&str]| {
        t.cmd(args)
            .env("XDG_RUNTIME_DIR", second_dir.path())
            .output()
            .unwrap()
    };
    let out = second(&["prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        build_containers(&t),
        vec![container.clone()],
        "prune removed a live build"
    );
    let out = second(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let runs =
        stderr(&first).matches(": running").count() + stderr(&out).matches(": running").count();
    assert_eq!(runs, 1, "{}\n{}", stderr(&first), stderr(&out));
}

#[test]
fn an_idle_build_container_ends_with_its_devenv_and_is_no_obstacle_elsewhere() {
    let t = TestContext::new();
    // A step with a secret runs as an exec in an idle container.
    t.manifest("[[step]]\nsecrets = [\"IT_LEASE\"]\nrun = \"sleep 30\"\n");
    t.ok(&["lock"]);
    let dir = tempfile::tempdir().unwrap();
    let mut first = t
        .cmd(&["build"])
        .env("IT_LEASE", "x")
        .env("XDG_RUNTIME_DIR", dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let container = running_build_container(&t);
    wait_for("the step to run", || {
        docker_lines(&["top", &container])
            .iter()
            .any(|l| l.contains("sleep"))
    });
    first.kill().unwrap(); // SIGKILL: nothing of devenv runs any more
    first.wait().unwrap();
    wait_for("the orphaned build container to stop", || {
        docker(&["inspect", "--format", "{{.State.Status}}", &container]).trim() == "exited"
    });
    // Another session's build does not wait for it.
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &manifest.replace("sleep 30", "true"));
    let out = t.run(&["prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        build_containers(&t).is_empty(),
        "the leftover was not removed"
    );
}

#[test]
fn lock_files_do_not_pile_up() {
    let t = TestContext::new();
    t.manifest("[[step]]\nrun = \"echo 1 > /1\"\n[[step]]\nrun = \"echo 2 > /2\"\n");
    let dir = tempfile::tempdir().unwrap();
    let out = t
        .cmd(&["build"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let left: Vec<String> = std::fs::read_dir(dir.path().join("devenv-locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "lock"))
        .collect();
    assert!(left.is_empty(), "lock files left: {left:?}");
}

/// `devenv ARGS` as host user `uid` without XDG_RUNTIME_DIR, so its locks go to
/// `/tmp/devenv-<uid>`.
fn as_user_without_runtime_dir(t: &TestContext, uid: u32, args: &[&str]) -> Output {
    let sock_gid = std::fs::metadata("/var/run/docker.sock").unwrap().gid();
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            &format!("--groups={sock_gid}"),
        ])
        .arg(assert_cmd::cargo::cargo_bin("devenv"))
        .args(args)
        .current_dir(t.root())
        .env("HOME", t.home.path())
        .env("NO_COLOR", "1")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("CI")
        .output()
        .unwrap()
}

/// Removes a planted path when the test ends, whatever happens.
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lchown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

#[test]
fn a_planted_tmp_lock_directory_is_refused_or_replaced() {
    // A uid of this test alone (nobody else uses /tmp/devenv-<uid>).
    let uid = 47_000 + std::process::id() % 1000;
    let other = uid + 1000;
    let t = TestContext::new();
    t.manifest("[[step]]\nrun = \"echo 1 > /1\"\n");
    t.give_to(uid);
    let dir = PathBuf::from(format!("/tmp/devenv-{uid}"));
    let _cleanup = Planted(dir.clone());
    let _ = std::fs::remove_dir_all(&dir);
    let refused = |out: &Output| {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        assert!(stderr(out).contains("lock directory"), "{}", stderr(out));
    };
    // Another user's directory, open to all.
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    lchown(&dir, other);
    refused(&as_user_without_runtime_dir(&t, uid, &["build"]));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "used it anyway"
    );
    std::fs::remove_dir(&dir).unwrap();
    // Another user's symlink to a directory of theirs.
    let target = tempfile::tempdir().unwrap();
    lchown(target.path(), other);
    std::os::unix::fs::symlink(target.path(), &dir).unwrap();
    lchown(&dir, other);
    refused(&as_user_without_runtime_dir(&t, uid, &["build"]));
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
    std::fs::remove_file(&dir).unwrap();
    // The user's own symlink (or one left by a broken tool) is replaced, not followed.
    std::os::unix::fs::symlink(target.path(), &dir).unwrap();
    lchown(&dir, uid);
    let out = as_user_without_runtime_dir(&t, uid, &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(meta.is_dir(), "still a symlink");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (uid, 0o700));
    assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
}

#[test]
fn down_leaves_a_container_run_from_a_commit_of_the_environment() {
    let t = TestContext::new();
    t.manifest("");
    t.ok(&["up"]);
    let env = docker_lines(&["ps", "-q", "--filter", &format!("label={}", t.label())]);
    assert_eq!(env.len(), 1, "{env:?}");
    let committed = format!("{}-snapshot:1", t.name);
    docker(&["commit", &env[0], &committed]);
    // It carries every label of the environment container, but devenv did not make it.
    let theirs = docker(&["run", "-d", &committed, "sleep", "600"])
        .trim()
        .to_owned();
    t.ok(&["down"]);
    let state = docker(&["inspect", "--format", "{{.State.Status}}", &theirs]);
    assert_eq!(state.trim(), "running", "down removed the user's container");
    let out = t.run(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The name of the running container of `role` (and `service`) that devenv made.
fn named(t: &TestContext, role: &str) -> String {
    let names = docker_lines(&[
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label={}", t.label()),
        "--filter",
        &format!("label=dev.devenv.role={role}"),
    ]);
    assert_eq!(names.len(), 1, "{role}: {names:?}");
    names[0].clone()
}

fn id_of(name: &str) -> String {
    docker(&["inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_owned()
}

fn running(id: &str) -> bool {
    docker_lines(&["inspect", "--format", "{{.State.Status}}", id]) == ["running"]
}

#[test]
fn containers_run_from_commits_of_the_environment_and_a_service_are_not_the_projects() {
    let t = TestContext::new();
    t.manifest("[services.db]\ncommand = \"echo db-started; exec sleep 600\"\n");
    t.ok(&["up"]);
    let dev = named(&t, "env");
    let db = named(&t, "service");
    let (dev_id, db_id) = (id_of(&dev), id_of(&db));
    // The user commits each and runs a container from it: every label is inherited, and
    // they are the newest containers carrying them.
    let mut theirs = Vec::new();
    let mut commit_and_run = |source: &str, tag: &str| {
        let image = format!("{}-commit-{tag}:1", t.name);
        docker(&["commit", source, &image]);
        let cmd = format!("echo theirs-{tag}; touch /theirs; exec sleep 600");
        let id = docker(&["run", "-d", &image, "sh", "-c", &cmd])
            .trim()
            .to_owned();
        theirs.push(id);
    };
    commit_and_run(&dev, "env");
    // `run` execs in the environment, not in the user's container.
    let here = t.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "test -e /theirs && echo theirs || echo ours",
    ]);
    assert_eq!(here, "ours\n");
    commit_and_run(&db, "db");
    let here = t.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "test -e /theirs && echo theirs || echo ours",
    ]);
    assert_eq!(here, "ours\n");
    // `up` neither removes the real service nor adopts the user's copy.
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("removed service"),
        "{}",
        stderr(&out)
    );
    let now = |name: &str| docker_lines(&["inspect", "--format", "{{.Id}}", name]);
    assert_eq!(now(&db).concat(), db_id, "the real db was replaced");
    assert_eq!(
        now(&dev).concat(),
        dev_id,
        "the real environment was replaced"
    );
    assert!(
        theirs.iter().all(|id| running(id)),
        "up touched the user's containers"
    );
    // `logs` shows the project's containers only.
    let logs = t.run(&["logs"]);
    assert!(logs.status.success(), "{}", stderr(&logs));
    let all = format!("{}{}", crate::common::stdout(&logs), stderr(&logs));
    assert!(all.contains("db-started"), "{all}");
    assert!(
        !all.contains("theirs-"),
        "logs showed the user's containers:\n{all}"
    );
    // `status` shows the project's containers.
    let status: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["container"]["id"], dev_id.as_str(), "{status}");
    assert_eq!(status["services"]["db"]["id"], db_id.as_str(), "{status}");
    // `down` removes the project's containers and leaves the user's running.
    t.ok(&["down"]);
    assert!(docker_lines(&["ps", "-aq", "--filter", &format!("name=^{dev}$")]).is_empty());
    assert!(
        theirs.iter().all(|id| running(id)),
        "down removed the user's containers"
    );
}

#[test]
fn a_foreign_container_under_a_services_name_is_left_alone() {
    let t = TestContext::new();
    t.manifest("[services.db]\ncommand = \"exec sleep 600\"\n");
    t.ok(&["up"]);
    let db = named(&t, "service");
    t.ok(&["down"]);
    // devenv's image under the service's name inherits `dev.devenv.managed=true`.
    let image = format!("devenv/{}:{}", t.name, hash(&t));
    let theirs = docker(&["create", "--name", &db, &image, "sleep", "600"])
        .trim()
        .to_owned();
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("devenv did not make it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(id_of(&db), theirs, "the foreign container was replaced");
}

/// Move the project directory away (to `<dir>.away`) and put a fresh copy of its manifest
/// and base (no `.devenv/`) at its path: another checkout at the same path.
fn swap_checkout(t: &TestContext) -> PathBuf {
    let away = t.root().with_extension("away");
    std::fs::rename(t.root(), &away).unwrap();
    std::fs::create_dir(t.root()).unwrap();
    for f in ["devenv.toml", "base.tar"] {
        std::fs::copy(away.join(f), t.root().join(f)).unwrap();
    }
    away
}

/// Put the first checkout back at its path.
fn restore_checkout(t: &TestContext, away: &Path) {
    std::fs::remove_dir_all(t.root()).unwrap();
    std::fs::rename(away, t.root()).unwrap();
}

fn run_with_home(t: &TestContext, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = t.cmd(args);
    cmd.env("HOME", home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn two_checkouts_at_one_path_are_two_environments_unless_they_share() {
    let t = TestContext::new();
    t.manifest("[container]\nvolumes = [\"data:/data\"]\n");
    t.ok(&["run", "--", "sh", "-c", "echo first > /data/who"]);
    let first = named(&t, "env");
    // Another machine's checkout at the same path, on the same engine.
    let away = swap_checkout(&t);
    let other_home = tempfile::tempdir().unwrap();
    let out = run_with_home(
        &t,
        other_home.path(),
        &[],
        &["run", "--", "cat", "/data/who"],
    );
    assert_ne!(
        crate::common::stdout(&out),
        "first\n",
        "the second checkout used the first one's environment"
    );
    let out = run_with_home(&t, other_home.path(), &[], &["down", "--volumes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        running(&first),
        "the second checkout's down removed the first's container"
    );
    // Sharing on purpose: the same checkout id.
    let id = std::fs::read_to_string(away.join(".devenv/checkout")).unwrap();
    let shared = [("DEVENV_CHECKOUT", id.trim())];
    let out = run_with_home(
        &t,
        other_home.path(),
        &shared,
        &["run", "--", "cat", "/data/who"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(crate::common::stdout(&out), "first\n");
    restore_checkout(&t, &away);
    assert_eq!(t.ok(&["run", "--", "cat", "/data/who"]), "first\n");
    // Its state directory lost, the checkout keeps its identity (and its database).
    std::fs::remove_dir_all(t.root().join(".devenv")).unwrap();
    assert_eq!(t.ok(&["run", "--", "cat", "/data/who"]), "first\n");
    assert_eq!(named(&t, "env"), first);
}

#[test]
fn an_environment_made_before_checkout_ids_is_adopted_with_its_volumes() {
    let t = TestContext::new();
    t.manifest("[container]\nvolumes = [\"data:/data\"]\n");
    t.ok(&["build"]);
    // What a devenv from before checkout ids named the project's objects: the first 8 hex
    // of the project identity (which the environment image carries).
    let image = format!("devenv/{}:{}", t.name, hash(&t));
    let identity = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.devenv.project-id\"}}",
        &image,
    ]);
    let legacy = format!("devenv-{}-{}", t.name, &identity.trim()[..8]);
    let root = t.root().canonicalize().unwrap();
    let manifest = root.join("devenv.toml");
    let volume = format!("{legacy}-data");
    docker(&[
        "volume",
        "create",
        "--label",
        "dev.devenv.managed=true",
        "--label",
        "dev.devenv.role=volume",
        "--label",
        &t.label(),
        "--label",
        &format!("dev.devenv.project-dir={}", root.display()),
        "--label",
        &format!("dev.devenv.manifest={}", manifest.display()),
        &volume,
    ]);
    docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{volume}:/data"),
        &image,
        "sh",
        "-c",
        "echo old > /data/who",
    ]);
    // That devenv left `.devenv/` without a checkout id.
    std::fs::remove_file(t.root().join(".devenv/checkout")).unwrap();
    std::fs::remove_dir_all(t.home.path().join(".local/state/devenv")).unwrap();
    assert_eq!(t.ok(&["run", "--", "cat", "/data/who"]), "old\n");
    assert_eq!(named(&t, "env"), legacy);
    t.ok(&["down", "--volumes"]);
    assert!(docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name=^{volume}$")
    ])
    .is_empty());
}

#[test]
fn two_machines_at_one_path_on_one_remote_engine_keep_their_own_workspaces() {
    let p = crate::remote::RemoteProject::new();
    let t = &p.t;
    t.manifest("[container]\nvolumes = [\"data:/data\"]\n");
    t.write("who.txt", "first\n");
    p.ok(&["run", "--", "sh", "-c", "echo first > /data/db"]);
    // The second machine: the same path and manifest, its own files and HOME.
    let away = swap_checkout(t);
    t.write("who.txt", "second\n");
    let other_home = tempfile::tempdir().unwrap();
    let second = |args: &[&str]| {
        let mut cmd = p.cmd(args);
        cmd.env("HOME", other_home.path());
        cmd.output().unwrap()
    };
    let out = second(&["run", "--", "cat", "who.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(crate::common::stdout(&out), "second\n");
    let out = second(&["down", "--volumes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The first machine's workspace and database are as it left them.
    restore_checkout(t, &away);
    assert_eq!(
        p.ok(&["run", "--", "sh", "-c", "cat who.txt /data/db"]),
        "first\nfirst\n"
    );
}

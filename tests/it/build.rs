//! Builds against the real engine: caching, hashing, locking, secrets, interruption.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{docker, docker_lines, signal, stderr, stdout, TestContext};

const THREE_STEPS: &str = r#"
[env]
GREETING = "hello"
[[step]]
name = "first"
run = "echo one > /one"
[[step]]
name = "second"
inputs = ["scripts/*.sh"]
run = "sh scripts/setup.sh > /two"
[[step]]
name = "third"
run = "echo three > /three"
"#;

fn three_step_project() -> TestContext {
    let t = TestContext::new();
    t.manifest(THREE_STEPS);
    t.write("scripts/setup.sh", "echo \"$GREETING from setup\"\n");
    t
}

fn layer_exists(hash: &str) -> bool {
    !docker_lines(&["images", "-q", &format!("devenv/layer:{hash}")]).is_empty()
}

#[test]
fn build_from_rootfs_then_everything_cached() {
    let t = three_step_project();
    let out = t.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 steps run, 0 cached"),
        "{}",
        stderr(&out)
    );
    let hash = t.ok(&["hash"]).trim().to_owned();
    assert_eq!(hash.len(), 64);
    assert!(hash
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert!(layer_exists(&hash));
    // The image is labelled and tagged readably.
    let labels = docker(&[
        "image",
        "inspect",
        &format!("devenv/{}:{hash}", t.name),
        "--format",
        "{{json .Config.Labels}}",
    ]);
    assert!(
        labels.contains(&format!("\"dev.devenv.hash\":\"{hash}\"")),
        "{labels}"
    );
    assert!(labels.contains("dev.devenv.version"), "{labels}");
    // The step saw [env] and its input.
    let out = t.run(&["build"]);
    assert!(
        stderr(&out).contains("0 steps run, 3 cached"),
        "{}",
        stderr(&out)
    );
    let lock = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    assert!(lock.contains("kind = \"rootfs\""), "{lock}");
}

#[test]
fn same_hash_from_two_checkout_paths_and_two_users() {
    let t = three_step_project();
    t.ok(&["lock"]);
    let h1 = t.ok(&["hash"]);
    // A copy elsewhere, with different mtimes and a different HOME.
    let other = tempfile::Builder::new()
        .prefix("devenv-copy-")
        .tempdir()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    for rel in ["devenv.toml", "devenv.lock", "base.tar", "scripts/setup.sh"] {
        let dst = other.path().join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(t.root().join(rel), dst).unwrap();
    }
    let mut cmd = t.cmd(&["hash"]);
    cmd.current_dir(other.path());
    let h2 = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
    assert_eq!(h1, h2);
    // Another host user (nobody), who cannot even write the state directory.
    if !crate::common::needs_root("same_hash_from_two_checkout_paths_and_two_users (second user)") {
        return;
    }
    make_world_readable(other.path());
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("devenv"))
        .arg("hash")
        .current_dir(other.path())
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(h1, stdout(&out));
}

fn make_world_readable(dir: &std::path::Path) {
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn editing_step_three_reuses_steps_one_and_two() {
    let t = three_step_project();
    t.ok(&["build"]);
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &manifest.replace("echo three > /three", "echo THREE > /three"),
    );
    let out = t.run(&["-v", "build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("step 1/3 first: cached"), "{err}");
    assert!(err.contains("step 2/3 second: cached"), "{err}");
    assert!(
        err.contains("step 3/3 third: running (rebuilt because `run` changed)"),
        "{err}"
    );
    assert!(err.contains("1 step run, 2 cached"), "{err}");
}

#[test]
fn editing_an_input_rebuilds_from_its_step_and_says_why() {
    let t = three_step_project();
    t.ok(&["build"]);
    t.write("scripts/setup.sh", "echo changed\n");
    let out = t.run(&["-v", "build"]);
    let err = stderr(&out);
    assert!(err.contains("step 1/3 first: cached"), "{err}");
    assert!(err.contains("input scripts/setup.sh changed"), "{err}");
    assert!(err.contains("2 steps run, 1 cached"), "{err}");
}

#[test]
fn runtime_only_settings_do_not_change_the_hash() {
    let t = three_step_project();
    t.ok(&["lock"]);
    let h1 = t.ok(&["hash"]);
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &format!(
            "{manifest}\n[container]\nenv = {{ A = \"1\" }}\n[hooks]\non_start = \"true\"\n\
             [shell]\nuser = \"root\"\n[[watch]]\npaths = [\"src/**\"]\nrun = \"true\"\n\
             [sync]\nfetch = [\"coverage/\"]\n"
        ),
    );
    assert_eq!(h1, t.ok(&["hash"]));
    // …while an image-affecting one does.
    t.write("devenv.toml", &manifest.replace("hello", "hi"));
    assert_ne!(h1, t.ok(&["hash"]));
}

#[test]
fn failing_step_names_step_command_status_and_output() {
    let t = TestContext::new();
    t.manifest("[[step]]\nname = \"breaks\"\nrun = \"echo about to fail; exit 3\"\n");
    let out = t.run(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("step `breaks` failed with exit status 3"),
        "{err}"
    );
    assert!(err.contains("command: echo about to fail; exit 3"), "{err}");
    assert!(err.contains("| about to fail"), "{err}");
    assert!(t.containers().is_empty(), "build container left behind");
}

#[test]
fn input_glob_matching_nothing_is_an_error_naming_it() {
    let t = TestContext::new();
    t.manifest("[[step]]\ninputs = [\"missing/*.txt\"]\nrun = \"true\"\n");
    let out = t.run(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`missing/*.txt`"), "{}", stderr(&out));
}

#[test]
fn secret_is_nowhere_in_the_saved_image() {
    let t = TestContext::new();
    let secret = "s3cr3t-value-7f1c9a";
    t.manifest(
        "[[step]]\nname = \"uses secret\"\nsecrets = [\"IT_TOKEN\"]\n\
         run = \"test \\\"$IT_TOKEN\\\" = s3cr3t-value-7f1c9a && echo used > /used\"\n",
    );
    let out = t.cmd(&["build"]).env("IT_TOKEN", secret).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(secret));
    let hash = t.ok(&["hash"]).trim().to_owned();
    let image = format!("devenv/layer:{hash}");
    let saved = std::process::Command::new("docker")
        .args(["save", &image])
        .output()
        .unwrap();
    assert!(saved.status.success());
    assert!(saved.stdout.len() > 100_000);
    let needle = secret.as_bytes();
    assert!(
        !saved.stdout.windows(needle.len()).any(|w| w == needle),
        "secret found in a layer or the config"
    );
    assert!(!docker(&["history", "--no-trunc", &image]).contains(secret));
    assert!(!docker(&["image", "inspect", &image]).contains(secret));
    // The secret's name is part of the hash, its value is not.
    let again = t.cmd(&["hash"]).env("IT_TOKEN", "other").output().unwrap();
    assert_eq!(stdout(&again).trim(), hash);
}

#[test]
fn missing_secret_is_a_clear_error() {
    let t = TestContext::new();
    t.manifest("[[step]]\nsecrets = [\"IT_ABSENT_SECRET\"]\nrun = \"true\"\n");
    let out = t
        .cmd(&["build"])
        .env_remove("IT_ABSENT_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("IT_ABSENT_SECRET"),
        "{}",
        stderr(&out)
    );
}

/// Start `devenv build` and return once the slow step (step 2) is running.
fn start_build_until_slow_step(t: &TestContext) -> std::process::Child {
    use std::io::BufRead;
    let mut child = t.cmd(&["build"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines
            .next()
            .expect("build ended before its slow step")
            .unwrap();
        if line.contains("step 2/2 slow: running") {
            break;
        }
        assert!(Instant::now() < deadline, "slow step never started");
    }
    // Keep draining stderr so the build never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    std::thread::sleep(Duration::from_millis(700));
    child
}

const SLOW_STEPS: &str =
    "[[step]]\nname = \"fast\"\nrun = \"echo 1 > /one\"\n[[step]]\nname = \"slow\"\nrun = \"sleep 3; echo 2 > /two\"\n";

#[test]
fn kill_9_mid_step_leaves_no_final_image_and_next_build_continues() {
    let t = TestContext::new();
    t.manifest(SLOW_STEPS);
    t.ok(&["lock"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    let mut child = start_build_until_slow_step(&t);
    assert!(
        !t.containers().is_empty(),
        "no build container while the step runs"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!layer_exists(&hash), "a final image exists after kill -9");
    let out = t.run(&["-v", "build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("step 1/2 fast: cached"), "{err}");
    assert!(err.contains("1 step run, 1 cached"), "{err}");
    assert!(layer_exists(&hash));
    assert!(
        docker_lines(&["ps", "-aq", "--filter", &format!("label={}", t.label())]).is_empty(),
        "leftover build container"
    );
}

#[test]
fn ctrl_c_mid_step_cleans_up_and_exits_130() {
    let t = TestContext::new();
    t.manifest(SLOW_STEPS);
    t.ok(&["lock"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    let mut child = start_build_until_slow_step(&t);
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!layer_exists(&hash));
    assert!(
        t.containers().is_empty(),
        "build container left after Ctrl-C"
    );
}

#[test]
fn two_concurrent_builds_both_succeed_and_build_each_step_once() {
    let t = TestContext::new();
    t.manifest(SLOW_STEPS);
    t.ok(&["lock"]);
    let a = t.cmd(&["build"]).stderr(Stdio::piped()).spawn().unwrap();
    let b = t.cmd(&["build"]).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let runs = |o: &std::process::Output| stderr(o).matches(": running").count();
    assert_eq!(runs(&a) + runs(&b), 2, "{}\n{}", stderr(&a), stderr(&b));
}

#[test]
fn local_image_base_is_locked_by_id() {
    let t = TestContext::new();
    t.manifest("");
    // Import the fixture rootfs as a plain local image carrying the test's label.
    let tag = format!("{}-base:1", t.name);
    t.import_base(&tag);
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{tag}\"\n[[step]]\nrun = \"echo hi > /hi\"\n",
            t.name
        ),
    );
    t.ok(&["build"]);
    let lock = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    assert!(lock.contains("kind = \"local\""), "{lock}");
    let id = docker(&["image", "inspect", &tag, "--format", "{{.Id}}"]);
    assert!(lock.contains(id.trim()), "{lock}");
}

#[test]
fn locked_fails_when_the_base_reference_changed() {
    let t = TestContext::new();
    t.manifest("");
    t.ok(&["lock"]);
    std::fs::copy(t.root().join("base.tar"), t.root().join("other.tar")).unwrap();
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &manifest.replace("base.tar", "other.tar"));
    let out = t.run(&["build", "--locked"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("out of date and --locked"),
        "{}",
        stderr(&out)
    );
    // Without --locked only that entry is re-resolved.
    t.ok(&["build"]);
    let lock = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    assert!(lock.contains("other.tar"), "{lock}");
}

#[test]
fn pinned_local_base_that_vanished_is_an_error_not_a_re_resolve() {
    let t = TestContext::new();
    t.manifest("");
    let tag = format!("{}-gone:1", t.name);
    t.import_base(&tag);
    t.write(
        "devenv.toml",
        &format!("name = \"{}\"\n[base]\nimage = \"{tag}\"\n", t.name),
    );
    t.ok(&["lock"]);
    let before = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    docker(&["rmi", &tag]);
    let out = t.run(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("pinned base"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(
        before,
        std::fs::read_to_string(t.root().join("devenv.lock")).unwrap()
    );
}

#[test]
fn hash_needs_no_engine_once_locked() {
    let t = three_step_project();
    t.ok(&["lock"]);
    let h1 = t.ok(&["hash"]);
    let out = t
        .cmd(&["hash"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), h1);
}

#[test]
fn prune_removes_unused_layers_and_keeps_the_current_image() {
    let t = three_step_project();
    t.ok(&["build"]);
    let old = t.ok(&["hash"]).trim().to_owned();
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &manifest.replace("echo three", "echo 3"));
    t.ok(&["build"]);
    let new = t.ok(&["hash"]).trim().to_owned();
    let out = t.run(&["prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("removed 1 image"), "{}", stderr(&out));
    assert!(!layer_exists(&old));
    assert!(layer_exists(&new));
    t.ok(&["build"]);
}

#[test]
fn step_env_reaches_its_step_only_and_never_the_image_config() {
    let t = TestContext::new();
    t.manifest(
        "[[step]]\nenv = { STEP_ONLY = \"it's here zq5x\" }\nrun = \"echo \\\"$STEP_ONLY\\\" > /seen\"\n\
         [[step]]\nsecrets = [\"IT_SECRET_2\"]\nenv = { WITH_SECRET = \"also kw7y\" }\n\
         run = \"echo \\\"$WITH_SECRET $STEP_ONLY\\\" > /seen2\"\n",
    );
    let out = t.cmd(&["build"]).env("IT_SECRET_2", "x").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let hash = t.ok(&["hash"]).trim().to_owned();
    let config = docker(&[
        "image",
        "inspect",
        &format!("devenv/layer:{hash}"),
        "--format",
        "{{json .Config.Env}}",
    ]);
    assert!(
        !config.contains("STEP_ONLY") && !config.contains("WITH_SECRET"),
        "{config}"
    );
    let seen = docker(&[
        "run",
        "--rm",
        "--label",
        &t.label(),
        &format!("devenv/layer:{hash}"),
        "cat",
        "/seen",
        "/seen2",
    ]);
    assert_eq!(seen, "it's here zq5x\nalso kw7y \n");
    // Nor in the history or the recorded container config of any layer of the chain.
    let history = docker(&["history", "--no-trunc", &format!("devenv/layer:{hash}")]);
    let mut records = vec![history];
    for id in docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]) {
        records.push(docker(&["image", "inspect", &id]));
    }
    // Markers with letters beyond hex, so no image id or digest in a record can hold them.
    for record in records {
        assert!(
            !record.contains("zq5x") && !record.contains("kw7y"),
            "a step env value is recorded in an image: {record}"
        );
    }
}

#[test]
fn a_step_user_never_becomes_the_image_user() {
    let t = TestContext::new();
    t.manifest(
        "[[step]]\nrun = \"echo 'builder:x:1500:1500::/tmp:/bin/sh' >> /etc/passwd\"\n\
         [[step]]\nuser = \"builder\"\nrun = \"id -u > /tmp/uid\"\n[[step]]\nrun = \"cat /tmp/uid > /uid\"\n",
    );
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    let image = format!("devenv/layer:{hash}");
    assert_eq!(
        docker(&["image", "inspect", &image, "--format", "{{.Config.User}}"]).trim(),
        ""
    );
    let uid = docker(&["run", "--rm", "--label", &t.label(), &image, "cat", "/uid"]);
    assert_eq!(uid, "1500\n");
}

#[test]
fn prune_keeps_layers_that_another_project_builds_on() {
    let a = TestContext::new();
    let b = TestContext::new();
    a.manifest("[[step]]\nrun = \"echo shared > /shared\"\n[[step]]\nrun = \"echo a > /a\"\n");
    b.manifest("[[step]]\nrun = \"echo shared > /shared\"\n[[step]]\nrun = \"echo b > /b\"\n");
    // The same base bytes, so both projects share the first layer (built by a).
    std::fs::copy(a.root().join("base.tar"), b.root().join("base.tar")).unwrap();
    a.ok(&["build"]);
    let out = b.run(&["build"]);
    assert!(
        stderr(&out).contains("1 step run, 1 cached"),
        "{}",
        stderr(&out)
    );
    // a moves on; its prune must not take b's first layer with it.
    let manifest = std::fs::read_to_string(a.root().join("devenv.toml")).unwrap();
    a.write(
        "devenv.toml",
        &manifest.replace("echo shared", "echo changed"),
    );
    a.ok(&["build"]);
    a.ok(&["prune"]);
    // b edits its last step: the shared first layer is still there to build on.
    let manifest = std::fs::read_to_string(b.root().join("devenv.toml")).unwrap();
    b.write("devenv.toml", &manifest.replace("echo b", "echo B"));
    let out = b.run(&["build"]);
    assert!(
        stderr(&out).contains("1 step run, 1 cached"),
        "{}",
        stderr(&out)
    );
}

/// Start `devenv build` with stderr piped; return once a line containing `needle` was
/// printed, with a receiver of the rest of its stderr.
fn start_build_until(
    t: &TestContext,
    needle: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = t.cmd(&["build"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let found = lines.by_ref().map_while(Result::ok).any(|line| {
        let hit = line.contains(needle);
        seen.push(line);
        hit
    });
    if !found {
        let _ = child.wait();
        panic!("build ended before {needle:?}:\n{}", seen.join("\n"));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let _ = tx.send(rest.join("\n"));
    });
    (child, rx)
}

#[test]
fn an_input_edited_during_the_build_never_lands_under_the_old_key() {
    let t = TestContext::new();
    t.manifest(
        "[[step]]\nname = \"slow\"\nrun = \"sleep 3\"\n\
         [[step]]\nname = \"copy\"\ninputs = [\"data.txt\"]\nrun = \"cp data.txt /data\"\n",
    );
    t.write("data.txt", "v1\n");
    t.ok(&["lock"]);
    let old = t.ok(&["hash"]).trim().to_owned();
    let (mut child, rest) = start_build_until(&t, "step 1/2 slow: running");
    // An editor saves while the build runs, after the plan hashed v1.
    std::thread::sleep(Duration::from_millis(300));
    t.write("data.txt", "v2, saved during the build\n");
    let status = child.wait().unwrap();
    let err = rest.recv().unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("input data.txt of step `copy` changed during the build"),
        "{err}"
    );
    assert!(
        !layer_exists(&old),
        "the key of v1 holds an image (with the bytes of v2)"
    );
    let new = t.ok(&["hash"]).trim().to_owned();
    assert_ne!(new, old);
    let data = docker(&[
        "run",
        "--rm",
        "--label",
        &t.label(),
        &format!("devenv/layer:{new}"),
        "cat",
        "/data",
    ]);
    assert_eq!(data, "v2, saved during the build\n");
}

/// Makes a file immutable (so the engine cannot remove the container holding it) until
/// dropped.
struct Immutable(Option<std::path::PathBuf>);

impl Drop for Immutable {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(path)
                .status();
        }
    }
}

#[test]
fn a_failed_cleanup_never_hides_why_the_step_failed() {
    let t = TestContext::new();
    t.manifest(
        "[[step]]\nname = \"breaks\"\nrun = \"touch /pinned; sleep 2; echo giving up; exit 4\"\n",
    );
    t.ok(&["lock"]);
    let child = t.cmd(&["build"]).stderr(Stdio::piped()).spawn().unwrap();
    // Pin a file of the build container's writable layer, so removing it fails.
    let mut pinned = Immutable(None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while pinned.0.is_none() {
        assert!(Instant::now() < deadline, "the step never wrote /pinned");
        for id in t.containers() {
            // Containers come and go (the base config layer's): skip those already gone.
            let upper = std::process::Command::new("docker")
                .args(["inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", &id])
                .output()
                .unwrap();
            let upper = String::from_utf8_lossy(&upper.stdout);
            let file = std::path::Path::new(upper.trim()).join("pinned");
            if !upper.trim().is_empty() && file.exists() {
                let ok = std::process::Command::new("chattr")
                    .arg("+i")
                    .arg(&file)
                    .status()
                    .unwrap();
                assert!(ok.success(), "chattr +i {}", file.display());
                pinned.0 = Some(file);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    drop(pinned);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: step `breaks` failed with exit status 4"),
        "the step's failure is not the error: {err}"
    );
    assert!(err.contains("| giving up"), "{err}");
    assert!(err.contains("warning: cleaning up"), "{err}");
}

#[test]
fn ctrl_c_while_waiting_for_another_builds_lock_exits_at_once() {
    let t = TestContext::new();
    t.manifest(""); // no steps: the image hash is the key of the base config layer
    let runtime = tempfile::tempdir().unwrap();
    let with_runtime = |args: &[&str]| {
        let mut cmd = t.cmd(args);
        cmd.env("XDG_RUNTIME_DIR", runtime.path());
        cmd
    };
    assert!(with_runtime(&["lock"]).status().unwrap().success());
    let key = stdout(&with_runtime(&["hash"]).output().unwrap())
        .trim()
        .to_owned();
    // Another build holds the key's lock (as `devenv` takes it: flock on the key's file).
    let dir = runtime.path().join("devenv-locks");
    std::fs::create_dir_all(&dir).unwrap();
    let held = std::fs::File::create(dir.join(format!("{key}.lock"))).unwrap();
    held.lock().unwrap();
    let mut child = with_runtime(&["build"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "build did not wait");
    let status = interrupt_within(&mut child, Duration::from_secs(5));
    drop(held);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("Ctrl-C did not end the lock wait within 5 s");
    };
    assert_eq!(status.code(), Some(130));
    assert!(!layer_exists(&key));
    assert!(t.containers().is_empty());
}

#[test]
fn ctrl_c_while_waiting_for_the_project_lock_exits_at_once() {
    let t = TestContext::new();
    t.manifest("");
    let runtime = tempfile::tempdir().unwrap();
    let with_runtime = |args: &[&str]| {
        let mut cmd = t.cmd(args);
        cmd.env("XDG_RUNTIME_DIR", runtime.path());
        cmd
    };
    let up = with_runtime(&["up"]).output().unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    let container = t.containers().pop().expect("the environment container");
    let name = docker(&["inspect", "--format", "{{.Name}}", &container]);
    let name = name.trim().trim_start_matches('/');
    // Another `up`/`down` of the project holds its lock.
    let dir = runtime.path().join("devenv-locks");
    let held = std::fs::File::create(dir.join(format!("{name}.lock"))).unwrap();
    held.lock().unwrap();
    let mut child = with_runtime(&["down"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().unwrap().is_none(), "down did not wait");
    let status = interrupt_within(&mut child, Duration::from_secs(5));
    drop(held);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("Ctrl-C did not end the wait for the project lock within 5 s");
    };
    assert_eq!(status.code(), Some(130));
    assert_eq!(t.containers(), [container], "down went ahead after Ctrl-C");
}

/// Ctrl-C `child`; its exit status if it ended within `limit` (the caller kills it if not).
fn interrupt_within(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    signal(child, nix::sys::signal::Signal::SIGINT);
    let sent = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if sent.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

//! Package caches of steps (`caches`) against the real engine: they survive a rebuild of
//! their step, stay out of the layer, its history and its key, give the same files as a
//! build without them, serialise concurrent builds when locked, and only `prune --caches`
//! removes them.

use std::process::Command;

use crate::common::{docker, docker_lines, stderr, stdout, TestContext};

/// A "package manager": installs each package from the cache, downloading (here: writing)
/// into the cache what is missing there, and logs hits and downloads in the cache.
const STEP: &str = r#"
[[step]]
name = "deps"
inputs = ["requirements.txt"]
caches = CACHES
run = """
mkdir -p /var/cache/pkg /opt/site
for p in $(cat requirements.txt); do
  if [ -f /var/cache/pkg/$p ]; then echo "hit $p" >> /var/cache/pkg/log
  else echo "download $p" >> /var/cache/pkg/log; echo "package $p" > /var/cache/pkg/$p; fi
  cp /var/cache/pkg/$p /opt/site/$p
done
"""
"#;

fn project(caches: &str) -> TestContext {
    let t = TestContext::new();
    t.manifest(&STEP.replace("CACHES", caches));
    t.write("requirements.txt", "alpha\nbeta\n");
    t
}

fn devenv(t: &TestContext, client: &str, args: &[&str]) -> std::process::Output {
    t.cmd(args).env("DEVENV_CLIENT", client).output().unwrap()
}

fn ok(t: &TestContext, client: &str, args: &[&str]) -> String {
    let out = devenv(t, client, args);
    assert!(
        out.status.success(),
        "devenv {args:?}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `docker run --rm IMAGE sh -c SCRIPT`, labelled for cleanup.
fn in_image(t: &TestContext, image: &str, script: &str) -> String {
    docker(&[
        "run",
        "--rm",
        "--label",
        &t.label(),
        "--network",
        "none",
        image,
        "sh",
        "-c",
        script,
    ])
    .trim_end()
    .to_owned()
}

fn image(t: &TestContext, client: &str) -> String {
    let hash = ok(t, client, &["hash"]).trim().to_owned();
    format!("devenv/{}:{hash}", t.name)
}

fn cache_volumes(client: &str) -> Vec<String> {
    docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=dev.devenv.cache-scope={client}"),
    ])
}

fn remove_volumes(client: &str) {
    for v in cache_volumes(client) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &v])
            .output();
    }
}

struct Volumes(String);
impl Drop for Volumes {
    fn drop(&mut self) {
        remove_volumes(&self.0);
    }
}

fn client(t: &TestContext, tag: &str) -> (String, Volumes) {
    let c = format!("{}-{tag}", t.name);
    (c.clone(), Volumes(c))
}

/// The cache's log, read through the volume.
fn cache_log(t: &TestContext, client: &str, image: &str) -> String {
    let vols = cache_volumes(client);
    assert_eq!(vols.len(), 1, "{vols:?}");
    docker(&[
        "run",
        "--rm",
        "--label",
        &t.label(),
        "-v",
        &format!("{}:/c", vols[0]),
        image,
        "cat",
        "/c/log",
    ])
}

#[test]
fn a_rebuilt_step_finds_its_cache_and_the_layer_holds_none_of_it() {
    let t = project(r#"["/var/cache/pkg"]"#);
    let (c, _v) = client(&t, "a");
    ok(&t, &c, &["build"]);
    let first = image(&t, &c);
    // The layer holds the (empty) mount point only; the cache holds the downloads.
    assert_eq!(in_image(&t, &first, "ls -A /var/cache/pkg"), "");
    assert_eq!(cache_log(&t, &c, &first), "download alpha\ndownload beta\n");

    // An input edit rebuilds the step: the previous run's downloads are there.
    t.write("requirements.txt", "alpha\nbeta\ngamma\n");
    ok(&t, &c, &["build"]);
    let second = image(&t, &c);
    assert_ne!(first, second);
    assert_eq!(
        cache_log(&t, &c, &second),
        "download alpha\ndownload beta\nhit alpha\nhit beta\ndownload gamma\n"
    );
    assert_eq!(in_image(&t, &second, "ls -A /var/cache/pkg"), "");
    assert_eq!(in_image(&t, &second, "ls /opt/site"), "alpha\nbeta\ngamma");
    // Neither the history nor the config nor the key mention the cache.
    let history = docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}} {{.Comment}}",
        &second,
    ]);
    assert!(!history.contains("/var/cache/pkg"), "{history}");
    let config = docker(&["image", "inspect", &second]);
    assert!(!config.contains("/var/cache/pkg"), "{config}");
    let hash_with = ok(&t, &c, &["hash"]);
    t.manifest(&STEP.replace("caches = CACHES\n", ""));
    assert_eq!(
        ok(&t, &c, &["hash"]),
        hash_with,
        "caches are not in the key"
    );
}

/// Every file of the image with type, mode, owner and md5, but for the cache's target
/// (which a build without the cache fills) and the fixture's per-test tag.
fn files_of(t: &TestContext, image: &str) -> Vec<String> {
    let script = r#"find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path '/var/cache/pkg/*' \) -prune -o -print |
while read -r p; do
  if [ -L "$p" ]; then echo "$p link $(readlink "$p")"
  elif [ -d "$p" ]; then echo "$p dir $(stat -c '%a %u:%g' "$p")"
  else echo "$p file $(stat -c '%a %u:%g %s' "$p") $(md5sum < "$p" | cut -d' ' -f1)"
  fi
done"#;
    let skip = [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/.dockerenv",
        "/etc/devenv-fixture",
        "/var/cache/pkg",
    ];
    let mut files: Vec<String> = in_image(t, image, script)
        .lines()
        .filter(|l| {
            let path = l.split(' ').next().unwrap_or_default();
            !skip.contains(&path) && !path.starts_with("/var/cache/pkg/")
        })
        .map(str::to_owned)
        .collect();
    files.sort();
    files
}

#[test]
fn a_build_with_caches_gives_the_same_files_as_one_without() {
    let with = project(r#"[{ target = "/var/cache/pkg", id = "pkgs", mode = "0700" }]"#);
    let (c, _v) = client(&with, "w");
    ok(&with, &c, &["build"]);
    // Warm the cache with an extra package, then build from it.
    with.write("requirements.txt", "alpha\nbeta\nzeta\n");
    ok(&with, &c, &["build"]);
    with.write("requirements.txt", "beta\nalpha\n");
    ok(&with, &c, &["build"]);
    let with_image = image(&with, &c);
    assert!(
        cache_log(&with, &c, &with_image).ends_with("hit beta\nhit alpha\n"),
        "the last build used the cache"
    );
    let without = TestContext::new();
    without.manifest(&STEP.replace("caches = CACHES\n", ""));
    without.write("requirements.txt", "beta\nalpha\n");
    let (c2, _v2) = client(&without, "wo");
    ok(&without, &c2, &["build"]);
    let without_image = image(&without, &c2);
    let files = files_of(&with, &with_image);
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("/opt/site/alpha file 644 0:0")),
        "{files:#?}"
    );
    assert_eq!(files, files_of(&without, &without_image));
    // Without a cache mount the downloads stay in that image, as in a plain Dockerfile.
    assert_eq!(
        in_image(&without, &without_image, "ls /var/cache/pkg"),
        "alpha\nbeta\nlog"
    );

    // The cache root has the mode the manifest gave it.
    let vol = &cache_volumes(&c)[0];
    let mode = docker(&[
        "run",
        "--rm",
        "--label",
        &with.label(),
        "-v",
        &format!("{vol}:/c"),
        &with_image,
        "stat",
        "-c",
        "%a",
        "/c",
    ]);
    assert_eq!(mode.trim(), "700");

    // The export writes the cache as a BuildKit cache mount, or (--no-caches) leaves it out
    // for the classic builder, whose image has the same files.
    let out = devenv(&with, &c, &["export", "dockerfile", "-o", "bk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dockerfile = std::fs::read_to_string(with.root().join("bk/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("RUN --mount=type=cache,target=/var/cache/pkg,id=pkgs,mode=0700 ["),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("# syntax=docker/dockerfile:1"),
        "{dockerfile}"
    );
    let out = devenv(
        &with,
        &c,
        &["export", "dockerfile", "--no-caches", "-o", "classic"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let classic_image = format!("devenv-it-export/{}:classic", with.name);
    let build = Command::new("docker")
        .args([
            "build",
            "-q",
            "--label",
            &with.label(),
            "-t",
            &classic_image,
        ])
        .arg(with.root().join("classic"))
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(build.status.success(), "docker build: {}", stderr(&build));
    assert_eq!(files_of(&with, &classic_image), files);
}

#[test]
fn locked_caches_serialise_concurrent_builds() {
    // Two projects of one client name the same locked cache; their steps overlap in time
    // unless the lock holds one back.
    let step = r#"
[[step]]
name = "slow"
caches = [{ target = "/c", id = "shared-log", sharing = "locked" }]
run = "echo start >> /c/log; sleep 2; echo end >> /c/log"
"#;
    let a = TestContext::new();
    a.manifest(step);
    let b = TestContext::new();
    b.manifest(step);
    let (c, _v) = client(&a, "lock");
    let spawn = |t: &TestContext| {
        t.cmd(&["build"])
            .env("DEVENV_CLIENT", &c)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for p in [pa, pb] {
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let vols = cache_volumes(&c);
    assert_eq!(vols.len(), 1, "one cache for both: {vols:?}");
    let log = docker(&[
        "run",
        "--rm",
        "--label",
        &a.label(),
        "-v",
        &format!("{}:/c", vols[0]),
        &image(&a, &c),
        "cat",
        "/c/log",
    ]);
    assert_eq!(log, "start\nend\nstart\nend\n", "the builds overlapped");
}

#[test]
fn private_caches_give_concurrent_builds_a_volume_each() {
    let step = r#"
[[step]]
name = "slow"
caches = [{ target = "/c", id = "own", sharing = "private" }]
run = "ls /c > /seen; echo mine > /c/mark; sleep 5"
"#;
    let a = TestContext::new();
    a.manifest(step);
    let b = TestContext::new();
    b.manifest(step);
    let (c, _v) = client(&a, "private");
    let spawn = |t: &TestContext| {
        t.cmd(&["build"])
            .env("DEVENV_CLIENT", &c)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for p in [pa, pb] {
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let vols = cache_volumes(&c);
    assert_eq!(vols.len(), 2, "a volume each: {vols:?}");
    // Neither build saw the other's file.
    assert_eq!(in_image(&a, &image(&a, &c), "cat /seen"), "");
    assert_eq!(in_image(&b, &image(&b, &c), "cat /seen"), "");
}

#[test]
fn prune_keeps_caches_and_prune_caches_removes_them() {
    let t = project(r#"["/var/cache/pkg"]"#);
    let (c, _v) = client(&t, "p");
    ok(&t, &c, &["build"]);
    assert_eq!(cache_volumes(&c).len(), 1);
    let status = ok(&t, &c, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["caches"][0]["target"], "/var/cache/pkg", "{status}");
    assert_eq!(v["caches"][0]["present"], true, "{status}");
    assert!(
        v["caches"][0]["bytes"].as_u64().is_some_and(|b| b > 0),
        "{status}"
    );
    let out = devenv(&t, &c, &["prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(cache_volumes(&c).len(), 1, "prune keeps caches");
    // Another client's cache is not this client's to prune.
    let other = format!("{c}-other");
    let _o = Volumes(other.clone());
    t.write("requirements.txt", "alpha\n");
    ok(&t, &other, &["build"]);
    let out = devenv(&t, &c, &["prune", "--caches"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removed 1 cache, freed"),
        "{}",
        stderr(&out)
    );
    assert!(cache_volumes(&c).is_empty());
    assert_eq!(cache_volumes(&other).len(), 1);
}

//! Platforms (issue #25): one hash per platform, the lock's per-platform pins, the registry
//! cache per platform, and arm64 environments on this amd64 engine through qemu.
//!
//! The arm64 base is Debian's `busybox-static:arm64` (`.ci/install-deps` adds the arm64
//! architecture; the package is downloaded once into /tmp/devenv-it-cache). Docker 20.10's
//! `docker import --platform` records amd64 whatever it is told, so the arm64 image is made by
//! `docker load` of an image archive whose config says arm64.
//!
//! binfmt handlers are global to the machine: every test here that runs arm64 code holds
//! [`Qemu`], which serialises them and unregisters (and unmounts) only what it registered
//! (mounted) itself.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

use sha2::{Digest, Sha256};

use crate::cache::Registry;
use crate::common::{docker, docker_lines, stderr, stdout, TestContext};

const BINFMT: &str = "/proc/sys/fs/binfmt_misc";
const HANDLER: &str = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
const CONF: &str = "/usr/lib/binfmt.d/qemu-aarch64.conf";
const CACHE: &str = "/tmp/devenv-it-cache";

/// arm64 binaries run on this machine while it lives (qemu-user-static through binfmt_misc).
struct Qemu {
    mounted: bool,
    registered: bool,
    _serial: MutexGuard<'static, ()>,
}

impl Qemu {
    fn enable() -> Qemu {
        static SERIAL: Mutex<()> = Mutex::new(());
        let serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert!(
            Path::new(CONF).exists(),
            "qemu-user-static must be installed for the platform tests (.ci/install-deps)"
        );
        let mut q = Qemu {
            mounted: false,
            registered: false,
            _serial: serial,
        };
        if !Path::new(BINFMT).join("register").exists() {
            let out = Command::new("mount")
                .args(["-t", "binfmt_misc", "binfmt_misc", BINFMT])
                .output()
                .unwrap();
            assert!(out.status.success(), "mount binfmt_misc: {}", stderr(&out));
            q.mounted = true;
        }
        if !Path::new(HANDLER).exists() {
            let line = std::fs::read_to_string(CONF).unwrap();
            std::fs::write(Path::new(BINFMT).join("register"), line.trim()).unwrap();
            q.registered = true;
        }
        q
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if self.registered {
            let _ = std::fs::write(HANDLER, "-1");
        }
        if self.mounted {
            let _ = Command::new("umount").arg(BINFMT).output();
        }
    }
}

/// Debian's static busybox for arm64, downloaded once.
fn arm64_busybox() -> &'static [u8] {
    static BIN: OnceLock<Vec<u8>> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(CACHE).join("busybox-arm64");
        let bin = dir.join("bin/busybox");
        if !bin.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            let out = Command::new("apt-get")
                .args(["download", "busybox-static:arm64"])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "apt-get download busybox-static:arm64 (needs `dpkg --add-architecture arm64` \
                 and `apt-get update`, see .ci/install-deps): {}",
                stderr(&out)
            );
            let deb = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "deb"))
                .unwrap();
            let out = Command::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(&dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        }
        std::fs::read(bin).unwrap()
    })
}

/// A root filesystem of `busybox` (with every applet the host's busybox knows, of the same
/// Debian version), unique to `tag`.
fn rootfs(busybox: &[u8], tag: &str) -> Vec<u8> {
    let list = Command::new("busybox").arg("--list").output().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h
    };
    for (d, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("root", 0o700),
    ] {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        tar.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    let mut h = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
    tar.append_data(&mut h, "bin/busybox", busybox).unwrap();
    for a in String::from_utf8_lossy(&list.stdout).lines() {
        if a != "busybox" && !a.is_empty() {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, format!("bin/{a}"), "busybox")
                .unwrap();
        }
    }
    for (p, content) in [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n".to_owned()),
        ("etc/group", "root:x:0:\n".to_owned()),
        ("etc/devenv-fixture", format!("{tag}\n")),
    ] {
        let mut h = header(tar::EntryType::Regular, 0o644, content.len() as u64);
        tar.append_data(&mut h, p, content.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

fn host_busybox() -> Vec<u8> {
    std::fs::read("/bin/busybox").unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `docker load` an image of `arch` with the root filesystem `layer` as `reference`, labelled
/// for the test's cleanup (an image archive whose config says the architecture: the engine
/// keeps what the config says).
fn load_image(t: &TestContext, layer: &[u8], arch: &str, reference: &str) {
    let (key, value) = t
        .label()
        .split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .unwrap();
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": { key: value },
        },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{}", sha256(layer))] },
        "history": [{ "created_by": "devenv platform test" }],
    })
    .to_string();
    let config_name = format!("{}.json", sha256(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [reference],
        "Layers": ["layer/layer.tar"],
    }])
    .to_string();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        (config_name.as_str(), config.as_bytes()),
        ("manifest.json", manifest.as_bytes()),
        ("layer/layer.tar", layer),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(bytes.len() as u64);
        tar.append_data(&mut h, name, bytes).unwrap();
    }
    let archive = tar.into_inner().unwrap();
    let mut child = Command::new("docker")
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&archive).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "docker load: {}", stderr(&out));
    let recorded = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Architecture}}",
        reference,
    ]);
    assert_eq!(recorded.trim(), arch);
}

/// `<registry>/<test>:1` as a two-platform index (amd64 and arm64 busybox images); returns
/// the reference.
fn two_platform_base(t: &TestContext, registry: &Registry) -> String {
    two_platform_version(t, registry, "1")
}

/// Version `tag` of the two-platform base (each version other content).
fn two_platform_version(t: &TestContext, registry: &Registry, tag: &str) -> String {
    let repo = format!("{}/{}", registry.addr, t.name);
    let amd64 = format!("{repo}:amd64-{tag}");
    let arm64 = format!("{repo}:arm64-{tag}");
    let content = format!("{}-{tag}", t.name);
    load_image(t, &rootfs(&host_busybox(), &content), "amd64", &amd64);
    load_image(t, &rootfs(arm64_busybox(), &content), "arm64", &arm64);
    docker(&["push", &amd64]);
    docker(&["push", &arm64]);
    let index = format!("{repo}:{tag}");
    // `docker manifest` keeps its lists under $HOME/.docker: the test's HOME, not the machine's.
    let manifest = |args: &[&str]| {
        let out = Command::new("docker")
            .arg("manifest")
            .args(args)
            .env("HOME", t.home.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker manifest {args:?}: {}",
            stderr(&out)
        );
    };
    manifest(&["create", "--insecure", &index, &amd64, &arm64]);
    manifest(&[
        "annotate", &index, &arm64, "--os", "linux", "--arch", "arm64",
    ]);
    manifest(&["push", "--insecure", "--purge", &index]);
    // As on a machine that never pulled anything of it.
    for r in [&amd64, &arm64] {
        docker(&["rmi", r]);
    }
    index
}

fn lock_text(t: &TestContext) -> String {
    std::fs::read_to_string(t.root().join("devenv.lock")).unwrap_or_default()
}

/// The `[base.platforms]` of the lock: platform → digest.
fn locked_platforms(t: &TestContext) -> Vec<(String, String)> {
    let text = lock_text(t);
    let table = text.split("[base.platforms]").nth(1).unwrap_or_default();
    table
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| {
            let (k, v) = l.split_once(" = ")?;
            Some((
                k.trim_matches('"').to_owned(),
                v.trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

fn hash(t: &TestContext, platform: &str) -> String {
    t.ok(&["--platform", platform, "hash"]).trim().to_owned()
}

#[test]
fn one_index_gives_one_hash_per_platform_and_the_lock_pins_each() {
    let registry = Registry::start();
    let t = TestContext::new();
    let base = two_platform_base(&t, &registry);
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{base}\"\n[[step]]\nrun = \"uname -m > /arch\"\n",
            t.name
        ),
    );
    let amd64 = hash(&t, "linux/amd64");
    let pins = locked_platforms(&t);
    assert_eq!(pins.len(), 1, "{}", lock_text(&t));
    assert_eq!(pins[0].0, "linux/amd64");
    // The engine is amd64: without --platform, the same.
    assert_eq!(t.ok(&["hash"]).trim(), amd64);

    // The lock lacks arm64: --locked says so, naming it, and changes nothing.
    let out = t.run(&["--platform", "linux/arm64", "hash", "--locked"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("pins base") && err.contains("for linux/amd64, not for linux/arm64"),
        "{err}"
    );
    assert!(err.contains("devenv lock --platform linux/arm64"), "{err}");
    assert_eq!(locked_platforms(&t).len(), 1);

    // Adding it keeps the index digest, pins arm64's own manifest, and hashes apart.
    let before = lock_text(&t);
    t.ok(&["--platform", "linux/arm64", "lock"]);
    let pins = locked_platforms(&t);
    let names: Vec<&str> = pins.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"], "{}", lock_text(&t));
    assert_ne!(pins[0].1, pins[1].1);
    let digest_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("digest"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(digest_line(&before), digest_line(&lock_text(&t)));
    assert!(!pins
        .iter()
        .any(|(_, d)| digest_line(&before).contains(d.as_str())));
    let arm64 = t
        .ok(&["--platform", "linux/arm64", "hash", "--locked"])
        .trim()
        .to_owned();
    assert_ne!(amd64, arm64);
    assert_eq!(
        hash(&t, "linux/amd64"),
        amd64,
        "adding a platform moved amd64's hash"
    );
    // The lock pins two platforms: offline, the hash of the one asked for.
    let offline = t
        .cmd(&["--platform", "linux/arm64", "hash"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(stdout(&offline).trim(), arm64, "{}", stderr(&offline));
    // Offline without a platform, and two pinned: which one is meant is asked, not guessed.
    let offline = t
        .cmd(&["hash"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("DOCKER_DEFAULT_PLATFORM")
        .output()
        .unwrap();
    let err = stderr(&offline);
    assert_eq!(offline.status.code(), Some(1), "{err}");
    assert!(
        err.contains("for linux/amd64, linux/arm64: which platform is meant?"),
        "{err}"
    );
    assert!(err.contains("pass --platform"), "{err}");
}

#[test]
fn lock_update_moves_every_pinned_platform() {
    let registry = Registry::start();
    let t = TestContext::new();
    let base = two_platform_base(&t, &registry);
    t.write(
        "devenv.toml",
        &format!("name = \"{}\"\n[base]\nimage = \"{base}\"\n", t.name),
    );
    t.ok(&["--platform", "linux/amd64", "lock"]);
    t.ok(&["--platform", "linux/arm64", "lock"]);
    let before = locked_platforms(&t);
    let arm64 = hash(&t, "linux/arm64");
    // The registry's `:1` moves to other content (re-pushed under the same name).
    let v2 = two_platform_version(&t, &registry, "2");
    let repo = base.rsplit_once(':').unwrap().0;
    let out = Command::new("docker")
        .args(["manifest", "create", "--insecure", &base])
        .args([format!("{repo}:amd64-2"), format!("{repo}:arm64-2")])
        .env("HOME", t.home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new("docker")
        .args(["manifest", "push", "--insecure", "--purge", &base])
        .env("HOME", t.home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(v2, base);
    // Without --update nothing moves; with it, both platforms move (amd64 being the engine's).
    assert_eq!(hash(&t, "linux/arm64"), arm64);
    t.ok(&["lock", "--update"]);
    let after = locked_platforms(&t);
    let names: Vec<&str> = after.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"], "{}", lock_text(&t));
    assert_ne!(before[0].1, after[0].1);
    assert_ne!(before[1].1, after[1].1);
    assert_ne!(hash(&t, "linux/arm64"), arm64);
}

#[test]
fn a_service_image_is_pinned_per_platform_too() {
    let registry = Registry::start();
    let t = TestContext::new();
    let image = two_platform_base(&t, &registry);
    t.manifest(&format!(
        "platform = \"linux/amd64\"\n[services.svc]\nimage = \"{image}\"\ncommand = \"sleep 1000\"\n"
    ));
    t.ok(&["lock"]);
    let service_pins = |t: &TestContext| -> Vec<(String, String)> {
        let text = lock_text(t);
        let table = text
            .split("[services.svc.platforms]")
            .nth(1)
            .unwrap_or_default();
        table
            .lines()
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| {
                let (k, v) = l.split_once(" = ")?;
                Some((
                    k.trim_matches('"').to_owned(),
                    v.trim_matches('"').to_owned(),
                ))
            })
            .collect()
    };
    let pins = service_pins(&t);
    assert_eq!(pins.len(), 1, "{}", lock_text(&t));
    assert_eq!(pins[0].0, "linux/amd64");
    // The environment for arm64 (a rootfs declared amd64 cannot be: use the manifest's
    // `[base] platform`) pins the service's arm64 image next to it.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("linux/amd64", "linux/arm64"));
    t.ok(&["lock"]);
    let pins = service_pins(&t);
    let names: Vec<&str> = pins.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"], "{}", lock_text(&t));
    assert_ne!(pins[0].1, pins[1].1);
    // The registry's answer is the arm64 manifest of the index the service is pinned to.
    let digest_of = |platform: &str| {
        let out = Command::new("docker")
            .args(["manifest", "inspect", "--insecure", &image])
            .env("HOME", t.home.path())
            .output()
            .unwrap();
        let index: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == platform)
            .map(|m| m["digest"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(pins[0].1, digest_of("amd64"));
    assert_eq!(pins[1].1, digest_of("arm64"));
}

#[test]
fn a_lock_written_before_platforms_is_refused_by_locked_and_upgraded_otherwise() {
    let t = TestContext::new();
    t.manifest("");
    t.ok(&["lock"]);
    let v2 = lock_text(&t);
    let v1 = v2
        .replace("version = 2", "version = 1")
        .split("[base.platforms]")
        .next()
        .unwrap()
        .trim_end()
        .to_owned()
        + "\n";
    std::fs::write(t.root().join("devenv.lock"), &v1).unwrap();
    let out = t.run(&["hash", "--locked"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("for no platform (a lock written before devenv recorded platforms), not for linux/amd64"),
        "{err}"
    );
    assert_eq!(lock_text(&t), v1);
    t.ok(&["hash"]);
    assert_eq!(lock_text(&t), v2);
}

#[test]
fn docker_default_platform_runs_the_other_architecture_under_emulation() {
    let _qemu = Qemu::enable();
    let registry = Registry::start();
    let t = TestContext::new();
    let base = two_platform_base(&t, &registry);
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{base}\"\n[[step]]\nrun = \"uname -m > /arch\"\n",
            t.name
        ),
    );
    // The reproduction: this printed x86_64.
    let out = t
        .cmd(&["run", "--", "uname", "-m"])
        .env("DOCKER_DEFAULT_PLATFORM", "linux/arm64")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(stdout(&out), "aarch64\n", "{err}");
    assert!(
        err.contains(&format!(
            "base `{base}` is linux/arm64, the engine runs linux/amd64"
        )),
        "no emulation warning: {err}"
    );
    assert_eq!(
        t.ok(&["--platform", "linux/arm64", "run", "--", "cat", "/arch"]),
        "aarch64\n"
    );
    // And the engine's own platform, from the same lock, is another environment.
    assert_eq!(t.ok(&["run", "--", "cat", "/arch"]), "x86_64\n");
    let status: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["platform"], "linux/amd64", "{status}");
    let status: serde_json::Value =
        serde_json::from_str(&t.ok(&["--platform", "linux/arm64", "status", "--json"])).unwrap();
    assert_eq!(status["platform"], "linux/arm64", "{status}");
}

#[test]
fn a_rootfs_base_is_the_platform_it_declares() {
    let _qemu = Qemu::enable();
    let t = TestContext::new();
    std::fs::write(t.root().join("base.tar"), rootfs(arm64_busybox(), &t.name)).unwrap();
    let manifest = |platform: &str| {
        format!(
            "name = \"{}\"\n[base]\nrootfs = \"base.tar\"\nplatform = \"{platform}\"\n\
             [[step]]\nrun = \"uname -m > /arch\"\n",
            t.name
        )
    };
    t.write("devenv.toml", &manifest("linux/amd64"));
    let as_amd64 = t.ok(&["hash"]).trim().to_owned();
    t.write("devenv.toml", &manifest("linux/arm64"));
    let as_arm64 = t.ok(&["hash"]).trim().to_owned();
    assert_ne!(as_amd64, as_arm64);
    assert_eq!(locked_platforms(&t)[0].0, "linux/arm64");
    // --platform cannot make a tarball another platform's.
    let out = t.run(&["--platform", "linux/amd64", "build"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("the rootfs base base.tar is linux/arm64 (`[base] platform`), and linux/amd64 was asked for"),
        "{err}"
    );
    let out = t.run(&["build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("is linux/arm64, the engine runs linux/amd64"),
        "{err}"
    );
    assert_eq!(t.ok(&["run", "--", "cat", "/arch"]), "aarch64\n");
    let label = docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.devenv.platform\"}}",
        &format!("devenv/layer:{as_arm64}"),
    ]);
    assert_eq!(label.trim(), "linux/arm64");
    // The image configs say so too (the rootfs is loaded, not `docker import`ed, which would
    // record the engine's architecture).
    let arch = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}",
        &format!("devenv/layer:{as_arm64}"),
    ]);
    assert_eq!(arch.trim(), "linux/arm64");
}

#[test]
fn the_registry_cache_serves_each_platform_its_own() {
    let _qemu = Qemu::enable();
    let registry = Registry::start();
    let t = TestContext::new();
    let base = two_platform_base(&t, &registry);
    let cache = format!("{}/devenv-cache-{}", registry.addr, t.name);
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{base}\"\n[[step]]\nrun = \"uname -m > /arch\"\n\
             [cache]\nregistry = \"{cache}\"\n",
            t.name
        ),
    );
    for p in ["linux/amd64", "linux/arm64"] {
        t.ok(&["--platform", p, "build"]);
        t.ok(&["--platform", p, "push"]);
    }
    let amd64 = hash(&t, "linux/amd64");
    let arm64 = hash(&t, "linux/arm64");
    // A fresh machine: nothing of the project's local.
    for h in [&amd64, &arm64] {
        let _ = Command::new("docker")
            .args(["rmi", &format!("devenv/layer:{h}")])
            .output();
    }
    remove_project_images(&t);
    for (p, arch) in [("linux/arm64", "aarch64"), ("linux/amd64", "x86_64")] {
        let out = t.run(&["--platform", p, "up"]);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("from the registry cache"), "{p}: {err}");
        assert!(!err.contains(": running"), "{p}: a step ran: {err}");
        assert_eq!(
            t.ok(&["--platform", p, "run", "--", "cat", "/arch"]),
            format!("{arch}\n")
        );
    }
    // A registry written by a wrong machine: amd64's image under arm64's hash is refused.
    t.ok(&["down"]);
    docker(&[
        "tag",
        &format!("devenv/layer:{amd64}"),
        &format!("{cache}:{arm64}"),
    ]);
    docker(&["push", &format!("{cache}:{arm64}")]);
    docker(&["rmi", &format!("{cache}:{arm64}")]);
    remove_project_images(&t);
    let out = t.run(&["--platform", "linux/arm64", "build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("holds a linux/amd64 image, not a linux/arm64 one"),
        "{err}"
    );
    assert_eq!(
        t.ok(&["--platform", "linux/arm64", "run", "--", "cat", "/arch"]),
        "aarch64\n"
    );
}

/// Remove the project's layers and names (not the base), as on another machine.
fn remove_project_images(t: &TestContext) {
    let filter = format!("label=dev.devenv.project={}", t.name);
    for _ in 0..3 {
        for row in docker_lines(&[
            "images",
            "--filter",
            &filter,
            "--filter",
            "label=dev.devenv.role=layer",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ]) {
            if !row.ends_with(":<none>") {
                let _ = Command::new("docker").args(["rmi", &row]).output();
            }
        }
    }
}

#[test]
fn verify_diff_pack_and_load_name_the_platform_first() {
    let _qemu = Qemu::enable();
    let registry = Registry::start();
    let t = TestContext::new();
    let base = two_platform_base(&t, &registry);
    let cache = format!("{}/devenv-cache-{}", registry.addr, t.name);
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{base}\"\n[[step]]\nrun = \"uname -m > /arch\"\n\
             [cache]\nregistry = \"{cache}\"\n",
            t.name
        ),
    );
    t.ok(&["build"]);
    t.ok(&["--platform", "linux/arm64", "build"]);
    let arm64 = hash(&t, "linux/arm64");

    let text = t.ok(&["diff", ".", &format!("devenv/{}:{arm64}", t.name)]);
    let platform_line = text
        .find("platform: linux/amd64 vs linux/arm64")
        .unwrap_or_else(|| panic!("no platform line: {text}"));
    assert!(platform_line < text.find("inputs:").unwrap(), "{text}");
    assert!(
        text.contains("platform linux/amd64 → linux/arm64"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&t.ok(&[
        "diff",
        "--json",
        ".",
        &format!("devenv/{}:{arm64}", t.name),
    ]))
    .unwrap();
    assert_eq!(json["platform"], "linux/amd64 vs linux/arm64", "{json}");
    assert_eq!(json["b"]["platform"], "linux/arm64", "{json}");

    // A pack of the arm64 environment says so, and is not this (amd64) one.
    let pack = t.root().join("arm64.devenv.tar");
    t.ok(&[
        "--platform",
        "linux/arm64",
        "pack",
        "-o",
        pack.to_str().unwrap(),
    ]);
    let out = t.run(&["verify", "--against", pack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "it is a linux/arm64 environment, this one is linux/amd64 (linux/arm64 vs linux/amd64)"
        ),
        "{}",
        stdout(&out)
    );
    t.ok(&[
        "--platform",
        "linux/arm64",
        "verify",
        "--against",
        pack.to_str().unwrap(),
    ]);
    let out = t.run(&["load", pack.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("the pack holds a linux/arm64 environment, this engine runs linux/amd64"),
        "{err}"
    );
    assert!(
        err.contains("the pack is this project's environment for linux/arm64, not for linux/amd64"),
        "{err}"
    );

    // A registry copy of the other platform, named as such.
    t.ok(&["--platform", "linux/arm64", "push"]);
    let out = t.run(&["verify", "--against", &format!("{cache}:{arm64}")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("(linux/arm64 vs linux/amd64)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn exports_and_doctor_name_the_platform() {
    let t = TestContext::new();
    t.manifest("platform = \"linux/arm64\"\n");
    let doctor = t.ok(&["doctor"]);
    assert!(
        doctor.contains("platform:        linux/amd64\n"),
        "{doctor}"
    );
    assert!(
        doctor.contains("env platform:    linux/arm64 (not the engine's: runs under emulation"),
        "{doctor}"
    );
    t.ok(&["export", "dockerfile"]);
    let dockerfile = std::fs::read_to_string(t.root().join(".devenv/export/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("FROM --platform=linux/arm64 scratch\n"),
        "{dockerfile}"
    );
    let out = t.run(&["export", "compose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let compose = t.root().join("docker-compose.yml");
    let text = std::fs::read_to_string(&compose).unwrap();
    assert!(text.contains("  dev:\n"), "{text}");
    assert!(text.contains("    platform: \"linux/arm64\"\n"), "{text}");
    // Compose itself accepts it.
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(&compose)
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("platform: linux/arm64"),
        "{}",
        stdout(&out)
    );
}

//! Root inside the container stays root's: the helpers devenv runs as root (user setup at
//! every start, the signal relay) never start a program found through a PATH the user can
//! write. Busybox `sh` runs its applets without a PATH lookup, so this needs a Debian base
//! (made with debootstrap once per machine and cached).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{docker, signal, stderr, stdout, TestContext};

/// Where the Debian root filesystem is cached for every test run on this machine.
const CACHE_DIR: &str = "/tmp/devenv-it-cache";
const ROOTFS: &str = "debian-bookworm-minbase.tar.gz";

/// A Debian bookworm minbase root filesystem (gzip tarball), built with debootstrap the
/// first time (about a minute; needs root, the `debootstrap` package and the Debian mirror
/// of the machine's apt configuration) under a lock, so parallel tests and test runs build it
/// once.
pub fn debian_rootfs() -> PathBuf {
    let dir = Path::new(CACHE_DIR);
    let tarball = dir.join(ROOTFS);
    if tarball.exists() {
        return tarball;
    }
    std::fs::create_dir_all(dir).unwrap();
    let lock = std::fs::File::create(dir.join("debian.lock")).unwrap();
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();
    if tarball.exists() {
        return tarball;
    }
    let build = dir.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&build);
    let out = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&build)
        .arg(debian_mirror())
        .output()
        .expect(
            "debootstrap must be installed (apt-get install debootstrap, see .ci/install-deps)",
        );
    assert!(
        out.status.success(),
        "debootstrap failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && rm -rf var/cache/* var/lib/apt/lists/* usr/share/locale usr/share/doc usr/share/man usr/share/info")
        .arg("sh")
        .arg(&build)
        .status();
    let partial = dir.join(format!("{ROOTFS}.{}", std::process::id()));
    let status = Command::new("sh")
        .arg("-c")
        .arg("tar --numeric-owner -C \"$1\" -cf - . | gzip -1 > \"$2\"")
        .arg("sh")
        .arg(&build)
        .arg(&partial)
        .status()
        .unwrap();
    assert!(status.success(), "packing the Debian rootfs failed");
    std::fs::rename(&partial, &tarball).unwrap();
    let _ = std::fs::remove_dir_all(&build);
    tarball
}

/// The Debian archive this machine's apt uses (a team behind its own mirror runs the suite
/// unchanged): the first `URIs:` of a deb822 stanza in /etc/apt/sources.list.d/*.sources,
/// else the first `deb URI …` line of /etc/apt/sources.list (and its .list files), skipping
/// the security archive. Never a host written here.
pub fn debian_mirror() -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    let (sources, lists): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sources" || e == "list"))
        .partition(|p| p.extension().is_some_and(|e| e == "sources"));
    let text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let deb822 = sources.iter().flat_map(|p| {
        text(p)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("URIs:").map(str::to_owned))
            .flat_map(|u| u.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    });
    let one_line = std::iter::once(PathBuf::from("/etc/apt/sources.list"))
        .chain(lists)
        .flat_map(|p| {
            text(&p)
                .lines()
                .filter_map(|l| {
                    let mut words = l.split_whitespace().filter(|w| !w.starts_with('['));
                    (words.next()? == "deb").then(|| words.next().map(str::to_owned))?
                })
                .collect::<Vec<_>>()
        });
    deb822
        .chain(one_line)
        .find(|u| u.starts_with("http") && !u.trim_end_matches('/').ends_with("-security"))
        .expect("no Debian archive in the apt configuration (/etc/apt/sources.list.d/*.sources `URIs:` or /etc/apt/sources.list)")
}

/// Put the Debian rootfs into the project (a hard link where possible) and write a
/// manifest using it; `body` follows the `[base]` table.
fn debian_manifest(t: &TestContext, body: &str) {
    let src = debian_rootfs();
    let dst = t.root().join("debian.tar.gz");
    if std::fs::hard_link(&src, &dst).is_err() {
        std::fs::copy(&src, &dst).unwrap();
    }
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nrootfs = \"debian.tar.gz\"\n{body}",
            t.name
        ),
    );
}

/// Programs a root helper might call; each planted copy logs the uid it ran as, then does
/// the real thing.
const PLANTED: &[&str] = &["stat", "chown", "mkdir", "ls", "tr", "grep", "cat", "id"];

/// `devenv ARGS` as `uid`, spawned (for sending it signals).
fn spawn_as(t: &TestContext, uid: u32, args: &[&str]) -> std::process::Child {
    let sock_gid = std::fs::metadata("/var/run/docker.sock")
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap();
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
        .env("USER", "ituser")
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn programs_planted_in_a_user_writable_path_never_run_as_root() {
    let t = TestContext::new();
    // A world-writable directory first on PATH (as the old templates made CARGO_HOME and
    // the venv; /tmp is one in every image), and a named volume so that user setup has
    // work to do at every start.
    debian_manifest(
        &t,
        "[container]\nvolumes = [\"data:/opt/data\"]\n\
         env = { PATH = \"/tmp:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\" }\n",
    );
    let uid = 4331;
    t.give_to(uid);
    let out = t.as_user(uid, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The host user plants its programs.
    let plant = format!(
        "for p in {}; do real=$(command -v $p); \
           printf '#!/bin/sh\\necho \"%s $(/usr/bin/id -u)\" >> /tmp/ran.log\\nexec %s \"$@\"\\n' $p $real > /tmp/$p; \
           chmod 755 /tmp/$p; done; : > /tmp/ran.log; chmod 666 /tmp/ran.log",
        PLANTED.join(" ")
    );
    let out = t.as_user(uid, &["run", "--", "sh", "-c", &plant]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The plant works: the user's own commands find it.
    let out = t.as_user(
        uid,
        &[
            "run",
            "--",
            "sh",
            "-c",
            "stat / >/dev/null && /bin/cat /tmp/ran.log",
        ],
    );
    assert_eq!(stdout(&out), format!("stat {uid}\n"), "{}", stderr(&out));
    // A restart runs user setup again as root.
    let id = docker(&["ps", "-q", "--filter", &format!("label={}", t.label())]);
    docker(&["stop", "-t", "1", id.trim()]);
    let out = t.as_user(uid, &["run", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A signal relayed to a command runs the root signal relay.
    let child = spawn_as(&t, uid, &["run", "--", "sleep", "300"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !docker(&["top", id.trim()]).contains("sleep 300") {
        assert!(Instant::now() < deadline, "sleep did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    // The relay reached it (else `run` would still be waiting for `sleep`).
    assert!(
        !docker(&["top", id.trim()]).contains("sleep 300"),
        "{}",
        stderr(&out)
    );
    eprintln!("run ended with {:?}: {}", out.status.code(), stderr(&out));
    let log = docker(&["exec", id.trim(), "/bin/cat", "/tmp/ran.log"]);
    let as_root: Vec<&str> = log.lines().filter(|l| l.ends_with(" 0")).collect();
    assert!(
        as_root.is_empty(),
        "planted programs ran as root: {as_root:?}\nfull log:\n{log}"
    );
}

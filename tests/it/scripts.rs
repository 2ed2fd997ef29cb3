//! The project's own scripts: the rootfs maker behind the offline example, and the rule
//! that no script or test names a package mirror's host.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Mode of each directory and file in a tarball, by path.
fn modes(tar_path: &Path) -> BTreeMap<String, u32> {
    let mut archive = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            (path, e.header().mode().unwrap() & 0o7777)
        })
        .collect()
}

#[test]
fn make_rootfs_root_directory_is_open_to_every_user_whatever_the_umask() {
    let out_dir = tempfile::tempdir().unwrap();
    let tar = out_dir.path().join("rootfs.tar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-rootfs.sh");
    // A strict umask must not leak into the image either.
    let status = Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" \"$1\"")
        .arg(&script)
        .arg(&tar)
        .status()
        .unwrap();
    assert!(status.success());
    let modes = modes(&tar);
    assert_eq!(modes.get("./"), Some(&0o755), "{modes:?}");
    for (path, mode) in [
        ("./bin/", 0o755),
        ("./etc/", 0o755),
        ("./usr/bin/", 0o755),
        ("./home/", 0o755),
        ("./root/", 0o700),
        ("./tmp/", 0o1777),
        ("./bin/busybox", 0o755),
        ("./etc/passwd", 0o644),
    ] {
        assert_eq!(modes.get(path), Some(&mode), "{path}: {modes:?}");
    }
}

/// The host of the machine's Debian mirror, from its apt configuration.
fn mirror_host() -> String {
    let uri = crate::root_helpers::debian_mirror();
    let rest = uri.split_once("://").map_or(uri.as_str(), |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or_default().to_owned()
}

/// Every text file the project tracks (no `target/`, no `.git/`).
fn tracked_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() && !p.is_symlink() {
            if name != "target" && name != ".git" {
                tracked_files(&p, out);
            }
        } else if p.is_file() {
            out.push(p);
        }
    }
}

#[test]
fn no_file_names_the_package_mirror_host() {
    let host = mirror_host();
    assert!(
        host.contains('.'),
        "a host name from the apt configuration: {host:?}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    tracked_files(root, &mut files);
    let naming: Vec<String> = files
        .iter()
        .filter(|p| {
            std::fs::read(p).is_ok_and(|b| b.windows(host.len()).any(|w| w == host.as_bytes()))
        })
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(naming.is_empty(), "these files name {host}: {naming:?}");
}

#[test]
fn test_cleanup_removes_its_images_by_name_and_keeps_another_projects_tag() {
    let t = crate::common::TestContext::new();
    t.manifest("[[step]]\nrun = \"echo built > /built\"\n");
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    let ours = format!("devenv/{}:{hash}", t.name);
    // Another project's name on the same image id (as a shared layer gets it).
    let foreign = format!("devenv-it-foreign/keep-{}x:1", t.name);
    crate::common::docker(&["tag", &ours, &foreign]);
    // A name the test derived from its own (as the ownership tests' commits are named).
    let derived = format!("{}-commit:1", t.name);
    crate::common::docker(&["tag", &ours, &derived]);
    let exists = |r: &str| {
        Command::new("docker")
            .args(["image", "inspect", r])
            .output()
            .unwrap()
            .status
            .success()
    };
    let (label, name) = (format!("label={}", t.label()), t.name.clone());
    drop(t);
    let kept = exists(&foreign);
    let ours_left = exists(&ours);
    let derived_left = exists(&derived);
    // Now the image's last name goes, and with it what the test left untagged below it.
    let _ = Command::new("docker").args(["rmi", &foreign]).output();
    crate::common::remove_images(&label, &name);
    assert!(crate::common::docker_lines(&["images", "-aq", "--filter", &label]).is_empty());
    assert!(kept, "the cleanup stripped another project's tag {foreign}");
    assert!(!ours_left, "the test's own {ours} is left");
    assert!(!derived_left, "the test's own {derived} is left");
}

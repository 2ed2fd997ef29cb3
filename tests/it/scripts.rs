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

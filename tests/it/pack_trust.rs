//! Packs that lie: crafted from a real pack the way a hostile file would be (metadata
//! rewritten and its checksums recomputed, names added to the inner `docker save` manifest,
//! another pack's content under this one's metadata, no content at all). `load` refuses each
//! before the engine sees a byte and tags nothing but devenv's own names; `verify --against`
//! and `diff` believe no claim the content does not back.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::common::{docker, docker_lines, stderr, stdout, TestContext};
use crate::verify::TWO_STEPS;

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A pack taken apart: the metadata's JSON text and the `docker save` stream after it.
#[derive(Clone)]
struct Pack {
    json: String,
    images: Vec<u8>,
}

impl Pack {
    fn read(path: &Path) -> Pack {
        let bytes = std::fs::read(path).unwrap();
        let header = tar::Header::from_byte_slice(&bytes[..512]);
        let size = usize::try_from(header.size().unwrap()).unwrap();
        let json = String::from_utf8(bytes[512..512 + size].to_vec()).unwrap();
        let start = 512 + size.div_ceil(512) * 512;
        Pack {
            json: json.trim_end().to_owned(),
            images: bytes[start..].to_vec(),
        }
    }

    /// The value of top-level field `name` as written (a number or a quoted string).
    fn field(&self, name: &str) -> String {
        let key = format!("\"{name}\":");
        let at = self.json.find(&key).unwrap() + key.len();
        let rest = &self.json[at..];
        let end = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"').unwrap() + 2
        } else {
            rest.find([',', '}']).unwrap()
        };
        rest[..end].to_owned()
    }

    fn set(&mut self, name: &str, value: &str) {
        let old = format!("\"{name}\":{}", self.field(name));
        self.json = self.json.replacen(&old, &format!("\"{name}\":{value}"), 1);
    }

    /// Write it with every checksum recomputed, as anyone can.
    fn write(&mut self, path: &Path) {
        self.set("images_size", &self.images.len().to_string());
        self.set("images_sha256", &format!("\"{}\"", sha(&self.images)));
        if self.json.contains("\"meta_sha256\":") {
            self.set("meta_sha256", "\"\"");
            let signed = sha(self.json.as_bytes());
            self.set("meta_sha256", &format!("\"{signed}\""));
        }
        self.write_as_is(path);
    }

    fn write_as_is(&self, path: &Path) {
        let mut out = Vec::new();
        let mut h = tar::Header::new_ustar();
        h.set_path("devenv-pack.json").unwrap();
        h.set_size(self.json.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(self.json.as_bytes());
        out.resize(512 + self.json.len().div_ceil(512) * 512, 0);
        out.extend_from_slice(&self.images);
        std::fs::write(path, out).unwrap();
    }

    fn entries(&self) -> Vec<(tar::Header, Vec<u8>)> {
        let mut archive = tar::Archive::new(self.images.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (e.header().clone(), data)
            })
            .collect()
    }

    fn set_entries(&mut self, entries: &[(tar::Header, Vec<u8>)]) {
        let mut b = tar::Builder::new(Vec::new());
        for (h, data) in entries {
            let mut h = h.clone();
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data.as_slice()).unwrap();
        }
        self.images = b.into_inner().unwrap();
    }

    fn manifest(&self) -> serde_json::Value {
        let entries = self.entries();
        let (_, m) = entries
            .iter()
            .find(|(h, _)| h.path().unwrap().to_str() == Some("manifest.json"))
            .unwrap();
        serde_json::from_slice(m).unwrap()
    }

    fn set_manifest(&mut self, manifest: &serde_json::Value) {
        let mut entries = self.entries();
        for (h, data) in &mut entries {
            if h.path().unwrap().to_str() == Some("manifest.json") {
                *data = serde_json::to_vec(manifest).unwrap();
            }
        }
        self.set_entries(&entries);
    }

    /// The image ids the content really holds (its configs' digests).
    fn held_ids(&self) -> Vec<String> {
        self.manifest()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let config = i["Config"].as_str().unwrap();
                format!("sha256:{}", config.trim_end_matches(".json"))
            })
            .collect()
    }
}

fn project() -> (TestContext, String) {
    let t = TestContext::new();
    t.manifest(TWO_STEPS);
    t.write("app.txt", "version 1\n");
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    (t, hash)
}

fn pack(t: &TestContext, name: &str) -> PathBuf {
    let path = t.root().join(name);
    t.ok(&["pack", "-o", path.to_str().unwrap()]);
    path
}

fn remove_all_images(t: &TestContext) {
    for c in t.containers() {
        docker(&["rm", "-f", &c]);
    }
    for _ in 0..3 {
        for id in docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]) {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", &id])
                .output();
        }
    }
}

fn all_images() -> Vec<String> {
    let mut v = docker_lines(&["images", "-a", "-q", "--no-trunc"]);
    v.sort();
    v
}

fn exists(reference: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .unwrap()
        .status
        .success()
}

/// `load` refuses `file` and the engine holds nothing of it afterwards: none of the images
/// its content or metadata name, no name it asks for. (Other tests share the engine, so
/// images of theirs may come and go: only this pack's ids are compared.)
fn assert_refused_and_nothing_loaded(t: &TestContext, file: &Path, names: &[String]) -> String {
    let crafted = Pack::read(file);
    let ids = crafted.held_ids();
    for id in &ids {
        assert!(
            !exists(id),
            "{id} is already there: the test proves nothing"
        );
    }
    let before = all_images();
    let out = t.run(&["load", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("refused, nothing loaded"),
        "{}",
        stderr(&out)
    );
    for id in &ids {
        assert!(!exists(id), "a refused pack loaded {id}");
    }
    for name in names {
        assert!(!exists(name), "a refused pack tagged {name}");
    }
    let after = all_images();
    let new: Vec<&String> = after.iter().filter(|i| !before.contains(i)).collect();
    let ours: Vec<&&String> = new.iter().filter(|i| ids.contains(i)).collect();
    assert!(ours.is_empty(), "a refused pack loaded {ours:?}");
    assert_no_layer_left(&crafted);
    stderr(&out)
}

/// Layers cannot be listed, but the engine loads only the layers it does not have: loading the
/// content now must load every layer of its longest chain (the test's base is its own, so
/// none of them is shared with anything else). The images it makes carry the test's label
/// and go with the test.
fn assert_no_layer_left(crafted: &Pack) {
    let mut content = crafted.clone();
    let mut manifest = content.manifest();
    let Some(items) = manifest.as_array_mut().filter(|i| !i.is_empty()) else {
        return;
    };
    let chain = items
        .iter()
        .map(|i| i["Layers"].as_array().map_or(0, Vec::len))
        .max()
        .unwrap_or(0);
    for item in items.iter_mut() {
        item["RepoTags"] = serde_json::Value::Null;
    }
    content.set_manifest(&manifest);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &content.images).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--unix-socket", "/var/run/docker.sock", "-X", "POST"])
        .args(["-H", "Content-Type: application/x-tar", "--data-binary"])
        .arg(format!("@{}", file.path().display()))
        .arg("http://engine/images/load?quiet=0")
        .output()
        .expect("curl, to see which layers the engine loads");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["status"] == "Loading layer")
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        fresh.len(),
        chain,
        "layers of the refused pack were left in the engine: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn pack_with_an_extra_repo_tag_in_its_docker_manifest_tags_only_devenv_names() {
    let (t, hash) = project();
    let mut p = Pack::read(&pack(&t, "env.devenv.tar"));
    let victim = format!("adv/victim-{}:1", t.name);
    let mut manifest = p.manifest();
    for item in manifest.as_array_mut().unwrap() {
        item["RepoTags"]
            .as_array_mut()
            .unwrap()
            .push(victim.clone().into());
    }
    p.set_manifest(&manifest);
    let crafted = t.root().join("crafted.tar");
    p.write(&crafted);
    remove_all_images(&t);
    let out = t.run(&["load", crafted.to_str().unwrap()]);
    // The content is genuine, so it may load, but under devenv's names only.
    let tagged = exists(&victim);
    if tagged {
        docker(&["rmi", &victim]);
    }
    assert!(!tagged, "load tagged {victim}: {}", stderr(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(exists(&format!("devenv/{}:{hash}", t.name)));
    assert!(exists(&format!("devenv/layer:{hash}")));
}

#[test]
fn pack_whose_metadata_names_another_image_is_refused_and_loads_nothing() {
    let (t, _) = project();
    let mut p = Pack::read(&pack(&t, "env.devenv.tar"));
    let victim = format!("adv/victim2-{}:1", t.name);
    p.set("image", &format!("\"{victim}\""));
    let crafted = t.root().join("crafted.tar");
    p.write(&crafted);
    remove_all_images(&t);
    let err = assert_refused_and_nothing_loaded(&t, &crafted, std::slice::from_ref(&victim));
    assert!(err.contains("not one of devenv's"), "{err}");
    if exists(&victim) {
        docker(&["rmi", &victim]);
    }
}

#[test]
fn metadata_of_one_pack_on_anothers_content_is_refused_by_load_verify_and_diff() {
    let (t, first) = project();
    let one = Pack::read(&pack(&t, "one.devenv.tar"));
    t.write("app.txt", "version 2, longer\n");
    t.ok(&["build"]);
    let two = Pack::read(&pack(&t, "two.devenv.tar"));
    let mut p = Pack {
        json: one.json.clone(),
        images: two.images.clone(),
    };
    let crafted = t.root().join("crafted.tar");
    p.write(&crafted);
    let crafted_s = crafted.to_str().unwrap();
    // Against the first build (which the metadata names), neither `verify` nor `diff` may
    // believe it.
    t.write("app.txt", "version 1\n");
    t.ok(&["build"]);
    let out = t.run(&["verify", "--against", crafted_s]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("holds the same image"),
        "{}",
        stdout(&out)
    );
    let out = t.run(&["diff", &first, crafted_s]);
    assert!(
        !stdout(&out).contains("same environment"),
        "{}",
        stdout(&out)
    );
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    remove_all_images(&t);
    let names = [
        format!("devenv/{}:{first}", t.name),
        format!("devenv/layer:{first}"),
    ];
    let err = assert_refused_and_nothing_loaded(&t, &crafted, &names);
    assert!(
        err.contains("does not hold what its metadata says"),
        "{err}"
    );
}

#[test]
fn pack_holding_no_image_is_refused_by_load_verify_and_diff() {
    let (t, hash) = project();
    let mut p = Pack::read(&pack(&t, "env.devenv.tar"));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", b"[]".as_slice())
        .unwrap();
    p.images = b.into_inner().unwrap();
    let crafted = t.root().join("empty.tar");
    p.write(&crafted);
    let crafted_s = crafted.to_str().unwrap();
    let out = t.run(&["verify", "--against", crafted_s]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("holds the same image"),
        "{}",
        stdout(&out)
    );
    let out = t.run(&["diff", &hash, crafted_s]);
    assert!(
        !stdout(&out).contains("same environment"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("does not hold what its metadata says"),
        "{}",
        stderr(&out)
    );
    let out = t.run(&["load", crafted_s]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn altered_pack_metadata_is_refused_and_loads_nothing() {
    let (t, hash) = project();
    let mut p = Pack::read(&pack(&t, "env.devenv.tar"));
    // An edit that recomputes no checksum.
    p.set("devenv_version", "\"9.9.9\"");
    let crafted = t.root().join("crafted.tar");
    p.write_as_is(&crafted);
    remove_all_images(&t);
    let names = [format!("devenv/layer:{hash}")];
    assert_refused_and_nothing_loaded(&t, &crafted, &names);
}

/// The lock a pack carries is written into a project without one: it must name the base the
/// config layer was built on.
#[test]
fn pack_whose_lock_names_another_base_is_refused_and_loads_nothing() {
    let (t, hash) = project();
    let mut p = Pack::read(&pack(&t, "env.devenv.tar"));
    let key = "digest = \\\"sha256:";
    let at = p.json.find(key).expect("the lock's base digest") + key.len();
    p.json.replace_range(at..at + 64, &"0".repeat(64));
    let crafted = t.root().join("crafted.tar");
    p.write(&crafted);
    remove_all_images(&t);
    std::fs::remove_file(t.root().join("devenv.lock")).unwrap();
    let names = [format!("devenv/layer:{hash}")];
    let err = assert_refused_and_nothing_loaded(&t, &crafted, &names);
    assert!(err.contains("its lock names another base"), "{err}");
    assert!(!t.root().join("devenv.lock").exists());
}

#[test]
fn version_1_pack_is_refused_naming_its_version_and_the_fix() {
    let (t, hash) = project();
    let mut p = Pack::read(&pack(&t, "env.devenv.tar"));
    // What devenv wrote before the metadata was covered.
    if p.json.contains("\"version\":") {
        p.json = p
            .json
            .replacen(&format!("\"version\":{},", p.field("version")), "", 1);
        p.json = p.json.replacen(
            &format!(",\"meta_sha256\":{}", p.field("meta_sha256")),
            "",
            1,
        );
    }
    p.set("format", "\"devenv-pack-v1\"");
    let old = t.root().join("old.tar");
    p.write(&old);
    remove_all_images(&t);
    let names = [format!("devenv/layer:{hash}")];
    assert_refused_and_nothing_loaded(&t, &old, &names);
    let err = stderr(&t.run(&["load", old.to_str().unwrap()]));
    assert!(err.contains("version 1 pack"), "{err}");
    assert!(err.contains("devenv pack"), "{err}");
}

#[test]
fn load_in_a_project_reads_the_project_manifest_not_the_pack_as_one() {
    let (t, _) = project();
    let file = pack(&t, "env.devenv.tar");
    std::fs::remove_file(t.root().join("devenv.lock")).unwrap();
    let out = t.run(&["load", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("wrote devenv.lock from the pack"), "{err}");
    assert!(
        err.contains("this is the environment of this project"),
        "{err}"
    );
}

/// The pack is a FIFO that hands out a genuine pack on the first open and a pack with an
/// extra name on any later one: what the engine loads must be what was checked.
#[test]
fn load_gives_the_engine_the_bytes_it_checked() {
    let (t, _) = project();
    let genuine = std::fs::read(pack(&t, "env.devenv.tar")).unwrap();
    let mut p = Pack::read(&t.root().join("env.devenv.tar"));
    let victim = format!("adv/swapped-{}:1", t.name);
    let mut manifest = p.manifest();
    for item in manifest.as_array_mut().unwrap() {
        item["RepoTags"] = serde_json::json!([victim.clone()]);
    }
    p.set_manifest(&manifest);
    let swapped = t.root().join("swapped.tar");
    p.write(&swapped);
    let swapped = std::fs::read(&swapped).unwrap();
    let fifo = t.root().join("fifo.tar");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    remove_all_images(&t);
    let mut child = t.cmd(&["load", fifo.to_str().unwrap()]);
    let child = child
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (fifo, done) = (fifo.clone(), done.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let _ = f.write_all(&genuine);
            drop(f);
            // Once devenv has closed the file, any later open gets the other pack.
            while holds(pid, &fifo) && !done.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                use std::os::unix::fs::OpenOptionsExt;
                let opened = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&fifo);
                if let Ok(mut f) = opened {
                    let flags = nix::fcntl::OFlag::empty();
                    let _ = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(flags));
                    let _ = f.write_all(&swapped);
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    let tagged = exists(&victim);
    if tagged {
        docker(&["rmi", &victim]);
    }
    assert!(
        !tagged,
        "the engine loaded other bytes than the checked ones"
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Whether process `pid` has `path` open.
fn holds(pid: u32, path: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == path))
}

/// The `devenv` binary under `timeout SECONDS`, in the project.
fn timed(t: &TestContext, seconds: u32, args: &[&str]) -> std::process::Output {
    std::process::Command::new("timeout")
        .arg(seconds.to_string())
        .arg(assert_cmd::cargo::cargo_bin("devenv"))
        .args(args)
        .current_dir(t.root())
        .env("HOME", t.home.path())
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap()
}

/// `docker commit` over `image` with `labels`, named `reference`, with the test's label.
fn commit_with_labels(t: &TestContext, image: &str, labels: &[String], reference: &str) {
    let name = format!("{}-commit", t.name);
    docker(&["create", "--name", &name, image, "/bin/sh", "-c", "true"]);
    let mut args = vec!["commit".to_owned()];
    for l in labels.iter().chain([&t.label()]) {
        args.push("--change".into());
        args.push(format!("LABEL {l}"));
    }
    args.push(name.clone());
    args.push(reference.to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&args);
    docker(&["rm", "-f", &name]);
}

#[test]
fn diff_of_an_image_whose_parent_labels_form_a_cycle_ends() {
    let (t, hash) = project();
    let k1 = sha(format!("{}-1", t.name).as_bytes());
    let k2 = sha(format!("{}-2", t.name).as_bytes());
    let layer = format!("devenv/layer:{hash}");
    for (key, parent) in [(&k1, &k2), (&k2, &k1)] {
        commit_with_labels(
            &t,
            &layer,
            &[
                format!("dev.devenv.key={key}"),
                format!("dev.devenv.parent={parent}"),
            ],
            &format!("devenv/layer:{key}"),
        );
    }
    let out = timed(&t, 60, &["diff", &k1, &hash]);
    for key in [&k1, &k2] {
        let _ = std::process::Command::new("docker")
            .args(["rmi", &format!("devenv/layer:{key}")])
            .output();
    }
    assert_ne!(out.status.code(), Some(124), "diff never ended");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn non_ascii_key_label_is_reported_not_a_panic() {
    let (t, hash) = project();
    let layer = format!("devenv/layer:{hash}");
    commit_with_labels(
        &t,
        &layer,
        &["dev.devenv.key=aéééééééééééé".to_owned()],
        &layer,
    );
    let out = t.run(&["verify"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out)
            .contains("another image is tagged under this key (its labels name key aéééééééééé"),
        "{}",
        stdout(&out)
    );
    let out = t.run(&["diff", &hash, "."]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `diff A PACK` says what `diff A IMAGE` says of the image the pack holds: the layers
/// `docker save` stores as symlinks are read through them.
#[test]
fn diff_against_a_pack_reads_its_symlinked_layers() {
    let (t, first) = project();
    t.write("app.txt", "version 2, longer\n");
    t.ok(&["build"]);
    let second = t.ok(&["hash"]).trim().to_owned();
    let file = pack(&t, "two.devenv.tar");
    let links = Pack::read(&file)
        .entries()
        .iter()
        .filter(|(h, _)| h.entry_type() == tar::EntryType::Symlink)
        .count();
    assert!(
        links > 0,
        "the pack holds no symlinked layer: the test proves nothing"
    );
    let json = |b: &str| -> serde_json::Value {
        serde_json::from_str(&t.ok(&["diff", "--json", &first, b])).unwrap()
    };
    let (image, packed) = (json(&second), json(file.to_str().unwrap()));
    assert_eq!(image["files"], packed["files"], "{packed}");
    assert_eq!(image["packages"], packed["packages"]);
}

/// A pack whose layer tars are gzip-compressed (the engine loads those too) is compared by
/// their content, not skipped.
#[test]
fn diff_against_a_pack_reads_gzip_layers() {
    let (t, first) = project();
    t.write("app.txt", "version 2, longer\n");
    t.ok(&["build"]);
    let second = t.ok(&["hash"]).trim().to_owned();
    let mut p = Pack::read(&pack(&t, "two.devenv.tar"));
    let mut entries = p.entries();
    for (h, data) in &mut entries {
        let is_layer = h.path().unwrap().to_string_lossy().ends_with("/layer.tar");
        if is_layer && h.entry_type() == tar::EntryType::Regular {
            let mut gz = std::process::Command::new("gzip")
                .arg("-c")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = gz.stdin.take().unwrap();
            let input = data.clone();
            let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
            let out = gz.wait_with_output().unwrap();
            feeder.join().unwrap();
            *data = out.stdout;
        }
    }
    p.set_entries(&entries);
    let crafted = t.root().join("gz.devenv.tar");
    p.write(&crafted);
    let json = |b: &str| -> serde_json::Value {
        serde_json::from_str(&t.ok(&["diff", "--json", &first, b])).unwrap()
    };
    let (image, packed) = (json(&second), json(crafted.to_str().unwrap()));
    assert_eq!(image["files"], packed["files"], "{packed}");
    assert_eq!(image["packages"], packed["packages"]);
}

/// `load` streams: a pack of ~200 MB is loaded in far less memory than its size.
#[test]
fn load_of_a_large_pack_streams_it() {
    let t = TestContext::new();
    t.manifest(
        r#"
[[step]]
name = "big"
run = "head -c 200000000 /dev/urandom > /big"
"#,
    );
    t.ok(&["build"]);
    let file = pack(&t, "big.devenv.tar");
    assert!(std::fs::metadata(&file).unwrap().len() > 200_000_000);
    remove_all_images(&t);
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss=%M"])
        .arg(assert_cmd::cargo::cargo_bin("devenv"))
        .args(["load", file.to_str().unwrap()])
        .current_dir(t.root())
        .env("HOME", t.home.path())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let kb: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss="))
        .expect("GNU time's report")
        .trim()
        .parse()
        .unwrap();
    eprintln!("load used {kb} kB for a 200 MB pack");
    assert!(kb < 100_000, "load used {kb} kB for a 200 MB pack");
}

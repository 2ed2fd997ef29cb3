//! The bytes that go to the engine: the archive of a step's inputs copied into its build
//! container (project-relative paths under the workdir, with owners, times and modes
//! normalised so the layer does not depend on the host), and root filesystem tarballs.
//!
//! Both are streamed, never held whole in memory, and checked while streaming against the
//! digests the layer keys were computed from: a file edited since it was hashed fails the
//! stream (and the producer's verdict says which file), so a layer never holds other bytes
//! than its key says. The caller must look at the verdict before committing or tagging.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::BuildError;
use crate::fingerprint::{is_content_changed, sha256_hex, InputFile, InputKind, Verified};
use crate::stream::{produce, ChannelWriter, Closed};

pub(super) use crate::stream::Body;

/// The producer's verdict: `Ok` only when every byte sent was the hashed one.
pub(super) type Verdict = crate::stream::Verdict<(), BuildError>;

impl From<Closed> for BuildError {
    fn from(e: Closed) -> BuildError {
        BuildError::Io {
            what: "streaming to the engine".into(),
            message: e.to_string(),
        }
    }
}

/// Stream a tar of the inputs at their project-relative paths under `workdir`, each file
/// verified against its planned digest and size.
pub(super) fn inputs_tar(
    root: &Path,
    workdir: &str,
    step: &str,
    inputs: &[InputFile],
) -> (Body, Verdict) {
    let root = root.to_path_buf();
    let base = workdir
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned();
    let step = step.to_owned();
    let inputs = inputs.to_vec();
    produce(move |out| write_inputs(out, &root, &base, &step, &inputs))
}

fn write_inputs(
    out: &mut ChannelWriter,
    root: &Path,
    base: &str,
    step: &str,
    inputs: &[InputFile],
) -> Result<(), BuildError> {
    let mut tar = tar::Builder::new(out);
    // No directory entries: the engine creates missing parents (root, 0755) and leaves
    // existing ones alone, where an entry would re-own e.g. `/home/node` of the image.
    for f in inputs {
        let fail = |e: std::io::Error| input_error(step, &f.rel, &e);
        let target = format!("{base}/{}", f.rel);
        let path: PathBuf = f.path(root);
        match f.kind {
            InputKind::Symlink => {
                let link = std::fs::read_link(&path).map_err(fail)?;
                if sha256_hex(link.as_os_str().as_encoded_bytes()) != f.digest {
                    return Err(changed(step, &f.rel));
                }
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut h, &target, &link).map_err(fail)?;
            }
            kind => {
                let mode = if kind == InputKind::Executable {
                    0o755
                } else {
                    0o644
                };
                let file = File::open(&path).map_err(fail)?;
                let mut h = header(tar::EntryType::Regular, mode, f.size);
                let content = Verified::new(file, &f.digest, Some(f.size));
                tar.append_data(&mut h, &target, content).map_err(fail)?;
            }
        }
    }
    tar.into_inner()
        .map(drop)
        .map_err(|e| input_error(step, "inputs archive", &e))
}

/// Stream the file at `path`, verified against `digest` (`sha256:…`).
pub(super) fn verified_file(path: &Path, digest: &str) -> (Body, Verdict) {
    let path = path.to_path_buf();
    let expected = digest.trim_start_matches("sha256:").to_owned();
    produce(move |out| {
        let what = path.display().to_string();
        let io = |e: std::io::Error| BuildError::Io {
            what: what.clone(),
            message: if is_content_changed(&e) {
                "changed while it was being read; run again".into()
            } else {
                e.to_string()
            },
        };
        let file = File::open(&path).map_err(io)?;
        std::io::copy(&mut Verified::new(file, &expected, None), out).map_err(io)?;
        Ok(())
    })
}

/// A `docker save`-format archive of one image whose only layer is the root filesystem
/// tarball at `path` (streamed as it is, verified against `digest`), with `config` (its
/// name, its bytes) and `manifest` (`manifest.json`). `docker load` keeps the config's
/// architecture, which `docker import` does not.
pub(super) fn verified_image_archive(
    path: &Path,
    digest: &str,
    config: (String, Vec<u8>),
    manifest: Vec<u8>,
) -> (Body, Verdict) {
    let path = path.to_path_buf();
    let expected = digest.trim_start_matches("sha256:").to_owned();
    produce(move |out| {
        let what = path.display().to_string();
        let io = |e: std::io::Error| BuildError::Io {
            what: what.clone(),
            message: if is_content_changed(&e) {
                "changed while it was being read; run again".into()
            } else {
                e.to_string()
            },
        };
        let file = File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut tar = tar::Builder::new(out);
        for (name, bytes) in [(config.0.as_str(), &config.1), ("manifest.json", &manifest)] {
            let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
            tar.append_data(&mut h, name, bytes.as_slice())
                .map_err(io)?;
        }
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        let layer = Verified::new(file, &expected, Some(size));
        tar.append_data(&mut h, "layer/layer.tar", layer)
            .map_err(io)?;
        tar.finish().map_err(io)?;
        Ok(())
    })
}

fn input_error(step: &str, rel: &str, e: &std::io::Error) -> BuildError {
    // A file deleted (or replaced by a rename) since it was hashed changed too.
    if is_content_changed(e) || e.kind() == std::io::ErrorKind::NotFound {
        changed(step, rel)
    } else {
        BuildError::Io {
            what: rel.to_owned(),
            message: e.to_string(),
        }
    }
}

fn changed(step: &str, rel: &str) -> BuildError {
    BuildError::InputChanged {
        step: step.to_owned(),
        path: rel.to_owned(),
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::CHUNK;
    use futures_util::StreamExt;

    async fn drain(mut body: Body) -> (Vec<u8>, bool) {
        let mut bytes = Vec::new();
        while let Some(item) = body.next().await {
            match item {
                Ok(b) => bytes.extend_from_slice(&b),
                Err(_) => return (bytes, true),
            }
        }
        (bytes, false)
    }

    fn input(root: &Path, rel: &str, content: &[u8]) -> InputFile {
        std::fs::write(root.join(rel), content).unwrap();
        InputFile {
            rel: rel.to_owned(),
            kind: InputKind::File,
            digest: sha256_hex(content),
            size: content.len() as u64,
        }
    }

    #[tokio::test]
    async fn inputs_stream_as_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; 3 * CHUNK + 5];
        let inputs = [
            input(dir.path(), "a", b"v1\n"),
            input(dir.path(), "b", &big),
        ];
        let (body, verdict) = inputs_tar(dir.path(), "/w", "s", &inputs);
        let (bytes, aborted) = drain(body).await;
        verdict.await.unwrap().unwrap();
        assert!(!aborted);
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["w/a", "w/b"]);
    }

    #[tokio::test]
    async fn an_input_edited_after_hashing_aborts_the_stream_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for edit in [Some(&b"v2\n"[..]), Some(b"v1\nand more"), Some(b""), None] {
            let inputs = [
                input(dir.path(), "a", b"x"),
                input(dir.path(), "data.txt", b"v1\n"),
            ];
            let path = dir.path().join("data.txt");
            match edit {
                Some(content) => std::fs::write(&path, content).unwrap(),
                None => std::fs::remove_file(&path).unwrap(),
            }
            let (body, verdict) = inputs_tar(dir.path(), "/w", "s", &inputs);
            let (_, aborted) = drain(body).await;
            assert!(aborted, "the body ended cleanly on changed content");
            match verdict.await.unwrap() {
                Err(BuildError::InputChanged { step, path }) => {
                    assert_eq!((step.as_str(), path.as_str()), ("s", "data.txt"));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_rootfs_edited_after_hashing_aborts_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.tar");
        std::fs::write(&path, b"new").unwrap();
        let (body, verdict) = verified_file(&path, &format!("sha256:{}", sha256_hex(b"old")));
        assert!(drain(body).await.1);
        assert!(verdict.await.unwrap().is_err());
        let (body, verdict) = verified_file(&path, &format!("sha256:{}", sha256_hex(b"new")));
        assert_eq!(drain(body).await, (b"new".to_vec(), false));
        verdict.await.unwrap().unwrap();
    }
}

//! `devenv pack` and `devenv load`: the whole layer chain in one file, for machines without
//! a registry or network.
//!
//! A pack is a tar whose first entry, `devenv-pack.json`, says what the environment is (the
//! hash, the lock, every layer's key, image id and inputs) and holds the size and sha256 of
//! everything after it; the rest is the engine's `docker save` stream of the chain's images,
//! so `docker load < pack.tar` works too. `load` checks size and checksum before the engine
//! sees a byte, and the loaded image ids afterwards.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::verify::{self, LayerInputs};
use super::{layer_ref, BuildError, Reporter};
use crate::engine::Engine;
use crate::fingerprint::{Plan, StreamDigest};
use crate::manifest::lock::LockEntry;
use crate::manifest::Manifest;

/// Format tag of the metadata entry.
pub const FORMAT: &str = "devenv-pack-v1";
/// Name of the metadata entry, always the first.
pub const META_ENTRY: &str = "devenv-pack.json";
/// The metadata entry may not be larger than this (it holds the lock and inputs).
const MAX_META: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("the local environment does not verify, so it is not packed: {0}")]
    NotVerified(String),
    #[error("{path} is not a devenv pack: {reason}")]
    NotAPack { path: String, reason: String },
    #[error("{path} is truncated or altered ({reason}): refused, nothing loaded")]
    Corrupt { path: String, reason: String },
    #[error("the engine loaded {reference} as {got}, but the pack names {want}")]
    WrongId {
        reference: String,
        got: String,
        want: String,
    },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
}

impl PackError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PackError::NotVerified(_) => {
                Some("run `devenv build` (then `devenv verify`) and pack again".into())
            }
            PackError::Corrupt { .. } | PackError::NotAPack { .. } => {
                Some("copy the file again from where `devenv pack` wrote it".into())
            }
            PackError::Build(e) => e.hint(),
            _ => None,
        }
    }
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> PackError {
    let what = what.to_string();
    move |e| PackError::Io {
        what,
        message: e.to_string(),
    }
}

/// What identifies a packed environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackMeta {
    pub format: String,
    pub devenv_version: String,
    pub project: String,
    pub hash: String,
    /// `devenv/<project>:<hash>`.
    pub image: String,
    /// The final image's id.
    pub id: String,
    /// The lock file's text.
    pub lock: String,
    /// Config layer first.
    pub layers: Vec<PackLayer>,
    /// Size and sha256 of everything after the metadata entry.
    pub images_size: u64,
    pub images_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackLayer {
    pub key: String,
    /// `config` or ``step `name` ``.
    pub step: String,
    pub id: String,
    /// Number of filesystem layers of this image.
    pub layers: usize,
    pub inputs: LayerInputs,
}

/// What `pack` wrote.
#[derive(Debug, Clone)]
pub struct Packed {
    pub path: PathBuf,
    pub size: u64,
    pub meta: PackMeta,
}

/// Pack the verified chain of `plan` into `out` (written as `out.partial`, renamed at the
/// end, so an interrupted pack leaves no archive behind).
pub async fn pack(
    engine: &Engine,
    manifest: &Manifest,
    plan: &Plan,
    lock: (&LockEntry, &str),
    out: &Path,
) -> Result<Packed, PackError> {
    let (entry, lock_text) = lock;
    let report = verify::verify_chain(engine, manifest, plan, entry).await?;
    if let Some(b) = &report.broken {
        return Err(PackError::NotVerified(format!(
            "{} ({}): {}",
            b.step, b.reference, b.reason
        )));
    }
    let inputs = LayerInputs::chain(manifest, plan, &entry.digest);
    let layers = report
        .layers
        .iter()
        .zip(inputs)
        .map(|(l, inputs)| PackLayer {
            key: l.key.clone(),
            step: l.step.clone(),
            id: l.id.clone().unwrap_or_default(),
            layers: l.layers,
            inputs,
        })
        .collect();
    let mut meta = PackMeta {
        format: FORMAT.into(),
        devenv_version: env!("CARGO_PKG_VERSION").into(),
        project: manifest.name.clone(),
        hash: report.hash.clone(),
        image: report.image.clone(),
        id: report.id.clone().unwrap_or_default(),
        lock: lock_text.to_owned(),
        layers,
        images_size: u64::MAX,
        images_sha256: "0".repeat(64),
    };
    // Room for the largest possible size and checksum; the real JSON is padded to it.
    let reserved = serde_json::to_vec(&meta).map_err(|e| PackError::Io {
        what: "pack metadata".into(),
        message: e.to_string(),
    })?;
    let partial = out.with_file_name(format!(
        "{}.partial",
        out.file_name().map_or_else(
            || "devenv-pack".into(),
            |n| n.to_string_lossy().into_owned()
        )
    ));
    let file = std::fs::File::create(&partial).map_err(io(partial.display()))?;
    let result = write_pack(engine, &mut meta, reserved.len(), &report, file).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out).map_err(io(out.display()))?;
    let size = std::fs::metadata(out).map_err(io(out.display()))?.len();
    Ok(Packed {
        path: out.to_path_buf(),
        size,
        meta,
    })
}

async fn write_pack(
    engine: &Engine,
    meta: &mut PackMeta,
    reserved: usize,
    report: &verify::ChainReport,
    file: std::fs::File,
) -> Result<(), PackError> {
    let what = "writing the pack";
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let header = meta_header(reserved as u64);
    w.write_all(header.as_bytes()).map_err(io(what))?;
    w.write_all(&vec![b' '; padded(reserved as u64)])
        .map_err(io(what))?;
    let mut digest = StreamDigest::default();
    let mut refs: Vec<String> = report.layers.iter().map(|l| l.reference.clone()).collect();
    refs.push(report.image.clone());
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let size = engine
        .save_images(&refs, |chunk| {
            digest.update(chunk);
            w.write_all(chunk)
        })
        .await
        .map_err(BuildError::from)?;
    meta.images_size = size;
    meta.images_sha256 = digest.finish();
    let mut json = serde_json::to_vec(meta).map_err(|e| PackError::Io {
        what: "pack metadata".into(),
        message: e.to_string(),
    })?;
    json.resize(reserved, b' ');
    let mut file = w.into_inner().map_err(|e| PackError::Io {
        what: what.into(),
        message: e.to_string(),
    })?;
    file.seek(SeekFrom::Start(512)).map_err(io(what))?;
    file.write_all(&json).map_err(io(what))?;
    file.sync_all().map_err(io(what))?;
    Ok(())
}

/// The tar header of the metadata entry.
fn meta_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(META_ENTRY).expect("a short ASCII name");
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

/// `size` rounded up to whole 512-byte blocks.
fn padded(size: u64) -> usize {
    usize::try_from(size.div_ceil(512) * 512).unwrap_or(usize::MAX)
}

/// Read and check a pack's metadata and checksum, without the engine. Returns the metadata
/// and where the image tar starts.
pub fn read_verified(path: &Path) -> Result<(PackMeta, u64), PackError> {
    let shown = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(io(&shown))?;
    let not_a_pack = |reason: &str| PackError::NotAPack {
        path: shown.clone(),
        reason: reason.into(),
    };
    let mut block = [0u8; 512];
    file.read_exact(&mut block)
        .map_err(|_| not_a_pack("shorter than one tar block"))?;
    let header = tar::Header::from_byte_slice(&block);
    let name = header.path_bytes();
    if name.as_ref() != META_ENTRY.as_bytes() {
        return Err(not_a_pack(&format!("its first entry is not {META_ENTRY}")));
    }
    let size = header
        .size()
        .map_err(|_| not_a_pack("unreadable first header"))?;
    if size > MAX_META {
        return Err(not_a_pack("its metadata is too large"));
    }
    let mut json = vec![0u8; usize::try_from(size).unwrap_or(0)];
    file.read_exact(&mut json).map_err(|_| PackError::Corrupt {
        path: shown.clone(),
        reason: "the metadata is cut off".into(),
    })?;
    let meta: PackMeta = serde_json::from_slice(&json)
        .map_err(|e| not_a_pack(&format!("unreadable metadata: {e}")))?;
    if meta.format != FORMAT {
        return Err(not_a_pack(&format!(
            "format {} (this devenv reads {FORMAT})",
            meta.format
        )));
    }
    let start = 512 + padded(size) as u64;
    file.seek(SeekFrom::Start(start)).map_err(io(&shown))?;
    let mut digest = StreamDigest::default();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(&shown))?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        total += n as u64;
    }
    if total != meta.images_size {
        return Err(PackError::Corrupt {
            path: shown,
            reason: format!(
                "{total} bytes of images where the pack says {}",
                meta.images_size
            ),
        });
    }
    if digest.finish() != meta.images_sha256 {
        return Err(PackError::Corrupt {
            path: shown,
            reason: "sha256 mismatch".into(),
        });
    }
    Ok((meta, start))
}

/// Load a pack into the engine after checking it; checks the loaded ids and the final tag.
pub async fn load(
    engine: &Engine,
    path: &Path,
    reporter: &mut dyn Reporter,
) -> Result<PackMeta, PackError> {
    let (meta, _) = read_verified(path)?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(io(path.display()))?;
    let body = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    engine.load_images(body).await.map_err(BuildError::from)?;
    for layer in &meta.layers {
        let reference = layer_ref(&layer.key);
        let got = engine
            .image_detail(&reference)
            .await
            .map_err(BuildError::from)?
            .map(|d| d.id)
            .unwrap_or_default();
        if got != layer.id {
            return Err(PackError::WrongId {
                reference,
                got: if got.is_empty() {
                    "nothing".into()
                } else {
                    verify::short_id(&got)
                },
                want: verify::short_id(&layer.id),
            });
        }
    }
    let (repo, tag) = meta
        .image
        .rsplit_once(':')
        .unwrap_or((&meta.image, &meta.hash));
    if engine
        .image_detail(&meta.image)
        .await
        .map_err(BuildError::from)?
        .is_none_or(|d| d.id != meta.id)
    {
        engine
            .tag(&meta.id, repo, tag)
            .await
            .map_err(BuildError::from)?;
        reporter.note(&format!("tagged {}", meta.image));
    }
    Ok(meta)
}

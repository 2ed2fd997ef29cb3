//! `devenv pack` and `devenv load`: the whole layer chain in one file, for machines without
//! a registry or network.
//!
//! A pack is a tar whose first entry, `devenv-pack.json`, says what the environment is (the
//! format version, the hash, the lock, every layer's key, image id and inputs), the size and
//! sha256 of everything after it, and the sha256 of the metadata itself; the rest is the
//! engine's `docker save` stream of the chain's images, so `docker load < pack.tar` works
//! too. Reading one back is [`super::pack_check`]: `load` gives the engine only what that
//! checked, from a private copy, and tags only devenv's own names afterwards.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::pack_archive::LoadCopy;
use super::pack_check::check;
use super::verify::{self, LayerInputs};
use super::{layer_ref, BuildError, Reporter};
use crate::engine::Engine;
use crate::fingerprint::{Plan, StreamDigest};
use crate::manifest::lock::LockEntry;
use crate::manifest::Manifest;

/// Format tag of the metadata entry (version 1 wrote `devenv-pack-v1` here, no `version`).
pub const FORMAT: &str = "devenv-pack";
/// The pack format this devenv writes and reads. 2: the metadata is covered by a checksum
/// and checked against the content. 3: the platform is part of every hash, and the
/// metadata names it (`platform`).
pub const VERSION: u32 = 3;
/// Name of the metadata entry, always the first.
pub const META_ENTRY: &str = "devenv-pack.json";

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
    #[error("{path} does not hold what its metadata says ({reason}): refused, nothing loaded")]
    Lies { path: String, reason: String },
    #[error(
        "{path} is a version {version} pack; this devenv reads version {VERSION} only: refused, \
         nothing loaded"
    )]
    Version { path: String, version: u64 },
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
            PackError::Corrupt { .. } | PackError::NotAPack { .. } | PackError::Lies { .. } => {
                Some("copy the file again from where `devenv pack` wrote it".into())
            }
            PackError::Version { version, .. } if *version < u64::from(VERSION) => Some(format!(
                "older packs do not cover their metadata; make the pack again with `devenv pack` \
                 (devenv {} or later) where the environment is built",
                env!("CARGO_PKG_VERSION")
            )),
            PackError::Version { .. } => {
                Some("load it with the devenv version that made it, or a newer one".into())
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
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    pub devenv_version: String,
    pub project: String,
    pub hash: String,
    /// The platform the environment was built for (`linux/arm64`).
    pub platform: String,
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
    /// sha256 of this metadata as [`canonical`] writes it (with this field empty).
    pub meta_sha256: String,
}

/// The bytes the metadata's own checksum covers: its JSON with `meta_sha256` empty.
pub fn canonical(meta: &PackMeta) -> Result<Vec<u8>, PackError> {
    let unsigned = PackMeta {
        meta_sha256: String::new(),
        ..meta.clone()
    };
    serde_json::to_vec(&unsigned).map_err(|e| PackError::Io {
        what: "pack metadata".into(),
        message: e.to_string(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
        version: VERSION,
        devenv_version: env!("CARGO_PKG_VERSION").into(),
        project: manifest.name.clone(),
        hash: report.hash.clone(),
        platform: plan.platform.to_string(),
        image: report.image.clone(),
        id: report.id.clone().unwrap_or_default(),
        lock: lock_text.to_owned(),
        layers,
        images_size: u64::MAX,
        images_sha256: "0".repeat(64),
        meta_sha256: "0".repeat(64),
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
    meta.meta_sha256 = crate::fingerprint::sha256_hex(&canonical(meta)?);
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
pub(super) fn padded(size: u64) -> usize {
    usize::try_from(size.div_ceil(512) * 512).unwrap_or(usize::MAX)
}

/// Read a pack and check it whole (checksums, content, every claim of its metadata), without
/// the engine.
pub fn read_checked(path: &Path) -> Result<PackMeta, PackError> {
    open_checked(path).map(|(meta, _)| meta)
}

/// [`read_checked`], also returning the open file, so that whoever reads it again reads the
/// file that was checked, not whatever is at the path by then.
pub fn open_checked(path: &Path) -> Result<(PackMeta, std::fs::File), PackError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(io(&shown))?;
    let meta = check(
        std::io::BufReader::with_capacity(1 << 20, &file),
        &shown,
        None,
    )?;
    Ok((meta, file))
}

/// Load a pack into the engine: check it while copying what the engine may load into a
/// private, already unlinked temporary file, so the engine sees nothing of a refused pack and
/// exactly the checked bytes of an accepted one; then tag devenv's names on the ids checked.
pub async fn load(
    engine: &Engine,
    path: &Path,
    reporter: &mut dyn Reporter,
) -> Result<PackMeta, PackError> {
    let shown = path.display().to_string();
    let source = std::fs::File::open(path).map_err(io(&shown))?;
    let copy = tempfile::tempfile().map_err(io("creating a temporary file"))?;
    let (meta, copy) = tokio::task::spawn_blocking(move || -> Result<_, PackError> {
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, copy);
        let mut out: LoadCopy<'_> = tar::Builder::new(&mut writer as &mut dyn Write);
        let reader = std::io::BufReader::with_capacity(1 << 20, source);
        let meta = check(reader, &shown, Some(&mut out))?;
        drop(out);
        let mut copy = writer.into_inner().map_err(|e| PackError::Io {
            what: "writing the checked copy of the pack".into(),
            message: e.to_string(),
        })?;
        copy.seek(SeekFrom::Start(0))
            .map_err(io("reading the checked copy of the pack"))?;
        Ok((meta, copy))
    })
    .await
    .map_err(|e| PackError::Io {
        what: "checking the pack".into(),
        message: e.to_string(),
    })??;
    engine
        .load_images(file_stream(tokio::fs::File::from_std(copy)))
        .await
        .map_err(BuildError::from)?;
    tag_loaded(engine, &meta, reporter).await?;
    Ok(meta)
}

/// A file as a stream of 1 MiB chunks.
fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = bytes::BytesMut::with_capacity(1 << 20);
        match file.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), file)),
            Err(e) => Some((Err(e), file)),
        }
    })
}

/// Name the loaded images: each layer under `devenv/layer:<key>`, the last also under the
/// environment's image name. The ids are the checked config digests, which the engine keeps.
async fn tag_loaded(
    engine: &Engine,
    meta: &PackMeta,
    reporter: &mut dyn Reporter,
) -> Result<(), PackError> {
    // Every id first, so a failure tags nothing.
    for layer in &meta.layers {
        let loaded = engine
            .image_detail(&layer.id)
            .await
            .map_err(BuildError::from)?;
        if loaded.is_none_or(|d| d.id != layer.id) {
            return Err(PackError::WrongId {
                reference: layer_ref(&layer.key),
                got: "nothing".into(),
                want: verify::short_id(&layer.id),
            });
        }
    }
    for layer in &meta.layers {
        engine
            .tag(&layer.id, super::LAYER_REPO, &layer.key)
            .await
            .map_err(BuildError::from)?;
    }
    let repo = format!("devenv/{}", meta.project);
    let before = engine
        .image_detail(&meta.image)
        .await
        .map_err(BuildError::from)?;
    if before.is_none_or(|d| d.id != meta.id) {
        engine
            .tag(&meta.id, &repo, &meta.hash)
            .await
            .map_err(BuildError::from)?;
        reporter.note(&format!("tagged {}", meta.image));
    }
    Ok(())
}

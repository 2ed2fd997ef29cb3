//! Reading a pack back, and checking every claim its metadata makes against what it holds.
//!
//! One pass over the file does it all: the checksum (of the metadata and of the images), the
//! `docker save` content (each image's id is the sha256 of its config; each layer tar's
//! sha256, uncompressed, is the diff id its config names) and the metadata against that
//! content (every image it names is in the pack and nothing else is; each layer's devenv
//! labels — key, parent, parent id, inputs — say what the metadata says; the names are
//! devenv's own). When `load` asks for it, the same pass writes the archive the engine will
//! load into a private temporary file: the entries that were checked, and a `manifest.json`
//! rewritten without names, so the engine tags nothing and loads exactly the checked bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use serde::Deserialize;

use super::pack::{canonical, PackError, PackMeta, FORMAT, META_ENTRY, VERSION};
use super::pack_archive::{read_entries, Content, LoadCopy};
use super::verify::LayerInputs;
use crate::engine::labels;
use crate::fingerprint::StreamDigest;

/// The metadata entry may not be larger than this (it holds the lock and inputs).
const MAX_META: u64 = 64 << 20;

/// Read the pack from `reader` (`shown` names it in errors) and check it whole; with `copy`,
/// write the archive the engine may load there. Nothing is trusted before this returns Ok.
pub fn check(
    mut reader: impl Read,
    shown: &str,
    mut copy: Option<&mut LoadCopy<'_>>,
) -> Result<PackMeta, PackError> {
    let meta = read_meta(&mut reader, shown)?;
    let mut hashing = Hashing {
        inner: reader,
        digest: StreamDigest::default(),
        count: 0,
    };
    let read = read_entries(&mut hashing, copy.as_deref_mut());
    // Whatever the entries were, the checksum is over every byte: read what is left.
    let drained = std::io::copy(&mut hashing, &mut std::io::sink());
    let corrupt = |reason: String| PackError::Corrupt {
        path: shown.to_owned(),
        reason,
    };
    if drained.is_err() || hashing.count != meta.images_size {
        return Err(corrupt(format!(
            "{} bytes of images where the pack says {}",
            hashing.count, meta.images_size
        )));
    }
    if hashing.digest.finish() != meta.images_sha256 {
        return Err(corrupt("sha256 mismatch".into()));
    }
    let lies = |reason: String| PackError::Lies {
        path: shown.to_owned(),
        reason,
    };
    let content = read.map_err(|e| lies(format!("its images are unreadable: {e}")))?;
    check_claims(&meta, &content).map_err(lies)?;
    if let Some(out) = copy {
        let manifest =
            unnamed_manifest(content.manifest.as_deref().unwrap_or_default()).map_err(lies)?;
        let mut header = tar::Header::new_ustar();
        header.set_size(manifest.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        let written = out
            .append_data(&mut header, "manifest.json", manifest.as_slice())
            .and_then(|()| out.finish());
        written.map_err(|e| PackError::Io {
            what: "writing the checked copy of the pack".into(),
            message: e.to_string(),
        })?;
    }
    Ok(meta)
}

/// The metadata entry: its header, JSON and padding; format, version and its own checksum.
fn read_meta(reader: &mut impl Read, shown: &str) -> Result<PackMeta, PackError> {
    let not_a_pack = |reason: String| PackError::NotAPack {
        path: shown.to_owned(),
        reason,
    };
    let mut block = [0u8; 512];
    reader
        .read_exact(&mut block)
        .map_err(|_| not_a_pack("shorter than one tar block".into()))?;
    let header = tar::Header::from_byte_slice(&block);
    if header.path_bytes().as_ref() != META_ENTRY.as_bytes() {
        return Err(not_a_pack(format!("its first entry is not {META_ENTRY}")));
    }
    let size = header
        .size()
        .map_err(|_| not_a_pack("unreadable first header".into()))?;
    if size > MAX_META {
        return Err(not_a_pack("its metadata is too large".into()));
    }
    let mut json = vec![0u8; super::pack::padded(size)];
    reader
        .read_exact(&mut json)
        .map_err(|_| PackError::Corrupt {
            path: shown.to_owned(),
            reason: "the metadata is cut off".into(),
        })?;
    json.truncate(usize::try_from(size).unwrap_or(0));
    let value: serde_json::Value = serde_json::from_slice(&json)
        .map_err(|e| not_a_pack(format!("unreadable metadata: {e}")))?;
    let version = match (value["format"].as_str(), value["version"].as_u64()) {
        (Some("devenv-pack-v1"), _) => 1,
        (Some(FORMAT), Some(v)) => v,
        _ => {
            return Err(not_a_pack(
                "its metadata names no devenv pack format".into(),
            ))
        }
    };
    if version != u64::from(VERSION) {
        return Err(PackError::Version {
            path: shown.to_owned(),
            version,
        });
    }
    let meta: PackMeta = serde_json::from_value(value)
        .map_err(|e| not_a_pack(format!("unreadable metadata: {e}")))?;
    let recorded = meta.meta_sha256.clone();
    if crate::fingerprint::sha256_hex(&canonical(&meta)?) != recorded {
        return Err(PackError::Corrupt {
            path: shown.to_owned(),
            reason: "the metadata's sha256 does not match".into(),
        });
    }
    Ok(meta)
}

/// Counts and hashes what is read through it.
struct Hashing<R> {
    inner: R,
    digest: StreamDigest,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// One image of `manifest.json`.
#[derive(Debug, Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// The parts of an image config that are checked.
#[derive(Debug, Deserialize)]
struct ImageConfig {
    #[serde(default)]
    config: Option<ConfigBody>,
    rootfs: RootFs,
}

#[derive(Debug, Deserialize)]
struct ConfigBody {
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// One image the pack really holds.
struct Held {
    labels: HashMap<String, String>,
    diff_ids: Vec<String>,
}

/// Every image in the archive, by id, each config and layer checked against its digest.
fn held_images(content: &Content) -> Result<(Vec<ManifestItem>, BTreeMap<String, Held>), String> {
    let manifest = content.manifest.as_ref().ok_or("it has no manifest.json")?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(manifest).map_err(|e| format!("unreadable manifest.json: {e}"))?;
    let mut held = BTreeMap::new();
    for item in &items {
        let config = content
            .file(&item.config)
            .ok_or_else(|| format!("the config {} is missing", item.config))?;
        let id = format!("sha256:{}", config.raw);
        let parsed: ImageConfig = config
            .json
            .as_deref()
            .and_then(|j| serde_json::from_slice(j).ok())
            .ok_or_else(|| format!("the config {} is unreadable", item.config))?;
        if parsed.rootfs.diff_ids.len() != item.layers.len() {
            return Err(format!(
                "image {} lists {} layers where its config has {}",
                super::verify::short_id(&id),
                item.layers.len(),
                parsed.rootfs.diff_ids.len()
            ));
        }
        for (path, want) in item.layers.iter().zip(&parsed.rootfs.diff_ids) {
            let layer = content
                .file(path)
                .ok_or_else(|| format!("the layer {path} is missing"))?;
            let Some(plain) = &layer.plain else {
                return Err(format!(
                    "the layer {path} is {}-compressed, which devenv cannot check",
                    layer.compression.unwrap_or("otherwise")
                ));
            };
            if want.trim_start_matches("sha256:") != plain {
                return Err(format!("the layer {path} is not the one its config names"));
            }
        }
        let labels = parsed.config.and_then(|c| c.labels).unwrap_or_default();
        let diff_ids = parsed.rootfs.diff_ids;
        held.insert(id, Held { labels, diff_ids });
    }
    Ok((items, held))
}

/// The metadata against the content: ids, labels, layer counts, names.
fn check_claims(meta: &PackMeta, content: &Content) -> Result<(), String> {
    let (_, held) = held_images(content)?;
    let named: BTreeSet<&str> = meta.layers.iter().map(|l| l.id.as_str()).collect();
    if let Some(extra) = held.keys().find(|id| !named.contains(id.as_str())) {
        return Err(format!(
            "it holds image {}, which its metadata does not name",
            super::verify::short_id(extra)
        ));
    }
    let mut parent: Option<(&str, &str, &Held)> = None;
    for layer in &meta.layers {
        let image = held.get(&layer.id).ok_or_else(|| {
            format!(
                "{} is image {} there, which it does not hold",
                layer.step,
                super::verify::short_id(&layer.id)
            )
        })?;
        check_layer(layer, image, parent).map_err(|e| format!("{}: {e}", layer.step))?;
        parent = Some((&layer.key, &layer.id, image));
    }
    let Some((key, id, _)) = parent else {
        return Err("its metadata names no layer".into());
    };
    if meta.hash != key || meta.id != id {
        return Err("its hash and image are not those of its last layer".into());
    }
    let lock = crate::manifest::LockFile::parse(&meta.lock, "its lock")
        .map_err(|e| format!("its lock is unreadable: {e}"))?;
    if meta.layers[0].inputs.base.as_deref() != Some(lock.base.digest.as_str()) {
        return Err("its lock names another base than its config layer".into());
    }
    if meta.layers[0].inputs.platform.as_deref() != Some(meta.platform.as_str())
        || !lock.base.platforms.contains_key(&meta.platform)
    {
        return Err(format!(
            "its metadata says {}, which its config layer or its lock does not",
            meta.platform
        ));
    }
    let valid_project =
        meta.project.len() <= 63 && crate::manifest::is_repo_component(&meta.project);
    if !valid_project || meta.image != format!("devenv/{}:{}", meta.project, meta.hash) {
        return Err(format!(
            "it names the image `{}`, not one of devenv's (`devenv/<project>:<hash>`)",
            meta.image
        ));
    }
    Ok(())
}

/// One layer's record against the image's own labels and layers.
fn check_layer(
    layer: &super::pack::PackLayer,
    image: &Held,
    parent: Option<(&str, &str, &Held)>,
) -> Result<(), String> {
    let is_key = layer.key.len() == 64
        && layer
            .key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_key {
        return Err("its key is not a devenv hash".into());
    }
    let label = |k: &str| image.labels.get(k).map_or("", String::as_str);
    if label(labels::KEY) != layer.key {
        return Err("the image's labels name another key".into());
    }
    if layer.inputs.platform.is_some()
        && label(labels::PLATFORM) != layer.inputs.platform.as_deref().unwrap_or_default()
    {
        return Err("the image's labels name another platform".into());
    }
    let (parent_key, parent_id) = parent.map_or(("", None), |(k, i, _)| (k, Some(i)));
    if label(labels::PARENT) != parent_key {
        return Err("the image's labels name another parent".into());
    }
    if parent_id.is_some_and(|id| label(labels::PARENT_ID) != id) {
        return Err("the image was committed on another parent image".into());
    }
    if LayerInputs::from_labels(&image.labels).as_ref() != Some(&layer.inputs) {
        return Err("the image's labels record other inputs".into());
    }
    let step = match &layer.inputs.step {
        Some(s) if parent.is_some() => format!("step `{s}`"),
        None if parent.is_none() => "config".to_owned(),
        _ => return Err("its step is not the one its inputs name".into()),
    };
    if layer.step != step || layer.layers != image.diff_ids.len() {
        return Err("its step or layer count is not the image's".into());
    }
    if let Some((_, _, p)) = parent {
        let extends =
            image.diff_ids.starts_with(&p.diff_ids) && image.diff_ids.len() <= p.diff_ids.len() + 1;
        if !extends {
            return Err("its filesystem layers do not extend its parent's".into());
        }
    }
    Ok(())
}

/// The `manifest.json` the engine is given: the pack's images, without any name.
fn unnamed_manifest(content_manifest: &[u8]) -> Result<Vec<u8>, String> {
    let items: Vec<ManifestItem> = serde_json::from_slice(content_manifest)
        .map_err(|e| format!("unreadable manifest.json: {e}"))?;
    let out: Vec<serde_json::Value> = items
        .iter()
        .map(|i| serde_json::json!({"Config": i.config, "RepoTags": null, "Layers": i.layers}))
        .collect();
    serde_json::to_vec(&out).map_err(|e| e.to_string())
}

//! `devenv diff`: what differs between two environments, in what went into their keys
//! (step fields, input files, env names, the base digest) and in their filesystems (files
//! added, removed and changed per layer; dpkg and apk package lists).
//!
//! A side is this project now, a hash or image reference of a local devenv image, or a
//! pack. Inputs come from the plan, the layers' `dev.devenv.inputs` labels or the pack's
//! metadata; files from the layer tars of the engine's `docker save` stream or the pack.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::pack;
use super::verify::LayerInputs;
use super::{layer_ref, BuildError};
use crate::engine::{labels, Engine};
use crate::fingerprint::StreamDigest;

/// One layer of a side's chain.
#[derive(Debug, Clone)]
pub struct SideLayer {
    pub key: String,
    /// `config` or ``step `name` ``.
    pub step: String,
    pub inputs: Option<LayerInputs>,
    /// Cumulative number of filesystem layers up to this one, when known.
    pub fs_layers: Option<usize>,
}

/// Where a side's filesystem can be read.
#[derive(Debug, Clone)]
pub enum Filesystem {
    /// A local image reference.
    Local(String),
    /// A checked pack, open, and the id of the image in it.
    Pack(std::sync::Arc<std::fs::File>, String),
    /// Not available (not built).
    None,
}

/// One environment to compare.
#[derive(Debug, Clone)]
pub struct Side {
    /// As the user named it.
    pub source: String,
    pub hash: String,
    /// Config layer first.
    pub layers: Vec<SideLayer>,
    pub id: Option<String>,
    pub filesystem: Filesystem,
}

impl Side {
    /// A side from a pack file.
    pub fn from_pack(source: &str, path: &Path) -> Result<Side, pack::PackError> {
        let (meta, file) = pack::open_checked(path)?;
        let mut total = 0;
        let layers = meta
            .layers
            .iter()
            .map(|l| {
                total = l.layers;
                SideLayer {
                    key: l.key.clone(),
                    step: l.step.clone(),
                    inputs: Some(l.inputs.clone()),
                    fs_layers: Some(total),
                }
            })
            .collect();
        Ok(Side {
            source: source.to_owned(),
            hash: meta.hash.clone(),
            layers,
            id: Some(meta.id.clone()),
            filesystem: Filesystem::Pack(std::sync::Arc::new(file), meta.id),
        })
    }

    /// A side from a local devenv image (a layer hash or any reference to one), walking
    /// its chain through the `dev.devenv.parent` labels as far as those layers exist, and
    /// no further than a key already seen (labels can name a cycle).
    pub async fn from_image(
        engine: &Engine,
        source: &str,
        reference: &str,
    ) -> Result<Option<Side>, BuildError> {
        let Some(top) = engine.image_detail(reference).await? else {
            return Ok(None);
        };
        let hash = top.labels.get(labels::KEY).cloned().unwrap_or_default();
        let id = top.id.clone();
        let mut layers = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut current = Some(top);
        while let Some(detail) = current.take() {
            let key = detail.labels.get(labels::KEY).cloned().unwrap_or_default();
            if !seen.insert(key.clone()) {
                break;
            }
            let parent = detail
                .labels
                .get(labels::PARENT)
                .cloned()
                .unwrap_or_default();
            let inputs = LayerInputs::from_labels(&detail.labels);
            let step = match (&inputs, parent.is_empty()) {
                (_, true) => "config".to_owned(),
                (Some(LayerInputs { step: Some(s), .. }), _) => format!("step `{s}`"),
                _ => format!("layer {}", super::head(&key, 12)),
            };
            layers.push(SideLayer {
                key,
                step,
                inputs,
                fs_layers: Some(detail.layers.len()),
            });
            if !parent.is_empty() {
                current = engine.image_detail(&layer_ref(&parent)).await?;
            }
        }
        layers.reverse();
        Ok(Some(Side {
            source: source.to_owned(),
            hash,
            layers,
            id: Some(id),
            filesystem: Filesystem::Local(reference.to_owned()),
        }))
    }
}

/// The differences in one layer's inputs.
#[derive(Debug, Clone, Serialize)]
pub struct InputChange {
    /// `config` or ``step `name` `` (B's name when both exist).
    pub layer: String,
    pub changes: Vec<String>,
}

/// The file differences attributed to one layer (the layer that wrote the newer version).
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileChanges {
    pub layer: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PackageChanges {
    /// `name version`.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// `name old → new`.
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    pub source: String,
    pub hash: String,
    pub id: Option<String>,
    /// The platform the side was built for, when its record says (`linux/arm64`).
    pub platform: Option<String>,
}

impl Side {
    /// The platform the side was built for, from its config layer's record.
    pub fn platform(&self) -> Option<&str> {
        self.layers.first()?.inputs.as_ref()?.platform.as_deref()
    }
}

/// Everything `devenv diff` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub a: SideSummary,
    pub b: SideSummary,
    pub same: bool,
    /// `linux/arm64 vs linux/amd64` when the sides are of two platforms: said first, since
    /// every other difference follows from it.
    pub platform: Option<String>,
    pub inputs: Vec<InputChange>,
    /// `None` when a side's filesystem is not available.
    pub files: Option<Vec<FileChanges>>,
    pub packages: Option<PackageChanges>,
    pub notes: Vec<String>,
}

/// Compare two sides.
pub async fn diff(engine: &Engine, a: &Side, b: &Side) -> Result<Diff, BuildError> {
    let summary = |s: &Side| SideSummary {
        source: s.source.clone(),
        hash: s.hash.clone(),
        id: s.id.clone(),
        platform: s.platform().map(str::to_owned),
    };
    let platform = match (a.platform(), b.platform()) {
        (Some(p), Some(q)) if p != q => Some(format!("{p} vs {q}")),
        _ => None,
    };
    let mut out = Diff {
        a: summary(a),
        b: summary(b),
        same: a.hash == b.hash && a.id == b.id,
        platform,
        inputs: input_changes(a, b),
        files: None,
        packages: None,
        notes: Vec::new(),
    };
    if a.id.is_some() && a.id == b.id {
        out.files = Some(Vec::new());
        out.packages = Some(PackageChanges::default());
        return Ok(out);
    }
    let fa = read_filesystem(engine, &a.filesystem).await?;
    let fb = read_filesystem(engine, &b.filesystem).await?;
    match (fa, fb) {
        (Some(fa), Some(fb)) => {
            out.notes.extend(fa.notes.iter().chain(&fb.notes).cloned());
            out.files = Some(file_changes(&fa, &fb, a, b));
            out.packages = Some(package_changes(&fa, &fb));
        }
        _ => out.notes.push(
            "the filesystems were not compared: a side is not built (run `devenv build`)".into(),
        ),
    }
    Ok(out)
}

#[allow(clippy::many_single_char_names)]
fn input_changes(a: &Side, b: &Side) -> Vec<InputChange> {
    let mut out = Vec::new();
    let n = a.layers.len().max(b.layers.len());
    for i in 0..n {
        match (a.layers.get(i), b.layers.get(i)) {
            (Some(x), Some(y)) if x.key == y.key => {}
            (Some(x), Some(y)) => {
                let changes = match (&x.inputs, &y.inputs) {
                    (Some(p), Some(q)) => {
                        let mut c = layer_input_changes(p, q);
                        if c.is_empty() {
                            c.push("an earlier layer changed".into());
                        }
                        c
                    }
                    _ => vec!["key differs (no input record on a side)".into()],
                };
                let mut layer = y.step.clone();
                if x.step != y.step {
                    layer = format!("{} → {}", x.step, y.step);
                }
                out.push(InputChange { layer, changes });
            }
            (Some(x), None) => out.push(InputChange {
                layer: x.step.clone(),
                changes: vec![format!("only in {}", a.source)],
            }),
            (None, Some(y)) => out.push(InputChange {
                layer: y.step.clone(),
                changes: vec![format!("only in {}", b.source)],
            }),
            (None, None) => {}
        }
    }
    out
}

#[allow(clippy::many_single_char_names)]
fn layer_input_changes(p: &LayerInputs, q: &LayerInputs) -> Vec<String> {
    let mut c = Vec::new();
    let field = |c: &mut Vec<String>, name: &str, x: &Option<String>, y: &Option<String>| {
        if x != y {
            c.push(format!(
                "{name} {} → {}",
                x.as_deref().unwrap_or("none"),
                y.as_deref().unwrap_or("none")
            ));
        }
    };
    field(&mut c, "platform", &p.platform, &q.platform);
    field(&mut c, "base digest", &p.base, &q.base);
    field(&mut c, "workdir", &p.workdir, &q.workdir);
    if p.run != q.run {
        c.push("`run` changed".into());
    }
    field(&mut c, "user", &p.user, &q.user);
    map_changes(&mut c, "env", &p.env, &q.env);
    if p.secrets != q.secrets {
        c.push(format!(
            "secrets {:?} → {:?}",
            p.secrets.join(","),
            q.secrets.join(",")
        ));
    }
    map_changes(&mut c, "input", &p.inputs, &q.inputs);
    ansible_changes(&mut c, p.ansible.as_ref(), q.ansible.as_ref());
    if p.inputs_omitted != q.inputs_omitted {
        c.push("inputs changed (too many to list)".into());
    }
    c
}

/// What differs between two `ansible` steps' records (or a step that became one).
fn ansible_changes(
    c: &mut Vec<String>,
    p: Option<&super::verify::AnsibleInputs>,
    q: Option<&super::verify::AnsibleInputs>,
) {
    match (p, q) {
        (Some(p), Some(q)) => {
            if p.playbook != q.playbook {
                c.push(format!("playbook {} → {}", p.playbook, q.playbook));
            }
            map_changes(c, "ansible var", &p.vars, &q.vars);
            if p.tags != q.tags {
                c.push(format!(
                    "tags {:?} → {:?}",
                    p.tags.join(","),
                    q.tags.join(",")
                ));
            }
            if p.controller != q.controller {
                c.push(format!(
                    "Ansible controller {} → {}",
                    p.controller, q.controller
                ));
            }
        }
        (None, Some(q)) => c.push(format!("now runs the playbook {}", q.playbook)),
        (Some(p), None) => c.push(format!("no longer runs the playbook {}", p.playbook)),
        (None, None) => {}
    }
}

fn map_changes(
    out: &mut Vec<String>,
    what: &str,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) {
    for (k, v) in b {
        match a.get(k) {
            None => out.push(format!("{what} {k} added")),
            Some(w) if w != v => out.push(format!("{what} {k} changed")),
            Some(_) => {}
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        out.push(format!("{what} {k} removed"));
    }
}

/// A file as a layer wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileEntry {
    /// Index of the filesystem layer that wrote it.
    layer: usize,
    /// `file`, `symlink`, `hardlink`, `other`.
    kind: &'static str,
    mode: u32,
    owner: (u64, u64),
    size: u64,
    /// sha256 of the content, or the link target.
    digest: String,
}

impl FileEntry {
    fn same_content(&self, other: &FileEntry) -> bool {
        self.kind == other.kind
            && self.mode == other.mode
            && self.owner == other.owner
            && self.digest == other.digest
    }
}

/// A whole filesystem: path → entry, plus the package databases.
#[derive(Debug, Default)]
struct Tree {
    files: BTreeMap<String, FileEntry>,
    dpkg: Option<String>,
    apk: Option<String>,
    /// Layers that could not be read.
    notes: Vec<String>,
}

const DPKG_STATUS: &str = "var/lib/dpkg/status";
const APK_INSTALLED: &str = "lib/apk/db/installed";

async fn read_filesystem(engine: &Engine, fs: &Filesystem) -> Result<Option<Tree>, BuildError> {
    let io_err = |e: std::io::Error| BuildError::Io {
        what: "reading image layers".into(),
        message: e.to_string(),
    };
    match fs {
        Filesystem::None => Ok(None),
        Filesystem::Pack(file, image) => {
            let file = file.clone();
            let image = image.clone();
            let tree = tokio::task::spawn_blocking(move || {
                use std::io::Seek;
                let mut file = &*file;
                file.seek(std::io::SeekFrom::Start(0))?;
                read_save_stream(std::io::BufReader::new(file), Some(&image))
            })
            .await
            .map_err(|e| BuildError::Io {
                what: "reading a pack".into(),
                message: e.to_string(),
            })?
            .map_err(io_err)?;
            Ok(Some(tree))
        }
        Filesystem::Local(reference) => {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
            let reader =
                tokio::task::spawn_blocking(move || read_save_stream(ChannelReader::new(rx), None));
            let sent = engine
                .save_images(&[reference], |chunk| {
                    tx.send(chunk.to_vec())
                        .map_err(|_| std::io::Error::other("the layer reader stopped"))
                })
                .await;
            drop(tx);
            let tree = reader.await.map_err(|e| BuildError::Io {
                what: "reading image layers".into(),
                message: e.to_string(),
            })?;
            sent?;
            Ok(Some(tree.map_err(io_err)?))
        }
    }
}

/// A `Read` over chunks arriving on a channel.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: std::sync::mpsc::Receiver<Vec<u8>>) -> Self {
        ChannelReader {
            rx,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One layer tar's entries, in order, with whiteouts kept as such.
type LayerEntries = Vec<(String, Option<FileEntry>, Option<String>)>;

/// Read a `docker save` tar: every layer tar it holds (gzip ones uncompressed, a symlinked
/// one through its target), then the manifest to put the layers of the image whose config
/// digest is `image` (else the last one) in order and apply them. A layer in a compression
/// devenv cannot read is named in the tree's notes.
fn read_save_stream(reader: impl Read, image: Option<&str>) -> std::io::Result<Tree> {
    let mut archive = tar::Archive::new(reader);
    let mut layers: BTreeMap<String, LayerEntries> = BTreeMap::new();
    let mut unreadable: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<Vec<u8>> = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if path == "manifest.json" {
            let mut text = Vec::new();
            entry.read_to_end(&mut text)?;
            manifest = Some(text);
        } else if entry.header().entry_type() == tar::EntryType::Symlink {
            let target = entry.link_name()?.unwrap_or_default();
            if let Some(to) = super::pack_archive::resolve_link(&path, &target.to_string_lossy()) {
                links.insert(path, to);
            }
        } else if path.ends_with("/layer.tar") || path.starts_with("blobs/sha256/") {
            let mut head = Vec::with_capacity(512);
            (&mut entry).take(512).read_to_end(&mut head)?;
            let is_tar = head.len() == 512 && &head[257..262] == b"ustar";
            let chained = std::io::Cursor::new(head.clone()).chain(&mut entry);
            if is_tar || (head.is_empty() && path.ends_with("/layer.tar")) {
                layers.insert(path, read_layer(chained)?);
            } else if head.starts_with(&[0x1f, 0x8b]) {
                layers.insert(path, read_layer(flate2::read::GzDecoder::new(chained))?);
            } else if let Some(kind) = compression(&head) {
                unreadable.insert(path, kind);
            }
        }
    }
    let manifest = manifest.ok_or_else(|| std::io::Error::other("no manifest.json"))?;
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&manifest).map_err(std::io::Error::other)?;
    let item = items
        .iter()
        .find(|i| {
            let hex = image.map(|id| id.trim_start_matches("sha256:"));
            i["Config"]
                .as_str()
                .zip(hex)
                .is_some_and(|(c, hex)| c.trim_end_matches(".json").ends_with(hex))
        })
        .or_else(|| items.last())
        .ok_or_else(|| std::io::Error::other("empty manifest.json"))?;
    let mut tree = Tree::default();
    let paths = item["Layers"].as_array().cloned().unwrap_or_default();
    for (index, p) in paths.iter().enumerate() {
        let p = p.as_str().unwrap_or_default();
        let p = links.get(p).map_or(p, String::as_str);
        if let Some(entries) = layers.get(p) {
            apply_layer(&mut tree, index, entries);
        } else {
            let why = unreadable.get(p).map_or_else(
                || "missing".to_owned(),
                |kind| format!("{kind}-compressed, which devenv cannot read"),
            );
            tree.notes.push(format!(
                "filesystem layer {} ({p}) is {why}: its files are not compared",
                index + 1
            ));
        }
    }
    Ok(tree)
}

/// The compression a layer's first bytes show, for those devenv does not read.
fn compression(head: &[u8]) -> Option<&'static str> {
    match head {
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
        [0x42, 0x5a, 0x68, ..] => Some("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some("xz"),
        _ => None,
    }
}

/// The entries of one layer tar: files with their digest, whiteouts as `None`, and the
/// content of package databases.
fn read_layer(reader: impl Read) -> std::io::Result<LayerEntries> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.to_string_lossy().into_owned();
        let path = raw
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if path.is_empty() {
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or(&path);
        if name.starts_with(".wh.") {
            out.push((path, None, None));
            continue;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => "file",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            _ => "other",
        };
        let mode = header.mode().unwrap_or(0);
        let owner = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
        let size = header.size().unwrap_or(0);
        let mut keep = None;
        let digest = if kind == "file" {
            let mut d = StreamDigest::default();
            let want = path == DPKG_STATUS || path == APK_INSTALLED;
            let mut content = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                d.update(&buf[..n]);
                if want {
                    content.extend_from_slice(&buf[..n]);
                }
            }
            if want {
                keep = Some(String::from_utf8_lossy(&content).into_owned());
            }
            d.finish()
        } else {
            entry
                .link_name()?
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        out.push((
            path,
            Some(FileEntry {
                layer: 0,
                kind,
                mode,
                owner,
                size,
                digest,
            }),
            keep,
        ));
    }
    Ok(out)
}

fn apply_layer(tree: &mut Tree, index: usize, entries: &LayerEntries) {
    for (path, entry, content) in entries {
        let Some(entry) = entry else {
            // `.wh..wh..opq`: everything below the directory from lower layers goes;
            // `.wh.name`: that path (and everything below it) goes.
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            let gone = if name == ".wh..wh..opq" {
                format!("{dir}/")
            } else {
                let target = name.trim_start_matches(".wh.");
                if dir.is_empty() {
                    target.to_owned()
                } else {
                    format!("{dir}/{target}")
                }
            };
            let below = if gone.ends_with('/') {
                gone.clone()
            } else {
                format!("{gone}/")
            };
            tree.files
                .retain(|p, e| e.layer == index || !(p == &gone || p.starts_with(&below)));
            continue;
        };
        let mut entry = entry.clone();
        entry.layer = index;
        if path == DPKG_STATUS {
            tree.dpkg.clone_from(content);
        } else if path == APK_INSTALLED {
            tree.apk.clone_from(content);
        }
        tree.files.insert(path.clone(), entry);
    }
}

/// Name the step that wrote filesystem layer `index` of `side`.
fn layer_name(side: &Side, index: usize) -> String {
    side.layers
        .iter()
        .find(|l| l.fs_layers.is_some_and(|n| n > index))
        .map_or_else(
            || format!("layer {}", index + 1),
            |l| {
                if l.step == "config" {
                    "base".to_owned()
                } else {
                    l.step.clone()
                }
            },
        )
}

fn file_changes(a: &Tree, b: &Tree, sa: &Side, sb: &Side) -> Vec<FileChanges> {
    fn group(
        groups: &mut BTreeMap<(usize, String), FileChanges>,
        order: usize,
        name: String,
    ) -> &mut FileChanges {
        groups
            .entry((order, name.clone()))
            .or_insert_with(|| FileChanges {
                layer: name,
                ..FileChanges::default()
            })
    }
    let mut groups: BTreeMap<(usize, String), FileChanges> = BTreeMap::new();
    for (path, eb) in &b.files {
        match a.files.get(path) {
            None => group(&mut groups, eb.layer, layer_name(sb, eb.layer))
                .added
                .push(format!("/{path}")),
            Some(ea) if !ea.same_content(eb) => {
                let what = if ea.kind != eb.kind {
                    format!("{} → {}", ea.kind, eb.kind)
                } else if ea.digest != eb.digest {
                    if ea.kind == "file" {
                        format!("content, {} → {} bytes", ea.size, eb.size)
                    } else {
                        format!("target {} → {}", ea.digest, eb.digest)
                    }
                } else if ea.mode != eb.mode {
                    format!("mode {:o} → {:o}", ea.mode, eb.mode)
                } else {
                    format!(
                        "owner {}:{} → {}:{}",
                        ea.owner.0, ea.owner.1, eb.owner.0, eb.owner.1
                    )
                };
                group(&mut groups, eb.layer, layer_name(sb, eb.layer))
                    .changed
                    .push(format!("/{path} ({what})"));
            }
            Some(_) => {}
        }
    }
    for (path, ea) in &a.files {
        if !b.files.contains_key(path) {
            group(&mut groups, ea.layer, layer_name(sa, ea.layer))
                .removed
                .push(format!("/{path}"));
        }
    }
    groups.into_values().collect()
}

/// `name → version` from dpkg's status file (installed packages only) or apk's database.
fn packages(tree: &Tree) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(status) = &tree.dpkg {
        for para in status.split("\n\n") {
            let (mut name, mut version, mut installed) = (None, None, false);
            for line in para.lines() {
                if let Some(v) = line.strip_prefix("Package: ") {
                    name = Some(v.trim());
                } else if let Some(v) = line.strip_prefix("Version: ") {
                    version = Some(v.trim());
                } else if let Some(v) = line.strip_prefix("Status: ") {
                    installed = v.trim().ends_with(" installed");
                }
            }
            if let (Some(n), Some(v), true) = (name, version, installed) {
                out.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    if let Some(db) = &tree.apk {
        for para in db.split("\n\n") {
            let (mut name, mut version) = (None, None);
            for line in para.lines() {
                if let Some(v) = line.strip_prefix("P:") {
                    name = Some(v.trim());
                } else if let Some(v) = line.strip_prefix("V:") {
                    version = Some(v.trim());
                }
            }
            if let (Some(n), Some(v)) = (name, version) {
                out.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    out
}

fn package_changes(a: &Tree, b: &Tree) -> PackageChanges {
    let (pa, pb) = (packages(a), packages(b));
    let mut out = PackageChanges::default();
    for (n, v) in &pb {
        match pa.get(n) {
            None => out.added.push(format!("{n} {v}")),
            Some(w) if w != v => out.changed.push(format!("{n} {w} → {v}")),
            Some(_) => {}
        }
    }
    for (n, v) in &pa {
        if !pb.contains_key(n) {
            out.removed.push(format!("{n} {v}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_with(dpkg: &str) -> Tree {
        Tree {
            dpkg: Some(dpkg.to_owned()),
            ..Tree::default()
        }
    }

    #[test]
    fn dpkg_packages_are_compared_by_version() {
        let a = tree_with(
            "Package: curl\nStatus: install ok installed\nVersion: 7.88\n\n\
             Package: gone\nStatus: install ok installed\nVersion: 1\n\n\
             Package: half\nStatus: deinstall ok config-files\nVersion: 2\n",
        );
        let b = tree_with(
            "Package: curl\nStatus: install ok installed\nVersion: 8.0\n\n\
             Package: jq\nStatus: install ok installed\nVersion: 1.6\n",
        );
        let c = package_changes(&a, &b);
        assert_eq!(c.added, ["jq 1.6"]);
        assert_eq!(c.removed, ["gone 1"]);
        assert_eq!(c.changed, ["curl 7.88 → 8.0"]);
    }

    #[test]
    fn a_layer_devenv_cannot_read_is_named_not_skipped() {
        let mut save = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            save.append_data(&mut h, path, data).unwrap();
        };
        add("a/layer.tar", &[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
        add(
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":null,"Layers":["a/layer.tar"]}]"#,
        );
        let bytes = save.into_inner().unwrap();
        let tree = read_save_stream(bytes.as_slice(), None).unwrap();
        assert_eq!(
            tree.notes,
            [
                "filesystem layer 1 (a/layer.tar) is zstd-compressed, which devenv cannot read: \
              its files are not compared"
            ]
        );
    }

    #[test]
    fn whiteouts_remove_lower_files() {
        let file = |d: &str| FileEntry {
            layer: 0,
            kind: "file",
            mode: 0o644,
            owner: (0, 0),
            size: 1,
            digest: d.into(),
        };
        let mut tree = Tree::default();
        apply_layer(
            &mut tree,
            0,
            &vec![
                ("a/x".into(), Some(file("1")), None),
                ("a/y".into(), Some(file("2")), None),
                ("b".into(), Some(file("3")), None),
            ],
        );
        apply_layer(
            &mut tree,
            1,
            &vec![
                ("a/.wh..wh..opq".into(), None, None),
                ("a/z".into(), Some(file("4")), None),
                (".wh.b".into(), None, None),
            ],
        );
        let paths: Vec<&String> = tree.files.keys().collect();
        assert_eq!(paths, ["a/z"]);
    }
}

//! The `docker save` archive inside a pack, entry by entry: each regular file hashed as it
//! is (an image config's id) and uncompressed (a layer tar's diff id; gzip is read, other
//! compressions are named), small JSON kept to be read, symlinks resolved inside the archive
//! only, an entry written twice refused; and, for `load`, every entry the engine may be given
//! copied into the checked archive as it passes. What the entries claim is checked in
//! [`super::pack_check`].

use std::collections::HashMap;
use std::io::{Read, Write};

use crate::fingerprint::StreamDigest;

/// Larger JSON entries (image configs, manifest.json) are not kept to be read.
const MAX_JSON: usize = 16 << 20;

/// The checked archive for the engine: a tar writer over the temporary file.
pub type LoadCopy<'a> = tar::Builder<&'a mut dyn Write>;

/// One regular file of the `docker save` archive, as far as checking needs it.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// sha256 of the bytes (an image config's id).
    pub(super) raw: String,
    /// sha256 of the uncompressed content (a layer tar's diff id); `None` when it is
    /// compressed in a way devenv cannot read.
    pub(super) plain: Option<String>,
    /// The compression, when there is one.
    pub(super) compression: Option<&'static str>,
    /// The content, for JSON entries small enough to read.
    pub(super) json: Option<Vec<u8>>,
}

/// What the archive holds: regular files, symlinks (path → resolved target) and the manifest.
#[derive(Debug, Default)]
pub(super) struct Content {
    pub(super) files: HashMap<String, Stored>,
    pub(super) links: HashMap<String, String>,
    pub(super) manifest: Option<Vec<u8>>,
}

impl Content {
    /// A regular file, following a symlink (docker save links a layer shared between images).
    pub(super) fn file(&self, path: &str) -> Option<&Stored> {
        let path = self.links.get(path).map_or(path, String::as_str);
        self.files.get(path)
    }
}

/// Entries the engine is never given: names (`repositories`, an OCI `index.json`) and the
/// manifest, which is written again without them.
const DROPPED: [&str; 4] = ["manifest.json", "repositories", "index.json", "oci-layout"];

pub(super) fn read_entries(
    reader: &mut impl Read,
    mut copy: Option<&mut LoadCopy<'_>>,
) -> std::io::Result<Content> {
    let mut content = Content::default();
    let mut seen = std::collections::HashSet::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_owned();
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(std::io::Error::other(format!(
                "the entry `{path}` leaves the archive"
            )));
        }
        // Unpacked, a later entry replaces an earlier one: what was checked would not be what
        // the engine reads.
        if !seen.insert(path.trim_end_matches('/').to_owned()) {
            return Err(std::io::Error::other(format!(
                "the entry `{path}` appears twice"
            )));
        }
        let mut header = entry.header().clone();
        match header.entry_type() {
            tar::EntryType::Directory => {
                if let Some(out) = copy.as_deref_mut() {
                    out.append_data(&mut header, &path, std::io::empty())?;
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let resolved = resolve_link(&path, &target).ok_or_else(|| {
                    std::io::Error::other(format!("the link `{path}` leaves the archive"))
                })?;
                if let Some(out) = copy.as_deref_mut() {
                    out.append_link(&mut header, &path, &target)?;
                }
                content.links.insert(path, resolved);
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if path == "manifest.json" {
                    let mut text = Vec::new();
                    (&mut entry).take(MAX_JSON as u64).read_to_end(&mut text)?;
                    content.manifest = Some(text);
                    continue;
                }
                let keep = !DROPPED.contains(&path.as_str());
                let mut tee = Tee::new(&mut entry)?;
                if let Some(out) = copy.as_deref_mut().filter(|_| keep) {
                    out.append_data(&mut header, &path, &mut tee)?;
                } else {
                    std::io::copy(&mut tee, &mut std::io::sink())?;
                }
                content.files.insert(path, tee.finish()?);
            }
            // docker save writes nothing else; the engine is given nothing else.
            _ => {}
        }
    }
    Ok(content)
}

/// `target` of a link at `path`, as a path in the archive; `None` when it leaves it.
pub(super) fn resolve_link(path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Reads an entry through, hashing it raw and uncompressed and keeping small JSON.
struct Tee<R> {
    inner: R,
    head: Vec<u8>,
    head_pos: usize,
    raw: StreamDigest,
    gzip: Option<flate2::write::GzDecoder<DigestWriter>>,
    pub(super) compression: Option<&'static str>,
    pub(super) json: Option<Vec<u8>>,
}

/// A `Write` into a digest (what a decoder writes the uncompressed bytes to).
#[derive(Default)]
struct DigestWriter(StreamDigest);

impl Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<R: Read> Tee<R> {
    fn new(mut inner: R) -> std::io::Result<Self> {
        let mut head = Vec::with_capacity(512);
        (&mut inner).take(512).read_to_end(&mut head)?;
        let compression = match head.as_slice() {
            [0x1f, 0x8b, ..] => Some("gzip"),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
            [0x42, 0x5a, 0x68, ..] => Some("bzip2"),
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some("xz"),
            _ => None,
        };
        let is_json = head
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[');
        Ok(Tee {
            inner,
            head,
            head_pos: 0,
            raw: StreamDigest::default(),
            gzip: (compression == Some("gzip"))
                .then(|| flate2::write::GzDecoder::new(DigestWriter::default())),
            compression,
            json: is_json.then(Vec::new),
        })
    }

    fn finish(self) -> std::io::Result<Stored> {
        let raw = self.raw.finish();
        let plain = match (self.compression, self.gzip) {
            (None, _) => Some(raw.clone()),
            (Some(_), Some(gz)) => Some(gz.finish()?.0.finish()),
            (Some(_), None) => None,
        };
        Ok(Stored {
            raw,
            plain,
            compression: self.compression,
            json: self.json,
        })
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = if self.head_pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.head_pos);
            buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
            self.head_pos += n;
            n
        } else {
            self.inner.read(buf)?
        };
        let bytes = &buf[..n];
        self.raw.update(bytes);
        if let Some(gz) = &mut self.gzip {
            gz.write_all(bytes)?;
        }
        if let Some(json) = &mut self.json {
            if json.len() + n > MAX_JSON {
                self.json = None;
            } else {
                json.extend_from_slice(bytes);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_archive_only() {
        assert_eq!(
            resolve_link("b/layer.tar", "../a/layer.tar").as_deref(),
            Some("a/layer.tar")
        );
        assert_eq!(resolve_link("b/layer.tar", "../../etc/passwd"), None);
        assert_eq!(resolve_link("b/layer.tar", "/etc/passwd"), None);
    }

    #[test]
    fn an_entry_written_twice_is_refused() {
        let mut b = tar::Builder::new(Vec::new());
        for data in [b"good".as_slice(), b"evil".as_slice()] {
            let mut h = tar::Header::new_ustar();
            h.set_size(4);
            h.set_mode(0o644);
            b.append_data(&mut h, "a/layer.tar", data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let err = read_entries(&mut bytes.as_slice(), None).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn a_gzip_layer_is_hashed_uncompressed() {
        let plain = b"some layer bytes".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let packed = gz.finish().unwrap();
        let mut tee = Tee::new(packed.as_slice()).unwrap();
        std::io::copy(&mut tee, &mut std::io::sink()).unwrap();
        let stored = tee.finish().unwrap();
        assert_eq!(stored.compression, Some("gzip"));
        assert_eq!(
            stored.plain.as_deref(),
            Some(crate::fingerprint::sha256_hex(&plain).as_str())
        );
        assert_ne!(stored.plain, Some(stored.raw));
    }
}

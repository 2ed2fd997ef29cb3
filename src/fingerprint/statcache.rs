//! A local stat cache: (path, size, mtime, ctime, inode, mode) → digest, so unchanged input
//! files are not re-read on every command. The cache only saves reading; the digest it
//! returns is always the file's sha256, so the hash never depends on stat data.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::inputs::{kind_of, stat_key, InputFile, InputKind};
use super::FingerprintError;

/// Entries younger than this are not trusted (a write in the same mtime tick could follow).
const RACY_NS: i128 = 2_000_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    size: u64,
    mtime: i128,
    ctime: i128,
    ino: u64,
    mode: u32,
    digest: String,
}

#[derive(Debug, Default)]
pub struct StatCache {
    file: Option<PathBuf>,
    entries: HashMap<String, Entry>,
    dirty: bool,
}

impl StatCache {
    /// Load from `file` (a missing or unreadable cache is an empty one).
    pub fn load(file: PathBuf) -> StatCache {
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        StatCache {
            file: Some(file),
            entries,
            dirty: false,
        }
    }

    /// Persist if anything changed; failures are ignored (the cache is only an optimisation).
    pub fn save(&mut self) {
        let Some(file) = &self.file else { return };
        if !self.dirty {
            return;
        }
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = file.with_extension("tmp");
        if let Ok(bytes) = serde_json::to_vec(&self.entries) {
            if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, file).is_ok() {
                self.dirty = false;
            }
        }
    }

    /// Hash every file (relative path → absolute path), reading only those whose stat
    /// changed, on all cores.
    pub fn hash_all(
        &mut self,
        files: BTreeMap<String, PathBuf>,
    ) -> Result<Vec<InputFile>, FingerprintError> {
        let now = now_ns();
        let mut out = Vec::with_capacity(files.len());
        let mut todo = Vec::new();
        for (rel, abs) in files {
            let meta = std::fs::symlink_metadata(&abs).map_err(|e| io_err(&rel, &e))?;
            let kind = kind_of(&meta);
            let (size, mtime, ctime, ino, mode) = stat_key(&meta);
            let cached = self.entries.get(&rel).filter(|e| {
                e.size == size
                    && e.mtime == mtime
                    && e.ctime == ctime
                    && e.ino == ino
                    && e.mode == mode
            });
            let digest = cached.map(|e| e.digest.clone()).unwrap_or_default();
            if digest.is_empty() {
                todo.push(out.len());
            }
            out.push((
                InputFile {
                    rel,
                    kind,
                    digest,
                    size,
                },
                abs,
                (mtime, ctime, ino, mode),
            ));
        }
        let digests = hash_parallel(&out, &todo)?;
        for (idx, digest) in todo.into_iter().zip(digests) {
            let (file, _, (mtime, ctime, ino, mode)) = &mut out[idx];
            file.digest = digest;
            if now - *mtime > RACY_NS && now - *ctime > RACY_NS {
                let entry = Entry {
                    size: file.size,
                    mtime: *mtime,
                    ctime: *ctime,
                    ino: *ino,
                    mode: *mode,
                    digest: file.digest.clone(),
                };
                self.entries.insert(file.rel.clone(), entry);
                self.dirty = true;
            }
        }
        Ok(out.into_iter().map(|(f, _, _)| f).collect())
    }
}

type Pending = (InputFile, PathBuf, (i128, i128, u64, u32));

/// Hash the files at `todo` indexes, split over the available cores.
fn hash_parallel(files: &[Pending], todo: &[usize]) -> Result<Vec<String>, FingerprintError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if todo.len() < 8 || threads == 1 {
        return todo.iter().map(|&i| hash_one(&files[i])).collect();
    }
    let chunk = todo.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = todo
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|&i| hash_one(&files[i])).collect()))
            .collect();
        let mut all = Vec::with_capacity(todo.len());
        for h in handles {
            let part: Result<Vec<String>, FingerprintError> = h.join().expect("hash thread");
            all.extend(part?);
        }
        Ok(all)
    })
}

fn hash_one((file, abs, _): &Pending) -> Result<String, FingerprintError> {
    if file.kind == InputKind::Symlink {
        let target = std::fs::read_link(abs).map_err(|e| io_err(&file.rel, &e))?;
        return Ok(super::sha256_hex(target.as_os_str().as_encoded_bytes()));
    }
    let mut f = std::fs::File::open(abs).map_err(|e| io_err(&file.rel, &e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(&file.rel, &e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn io_err(rel: &str, e: &std::io::Error) -> FingerprintError {
    FingerprintError::Io {
        path: rel.to_owned(),
        message: e.to_string(),
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// sha256 of a whole file, through the cache (used for rootfs tarballs and env files).
pub fn file_digest(
    cache: &mut StatCache,
    root: &Path,
    rel: &str,
) -> Result<String, FingerprintError> {
    let mut files = BTreeMap::new();
    files.insert(rel.to_owned(), root.join(rel));
    Ok(cache.hash_all(files)?.remove(0).digest)
}

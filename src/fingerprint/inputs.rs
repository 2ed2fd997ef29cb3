//! Expanding a step's `inputs` globs into a sorted list of hashed files.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use walkdir::WalkDir;

use super::statcache::StatCache;
use super::FingerprintError;
use crate::manifest::Step;

/// Directories never taken as inputs: VCS metadata and devenv's own state.
const SKIPPED_DIRS: &[&str] = &[".git", ".devenv"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    File,
    Executable,
    /// A symlink; `digest` is the sha256 of its target text.
    Symlink,
}

impl InputKind {
    pub fn tag(self) -> &'static str {
        match self {
            InputKind::File => "file",
            InputKind::Executable => "exec",
            InputKind::Symlink => "symlink",
        }
    }
}

/// One input file: project-relative path (always `/`-separated), kind and content digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub rel: String,
    pub kind: InputKind,
    pub digest: String,
    pub size: u64,
}

impl InputFile {
    pub fn path(&self, root: &Path) -> PathBuf {
        root.join(&self.rel)
    }
}

/// Expand all of a step's patterns (sorted, de-duplicated) and hash the files.
pub fn expand_inputs(
    root: &Path,
    step: &Step,
    cache: &mut StatCache,
) -> Result<Vec<InputFile>, FingerprintError> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for pattern in &step.inputs {
        let before = found.len();
        let matched = expand_pattern(root, pattern, step)?;
        let none = matched.is_empty();
        found.extend(matched);
        if none && found.len() == before {
            return Err(FingerprintError::NoMatch {
                step: step.name.clone(),
                pattern: pattern.clone(),
            });
        }
    }
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // One realpath per directory, not per file: inputs come in directories of many files.
    let mut checked = std::collections::HashSet::new();
    for (rel, abs) in &found {
        let parent = abs.parent().unwrap_or(abs);
        if !checked.contains(parent) {
            check_inside(&canon_root, parent, rel, step)?;
            checked.insert(parent.to_path_buf());
        }
    }
    cache.hash_all(found)
}

/// The files (not directories) one pattern matches. A literal directory means everything
/// below it.
fn expand_pattern(
    root: &Path,
    pattern: &str,
    step: &Step,
) -> Result<BTreeMap<String, PathBuf>, FingerprintError> {
    let pattern = pattern.trim_start_matches("./");
    let (prefix, is_glob) = literal_prefix(pattern);
    let start = root.join(&prefix);
    let mut out = BTreeMap::new();
    if !is_glob {
        let meta = std::fs::symlink_metadata(&start);
        match meta {
            Ok(m) if m.is_dir() => walk(root, &start, None, &mut out),
            Ok(_) => {
                out.insert(pattern.trim_end_matches('/').to_owned(), start);
            }
            Err(_) => {}
        }
        return Ok(out);
    }
    let matcher = glob(pattern, step)?;
    if start.is_dir() {
        walk(root, &start, Some(&matcher), &mut out);
    }
    Ok(out)
}

fn glob(pattern: &str, step: &Step) -> Result<GlobMatcher, FingerprintError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| FingerprintError::BadPattern {
            step: step.name.clone(),
            pattern: pattern.to_owned(),
            message: e.kind().to_string(),
        })
}

/// Walk `start` in name order, collecting non-directories (matching `matcher` if given).
fn walk(
    root: &Path,
    start: &Path,
    matcher: Option<&GlobMatcher>,
    out: &mut BTreeMap<String, PathBuf>,
) {
    let walker = WalkDir::new(start)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir()
                && SKIPPED_DIRS
                    .iter()
                    .any(|d| e.file_name() == std::ffi::OsStr::new(d)))
        });
    for entry in walker.filter_map(Result::ok) {
        if entry.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel_string(rel);
        if matcher.is_none_or(|m| m.is_match(&rel)) {
            out.insert(rel, entry.path().to_path_buf());
        }
    }
}

/// `a/b/c` with `/` separators whatever the platform.
fn rel_string(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The leading path components without glob metacharacters, and whether any remain.
fn literal_prefix(pattern: &str) -> (PathBuf, bool) {
    let mut prefix = PathBuf::new();
    for comp in pattern.split('/') {
        if comp.contains(['*', '?', '[', '{']) {
            return (prefix, true);
        }
        prefix.push(comp);
    }
    (prefix, false)
}

/// Refuse an input whose parent directories resolve outside the project (a symlinked
/// directory); a symlink file itself is taken as a link, never followed.
fn check_inside(
    canon_root: &Path,
    parent: &Path,
    rel: &str,
    step: &Step,
) -> Result<(), FingerprintError> {
    match parent.canonicalize() {
        Ok(p) if p.starts_with(canon_root) => Ok(()),
        Ok(_) => Err(FingerprintError::Escape {
            step: step.name.clone(),
            path: rel.to_owned(),
        }),
        Err(e) => Err(FingerprintError::Io {
            path: rel.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Classify a file from its metadata.
pub(super) fn kind_of(meta: &std::fs::Metadata) -> InputKind {
    if meta.file_type().is_symlink() {
        InputKind::Symlink
    } else if meta.permissions().mode() & 0o111 != 0 {
        InputKind::Executable
    } else {
        InputKind::File
    }
}

/// Stat identity used by the cache: (size, mtime ns, ctime ns, inode, mode).
pub(super) fn stat_key(meta: &std::fs::Metadata) -> (u64, i128, i128, u64, u32) {
    let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    let ctime = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
    (meta.size(), mtime, ctime, meta.ino(), meta.mode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix("a/b/*.rs"), (PathBuf::from("a/b"), true));
        assert_eq!(
            literal_prefix("Cargo.toml"),
            (PathBuf::from("Cargo.toml"), false)
        );
        assert_eq!(literal_prefix("**/x"), (PathBuf::new(), true));
    }
}

//! The archive of a step's inputs copied into its build container: project-relative paths
//! under the workdir, with owners, times and modes normalised so the layer does not depend
//! on the host.

use std::fs::File;
use std::path::PathBuf;

use super::BuildError;
use crate::fingerprint::{InputFile, InputKind};

/// A tar of the inputs at their project-relative paths under `workdir`, with normalised
/// owners and times so the layer does not depend on the host.
pub(super) fn inputs_tar(
    root: &std::path::Path,
    workdir: &str,
    inputs: &[InputFile],
) -> Result<Vec<u8>, BuildError> {
    let io = |path: &str, e: std::io::Error| BuildError::Io {
        what: path.to_owned(),
        message: e.to_string(),
    };
    let base = workdir.trim_start_matches('/').trim_end_matches('/');
    let mut tar = tar::Builder::new(Vec::new());
    // No directory entries: the engine creates missing parents (root, 0755) and leaves
    // existing ones alone, where an entry would re-own e.g. `/home/node` of the image.
    for f in inputs {
        let target = format!("{base}/{}", f.rel);
        let path: PathBuf = f.path(root);
        match f.kind {
            InputKind::Symlink => {
                let link = std::fs::read_link(&path).map_err(|e| io(&f.rel, e))?;
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut h, &target, &link)
                    .map_err(|e| io(&f.rel, e))?;
            }
            kind => {
                let mode = if kind == InputKind::Executable {
                    0o755
                } else {
                    0o644
                };
                let file = File::open(&path).map_err(|e| io(&f.rel, e))?;
                let len = file.metadata().map_err(|e| io(&f.rel, e))?.len();
                let mut h = header(tar::EntryType::Regular, mode, len);
                tar.append_data(&mut h, &target, file)
                    .map_err(|e| io(&f.rel, e))?;
            }
        }
    }
    tar.into_inner().map_err(|e| io("inputs archive", e))
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

//! `devenv prune`: remove layer images and build leftovers that the current hash does not
//! use. Acts only on objects carrying devenv's labels.

use std::collections::HashSet;

use super::lock::NamedLock;
use super::{BuildError, LAYER_REPO};
use crate::engine::{labels, Engine};

/// What prune removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub images: usize,
    pub containers: usize,
    pub bytes: i64,
}

/// Remove this project's (or with `project = None`, every project's) images except the
/// layers in `keep`, and build containers nobody is using.
pub async fn prune(
    engine: &Engine,
    project: Option<&str>,
    keep: &HashSet<String>,
) -> Result<Pruned, BuildError> {
    let mut out = Pruned {
        containers: remove_dead_build_containers(engine, project).await?,
        ..Pruned::default()
    };
    let mut filter = vec![(labels::MANAGED, "true")];
    if let Some(p) = project {
        filter.push((labels::PROJECT, p));
    }
    let mut images = engine.list_images(&filter).await?;
    // Newest first: children go before the parents they depend on.
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    for img in images {
        // Layers are known by their key, imported root filesystems by their sha256 tag.
        let key = img.labels.get(labels::KEY).cloned().or_else(|| {
            img.repo_tags.iter().find_map(|t| {
                t.strip_prefix(super::base::ROOTFS_REPO)
                    .and_then(|t| t.strip_prefix(':'))
                    .map(str::to_owned)
            })
        });
        if key.is_some_and(|k| keep.contains(&k)) {
            untag_stale(engine, &img.repo_tags, keep).await?;
            continue;
        }
        if img.containers > 0 {
            continue;
        }
        let mut gone = false;
        for tag in &img.repo_tags {
            gone = engine.remove_image(tag).await?;
        }
        if img.repo_tags.is_empty() {
            gone = engine.remove_image(&img.id).await?;
        }
        if gone {
            out.images += 1;
            out.bytes += img.size;
        }
    }
    Ok(out)
}

/// Remove build containers left by interrupted builds (those whose key lock is free, so no
/// live build owns them); returns how many.
pub async fn remove_dead_build_containers(
    engine: &Engine,
    project: Option<&str>,
) -> Result<usize, BuildError> {
    let mut filter = vec![(labels::MANAGED, "true"), (labels::ROLE, "build")];
    if let Some(p) = project {
        filter.push((labels::PROJECT, p));
    }
    let mut removed = 0;
    for c in engine.list_containers(&filter).await? {
        let key = c.labels.get(labels::KEY).cloned().unwrap_or_default();
        if let Some(_lock) = NamedLock::try_acquire(&key)? {
            engine.remove_container(&c.id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Drop project tags (`devenv/<project>:<hash>`) on kept images whose hash is not current.
async fn untag_stale(
    engine: &Engine,
    tags: &[String],
    keep: &HashSet<String>,
) -> Result<(), BuildError> {
    for tag in tags {
        let Some((repo, t)) = tag.rsplit_once(':') else {
            continue;
        };
        if repo != LAYER_REPO && repo.starts_with("devenv/") && repo != super::base::ROOTFS_REPO
            && !keep.contains(t)
        {
            engine.remove_image(tag).await?;
        }
    }
    Ok(())
}

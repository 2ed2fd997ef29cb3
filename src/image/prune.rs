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
pub async fn prune<S: std::hash::BuildHasher>(
    engine: &Engine,
    project: Option<&str>,
    keep: &HashSet<String, S>,
) -> Result<Pruned, BuildError> {
    let mut out = Pruned {
        containers: remove_dead_build_containers(engine, project).await?,
        ..Pruned::default()
    };
    let in_use = engine.images_in_use().await?;
    let all = engine.list_images(&[(labels::MANAGED, "true")]).await?;
    let mut keep: HashSet<String> = keep.iter().cloned().collect();
    if let Some(p) = project {
        // Layers are shared by projects with a common prefix: keep every layer under
        // another project's current image, whoever built it first.
        keep.extend(ancestors_of_other_projects(&all, p));
    }
    let keep = &keep;
    let mut images: Vec<_> = all
        .into_iter()
        .filter(|i| {
            project.is_none_or(|p| i.labels.get(labels::PROJECT).map(String::as_str) == Some(p))
        })
        .collect();
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
        if in_use.contains(&img.id) {
            continue;
        }
        let mut removed = true;
        for tag in &img.repo_tags {
            removed &= engine.remove_image(tag).await?;
        }
        if img.repo_tags.is_empty() {
            removed = engine.remove_image(&img.id).await?;
        }
        // Removing its last name deletes an image; check it is really gone.
        if removed && engine.image(&img.id).await?.is_none() {
            out.images += 1;
            out.bytes += img.size;
        }
    }
    Ok(out)
}

/// Keys of every layer below an image that another project currently names
/// (`devenv/<other>:<hash>`), following the layers' parent labels.
fn ancestors_of_other_projects(all: &[crate::engine::ImageInfo], project: &str) -> HashSet<String> {
    let parent: std::collections::HashMap<&str, &str> = all
        .iter()
        .filter_map(|i| {
            Some((
                i.labels.get(labels::KEY)?.as_str(),
                i.labels.get(labels::PARENT)?.as_str(),
            ))
        })
        .collect();
    let own = format!("devenv/{project}:");
    let mut keep = HashSet::new();
    for tag in all.iter().flat_map(|i| &i.repo_tags) {
        let Some((repo, hash)) = tag.rsplit_once(':') else {
            continue;
        };
        let final_tag = repo.starts_with("devenv/")
            && repo != LAYER_REPO
            && repo != super::base::ROOTFS_REPO
            && !tag.starts_with(&own);
        let mut key = final_tag.then_some(hash);
        while let Some(k) = key.filter(|k| !k.is_empty() && keep.insert((*k).to_owned())) {
            key = parent.get(k).copied();
        }
    }
    keep
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
async fn untag_stale<S: std::hash::BuildHasher>(
    engine: &Engine,
    tags: &[String],
    keep: &HashSet<String, S>,
) -> Result<(), BuildError> {
    for tag in tags {
        let Some((repo, t)) = tag.rsplit_once(':') else {
            continue;
        };
        if repo != LAYER_REPO
            && repo.starts_with("devenv/")
            && repo != super::base::ROOTFS_REPO
            && !keep.contains(t)
        {
            engine.remove_image(tag).await?;
        }
    }
    Ok(())
}

//! `devenv prune`: remove layer images and build leftovers that the current hash does not
//! use.
//!
//! devenv's images are known by devenv's own names, never by labels alone: `docker build`
//! `FROM` a devenv image, or a `docker commit` of the environment container, copies every
//! label into the user's image. So prune only ever removes names of devenv's own forms
//! (`devenv/layer:<key>`, `devenv/rootfs:<sha256>`, `devenv/<project>:<hash>`,
//! `devenv/project/<identity>:<hash>`, each tag 64 hex) on images that also carry the
//! managed label; an image goes only when its last name does, and the engine keeps an image
//! that a user's image is built on.
//!
//! Scope is the project identity, not its name: two clones with the same `name` share the
//! tags `devenv/<name>:<hash>`, so each records its own roots
//! `devenv/project/<identity>:<hash>`, and prune keeps everything under another identity's
//! roots.

use std::collections::{HashMap, HashSet};

use super::base::ROOTFS_REPO;
use super::{leftovers, BuildError, LAYER_REPO, ROOT_REPO_PREFIX};
use crate::engine::{labels, Engine, ImageInfo};

/// What prune removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub images: usize,
    pub containers: usize,
    pub bytes: i64,
}

/// Whose images prune may remove.
#[derive(Debug, Clone, Copy)]
pub enum PruneScope<'a> {
    /// The project with this name and identity ([`super::project_identity`]).
    Project { name: &'a str, identity: &'a str },
    /// Every project.
    All,
}

/// One of devenv's own image names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name<'a> {
    /// `devenv/layer:<key>`.
    Layer(&'a str),
    /// `devenv/rootfs:<sha256 of the tarball>`.
    Rootfs(&'a str),
    /// `devenv/<project>:<hash>`.
    Final { project: &'a str, hash: &'a str },
    /// `devenv/project/<identity>:<hash>`.
    Root { identity: &'a str, hash: &'a str },
}

impl<'a> Name<'a> {
    fn parse(tag: &'a str) -> Option<Name<'a>> {
        let (repo, t) = tag.rsplit_once(':')?;
        if !is_hex(t, 64) {
            return None;
        }
        if repo == LAYER_REPO {
            return Some(Name::Layer(t));
        }
        if repo == ROOTFS_REPO {
            return Some(Name::Rootfs(t));
        }
        if let Some(identity) = repo.strip_prefix(ROOT_REPO_PREFIX) {
            return is_hex(identity, 16).then_some(Name::Root { identity, hash: t });
        }
        let project = repo.strip_prefix("devenv/")?;
        let plain = !project.is_empty() && !project.contains('/');
        plain.then_some(Name::Final { project, hash: t })
    }

    /// The key, hash or digest the name stands for.
    fn key(self) -> &'a str {
        match self {
            Name::Layer(k) | Name::Rootfs(k) => k,
            Name::Final { hash, .. } | Name::Root { hash, .. } => hash,
        }
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Remove the images in `scope` except the layers (and rootfs digests) in `keep`, and
/// build containers no live build owns.
pub async fn prune<S: std::hash::BuildHasher>(
    engine: &Engine,
    scope: PruneScope<'_>,
    keep: &HashSet<String, S>,
) -> Result<Pruned, BuildError> {
    let project = match scope {
        PruneScope::Project { name, identity } => Some((name, identity)),
        PruneScope::All => None,
    };
    let mut out = Pruned {
        containers: leftovers::remove_dead(engine, project).await?,
        ..Pruned::default()
    };
    let in_use = engine.images_in_use().await?;
    let mut all = engine.list_images(&[(labels::MANAGED, "true")]).await?;
    // Newest first: children go before the parents they depend on.
    all.sort_by_key(|i| std::cmp::Reverse(i.created));
    let doomed = doomed_names(&all, scope, keep);
    for img in &all {
        if in_use.contains(&img.id) {
            continue;
        }
        let mine: Vec<&String> = img
            .repo_tags
            .iter()
            .filter(|t| doomed.contains(*t))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut removed = true;
        for tag in &mine {
            removed &= engine.remove_image(tag).await?;
        }
        // Removing its last name deletes an image (unless a user's image is built on it).
        if removed && mine.len() == img.repo_tags.len() && engine.image(&img.id).await?.is_none() {
            out.images += 1;
            out.bytes += img.size;
        }
    }
    Ok(out)
}

/// The names prune removes.
fn doomed_names<S: std::hash::BuildHasher>(
    all: &[ImageInfo],
    scope: PruneScope<'_>,
    keep: &HashSet<String, S>,
) -> HashSet<String> {
    let names = || {
        all.iter().flat_map(|img| {
            img.repo_tags
                .iter()
                .filter_map(move |t| Some((img, t, Name::parse(t)?)))
        })
    };
    let PruneScope::Project { name, identity } = scope else {
        return names()
            .filter(|(_, _, n)| !keep.contains(n.key()))
            .map(|(_, t, _)| t.clone())
            .collect();
    };
    // Hashes another project (another identity, or another name) has as its images.
    let theirs: HashSet<&str> = names()
        .filter_map(|(_, _, n)| match n {
            Name::Root { identity: i, hash } if i != identity => Some(hash),
            Name::Final { project, hash } if project != name => Some(hash),
            _ => None,
        })
        .collect();
    let ours = |img: &ImageInfo| match img.labels.get(labels::PROJECT_ID) {
        Some(id) => id == identity,
        // Made by a devenv that did not record identities.
        None => img.labels.get(labels::PROJECT).map(String::as_str) == Some(name),
    };
    let protected = ancestors(all, theirs.iter().copied());
    let mut doomed = HashSet::new();
    for (img, tag, n) in names() {
        let key = n.key();
        if keep.contains(key) {
            continue;
        }
        let remove = match n {
            Name::Root { identity: i, .. } => i == identity,
            // Shared by the clones of this name: it goes when no other one has it.
            Name::Final { project, hash } => project == name && !theirs.contains(hash),
            Name::Layer(k) => ours(img) && !protected.contains(k),
            Name::Rootfs(_) => ours(img),
        };
        if remove {
            doomed.insert(tag.clone());
        }
    }
    doomed
}

/// `roots` and every layer key below them, following the layers' parent labels (on images
/// named `devenv/layer:<key>` only: a user's image inherits those labels too).
fn ancestors<'a>(all: &'a [ImageInfo], roots: impl Iterator<Item = &'a str>) -> HashSet<String> {
    let parent: HashMap<&str, &str> = all
        .iter()
        .flat_map(|img| {
            img.repo_tags
                .iter()
                .filter_map(move |t| match Name::parse(t) {
                    Some(Name::Layer(k))
                        if img.labels.get(labels::KEY).map(String::as_str) == Some(k) =>
                    {
                        Some((k, img.labels.get(labels::PARENT)?.as_str()))
                    }
                    _ => None,
                })
        })
        .collect();
    let mut out = HashSet::new();
    for root in roots {
        let mut key = Some(root);
        while let Some(k) = key.filter(|k| !k.is_empty() && out.insert((*k).to_owned())) {
            key = parent.get(k).copied();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
    const H3: &str = "3333333333333333333333333333333333333333333333333333333333333333";
    const A: &str = "aaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbb";

    /// A layer image `key` on `parent` built first by identity `id`, with extra names.
    fn layer(key: &str, parent: &str, id: &str, names: &[String]) -> ImageInfo {
        let mut repo_tags = vec![format!("devenv/layer:{key}")];
        repo_tags.extend(names.iter().cloned());
        ImageInfo {
            id: format!("sha256:{key}"),
            repo_tags,
            repo_digests: Vec::new(),
            labels: HashMap::from([
                (labels::MANAGED.to_owned(), "true".to_owned()),
                (labels::KEY.to_owned(), key.to_owned()),
                (labels::PARENT.to_owned(), parent.to_owned()),
                (labels::PROJECT.to_owned(), "web".to_owned()),
                (labels::PROJECT_ID.to_owned(), id.to_owned()),
            ]),
            env: Vec::new(),
            user: String::new(),
            created: 0,
            size: 0,
        }
    }

    fn names(id: &str, hash: &str) -> Vec<String> {
        vec![
            format!("devenv/web:{hash}"),
            format!("devenv/project/{id}:{hash}"),
        ]
    }

    #[test]
    fn another_clone_of_the_same_name_keeps_its_images() {
        // a built H1 then H3 (current); b (same name) built H2 on a's H1.
        let all = vec![
            layer(H1, "", A, &names(A, H1)),
            layer(H2, H1, B, &names(B, H2)),
            layer(H3, "", A, &names(A, H3)),
        ];
        let keep: HashSet<String> = HashSet::from([H3.to_owned()]);
        let scope = PruneScope::Project {
            name: "web",
            identity: A,
        };
        let doomed = doomed_names(&all, scope, &keep);
        let expected: HashSet<String> = HashSet::from([
            format!("devenv/project/{A}:{H1}"),
            format!("devenv/web:{H1}"),
        ]);
        // H1's layer stays: b's H2 is built on it.
        assert_eq!(doomed, expected);
    }

    #[test]
    fn a_users_image_with_devenvs_labels_has_no_name_to_remove() {
        let mut derived = layer(H1, "", A, &[]);
        derived.repo_tags = vec!["mine:latest".to_owned()];
        let all = vec![derived];
        let keep: HashSet<String> = HashSet::new();
        assert!(doomed_names(&all, PruneScope::All, &keep).is_empty());
        let scope = PruneScope::Project {
            name: "web",
            identity: A,
        };
        assert!(doomed_names(&all, scope, &keep).is_empty());
    }

    #[test]
    fn only_devenvs_own_name_forms() {
        assert_eq!(
            Name::parse(&format!("devenv/layer:{H1}")),
            Some(Name::Layer(H1))
        );
        assert_eq!(
            Name::parse(&format!("devenv/web:{H1}")),
            Some(Name::Final {
                project: "web",
                hash: H1
            })
        );
        assert_eq!(
            Name::parse(&format!("devenv/project/0123456789abcdef:{H1}")),
            Some(Name::Root {
                identity: "0123456789abcdef",
                hash: H1
            })
        );
        for foreign in [
            "devenv/web:latest",
            "mine:latest",
            &format!("me/devenv/web:{H1}"),
            &format!("devenv/project/xyz:{H1}"),
            &format!("devenv/a/b:{H1}"),
        ] {
            assert_eq!(Name::parse(foreign), None, "{foreign}");
        }
    }
}

//! Images that reach every node. A service created on a swarm runs wherever swarm places it,
//! and each node pulls its image itself: an image only this engine has (the environment
//! image, a `rootfs` base, a local image) is pushed to the `[cache] registry` under its hash
//! and the service is created by digest; a registry image the lock pinned by repo digest is
//! used as it is. On a swarm of more than one node without a registry, `up` refuses before
//! creating anything.

use std::collections::BTreeMap;

use super::ClusterError;
use crate::engine::Engine;
use crate::image::base::ROOTFS_REPO;

/// Where a service's image comes from, for the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A registry reference by digest: every node pulls it as it is.
    Registry(String),
    /// An image only this engine has: pushed as `<registry>:<tag>` first.
    Local { image: String, tag: String },
}

/// Where the image a service runs (as `stack` resolved it) comes from.
pub fn source(image: &str) -> Source {
    if image.contains("@sha256:") {
        return Source::Registry(image.to_owned());
    }
    let tag = if let Some(hex) = image.strip_prefix("sha256:") {
        // A local image pinned by id.
        format!("image-{hex}")
    } else if let Some(hex) = image
        .strip_prefix(ROOTFS_REPO)
        .and_then(|r| r.strip_prefix(':'))
    {
        format!("rootfs-{hex}")
    } else {
        // The environment image, `devenv/<project>:<hash>`: the hash is what the registry
        // cache knows it by (`devenv push` uses the same name).
        let (_, tag) = image.rsplit_once(':').unwrap_or(("", image));
        tag.to_owned()
    };
    Source::Local {
        image: image.to_owned(),
        tag,
    }
}

/// What `up` pushes before it creates anything: service → (local image, tag).
pub type Plan = BTreeMap<String, (String, String)>;

/// The images to push for `images` (service → image), or the refusal: local images on a
/// swarm of `nodes` nodes with no registry to hand them over. One node has them already.
pub fn plan(
    images: &BTreeMap<String, String>,
    registry: Option<&str>,
    nodes: usize,
) -> Result<Plan, ClusterError> {
    let mut plan = Plan::new();
    for (name, image) in images {
        if let Source::Local { image, tag } = source(image) {
            plan.insert(name.clone(), (image, tag));
        }
    }
    if registry.is_none() && nodes > 1 && !plan.is_empty() {
        return Err(ClusterError::NoRegistry {
            services: plan.keys().cloned().collect(),
            nodes,
        });
    }
    if registry.is_none() {
        plan.clear();
    }
    Ok(plan)
}

/// Push what `plan` says to `registry`; returns service → the reference to create it by.
pub async fn publish(
    engine: &Engine,
    registry: &str,
    plan: &Plan,
) -> Result<BTreeMap<String, String>, ClusterError> {
    let engine = engine.for_cache(Some(registry));
    let mut done: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (name, (image, tag)) in plan {
        let key = (image.clone(), tag.clone());
        let reference = if let Some(r) = done.get(&key) {
            r.clone()
        } else {
            let r = engine
                .publish(image, registry, tag)
                .await
                .map_err(|e| ClusterError::Push {
                    service: name.clone(),
                    registry: registry.to_owned(),
                    message: e.to_string(),
                })?;
            done.insert(key, r.clone());
            r
        };
        out.insert(name.clone(), reference);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_images_are_pushed_under_their_hash_and_registry_digests_used_as_they_are() {
        assert_eq!(
            source("10.0.0.1:5000/postgres@sha256:ab"),
            Source::Registry("10.0.0.1:5000/postgres@sha256:ab".into())
        );
        assert_eq!(
            source("devenv/shop:0123abcd"),
            Source::Local {
                image: "devenv/shop:0123abcd".into(),
                tag: "0123abcd".into()
            }
        );
        assert_eq!(
            source("devenv/rootfs:ffee"),
            Source::Local {
                image: "devenv/rootfs:ffee".into(),
                tag: "rootfs-ffee".into()
            }
        );
        assert_eq!(
            source("sha256:99aa"),
            Source::Local {
                image: "sha256:99aa".into(),
                tag: "image-99aa".into()
            }
        );
    }

    fn images() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("db".into(), "10.0.0.1:5000/pg@sha256:ab".into()),
            ("web".into(), "devenv/shop:0123".into()),
            ("worker".into(), "devenv/shop:0123".into()),
        ])
    }

    #[test]
    fn a_multi_node_swarm_without_a_registry_is_refused_naming_the_services() {
        let err = plan(&images(), None, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "services web, worker run images only this engine has, and the swarm has 3 nodes \
             with no registry to hand them over"
        );
        let hint = err.hint().unwrap();
        assert!(hint.contains("[cache]"), "{hint}");
        assert!(hint.contains("registry = "), "{hint}");
    }

    #[test]
    fn one_node_needs_no_registry_and_registry_images_need_none_either() {
        assert!(plan(&images(), None, 1).unwrap().is_empty());
        let only_registry = BTreeMap::from([("db".into(), "r.example/pg@sha256:ab".into())]);
        assert!(plan(&only_registry, None, 3).unwrap().is_empty());
        let p = plan(&images(), Some("10.0.0.1:5000/shop"), 3).unwrap();
        assert_eq!(
            p.keys().map(String::as_str).collect::<Vec<_>>(),
            ["web", "worker"]
        );
        assert_eq!(p["web"], ("devenv/shop:0123".into(), "0123".into()));
    }
}

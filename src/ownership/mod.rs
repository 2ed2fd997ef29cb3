//! What devenv owns on an engine: the project's identity there and the one rule that says
//! whether a container, volume or network is one devenv made for it. Every path that finds,
//! reuses or removes the environment's objects (the warm path, `up`, `down`, `logs`,
//! `status`, `watch`, the name-conflict paths) asks here.
//!
//! Labels select, names decide. Labels are inherited: a container run from a `docker commit`
//! of the environment or of a service carries every label devenv set. Its name is its own:
//! devenv names each object after the project's identity and its role (and service), and
//! a derived container gets a random name or one its user chose. So an object is devenv's
//! when its labels say this project *and* its name is the one devenv gives that role. Where
//! a name is all there is (creation failed because the name is taken), the container must
//! also carry its role as its own label, not one inherited from its image
//! ([`made_by_devenv`]).
//!
//! The identity covers the project directory, the manifest and the checkout
//! ([`checkout`]): two checkouts at the same path on two machines using one remote engine
//! are two environments unless they ask to share.

pub mod checkout;

use std::collections::HashMap;
use std::path::Path;

use crate::engine::{labels, ContainerInfo, Engine, EngineError};
use crate::fingerprint::Hasher;
use crate::manifest::Manifest;

/// The project's identity on an engine, and the names and labels of what devenv makes
/// for it.
#[derive(Debug, Clone)]
pub struct ProjectId {
    /// Real path of the project directory.
    pub dir: String,
    /// Real path of the manifest.
    pub manifest: String,
    /// The project's name.
    pub name: String,
    /// The checkout id ([`checkout`]).
    pub checkout: String,
    /// The dev container's name, `devenv-<name>-<8 hex>`, which every other name extends.
    pub container_name: String,
}

/// What a container is to the project (see [`ProjectId::member`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    /// The dev container.
    Env,
    /// The container of the named service.
    Service(String),
    /// A helper writing one of the project's volumes.
    Sync,
}

impl ProjectId {
    pub fn new(manifest: &Manifest) -> ProjectId {
        // Two manifests in one directory are two environments: both paths identify it.
        let dir = real(&manifest.root);
        let manifest_path = real(&manifest.path);
        let state_dir = manifest.root.join(crate::project::STATE_DIR);
        let checkout = checkout::current(&state_dir, &checkout::key(&dir, &manifest_path));
        let mut h = Hasher::new("project");
        h.field("dir", dir.as_bytes());
        h.field("manifest", manifest_path.as_bytes());
        // A legacy checkout keeps the names devenv gave before checkout ids.
        if checkout != checkout::LEGACY {
            h.field("checkout", checkout.as_bytes());
        }
        let short = h.finish()[..8].to_owned();
        ProjectId {
            manifest: manifest_path,
            container_name: format!("devenv-{}-{short}", manifest.name),
            name: manifest.name.clone(),
            checkout,
            dir,
        }
    }

    /// The container of `service`.
    pub fn service_container(&self, service: &str) -> String {
        format!("{}-{service}", self.container_name)
    }

    /// Engine name of a service's replica `replica` (from 1): the first is the service's
    /// container, the others `<it>.<n>` (a `.` no service name has, so no two collide).
    pub fn replica_container(&self, service: &str, replica: u32) -> String {
        if replica <= 1 {
            self.service_container(service)
        } else {
            format!("{}.{replica}", self.service_container(service))
        }
    }

    /// Which replica of `service` a container named `name` is, if it is one.
    pub fn replica_of(&self, service: &str, name: &str) -> Option<u32> {
        let rest = name.strip_prefix(&self.service_container(service))?;
        if rest.is_empty() {
            return Some(1);
        }
        let n: u32 = rest.strip_prefix('.')?.parse().ok()?;
        (n >= 2 && rest == format!(".{n}")).then_some(n)
    }

    /// The project network (same name as the dev container; networks and containers
    /// have separate names).
    pub fn network(&self) -> String {
        self.container_name.clone()
    }

    /// Engine name of a project-scoped volume.
    pub fn volume_name(&self, name: &str) -> String {
        format!("{}-{name}", self.container_name)
    }

    /// Labels selecting everything devenv made for the project in any checkout (the
    /// names tell the checkouts apart).
    pub fn selector(&self) -> [(&str, &str); 3] {
        [
            (labels::MANAGED, "true"),
            (labels::PROJECT_DIR, &self.dir),
            (labels::MANIFEST, &self.manifest),
        ]
    }

    /// [`Self::selector`] narrowed to one role.
    pub fn role_selector<'a>(&'a self, role: &'a str) -> [(&'a str, &'a str); 4] {
        let [m, d, f] = self.selector();
        [m, (labels::ROLE, role), d, f]
    }

    /// Labels put on what devenv creates for the project in `role`.
    pub fn labels(&self, role: &str, service: Option<&str>) -> HashMap<String, String> {
        let mut l = HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::ROLE.to_owned(), role.to_owned()),
            (labels::PROJECT.to_owned(), self.name.clone()),
            (labels::PROJECT_DIR.to_owned(), self.dir.clone()),
            (labels::MANIFEST.to_owned(), self.manifest.clone()),
            (labels::CHECKOUT.to_owned(), self.checkout.clone()),
            (
                labels::VERSION.to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        ]);
        if let Some(s) = service {
            l.insert(labels::SERVICE.to_owned(), s.to_owned());
        }
        l
    }

    /// What a listed container is to this project; `None` unless devenv made it for this
    /// project and checkout: its labels say so and its name is the one devenv gives that
    /// role. A container derived from one of devenv's (`docker commit`, then `docker run`)
    /// carries the labels under another name and is not the project's.
    pub fn member(&self, c: &ContainerInfo) -> Option<Owned> {
        if !self.selects(&c.labels) {
            return None;
        }
        match c.labels.get(labels::ROLE).map(String::as_str)? {
            "env" => (c.name == self.container_name).then_some(Owned::Env),
            "service" => {
                let service = c.labels.get(labels::SERVICE)?;
                (!service.is_empty() && self.replica_of(service, &c.name).is_some())
                    .then(|| Owned::Service(service.clone()))
            }
            "sync" => c
                .name
                .strip_suffix(".sync")
                .is_some_and(|volume| self.owns_volume(volume))
                .then_some(Owned::Sync),
            _ => None,
        }
    }

    /// Whether the volume `name` is one devenv names for this project and checkout (volumes
    /// cannot be committed, but another checkout's carry the same project labels).
    pub fn owns_volume(&self, name: &str) -> bool {
        name.strip_prefix(&self.container_name)
            .is_some_and(|rest| rest.starts_with('-') && rest.len() > 1)
    }

    fn selects(&self, l: &HashMap<String, String>) -> bool {
        self.selector()
            .iter()
            .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
    }
}

/// Whether the container `name`, which holds one of devenv's names for `role` but was not
/// found by the project's labels, is one devenv made (or is gone), so that it may be
/// replaced. Only a label its creator set counts, one its image does not carry with the same
/// value: devenv's own images are role `layer` and a service's image has no role, while a
/// `docker commit` of a dev or service container makes an image that carries its role.
pub async fn made_by_devenv(engine: &Engine, name: &str, role: &str) -> Result<bool, EngineError> {
    let Some(c) = engine.container_state(name).await? else {
        return Ok(true);
    };
    let own = |key: &str, value: &str| c.labels.get(key).map(String::as_str) == Some(value);
    if !own(labels::MANAGED, "true") || !own(labels::ROLE, role) {
        return Ok(false);
    }
    let image_role = engine
        .image(&c.image_id)
        .await?
        .and_then(|i| i.labels.get(labels::ROLE).cloned());
    Ok(image_role.as_deref() != Some(role))
}

/// The network the dev container joins: the project's when there are services.
pub fn dev_network(manifest: &Manifest) -> Option<String> {
    (!manifest.services.is_empty()).then(|| ProjectId::new(manifest).network())
}

fn real(p: &Path) -> String {
    p.canonicalize()
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ProjectId {
        ProjectId {
            dir: "/p".into(),
            manifest: "/p/devenv.toml".into(),
            name: "p".into(),
            checkout: "c1".into(),
            container_name: "devenv-p-0123abcd".into(),
        }
    }

    fn container(name: &str, role: &str, service: Option<&str>) -> ContainerInfo {
        let mut labels = id().labels(role, service);
        labels.remove(labels::CHECKOUT);
        ContainerInfo {
            id: "x".into(),
            name: name.into(),
            state: "running".into(),
            labels,
            image_id: String::new(),
            status: String::new(),
        }
    }

    #[test]
    fn members_are_told_by_their_names_not_their_labels_alone() {
        let id = id();
        let env = container("devenv-p-0123abcd", "env", None);
        assert_eq!(id.member(&env), Some(Owned::Env));
        let db = container("devenv-p-0123abcd-db", "service", Some("db"));
        assert_eq!(id.member(&db), Some(Owned::Service("db".into())));
        // Replicas: `.N` from 2, nothing else after the service's name.
        let db3 = container("devenv-p-0123abcd-db.3", "service", Some("db"));
        assert_eq!(id.member(&db3), Some(Owned::Service("db".into())));
        assert_eq!(id.replica_of("db", "devenv-p-0123abcd-db.3"), Some(3));
        assert_eq!(id.replica_container("db", 3), "devenv-p-0123abcd-db.3");
        assert_eq!(id.replica_container("db", 1), "devenv-p-0123abcd-db");
        for not in [
            "devenv-p-0123abcd-db.1",
            "devenv-p-0123abcd-db.03",
            "devenv-p-0123abcd-db.x",
        ] {
            assert_eq!(
                id.member(&container(not, "service", Some("db"))),
                None,
                "{not}"
            );
        }
        assert_eq!(
            id.member(&container("devenv-p-0123abcd-db-2", "service", Some("db"))),
            None
        );
        let helper = container("devenv-p-0123abcd-workspace.sync", "sync", None);
        assert_eq!(id.member(&helper), Some(Owned::Sync));
        // Run from a commit: every label, another name.
        assert_eq!(id.member(&container("eager_turing", "env", None)), None);
        assert_eq!(id.member(&container("mydb", "service", Some("db"))), None);
        // Another checkout's, at the same path: its own names.
        assert_eq!(
            id.member(&container("devenv-p-99999999", "env", None)),
            None
        );
        assert_eq!(
            id.member(&container("devenv-p-99999999-db", "service", Some("db"))),
            None
        );
        // The labels of another project.
        let mut other = container("devenv-p-0123abcd", "env", None);
        other.labels.insert(labels::PROJECT_DIR.into(), "/q".into());
        assert_eq!(id.member(&other), None);
    }

    #[test]
    fn volumes_are_the_checkouts_by_name() {
        let id = id();
        assert!(id.owns_volume("devenv-p-0123abcd-data"));
        assert!(!id.owns_volume("devenv-p-0123abcd"));
        assert!(!id.owns_volume("devenv-p-0123abcd-"));
        assert!(!id.owns_volume("devenv-p-99999999-data"));
        assert!(!id.owns_volume("devenv-p-0123abcdx-data"));
    }
}

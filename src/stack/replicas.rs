//! How many containers run each service on one engine: the manifest's `replicas`, or the
//! count `devenv scale` set, kept in `.devenv/services/<name>.scale` until the next `up`
//! (which goes back to the manifest's count and says so). Also what one engine refuses:
//! several replicas of a service that publishes a host port (only one can bind it) or
//! that writes a named volume (they would share it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::StackError;
use crate::manifest::{Manifest, Service, VolumeSpec};

/// Which count `up` makes each service run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    /// The manifest's (`devenv up`): a `devenv scale` count is dropped.
    Manifest,
    /// A `devenv scale` count where there is one (`run`, `shell`, `watch`, the warm path).
    Scaled,
}

fn scale_file(state_dir: &Path, service: &str) -> PathBuf {
    state_dir.join("services").join(format!("{service}.scale"))
}

/// The count `devenv scale` set for the service, if any.
pub fn scaled(state_dir: &Path, service: &str) -> Option<u32> {
    std::fs::read_to_string(scale_file(state_dir, service))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Record a `devenv scale` count.
pub fn record_scale(state_dir: &Path, service: &str, count: u32) -> Result<(), StackError> {
    let path = scale_file(state_dir, service);
    let io =
        |e: std::io::Error| StackError::Locking(format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(io)?;
    std::fs::write(&path, count.to_string()).map_err(io)
}

/// Forget a `devenv scale` count (the manifest's holds again).
pub fn forget_scale(state_dir: &Path, service: &str) {
    let _ = std::fs::remove_file(scale_file(state_dir, service));
}

/// How many replicas each service of the manifest should run.
pub fn counts(manifest: &Manifest, state_dir: &Path, which: Counts) -> BTreeMap<String, u32> {
    manifest
        .services
        .iter()
        .map(|(name, s)| {
            let scaled = match which {
                Counts::Scaled => scaled(state_dir, name),
                Counts::Manifest => None,
            };
            (name.clone(), scaled.unwrap_or(s.replicas))
        })
        .collect()
}

/// Why one engine cannot run `count` replicas of the service, if it cannot.
pub fn refuse(name: &str, service: &Service, count: u32) -> Result<(), StackError> {
    if count <= 1 {
        return Ok(());
    }
    if let Some(p) = service.ports.first() {
        return Err(StackError::ReplicasWithPort {
            service: name.to_owned(),
            count,
            port: p.raw.clone(),
        });
    }
    let shared = service.volumes.iter().find_map(|v| match v {
        VolumeSpec::Named {
            name, read_only, ..
        } if !read_only => Some(name.clone()),
        _ => None,
    });
    if let Some(volume) = shared {
        return Err(StackError::ReplicasShareVolume {
            service: name.to_owned(),
            count,
            volume,
        });
    }
    Ok(())
}

/// The name a replica goes by in messages and log prefixes: the service's for the first,
/// `<service>.<n>` for the others.
pub fn member_name(service: &str, replica: u32) -> String {
    if replica <= 1 {
        service.to_owned()
    } else {
        format!("{service}.{replica}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::PortSpec;

    fn service() -> Service {
        Service {
            image: None,
            rootfs: None,
            command: None,
            env: BTreeMap::new(),
            env_file: None,
            ports: Vec::new(),
            volumes: Vec::new(),
            ready: None,
            ready_timeout: 60,
            restart: crate::manifest::RestartPolicy::OnFailure,
            depends_on: Vec::new(),
            user: None,
            replicas: 1,
            memory: None,
            nano_cpus: None,
            placement: Vec::new(),
        }
    }

    #[test]
    fn one_engine_refuses_replicas_that_would_share_a_port_or_a_volume() {
        let mut s = service();
        assert!(refuse("web", &s, 3).is_ok());
        s.ports.push(PortSpec {
            raw: "8000:8000".into(),
            host_ip: None,
            host_port: 8000,
            container_port: 8000,
            protocol: "tcp".into(),
        });
        assert!(refuse("web", &s, 1).is_ok());
        let e = refuse("web", &s, 2).unwrap_err();
        assert!(e.to_string().contains("8000:8000"), "{e}");
        let mut s = service();
        s.volumes.push(VolumeSpec::Named {
            name: "data".into(),
            target: "/data".into(),
            read_only: true,
        });
        assert!(
            refuse("db", &s, 2).is_ok(),
            "read-only volumes are shared safely"
        );
        s.volumes.push(VolumeSpec::Named {
            name: "pg".into(),
            target: "/pg".into(),
            read_only: false,
        });
        let e = refuse("db", &s, 2).unwrap_err();
        assert!(e.to_string().contains("`pg`"), "{e}");
    }

    #[test]
    fn a_scale_count_holds_until_the_manifest_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(scaled(dir.path(), "web"), None);
        record_scale(dir.path(), "web", 5).unwrap();
        assert_eq!(scaled(dir.path(), "web"), Some(5));
        forget_scale(dir.path(), "web");
        assert_eq!(scaled(dir.path(), "web"), None);
        assert_eq!(member_name("web", 1), "web");
        assert_eq!(member_name("web", 2), "web.2");
    }
}

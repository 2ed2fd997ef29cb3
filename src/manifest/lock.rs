//! `devenv.lock`: what the base resolved to, so every machine builds from the same bytes.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Version of the lock file format written by this devenv. Version 2 records the platforms
/// (`platforms`); a version 1 lock is still read, as a lock that pins no platform yet.
pub const LOCK_VERSION: u32 = 2;
/// The oldest version still read.
const OLDEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    pub base: LockEntry,
    /// What each `[services.NAME]` image or rootfs resolved to (services that run from the
    /// environment's own image have no entry).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub services: std::collections::BTreeMap<String, LockEntry>,
    /// The Ansible controller, when a step runs a playbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ansible: Option<ControllerLock>,
}

/// The pinned Ansible controller. Its `identity` (what it reports of itself: ansible-core,
/// its collections and Python's `requests`) is what step keys use, so every machine with
/// the same controller content computes the same hash whatever its local image id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ControllerLock {
    /// `[provision.ansible] image` as written, or `devenv:debian-ansible` for the
    /// controller devenv builds from the base.
    pub reference: String,
    /// `ansible-core 2.14.18; community.docker 3.4.7; requests 2.28.1; collections sha256:…`.
    pub identity: String,
    /// The image used on the machine that wrote the lock (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// One resolved base.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The manifest's base reference as written (`image` value or `rootfs` path); when the
    /// manifest's reference no longer matches, the entry is stale and re-resolved.
    pub reference: String,
    /// How `digest` was obtained.
    pub kind: LockKind,
    /// `sha256:<hex>`: registry digest, local image id, or the rootfs tarball's sha256.
    pub digest: String,
    /// For a registry base: the `name@digest` to pull; for a local image or rootfs: the
    /// image id it was imported as on the machine that wrote the lock (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Each platform this entry was resolved for (`linux/arm64`) → the digest of that
    /// platform's content: for a registry base the platform's manifest digest in the index
    /// `digest` names (the same digest when that is a single-platform manifest), for a local
    /// image its id, for a rootfs the tarball's sha256. A platform missing here has not been
    /// resolved: `--locked` refuses it, `devenv lock` adds it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub platforms: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// A registry repo digest (`RepoDigests`).
    Registry,
    /// A local image without a repo digest: pinned by image id.
    Local,
    /// A root filesystem tarball: pinned by the tarball's sha256.
    Rootfs,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is not a valid lock file: {message}")]
    Invalid { path: String, message: String },
}

const HEADER: &str = "# devenv.lock: written by devenv, commit it. `devenv lock --update` moves the base on purpose.\n";

impl LockFile {
    /// Read the lock file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<LockFile>, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(LockError::Io {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        Self::parse(&text, &path.display().to_string()).map(Some)
    }

    /// Parse and check a lock file's text (`shown` names it in errors).
    pub fn parse(text: &str, shown: &str) -> Result<LockFile, LockError> {
        let lock: LockFile = toml::from_str(text).map_err(|e| LockError::Invalid {
            path: shown.to_owned(),
            message: e.message().to_owned(),
        })?;
        let entries = std::iter::once(("base".to_owned(), &lock.base)).chain(
            lock.services
                .iter()
                .map(|(name, e)| (format!("service {name}"), e)),
        );
        let invalid = |message: String| LockError::Invalid {
            path: shown.to_owned(),
            message,
        };
        for (what, entry) in entries {
            for d in std::iter::once(&entry.digest).chain(entry.platforms.values()) {
                if !is_digest(d) {
                    return Err(invalid(format!(
                        "{what} digest `{d}` is not `sha256:` and 64 lowercase hex digits"
                    )));
                }
            }
            for p in entry.platforms.keys() {
                match super::Platform::parse(p) {
                    Ok(n) if n.to_string() == *p => {}
                    Ok(n) => {
                        return Err(invalid(format!("{what} platform `{p}` is written `{n}`")))
                    }
                    Err(e) => return Err(invalid(format!("{what} platform: {e}"))),
                }
            }
        }
        if !(OLDEST_VERSION..=LOCK_VERSION).contains(&lock.version) {
            return Err(LockError::Invalid {
                path: shown.to_owned(),
                message: format!(
                    "version {} is not supported by this devenv (expected {LOCK_VERSION})",
                    lock.version
                ),
            });
        }
        Ok(lock)
    }

    /// The digest of `platform`'s content, when the base was resolved for it.
    pub fn platform_digest(&self, platform: &str) -> Option<&str> {
        self.base.platforms.get(platform).map(String::as_str)
    }

    /// Render the lock file text (stable, so unchanged locks produce identical bytes).
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("lock file serialises");
        format!("{HEADER}{body}")
    }

    /// Write atomically (temp file + rename) so an interrupted write never leaves half a lock.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let io = |e: std::io::Error| LockError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let tmp = path.with_extension("lock.tmp");
        std::fs::write(&tmp, self.to_text()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let lock = LockFile {
            version: 1,
            base: LockEntry {
                reference: "debian:bookworm".into(),
                kind: LockKind::Registry,
                digest: format!("sha256:{}", "a".repeat(64)),
                image: Some("debian@sha256:aa".into()),
                platforms: std::collections::BTreeMap::from([(
                    "linux/arm64".to_owned(),
                    format!("sha256:{}", "c".repeat(64)),
                )]),
            },
            services: std::collections::BTreeMap::from([(
                "db".to_owned(),
                LockEntry {
                    reference: "postgres:16".into(),
                    kind: LockKind::Local,
                    digest: format!("sha256:{}", "b".repeat(64)),
                    image: None,
                    platforms: std::collections::BTreeMap::new(),
                },
            )]),
            ansible: Some(ControllerLock {
                reference: "devenv:debian-ansible".into(),
                identity: "ansible-core 2.14.18; community.docker 3.4.7".into(),
                image: None,
            }),
        };
        let text = lock.to_text();
        let back: LockFile = toml::from_str(&text).unwrap();
        assert_eq!(back, lock);
        assert_eq!(LockFile::parse(&text, "devenv.lock").unwrap(), lock);
    }

    #[test]
    fn a_version_1_lock_reads_as_pinning_no_platform() {
        let text = format!(
            "version = 1\n[base]\nreference = \"x:1\"\nkind = \"local\"\ndigest = \"sha256:{}\"\n",
            "a".repeat(64)
        );
        let lock = LockFile::parse(&text, "devenv.lock").unwrap();
        assert!(lock.base.platforms.is_empty());
        let bad = text.replace("version = 1", "version = 3");
        assert!(LockFile::parse(&bad, "devenv.lock").is_err());
    }

    #[test]
    fn platforms_must_be_in_normal_form() {
        let text = format!(
            "version = 2\n[base]\nreference = \"x:1\"\nkind = \"local\"\ndigest = \"sha256:{0}\"\n\
             [base.platforms]\n\"linux/aarch64\" = \"sha256:{0}\"\n",
            "a".repeat(64)
        );
        let err = LockFile::parse(&text, "devenv.lock")
            .unwrap_err()
            .to_string();
        assert!(err.contains("written `linux/arm64`"), "{err}");
    }
}

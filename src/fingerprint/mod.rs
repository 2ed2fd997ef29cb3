//! The image hash: a canonical, length-prefixed encoding of everything that goes into the
//! image, and the sha256 of each step's declared input files.
//!
//! The hash depends only on the manifest's image-affecting content, the locked base identity
//! and input file bytes/paths/executable bits. Never on the checkout path, the user, mtimes
//! or directory order: files are sorted by their project-relative path with `/` separators.
//! A stat cache (`statcache.rs`) avoids re-reading unchanged files; it only decides whether
//! to re-read, never what the hash is. sha2 and walkdir are used in this module only.

pub mod ansible;
mod inputs;
mod statcache;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::manifest::{Manifest, Platform, Step};

pub use inputs::{expand_inputs, InputFile, InputKind};
pub use statcache::{file_digest, StatCache};

/// Bumped whenever the encoding below changes, so old and new hashes never collide.
/// v3: the platform is part of the base key.
pub const SCHEMA: &str = "devenv-image-v3";

#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("input `{pattern}` of step `{step}` matches no file")]
    NoMatch { step: String, pattern: String },
    #[error("input `{pattern}` of step `{step}`: {message}")]
    BadPattern {
        step: String,
        pattern: String,
        message: String,
    },
    #[error("input {path} of step `{step}` leaves the project directory (via a symlink)")]
    Escape { step: String, path: String },
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
}

/// sha256 over length-prefixed fields: `field(a, b)` never collides with `field(ab, "")`.
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new(domain: &str) -> Hasher {
        let mut h = Hasher(Sha256::new());
        h.field("domain", domain.as_bytes());
        h
    }

    pub fn field(&mut self, name: &str, value: &[u8]) -> &mut Self {
        for part in [name.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// sha256 hex of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The content behind a digest changed since it was hashed (see [`Verified`]).
#[derive(Debug)]
pub struct ContentChanged;

impl std::fmt::Display for ContentChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("changed since it was hashed")
    }
}

impl std::error::Error for ContentChanged {}

/// Whether an I/O error is a [`Verified`] reader's "content changed".
pub fn is_content_changed(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(<dyn std::error::Error + Send + Sync>::is::<ContentChanged>)
}

/// A reader passing on exactly the bytes a digest was computed from: it hashes what it
/// hands out and, instead of ending, fails with [`ContentChanged`] when the bytes (or their
/// number, when `size` is given) differ from the ones hashed. A consumer that stops at the
/// first error therefore never takes other bytes for the hashed ones.
pub struct Verified<R> {
    inner: R,
    hasher: Sha256,
    expected: String,
    size: Option<u64>,
    seen: u64,
    done: bool,
}

impl<R: std::io::Read> Verified<R> {
    /// `expected` is the sha256 hex the content must have.
    pub fn new(inner: R, expected: &str, size: Option<u64>) -> Verified<R> {
        Verified {
            inner,
            hasher: Sha256::new(),
            expected: expected.to_owned(),
            size,
            seen: 0,
            done: false,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let changed = || std::io::Error::new(std::io::ErrorKind::InvalidData, ContentChanged);
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.seen += n as u64;
            if self.size.is_some_and(|size| self.seen > size) {
                return Err(changed());
            }
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
        let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if self.size.is_some_and(|size| size != self.seen) || digest != self.expected {
            return Err(changed());
        }
        self.done = true;
        Ok(0)
    }
}

/// sha256 of a stream of bytes (a pack's image tar), fed chunk by chunk.
#[derive(Default)]
pub struct StreamDigest(Sha256);

impl StreamDigest {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Lowercase hex.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The planned chain of layers for a manifest: a base key, then one key per step.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Key of the config layer: base identity + platform + `[env]` + workdir.
    pub base_key: String,
    /// The platform the chain is built for.
    pub platform: Platform,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub key: String,
    pub inputs: Vec<InputFile>,
    /// An `ansible` step: the controller identity its key covers.
    pub controller: Option<String>,
}

impl Plan {
    /// The image hash: the key of the last layer.
    pub fn hash(&self) -> &str {
        self.steps.last().map_or(&self.base_key, |s| &s.key)
    }

    /// Every layer key, base first.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.base_key.as_str()).chain(self.steps.iter().map(|s| s.key.as_str()))
    }
}

/// Key of the config layer on top of the base. The platform (normal form, `linux/arm64`) is
/// part of it: one base digest (an image index) names another image on each platform.
pub fn base_key(
    base_identity: &str,
    platform: &Platform,
    env: &BTreeMap<String, String>,
    workdir: &str,
) -> String {
    let mut h = Hasher::new(SCHEMA);
    h.field("base", base_identity.as_bytes());
    h.field("platform", platform.to_string().as_bytes());
    for (k, v) in env {
        h.field("env", format!("{k}={v}").as_bytes());
    }
    h.field("workdir", workdir.as_bytes());
    h.finish()
}

/// Key of a step: the previous key, the step's image-affecting fields and its inputs; for
/// an `ansible` step also the playbook, its vars and tags and the controller identity
/// (`inputs` then being the files the playbook can read, see [`ansible`]).
pub fn step_key(prev: &str, step: &Step, inputs: &[InputFile], controller: Option<&str>) -> String {
    let mut h = Hasher::new(SCHEMA);
    h.field("prev", prev.as_bytes());
    h.field("run", step.run.as_bytes());
    h.field("user", step.user.as_bytes());
    for (k, v) in &step.env {
        h.field("env", format!("{k}={v}").as_bytes());
    }
    let mut secrets: Vec<&String> = step.secrets.iter().collect();
    secrets.sort();
    for s in secrets {
        h.field("secret-name", s.as_bytes());
    }
    for f in inputs {
        h.field("input", f.rel.as_bytes());
        h.field("kind", f.kind.tag().as_bytes());
        h.field("sha256", f.digest.as_bytes());
    }
    // Only ansible steps have these fields: the keys of `run` steps stay as they were.
    if let Some(a) = &step.ansible {
        h.field("ansible-playbook", a.playbook.as_bytes());
        let vars = serde_json::to_string(&a.vars).unwrap_or_default();
        h.field("ansible-vars", vars.as_bytes());
        for t in &a.tags {
            h.field("ansible-tag", t.as_bytes());
        }
        h.field(
            "ansible-controller",
            controller.unwrap_or_default().as_bytes(),
        );
    }
    h.finish()
}

/// Plan the whole chain: expand every step's inputs (through the stat cache) and key it.
/// `controller` is the locked Ansible controller identity (for `ansible` steps).
pub fn plan(
    manifest: &Manifest,
    base_identity: &str,
    platform: &Platform,
    controller: Option<&str>,
    cache: &mut StatCache,
) -> Result<Plan, FingerprintError> {
    let base_key = base_key(
        base_identity,
        platform,
        &manifest.env,
        &manifest.shell.workdir,
    );
    let mut prev = base_key.clone();
    let mut steps = Vec::with_capacity(manifest.steps.len());
    for step in &manifest.steps {
        let (inputs, controller) = match &step.ansible {
            Some(a) => {
                let widened = Step {
                    inputs: ansible::patterns(&manifest.root, step, a),
                    ..step.clone()
                };
                let inputs = expand_inputs(&manifest.root, &widened, cache)?;
                (inputs, Some(controller.unwrap_or_default().to_owned()))
            }
            None => (expand_inputs(&manifest.root, step, cache)?, None),
        };
        let key = step_key(&prev, step, &inputs, controller.as_deref());
        prev.clone_from(&key);
        steps.push(PlannedStep {
            key,
            inputs,
            controller,
        });
    }
    Ok(Plan {
        base_key,
        platform: platform.clone(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(content: &[u8], expected: &str, size: Option<u64>) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut Verified::new(content, expected, size), &mut out)?;
        Ok(out)
    }

    #[test]
    fn verified_reader_passes_the_hashed_bytes_and_refuses_others() {
        let v1 = sha256_hex(b"v1\n");
        assert_eq!(read_all(b"v1\n", &v1, Some(3)).unwrap(), b"v1\n");
        assert_eq!(read_all(b"v1\n", &v1, None).unwrap(), b"v1\n");
        for (content, size) in [
            (&b"v2\n"[..], Some(3)),
            (b"v2\n", None),
            (b"v1\nmore", Some(3)),
            (b"v1", Some(3)),
        ] {
            let err = read_all(content, &v1, size).unwrap_err();
            assert!(is_content_changed(&err), "{content:?}: {err}");
        }
    }

    #[test]
    fn fields_are_length_prefixed() {
        let mut a = Hasher::new("t");
        a.field("x", b"ab").field("y", b"");
        let mut b = Hasher::new("t");
        b.field("x", b"a").field("y", b"b");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn base_key_depends_on_env_and_workdir() {
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let mut env = BTreeMap::new();
        let k1 = base_key("sha256:1", &amd64, &env, "/workspace");
        env.insert("A".into(), "1".into());
        let k2 = base_key("sha256:1", &amd64, &env, "/workspace");
        let k3 = base_key("sha256:1", &amd64, &env, "/work");
        assert_ne!(k1, k2);
        assert_ne!(k2, k3);
        assert_eq!(k1.len(), 64);
    }

    #[test]
    fn one_base_digest_gives_one_key_per_platform() {
        let env = BTreeMap::new();
        let key = |p: &str| base_key("sha256:1", &Platform::parse(p).unwrap(), &env, "/w");
        assert_ne!(key("linux/amd64"), key("linux/arm64"));
        assert_ne!(key("linux/arm/v7"), key("linux/arm/v6"));
        // Spellings of one platform are one key.
        assert_eq!(key("linux/arm64"), key("linux/aarch64"));
        assert_eq!(key("linux/arm64"), key("linux/arm64/v8"));
    }
}

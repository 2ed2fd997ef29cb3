//! Builds: plan the layer chain from the manifest and fingerprint, reuse every layer whose
//! key is already an image, and run the missing steps by committing containers.
//!
//! Each layer is the image `devenv/layer:<key>`; the image hash is the last key, and the
//! final image is also tagged `devenv/<project>:<hash>`. A layer exists under its key only
//! after its commit finished, so an interrupted build never leaves a half-done image.

pub mod ansible;
mod archive;
pub mod base;
mod cache;
pub mod caches;
mod diff;
mod history;
mod interrupt;
mod leftovers;
pub mod lock;
pub use diff::{diff as diff_sides, Diff, Filesystem, Side, SideLayer};
pub mod pack;
mod pack_archive;
mod pack_check;
pub mod platform;
mod prune;
mod step;
mod tail;
pub mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub use base::{LockMode, ResolvedBase};
pub use cache::push;
pub use history::BuildRecord;
pub use lock::NamedLock;
pub use prune::{prune, PruneScope, Pruned};

use crate::engine::{labels, Engine, EngineError};
use crate::fingerprint::{self, FingerprintError, Plan, StatCache};
use crate::manifest::lock::LockError;
use crate::manifest::{Manifest, Platform};

/// Repository of layer images.
pub const LAYER_REPO: &str = "devenv/layer";

/// Repository prefix of the projects' roots: `devenv/project/<identity>:<hash>` names every
/// image a project (one checkout and manifest) built and has not pruned, so that prune in
/// one clone never takes what another clone of the same name uses.
pub const ROOT_REPO_PREFIX: &str = "devenv/project/";

/// Progress of a build, rendered by the CLI; the build itself never prints.
pub trait Reporter {
    /// Something worth a line (lock written, base pulled).
    fn note(&mut self, message: &str);
    /// Something went wrong but the build goes on (registry cache unavailable).
    fn warn(&mut self, message: &str);
    /// `index` is 0-based over the manifest's steps.
    fn step_cached(&mut self, index: usize, total: usize, name: &str);
    /// `why` explains the rebuild (shown with -v).
    fn step_started(&mut self, index: usize, total: usize, name: &str, why: Option<&str>);
    fn step_output(&mut self, index: usize, chunk: &[u8], stderr: bool);
    fn step_finished(&mut self, index: usize, elapsed: Duration);
    fn step_failed(&mut self, index: usize, elapsed: Duration);
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error("step `{name}` failed with exit status {status}\n  command: {run}\n{tail}")]
    StepFailed {
        name: String,
        run: String,
        status: i64,
        tail: String,
    },
    #[error("secret `{secret}` of step `{step}` is not set in the environment")]
    SecretMissing { step: String, secret: String },
    #[error("{file} {} and --locked was given (base `{reference}`)", if *missing { "is missing" } else { "is out of date" })]
    LockOutdated {
        file: String,
        missing: bool,
        reference: String,
    },
    #[error("the pinned base {image} is not available: {reason}")]
    PinnedBaseMissing { image: String, reason: String },
    /// `--locked`, and the lock pins the base for other platforms only.
    #[error("{file} pins base `{reference}` for {have}, not for {platform}")]
    LockLacksPlatform {
        file: String,
        reference: String,
        platform: String,
        have: String,
    },
    /// The platform cannot be told without the engine (the lock pins several).
    #[error("{file} pins base `{reference}` for {have}: which platform is meant?")]
    PlatformUnknown {
        file: String,
        reference: String,
        have: String,
    },
    #[error("base image `{reference}` is not available: {reason}")]
    BaseUnavailable { reference: String, reason: String },
    #[error("{source}; {file} still pins {digest}")]
    LockKept {
        file: String,
        digest: String,
        source: Box<BuildError>,
    },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error("input {path} of step `{step}` changed while it was copied into the build")]
    InputChanged { step: String, path: String },
    #[error("build interrupted")]
    Interrupted,
    #[error("cannot use the lock directory {dir}: {why}")]
    LockDir { dir: String, why: String },
    #[error("layer {key} is not built")]
    NotBuilt { key: String },
    #[error("the Ansible controller {image} cannot run playbooks: {reason}")]
    ControllerUnusable { image: String, reason: String },
    #[error("the Ansible controller {image} reports `{found}`, but the lock pins `{locked}`")]
    ControllerChanged {
        image: String,
        locked: String,
        found: String,
    },
    #[error("step `{step}` runs a playbook, which needs an engine on this machine (a unix socket), not {endpoint}")]
    AnsibleRemoteEngine { step: String, endpoint: String },
    #[error("step `{step}` runs a playbook, but its container has no Python, which Ansible's modules need")]
    AnsibleNoPython { step: String },
    #[error("step `{step}` failed{}: {message}\n{tail}", task.as_ref().map(|t| format!(" at task `{t}`")).unwrap_or_default())]
    AnsibleFailed {
        step: String,
        task: Option<String>,
        message: String,
        tail: String,
    },
    #[error(transparent)]
    HostNetwork(#[from] crate::hostnet::HostNetError),
}

impl BuildError {
    /// The exit code devenv ends with because of this error: its own, or that of the error
    /// it wraps (an unreachable engine is 3 wherever it happened).
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::Interrupted => crate::error::EXIT_INTERRUPTED,
            BuildError::Engine(e) => e.exit_code(),
            BuildError::LockKept { source, .. } => source.exit_code(),
            _ => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::LockOutdated { file, .. } => Some(format!(
                "run `devenv lock` (or `devenv lock --update`) and commit {file}"
            )),
            BuildError::LockLacksPlatform { platform, file, .. } => Some(format!(
                "run `devenv lock --platform {platform}` (without --locked) to add the platform \
                 and commit {file}, or pass --platform for one it pins"
            )),
            BuildError::PlatformUnknown { .. } => Some(
                "pass --platform (or set DOCKER_DEFAULT_PLATFORM), or make the engine reachable"
                    .into(),
            ),
            BuildError::PinnedBaseMissing { .. } => Some(
                "make the image available (`docker pull`, `docker load`), or move the lock on \
                 purpose with `devenv lock --update`"
                    .into(),
            ),
            BuildError::BaseUnavailable { .. } => Some(
                "check the reference, pull or load the image, or use `base.rootfs` with a \
                 root filesystem tarball"
                    .into(),
            ),
            BuildError::LockKept { source, .. } => source.hint(),
            BuildError::Engine(e) => e.hint(),
            BuildError::SecretMissing { secret, .. } => {
                Some(format!("export {secret}=… before running devenv"))
            }
            BuildError::Interrupted => {
                Some("finished steps are kept: run again to continue from there".into())
            }
            BuildError::NotBuilt { .. } => Some("run `devenv build` first".into()),
            BuildError::HostNetwork(e) => e.hint(),
            BuildError::LockDir { dir, .. } => Some(format!(
                "another user may have planted it: check and remove {dir}, or set \
                 XDG_RUNTIME_DIR to a directory of yours"
            )),
            BuildError::InputChanged { .. } => Some(
                "nothing was kept under the old content's key; run again once the files are \
                 saved"
                    .into(),
            ),
            BuildError::StepFailed { .. } | BuildError::AnsibleFailed { .. } => {
                Some("fix the step and run again: finished steps are reused".into())
            }
            BuildError::ControllerChanged { .. } => Some(
                "pin what this controller is on purpose with `devenv lock --update`, or use the \
                 controller the lock was written with"
                    .into(),
            ),
            BuildError::ControllerUnusable { .. } => Some(
                "`[provision.ansible] image` needs ansible-playbook, the community.docker \
                 collection and Python's requests (Debian: `ansible` and `python3-requests`); \
                 without it devenv builds one from a Debian-family base"
                    .into(),
            ),
            BuildError::AnsibleRemoteEngine { .. } => Some(
                "run devenv on the engine's machine (DOCKER_HOST=unix://…), or install with a \
                 `run` step instead"
                    .into(),
            ),
            BuildError::AnsibleNoPython { .. } => Some(
                "install Python in an earlier step, e.g. `run = \"apt-get update && apt-get \
                 install -y --no-install-recommends python3\"`"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The result of making sure the image exists.
#[derive(Debug, Clone)]
pub struct Built {
    pub hash: String,
    /// The platform it was built for.
    pub platform: Platform,
    /// `devenv/<project>:<hash>`.
    pub image: String,
    pub steps_run: usize,
    pub steps_cached: usize,
}

/// Where a project keeps its local state.
#[derive(Debug, Clone)]
pub struct StatePaths {
    pub lock: PathBuf,
    pub dir: PathBuf,
}

impl StatePaths {
    /// Create the state directory with a `.gitignore` that keeps it out of version control.
    pub fn ensure_dir(&self) {
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() && std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = std::fs::write(ignore, "# devenv's local state; never committed\n*\n");
        }
    }

    /// The stat cache, in the state directory (created, with its `.gitignore`, on first use).
    pub fn stat_cache(&self) -> StatCache {
        self.ensure_dir();
        StatCache::load(self.dir.join("statcache.json"))
    }
}

/// The project identity (see docs/design.md): 16 hex of the sha256 over the real paths of
/// the project directory and the manifest. Its first 8 hex name the environment container.
pub fn project_identity(manifest: &Manifest) -> String {
    let real = |p: &std::path::Path| {
        p.canonicalize()
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let mut h = fingerprint::Hasher::new("project");
    h.field("dir", real(&manifest.root).as_bytes());
    h.field("manifest", real(&manifest.path).as_bytes());
    h.finish()[..16].to_owned()
}

/// The project's root reference for a hash: `devenv/project/<identity>:<hash>`.
fn root_ref(manifest: &Manifest, hash: &str) -> (String, String) {
    (
        format!("{ROOT_REPO_PREFIX}{}", project_identity(manifest)),
        hash.to_owned(),
    )
}

/// The project's image reference for a hash.
pub fn image_name(manifest: &Manifest, hash: &str) -> String {
    format!("devenv/{}:{hash}", manifest.name)
}

/// The first `chars` characters of `s` (labels and ids read from images may be anything, so
/// never a byte slice that could split a character).
pub fn head(s: &str, chars: usize) -> &str {
    s.char_indices().nth(chars).map_or(s, |(i, _)| &s[..i])
}

pub fn layer_ref(key: &str) -> String {
    format!("{LAYER_REPO}:{key}")
}

/// The plan from a current lock, without the engine; `None` when the lock is missing, stale,
/// lacks the platform, or pins several and none was named (resolving it needs the engine:
/// see [`plan`]). `platform`: the engine's when known; else `[base] platform` / `--platform`,
/// else the one the lock pins.
pub fn current_plan(
    manifest: &Manifest,
    paths: &StatePaths,
    platform: Option<&Platform>,
) -> Result<Option<Plan>, BuildError> {
    let mut cache = paths.stat_cache();
    let Some((entry, platform)) = base::current_entry(manifest, &paths.lock, &mut cache, platform)?
    else {
        return Ok(None);
    };
    let lock = if ansible::needed(manifest) {
        crate::manifest::LockFile::read(&paths.lock)?
    } else {
        None
    };
    let Some(controller) = ansible::current(manifest, lock.as_ref()) else {
        return Ok(None);
    };
    let plan = fingerprint::plan(
        manifest,
        &entry.digest,
        &platform,
        controller.as_deref(),
        &mut cache,
    )?;
    cache.save();
    Ok(Some(plan))
}

/// Compute the plan (resolving the base) without building.
pub async fn plan(
    engine: &Engine,
    manifest: &Manifest,
    paths: &StatePaths,
    mode: LockMode,
    reporter: &mut dyn Reporter,
) -> Result<(Plan, ResolvedBase), BuildError> {
    let mut cache = paths.stat_cache();
    let mut base = base::resolve(engine, manifest, &paths.lock, mode, &mut cache, reporter).await?;
    let controller =
        ansible::resolve(engine, manifest, &paths.lock, mode, &mut base, reporter).await?;
    let identity = controller.as_ref().map(|c| c.identity.as_str());
    let plan = fingerprint::plan(
        manifest,
        &base.entry.digest,
        &base.platform,
        identity,
        &mut cache,
    )?;
    cache.save();
    Ok((plan, base))
}

/// How often a build plans again when an input changed while it was copied in.
const REPLANS: usize = 2;

/// Make sure the image for the manifest exists, building the missing steps.
pub async fn ensure_image(
    engine: &Engine,
    manifest: &Manifest,
    paths: &StatePaths,
    mode: LockMode,
    reporter: &mut dyn Reporter,
) -> Result<Built, BuildError> {
    // First of all, so that no Ctrl-C from here on is lost or kills us half-way.
    let mut interrupt = interrupt::Interrupt::install()?;
    let mut cache = paths.stat_cache();
    let mut base = base::resolve(engine, manifest, &paths.lock, mode, &mut cache, reporter).await?;
    platform::warn_if_emulated(engine, &base, reporter).await?;
    // From here on the manifest names the platform the chain is built for (layer labels).
    let manifest = &platform::for_build(manifest, &base.platform);
    let mut controller =
        ansible::resolve(engine, manifest, &paths.lock, mode, &mut base, reporter).await?;
    let mut replans = 0;
    loop {
        if interrupt.pending() {
            return Err(BuildError::Interrupted);
        }
        let identity = controller.as_ref().map(|c| c.identity.clone());
        let plan = fingerprint::plan(
            manifest,
            &base.entry.digest,
            &base.platform,
            identity.as_deref(),
            &mut cache,
        )?;
        cache.save();
        let built = build_plan(
            engine,
            manifest,
            paths,
            (&plan, &mut base, &mut controller),
            &mut interrupt,
            reporter,
        )
        .await;
        match built {
            // The layer was not committed: hash the files again and build what they are now.
            Err(BuildError::InputChanged { step, path }) if replans < REPLANS => {
                replans += 1;
                reporter.note(&format!(
                    "input {path} of step `{step}` changed during the build: planning again"
                ));
            }
            Ok(built) => {
                // What this image was made of, for `recreating …` to say what changed.
                BuildRecord::new(manifest, &plan).save_for(&paths.dir, &built.hash);
                return Ok(built);
            }
            other => return other,
        }
    }
}

/// Build the chain of `plan`.
async fn build_plan(
    engine: &Engine,
    manifest: &Manifest,
    paths: &StatePaths,
    (plan, base, controller): (&Plan, &mut ResolvedBase, &mut Option<ansible::Controller>),
    interrupt: &mut interrupt::Interrupt,
    reporter: &mut dyn Reporter,
) -> Result<Built, BuildError> {
    let hash = plan.hash().to_owned();
    let image = image_name(manifest, &hash);
    let total = manifest.steps.len();
    // Fast path: the final image is there, or the registry cache has it.
    let mut cache = cache::RegistryCache::new(
        manifest.cache.as_ref().map(|c| c.registry.as_str()),
        &plan.platform,
    );
    // A layer retagged by hand is restored from devenv's own, or rebuilt.
    let present = match engine.image_detail(&layer_ref(&hash)).await? {
        Some(top) => verify::ensure_genuine_top(engine, &hash, top, reporter)
            .await?
            .is_some(),
        None => false,
    };
    let fetched = !present
        && match cache.as_mut() {
            Some(cache) => cache.fetch(engine, &hash, reporter).await?,
            None => false,
        };
    if present || fetched {
        if present {
            for (i, s) in manifest.steps.iter().enumerate() {
                reporter.step_cached(i, total, &s.name);
            }
        }
        tag_final(engine, manifest, &hash, reporter).await?;
        return Ok(Built {
            platform: plan.platform.clone(),
            hash,
            image,
            steps_run: 0,
            steps_cached: total,
        });
    }
    let identity = project_identity(manifest);
    leftovers::remove_dead(engine, Some((&manifest.name, &identity))).await?;
    let previous = BuildRecord::load(&paths.dir);
    let owner = lock::scope()?;
    // The user's proxies and CA bundle: given to the steps, kept out of key and layers.
    let hostnet = crate::hostnet::HostNetwork::load(engine.endpoint())?;
    let mut builder = step::Builder::new(engine, manifest, reporter, cache, owner, hostnet);
    builder.controller = controller.clone().map(|c| (c, base.clone()));
    let chain = async {
        let mut parent = builder
            .ensure_base_layer(base, &plan.base_key, interrupt)
            .await?;
        let (mut run, mut cached) = (0, 0);
        for (i, planned) in plan.steps.iter().enumerate() {
            let why = previous.as_ref().map(|p| p.explain(i, manifest, plan));
            let ran = builder
                .ensure_step(i, &parent, planned, why.as_deref(), interrupt)
                .await?;
            if ran {
                run += 1;
            } else {
                cached += 1;
            }
            parent = layer_ref(&planned.key);
        }
        // A Ctrl-C that arrived while nothing was running still ends the build.
        if interrupt.pending() {
            return Err(BuildError::Interrupted);
        }
        Ok((run, cached))
    }
    .await;
    // Finished steps' containers are removed whatever happened to the later ones; a
    // failure to remove them never hides why the build failed.
    let (run, cached) = builder.finish(chain).await?;
    tag_final(engine, manifest, &hash, reporter).await?;
    BuildRecord::new(manifest, plan).save(&paths.dir);
    Ok(Built {
        platform: plan.platform.clone(),
        hash,
        image,
        steps_run: run,
        steps_cached: cached,
    })
}

/// The outcome of an operation followed by its cleanup: the operation's error when it
/// failed (the real cause; a cleanup failure after it is only reported), else the
/// cleanup's.
fn first_error<T>(
    outcome: Result<T, BuildError>,
    cleanup: Result<(), BuildError>,
    reporter: &mut dyn Reporter,
) -> Result<T, BuildError> {
    match (outcome, cleanup) {
        (Err(e), Err(also)) => {
            reporter.warn(&format!("cleaning up after the failure failed too: {also}"));
            Err(e)
        }
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        (Ok(v), Ok(())) => Ok(v),
    }
}

/// Point `devenv/<project>:<hash>` at the top layer, restoring it when it was retagged, and
/// record it as one of this project's roots (`devenv/project/<identity>:<hash>`, what prune
/// goes by).
async fn tag_final(
    engine: &Engine,
    manifest: &Manifest,
    hash: &str,
    reporter: &mut dyn Reporter,
) -> Result<(), BuildError> {
    let reference = layer_ref(hash);
    let top = engine
        .image(&reference)
        .await?
        .ok_or_else(|| BuildError::NotBuilt {
            key: hash.to_owned(),
        })?;
    verify::tag_final(engine, manifest, hash, &top.id, reporter).await?;
    let (root_repo, _) = root_ref(manifest, hash);
    if engine
        .image(&format!("{root_repo}:{hash}"))
        .await?
        .is_none()
    {
        engine.tag(&reference, &root_repo, hash).await?;
    }
    Ok(())
}

/// Labels every layer image carries.
fn layer_labels(manifest: &Manifest, key: &str, parent: &str) -> HashMap<String, String> {
    HashMap::from([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::ROLE.to_owned(), "layer".to_owned()),
        (labels::KEY.to_owned(), key.to_owned()),
        (labels::PARENT.to_owned(), parent.to_owned()),
        (labels::HASH.to_owned(), key.to_owned()),
        (labels::PROJECT.to_owned(), manifest.name.clone()),
        (labels::PROJECT_ID.to_owned(), project_identity(manifest)),
        // Set on build containers; empty here, or the commit would copy the builder's.
        (labels::OWNER.to_owned(), String::new()),
        // What the chain was built for: a registry copy is checked against it (an imported
        // rootfs records the engine's architecture in the image config, whatever it holds).
        (
            labels::PLATFORM.to_owned(),
            manifest
                .base
                .platform
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        (
            labels::VERSION.to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Warnings(Vec<String>);

    impl Reporter for Warnings {
        fn note(&mut self, _: &str) {}
        fn warn(&mut self, message: &str) {
            self.0.push(message.to_owned());
        }
        fn step_cached(&mut self, _: usize, _: usize, _: &str) {}
        fn step_started(&mut self, _: usize, _: usize, _: &str, _: Option<&str>) {}
        fn step_output(&mut self, _: usize, _: &[u8], _: bool) {}
        fn step_finished(&mut self, _: usize, _: Duration) {}
        fn step_failed(&mut self, _: usize, _: Duration) {}
    }

    fn failed(what: &str) -> BuildError {
        BuildError::Io {
            what: what.into(),
            message: "failed".into(),
        }
    }

    #[test]
    fn the_first_real_error_wins_over_a_cleanup_failure() {
        let mut r = Warnings::default();
        let e = first_error::<()>(Err(BuildError::Interrupted), Err(failed("rm")), &mut r);
        assert!(matches!(e, Err(BuildError::Interrupted)));
        assert_eq!(r.0.len(), 1);
        assert!(r.0[0].contains("rm: failed"), "{:?}", r.0);
        let e = first_error::<()>(Err(BuildError::Interrupted), Ok(()), &mut r);
        assert!(matches!(e, Err(BuildError::Interrupted)));
        // After a success the cleanup failure is the error.
        let e = first_error(Ok(1), Err(failed("rm")), &mut r);
        assert!(matches!(e, Err(BuildError::Io { .. })));
        assert_eq!(first_error(Ok(1), Ok(()), &mut r).unwrap(), 1);
        assert_eq!(r.0.len(), 1);
    }

    #[test]
    fn head_never_splits_a_character() {
        assert_eq!(head("aéééééééééééé", 12), "aééééééééééé");
        assert_eq!(head("abc", 12), "abc");
        assert_eq!(head(&"f".repeat(64), 12), "ffffffffffff");
    }
}

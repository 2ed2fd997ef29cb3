//! Running one step: a container from the parent layer idles on `/bin/sh`; the step's
//! inputs are copied in, its command runs as an exec (so secrets exist only in that exec's
//! environment, never in the container or image config), and the container is committed
//! under the step key.
//!
//! The inputs' archive is built in `archive`, the output kept for a failure in `tail`, and
//! Ctrl-C is watched by `interrupt`.

use std::time::Instant;

use futures_util::StreamExt;

use super::archive::inputs_tar;
use super::base::ResolvedBase;
use super::cache::RegistryCache;
use super::caches;
use super::interrupt::Interrupt;
use super::leftovers::{self, Claim};
use super::lock::NamedLock;
use super::tail::Tail;
use super::verify::LayerInputs;
use super::{layer_labels, layer_ref, BuildError, Reporter, LAYER_REPO};
use crate::engine::ExecOutput;
use crate::engine::{labels, CommitSpec, ContainerSpec, Engine, ExecSpec};
use crate::fingerprint::PlannedStep;
use crate::hostnet::{ca, HostNetwork};
use crate::manifest::{Manifest, Step};

pub(super) struct Builder<'a> {
    engine: &'a Engine,
    manifest: &'a Manifest,
    reporter: &'a mut dyn Reporter,
    cache: Option<RegistryCache>,
    /// This lock directory's scope id, put on build containers (see `leftovers`).
    owner: String,
    /// Removals of committed build containers, overlapped with the next step's work.
    removals: Vec<tokio::task::JoinHandle<Result<(), crate::engine::EngineError>>>,
    /// The user's proxies and CA bundle, given to each step's exec only.
    hostnet: HostNetwork,
    /// The pinned Ansible controller (and the base it may be built from), for `ansible`
    /// steps.
    pub controller: Option<(super::ansible::Controller, ResolvedBase)>,
}

impl<'a> Builder<'a> {
    pub fn new(
        engine: &'a Engine,
        manifest: &'a Manifest,
        reporter: &'a mut dyn Reporter,
        cache: Option<RegistryCache>,
        owner: String,
        hostnet: HostNetwork,
    ) -> Self {
        Builder {
            engine,
            manifest,
            reporter,
            cache,
            owner,
            removals: Vec::new(),
            hostnet,
            controller: None,
        }
    }

    /// Wait for the background removals of build containers, after the chain's `outcome`;
    /// a removal failure is the error only when the chain succeeded.
    pub async fn finish<T>(self, outcome: Result<T, BuildError>) -> Result<T, BuildError> {
        let mut cleanup = Ok(());
        for handle in self.removals {
            let removed = match handle.await {
                Ok(r) => r.map_err(BuildError::from),
                Err(e) => Err(BuildError::Io {
                    what: "removing a build container".into(),
                    message: e.to_string(),
                }),
            };
            if cleanup.is_ok() {
                cleanup = removed;
            }
        }
        super::first_error(outcome, cleanup, self.reporter)
    }

    /// Whether the layer exists locally or could be fetched from the registry cache.
    async fn available(&mut self, key: &str) -> Result<bool, BuildError> {
        if self.engine.image(&layer_ref(key)).await?.is_some() {
            return Ok(true);
        }
        match self.cache.as_mut() {
            Some(cache) => cache.fetch(self.engine, key, self.reporter).await,
            None => Ok(false),
        }
    }

    /// The config layer: base + `[env]` + workdir. Returns its reference.
    pub async fn ensure_base_layer(
        &mut self,
        base: &mut ResolvedBase,
        key: &str,
        interrupt: &mut Interrupt,
    ) -> Result<String, BuildError> {
        let reference = layer_ref(key);
        if self.available(key).await? {
            return Ok(reference);
        }
        // Another build may be making this layer (or pulling its base) for minutes.
        let _guard = interrupt.run(NamedLock::acquire(key)).await?;
        if self.engine.image(&reference).await?.is_some() {
            return Ok(reference);
        }
        let digest = base.entry.digest.clone();
        // Only now is the base image itself needed.
        let base = &base
            .image(self.engine, self.manifest, self.reporter)
            .await?;
        let (base_env, base_id) = self
            .engine
            .image(base)
            .await?
            .map(|i| (i.env, i.id))
            .unwrap_or_default();
        let env = merge_env(&base_env, &self.manifest.env);
        let spec = self.container_spec(base, key, &env, &Process::Idle);
        let Claim::Created(id) = leftovers::claim(self.engine, &spec, key, self.reporter).await?
        else {
            return Ok(reference);
        };
        let record = LayerInputs::config(self.manifest, &digest);
        let result = self
            .commit(
                &id,
                (key, ""),
                (&record, &base_id),
                env,
                "devenv: base config",
            )
            .await;
        let removed = self.engine.remove_container(&id).await.map_err(Into::into);
        super::first_error(result, removed, self.reporter)?;
        Ok(reference)
    }

    /// Build the step unless its layer exists; returns whether it ran.
    pub async fn ensure_step(
        &mut self,
        index: usize,
        parent: &str,
        planned: &PlannedStep,
        why: Option<&str>,
        interrupt: &mut Interrupt,
    ) -> Result<bool, BuildError> {
        let step = &self.manifest.steps[index];
        let total = self.manifest.steps.len();
        if self.available(&planned.key).await? {
            self.reporter.step_cached(index, total, &step.name);
            return Ok(false);
        }
        let secrets = self.secret_env(index)?;
        // Another build of this step may hold the lock for minutes: Ctrl-C still works.
        let _guard = interrupt.run(NamedLock::acquire(&planned.key)).await?;
        // Someone else may have built it while we waited for the lock.
        if self.engine.image(&layer_ref(&planned.key)).await?.is_some() {
            self.reporter.step_cached(index, total, &step.name);
            return Ok(false);
        }
        let parent_info = self.engine.image(parent).await?;
        let (env, parent_user, parent_id) = parent_info
            .map(|i| (i.env, i.user, i.id))
            .unwrap_or_default();
        let record = LayerInputs::step(self.manifest, index, planned);
        // The step is the container's main process (cheapest) unless it has secrets, `env`
        // or a user of its own: a commit records the container's command in the image
        // history and its config (`ContainerConfig`), and neither secrets, the step's env
        // values nor its user may end up in the image. Those steps run as an exec in an
        // idle container instead: an exec's command and env are recorded nowhere. So do
        // all steps when proxies or the host's CA are in use (a commit would merge the
        // container's env into the image's). A step with caches runs as an exec too: their
        // roots get their owner and mode first.
        let process = if secrets.is_empty()
            && step.env.is_empty()
            && step.ansible.is_none()
            && self.hostnet.is_empty()
            && step.caches.is_empty()
            && runs_as_image_user(step, &parent_user)
        {
            Process::Main {
                script: step.run.clone(),
            }
        } else {
            Process::Idle
        };
        // Held (locked, per `sharing`) until the step's container is gone.
        let caches = if step.caches.is_empty() {
            None
        } else {
            let client = crate::ownership::client::id();
            let held = tokio::select! {
                h = caches::acquire(self.engine, self.manifest, step, &client, self.reporter) => h?,
                () = interrupt.recv() => return Err(BuildError::Interrupted),
            };
            Some(held)
        };
        let mut spec = self.container_spec(parent, &planned.key, &env, &process);
        if let Some(held) = &caches {
            spec.mounts.clone_from(&held.mounts);
        }
        let claim = tokio::select! {
            c = leftovers::claim(self.engine, &spec, &planned.key, self.reporter) => c?,
            () = interrupt.recv() => return Err(BuildError::Interrupted),
        };
        let Claim::Created(id) = claim else {
            // Another build of this key, elsewhere, finished it while we waited.
            self.reporter.step_cached(index, total, &step.name);
            return Ok(false);
        };
        // An idle container's stdin is held until its container is removed: when this
        // process dies, the engine closes it, the idle shell exits and the step with it.
        let lease = match process {
            Process::Idle => match self.engine.attach_stdin(&id).await {
                Ok(lease) => Some(lease),
                Err(e) => {
                    self.engine.remove_container(&id).await?;
                    return Err(e.into());
                }
            },
            Process::Main { .. } => None,
        };
        self.reporter.step_started(index, total, &step.name, why);
        let started = Instant::now();
        let comment = format!("devenv step: {}", step.name);
        let outcome = tokio::select! {
            r = async {
                let setup = caches.as_ref().map(|h| h.setup.clone());
                self.run_in(&id, index, planned, (&process, &env), secrets, setup).await?;
                let parent_key = parent.strip_prefix(LAYER_REPO).unwrap_or(parent);
                let parent_key = parent_key.trim_start_matches(':');
                self.commit(&id, (&planned.key, parent_key), (&record, &parent_id), env, &comment)
                    .await
            } => r,
            () = interrupt.recv() => Err(BuildError::Interrupted),
        };
        let outcome = if outcome.is_ok() {
            // The layer is committed: removing its container can overlap what comes next.
            let engine = self.engine.clone();
            self.removals.push(tokio::spawn(async move {
                let removed = engine.remove_container(&id).await;
                drop(lease);
                drop(caches);
                removed
            }));
            outcome
        } else {
            // The step's failure is what the user needs to see, not a failed removal. After
            // Ctrl-C the removal still finishes (the backstop waits for it).
            let _hold = crate::cancel::Hold::new();
            let removed = self.engine.remove_container(&id).await.map_err(Into::into);
            drop(lease);
            super::first_error(outcome, removed, self.reporter)
        };
        match outcome {
            Ok(()) => {
                self.reporter.step_finished(index, started.elapsed());
                Ok(true)
            }
            Err(e) => {
                self.reporter.step_failed(index, started.elapsed());
                Err(e)
            }
        }
    }

    /// Copy the inputs into the created container and run the step's command: as the main
    /// process when it was created with one, else as an exec carrying the secrets.
    async fn run_in(
        &mut self,
        id: &str,
        index: usize,
        planned: &PlannedStep,
        (process, image_env): (&Process, &[String]),
        secrets: Vec<String>,
        cache_setup: Option<Vec<String>>,
    ) -> Result<(), BuildError> {
        let step = &self.manifest.steps[index];
        if let Some(a) = &step.ansible {
            return self
                .run_playbook(id, index, a, planned, secrets, cache_setup)
                .await;
        }
        if !planned.inputs.is_empty() {
            let (body, verdict) = inputs_tar(
                &self.manifest.root,
                &self.manifest.shell.workdir,
                &step.name,
                &planned.inputs,
            );
            let uploaded = self.engine.upload_tar(id, "/", body).await;
            let verdict = verdict.await.map_err(|e| BuildError::Io {
                what: "inputs archive".into(),
                message: e.to_string(),
            })?;
            // A changed input is the cause when the upload failed too (it aborted it); any
            // other archive failure after a failed upload is only its echo.
            match (verdict, uploaded) {
                (Err(e @ BuildError::InputChanged { .. }), _) | (Err(e), Ok(())) => return Err(e),
                (_, Err(e)) => return Err(e.into()),
                (Ok(()), Ok(())) => {}
            }
        }
        let mut tail = Tail::default();
        let engine = self.engine;
        let reporter = &mut *self.reporter;
        let mut on_output = |chunk: ExecOutput| {
            let (bytes, is_err) = match chunk {
                ExecOutput::Stdout(b) => (b, false),
                ExecOutput::Stderr(b) => (b, true),
            };
            tail.push(&bytes);
            reporter.step_output(index, &bytes, is_err);
        };
        let status = if matches!(process, Process::Main { .. }) {
            engine.run_container(id, &mut on_output).await?
        } else {
            engine.start_container(id).await?;
            if let Some(cmd) = cache_setup {
                setup_caches(engine, id, &step.name, cmd).await?;
            }
            let mut env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            env.extend(secrets);
            if let Some(ca) = &self.hostnet.ca {
                ca::install(engine, id, ca)
                    .await?
                    .map_err(|message| ca_failed(step, message))?;
            }
            let mut set = env.clone();
            set.extend(image_env.iter().cloned());
            env.extend(self.hostnet.env_for(&set));
            let spec = ExecSpec {
                cmd: vec!["/bin/sh".into(), "-c".into(), step.run.clone()],
                env,
                user: Some(step_user(step)),
                workdir: Some(self.manifest.shell.workdir.clone()),
                ..ExecSpec::default()
            };
            let mut io = engine.start_exec(id, &spec).await?;
            while let Some(chunk) = io.output.next().await {
                on_output(chunk?);
            }
            engine.exec_exit_code(&io.id).await?
        };
        if status != 0 {
            return Err(BuildError::StepFailed {
                name: step.name.clone(),
                run: step.run.clone(),
                status,
                tail: tail.render(),
            });
        }
        if self.hostnet.ca.is_some() {
            // Out of the layer again before the commit.
            ca::remove(engine, id)
                .await?
                .map_err(|message| ca_failed(step, message))?;
        }
        Ok(())
    }

    /// An `ansible` step: the playbook runs from the controller against the container, whose
    /// main process idles. The step's inputs go to the controller, not into the image.
    async fn run_playbook(
        &mut self,
        id: &str,
        index: usize,
        ansible: &crate::manifest::AnsibleStep,
        planned: &PlannedStep,
        secrets: Vec<String>,
        cache_setup: Option<Vec<String>>,
    ) -> Result<(), BuildError> {
        let step = &self.manifest.steps[index];
        let Some((controller, base)) = self.controller.as_mut() else {
            return Err(BuildError::Io {
                what: format!("step `{}`", step.name),
                message: "no Ansible controller was resolved (a bug: please report it with -v)"
                    .into(),
            });
        };
        let image = controller
            .image(self.engine, self.manifest, base, self.reporter)
            .await?;
        self.engine.start_container(id).await?;
        if let Some(cmd) = cache_setup {
            setup_caches(self.engine, id, &step.name, cmd).await?;
        }
        // The host's CA bundle is in the container while the play runs (its tasks reach the
        // network through it), and out again before the commit.
        if let Some(ca) = &self.hostnet.ca {
            ca::install(self.engine, id, ca)
                .await?
                .map_err(|message| ca_failed(step, message))?;
        }
        let mut env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(secrets);
        let run = super::ansible::Run {
            engine: self.engine,
            manifest: self.manifest,
            step,
            ansible,
            planned,
            target: id,
            controller_image: &image,
            env,
        };
        let reporter = &mut *self.reporter;
        let mut on_output = |chunk: ExecOutput| {
            let (bytes, is_err) = match chunk {
                ExecOutput::Stdout(b) => (b, false),
                ExecOutput::Stderr(b) => (b, true),
            };
            reporter.step_output(index, &bytes, is_err);
        };
        super::ansible::run_playbook(run, &mut on_output).await?;
        if self.hostnet.ca.is_some() {
            ca::remove(self.engine, id)
                .await?
                .map_err(|message| ca_failed(step, message))?;
        }
        Ok(())
    }

    fn secret_env(&self, index: usize) -> Result<Vec<String>, BuildError> {
        let step = &self.manifest.steps[index];
        step.secrets
            .iter()
            .map(|name| match std::env::var(name) {
                Ok(v) => Ok(format!("{name}={v}")),
                Err(_) => Err(BuildError::SecretMissing {
                    step: step.name.clone(),
                    secret: name.clone(),
                }),
            })
            .collect()
    }

    fn container_spec(
        &self,
        image: &str,
        key: &str,
        env: &[String],
        process: &Process,
    ) -> ContainerSpec {
        let mut labels = layer_labels(self.manifest, key, "");
        labels.insert(labels::ROLE.to_owned(), "build".to_owned());
        labels.insert(labels::OWNER.to_owned(), self.owner.clone());
        labels.remove(labels::HASH);
        let (cmd, open_stdin) = match process {
            // An idle `/bin/sh` on an open stdin that nobody writes to.
            Process::Idle => (vec!["/bin/sh".to_owned()], true),
            Process::Main { script } => (
                vec!["/bin/sh".to_owned(), "-c".to_owned(), script.clone()],
                false,
            ),
        };
        ContainerSpec {
            name: Some(leftovers::container_name(key)),
            image: image.to_owned(),
            cmd,
            env: env.to_vec(),
            workdir: Some(self.manifest.shell.workdir.clone()),
            labels,
            open_stdin,
            stdin_once: open_stdin,
            ..ContainerSpec::default()
        }
    }

    /// Commit the container as the layer `key` built on the layer `parent` (image id
    /// `parent_id`), recording both and what went into the key.
    async fn commit(
        &mut self,
        id: &str,
        (key, parent): (&str, &str),
        (record, parent_id): (&LayerInputs, &str),
        env: Vec<String>,
        comment: &str,
    ) -> Result<(), BuildError> {
        let mut labels = layer_labels(self.manifest, key, parent);
        labels.extend(record.record_labels(parent_id));
        let spec = CommitSpec {
            repo: LAYER_REPO.to_owned(),
            tag: key.to_owned(),
            env,
            workdir: self.manifest.shell.workdir.clone(),
            labels,
            comment: comment.to_owned(),
        };
        self.engine.commit(id, &spec).await?;
        Ok(())
    }
}

/// Give the caches' roots their owner and mode (as root, before the step).
async fn setup_caches(
    engine: &Engine,
    id: &str,
    step: &str,
    cmd: Vec<String>,
) -> Result<(), BuildError> {
    let spec = ExecSpec {
        cmd,
        user: Some("0:0".into()),
        ..ExecSpec::default()
    };
    let (status, output) = engine.exec_collect(id, &spec).await?;
    if status != 0 {
        return Err(BuildError::Io {
            what: format!("the caches of step `{step}`"),
            message: format!("setting their owner and mode failed: {}", output.trim()),
        });
    }
    Ok(())
}

/// What a build container's main process is.
enum Process {
    /// Idles, so the step can run as an exec.
    Idle,
    /// Runs the step itself, as the image's user.
    Main { script: String },
}

/// A failure of devenv's own script that adds or removes the host's CA bundle.
fn ca_failed(step: &Step, message: String) -> BuildError {
    BuildError::Io {
        what: format!("step `{}`", step.name),
        message,
    }
}

/// Whether the step's user is the one the image runs as anyway.
fn runs_as_image_user(step: &Step, image_user: &str) -> bool {
    let root = |u: &str| matches!(u, "" | "root" | "0" | "0:0");
    step.user == image_user || (root(&step.user) && root(image_user))
}

/// The step's user; numeric root works in images without /etc/passwd.
fn step_user(step: &Step) -> String {
    if step.user == "root" {
        "0:0".to_owned()
    } else {
        step.user.clone()
    }
}

/// Image env (`K=V` list) with `[env]` applied on top.
fn merge_env(base: &[String], extra: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = base
        .iter()
        .filter(|kv| {
            let k = kv.split('=').next().unwrap_or_default();
            !extra.contains_key(k)
        })
        .cloned()
        .collect();
    out.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
    out
}

//! `devenv watch` and `devenv up --watch`: keep the environment current and run the
//! `[[watch]]` rules.
//!
//! The watch module reports classified changes; this file decides what to do with them:
//! a change to the manifest, the lock or a step input rebuilds what changed and recreates
//! the container exactly as `up` does (one line says what changed and what was done); an
//! invalid manifest is reported as `validate` would and the running environment is kept;
//! `[[watch]]` rules run their command inside the container (output prefixed `[rule N]`),
//! restart the container or force the update. A rule whose files change while its command
//! still runs is run once more when it ends (`--on-busy queue`), or stopped and started
//! again (`--on-busy restart`). Ctrl-C stops watching and leaves the environment running.
//!
//! This file owns the watch loop (`Session`): it updates the environment and dispatches
//! changes; `rules` runs the `[[watch]]` rules' commands, `report` phrases what happened
//! and keeps build progress quiet, `stop` listens for Ctrl-C and SIGTERM.

mod report;
mod rules;
mod stop;

use std::time::Duration;

use tokio::sync::mpsc;

use self::report::{cause, rule_cause, summary, Quiet, Updated};
use self::rules::RuleSlot;
use self::stop::Stop;
use super::build::lock_mode;
use super::{report, Ctx};
use crate::cli::{WatchArgs, WatchOptions};
use crate::engine::{ContainerInfo, Engine};
use crate::error::{Error, ExitStatus, Result};
use crate::image::{self, BuildError, LockMode};
use crate::manifest::{Manifest, WatchAction};
use crate::project::Project;
use crate::session::{self, RunnerEvent, StalePolicy};
use crate::watch::{self, Classified, Classifier, Notice, WatchEvent, Watcher};

/// Grace period for a container stop by a `restart` rule, in seconds.
const RESTART_GRACE: i32 = 3;

pub async fn run(ctx: &Ctx, args: &WatchArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let stop = Stop::install()?;
    let mut w = Session::new(ctx, engine, project, lock_mode(&args.locked), &args.options)?;
    match w.update().await {
        Ok(done) => ctx
            .printer
            .info(&format!("environment ready: {}", done.describe())),
        Err(Error::Build(BuildError::Interrupted)) => return Ok(w.finish().await),
        Err(e) => {
            report(ctx.printer, &e);
            ctx.printer
                .warn("the environment is not ready; watching for a fix");
        }
    }
    w.watch(stop).await
}

/// `devenv up --watch`: the environment is up; keep it current.
pub async fn after_up(
    ctx: &Ctx,
    engine: Engine,
    project: Project,
    container: ContainerInfo,
    mode: LockMode,
    options: &WatchOptions,
) -> Result<ExitStatus> {
    let stop = Stop::install()?;
    let mut w = Session::new(ctx, engine, project, mode, options)?;
    w.container = Some(container);
    w.watch(stop).await
}

struct Session<'a> {
    ctx: &'a Ctx,
    engine: Engine,
    project: Project,
    classifier: Classifier,
    mode: LockMode,
    options: WatchOptions,
    container: Option<ContainerInfo>,
    rules: Vec<RuleSlot>,
    /// Runner events, tagged with (rule index, runner id).
    events_tx: mpsc::UnboundedSender<((usize, u64), RunnerEvent)>,
    events_rx: mpsc::UnboundedReceiver<((usize, u64), RunnerEvent)>,
    runner_ids: u64,
    supervisor: crate::stack::Supervisor,
}

impl<'a> Session<'a> {
    fn new(
        ctx: &'a Ctx,
        engine: Engine,
        project: Project,
        mode: LockMode,
        options: &WatchOptions,
    ) -> Result<Session<'a>> {
        let classifier = classifier(&project.manifest)?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let mut rules = Vec::new();
        rules.resize_with(project.manifest.watch.len(), RuleSlot::default);
        Ok(Session {
            ctx,
            engine,
            project,
            classifier,
            mode,
            options: options.clone(),
            container: None,
            rules,
            events_tx,
            events_rx,
            runner_ids: 0,
            supervisor: crate::stack::Supervisor::default(),
        })
    }

    async fn watch(&mut self, mut stop: Stop) -> Result<ExitStatus> {
        let opts = watch::Options {
            debounce: Duration::from_millis(self.options.debounce),
            poll: self.options.poll,
            whole: self.whole_dirs(),
            ..watch::Options::default()
        };
        let root = self.project.manifest.root.clone();
        let mut watcher = Watcher::start(&root, opts).map_err(watch_error)?;
        self.ctx.printer.info(&format!(
            "watching {} directories{} (debounce {} ms); Ctrl-C stops watching",
            watcher.watched_dirs(),
            if watcher.polling() { " by polling" } else { "" },
            self.options.debounce
        ));
        self.prestart_runners().await;
        let mut supervise = tokio::time::interval(crate::stack::SUPERVISE_EVERY);
        supervise.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stop.recv() => break,
                _ = supervise.tick(), if !self.project.manifest.services.is_empty() => {
                    self.supervise().await;
                }
                // Before the runners' events: a rule that prints without pause must not
                // starve the changes. `next` is cancel-safe, so a batch still being
                // collected when a line wins is kept, not lost.
                ev = watcher.next() => match ev.map_err(watch_error)? {
                    WatchEvent::Notice(n) => self.notice(&n),
                    WatchEvent::Changes(changes) => {
                        if self.handle(&changes).await {
                            break;
                        }
                        // A container made meanwhile may bind other sources.
                        watcher.keep_whole(&self.whole_dirs()).map_err(watch_error)?;
                    }
                },
                Some(((i, id), ev)) = self.events_rx.recv() => self.runner_event(i, id, ev).await,
            }
        }
        Ok(self.finish().await)
    }

    /// Directories watched whole whatever `.gitignore` says: the container's and the
    /// services' synced bind sources.
    fn whole_dirs(&self) -> Vec<std::path::PathBuf> {
        self.container
            .as_ref()
            .map(|c| session::synced_bind_dirs(&self.project.manifest, c))
            .unwrap_or_default()
    }

    /// Restart services that stayed unhealthy (after a grace, with backoff; see
    /// `stack::Supervisor`).
    async fn supervise(&mut self) {
        match self
            .supervisor
            .tick(
                &self.engine,
                &self.project.manifest,
                &self.project.paths.dir,
            )
            .await
        {
            Ok(restarted) => {
                for name in restarted {
                    self.ctx
                        .printer
                        .info(&format!("service {name} is unhealthy: restarted it"));
                }
            }
            Err(e) => self
                .ctx
                .printer
                .warn(&format!("cannot check the services: {e}")),
        }
    }

    fn notice(&self, n: &Notice) {
        match n {
            Notice::Polling { what } => {
                self.ctx.printer.warn(&format!(
                    "inotify limit reached ({what}); falling back to polling"
                ));
                self.ctx
                    .printer
                    .info(&format!("hint: {}", watch::limit_hint(what)));
            }
            Notice::Rescanned => {
                if self.ctx.printer.verbose > 0 {
                    self.ctx.printer.info("rescanned the project tree");
                }
            }
        }
    }

    /// Act on one batch; returns whether watching should stop (interrupted).
    async fn handle(&mut self, changes: &[watch::Change]) -> bool {
        let mut what = self.classifier.classify(changes);
        let mut manifest_ok = true;
        if what.manifest {
            manifest_ok = self.reload();
            what = self.classifier.classify(changes);
            if manifest_ok {
                // Rule commands may have changed: their runners start afresh.
                self.stop_runners().await;
            }
        }
        if self.ctx.printer.verbose > 0 && !what.unmatched.is_empty() {
            self.ctx.printer.info(&format!(
                "changed, no rule applies: {}",
                summary(&what.unmatched)
            ));
        }
        // A remote engine's workspace follows every save (a local one binds the project).
        if let Some(c) = &self.container {
            let m = &self.project.manifest;
            let services = self.synced_services(c).await;
            let synced = session::sync_if_remote(
                &self.engine,
                m,
                c,
                &services,
                &self.project.paths.dir,
                None,
            );
            if let Err(e) = synced.await {
                self.failed("syncing the remote workspace", &e.into());
            }
        }
        // With an invalid manifest nothing is rebuilt or restarted: the environment stays.
        let rebuild_rules = self.rules_with(&what, |a| matches!(a, WatchAction::Rebuild));
        let mut recreated = false;
        if manifest_ok && (what.affects_image() || !rebuild_rules.is_empty()) {
            let cause = cause(&what, &rebuild_rules, &self.project.display_path);
            match self.update().await {
                Ok(done) => {
                    recreated = done.created;
                    self.ctx
                        .printer
                        .info(&format!("{cause}: {}", done.describe()));
                }
                Err(Error::Build(BuildError::Interrupted)) => return true,
                Err(e) => self.failed(&cause, &e),
            }
        }
        let restart = self.rules_with(&what, |a| matches!(a, WatchAction::Restart));
        if manifest_ok && !restart.is_empty() && !recreated {
            let cause = rule_cause(&what, &restart);
            match self.restart().await {
                Ok(done) => self
                    .ctx
                    .printer
                    .info(&format!("{cause}: restarted ({})", done.describe())),
                Err(Error::Build(BuildError::Interrupted)) => return true,
                Err(e) => self.failed(&cause, &e),
            }
        }
        self.prestart_runners().await;
        for i in self.rules_with(&what, |a| matches!(a, WatchAction::Run(_))) {
            let paths = what.rules.get(&i).cloned().unwrap_or_default();
            self.trigger(i, &paths).await;
        }
        false
    }

    /// The service containers whose bind volumes are synced with the workspace: listed only
    /// on an engine that cannot see this machine's files and when a service binds a path.
    async fn synced_services(&self, c: &ContainerInfo) -> Vec<ContainerInfo> {
        let m = &self.project.manifest;
        let binds = m.services.values().any(|s| {
            s.volumes
                .iter()
                .any(|v| matches!(v, crate::manifest::VolumeSpec::Bind { .. }))
        });
        if !binds || session::Workspace::of(&c.labels) != session::Workspace::Volume {
            return Vec::new();
        }
        match crate::environment::Environment::new(&self.engine, &self.project)
            .members()
            .await
        {
            Ok(members) => members.service_containers(),
            Err(_) => Vec::new(), // the sync itself reports an engine that went away
        }
    }

    fn failed(&self, cause: &str, e: &Error) {
        report(self.ctx.printer, e);
        let keep = if self.container.is_some() {
            "keeping the current environment"
        } else {
            "no environment is running"
        };
        self.ctx.printer.warn(&format!(
            "{cause}: update failed; {keep}; save a fix to try again"
        ));
    }

    /// Re-read the manifest; on error report it and keep the last good one.
    fn reload(&mut self) -> bool {
        let loaded = self
            .ctx
            .project()
            .and_then(|p| Ok((classifier(&p.manifest)?, p)));
        match loaded {
            Ok((c, p)) => {
                self.classifier = c;
                self.rules
                    .resize_with(p.manifest.watch.len(), RuleSlot::default);
                self.project = p;
                true
            }
            Err(e) => {
                report(self.ctx.printer, &e);
                self.ctx.printer.warn(&format!(
                    "{} is invalid: keeping the current environment; save a fix to pick it up",
                    self.project.display_path.display()
                ));
                false
            }
        }
    }

    fn rules_with(&self, what: &Classified, f: impl Fn(&WatchAction) -> bool) -> Vec<usize> {
        let rules = &self.project.manifest.watch;
        what.rules
            .keys()
            .copied()
            .filter(|i| rules.get(*i).is_some_and(|r| f(&r.action)))
            .collect()
    }

    /// Build what is missing and make sure the container runs, as `up` does.
    async fn update(&mut self) -> Result<Updated> {
        let m = &self.project.manifest;
        let mut rep = Quiet::new(self.ctx.printer);
        let built =
            image::ensure_image(&self.engine, m, &self.project.paths, self.mode, &mut rep).await?;
        let running = crate::environment::Environment::new(&self.engine, &self.project)
            .up(
                &built,
                StalePolicy::Recreate,
                self.mode,
                crate::environment::Counts::Scaled,
                &mut rep,
            )
            .await?;
        if running.created || running.started {
            // A new or restarted container has none of the old runners: start afresh.
            self.stop_runners().await;
        }
        self.project.paths.ensure_dir();
        let had_container = self.container.is_some() || rep.replaced;
        self.container = Some(running.container.clone());
        Ok(Updated {
            steps_run: built.steps_run,
            steps: self.project.manifest.steps.len(),
            created: running.created,
            started: running.started,
            had_container,
            container: running.container.name,
        })
    }

    /// Stop the container, then start it again with its hooks (through `update`).
    async fn restart(&mut self) -> Result<Updated> {
        if let Some(c) = &self.container {
            self.engine.stop_container(&c.id, RESTART_GRACE).await?;
        }
        self.update().await
    }

    /// Stop the rules' runners and their commands (the environment stays up) and say
    /// goodbye.
    async fn finish(&mut self) -> ExitStatus {
        // Ctrl-C ended watching: the runners are stopped before devenv exits.
        let _hold = crate::cancel::Hold::new();
        self.stop_runners().await;
        self.ctx
            .printer
            .info("stopped watching; the environment keeps running (`devenv down` removes it)");
        ExitStatus::Success
    }
}

fn classifier(m: &Manifest) -> Result<Classifier> {
    Classifier::new(m).map_err(watch_error)
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(watch_error)`
fn watch_error(e: watch::WatchError) -> Error {
    let hint = e.hint();
    Error::other(e.to_string(), hint)
}

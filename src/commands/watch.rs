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

use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::build::lock_mode;
use super::{report, Ctx};
use crate::build::{self, BuildError, LockMode, Reporter};
use crate::cli::{OnBusy, WatchArgs, WatchOptions};
use crate::engine::{ContainerInfo, Engine};
use crate::error::{Error, ExitStatus, Result};
use crate::manifest::{Manifest, WatchAction};
use crate::project::Project;
use crate::session::{self, Events, Runner, RunnerEvent, RuntimeSettings, StalePolicy};
use crate::ui::{BuildView, Printer};
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
}

/// A `run` rule's state: its runner in the container (started ahead, so a change starts the
/// command at once instead of paying for a new exec), the run in flight, and whether
/// changes arrived meanwhile.
#[derive(Default)]
struct RuleSlot {
    /// The runner and its id (events of replaced runners are told apart by it).
    runner: Option<(u64, Runner)>,
    running: Option<(u64, Instant)>,
    /// Changes arrived while it ran: run once more when it ends.
    again: bool,
}

/// What an update did.
struct Updated {
    steps_run: usize,
    steps: usize,
    created: bool,
    started: bool,
    had_container: bool,
    container: String,
}

impl Updated {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.steps_run > 0 {
            parts.push(format!(
                "rebuilt {} of {} steps",
                self.steps_run, self.steps
            ));
        }
        if self.created {
            let verb = if self.had_container {
                "recreated"
            } else {
                "created"
            };
            parts.push(format!("{verb} {}", self.container));
        } else if self.started {
            parts.push(format!("started {}", self.container));
        }
        if parts.is_empty() {
            format!("{} is up to date", self.container)
        } else {
            parts.join(", ")
        }
    }
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
        })
    }

    async fn watch(&mut self, mut stop: Stop) -> Result<ExitStatus> {
        let opts = watch::Options {
            debounce: Duration::from_millis(self.options.debounce),
            poll: self.options.poll,
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
        loop {
            tokio::select! {
                biased;
                () = stop.recv() => break,
                Some(((i, id), ev)) = self.events_rx.recv() => self.runner_event(i, id, ev).await,
                ev = watcher.next() => match ev.map_err(watch_error)? {
                    WatchEvent::Notice(n) => self.notice(&n),
                    WatchEvent::Changes(changes) => {
                        if self.handle(&changes).await {
                            break;
                        }
                    }
                },
            }
        }
        Ok(self.finish().await)
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
            build::ensure_image(&self.engine, m, &self.project.paths, self.mode, &mut rep).await?;
        let settings = RuntimeSettings::new(m, &built.image, &built.hash)?;
        let running = session::ensure_running(
            &self.engine,
            m,
            &settings,
            StalePolicy::Recreate,
            &self.project.paths.dir,
            &mut rep,
        )
        .await?;
        self.project.paths.ensure_dir();
        let had_container = self.container.is_some() || rep.replaced;
        self.container = Some(running.container.clone());
        Ok(Updated {
            steps_run: built.steps_run,
            steps: m.steps.len(),
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

    /// Start rule `i`, or note that it must run again when its current run ends.
    async fn trigger(&mut self, i: usize, paths: &[String]) {
        let Some(slot) = self.rules.get_mut(i) else {
            return;
        };
        if let Some((run, _)) = slot.running {
            slot.again = true;
            if self.options.on_busy == OnBusy::Restart {
                if let Some((_, r)) = &slot.runner {
                    r.signal_run(&self.engine, run, "TERM").await;
                }
            }
            return;
        }
        self.start_rule(i, &format!("{} changed", summary(paths)))
            .await;
    }

    /// Output, ends and loss of the rules' runners.
    async fn runner_event(&mut self, i: usize, id: u64, ev: RunnerEvent) {
        let printer = self.ctx.printer;
        let Some(slot) = self.rules.get_mut(i) else {
            return;
        };
        let current = slot.runner.as_ref().is_some_and(|(rid, _)| *rid == id);
        if !current && !matches!(ev, RunnerEvent::Line { .. }) {
            // The end of a runner that was replaced: nothing to do.
            return;
        }
        match ev {
            RunnerEvent::Line { line, stderr } => {
                printer.prefixed(&format!("[rule {}]", i + 1), &line, stderr);
            }
            RunnerEvent::Done { run, status } => {
                if let Some((current, started)) = slot.running {
                    if current == run {
                        slot.running = None;
                        printer.info(&format!(
                            "rule {} finished: exit {status} in {:.1}s",
                            i + 1,
                            started.elapsed().as_secs_f64()
                        ));
                    }
                }
            }
            RunnerEvent::Gone => {
                slot.runner = None;
                if slot.running.take().is_some() {
                    printer.warn(&format!(
                        "rule {} stopped: its environment went away",
                        i + 1
                    ));
                }
            }
        }
        let slot = &mut self.rules[i];
        if slot.running.is_none() && std::mem::take(&mut slot.again) {
            self.start_rule(i, "changed while it ran").await;
        }
    }

    /// Start runners for the `run` rules that have none in the current container.
    async fn prestart_runners(&mut self) {
        for i in 0..self.rules.len() {
            if let Err(e) = self.ensure_runner(i).await {
                self.ctx
                    .printer
                    .warn(&format!("rule {}: cannot start its runner: {e}", i + 1));
            }
        }
    }

    /// The runner of rule `i` in the current container (started if needed); `Ok(false)`
    /// when the rule is not a `run` rule or no environment is running.
    async fn ensure_runner(&mut self, i: usize) -> Result<bool> {
        let m = &self.project.manifest;
        let Some(WatchAction::Run(cmd)) = m.watch.get(i).map(|r| &r.action) else {
            return Ok(false);
        };
        let Some(container) = &self.container else {
            return Ok(false);
        };
        let slot = &mut self.rules[i];
        if let Some((id, old)) = slot.runner.take() {
            if old.container() == container.id {
                slot.runner = Some((id, old));
                return Ok(true);
            }
            slot.running = None;
            old.stop(&self.engine).await;
        }
        self.runner_ids += 1;
        let id = self.runner_ids;
        let runner = Runner::start(
            &self.engine,
            &container.id,
            cmd,
            RuntimeSettings::exec_user_of(m),
            m.shell.workdir.clone(),
            (i, id),
            self.events_tx.clone(),
        )
        .await?;
        self.rules[i].runner = Some((id, runner));
        Ok(true)
    }

    async fn start_rule(&mut self, i: usize, cause: &str) {
        let printer = self.ctx.printer;
        match self.ensure_runner(i).await {
            Ok(true) => {}
            Ok(false) => {
                if self.container.is_none() {
                    printer.warn(&format!(
                        "{cause}: rule {} not run: no environment is running",
                        i + 1
                    ));
                }
                return;
            }
            Err(e) => {
                printer.warn(&format!("rule {} could not run: {e}", i + 1));
                return;
            }
        }
        let cmd = match &self.project.manifest.watch[i].action {
            WatchAction::Run(cmd) => cmd.clone(),
            _ => return,
        };
        printer.info(&format!("{cause}: running rule {} (`{cmd}`)", i + 1));
        let slot = &mut self.rules[i];
        let run = match slot.runner.as_mut() {
            Some((_, r)) => r.trigger().await,
            None => None,
        };
        if let Some(run) = run {
            slot.running = Some((run, Instant::now()));
        } else {
            slot.runner = None;
            printer.warn(&format!(
                "rule {} could not run: its runner ended; it starts again on the next change",
                i + 1
            ));
        }
    }

    /// Stop every rule's runner and what it runs.
    async fn stop_runners(&mut self) {
        for slot in &mut self.rules {
            slot.running = None;
            if let Some((_, r)) = slot.runner.take() {
                r.stop(&self.engine).await;
            }
        }
    }

    /// Stop the rules' runners and their commands (the environment stays up) and say
    /// goodbye.
    async fn finish(&mut self) -> ExitStatus {
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

/// `a`, `a and b`, `a and 3 more`.
fn summary(paths: &[String]) -> String {
    match paths {
        [] => "nothing".into(),
        [a] => a.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, rest @ ..] => format!("{a} and {} more", rest.len()),
    }
}

/// What made an update necessary, in one phrase.
fn cause(what: &Classified, rebuild_rules: &[usize], manifest: &std::path::Path) -> String {
    let mut parts = Vec::new();
    if what.manifest {
        parts.push(format!("{} changed", manifest.display()));
    }
    for path in &what.sources {
        parts.push(format!("{path} changed"));
    }
    if what.lock {
        let lock = crate::manifest::lock_path(manifest);
        let name = lock.file_name().unwrap_or_default().to_string_lossy();
        parts.push(format!("{name} changed"));
    }
    for (step, paths) in &what.steps {
        parts.push(format!(
            "{} changed (input of step {})",
            summary(paths),
            step + 1
        ));
    }
    if !rebuild_rules.is_empty() {
        parts.push(rule_cause(what, rebuild_rules));
    }
    parts.join("; ")
}

fn rule_cause(what: &Classified, rules: &[usize]) -> String {
    let paths: Vec<String> = rules
        .iter()
        .filter_map(|i| what.rules.get(i))
        .flatten()
        .cloned()
        .collect();
    let names: Vec<String> = rules.iter().map(|i| (i + 1).to_string()).collect();
    format!("{} changed (rule {})", summary(&paths), names.join(", "))
}

/// Ctrl-C and SIGTERM: stop watching.
struct Stop {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Stop {
    fn install() -> Result<Stop> {
        let make = |k| {
            signal(k)
                .map_err(|e| Error::other(format!("cannot install signal handlers: {e}"), None))
        };
        Ok(Stop {
            int: make(SignalKind::interrupt())?,
            term: make(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Build and container progress during watch: a summary line is printed by the caller, so
/// this stays quiet unless -v (then it is the normal build view). Hook output is shown.
struct Quiet {
    view: BuildView,
    verbose: bool,
    printer: Printer,
    /// An existing container was replaced.
    replaced: bool,
}

impl Quiet {
    fn new(printer: Printer) -> Quiet {
        Quiet {
            view: BuildView::new(printer),
            verbose: printer.verbose > 0,
            printer,
            replaced: false,
        }
    }
}

impl Reporter for Quiet {
    fn note(&mut self, message: &str) {
        self.view.note(message);
    }
    fn warn(&mut self, message: &str) {
        self.view.warn(message);
    }
    fn step_cached(&mut self, index: usize, total: usize, name: &str) {
        if self.verbose {
            self.view.step_cached(index, total, name);
        }
    }
    fn step_started(&mut self, index: usize, total: usize, name: &str, why: Option<&str>) {
        if self.verbose {
            self.view.step_started(index, total, name, why);
        }
    }
    fn step_output(&mut self, index: usize, chunk: &[u8], stderr: bool) {
        if self.verbose {
            self.view.step_output(index, chunk, stderr);
        }
    }
    fn step_finished(&mut self, index: usize, elapsed: Duration) {
        if self.verbose {
            self.view.step_finished(index, elapsed);
        }
    }
    fn step_failed(&mut self, index: usize, elapsed: Duration) {
        self.view.step_failed(index, elapsed);
    }
}

impl Events for Quiet {
    fn info(&mut self, message: &str) {
        self.replaced |= message.starts_with("recreating");
        if self.verbose {
            self.printer.info(message);
        }
    }
    fn hook_output(&mut self, chunk: &[u8]) {
        for line in String::from_utf8_lossy(chunk).lines() {
            self.printer.prefixed("[hook]", line, true);
        }
    }
}

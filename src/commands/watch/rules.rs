//! The `[[watch]]` rules that run a command: each keeps a runner in the container, starts
//! its command on a change, and runs it once more (or restarts it) when changes arrive
//! while it runs.

use std::time::Instant;

use super::report::summary;
use super::Session;
use crate::cli::OnBusy;
use crate::error::Result;
use crate::manifest::WatchAction;
use crate::session::{Runner, RunnerEvent, RuntimeSettings};

/// A `run` rule's state: its runner in the container (started ahead, so a change starts the
/// command at once instead of paying for a new exec), the run in flight, and whether
/// changes arrived meanwhile.
#[derive(Default)]
pub(super) struct RuleSlot {
    /// The runner and its id (events of replaced runners are told apart by it).
    runner: Option<(u64, Runner)>,
    running: Option<(u64, Instant)>,
    /// Changes arrived while it ran: run once more when it ends.
    again: bool,
}

impl Session<'_> {
    /// Start rule `i`, or note that it must run again when its current run ends.
    pub(super) async fn trigger(&mut self, i: usize, paths: &[String]) {
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
    pub(super) async fn runner_event(&mut self, i: usize, id: u64, ev: RunnerEvent) {
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
    pub(super) async fn prestart_runners(&mut self) {
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
    pub(super) async fn stop_runners(&mut self) {
        for slot in &mut self.rules {
            slot.running = None;
            if let Some((_, r)) = slot.runner.take() {
                r.stop(&self.engine).await;
            }
        }
    }
}

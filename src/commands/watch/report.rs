//! How watch reports what it did: the one-line summary of an update, the phrase that
//! says what changed, and the quiet build and container progress behind them.

use std::time::Duration;

use crate::image::Reporter;
use crate::session::Events;
use crate::ui::{BuildView, Printer};
use crate::watch::Classified;

/// What an update did.
pub(super) struct Updated {
    pub(super) steps_run: usize,
    pub(super) steps: usize,
    pub(super) created: bool,
    pub(super) started: bool,
    pub(super) had_container: bool,
    pub(super) container: String,
}

impl Updated {
    pub(super) fn describe(&self) -> String {
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

/// `a`, `a and b`, `a and 3 more`.
pub(super) fn summary(paths: &[String]) -> String {
    match paths {
        [] => "nothing".into(),
        [a] => a.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, rest @ ..] => format!("{a} and {} more", rest.len()),
    }
}

/// What made an update necessary, in one phrase.
pub(super) fn cause(
    what: &Classified,
    rebuild_rules: &[usize],
    manifest: &std::path::Path,
) -> String {
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

pub(super) fn rule_cause(what: &Classified, rules: &[usize]) -> String {
    let paths: Vec<String> = rules
        .iter()
        .filter_map(|i| what.rules.get(i))
        .flatten()
        .cloned()
        .collect();
    let names: Vec<String> = rules.iter().map(|i| (i + 1).to_string()).collect();
    format!("{} changed (rule {})", summary(&paths), names.join(", "))
}

/// Build and container progress during watch: a summary line is printed by the caller, so
/// this stays quiet unless -v (then it is the normal build view). Hook output is shown.
pub(super) struct Quiet {
    view: BuildView,
    verbose: bool,
    printer: Printer,
    /// An existing container was replaced.
    pub(super) replaced: bool,
}

impl Quiet {
    pub(super) fn new(printer: Printer) -> Quiet {
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

//! Everything devenv itself prints goes through here. stdout carries data only; messages,
//! progress and step output go to stderr. Progress bars only on a terminal, never when `CI`
//! is set, `-q` is given or stderr is not a TTY; colours respect `NO_COLOR` and `--color`.
//! indicatif and dialoguer are used in this module only (dialoguer in `prompt`).

pub mod prompt;

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ColorChoice;
use crate::image::Reporter;
use crate::session::Events;

/// Write to stderr. A closed stderr (`devenv build 2>&1 | head -1`) is the reader's choice:
/// the text is dropped and the work goes on; writing never panics, unlike `eprintln!`.
pub fn err_write(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// One line on stderr, as [`err_write`].
pub fn err_line(text: &str) {
    err_write(&format!("{text}\n"));
}

/// Output settings resolved once from flags and environment.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: u8,
    pub color: bool,
    /// Live progress (spinners) allowed.
    pub fancy: bool,
}

impl Printer {
    pub fn new(quiet: bool, verbose: u8, color: ColorChoice) -> Printer {
        let stderr_tty = std::io::stderr().is_terminal();
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_tty && std::env::var_os("NO_COLOR").is_none() && !ci,
        };
        Printer {
            quiet,
            verbose,
            color,
            fancy: stderr_tty && !ci && !quiet,
        }
    }

    /// A status line on stderr (suppressed by -q).
    pub fn info(&self, message: &str) {
        if !self.quiet {
            err_line(&format!("{} {message}", self.paint("devenv:", "1")));
        }
    }

    /// An error with an optional `hint:` line.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        err_line(&format!("{} {message}", self.paint("error:", "1;31")));
        if let Some(h) = hint {
            err_line(&format!("{} {h}", self.paint("hint:", "1;36")));
        }
    }

    pub fn warn(&self, message: &str) {
        err_line(&format!("{} {message}", self.paint("warning:", "1;33")));
    }

    /// A line of data on stdout.
    pub fn data(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// One line of a command's output under a prefix (`[rule 1] …`): stdout lines stay on
    /// stdout, stderr lines on stderr.
    pub fn prefixed(self, prefix: &str, line: &str, stderr: bool) {
        let prefix = self.paint(prefix, "36");
        if stderr {
            err_line(&format!("{prefix} {line}"));
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{prefix} {line}");
        }
    }

    fn paint(self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Renders build progress: a spinner per running step on a terminal, timestamped plain lines
/// otherwise. Step output is always streamed live (indented), except with -q.
pub struct BuildView {
    printer: Printer,
    spinner: Option<ProgressBar>,
    started: Instant,
    at_line_start: bool,
}

impl BuildView {
    pub fn new(printer: Printer) -> BuildView {
        BuildView {
            printer,
            spinner: None,
            started: Instant::now(),
            at_line_start: true,
        }
    }

    fn line(&mut self, text: &str) {
        if self.printer.quiet {
            return;
        }
        let stamp = if self.printer.fancy {
            String::new()
        } else {
            format!("[{:>7.2}s] ", self.started.elapsed().as_secs_f64())
        };
        let text = format!("{stamp}{text}");
        match &self.spinner {
            Some(pb) => pb.println(text),
            None => err_line(&text),
        }
    }

    fn label(index: usize, total: usize, name: &str) -> String {
        format!("step {}/{total} {name}", index + 1)
    }
}

impl Reporter for BuildView {
    fn note(&mut self, message: &str) {
        self.line(&format!("devenv: {message}"));
    }

    fn warn(&mut self, message: &str) {
        self.line(&format!("warning: {message}"));
    }

    fn step_cached(&mut self, index: usize, total: usize, name: &str) {
        let l = Self::label(index, total, name);
        self.line(&format!("{l}: cached"));
    }

    fn step_started(&mut self, index: usize, total: usize, name: &str, why: Option<&str>) {
        let l = Self::label(index, total, name);
        match (why, self.printer.verbose > 0) {
            (Some(why), true) => self.line(&format!("{l}: running (rebuilt because {why})")),
            _ => self.line(&format!("{l}: running")),
        }
        if self.printer.fancy {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_message(l);
            pb.enable_steady_tick(Duration::from_millis(120));
            self.spinner = Some(pb);
        }
        self.at_line_start = true;
    }

    fn step_output(&mut self, _index: usize, chunk: &[u8], _stderr: bool) {
        if self.printer.quiet {
            return;
        }
        let text = String::from_utf8_lossy(chunk);
        let mut out = String::new();
        for c in text.chars() {
            if self.at_line_start {
                out.push_str("  │ ");
                self.at_line_start = false;
            }
            out.push(c);
            if c == '\n' {
                self.at_line_start = true;
            }
        }
        match &self.spinner {
            Some(pb) => pb.suspend(|| err_write(&out)),
            None => err_write(&out),
        }
    }

    fn step_finished(&mut self, index: usize, elapsed: Duration) {
        self.finish_line(index, "done", elapsed);
    }

    fn step_failed(&mut self, index: usize, elapsed: Duration) {
        self.finish_line(index, "failed", elapsed);
    }
}

impl BuildView {
    fn finish_line(&mut self, index: usize, what: &str, elapsed: Duration) {
        if let Some(pb) = self.spinner.take() {
            pb.finish_and_clear();
        }
        if !self.at_line_start {
            err_write("\n");
            self.at_line_start = true;
        }
        self.line(&format!(
            "step {}: {what} in {:.1}s",
            index + 1,
            elapsed.as_secs_f64()
        ));
    }
}

impl Events for BuildView {
    fn info(&mut self, message: &str) {
        self.printer.info(message);
    }

    fn hook_output(&mut self, chunk: &[u8]) {
        self.step_output(0, chunk, false);
    }
}

//! A long-lived command runner inside the container, for commands run again and again
//! (`[[watch]]` rules). Starting a process with an exec costs the engine tens of
//! milliseconds (a new `runc exec`); the runner is one exec whose small shell loop starts
//! the command each time a line arrives on its stdin, so a run starts within a millisecond.
//!
//! Protocol: the host writes a run number and a newline; the loop runs the command with
//! `DEVENV_RUN=<token>-<n>` in its environment (so that run alone can be signalled) and
//! stdin from /dev/null, then writes `\n<token> done <n> <status>\n` to stderr. The token
//! is random, so the command's own output cannot fake the end of a run.

use std::pin::Pin;

use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::exec::{new_marker, signal_marked, unique_id};
use super::SessionError;
use crate::engine::{Engine, ExecOutput, ExecSpec};

const LOOP: &str = r#"tok=$1 cmd=$2
while IFS= read -r n; do
  DEVENV_RUN="$tok-$n" /bin/sh -c "$cmd" </dev/null
  printf '\n%s done %s %s\n' "$tok" "$n" "$?" >&2
done"#;

/// What a runner reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerEvent {
    /// A complete line of output of the current run.
    Line { line: String, stderr: bool },
    /// Run `n` ended with `status`.
    Done { run: u64, status: i64 },
    /// The runner is gone (the container stopped, or it was stopped).
    Gone,
}

pub struct Runner {
    container: String,
    token: String,
    marker: String,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    next: u64,
}

impl Runner {
    /// Start a runner for `command` (run by `/bin/sh -c` as `user` in `workdir`); its
    /// events go to `events`, tagged with `tag`.
    pub async fn start<T: Clone + Send + 'static>(
        engine: &Engine,
        container: &str,
        command: &str,
        user: String,
        workdir: String,
        tag: T,
        events: mpsc::UnboundedSender<(T, RunnerEvent)>,
    ) -> Result<Runner, SessionError> {
        let token = format!("devenv-run-{}", unique_id());
        let marker = new_marker();
        let spec = ExecSpec {
            cmd: vec![
                "/bin/sh".into(),
                "-c".into(),
                LOOP.into(),
                "devenv-runner".into(),
                token.clone(),
                command.to_owned(),
            ],
            env: vec![marker.clone()],
            user: Some(user),
            workdir: Some(workdir),
            attach_stdin: true,
            ..ExecSpec::default()
        };
        let io = engine.start_exec(container, &spec).await?;
        let mut output = io.output;
        let tok = token.clone();
        tokio::spawn(async move {
            let mut parser = Parser::new(tok);
            while let Some(Ok(chunk)) = output.next().await {
                let (bytes, stderr) = match chunk {
                    ExecOutput::Stdout(b) => (b, false),
                    ExecOutput::Stderr(b) => (b, true),
                };
                for ev in parser.push(&bytes, stderr) {
                    if events.send((tag.clone(), ev)).is_err() {
                        return;
                    }
                }
            }
            for ev in parser.flush() {
                let _ = events.send((tag.clone(), ev));
            }
            let _ = events.send((tag, RunnerEvent::Gone));
        });
        Ok(Runner {
            container: container.to_owned(),
            token,
            marker,
            input: io.input,
            next: 0,
        })
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    /// Start a run; returns its number, or `None` when the runner is gone.
    pub async fn trigger(&mut self) -> Option<u64> {
        self.next += 1;
        let line = format!("{}\n", self.next);
        let ok =
            self.input.write_all(line.as_bytes()).await.is_ok() && self.input.flush().await.is_ok();
        ok.then_some(self.next)
    }

    /// Signal the processes of run `n` (not the runner).
    pub async fn signal_run(&self, engine: &Engine, n: u64, signal: &str) {
        let marker = format!("DEVENV_RUN={}-{n}", self.token);
        signal_marked(engine, &self.container, &marker, signal).await;
    }

    /// End the runner and whatever it is running.
    pub async fn stop(mut self, engine: &Engine) {
        let _ = self.input.shutdown().await;
        signal_marked(engine, &self.container, &self.marker, "TERM").await;
    }
}

/// Splits the runner's output into lines and recognises the end-of-run lines.
struct Parser {
    token: String,
    out: Vec<u8>,
    err: Vec<u8>,
    /// An empty stderr line held back: it may be the newline written before an end line.
    held_empty: bool,
}

impl Parser {
    fn new(token: String) -> Parser {
        Parser {
            token,
            out: Vec::new(),
            err: Vec::new(),
            held_empty: false,
        }
    }

    fn push(&mut self, bytes: &[u8], stderr: bool) -> Vec<RunnerEvent> {
        let mut events = Vec::new();
        let buf = if stderr { &mut self.err } else { &mut self.out };
        buf.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            lines.push(
                String::from_utf8_lossy(&line[..i])
                    .trim_end_matches('\r')
                    .to_owned(),
            );
        }
        for line in lines {
            if stderr {
                self.stderr_line(line, &mut events);
            } else {
                events.push(RunnerEvent::Line {
                    line,
                    stderr: false,
                });
            }
        }
        events
    }

    fn stderr_line(&mut self, line: String, events: &mut Vec<RunnerEvent>) {
        if let Some(done) = self.end_line(&line) {
            // The newline before an end line is ours, not the command's.
            self.held_empty = false;
            events.push(done);
            return;
        }
        if std::mem::take(&mut self.held_empty) {
            events.push(RunnerEvent::Line {
                line: String::new(),
                stderr: true,
            });
        }
        if line.is_empty() {
            self.held_empty = true;
        } else {
            events.push(RunnerEvent::Line { line, stderr: true });
        }
    }

    fn end_line(&self, line: &str) -> Option<RunnerEvent> {
        let rest = line.strip_prefix(&self.token)?.strip_prefix(" done ")?;
        let (run, status) = rest.split_once(' ')?;
        Some(RunnerEvent::Done {
            run: run.parse().ok()?,
            status: status.parse().ok()?,
        })
    }

    fn flush(&mut self) -> Vec<RunnerEvent> {
        let mut events = Vec::new();
        for (buf, stderr) in [(&mut self.out, false), (&mut self.err, true)] {
            if !buf.is_empty() {
                let line = String::from_utf8_lossy(&std::mem::take(buf)).into_owned();
                events.push(RunnerEvent::Line { line, stderr });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str, stderr: bool) -> RunnerEvent {
        RunnerEvent::Line {
            line: s.into(),
            stderr,
        }
    }

    #[test]
    fn end_lines_are_recognised_across_chunks_and_after_partial_output() {
        let mut p = Parser::new("tok".into());
        let mut ev = p.push(b"out\n", false);
        ev.extend(p.push(b"partial", true));
        ev.extend(p.push(b"\ntok do", true));
        ev.extend(p.push(b"ne 1 3\n", true));
        assert_eq!(
            ev,
            vec![
                line("out", false),
                line("partial", true),
                RunnerEvent::Done { run: 1, status: 3 }
            ]
        );
        // Output that ended with a newline: the extra empty line is dropped; a real empty
        // line is kept.
        let ev = p.push(b"a\n\n\n\ntok done 2 0\n", true);
        assert_eq!(
            ev,
            vec![
                line("a", true),
                line("", true),
                line("", true),
                RunnerEvent::Done { run: 2, status: 0 }
            ]
        );
        // Someone else's token is just output.
        assert_eq!(
            p.push(b"other done 3 0\n", true),
            vec![line("other done 3 0", true)]
        );
    }
}

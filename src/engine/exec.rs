//! Execs: start a process in a running container, stream its output, read its exit code.

use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{Engine, EngineError, Result};

/// What to run and how.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    /// `uid:gid`, a user name, or `None` for the container's user.
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    /// Initial terminal size as (rows, cols).
    pub console_size: Option<(u16, u16)>,
    pub attach_stdin: bool,
}

/// One chunk of exec output. With a TTY everything arrives as `Stdout`.
#[derive(Debug, Clone)]
pub enum ExecOutput {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// What [`Engine::exec_state`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecState {
    Running,
    Exited(i64),
    /// The process was never started (command not found, not executable); the code is
    /// the engine's (126) and the reason was sent as the exec's output.
    NotStarted(i64),
}

/// Polling an exec's state: quick at first (most commands end right after their output),
/// then at most five times a second for one that keeps running.
pub fn next_poll_delay(delay: Duration) -> Duration {
    (delay * 2).min(Duration::from_millis(200))
}

/// A started exec: its id, its output stream and its stdin.
pub struct ExecIo {
    pub id: String,
    pub output: Pin<Box<dyn Stream<Item = Result<ExecOutput>> + Send>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Engine {
    /// Create and start an exec, attached.
    pub async fn start_exec(&self, container: &str, spec: &ExecSpec) -> Result<ExecIo> {
        let config = ExecConfig {
            attach_stdin: Some(spec.attach_stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(spec.tty),
            env: Some(spec.env.clone()),
            cmd: Some(spec.cmd.clone()),
            user: spec.user.clone(),
            working_dir: spec.workdir.clone(),
            console_size: spec
                .console_size
                .map(|(rows, cols)| vec![usize::from(rows), usize::from(cols)]),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, config)
            .await
            .map_err(|e| EngineError::api(format!("create an exec in {container}"), e))?;
        let opts = StartExecOptions {
            detach: false,
            tty: spec.tty,
            output_capacity: Some(64 * 1024),
        };
        let started = self
            .docker
            .start_exec(&created.id, Some(opts))
            .await
            .map_err(|e| EngineError::api("start an exec", e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(EngineError::Api {
                action: "start an exec".into(),
                message: "engine detached an attached exec".into(),
            });
        };
        let output = output.filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok(ExecOutput::Stdout(message)))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(EngineError::api("read exec output", e))),
            }
        });
        Ok(ExecIo {
            id: created.id,
            output: Box::pin(output),
            input,
        })
    }

    /// Where an exec stands now: still running, finished with a code, or never started
    /// (the runtime could not execute the command; the engine reports 126 then).
    pub async fn exec_state(&self, exec_id: &str) -> Result<ExecState> {
        let info = self
            .docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| EngineError::api("inspect an exec", e))?;
        Ok(match (info.running, info.exit_code) {
            // Podman reports pid 0 for every finished exec: only the engine's own codes
            // for a command it could not execute (126, 127) mean it never started.
            (Some(false) | None, Some(code @ (126 | 127))) if info.pid == Some(0) => {
                ExecState::NotStarted(code)
            }
            (Some(false) | None, Some(code)) => ExecState::Exited(code),
            _ => ExecState::Running,
        })
    }

    /// The exit code of an exec, waiting for it however long it runs (its output may end
    /// long before it does: a command can close stdout and stderr and go on).
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        let mut delay = Duration::from_millis(2);
        loop {
            match self.exec_state(exec_id).await? {
                ExecState::Exited(code) | ExecState::NotStarted(code) => return Ok(code),
                ExecState::Running => {}
            }
            tokio::time::sleep(delay).await;
            delay = next_poll_delay(delay);
        }
    }

    /// Resize an exec's TTY; failures (exec not started yet, or already gone) are ignored.
    pub async fn resize_exec(&self, exec_id: &str, rows: u16, cols: u16) {
        let opts = bollard::query_parameters::ResizeExecOptionsBuilder::new()
            .h(i32::from(rows))
            .w(i32::from(cols))
            .build();
        let _ = self.docker.resize_exec(exec_id, opts).await;
    }

    /// Run a command to completion, collecting its output; returns (exit code, output).
    pub async fn exec_collect(&self, container: &str, spec: &ExecSpec) -> Result<(i64, String)> {
        let mut io = self.start_exec(container, spec).await?;
        let mut out = Vec::new();
        while let Some(chunk) = io.output.next().await {
            match chunk? {
                ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => out.extend_from_slice(&b),
            }
        }
        let code = self.exec_exit_code(&io.id).await?;
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    }

    /// Run a command to completion with `input` on its stdin (data of any size, never
    /// argv); returns (exit code, stdout, stderr). Input is written while output is read,
    /// so neither side waits on the other.
    pub async fn exec_with_input(
        &self,
        container: &str,
        spec: &ExecSpec,
        input: Vec<u8>,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        let spec = ExecSpec {
            attach_stdin: true,
            tty: false,
            ..spec.clone()
        };
        let ExecIo {
            id,
            mut output,
            input: mut stdin,
        } = self.start_exec(container, &spec).await?;
        let write = async move {
            // A command that exits before reading everything closes its stdin: not an error
            // of ours; its exit code says what happened.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        };
        let read = async {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            while let Some(chunk) = output.next().await {
                match chunk? {
                    ExecOutput::Stdout(b) => out.extend_from_slice(&b),
                    ExecOutput::Stderr(b) => err.extend_from_slice(&b),
                }
            }
            Ok::<_, EngineError>((out, err))
        };
        let ((), read) = tokio::join!(write, read);
        let (out, err) = read?;
        let code = self.exec_exit_code(&id).await?;
        Ok((code, out, err))
    }
}

//! Readiness: a service is ready when its `ready` probe exits 0 inside it (or, without a
//! probe, when it has run for [`SETTLE`] after devenv started it, so a command that is not
//! found or exits at once fails `up` instead of restarting in a loop). Waiting also watches for the service exiting or being restarted by
//! the engine while it starts, which fails at once instead of at the timeout, unless the
//! wait is for a service the engine may be restarting on its own (after a crash): then the
//! restart is part of what is waited for.
//!
//! The deadline holds: each probe gets at most the time left, and one still running at its
//! limit (or at Ctrl-C) is killed inside the service. Ctrl-C or SIGTERM end the wait
//! ([`StackError::Interrupted`]).

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::StackError;
use crate::engine::{Engine, ExecOutput, ExecSpec};

/// Pause between probes while a service starts.
const POLL: Duration = Duration::from_millis(100);
/// Longest a single probe may take.
pub const PROBE_LIMIT: Duration = Duration::from_secs(10);
/// How long a service without a probe must keep running after devenv started it.
pub const SETTLE: Duration = Duration::from_secs(1);

/// What a restart by the engine while waiting means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restarts {
    /// devenv just started the service: a restart means it crashed while starting.
    Fail,
    /// The service was already running (or restarting): the engine restarting it after a
    /// crash is waited through.
    Wait,
}

/// One service to wait for.
pub struct Target<'a> {
    pub service: &'a str,
    pub container: &'a str,
    pub ready: Option<&'a str>,
    pub timeout: Duration,
    pub restarts: Restarts,
}

/// One run of a probe.
#[derive(Debug)]
pub struct Probed {
    /// Its exit status; -1 when it could not run or was killed.
    pub code: i64,
    /// stdout and stderr together, or why it has no status.
    pub output: String,
    /// It ran out of time (or Ctrl-C came) and was killed.
    pub killed: bool,
}

/// Run the probe once, for at most `limit`. A probe still running at the limit or at
/// Ctrl-C is killed (its processes carry a marker of their own), so a hanging probe leaves
/// nothing behind in the service.
pub async fn probe(engine: &Engine, container: &str, command: &str, limit: Duration) -> Probed {
    let marker = crate::session::new_marker();
    let spec = ExecSpec {
        cmd: vec!["/bin/sh".into(), "-c".into(), command.to_owned()],
        env: vec![marker.clone()],
        ..ExecSpec::default()
    };
    let run = async {
        let mut io = engine.start_exec(container, &spec).await?;
        let mut out = Vec::new();
        while let Some(chunk) = io.output.next().await {
            match chunk? {
                ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => out.extend_from_slice(&b),
            }
        }
        let code = engine.exec_exit_code(&io.id).await?;
        Ok::<_, crate::engine::EngineError>((code, String::from_utf8_lossy(&out).into_owned()))
    };
    let ended = tokio::select! {
        r = tokio::time::timeout(limit, run) => r.ok(),
        () = crate::cancel::cancelled() => None,
    };
    let (code, output) = match ended {
        Some(Ok(result)) => result,
        Some(Err(e)) => (-1, e.to_string()),
        None => {
            crate::session::signal_marked(engine, container, &marker, "KILL").await;
            let output = format!(
                "the probe did not finish within {:.1} s (killed)",
                limit.as_secs_f64()
            );
            return Probed {
                code: -1,
                output,
                killed: true,
            };
        }
    };
    Probed {
        code,
        output,
        killed: false,
    }
}

/// Wait until the service is ready, at most `target.timeout`.
pub async fn wait(engine: &Engine, target: &Target<'_>) -> Result<(), StackError> {
    let began = Instant::now();
    let deadline = began + target.timeout;
    // The engine counts restarts from 0 at every start by devenv (`docker start`).
    let mut first_restarts = (target.restarts == Restarts::Fail).then_some(0);
    let mut last_output = String::new();
    loop {
        let state = crate::cancel::or_cancelled(engine.member_state(target.container))
            .await
            .ok_or(StackError::Interrupted)??;
        let Some(state) = state else {
            return Err(exited(target.service, "its container was removed".into()));
        };
        let restarts = *first_restarts.get_or_insert(state.restart_count);
        let restarted = state.restart_count > restarts || state.status == "restarting";
        if matches!(state.status.as_str(), "exited" | "dead")
            || (restarted && target.restarts == Restarts::Fail)
        {
            let why = if state.oom_killed {
                "killed: out of memory".to_owned()
            } else if !state.error.is_empty() {
                state.error.clone()
            } else {
                exit_reason(state.exit_code)
            };
            return Err(exited(target.service, why));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if state.status == "running" {
            let Some(command) = target.ready else {
                if target.restarts == Restarts::Wait || began.elapsed() >= SETTLE {
                    return Ok(());
                }
                crate::cancel::or_cancelled(tokio::time::sleep(POLL))
                    .await
                    .ok_or(StackError::Interrupted)?;
                continue;
            };
            if !left.is_zero() {
                let probed = probe(engine, target.container, command, PROBE_LIMIT.min(left)).await;
                if crate::cancel::is_cancelled() {
                    return Err(StackError::Interrupted);
                }
                if probed.code == 0 {
                    return Ok(());
                }
                // A probe the deadline cut short says less than the last one that ended.
                if !probed.killed || last_output.is_empty() {
                    last_output = probed.output;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StackError::NotReady {
                service: target.service.to_owned(),
                seconds: target.timeout.as_secs(),
                probe_output: last_output,
                logs: String::new(),
            });
        }
        crate::cancel::or_cancelled(tokio::time::sleep(POLL.min(left)))
            .await
            .ok_or(StackError::Interrupted)?;
    }
}

/// An exit status in words: the shell's 127 and 126 say more than a number.
fn exit_reason(code: i64) -> String {
    match code {
        127 => "exit status 127: command not found".into(),
        126 => "exit status 126: the command is not executable".into(),
        _ => format!("exit status {code}"),
    }
}

fn exited(service: &str, why: String) -> StackError {
    StackError::Exited {
        service: service.to_owned(),
        why,
        logs: String::new(),
    }
}

//! Readiness: a service is ready when its `ready` probe exits 0 inside it (or, without a
//! probe, when it runs). Waiting also watches for the service exiting or being restarted by
//! the engine while it starts, which fails at once instead of at the timeout.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::StackError;
use crate::engine::{Engine, ExecOutput, ExecSpec};

/// Pause between probes while a service starts.
const POLL: Duration = Duration::from_millis(100);
/// Longest a single probe may take while waiting.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Run the probe once; its exit status and output (stdout and stderr together).
pub async fn probe(engine: &Engine, container: &str, command: &str) -> (i64, String) {
    let spec = ExecSpec {
        cmd: vec!["/bin/sh".into(), "-c".into(), command.to_owned()],
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
    match tokio::time::timeout(PROBE_LIMIT, run).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => (-1, e.to_string()),
        Err(_) => (
            -1,
            format!(
                "the probe did not finish within {} s",
                PROBE_LIMIT.as_secs()
            ),
        ),
    }
}

/// Wait until the service is ready, at most `timeout`.
pub async fn wait(
    engine: &Engine,
    service: &str,
    container: &str,
    ready: Option<&str>,
    timeout: Duration,
) -> Result<(), StackError> {
    let deadline = Instant::now() + timeout;
    let mut first_restarts = None;
    let mut last_output = String::new();
    loop {
        let Some(state) = engine.member_state(container).await? else {
            return Err(exited(
                service,
                "its container was removed".into(),
                String::new(),
            ));
        };
        let restarts = *first_restarts.get_or_insert(state.restart_count);
        if matches!(state.status.as_str(), "exited" | "dead")
            || state.restart_count > restarts
            || state.status == "restarting"
        {
            let why = if state.oom_killed {
                "killed: out of memory".to_owned()
            } else if !state.error.is_empty() {
                state.error.clone()
            } else {
                format!("exit status {}", state.exit_code)
            };
            return Err(exited(service, why, String::new()));
        }
        if state.status == "running" {
            let Some(command) = ready else {
                return Ok(());
            };
            let (code, output) = probe(engine, container, command).await;
            if code == 0 {
                return Ok(());
            }
            last_output = output;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(StackError::NotReady {
                service: service.to_owned(),
                seconds: timeout.as_secs(),
                probe_output: last_output,
                logs: String::new(),
            });
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

fn exited(service: &str, why: String, logs: String) -> StackError {
    StackError::Exited {
        service: service.to_owned(),
        why,
        logs,
    }
}

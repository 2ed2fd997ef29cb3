//! `run` and `shell`: an exec in the environment container wired to this process's stdio.
//!
//! Without a TTY, stdout and stderr stay apart and stdin is streamed until EOF. Docker does
//! not kill an exec when its client goes away (moby#9098), so SIGINT/SIGTERM/SIGHUP/SIGQUIT
//! are forwarded: every process of the exec carries a unique `DEVENV_EXEC` marker in its
//! environment, and a second exec (as root) signals the processes that have it.
//! With a TTY the terminal is put in raw mode (restored by a guard on every exit path),
//! bytes go straight through (Ctrl-C is the pty's business) and SIGWINCH resizes.
//! The status is waited for however long the command runs after closing its output. A
//! command the runtime cannot start ends as 127 (not found) or 126 (not executable) with a
//! line of our own instead of the runtime's text.

use std::io::IsTerminal;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

use super::SessionError;
use crate::engine::{next_poll_delay, Engine, ExecOutput, ExecSpec, ExecState};

/// One command to run in the container.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub container: String,
    pub cmd: Vec<String>,
    pub user: String,
    pub workdir: String,
    pub env: Vec<String>,
    /// `None`: decide from the terminals (TTY only when stdin and stdout both are).
    pub tty: Option<bool>,
}

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEnd {
    /// The command ran; its exit status (128+N after signal N).
    Exited(i32),
    /// The command could not be started: `code` is 127 when it was not found, 126 when it
    /// is not executable (as POSIX shells and `docker run` report them); `message` is one
    /// line naming it.
    NotStarted { code: i32, message: String },
}

/// The engine's text for an exec whose process could not be started; it arrives as the
/// exec's only output. Held back until the exec's state says whether that is what it was.
const START_FAILURE_PREFIX: &[u8] = b"OCI runtime exec failed";

/// Whether this process's stdin can give the command anything: not when it is `/dev/null`
/// or closed (CI jobs, cron, `</dev/null`, a test harness). Such a stdin is not attached:
/// the command reads end-of-file from the engine's side, exactly as it would have, and the
/// connection is never half-closed. Attached, its end of input is a half-close of the
/// exec's connection, and a forwarder that drops a connection soon after its client
/// half-closes it (socat's default 0.5 s, many TCP proxies in front of remote engines)
/// would cut off the output of any command running longer than that, and the engine,
/// failing to copy the streams, records exit status 126 for it.
fn stdin_has_input() -> bool {
    use nix::sys::stat::{fstat, stat, SFlag};
    let Ok(fd) = fstat(std::io::stdin()) else {
        return false; // closed
    };
    let char_device = SFlag::from_bits_truncate(fd.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    let is_null = char_device && stat("/dev/null").is_ok_and(|null| null.st_rdev == fd.st_rdev);
    !is_null
}

/// Run the request with this process's stdio; returns how the command ended.
pub async fn exec_command(engine: &Engine, req: &ExecRequest) -> Result<ExecEnd, SessionError> {
    let tty = req
        .tty
        .unwrap_or_else(|| std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
    let marker = new_marker();
    let mut env = req.env.clone();
    env.push(marker.clone());
    if tty {
        // The terminal type is the host terminal's, as with ssh.
        if let Ok(term) = std::env::var("TERM") {
            env.push(format!("TERM={term}"));
        }
    }
    let console_size = if tty { terminal_size() } else { None };
    let spec = ExecSpec {
        cmd: req.cmd.clone(),
        env,
        user: Some(req.user.clone()),
        workdir: Some(req.workdir.clone()),
        tty,
        console_size,
        // Like `docker exec` without `-i`: a terminal's input is not read unless we own the
        // terminal (TTY mode), so `devenv run -- x | less` leaves the keys to less and a
        // background `devenv run &` is not stopped by SIGTTIN. Pipes and files stream;
        // /dev/null or a closed stdin is not attached at all (see `stdin_has_input`).
        attach_stdin: tty || (!std::io::stdin().is_terminal() && stdin_has_input()),
    };
    let read_stdin = spec.attach_stdin;
    let raw = if tty { Some(RawMode::enable()) } else { None };
    // Signal handlers first: a Ctrl-C from now on is forwarded, never lost.
    let mut sigs = Signals::new()?;
    let io = engine.start_exec(&req.container, &spec).await?;
    let exec_id = io.id.clone();
    let pumped = pump(engine, req, io, &mut sigs, (tty, read_stdin), &marker).await;
    let held = match pumped {
        Ok(held) => held,
        Err(e) => {
            // We can no longer relay its output: the command must not outlive us.
            signal_marked(engine, &req.container, &marker, "TERM").await;
            return Err(e);
        }
    };
    let state = wait_exit(engine, req, &exec_id, &mut sigs, &marker).await?;
    drop(raw);
    let (code, started) = state;
    if !started {
        return Ok(not_started(&req.cmd, &held, code));
    }
    // The command itself printed the engine's words: its output after all.
    let _ = write_out(&mut tokio::io::stdout(), &held).await?;
    Ok(ExecEnd::Exited(i32::try_from(code).unwrap_or(255)))
}

/// The output stream has ended, the command may still run (it can close stdout and stderr
/// and go on): wait for its status however long that takes, forwarding signals meanwhile.
/// Returns the exit code and whether the process was started at all.
async fn wait_exit(
    engine: &Engine,
    req: &ExecRequest,
    exec_id: &str,
    sigs: &mut Signals,
    marker: &str,
) -> Result<(i64, bool), SessionError> {
    let mut delay = Duration::from_millis(2);
    loop {
        match engine.exec_state(exec_id).await? {
            ExecState::Exited(code) => return Ok((code, true)),
            ExecState::NotStarted(code) => return Ok((code, false)),
            ExecState::Running => {}
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => delay = next_poll_delay(delay),
            sig = sigs.next() => {
                if let Forward::Signal(name) = sig {
                    signal_marked(engine, &req.container, marker, name).await;
                }
            }
        }
    }
}

/// devenv's own one line for a command the runtime could not start, from the engine's
/// reason (`... exec: "x": executable file not found in $PATH: unknown`).
fn not_started(cmd: &[String], reason: &[u8], engine_code: i64) -> ExecEnd {
    let name = cmd.first().map_or("", String::as_str);
    let reason = String::from_utf8_lossy(reason);
    let reason = reason.trim();
    let not_found = ["executable file not found", "no such file or directory"];
    if not_found.iter().any(|r| reason.contains(r)) {
        return ExecEnd::NotStarted {
            code: 127,
            message: format!("command not found in the container: {name}"),
        };
    }
    let why = if reason.contains("permission denied") || reason.contains("is a directory") {
        "not an executable file (permission denied)".to_owned()
    } else {
        // Keep the runtime's own reason, without its wrapping.
        let tail = reason
            .rsplit_once(&format!("\"{name}\": "))
            .map_or(reason, |(_, t)| t);
        let tail = tail.trim_end_matches(": unknown").trim();
        if tail.is_empty() {
            "the runtime could not start it".to_owned()
        } else {
            tail.to_owned()
        }
    };
    ExecEnd::NotStarted {
        code: i32::try_from(engine_code)
            .ok()
            .filter(|c| *c != 0)
            .unwrap_or(126),
        message: format!("cannot execute {name} in the container: {why}"),
    }
}

/// Move bytes until the exec's output ends, forwarding signals and resizes meanwhile.
/// Returns a first chunk that looked like the engine's start-failure text and was the only
/// output (not written yet: the caller decides whether it was the engine's or the
/// command's).
async fn pump(
    engine: &Engine,
    req: &ExecRequest,
    io: crate::engine::ExecIo,
    sigs: &mut Signals,
    (tty, read_stdin): (bool, bool),
    marker: &str,
) -> Result<Vec<u8>, SessionError> {
    let crate::engine::ExecIo {
        id,
        mut output,
        mut input,
    } = io;
    let stdin_task = tokio::spawn(async move {
        if !read_stdin {
            return;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if input.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                    let _ = input.flush().await;
                }
            }
        }
        // EOF: close our half so the process sees end of input.
        let _ = input.shutdown().await;
    });
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    if tty {
        if let Some((rows, cols)) = terminal_size() {
            engine.resize_exec(&id, rows, cols).await;
        }
    }
    let mut first = true;
    let mut held = Vec::new();
    let mut pipe_closed = false;
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                None => break,
                Some(chunk) => {
                    let chunk = chunk?;
                    if std::mem::take(&mut first) {
                        if let ExecOutput::Stdout(b) = &chunk {
                            if b.starts_with(START_FAILURE_PREFIX) {
                                held.extend_from_slice(b);
                                continue;
                            }
                        }
                    }
                    let mut open = write_out(&mut stdout, &std::mem::take(&mut held)).await?;
                    open &= match chunk {
                        ExecOutput::Stdout(b) => write_out(&mut stdout, &b).await?,
                        ExecOutput::Stderr(b) => write_out(&mut stderr, &b).await?,
                    };
                    if !open && !std::mem::replace(&mut pipe_closed, true) {
                        // Our reader went away (`| head`): the command learns it as it would
                        // in a shell pipeline, by SIGPIPE. Its output is drained from here
                        // on, so the exit status is still known.
                        forward(engine, &req.container, marker, "PIPE");
                    }
                }
            },
            sig = sigs.next() => match sig {
                Forward::Resize => {
                    if let Some((rows, cols)) = terminal_size() {
                        engine.resize_exec(&id, rows, cols).await;
                    }
                }
                Forward::Signal(name) => forward(engine, &req.container, marker, name),
            },
        }
    }
    stdin_task.abort();
    Ok(held)
}

/// Signal the exec's processes without pausing its output: the engine does not start the
/// signalling exec while this one's output waits to be read (seen with `yes`).
fn forward(engine: &Engine, container: &str, marker: &str, name: &'static str) {
    let (engine, container, marker) = (engine.clone(), container.to_owned(), marker.to_owned());
    tokio::spawn(async move { signal_marked(&engine, &container, &marker, name).await });
}

/// Write and flush; `Ok(false)` when the reader has gone away (a closed pipe is not an
/// error of ours: the bytes are dropped).
async fn write_out(
    w: &mut (impl AsyncWriteExt + Unpin),
    bytes: &[u8],
) -> Result<bool, SessionError> {
    if bytes.is_empty() {
        return Ok(true);
    }
    let res = async {
        w.write_all(bytes).await?;
        w.flush().await
    }
    .await;
    match res {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(SessionError::Io {
            what: "writing output".into(),
            message: e.to_string(),
        }),
    }
}

/// A fresh `DEVENV_EXEC=<id>` marker for an exec's environment; every process the exec
/// starts inherits it, which is how [`signal_marked`] finds them.
pub fn new_marker() -> String {
    format!("DEVENV_EXEC={}", unique_id())
}

/// Signal every process of an exec (they all carry `marker` in their environment). Runs as
/// root (the processes may belong to any user) through [`super::user::as_root`], so `tr`
/// and `grep` come from the system directories, never from a PATH the user can write.
pub async fn signal_marked(engine: &Engine, container: &str, marker: &str, signal: &str) {
    let script = format!(
        "for e in /proc/[0-9]*/environ; do \
           if tr '\\0' '\\n' < \"$e\" 2>/dev/null | grep -qx '{marker}'; then \
             p=${{e#/proc/}}; kill -s {signal} \"${{p%/environ}}\" 2>/dev/null; \
           fi; \
         done; exit 0"
    );
    let spec = super::user::as_root(vec!["/bin/sh".into(), "-c".into(), script]);
    let _ = engine.exec_collect(container, &spec).await;
}

pub(crate) enum Forward {
    Resize,
    Signal(&'static str),
}

pub(crate) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    winch: tokio::signal::unix::Signal,
    /// The signals are the foreground command's, not devenv's to cancel on.
    _hold: crate::cancel::Hold,
}

impl Signals {
    pub(crate) fn new() -> Result<Signals, SessionError> {
        let make = |k: SignalKind| {
            signal(k).map_err(|e| SessionError::Io {
                what: "installing signal handlers".into(),
                message: e.to_string(),
            })
        };
        Ok(Signals {
            int: make(SignalKind::interrupt())?,
            term: make(SignalKind::terminate())?,
            hup: make(SignalKind::hangup())?,
            quit: make(SignalKind::quit())?,
            winch: make(SignalKind::window_change())?,
            _hold: crate::cancel::Hold::new(),
        })
    }

    pub(crate) async fn next(&mut self) -> Forward {
        tokio::select! {
            _ = self.int.recv() => Forward::Signal("INT"),
            _ = self.term.recv() => Forward::Signal("TERM"),
            _ = self.hup.recv() => Forward::Signal("HUP"),
            _ = self.quit.recv() => Forward::Signal("QUIT"),
            _ = self.winch.recv() => Forward::Resize,
        }
    }
}

/// (rows, cols) of the controlling terminal.
fn terminal_size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .map(|(cols, rows)| (rows, cols))
}

/// Raw terminal mode for the lifetime of the guard (restored on drop, which also runs when
/// unwinding from a panic).
struct RawMode;

impl RawMode {
    fn enable() -> RawMode {
        let _ = crossterm::terminal::enable_raw_mode();
        RawMode
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Unique across processes (the pid) and time, and within a process (a counter: two calls
/// can read the same clock value where it is coarse).
pub(crate) fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{nanos:x}{n:x}", std::process::id())
}

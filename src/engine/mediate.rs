//! A mediated engine socket: a unix socket devenv serves on this machine that passes to the
//! engine only what a connection into one container needs (exec and file copy), so an
//! Ansible controller given it can reach its step container and nothing else. The engine's
//! own socket is root on the engine for any role a play runs; this one is not.
//!
//! Allowed, for the one container (by full id or name) and the execs made through this
//! socket: `GET|HEAD /_ping`, `GET /version`, `GET /containers/C/json`,
//! `POST /containers/C/exec` (not privileged), `POST /exec/E/start`, `GET /exec/E/json`,
//! `POST /exec/E/resize`, `GET|HEAD|PUT /containers/C/archive`, each optionally under a
//! `/vN.NN` prefix. Anything else is answered 403 without reaching the engine.
//!
//! Each connection carries one request: the head is read and checked, `Connection: close`
//! is set (so the engine answers this request only and closes), and then bytes are copied
//! both ways, which also carries an exec's upgraded (hijacked) stream. An exec create is
//! read whole, its body checked (`Privileged` refused) and its answer read for the exec id.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// The most a request head may take.
const MAX_HEAD: usize = 64 * 1024;
/// The most an exec create's body may take.
const MAX_BODY: usize = 1024 * 1024;

/// A served socket; stops serving (and removes its directory) when dropped.
pub struct MediatedSocket {
    dir: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl MediatedSocket {
    /// The directory holding the socket (`engine.sock`), to mount into the controller.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for MediatedSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The socket file's name in [`MediatedSocket::dir`].
pub const SOCKET_NAME: &str = "engine.sock";

#[derive(Debug, Clone)]
struct Rules {
    /// Names the container may be addressed by: its full id and its name.
    container: Vec<String>,
    execs: Arc<Mutex<HashSet<String>>>,
}

/// Serve a socket in a new private directory under the system's temp directory that
/// mediates `engine_socket` (a unix socket path) for `container` (its id and name).
pub fn serve(engine_socket: &Path, container: &[String]) -> std::io::Result<MediatedSocket> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!(
        "devenv-mediate-{}-{}",
        std::process::id(),
        random_hex()?
    ));
    std::fs::create_dir(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let listener = UnixListener::bind(dir.join(SOCKET_NAME))?;
    let rules = Rules {
        container: container.to_vec(),
        execs: Arc::default(),
    };
    let engine_socket = engine_socket.to_path_buf();
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let rules = rules.clone();
            let engine_socket = engine_socket.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(client, &engine_socket, &rules).await {
                    tracing::debug!("mediated socket: {e}");
                }
            });
        }
    });
    Ok(MediatedSocket { dir, task })
}

/// 12 random hex characters.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 6];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(hex::encode(bytes))
}

/// What a request is.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    /// An exec create: its body is checked and its answer read for the exec id.
    ExecCreate,
    Refuse,
}

async fn handle(
    mut client: UnixStream,
    engine_socket: &Path,
    rules: &Rules,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client).await?;
    let Some((method, path)) = request_line(&head) else {
        return refuse(&mut client, "a request devenv cannot read").await;
    };
    let verdict = judge(&method, &path, rules);
    if verdict == Verdict::Refuse {
        let what = format!("{method} {path}");
        return refuse(&mut client, &what).await;
    }
    let mut engine = UnixStream::connect(engine_socket).await?;
    let upgrade = header(&head, "upgrade").is_some();
    let head = if upgrade { head } else { with_close(&head) };
    if verdict == Verdict::ExecCreate {
        return exec_create(client, engine, &head, rest, rules).await;
    }
    engine.write_all(head.as_bytes()).await?;
    engine.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut engine).await?;
    Ok(())
}

async fn exec_create(
    mut client: UnixStream,
    mut engine: UnixStream,
    head: &str,
    mut body: Vec<u8>,
    rules: &Rules,
) -> std::io::Result<()> {
    let length: usize = header(head, "content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY || header(head, "transfer-encoding").is_some() {
        return refuse(&mut client, "an exec create of this form").await;
    }
    while body.len() < length {
        let mut buf = vec![0; length - body.len()];
        let n = client.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let config: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if config
        .get("Privileged")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        return refuse(&mut client, "a privileged exec").await;
    }
    engine.write_all(head.as_bytes()).await?;
    engine.write_all(&body).await?;
    let mut answer = Vec::new();
    engine.read_to_end(&mut answer).await?;
    if let Some(id) = exec_id(&answer) {
        rules
            .execs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id);
    }
    client.write_all(&answer).await?;
    client.shutdown().await
}

/// The `Id` of an exec create's answer (its JSON body).
fn exec_id(answer: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(answer);
    let body = text.split_once("\r\n\r\n")?.1;
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    let v: serde_json::Value = serde_json::from_str(body.get(start..=end)?).ok()?;
    Some(v.get("Id")?.as_str()?.to_owned())
}

/// Read up to the end of the request head; returns it and what was read past it.
async fn read_head(client: &mut (impl AsyncRead + Unpin)) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other(
                "connection closed before the request",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Method and path (without query) of a request head.
fn request_line(head: &str) -> Option<(String, String)> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?;
    let path = target.split('?').next()?.to_owned();
    Some((method, path))
}

/// A header's value (case-insensitive name).
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The head with any `Connection` header replaced by `Connection: close`.
fn with_close(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"));
        if !is_connection {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn judge(method: &str, path: &str, rules: &Rules) -> Verdict {
    let path = strip_version(path);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ours = |c: &str| {
        rules
            .container
            .iter()
            .any(|n| n == c || n.trim_start_matches('/') == c)
    };
    let exec_ours = |e: &str| {
        rules
            .execs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(e)
    };
    match (method, parts.as_slice()) {
        ("GET" | "HEAD", ["_ping"]) | ("GET", ["version"]) => Verdict::Pass,
        ("GET", ["containers", c, "json"]) if ours(c) => Verdict::Pass,
        ("GET" | "HEAD" | "PUT", ["containers", c, "archive"]) if ours(c) => Verdict::Pass,
        ("POST", ["containers", c, "exec"]) if ours(c) => Verdict::ExecCreate,
        ("POST", ["exec", e, "start" | "resize"]) | ("GET", ["exec", e, "json"])
            if exec_ours(e) =>
        {
            Verdict::Pass
        }
        _ => Verdict::Refuse,
    }
}

/// `/v1.41/containers/…` → `/containers/…`.
fn strip_version(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    if rest[..end].chars().all(|c| c.is_ascii_digit() || c == '.') && end > 0 {
        &rest[end..]
    } else {
        path
    }
}

async fn refuse(client: &mut UnixStream, what: &str) -> std::io::Result<()> {
    let body = serde_json::json!({
        "message": format!(
            "devenv: refused {what}: the Ansible controller may only run commands in and copy \
             files to its step's container"
        )
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(answer.as_bytes()).await?;
    client.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        let r = Rules {
            container: vec!["abc123".into(), "/step-x".into()],
            execs: Arc::default(),
        };
        r.execs.lock().unwrap().insert("e1".into());
        r
    }

    #[test]
    fn only_the_container_and_its_execs_pass() {
        let r = rules();
        let pass = [
            ("GET", "/_ping"),
            ("GET", "/v1.41/version"),
            ("GET", "/v1.41/containers/abc123/json"),
            ("PUT", "/containers/step-x/archive"),
            ("GET", "/v1.41/exec/e1/json"),
            ("POST", "/exec/e1/start"),
        ];
        for (m, p) in pass {
            assert_eq!(judge(m, p, &r), Verdict::Pass, "{m} {p}");
        }
        assert_eq!(
            judge("POST", "/v1.41/containers/abc123/exec", &r),
            Verdict::ExecCreate
        );
        let refused = [
            ("GET", "/containers/json"),
            ("POST", "/containers/create"),
            ("POST", "/containers/other/exec"),
            ("GET", "/containers/other/archive"),
            ("POST", "/exec/e2/start"),
            ("DELETE", "/containers/abc123"),
            ("POST", "/containers/abc123/start"),
            ("GET", "/images/json"),
            ("POST", "/v1.41/containers/abc123/../other/exec"),
            ("GET", "/vx/_ping"),
        ];
        for (m, p) in refused {
            assert_eq!(judge(m, p, &r), Verdict::Refuse, "{m} {p}");
        }
    }

    #[test]
    fn heads_are_read_and_closed() {
        let head = "POST /v1.41/exec/e1/start?x=1 HTTP/1.1\r\nHost: d\r\nconnection: keep-alive\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            request_line(head),
            Some(("POST".into(), "/v1.41/exec/e1/start".into()))
        );
        assert_eq!(header(head, "Content-Length"), Some("2"));
        let closed = with_close(head);
        assert!(
            closed.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n"),
            "{closed}"
        );
        assert!(!closed.contains("keep-alive"));
        let answer =
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{\"Id\":\"ff00\"}\n";
        assert_eq!(exec_id(answer), Some("ff00".into()));
    }
}

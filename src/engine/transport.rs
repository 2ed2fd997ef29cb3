//! Where the engine is and how to reach it: `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and
//! `DOCKER_CERT_PATH`) or the docker context (with its TLS material), read as the docker
//! CLI reads them; unix sockets, plain tcp, tcp with TLS (verified, or not for a context's
//! `SkipTLSVerify` and `DOCKER_TLS` without `DOCKER_TLS_VERIFY`, as the docker CLI does), and
//! ssh through the system `ssh` running `docker system dial-stdio` on the far side.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Seconds a request may wait for response headers (bollard's default).
const REQUEST_TIMEOUT: u64 = 120;

/// The endpoint devenv talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///…`, `tcp://host:port`, `ssh://[user@]host[:port]`.
    pub host: String,
    /// Verify the server (and present a client certificate) with these files.
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Check the server's certificate against `ca`. Without, TLS still encrypts and the
    /// client certificate is still presented when there is one (`SkipTLSVerify`).
    pub verify: bool,
}

impl TlsFiles {
    fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            verify: true,
        }
    }

    fn unverified(dir: &Path) -> TlsFiles {
        TlsFiles {
            verify: false,
            ..TlsFiles::in_dir(dir)
        }
    }
}

impl Endpoint {
    /// Whether the engine runs on another machine as far as the transport tells (tcp, ssh).
    pub fn is_network(&self) -> bool {
        !self.host.starts_with("unix://") && !self.host.starts_with("npipe://")
    }
}

/// Resolve the endpoint as the docker CLI does: `DOCKER_HOST`, else the docker context
/// (`DOCKER_CONTEXT`, else the config's `currentContext`), else the local socket.
pub fn resolve(config_dir: Option<&Path>) -> Endpoint {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(host) = env("DOCKER_HOST") {
        let dir = || {
            env("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .or_else(|| config_dir.map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(".docker"))
        };
        let tls = if env("DOCKER_TLS_VERIFY").is_some() {
            Some(TlsFiles::in_dir(&dir()))
        } else {
            env("DOCKER_TLS").map(|_| TlsFiles::unverified(&dir()))
        };
        return Endpoint { host, tls };
    }
    config_dir
        .and_then(|dir| context_endpoint(dir, env("DOCKER_CONTEXT")))
        .unwrap_or_else(|| Endpoint {
            host: local_socket(&env, &|p: &Path| p.exists()),
            tls: None,
        })
}

/// The local engine's socket: Docker's when it exists, else Podman's where Podman puts it
/// (`CONTAINER_HOST` when it is a unix socket, the user's `$XDG_RUNTIME_DIR/podman/
/// podman.sock` for rootless Podman, `/run/podman/podman.sock` for rootful), else Docker's
/// (whose absence the connection then reports).
fn local_socket(env: &dyn Fn(&str) -> Option<String>, exists: &dyn Fn(&Path) -> bool) -> String {
    const DOCKER: &str = "/var/run/docker.sock";
    if exists(Path::new(DOCKER)) {
        return format!("unix://{DOCKER}");
    }
    if let Some(host) = env("CONTAINER_HOST").filter(|h| h.starts_with("unix://")) {
        return host;
    }
    let rootless = env("XDG_RUNTIME_DIR").map(|d| Path::new(&d).join("podman/podman.sock"));
    rootless
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/run/podman/podman.sock")))
        .find(|p| exists(p))
        .map_or_else(
            || format!("unix://{DOCKER}"),
            |p| format!("unix://{}", p.display()),
        )
}

/// The docker endpoint of the current context, read from the CLI's context store
/// (`contexts/meta/<id>/meta.json`, TLS material in `contexts/tls/<id>/docker/`); `None`
/// for the default context.
pub(crate) fn context_endpoint(config_dir: &Path, explicit: Option<String>) -> Option<Endpoint> {
    let name = explicit.filter(|n| !n.is_empty()).or_else(|| {
        let text = std::fs::read_to_string(config_dir.join("config.json")).ok()?;
        let config: serde_json::Value = serde_json::from_str(&text).ok()?;
        config.get("currentContext")?.as_str().map(str::to_owned)
    })?;
    if name == "default" {
        return None;
    }
    let metas = std::fs::read_dir(config_dir.join("contexts").join("meta")).ok()?;
    metas.filter_map(Result::ok).find_map(|entry| {
        let text = std::fs::read_to_string(entry.path().join("meta.json")).ok()?;
        let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
        if meta.get("Name")?.as_str()? != name {
            return None;
        }
        let docker = meta.get("Endpoints")?.get("docker")?;
        let host = docker.get("Host")?.as_str()?.to_owned();
        let tls_dir = config_dir
            .join("contexts")
            .join("tls")
            .join(entry.file_name())
            .join("docker");
        let skip_verify = docker
            .get("SkipTLSVerify")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        // SkipTLSVerify is TLS without checking the server, never plain HTTP.
        let tls = if skip_verify {
            Some(TlsFiles::unverified(&tls_dir))
        } else {
            tls_dir
                .join("ca.pem")
                .exists()
                .then(|| TlsFiles::in_dir(&tls_dir))
        };
        Some(Endpoint { host, tls })
    })
}

/// A client for `endpoint`, not yet contacted.
pub struct Connection {
    pub docker: Docker,
    /// What `ssh` said on stderr, for error messages (ssh endpoints only).
    pub ssh_stderr: Option<Arc<SshSaid>>,
}

/// ssh's stderr, collected by a task, and whether it has ended (ssh exited).
#[derive(Default)]
pub struct SshSaid {
    text: Mutex<String>,
    ended: AtomicBool,
}

/// How long a failed first contact waits for ssh's last words (it exits right after saying
/// why it failed; its stderr is read by another task, which may not have run yet).
const SSH_LAST_WORDS: Duration = Duration::from_secs(1);

impl Connection {
    /// The best reason for a first contact that got no answer in time: ssh's own words
    /// when it said any.
    pub fn reason(&self, fallback: String) -> String {
        let said = self
            .ssh_stderr
            .as_ref()
            .and_then(|s| s.text.lock().ok().map(|s| s.trim().to_owned()))
            .unwrap_or_default();
        match said.lines().rfind(|l| !l.trim().is_empty()) {
            Some(line) => line.trim().to_owned(),
            None => fallback,
        }
    }

    /// The best reason for a first contact that failed: for ssh, its words once its stderr
    /// has ended (briefly waited for), else `fallback` (the HTTP client's "connection
    /// closed before message completed" says nothing about why).
    pub async fn reason_after_failure(&self, fallback: String) -> String {
        if let Some(said) = &self.ssh_stderr {
            let deadline = tokio::time::Instant::now() + SSH_LAST_WORDS;
            while !said.ended.load(Ordering::Acquire) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.reason(fallback)
    }
}

/// Build a client for `endpoint`; errors are the reason it cannot even be tried.
pub fn connect(endpoint: &Endpoint) -> Result<Connection, String> {
    let host = endpoint.host.as_str();
    if let Some(rest) = host.strip_prefix("ssh://") {
        let target = SshTarget::parse(rest)?;
        let stderr = Arc::new(SshSaid::default());
        let docker = ssh_client(&target, Arc::clone(&stderr))?;
        return Ok(Connection {
            docker,
            ssh_stderr: Some(stderr),
        });
    }
    let docker = match (&endpoint.tls, host) {
        (Some(tls), h) if !tls.verify && (h.starts_with("tcp://") || h.starts_with("https://")) => {
            return Ok(Connection {
                docker: unverified_tls_client(h, tls)?,
                ssh_stderr: None,
            });
        }
        (Some(tls), h) if h.starts_with("tcp://") || h.starts_with("https://") => {
            for f in [&tls.ca, &tls.cert, &tls.key] {
                if !f.exists() {
                    return Err(format!(
                        "TLS is on (DOCKER_TLS_VERIFY or the context) but {} does not exist",
                        f.display()
                    ));
                }
            }
            let addr = h.replacen("https://", "tcp://", 1);
            Docker::connect_with_ssl(
                &addr,
                &tls.key,
                &tls.cert,
                &tls.ca,
                REQUEST_TIMEOUT,
                API_DEFAULT_VERSION,
            )
        }
        (_, h) if h.starts_with("unix://") => {
            Docker::connect_with_unix(h, REQUEST_TIMEOUT, API_DEFAULT_VERSION)
        }
        (_, h) if h.starts_with("tcp://") || h.starts_with("http://") => {
            Docker::connect_with_http(h, REQUEST_TIMEOUT, API_DEFAULT_VERSION)
        }
        (_, h) => Docker::connect_with_host(h),
    }
    .map_err(|e| e.to_string())?;
    Ok(Connection {
        docker,
        ssh_stderr: None,
    })
}

/// `[user@]host[:port]` of an `ssh://` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SshTarget {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

impl SshTarget {
    fn parse(rest: &str) -> Result<SshTarget, String> {
        let authority = rest.split('/').next().unwrap_or_default();
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            // [v6]:port
            let (h, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("invalid ssh endpoint ssh://{rest}"))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("invalid port {p:?} in ssh://{rest}"))
            })
            .transpose()?;
        if host.is_empty() || host.starts_with('-') || user.as_deref().is_some_and(str::is_empty) {
            return Err(format!("invalid ssh endpoint ssh://{rest}"));
        }
        Ok(SshTarget { user, host, port })
    }

    /// The `ssh` arguments, as the docker CLI builds them.
    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-o".to_owned(),
            "ConnectTimeout=5".to_owned(),
            "-T".to_owned(),
        ];
        if let Some(u) = &self.user {
            a.extend(["-l".to_owned(), u.clone()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".to_owned(), p.to_string()]);
        }
        a.extend([
            "--".to_owned(),
            self.host.clone(),
            "docker".to_owned(),
            "system".to_owned(),
            "dial-stdio".to_owned(),
        ]);
        a
    }
}

/// The request body type bollard sends (named through its request type).
trait HasBody {
    type Body;
}
impl<B> HasBody for http::Request<B> {
    type Body = B;
}
type Body = <BollardRequest as HasBody>::Body;

fn ssh_client(target: &SshTarget, stderr: Arc<SshSaid>) -> Result<Docker, String> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let connector = SshConnector {
        args: Arc::new(target.args()),
        stderr,
    };
    // Idle connections are kept: each one is an ssh process and a login on the far side.
    let client: Client<SshConnector, Body> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let client = Arc::new(client);
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let client = Arc::clone(&client);
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some("http://docker.ssh"),
        REQUEST_TIMEOUT,
        API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())
}

/// TLS to `host` that accepts any server certificate (the docker CLI's `SkipTLSVerify`),
/// presenting the client certificate of `tls` when both its files exist.
fn unverified_tls_client(host: &str, tls: &TlsFiles) -> Result<Docker, String> {
    use hyper_util::client::legacy::{connect::HttpConnector, Client};
    use hyper_util::rt::TokioExecutor;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
    let config = if tls.cert.exists() && tls.key.exists() {
        let bad = |f: &Path, e: &dyn std::fmt::Display| format!("cannot read {}: {e}", f.display());
        let certs = CertificateDer::pem_file_iter(&tls.cert)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| bad(&tls.cert, &e))?;
        let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| bad(&tls.key, &e))?;
        builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| e.to_string())?
    } else {
        builder.with_no_client_auth()
    };
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnector::from((http, config));
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build(https);
    let client = Arc::new(client);
    let addr = host.replacen("tcp://", "https://", 1);
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let client = Arc::clone(&client);
            async move {
                client
                    .request(req)
                    .await
                    .map_err(bollard::errors::Error::from)
            }
        },
        Some(addr),
        REQUEST_TIMEOUT,
        API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())
}

/// A server certificate verifier that accepts any certificate, but still checks that the
/// handshake is signed by the key of the certificate the server sent.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens a connection by starting `ssh … docker system dial-stdio`.
#[derive(Clone)]
struct SshConnector {
    args: Arc<Vec<String>>,
    stderr: Arc<SshSaid>,
}

impl tower_service::Service<http::Uri> for SshConnector {
    type Response = hyper_util::rt::TokioIo<SshStream>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let args = Arc::clone(&self.args);
        let said = Arc::clone(&self.stderr);
        Box::pin(async move {
            let mut child = tokio::process::Command::new("ssh")
                .args(args.iter())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start `ssh`: {e}")))?;
            let (Some(stdin), Some(stdout), Some(mut err)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(std::io::Error::other("ssh without pipes"));
            };
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 1024];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = said.text.lock() {
                        if s.len() < 16 * 1024 {
                            s.push_str(&String::from_utf8_lossy(&buf[..n]));
                        }
                    }
                }
                said.ended.store(true, Ordering::Release);
            });
            Ok(hyper_util::rt::TokioIo::new(SshStream {
                _child: child,
                stdin: Some(stdin),
                stdout,
            }))
        })
    }
}

/// One ssh process: its stdout is what the engine says, its stdin what we say.
struct SshStream {
    _child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::process::ChildStdout,
}

impl hyper_util::client::legacy::connect::Connection for SshStream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        hyper_util::client::legacy::connect::Connected::new()
    }
}

impl AsyncRead for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stdin.as_mut() {
            Some(w) => Pin::new(w).poll_write(cx, buf),
            None => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stdin.as_mut() {
            Some(w) => Pin::new(w).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closing ssh's stdin half-closes the engine connection (dial-stdio passes it on), so
    /// an exec sees EOF on its stdin.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(w) = self.stdin.as_mut() {
            if let Poll::Ready(Err(e)) = Pin::new(w).poll_flush(cx) {
                return Poll::Ready(Err(e));
            }
        }
        self.stdin = None;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_dockers_socket_podmans_is_found_where_podman_puts_it() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let only = |paths: &'static [&'static str]| {
            move |p: &Path| paths.iter().any(|x| Path::new(x) == p)
        };
        let docker = only(&["/var/run/docker.sock", "/run/podman/podman.sock"]);
        assert_eq!(
            local_socket(&env(&[]), &docker),
            "unix:///var/run/docker.sock"
        );
        let rootless = only(&[
            "/run/user/1000/podman/podman.sock",
            "/run/podman/podman.sock",
        ]);
        assert_eq!(
            local_socket(&env(&[("XDG_RUNTIME_DIR", "/run/user/1000")]), &rootless),
            "unix:///run/user/1000/podman/podman.sock"
        );
        assert_eq!(
            local_socket(&env(&[]), &only(&["/run/podman/podman.sock"])),
            "unix:///run/podman/podman.sock"
        );
        assert_eq!(
            local_socket(
                &env(&[("CONTAINER_HOST", "unix:///tmp/p.sock")]),
                &only(&[])
            ),
            "unix:///tmp/p.sock"
        );
        assert_eq!(
            local_socket(&env(&[]), &only(&[])),
            "unix:///var/run/docker.sock"
        );
    }

    use super::*;

    #[test]
    fn ssh_targets() {
        let t = SshTarget::parse("me@build.example:2222").unwrap();
        assert_eq!(t.user.as_deref(), Some("me"));
        assert_eq!(t.host, "build.example");
        assert_eq!(t.port, Some(2222));
        let a = t.args().join(" ");
        assert!(
            a.ends_with("-l me -p 2222 -- build.example docker system dial-stdio"),
            "{a}"
        );
        let t = SshTarget::parse("host").unwrap();
        assert_eq!((t.user, t.port), (None, None));
        let t = SshTarget::parse("[::1]:22/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", Some(22)));
        assert!(SshTarget::parse("-oProxyCommand=x").is_err());
        assert!(SshTarget::parse("h:notaport").is_err());
    }

    #[test]
    fn docker_contexts() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("contexts/meta/0123abcd");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"colima","Endpoints":{"docker":{"Host":"unix:///home/u/.colima/docker.sock"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"colima"}"#,
        )
        .unwrap();
        let ep = context_endpoint(dir.path(), None).unwrap();
        assert_eq!(ep.host, "unix:///home/u/.colima/docker.sock");
        assert_eq!(ep.tls, None);
        assert_eq!(context_endpoint(dir.path(), Some("default".into())), None);
        assert_eq!(context_endpoint(dir.path(), Some("missing".into())), None);

        let tls = dir.path().join("contexts/tls/0123abcd/docker");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("ca.pem"), "x").unwrap();
        let ep = context_endpoint(dir.path(), None).unwrap();
        assert_eq!(ep.tls, Some(TlsFiles::in_dir(&tls)));

        // SkipTLSVerify: TLS without verification, with or without a ca.pem; never plain.
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"colima","Endpoints":{"docker":{"Host":"tcp://h:2376","SkipTLSVerify":true}}}"#,
        )
        .unwrap();
        let ep = context_endpoint(dir.path(), None).unwrap();
        assert_eq!(ep.tls.as_ref().map(|t| t.verify), Some(false));
        std::fs::remove_file(tls.join("ca.pem")).unwrap();
        let ep = context_endpoint(dir.path(), None).unwrap();
        assert_eq!(ep.tls.map(|t| t.verify), Some(false));
    }
}

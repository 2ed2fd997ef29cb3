//! The first contact with a local engine: `GET /_ping` over its unix socket, read by hand
//! for its `API-Version` header. bollard's `negotiate_version` asks `GET /version`, which
//! Docker 20.10 answers only after asking containerd and running `runc --version` and
//! `docker-init --version`: 7 to 30 ms here, against about half a millisecond for
//! `/_ping`, on every command (it is most of devenv's own cost on the warm path). Any
//! answer this cannot read leaves the decision to the negotiating path.

use std::time::Duration;

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the quick ping found.
pub enum Pinged {
    /// A client at the version the engine speaks (at most bollard's own).
    Client(Docker),
    /// No answer within the limit.
    Silent,
    /// Something else: the negotiating path decides (and explains).
    Unknown,
}

/// Ping the engine at `unix://PATH` and build a client at its API version.
pub async fn unix(host: &str, limit: Duration) -> Pinged {
    let Some(path) = host.strip_prefix("unix://") else {
        return Pinged::Unknown;
    };
    let version = match tokio::time::timeout(limit, api_version(path)).await {
        Err(_) => return Pinged::Silent,
        Ok(None) => return Pinged::Unknown,
        Ok(Some(v)) => v,
    };
    let version = if version < *API_DEFAULT_VERSION {
        version
    } else {
        *API_DEFAULT_VERSION
    };
    // bollard's own timeout, replaced by the caller (`without_deadline`).
    match Docker::connect_with_unix(host, 120, &version) {
        Ok(docker) => Pinged::Client(docker),
        Err(_) => Pinged::Unknown,
    }
}

/// The `API-Version` header of `GET /_ping` on the socket at `path`.
async fn api_version(path: &str) -> Option<ClientVersion> {
    let mut stream = tokio::net::UnixStream::connect(path).await.ok()?;
    stream
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse(&String::from_utf8_lossy(&head))
}

/// `HTTP/1.1 200 OK` with `Api-Version: 1.41` → 1.41.
fn parse(head: &str) -> Option<ClientVersion> {
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    if status.split(' ').nth(1) != Some("200") {
        return None;
    }
    let value = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("api-version")
            .then(|| v.trim())
    })?;
    let (major, minor) = value.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_header_is_read() {
        let v = parse("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\n").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(parse("HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\n\r\n").is_none());
        assert!(parse("HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n").is_none());
        assert!(parse("HTTP/1.1 200 OK\r\nAPI-VERSION: x\r\n\r\n").is_none());
    }
}

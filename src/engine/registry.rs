//! Registry access for the image cache: credentials and push. Credentials come from
//! `DEVENV_REGISTRY_USER`/`DEVENV_REGISTRY_PASSWORD`, else from the `auths` of the docker
//! config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;

use super::{Engine, EngineError, Result};

/// Registry host of a reference (`docker.io` when it names none).
pub fn registry_host(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Credentials for the registry of `reference`, if any are configured.
pub fn credentials(reference: &str) -> Option<DockerCredentials> {
    let host = registry_host(reference);
    if let (Ok(user), Ok(password)) = (
        std::env::var("DEVENV_REGISTRY_USER"),
        std::env::var("DEVENV_REGISTRY_PASSWORD"),
    ) {
        return Some(DockerCredentials {
            username: Some(user),
            password: Some(password),
            serveraddress: Some(host.to_owned()),
            ..DockerCredentials::default()
        });
    }
    from_docker_config(&docker_config_dir()?, host)
}

/// The docker CLI's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub(super) fn docker_config_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))
}

fn from_docker_config(dir: &std::path::Path, host: &str) -> Option<DockerCredentials> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let keys: Vec<String> = if host == "docker.io" {
        vec!["https://index.docker.io/v1/".into(), "docker.io".into()]
    } else {
        vec![
            host.to_owned(),
            format!("https://{host}"),
            format!("http://{host}"),
        ]
    };
    let entry = keys.iter().find_map(|k| auths.get(k))?;
    let encoded = entry.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(DockerCredentials {
        username: Some(user.to_owned()),
        password: Some(password.to_owned()),
        serveraddress: Some(host.to_owned()),
        ..DockerCredentials::default()
    })
}

impl Engine {
    /// Push `repo:tag` (which must exist locally) with the configured credentials.
    pub async fn push(&self, repo: &str, tag: &str) -> Result<()> {
        let opts = PushImageOptionsBuilder::new().tag(tag).build();
        let mut stream = self.docker.push_image(repo, Some(opts), credentials(repo));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| EngineError::api(format!("push {repo}:{tag}"), e))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Api {
                    action: format!("push {repo}:{tag}"),
                    message: err,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(registry_host("ghcr.io/acme/env"), "ghcr.io");
        assert_eq!(registry_host("127.0.0.1:5000/x"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/x"), "localhost");
        assert_eq!(registry_host("acme/env"), "docker.io");
        assert_eq!(registry_host("debian"), "docker.io");
    }

    #[test]
    fn docker_config_auths() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:pa:ss");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let c = from_docker_config(dir.path(), "127.0.0.1:5000").unwrap();
        assert_eq!(c.username.as_deref(), Some("ci"));
        assert_eq!(c.password.as_deref(), Some("pa:ss"));
        assert!(from_docker_config(dir.path(), "ghcr.io").is_none());
    }
}

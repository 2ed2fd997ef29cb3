//! Platforms on the engine and in registries: the engine's own platform, pulling one
//! platform of a multi-platform image, an image's platform, and reading a registry's image
//! index for the per-platform manifest digests (Docker 20.10's distribution endpoint gives
//! the index digest and a platform list, never the manifests' digests, so devenv asks the
//! registry itself, with the credentials a pull would use).
//!
//! Platforms are plain `(os, architecture, variant)` strings here; `manifest::Platform`
//! normalises them above this module.

use std::time::Duration;

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::registry::registry_host;
use super::{Engine, EngineError, Result};

/// An image's or a manifest's platform as recorded (not normalised).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawPlatform {
    pub os: String,
    pub arch: String,
    pub variant: String,
}

/// What a registry holds under a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryManifest {
    /// An image index (manifest list): each platform's manifest digest.
    Index(Vec<(RawPlatform, String)>),
    /// One image's manifest (a single platform, which its config names).
    Single,
}

/// How long a registry may take to answer one request.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

impl Engine {
    /// The engine's own platform (what it runs natively).
    pub async fn platform(&self) -> Result<RawPlatform> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| EngineError::api("read the engine version", e))?;
        Ok(RawPlatform {
            os: v.os.unwrap_or_default(),
            arch: v.arch.unwrap_or_default(),
            variant: String::new(),
        })
    }

    /// The platform recorded in a local image's config; `None` when there is no such image.
    pub async fn image_platform(&self, reference: &str) -> Result<Option<RawPlatform>> {
        match self.docker.inspect_image(reference).await {
            Ok(img) => Ok(Some(RawPlatform {
                os: img.os.unwrap_or_default(),
                arch: img.architecture.unwrap_or_default(),
                variant: img.variant.unwrap_or_default(),
            })),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect image {reference}"), e)),
        }
    }

    /// Pull `platform` (`linux/arm64`) of `reference` (which must carry a tag or digest).
    pub async fn pull_platform(&self, reference: &str, platform: &str) -> Result<()> {
        let (from_image, tag) = super::images::split_for_pull(reference);
        let opts = CreateImageOptionsBuilder::new()
            .from_image(&from_image)
            .tag(&tag)
            .platform(platform)
            .build();
        let credentials = self.credentials(reference).await;
        let mut stream = self.docker.create_image(Some(opts), None, credentials);
        while let Some(item) = stream.next().await {
            item.map_err(|e| super::images::pull_failed(reference, e))?;
        }
        Ok(())
    }

    /// What the registry holds under `name@digest`: an index with each platform's manifest
    /// digest, or a single manifest. The answer must be the bytes `digest` names: `sha256_hex`
    /// hashes them (the engine module hashes nothing itself).
    pub async fn registry_manifest(
        &self,
        name: &str,
        digest: &str,
        sha256_hex: fn(&[u8]) -> String,
    ) -> Result<RegistryManifest> {
        let failed = |message: String| EngineError::Api {
            action: format!("read the image index of {name}@{digest} from its registry"),
            message,
        };
        let (host, repo) = registry_path(name);
        let scheme = if self.insecure_registry(host).await {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{host}/v2/{repo}/manifests/{digest}");
        let credentials = self.credentials(name).await;
        let basic = credentials.and_then(|c| Some((c.username?, c.password.unwrap_or_default())));
        let body = fetch(&url, &repo, basic.as_ref()).await.map_err(failed)?;
        let got = format!("sha256:{}", sha256_hex(&body));
        if got != digest {
            return Err(failed(format!("the registry answered {got}, not {digest}")));
        }
        parse_manifest(&body).map_err(failed)
    }

    /// Whether the engine talks plain http to `host` (loopback, or its insecure registries).
    async fn insecure_registry(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if name == "localhost" || name.starts_with("127.") || name == "[::1]" {
            return true;
        }
        let Ok(info) = self.docker.info().await else {
            return false;
        };
        info.registry_config
            .and_then(|c| c.index_configs)
            .and_then(|m| m.get(host).and_then(|i| i.secure))
            .is_some_and(|secure| !secure)
    }
}

/// `host` and repository path of an image name, as the registry API names them.
fn registry_path(name: &str) -> (&str, String) {
    let host = registry_host(name);
    let path = name.strip_prefix(&format!("{host}/")).unwrap_or(name);
    if host == "docker.io" {
        let path = if path.contains('/') {
            path.to_owned()
        } else {
            format!("library/{path}")
        };
        return ("registry-1.docker.io", path);
    }
    (host, path.to_owned())
}

type Answer = (http::StatusCode, http::HeaderMap, bytes::Bytes);

/// GET `url` (a manifest), answering a bearer or basic challenge once.
async fn fetch(
    url: &str,
    repo: &str,
    basic: Option<&(String, String)>,
) -> std::result::Result<Vec<u8>, String> {
    let (status, headers, body) = get(url, ACCEPT, None).await?;
    let (status, body) = if status == http::StatusCode::UNAUTHORIZED {
        let challenge = headers
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let auth = authorize(challenge, repo, basic).await?;
        let (status, _, body) = get(url, ACCEPT, Some(&auth)).await?;
        (status, body)
    } else {
        (status, body)
    };
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("{status}: {}", text.trim()));
    }
    Ok(body.to_vec())
}

/// The `Authorization` value answering `challenge` (`Bearer realm=…` or `Basic …`).
async fn authorize(
    challenge: &str,
    repo: &str,
    basic: Option<&(String, String)>,
) -> std::result::Result<String, String> {
    use base64::Engine as _;
    let basic_value = basic.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    let Some(params) = challenge.strip_prefix("Bearer ") else {
        return basic_value.ok_or_else(|| "the registry wants credentials (unauthorized)".into());
    };
    let param = |key: &str| {
        params.split(',').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == key).then(|| v.trim_matches('"').to_owned())
        })
    };
    let realm = param("realm").ok_or("the registry's challenge names no realm")?;
    let mut url = format!("{realm}?scope=repository:{repo}:pull");
    if let Some(service) = param("service") {
        url = format!("{url}&service={service}");
    }
    let (status, _, body) = get(&url, "application/json", basic_value.as_deref()).await?;
    if !status.is_success() {
        return Err(format!("the registry refused a token ({status})"));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("bad token answer: {e}"))?;
    let token = json
        .get("token")
        .or_else(|| json.get("access_token"))
        .and_then(serde_json::Value::as_str)
        .ok_or("the registry's token answer holds no token")?;
    Ok(format!("Bearer {token}"))
}

async fn get(url: &str, accept: &str, auth: Option<&str>) -> std::result::Result<Answer, String> {
    let mut req = http::Request::get(url).header(http::header::ACCEPT, accept);
    if let Some(auth) = auth {
        req = req.header(http::header::AUTHORIZATION, auth);
    }
    let req = req
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    // The machine's trusted certificates, as the docker CLI and engine use them.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnector::from((http, config));
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let answer = async {
        let res = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, body))
    };
    tokio::time::timeout(REGISTRY_TIMEOUT, answer)
        .await
        .map_err(|_| format!("no answer from {url} within {REGISTRY_TIMEOUT:?}"))?
}

/// An index's per-platform digests, or a single manifest.
fn parse_manifest(body: &[u8]) -> std::result::Result<RegistryManifest, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not a manifest: {e}"))?;
    let Some(list) = json.get("manifests").and_then(serde_json::Value::as_array) else {
        return Ok(RegistryManifest::Single);
    };
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = Vec::new();
    for m in list {
        let Some(p) = m.get("platform") else { continue };
        let platform = RawPlatform {
            os: text(p, "os"),
            arch: text(p, "architecture"),
            variant: text(p, "variant"),
        };
        // Attestation manifests (`unknown/unknown`) are not images of a platform.
        if platform.os == "unknown" || platform.os.is_empty() {
            continue;
        }
        out.push((platform, text(m, "digest")));
    }
    Ok(RegistryManifest::Index(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_as_the_registry_names_them() {
        assert_eq!(
            registry_path("debian"),
            ("registry-1.docker.io", "library/debian".to_owned())
        );
        assert_eq!(
            registry_path("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000", "a/b".to_owned())
        );
    }

    #[test]
    fn an_index_lists_its_platforms_without_attestations() {
        let body = br#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"digest":"sha256:c","platform":{"os":"unknown","architecture":"unknown"}}]}"#;
        let RegistryManifest::Index(list) = parse_manifest(body).unwrap() else {
            panic!("not an index")
        };
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].0.variant, "v8");
        assert_eq!(list[1].1, "sha256:b");
        assert_eq!(
            parse_manifest(br#"{"config":{}}"#).unwrap(),
            RegistryManifest::Single
        );
    }
}

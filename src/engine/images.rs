//! Image operations: inspect, pull, import a root filesystem, commit, tag, list, remove.

use std::collections::HashMap;

use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;

use super::{label_filters, Engine, EngineError, Result};

/// What devenv needs to know about an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// `sha256:…` image id.
    pub id: String,
    pub repo_tags: Vec<String>,
    /// `name@sha256:…` registry digests.
    pub repo_digests: Vec<String>,
    pub labels: HashMap<String, String>,
    /// Image config env (`K=V`).
    pub env: Vec<String>,
    /// Image config `User` (empty when the image sets none; inspect calls only).
    pub user: String,
    pub created: i64,
    pub size: i64,
}

/// How to commit a build container into a layer image.
#[derive(Debug, Clone, Default)]
pub struct CommitSpec {
    pub repo: String,
    pub tag: String,
    pub env: Vec<String>,
    pub workdir: String,
    pub labels: HashMap<String, String>,
    pub comment: String,
}

impl Engine {
    /// Inspect an image by reference or id; `None` when absent.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        match self.docker.inspect_image(reference).await {
            Ok(img) => {
                let config = img.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: img.id.unwrap_or_default(),
                    repo_tags: img.repo_tags.unwrap_or_default(),
                    repo_digests: img.repo_digests.unwrap_or_default(),
                    labels: config.labels.unwrap_or_default(),
                    env: config.env.unwrap_or_default(),
                    user: config.user.unwrap_or_default(),
                    created: 0,
                    size: img.size.unwrap_or_default(),
                }))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect image {reference}"), e)),
        }
    }

    /// Pull `reference` (which must carry a tag or digest), reporting progress lines.
    pub async fn pull(&self, reference: &str, mut progress: impl FnMut(&str)) -> Result<()> {
        let (from_image, tag) = split_for_pull(reference);
        let opts = CreateImageOptionsBuilder::new()
            .from_image(&from_image)
            .tag(&tag)
            .build();
        let credentials = self.credentials(reference).await;
        let mut stream = self.docker.create_image(Some(opts), None, credentials);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| pull_failed(reference, e))?;
            if let Some(status) = info.status {
                progress(&status);
            }
        }
        Ok(())
    }

    /// `docker import` a root filesystem tarball (optionally compressed) as `repo:tag`.
    pub async fn import_rootfs(
        &self,
        tarball: impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
        repo: &str,
        tag: &str,
        labels: &[(&str, &str)],
    ) -> Result<String> {
        let changes = labels
            .iter()
            .map(|(k, v)| format!("LABEL {k}={v}"))
            .collect();
        let opts = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .message("imported by devenv")
            .changes(changes)
            .build();
        let body = bollard::body_try_stream(tarball);
        let mut stream = self.docker.create_image(Some(opts), Some(body), None);
        // The new image's id, as the last status line says it.
        let mut id = None;
        while let Some(item) = stream.next().await {
            let info =
                item.map_err(|e| EngineError::api(format!("import rootfs as {repo}:{tag}"), e))?;
            if let Some(status) = info.status.filter(|s| s.starts_with("sha256:")) {
                id = Some(status);
            }
        }
        let reference = format!("{repo}:{tag}");
        if let Some(image) = self.image(&reference).await? {
            return Ok(image.id);
        }
        // Podman 4 ignores the tag of an import (it names the image `<repo>:latest`): name
        // it by its id.
        if let Some(id) = id {
            self.tag(&id, repo, tag).await?;
            if let Some(image) = self.image(&reference).await? {
                let _ = self.remove_image(&format!("{repo}:latest")).await;
                return Ok(image.id);
            }
        }
        Err(EngineError::NotFound {
            what: "imported image",
            name: reference,
        })
    }

    /// Commit a container into an image tagged `spec.repo:spec.tag`; returns the image id.
    pub async fn commit(&self, container: &str, spec: &CommitSpec) -> Result<String> {
        let opts = CommitContainerOptionsBuilder::new()
            .container(container)
            .repo(&spec.repo)
            .tag(&spec.tag)
            .comment(&spec.comment)
            .pause(false)
            .build();
        let config = bollard::models::ContainerConfig {
            env: Some(spec.env.clone()),
            working_dir: Some(spec.workdir.clone()),
            labels: Some(spec.labels.clone()),
            cmd: Some(vec!["/bin/sh".to_owned()]),
            entrypoint: Some(Vec::new()),
            ..Default::default()
        };
        let res = self
            .docker
            .commit_container(opts, config)
            .await
            .map_err(|e| EngineError::api(format!("commit container {container}"), e))?;
        Ok(res.id)
    }

    /// Give `image` the additional name `repo:tag`.
    pub async fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<()> {
        let opts = bollard::query_parameters::TagImageOptionsBuilder::new()
            .repo(repo)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(opts))
            .await
            .map_err(|e| EngineError::api(format!("tag {image} as {repo}:{tag}"), e))
    }

    /// Images carrying all of `labels` (`dangling` images included).
    pub async fn list_images(&self, labels: &[(&str, &str)]) -> Result<Vec<ImageInfo>> {
        let opts = ListImagesOptionsBuilder::new()
            .all(false)
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_images(Some(opts))
            .await
            .map_err(|e| EngineError::api("list images", e))?;
        Ok(list
            .into_iter()
            .map(|s| ImageInfo {
                id: s.id,
                repo_tags: s.repo_tags,
                repo_digests: s.repo_digests,
                labels: s.labels,
                env: Vec::new(),
                user: String::new(),
                created: s.created,
                size: s.size,
            })
            .collect())
    }

    /// Remove an image or one of its tags. `Ok(false)` when it is in use or gone.
    pub async fn remove_image(&self, reference: &str) -> Result<bool> {
        let opts = RemoveImageOptionsBuilder::new().noprune(false).build();
        match self.docker.remove_image(reference, Some(opts), None).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(false),
            Err(e) => Err(EngineError::api(format!("remove image {reference}"), e)),
        }
    }
}

/// A failed pull, with why when the engine's answer says it.
pub(super) fn pull_failed(reference: &str, err: bollard::errors::Error) -> EngineError {
    use bollard::errors::Error as E;
    match err {
        E::DockerResponseServerError { message, .. } | E::DockerStreamError { error: message } => {
            EngineError::PullFailed {
                reference: reference.to_owned(),
                cause: super::PullCause::of(&message),
                message,
            }
        }
        other => EngineError::api(format!("pull {reference}"), other),
    }
}

/// Split `name[:tag][@digest]` into the pull API's `fromImage` and `tag` (a digest goes in
/// `tag`, as the docker CLI does).
pub(super) fn split_for_pull(reference: &str) -> (String, String) {
    if let Some((name, digest)) = reference.split_once('@') {
        let name = strip_tag(name);
        return (name.to_owned(), digest.to_owned());
    }
    let name = strip_tag(reference);
    let tag = reference
        .strip_prefix(name)
        .and_then(|t| t.strip_prefix(':'))
        .unwrap_or("latest");
    (name.to_owned(), tag.to_owned())
}

/// The name part of `name[:tag]`, aware of `host:port/` registries.
fn strip_tag(reference: &str) -> &str {
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => &reference[..last_slash + i],
        None => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_split() {
        assert_eq!(split_for_pull("debian"), ("debian".into(), "latest".into()));
        assert_eq!(
            split_for_pull("localhost:5000/a/b:1.0"),
            ("localhost:5000/a/b".into(), "1.0".into())
        );
        assert_eq!(
            split_for_pull("debian:12@sha256:ab"),
            ("debian".into(), "sha256:ab".into())
        );
    }
}

//! Reading files out of a container (the other direction of `upload_tar`).

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::{Engine, EngineError, Result};

impl Engine {
    /// `path` in container `id` (running or not; bind mounts and volumes included) as a tar
    /// archive, as `docker cp` reads it.
    pub async fn download_tar(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let mut stream = self.download_tar_stream(id, path);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// [`Engine::download_tar`] chunk by chunk as the engine sends it, so an archive never
    /// has to fit in memory. A missing path is `NotFound { what: "path" }` as the first
    /// item, a missing container `NotFound { what: "container" }` (the engine answers 404
    /// for both).
    pub fn download_tar_stream(&self, id: &str, path: &str) -> BoxStream<'static, Result<Bytes>> {
        let opts = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let (id, path) = (id.to_owned(), path.to_owned());
        let stream = self.docker.download_from_container(&id, Some(opts));
        stream
            .map(move |chunk| {
                chunk.map_err(
                    |e| match EngineError::api(format!("copy {path} out of {id}"), e) {
                        EngineError::NotFound { name: message, .. } => {
                            if message.to_ascii_lowercase().contains("no such container") {
                                EngineError::NotFound {
                                    what: "container",
                                    name: id.clone(),
                                }
                            } else {
                                EngineError::NotFound {
                                    what: "path",
                                    name: path.clone(),
                                }
                            }
                        }
                        other => other,
                    },
                )
            })
            .boxed()
    }
}

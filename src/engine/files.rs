//! Reading files out of a container (the other direction of `upload_tar`).

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;

use super::{Engine, EngineError, Result};

impl Engine {
    /// `path` in container `id` (running or not; bind mounts and volumes included) as a tar
    /// archive, as `docker cp` reads it.
    pub async fn download_tar(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let opts = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let mut stream = self.docker.download_from_container(id, Some(opts));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| EngineError::api(format!("copy {path} out of {id}"), e))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

//! `docker save` and `docker load` through the engine API (`GET /images/get`,
//! `POST /images/load`), streamed: an image never has to fit in memory.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::{Engine, EngineError, Result};

impl Engine {
    /// Stream the `docker save` tar of `references` into `sink`, chunk by chunk; returns
    /// the number of bytes. A sink error stops the transfer.
    pub async fn save_images(
        &self,
        references: &[&str],
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64> {
        let mut stream = self.docker.export_images(references);
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| EngineError::api("save images", e))?;
            sink(&chunk).map_err(|e| EngineError::Api {
                action: "save images".into(),
                message: e.to_string(),
            })?;
            total += chunk.len() as u64;
        }
        Ok(total)
    }

    /// `docker load` a tar streamed from `body`; returns the engine's `Loaded image: …`
    /// lines.
    pub async fn load_images<S>(&self, body: S) -> Result<Vec<String>>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let opts = bollard::query_parameters::ImportImageOptionsBuilder::new()
            .quiet(true)
            .build();
        let mut stream = self.docker.import_image_stream(opts, body, None);
        let mut lines = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| EngineError::api("load images", e))?;
            if let Some(s) = info.stream {
                lines.extend(s.lines().map(str::to_owned).filter(|l| !l.is_empty()));
            }
        }
        Ok(lines)
    }
}

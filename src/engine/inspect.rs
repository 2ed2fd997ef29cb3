//! What verification needs to know about an image: its content-addressed id, labels, the
//! diff ids of its filesystem layers, and its history (which names the local parent).

use std::collections::HashMap;

use super::{Engine, EngineError, Result};

/// An image as verification sees it.
#[derive(Debug, Clone, Default)]
pub struct ImageDetail {
    /// `sha256:…` image id (the digest of its config, which holds the labels and layers).
    pub id: String,
    pub labels: HashMap<String, String>,
    /// RootFS diff ids, base first.
    pub layers: Vec<String>,
    pub size: i64,
}

/// One entry of an image's history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The image id for entries that are local images, else `<missing>`.
    pub id: String,
    pub created_by: String,
    pub size: i64,
}

impl Engine {
    /// Inspect an image for verification; `None` when absent.
    pub async fn image_detail(&self, reference: &str) -> Result<Option<ImageDetail>> {
        match self.docker.inspect_image(reference).await {
            Ok(img) => Ok(Some(ImageDetail {
                id: img.id.unwrap_or_default(),
                labels: img.config.and_then(|c| c.labels).unwrap_or_default(),
                layers: img.root_fs.and_then(|r| r.layers).unwrap_or_default(),
                size: img.size.unwrap_or_default(),
            })),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect image {reference}"), e)),
        }
    }

    /// The image's history, newest first: entry 0 is the image itself, entry 1 its local
    /// parent (when that is a local image).
    pub async fn image_history(&self, reference: &str) -> Result<Vec<HistoryEntry>> {
        let items = self
            .docker
            .image_history(reference)
            .await
            .map_err(|e| EngineError::api(format!("read the history of {reference}"), e))?;
        Ok(items
            .into_iter()
            .map(|h| HistoryEntry {
                id: h.id,
                created_by: h.created_by,
                size: h.size,
            })
            .collect())
    }

    /// Remove the name `reference`, also when a container uses its image (which then stays,
    /// untagged); the image itself goes only when nothing else names or uses it.
    pub async fn untag(&self, reference: &str) -> Result<()> {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::new()
            .force(true)
            .noprune(true)
            .build();
        match self.docker.remove_image(reference, Some(opts), None).await {
            Ok(_)
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("remove the tag {reference}"), e)),
        }
    }
}

//! Listing volumes by label.

use std::collections::HashMap;

use super::{label_filters, Engine, EngineError, Result};

impl Engine {
    /// The named volumes carrying all of `labels`: their names and labels.
    pub async fn list_volumes(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<(String, HashMap<String, String>)>> {
        use bollard::query_parameters::ListVolumesOptionsBuilder;
        let filters = label_filters(labels);
        let list = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| EngineError::api("list volumes", e))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name, v.labels))
            .collect())
    }
}

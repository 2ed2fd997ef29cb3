//! The registry cache: an image is found by its hash, whoever built it. Before building a
//! layer, `<registry>:<key>` is pulled if it exists; `devenv push` publishes the final image
//! (and with `--steps` every layer) under those names.

use super::{layer_ref, BuildError, Reporter, LAYER_REPO};
use crate::engine::{Engine, EngineError};
use crate::manifest::Platform;

/// A registry cache for one build; after the first failure that is not "not found" it is
/// switched off (with one warning) so a registry that is down costs one attempt, not one
/// per step.
pub struct RegistryCache {
    registry: String,
    enabled: bool,
    /// The platform the keys were computed for: a pulled image of another is refused.
    platform: Platform,
}

impl RegistryCache {
    pub fn new(registry: Option<&str>, platform: &Platform) -> Option<RegistryCache> {
        registry.map(|r| RegistryCache {
            registry: r.trim_end_matches('/').to_owned(),
            enabled: true,
            platform: platform.clone(),
        })
    }

    /// Try to fetch the layer `key`; `Ok(true)` when it is now available locally.
    pub async fn fetch(
        &mut self,
        engine: &Engine,
        key: &str,
        reporter: &mut dyn Reporter,
    ) -> Result<bool, BuildError> {
        if !self.enabled {
            return Ok(false);
        }
        let remote = format!("{}:{key}", self.registry);
        let engine = &engine.for_cache(Some(&self.registry));
        let pulled = super::interrupt::or_interrupted(async {
            engine.pull(&remote, |_| {}).await.map_err(BuildError::from)
        })
        .await;
        match pulled {
            Ok(()) => {
                // The platform is in the key, so `<registry>:<key>` is one platform's; but a
                // registry is written by many machines: never take another platform's image.
                let found = super::platform::image_platform(engine, &remote).await?;
                if found.as_ref() != Some(&self.platform) {
                    engine.remove_image(&remote).await?;
                    reporter.warn(&format!(
                        "registry cache {remote} holds a {} image, not a {} one: building \
                         locally",
                        found.map_or_else(|| "unknown platform's".into(), |p| p.to_string()),
                        self.platform
                    ));
                    return Ok(false);
                }
                engine.tag(&remote, LAYER_REPO, key).await?;
                // Keep one local name per layer; the registry name was only for the pull.
                engine.remove_image(&remote).await?;
                reporter.note(&format!("pulled {remote} from the registry cache"));
                Ok(true)
            }
            Err(BuildError::Engine(e)) if is_missing(&e) => Ok(false),
            Err(BuildError::Interrupted) => Err(BuildError::Interrupted),
            Err(e) => {
                self.enabled = false;
                reporter.warn(&format!(
                    "registry cache {} unavailable, building locally: {e}",
                    self.registry
                ));
                Ok(false)
            }
        }
    }
}

/// "manifest unknown" / 404: the cache simply does not have it.
fn is_missing(e: &EngineError) -> bool {
    let text = e.to_string().to_lowercase();
    e.is_not_found() || text.contains("manifest unknown") || text.contains("not found")
}

/// Push the given layer keys to `registry` as `<registry>:<key>`.
pub async fn push(engine: &Engine, registry: &str, keys: &[&str]) -> Result<(), BuildError> {
    let registry = registry.trim_end_matches('/');
    let engine = &engine.for_cache(Some(registry));
    for key in keys {
        if engine.image(&layer_ref(key)).await?.is_none() {
            return Err(BuildError::NotBuilt {
                key: (*key).to_owned(),
            });
        }
        engine.tag(&layer_ref(key), registry, key).await?;
        let pushed = engine.push(registry, key).await;
        engine.remove_image(&format!("{registry}:{key}")).await?;
        pushed?;
    }
    Ok(())
}

//! The platform a chain is built for, once the base is resolved: the warning when it is not
//! the engine's own (emulation), and the checks that an image from elsewhere (the registry
//! cache, a pack) is of that platform.

use std::borrow::Cow;

use super::base::ResolvedBase;
use super::{BuildError, Reporter};
use crate::engine::{labels, Engine};
use crate::manifest::{Manifest, Platform};

/// The manifest with `base.platform` set to what the chain is built for.
pub fn for_build<'m>(manifest: &'m Manifest, platform: &Platform) -> Cow<'m, Manifest> {
    if manifest.base.platform.as_ref() == Some(platform) {
        return Cow::Borrowed(manifest);
    }
    let mut m = manifest.clone();
    m.base.platform = Some(platform.clone());
    Cow::Owned(m)
}

/// Warn when the base's platform is not the engine's: its steps and the environment run
/// under the engine's emulation (slow), or fail when it cannot emulate that architecture.
pub async fn warn_if_emulated(
    engine: &Engine,
    base: &ResolvedBase,
    reporter: &mut dyn Reporter,
) -> Result<(), BuildError> {
    let raw = engine.platform().await?;
    let native = Platform::normalise(&raw.os, &raw.arch, &raw.variant);
    if !base.platform.native_on(&native) {
        reporter.warn(&mismatch(&base.entry.reference, &base.platform, &native));
    }
    Ok(())
}

/// The warning for a base of `platform` on an engine of `native`.
pub fn mismatch(reference: &str, platform: &Platform, native: &Platform) -> String {
    format!(
        "base `{reference}` is {platform}, the engine runs {native}: it runs under emulation \
         (slowly), or not at all when the engine cannot emulate {}",
        platform.arch
    )
}

/// The platform an image was built for: devenv's label, else its config's.
pub async fn image_platform(
    engine: &Engine,
    reference: &str,
) -> Result<Option<Platform>, BuildError> {
    if let Some(img) = engine.image(reference).await? {
        if let Some(p) = img.labels.get(labels::PLATFORM).filter(|p| !p.is_empty()) {
            return Ok(Platform::parse(p).ok());
        }
    }
    Ok(engine
        .image_platform(reference)
        .await?
        .map(|p| Platform::normalise(&p.os, &p.arch, &p.variant)))
}

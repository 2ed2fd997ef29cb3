//! Ctrl-C and SIGTERM during a build, through the process's one cancellation path
//! ([`crate::cancel`]).

use std::future::Future;

use super::BuildError;

/// SIGINT/SIGTERM during a build. Cancellation is sticky, so a signal that arrives between
/// steps is not lost: the next step sees it.
pub(super) struct Interrupt(());

impl Interrupt {
    #[allow(clippy::unnecessary_wraps)] // the build's call sites: install, then use
    pub fn install() -> Result<Interrupt, BuildError> {
        Ok(Interrupt(()))
    }

    /// Whether a signal arrived.
    #[allow(clippy::unused_self)] // keeps the build's call sites on one value
    pub fn pending(&mut self) -> bool {
        crate::cancel::is_cancelled()
    }

    #[allow(clippy::unused_self)]
    pub(super) async fn recv(&mut self) {
        crate::cancel::cancelled().await;
    }

    /// `work`, or [`BuildError::Interrupted`] (dropping `work`) when a signal arrives first.
    pub(super) async fn run<T>(
        &mut self,
        work: impl Future<Output = Result<T, BuildError>>,
    ) -> Result<T, BuildError> {
        or_interrupted(work).await
    }
}

/// `work` ended early by Ctrl-C or SIGTERM, for waits outside a build's own [`Interrupt`]
/// (base pulls of `devenv lock`, registry-cache pulls, lock waits).
pub(super) async fn or_interrupted<T>(
    work: impl Future<Output = Result<T, BuildError>>,
) -> Result<T, BuildError> {
    crate::cancel::or_cancelled(work)
        .await
        .unwrap_or(Err(BuildError::Interrupted))
}

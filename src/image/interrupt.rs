//! Ctrl-C and SIGTERM during a build.

use std::future::Future;

use super::BuildError;

/// SIGINT/SIGTERM during a build. Installed once for the whole build so a signal that
/// arrives between steps is not lost: it stays pending until the next step looks.
pub(super) struct Interrupt {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupt {
    pub fn install() -> Result<Interrupt, BuildError> {
        use tokio::signal::unix::{signal, SignalKind};
        let err = |e: std::io::Error| BuildError::Io {
            what: "installing signal handlers".into(),
            message: e.to_string(),
        };
        Ok(Interrupt {
            int: signal(SignalKind::interrupt()).map_err(err)?,
            term: signal(SignalKind::terminate()).map_err(err)?,
        })
    }

    /// Whether a signal arrived that nobody has looked at yet.
    pub fn pending(&mut self) -> bool {
        use futures_util::FutureExt;
        self.recv().now_or_never().is_some()
    }

    pub(super) async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    /// `work`, or [`BuildError::Interrupted`] (dropping `work`) when a signal arrives first.
    pub(super) async fn run<T>(
        &mut self,
        work: impl Future<Output = Result<T, BuildError>>,
    ) -> Result<T, BuildError> {
        tokio::select! {
            r = work => r,
            () = self.recv() => Err(BuildError::Interrupted),
        }
    }
}

/// `work` ended early by Ctrl-C or SIGTERM, for waits outside a build's own [`Interrupt`]
/// (base pulls of `devenv lock`, registry-cache pulls): every signal reaches every
/// listener, so the build's own one sees it too.
pub(super) async fn or_interrupted<T>(
    work: impl Future<Output = Result<T, BuildError>>,
) -> Result<T, BuildError> {
    Interrupt::install()?.run(work).await
}

//! The top-level error and exit status. Each module has its own error enum, which knows its
//! exit code (`exit_code()`) and its `hint()`; this one gathers them for `commands`.

use crate::engine::EngineError;
use crate::fingerprint::FingerprintError;
use crate::image::BuildError;
use crate::init::InitError;
use crate::interop::InteropError;
use crate::manifest::lock::LockError;
use crate::manifest::ManifestError;
use crate::session::SessionError;

/// How devenv ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    /// A user-facing failure (exit 1).
    Failure,
    /// An exact code: a command's status in `run`/`shell`, or 2/3/125.
    Code(i32),
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Code(c) => c,
        }
    }
}

/// Exit code for an invalid manifest or usage.
pub const EXIT_USAGE: i32 = 2;
/// Exit code when the Docker engine cannot be reached.
pub const EXIT_ENGINE: i32 = 3;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;
/// `run`/`shell`: devenv failed before the command ran.
pub const EXIT_OWN_FAILURE: i32 = 125;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(transparent)]
    Init(#[from] InitError),
    #[error(transparent)]
    Interop(#[from] InteropError),
    /// Ctrl-C or SIGTERM, and the command did not end by itself (`cancel`).
    #[error("interrupted")]
    Interrupted,
    #[error("{message}")]
    Other {
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    pub fn other(message: impl Into<String>, hint: Option<String>) -> Error {
        Error::Other {
            message: message.into(),
            hint,
        }
    }

    /// The exit code outside `run`/`shell`: each module's error knows its own (and that of
    /// what it wraps), so an unreachable engine is 3 and an interruption 130 wherever they
    /// happened.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Manifest(_) => EXIT_USAGE,
            Error::Interrupted => EXIT_INTERRUPTED,
            Error::Engine(e) => e.exit_code(),
            Error::Build(e) => e.exit_code(),
            Error::Session(e) => e.exit_code(),
            Error::Stack(e) => e.exit_code(),
            Error::Cluster(e) => e.exit_code(),
            Error::Lock(_)
            | Error::Fingerprint(_)
            | Error::Init(_)
            | Error::Interop(_)
            | Error::Other { .. } => 1,
        }
    }

    /// What to do next, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Engine(e) => e.hint(),
            Error::Build(e) => e.hint(),
            Error::Session(e) => e.hint(),
            Error::Stack(e) => e.hint(),
            Error::Cluster(e) => e.hint(),
            Error::Init(e) => e.hint(),
            Error::Lock(_) => {
                Some("fix or delete the lock file, then run `devenv lock` to write it again".into())
            }
            Error::Interop(e) => e.hint(),
            Error::Other { hint, .. } => hint.clone(),
            Error::Manifest(_) | Error::Fingerprint(_) | Error::Interrupted => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::StackError;

    fn unreachable() -> EngineError {
        EngineError::Unreachable {
            endpoint: "tcp://127.0.0.1:1".into(),
            reason: "Connection refused".into(),
        }
    }

    #[test]
    fn an_unreachable_engine_exits_3_wherever_it_is_wrapped() {
        let bind_sync = |source: SessionError| {
            Error::Stack(StackError::BindSync {
                service: "web".into(),
                source: Box::new(source),
            })
        };
        for err in [
            Error::Engine(unreachable()),
            bind_sync(SessionError::Engine(unreachable())),
            bind_sync(SessionError::Build(BuildError::Engine(unreachable()))),
            Error::Session(SessionError::Build(BuildError::Engine(unreachable()))),
            Error::Build(BuildError::LockKept {
                file: "devenv.lock".into(),
                digest: "sha256:ab".into(),
                source: Box::new(BuildError::Engine(unreachable())),
            }),
        ] {
            assert_eq!(err.exit_code(), EXIT_ENGINE, "{err:?}");
        }
        assert_eq!(
            bind_sync(SessionError::Interrupted).exit_code(),
            EXIT_INTERRUPTED
        );
        assert_eq!(
            bind_sync(SessionError::UserSetup("x".into())).exit_code(),
            1
        );
    }
}

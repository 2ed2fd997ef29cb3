//! Ctrl-C and SIGTERM end watching.

use tokio::signal::unix::{signal, SignalKind};

use crate::error::{Error, Result};

/// Ctrl-C and SIGTERM: stop watching.
pub(super) struct Stop {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Stop {
    pub(super) fn install() -> Result<Stop> {
        let make = |k| {
            signal(k)
                .map_err(|e| Error::other(format!("cannot install signal handlers: {e}"), None))
        };
        Ok(Stop {
            int: make(SignalKind::interrupt())?,
            term: make(SignalKind::terminate())?,
        })
    }

    pub(super) async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

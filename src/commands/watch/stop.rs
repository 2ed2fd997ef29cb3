//! Ctrl-C and SIGTERM end watching (through [`crate::cancel`]).

use crate::error::Result;

/// Ctrl-C and SIGTERM: stop watching.
pub(super) struct Stop(());

impl Stop {
    #[allow(clippy::unnecessary_wraps)] // the watch commands' shape: install, then watch
    pub(super) fn install() -> Result<Stop> {
        Ok(Stop(()))
    }

    #[allow(clippy::unused_self)]
    pub(super) async fn recv(&mut self) {
        crate::cancel::cancelled().await;
    }
}

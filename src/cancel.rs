//! Cancellation: the one path from `main` into every wait.
//!
//! [`install`] (called once by [`crate::run`]) listens for SIGINT and SIGTERM for the whole
//! process and cancels one [`CancellationToken`]; every wait (builds, pulls, lock waits,
//! readiness, `watch`) races against [`cancelled`]. Installing tokio's handler replaces the
//! default action (terminate) for the rest of the process, so a wait that did not listen
//! would ignore Ctrl-C: [`interrupted`] is the backstop `commands::dispatch` races the
//! whole command against, ending it [`GRACE`] after a signal when the waits did not.
//!
//! While a command runs in the container in the foreground (`run`, `shell`, a hook) the
//! signals are the command's: its forwarder holds a [`Hold`], and the token stays as it is.
//! A clean-up that must finish after a signal (`watch` stopping its runners) holds one too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long the waits get to end by themselves after a signal before the backstop ends
/// the command.
pub const GRACE: Duration = Duration::from_secs(1);

static TOKEN: OnceLock<CancellationToken> = OnceLock::new();
static HOLDS: AtomicUsize = AtomicUsize::new(0);

fn token() -> &'static CancellationToken {
    TOKEN.get_or_init(CancellationToken::new)
}

/// Listen for SIGINT and SIGTERM for the rest of the process.
pub fn install() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            if HOLDS.load(Ordering::SeqCst) == 0 {
                token().cancel();
            }
        }
    });
    Ok(())
}

/// Whether Ctrl-C or SIGTERM arrived.
pub fn is_cancelled() -> bool {
    token().is_cancelled()
}

/// Ends when Ctrl-C or SIGTERM arrives (at once if one already did).
pub async fn cancelled() {
    token().cancelled().await;
}

/// `work`, or `None` (dropping `work`) when Ctrl-C or SIGTERM arrives first.
pub async fn or_cancelled<T>(work: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        () = cancelled() => None,
        r = work => Some(r),
    }
}

/// Ends [`GRACE`] after a signal, once nothing holds the signals: the command did not
/// end by itself in time.
pub async fn interrupted() {
    cancelled().await;
    loop {
        tokio::time::sleep(GRACE).await;
        if HOLDS.load(Ordering::SeqCst) == 0 {
            return;
        }
    }
}

/// While alive, signals are not turned into cancellation (a foreground command in the
/// container gets them) and the backstop waits (a clean-up finishes).
#[must_use]
pub struct Hold(());

impl Hold {
    pub fn new() -> Hold {
        HOLDS.fetch_add(1, Ordering::SeqCst);
        Hold(())
    }
}

impl Default for Hold {
    fn default() -> Hold {
        Hold::new()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        HOLDS.fetch_sub(1, Ordering::SeqCst);
    }
}

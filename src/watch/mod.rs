//! Watching the project on the host: which files changed, and what those changes mean.
//!
//! The library emits events and the command decides what to do with them (as watchexec
//! does). [`Watcher`] walks the tree with gitignore rules, watches every kept directory
//! non-recursively (so ignored trees such as `target/` or `node_modules/` cost no inotify
//! watch), picks up new directories, debounces, and re-checks every reported path against
//! its last known state instead of trusting event kinds: a temp file that came and went
//! within one batch, or a file that was only opened, is no change at all. [`Classifier`]
//! maps a batch of changes to meanings: the manifest, the lock, a step's inputs, a
//! `[[watch]]` rule. notify is used in this module only.

mod classify;
mod tree;
mod watcher;

/// The default ignores: the same for watching and for syncing a remote workspace.
pub(crate) use tree::{SKIPPED_DIRS, TEMP_FILES};

use std::path::PathBuf;
use std::time::Duration;

pub use classify::{Classified, Classifier};
pub use watcher::{Notice, WatchEvent, Watcher};

/// How the watcher behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Quiet time after the last event before a batch is emitted.
    pub debounce: Duration,
    /// Poll instead of using inotify.
    pub poll: bool,
    /// How often to poll (when polling).
    pub poll_interval: Duration,
    /// Directories below the root watched whole even where the ignore files hide them
    /// (the default ignores still apply): a remote engine's bind volume sources, which are
    /// synced whatever `.gitignore` says.
    pub whole: Vec<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            debounce: Duration::from_millis(100),
            poll: false,
            poll_interval: Duration::from_millis(500),
            whole: Vec::new(),
        }
    }
}

/// One changed path, after the re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Project-relative, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
    pub kind: ChangeKind,
    /// Matched by a gitignore rule (only the manifest, the lock and step inputs count then).
    pub ignored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Modified,
    Removed,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {message}")]
    Watch { path: String, message: String },
    #[error("inotify limit reached ({what}) and polling failed too: {message}")]
    Limit { what: String, message: String },
    #[error("bad watch pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
    #[error("the file watcher stopped unexpectedly")]
    Stopped,
}

impl WatchError {
    pub fn hint(&self) -> Option<String> {
        match self {
            WatchError::Limit { what, .. } => Some(limit_hint(what)),
            WatchError::Watch { .. } => Some("try `--poll`".into()),
            WatchError::Pattern { .. } => Some("fix the pattern in devenv.toml".into()),
            WatchError::Stopped => {
                Some("this is a bug in devenv; run again with -v and report the output".into())
            }
        }
    }
}

/// Which sysctl to raise for an exhausted inotify resource.
pub fn limit_hint(what: &str) -> String {
    let sysctl = if what.contains("instances") {
        "fs.inotify.max_user_instances"
    } else {
        "fs.inotify.max_user_watches"
    };
    format!(
        "raise the limit, e.g. `sudo sysctl {sysctl}=524288` (persist it in /etc/sysctl.d/), \
         or add ignored directories to .gitignore; `--poll` avoids inotify altogether"
    )
}

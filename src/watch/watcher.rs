//! The notify side: one non-recursive watch per kept directory, raw events debounced into
//! batches, every path re-checked against its last known state, and a fallback to polling
//! when inotify's limits are hit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{ErrorKind, Event, EventKind, RecursiveMode};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::tree::{self, Defaults, FileState, Ignorer, Scan};
use super::{Change, ChangeKind, Options, WatchError};

type Raw = notify::Result<Event>;

/// Something the watcher wants the user to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An inotify limit was hit (`what` names it); the watcher now polls.
    Polling { what: String },
    /// The event queue overflowed (or ignore rules changed): the tree was walked again.
    Rescanned,
}

#[derive(Debug)]
pub enum WatchEvent {
    /// A debounced, re-checked batch of changed paths (never empty).
    Changes(Vec<Change>),
    Notice(Notice),
}

/// Watches a project directory; see the module docs.
pub struct Watcher {
    root: PathBuf,
    opts: Options,
    backend: Box<dyn notify::Watcher + Send>,
    polling: bool,
    tx: mpsc::UnboundedSender<Raw>,
    rx: mpsc::UnboundedReceiver<Raw>,
    defaults: Defaults,
    ignorer: Arc<Ignorer>,
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, FileState>,
    notices: VecDeque<Notice>,
    /// The batch being debounced; kept here so that dropping `next()` loses nothing.
    pending: Option<Pending>,
}

/// A batch being collected: when its last relevant event came, and when it must be
/// delivered at the latest.
struct Pending {
    batch: Batch,
    hard: Instant,
    last: Instant,
}

#[derive(Default)]
struct Batch {
    paths: BTreeSet<PathBuf>,
    rescan: bool,
    limit: Option<String>,
}

impl Watcher {
    /// Walk `root` (absolute, canonical) and start watching its kept directories.
    pub fn start(root: &Path, opts: Options) -> Result<Watcher, WatchError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let defaults = Defaults::new();
        let mut ignorer = Ignorer::new(root);
        ignorer.keep_whole(&opts.whole);
        let ignorer = Arc::new(ignorer);
        let scan = tree::walk_all(root, &defaults, &ignorer);
        let mut notices = VecDeque::new();
        let (backend, polling) = if opts.poll {
            (poll_backend(&tx, &opts)?, true)
        } else {
            match inotify_backend(&tx) {
                Ok(b) => (b, false),
                Err(e) => {
                    let what = limit_of(&e).unwrap_or_else(|| e.to_string());
                    notices.push_back(Notice::Polling { what });
                    (poll_backend(&tx, &opts)?, true)
                }
            }
        };
        let mut w = Watcher {
            root: root.to_path_buf(),
            opts,
            backend,
            polling,
            tx,
            rx,
            ignorer,
            defaults,
            dirs: BTreeSet::new(),
            files: BTreeMap::new(),
            notices,
            pending: None,
        };
        w.adopt(scan)?;
        Ok(w)
    }

    /// Keep `dirs` whole from now on (see [`Options::whole`]): bind sources of a container
    /// made since the start. A change walks the tree again; what the walk finds is known
    /// from then on, not reported.
    pub fn keep_whole(&mut self, dirs: &[PathBuf]) -> Result<(), WatchError> {
        if self.ignorer.whole() == dirs {
            return Ok(());
        }
        let mut ig = (*self.ignorer).clone();
        ig.keep_whole(dirs);
        self.ignorer = Arc::new(ig);
        self.opts.whole = dirs.to_vec();
        self.rescan(&mut BTreeMap::new())
    }

    /// How many directories are watched.
    pub fn watched_dirs(&self) -> usize {
        self.dirs.len()
    }

    pub fn polling(&self) -> bool {
        self.polling
    }

    /// The next batch of changes (or a notice). Waits until something really changed.
    ///
    /// Cancel-safe: the batch being collected lives in the watcher, not in this future, so
    /// a caller that drops it (a `select!` that picked another branch) loses nothing; the
    /// next call goes on collecting where this one stopped.
    pub async fn next(&mut self) -> Result<WatchEvent, WatchError> {
        loop {
            if let Some(n) = self.notices.pop_front() {
                return Ok(WatchEvent::Notice(n));
            }
            if self.pending.is_none() {
                let first = self.rx.recv().await.ok_or(WatchError::Stopped)?;
                let mut batch = Batch::default();
                if !absorb(&self.root, first, &mut batch) {
                    continue;
                }
                let now = Instant::now();
                let max_wait = (self.opts.debounce * 10).max(Duration::from_secs(1));
                self.pending = Some(Pending {
                    batch,
                    hard: now + max_wait,
                    last: now,
                });
            }
            self.debounce().await?;
            // No await from here on: the batch is taken and settled in one go.
            let Some(pending) = self.pending.take() else {
                continue;
            };
            let changes = self.settle(pending.batch)?;
            if !changes.is_empty() {
                return Ok(WatchEvent::Changes(changes));
            }
        }
    }

    /// Keep collecting into the pending batch until `debounce` passed without a relevant
    /// event (at most `max_wait` in all, so a steady trickle cannot starve us). Only
    /// cancel-safe operations are awaited, and every event is absorbed as soon as received.
    async fn debounce(&mut self) -> Result<(), WatchError> {
        loop {
            // What already arrived is absorbed without waiting, and a passed deadline ends
            // the batch at once: a caller that polls this only briefly still makes progress.
            loop {
                match self.rx.try_recv() {
                    Ok(ev) => self.absorb_pending(ev),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        return Err(WatchError::Stopped)
                    }
                }
            }
            let Some(p) = &self.pending else {
                return Ok(());
            };
            let deadline = (p.last + self.opts.debounce).min(p.hard);
            if Instant::now() >= deadline {
                return Ok(());
            }
            tokio::select! {
                ev = self.rx.recv() => {
                    let ev = ev.ok_or(WatchError::Stopped)?;
                    self.absorb_pending(ev);
                }
                () = tokio::time::sleep_until(deadline) => return Ok(()),
            }
        }
    }

    fn absorb_pending(&mut self, ev: Raw) {
        if let Some(p) = &mut self.pending {
            if absorb(&self.root, ev, &mut p.batch) {
                p.last = Instant::now();
            }
        }
    }

    /// Turn a batch of reported paths into real changes.
    fn settle(&mut self, batch: Batch) -> Result<Vec<Change>, WatchError> {
        let mut rescan = batch.rescan;
        if let Some(what) = batch.limit {
            // Events may have been lost while the limit bit: look at everything again.
            rescan |= !self.polling;
            self.switch_to_polling(what)?;
        }
        let mut changes = BTreeMap::new();
        if !rescan {
            for path in &batch.paths {
                rescan |= self.recheck(path, &mut changes)?;
            }
        }
        if rescan {
            self.notices.push_back(Notice::Rescanned);
            self.rescan(&mut changes)?;
        }
        let ignorer = &self.ignorer;
        Ok(changes
            .into_iter()
            .map(|(abs, kind): (PathBuf, ChangeKind)| Change {
                rel: tree::rel_string(&self.root, &abs),
                ignored: ignorer.is_ignored(&abs, false),
                abs,
                kind,
            })
            .collect())
    }

    /// Compare one path with what we knew; returns whether the ignore rules changed.
    fn recheck(
        &mut self,
        path: &Path,
        changes: &mut BTreeMap<PathBuf, ChangeKind>,
    ) -> Result<bool, WatchError> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {
                if self.dirs.contains(path) || self.ignorer.is_ignored(path, true) {
                    return Ok(false);
                }
                // A new directory: files may have landed in it before its watch existed.
                let scan = tree::walk_new(path, &self.ignorer);
                let rules_changed = !scan.ignore_dirs.is_empty();
                for (f, st) in &scan.files {
                    record(&mut self.files, changes, f, *st);
                }
                self.adopt(Scan {
                    files: BTreeMap::new(),
                    ..scan
                })?;
                Ok(rules_changed)
            }
            Ok(meta) => {
                record(&mut self.files, changes, path, FileState::of(&meta));
                Ok(Ignorer::is_ignore_file(path) && changes.contains_key(path))
            }
            Err(_) => {
                let mut rules_changed = Ignorer::is_ignore_file(path);
                if self.files.remove(path).is_some() {
                    changes.insert(path.to_path_buf(), ChangeKind::Removed);
                }
                if self.dirs.contains(path) {
                    rules_changed = true;
                    let gone: Vec<PathBuf> = self
                        .dirs
                        .iter()
                        .filter(|d| d.starts_with(path))
                        .cloned()
                        .collect();
                    for d in gone {
                        let _ = self.backend.unwatch(&d);
                        self.dirs.remove(&d);
                    }
                    let files: Vec<PathBuf> = self
                        .files
                        .keys()
                        .filter(|f| f.starts_with(path))
                        .cloned()
                        .collect();
                    for f in files {
                        self.files.remove(&f);
                        changes.insert(f, ChangeKind::Removed);
                    }
                }
                Ok(rules_changed)
            }
        }
    }

    /// Walk everything again and report the differences (queue overflow, new ignore rules).
    fn rescan(&mut self, changes: &mut BTreeMap<PathBuf, ChangeKind>) -> Result<(), WatchError> {
        let scan = tree::walk_all(&self.root, &self.defaults, &self.ignorer);
        let gone: Vec<PathBuf> = self.dirs.difference(&scan.dirs).cloned().collect();
        for d in gone {
            let _ = self.backend.unwatch(&d);
            self.dirs.remove(&d);
        }
        let old = std::mem::take(&mut self.files);
        for (f, st) in &scan.files {
            match old.get(f) {
                Some(o) if o == st => {}
                Some(_) => {
                    changes.insert(f.clone(), ChangeKind::Modified);
                }
                None => {
                    changes.insert(f.clone(), ChangeKind::Created);
                }
            }
            self.files.insert(f.clone(), *st);
        }
        for (f, st) in old {
            if scan.files.contains_key(&f) {
                continue;
            }
            // Known but not kept by the walk: gone, or now ignored (still tracked if there).
            match std::fs::symlink_metadata(&f) {
                Ok(meta) if !meta.is_dir() => {
                    self.files.insert(f.clone(), st);
                    record(&mut self.files, changes, &f, FileState::of(&meta));
                }
                _ => {
                    changes.insert(f, ChangeKind::Removed);
                }
            }
        }
        self.adopt(Scan {
            files: BTreeMap::new(),
            ..scan
        })
    }

    /// Watch a scan's new directories, remember its files and ignore rules.
    fn adopt(&mut self, scan: Scan) -> Result<(), WatchError> {
        if !scan.ignore_dirs.is_empty() {
            let mut ig = (*self.ignorer).clone();
            for d in &scan.ignore_dirs {
                ig.load_dir(d);
            }
            self.ignorer = Arc::new(ig);
        }
        self.files.extend(scan.files);
        for d in scan.dirs {
            if !self.dirs.contains(&d) {
                self.add_watch(d)?;
            }
        }
        Ok(())
    }

    fn add_watch(&mut self, dir: PathBuf) -> Result<(), WatchError> {
        match self.backend.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.dirs.insert(dir);
                Ok(())
            }
            Err(e) => {
                if let Some(what) = limit_of(&e) {
                    self.dirs.insert(dir);
                    return self.switch_to_polling(what);
                }
                if !matches!(e.kind, ErrorKind::PathNotFound) {
                    tracing::debug!("cannot watch {}: {e}", dir.display());
                }
                Ok(())
            }
        }
    }

    /// Replace inotify by polling every known directory.
    fn switch_to_polling(&mut self, what: String) -> Result<(), WatchError> {
        if self.polling {
            return Ok(());
        }
        let mut backend = poll_backend(&self.tx, &self.opts).map_err(|e| WatchError::Limit {
            what: what.clone(),
            message: e.to_string(),
        })?;
        for d in &self.dirs {
            let _ = backend.watch(d, RecursiveMode::NonRecursive);
        }
        self.backend = backend;
        self.polling = true;
        self.notices.push_back(Notice::Polling { what });
        Ok(())
    }
}

/// Record `st` for `path`, noting a change when it differs from what we knew.
fn record(
    files: &mut BTreeMap<PathBuf, FileState>,
    changes: &mut BTreeMap<PathBuf, ChangeKind>,
    path: &Path,
    st: FileState,
) {
    match files.insert(path.to_path_buf(), st) {
        Some(old) if old == st => {}
        Some(_) => {
            changes
                .entry(path.to_path_buf())
                .or_insert(ChangeKind::Modified);
        }
        None => {
            changes.insert(path.to_path_buf(), ChangeKind::Created);
        }
    }
}

/// Add a raw event to the batch; returns whether it could mean a change.
fn absorb(root: &Path, ev: Raw, batch: &mut Batch) -> bool {
    let ev = match ev {
        Ok(ev) => ev,
        Err(e) => {
            if let Some(what) = limit_of(&e) {
                batch.limit = Some(what);
                return true;
            }
            tracing::debug!("watch error: {e}");
            return false;
        }
    };
    if ev.need_rescan() {
        batch.rescan = true;
        return true;
    }
    // Reads never change anything; everything else is re-checked by stat.
    if let EventKind::Access(a) = ev.kind {
        if !matches!(a, AccessKind::Close(AccessMode::Write)) {
            return false;
        }
    }
    let mut any = false;
    for p in ev.paths {
        match p.strip_prefix(root) {
            Ok(rel) if !Defaults::inside_skipped(rel) => {
                batch.paths.insert(p);
                any = true;
            }
            _ => {}
        }
    }
    any
}

/// Which inotify limit an error means, if it is one.
fn limit_of(e: &notify::Error) -> Option<String> {
    match &e.kind {
        ErrorKind::MaxFilesWatch => Some("fs.inotify.max_user_watches".into()),
        ErrorKind::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
            Some("fs.inotify.max_user_watches".into())
        }
        ErrorKind::Io(io) if io.raw_os_error() == Some(libc::EMFILE) => {
            Some("fs.inotify.max_user_instances".into())
        }
        _ => None,
    }
}

fn handler(tx: &mpsc::UnboundedSender<Raw>) -> impl notify::EventHandler {
    let tx = tx.clone();
    move |ev: Raw| {
        let _ = tx.send(ev);
    }
}

fn inotify_backend(
    tx: &mpsc::UnboundedSender<Raw>,
) -> notify::Result<Box<dyn notify::Watcher + Send>> {
    use notify::Watcher as _;
    let w = notify::RecommendedWatcher::new(handler(tx), notify::Config::default())?;
    Ok(Box::new(w))
}

fn poll_backend(
    tx: &mpsc::UnboundedSender<Raw>,
    opts: &Options,
) -> Result<Box<dyn notify::Watcher + Send>, WatchError> {
    let config = notify::Config::default().with_poll_interval(opts.poll_interval);
    let w = notify::PollWatcher::new(handler(tx), config).map_err(|e| WatchError::Watch {
        path: "(polling)".into(),
        message: e.to_string(),
    })?;
    Ok(Box::new(w))
}

//! Walking a tree to sync: one `read_dir` per directory and one `statx` per entry relative
//! to its open directory (no full path lookups), directories listed on a few threads,
//! siblings in name order and each directory's contents right after it, as
//! [`super::Tree`] keeps them. Ignore files are read only where they exist.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use super::{Entry, Kind, Tree};
/// What is never sent: the watcher's default ignores (VCS metadata, devenv's own state,
/// editors' temp files).
use crate::watch::{SKIPPED_DIRS, TEMP_FILES};

/// Which rules decide what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// The project as git sees it: `.gitignore` and `.ignore` files (and the root's
    /// `.git/info/exclude`), plus the default ignores.
    Project,
    /// Everything a bind mount would show, except the default ignores.
    Everything,
}

const IGNORE_FILES: &[&str] = &[".gitignore", ".ignore"];

/// Walk `root` (not following symlinks). A missing or unreadable root is an empty tree.
/// Directories are listed on a few threads at once (the cost is one `statx` per entry).
pub fn scan(root: &Path, rules: Rules) -> Tree {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    scan_on(root, rules, threads)
}

fn scan_on(root: &Path, rules: Rules, threads: usize) -> Tree {
    let walker = Walker {
        rules,
        temp: temp_globs(),
    };
    let first = Job {
        abs: root.to_path_buf(),
        rel: String::new(),
        top: true,
        ignores: Arc::new(Vec::new()),
    };
    let mut listings = if threads > 1 {
        walk_parallel(&walker, first, threads)
    } else {
        walk_here(&walker, first)
    };
    let mut entries = Vec::new();
    assemble(&mut listings, "", &mut entries);
    Tree { entries }
}

/// One file as a tree of one entry named `name` (a bind mount of a single file); empty when
/// it is not a regular file (gone, or a directory now).
pub fn scan_file(path: &Path, name: &str) -> Tree {
    let entries = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => vec![(name.to_owned(), entry(&meta, Kind::File))],
        _ => Vec::new(),
    };
    Tree { entries }
}

/// A directory to list, with the ignore rules of the directories above it (outermost
/// first).
struct Job {
    abs: PathBuf,
    rel: String,
    top: bool,
    ignores: Arc<Vec<Arc<Gitignore>>>,
}

/// One directory's kept entries, in name order.
type Listing = Vec<(String, Entry)>;

/// List directories one after the other.
fn walk_here(walker: &Walker, first: Job) -> HashMap<String, Listing> {
    let mut listings = HashMap::new();
    let mut jobs = vec![first];
    while let Some(job) = jobs.pop() {
        let (listing, more) = walker.list(&job);
        listings.insert(job.rel, listing);
        jobs.extend(more);
    }
    listings
}

/// List directories on `threads` threads sharing one queue; done when the queue is empty
/// and no thread is listing (which could add more).
fn walk_parallel(walker: &Walker, first: Job, threads: usize) -> HashMap<String, Listing> {
    struct Queue {
        jobs: Vec<Job>,
        busy: usize,
    }
    let queue = Mutex::new(Queue {
        jobs: vec![first],
        busy: 0,
    });
    let wake = Condvar::new();
    let listings = Mutex::new(HashMap::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let job = {
                    let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
                    loop {
                        if let Some(job) = q.jobs.pop() {
                            q.busy += 1;
                            break Some(job);
                        }
                        if q.busy == 0 {
                            break None;
                        }
                        q = wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                    }
                };
                let Some(job) = job else {
                    wake.notify_all();
                    return;
                };
                let (listing, more) = walker.list(&job);
                listings
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(job.rel, listing);
                let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
                q.jobs.extend(more);
                q.busy -= 1;
                wake.notify_all();
            });
        }
    });
    listings
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The listings in tree order: each directory's contents right after it.
fn assemble(listings: &mut HashMap<String, Listing>, dir: &str, out: &mut Vec<(String, Entry)>) {
    let Some(listing) = listings.remove(dir) else {
        return;
    };
    for (rel, e) in listing {
        let is_dir = e.kind == Kind::Dir;
        out.push((rel, e));
        if is_dir {
            let rel = out.last().expect("just pushed").0.clone();
            assemble(listings, &rel, out);
        }
    }
}

struct Walker {
    rules: Rules,
    temp: globset::GlobSet,
}

impl Walker {
    /// The kept entries of one directory, and its subdirectories to list next.
    fn list(&self, job: &Job) -> (Listing, Vec<Job>) {
        let (mut listing, mut more) = (Vec::new(), Vec::new());
        let Ok(read) = std::fs::read_dir(&job.abs) else {
            return (listing, more);
        };
        let mut kids: Vec<(OsString, std::fs::DirEntry)> = read
            .filter_map(Result::ok)
            .map(|k| (k.file_name(), k))
            .collect();
        kids.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut ignores = Arc::clone(&job.ignores);
        if self.rules == Rules::Project {
            if let Some(g) = load_ignores(&job.abs, &kids, job.top) {
                let mut stack = (*ignores).clone();
                stack.push(Arc::new(g));
                ignores = Arc::new(stack);
            }
        }
        for (name, kid) in kids {
            let Ok(ft) = kid.file_type() else {
                continue;
            };
            let is_dir = ft.is_dir();
            if self.default_ignored(&name, is_dir)
                || (!ignores.is_empty() && git_ignored(&ignores, &kid.path(), is_dir))
            {
                continue;
            }
            let Some(name_str) = name.to_str() else {
                // Tar paths and the state file need text: say so rather than leave a hole
                // (a whole directory) in the remote copy without a word.
                tracing::warn!(
                    "not synced: {} (not a UTF-8 name)",
                    job.abs.join(&name).display()
                );
                continue;
            };
            let kind = if is_dir {
                Kind::Dir
            } else if ft.is_symlink() {
                Kind::Symlink
            } else if ft.is_file() {
                Kind::File
            } else {
                continue; // sockets, fifos, devices
            };
            // `DirEntry::metadata` stats relative to the open directory.
            let Ok(meta) = kid.metadata() else {
                continue; // gone since the listing
            };
            let rel = if job.rel.is_empty() {
                name_str.to_owned()
            } else {
                format!("{}/{name_str}", job.rel)
            };
            if is_dir {
                more.push(Job {
                    abs: job.abs.join(&name),
                    rel: rel.clone(),
                    top: false,
                    ignores: Arc::clone(&ignores),
                });
            }
            listing.push((rel, entry(&meta, kind)));
        }
        (listing, more)
    }

    fn default_ignored(&self, name: &OsStr, is_dir: bool) -> bool {
        if is_dir {
            SKIPPED_DIRS.iter().any(|d| name == OsStr::new(d))
                || name
                    .as_encoded_bytes()
                    .starts_with(crate::sync::fetch::STAGING_PREFIX.as_bytes())
        } else {
            self.temp.is_match(Path::new(name))
        }
    }
}

/// The rules of `dir` when it has ignore files.
fn load_ignores(
    dir: &Path,
    kids: &[(OsString, std::fs::DirEntry)],
    top: bool,
) -> Option<Gitignore> {
    let mut files: Vec<PathBuf> = Vec::new();
    if top {
        let exclude = dir.join(".git/info/exclude");
        if exclude.is_file() {
            files.push(exclude);
        }
    }
    // In this order: `.ignore` wins over `.gitignore` (the last matching pattern wins).
    for name in IGNORE_FILES {
        let present = kids
            .iter()
            .any(|(n, k)| n == OsStr::new(name) && k.file_type().is_ok_and(|t| !t.is_dir()));
        if present {
            files.push(dir.join(name));
        }
    }
    if files.is_empty() {
        return None;
    }
    let mut b = GitignoreBuilder::new(dir);
    for f in &files {
        if let Some(e) = b.add(f) {
            tracing::debug!("ignore file {}: {e}", f.display());
        }
    }
    b.build().ok()
}

/// The deepest directory with an opinion decides, as git does.
fn git_ignored(ignores: &[Arc<Gitignore>], path: &Path, is_dir: bool) -> bool {
    for g in ignores.iter().rev() {
        match g.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}

fn entry(meta: &std::fs::Metadata, kind: Kind) -> Entry {
    let dir = kind == Kind::Dir;
    Entry {
        kind,
        // A directory's size and times say nothing; its entries are compared one by one.
        size: if dir { 0 } else { meta.len() },
        mtime: if dir {
            (0, 0)
        } else {
            (meta.mtime(), meta.mtime_nsec())
        },
        ctime: if dir {
            (0, 0)
        } else {
            (meta.ctime(), meta.ctime_nsec())
        },
        ino: meta.ino(),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }
}

fn temp_globs() -> globset::GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for p in TEMP_FILES {
        b.add(globset::Glob::new(p).expect("built-in temp-file pattern"));
    }
    b.build().expect("built-in temp-file patterns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_do_not_change_the_result() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..40 {
            let d = dir.path().join(format!("d{}/e{}", i % 7, i % 3));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("f{i}")), "x").unwrap();
        }
        std::fs::write(dir.path().join("d1/.gitignore"), "e2/\n").unwrap();
        let one = scan_on(dir.path(), Rules::Project, 1);
        assert!(!one.entries.iter().any(|(p, _)| p.starts_with("d1/e2")));
        assert!(one.entries.iter().any(|(p, _)| p.starts_with("d2/e2/")));
        for threads in [2, 3, 8] {
            assert_eq!(scan_on(dir.path(), Rules::Project, threads), one);
        }
        let mut sorted = one.entries.clone();
        sorted.sort_by(|a, b| super::super::path_order(&a.0, &b.0));
        assert_eq!(sorted, one.entries);
    }
}

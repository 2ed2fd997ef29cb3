//! The watched tree: walking it with gitignore rules, deciding whether a path is ignored,
//! and the last known state of every kept file (what a reported path is re-checked against).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{Match, WalkBuilder};

/// Directories never watched: VCS metadata and devenv's own state.
pub(crate) const SKIPPED_DIRS: &[&str] = &[".git", ".devenv"];
/// Editors' swap, backup and temp files (vim, emacs, JetBrains, gedit).
pub(crate) const TEMP_FILES: &[&str] = &[
    ".*.sw?",
    ".*.swpx",
    "*~",
    "4913",
    ".#*",
    "#*#",
    "*___jb_tmp___",
    "*___jb_old___",
    ".goutputstream-*",
];
/// Files whose change alters the ignore rules.
const IGNORE_FILES: &[&str] = &[".gitignore", ".ignore"];

/// What a file looked like when last seen; any difference is a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    mode: u32,
}

impl FileState {
    pub fn of(meta: &std::fs::Metadata) -> FileState {
        FileState {
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }
}

/// Default ignores that apply whatever the project's ignore files say.
#[derive(Debug, Clone)]
pub struct Defaults {
    temp: GlobSet,
}

impl Defaults {
    pub fn new() -> Defaults {
        let mut b = GlobSetBuilder::new();
        for p in TEMP_FILES {
            b.add(Glob::new(p).expect("built-in temp-file pattern"));
        }
        Defaults {
            temp: b.build().expect("built-in temp-file patterns"),
        }
    }

    /// A skipped directory name, or an editor temp file name.
    pub fn ignores_name(&self, name: &OsStr, is_dir: bool) -> bool {
        if is_dir {
            SKIPPED_DIRS.iter().any(|d| name == OsStr::new(d))
        } else {
            self.temp.is_match(Path::new(name))
        }
    }

    /// Whether any component of `rel` is a skipped directory.
    pub fn inside_skipped(rel: &Path) -> bool {
        rel.components().any(|c| match c {
            Component::Normal(n) => SKIPPED_DIRS.iter().any(|d| n == OsStr::new(d)),
            _ => false,
        })
    }
}

/// The project's ignore rules, per directory (`.gitignore`, `.ignore`, and at the root
/// `.git/info/exclude`), applied the way git does: the deepest directory with an opinion
/// decides, and within one directory the last matching pattern wins.
#[derive(Debug, Clone)]
pub struct Ignorer {
    root: PathBuf,
    by_dir: HashMap<PathBuf, Gitignore>,
    defaults: Defaults,
    /// Directories kept whole whatever the ignore files say.
    whole: Vec<PathBuf>,
}

impl Ignorer {
    pub fn new(root: &Path) -> Ignorer {
        let mut ig = Ignorer {
            root: root.to_path_buf(),
            by_dir: HashMap::new(),
            defaults: Defaults::new(),
            whole: Vec::new(),
        };
        ig.load_dir(root);
        ig
    }

    /// (Re)read the ignore files of `dir`.
    pub fn load_dir(&mut self, dir: &Path) {
        let mut b = GitignoreBuilder::new(dir);
        let mut any = false;
        let mut files: Vec<PathBuf> = Vec::new();
        if dir == self.root {
            files.push(dir.join(".git/info/exclude"));
        }
        files.extend(IGNORE_FILES.iter().map(|f| dir.join(f)));
        for f in files.into_iter().filter(|f| f.is_file()) {
            any = true;
            if let Some(e) = b.add(&f) {
                tracing::debug!("ignore file {}: {e}", f.display());
            }
        }
        match b.build() {
            Ok(g) if any => {
                self.by_dir.insert(dir.to_path_buf(), g);
            }
            _ => {
                self.by_dir.remove(dir);
            }
        }
    }

    pub fn is_ignore_file(path: &Path) -> bool {
        path.file_name()
            .is_some_and(|n| IGNORE_FILES.iter().any(|f| n == OsStr::new(f)))
    }

    /// Keep `dirs` (absolute, below the root) and everything in them, except the default
    /// ignores.
    pub fn keep_whole(&mut self, dirs: &[PathBuf]) {
        self.whole = dirs.to_vec();
    }

    /// The directories kept whole.
    pub fn whole(&self) -> &[PathBuf] {
        &self.whole
    }

    /// Whether `path` (absolute, below the root) is ignored. Its parent directories are
    /// assumed kept (they are watched).
    pub fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        if let Some(name) = path.file_name() {
            if self.defaults.ignores_name(name, is_dir) {
                return true;
            }
        }
        if self.whole.iter().any(|w| path.starts_with(w)) {
            return false;
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if let Some(g) = self.by_dir.get(d) {
                match g.matched(path, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            if d == self.root {
                break;
            }
            dir = d.parent();
        }
        false
    }
}

/// The result of walking (part of) the tree.
#[derive(Debug, Default)]
pub struct Scan {
    /// Kept directories, the walk's start included.
    pub dirs: BTreeSet<PathBuf>,
    /// Kept files (and symlinks) with their state.
    pub files: BTreeMap<PathBuf, FileState>,
    /// Directories holding an ignore file.
    pub ignore_dirs: BTreeSet<PathBuf>,
}

/// Walk the whole project with its ignore files (the `ignore` crate's walker).
pub fn walk_root(root: &Path, defaults: &Defaults) -> Scan {
    let defaults = defaults.clone();
    let mut b = WalkBuilder::new(root);
    b.hidden(false)
        .parents(false)
        .git_global(false)
        .git_ignore(true)
        .git_exclude(true)
        .ignore(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            e.depth() == 0 || !defaults.ignores_name(e.file_name(), is_dir)
        });
    collect(&b)
}

/// [`walk_root`], plus the directories `ignorer` keeps whole.
pub fn walk_all(root: &Path, defaults: &Defaults, ignorer: &Arc<Ignorer>) -> Scan {
    let mut scan = walk_root(root, defaults);
    for dir in ignorer.whole() {
        if dir.is_dir() {
            let more = walk_new(dir, ignorer);
            scan.dirs.extend(more.dirs);
            scan.files.extend(more.files);
            scan.ignore_dirs.extend(more.ignore_dirs);
        }
    }
    scan
}

/// Walk a directory that appeared after the start, deciding with `ignorer`.
pub fn walk_new(dir: &Path, ignorer: &Arc<Ignorer>) -> Scan {
    let ig = Arc::clone(ignorer);
    let mut b = WalkBuilder::new(dir);
    b.standard_filters(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            e.depth() == 0 || !ig.is_ignored(e.path(), is_dir)
        });
    collect(&b)
}

fn collect(b: &WalkBuilder) -> Scan {
    let mut scan = Scan::default();
    for entry in b.build().filter_map(Result::ok) {
        let Some(ft) = entry.file_type() else {
            continue;
        };
        let path = entry.path().to_path_buf();
        if ft.is_dir() {
            scan.dirs.insert(path);
            continue;
        }
        if Ignorer::is_ignore_file(&path) {
            if let Some(parent) = path.parent() {
                scan.ignore_dirs.insert(parent.to_path_buf());
            }
        }
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            scan.files.insert(path, FileState::of(&meta));
        }
    }
    scan
}

/// `a/b/c` relative to `root`, `/`-separated.
pub fn rel_string(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ignores() {
        let d = Defaults::new();
        for temp in [
            ".a.rs.swp",
            ".a.rs.swx",
            "a.rs~",
            "4913",
            ".#a.rs",
            "#a.rs#",
            "a.rs___jb_tmp___",
        ] {
            assert!(d.ignores_name(OsStr::new(temp), false), "{temp}");
        }
        for kept in ["a.rs", ".gitignore", "swp", "4914", ".env"] {
            assert!(!d.ignores_name(OsStr::new(kept), false), "{kept}");
        }
        assert!(d.ignores_name(OsStr::new(".git"), true));
        assert!(d.ignores_name(OsStr::new(".devenv"), true));
        assert!(!d.ignores_name(OsStr::new(".github"), true));
        assert!(Defaults::inside_skipped(Path::new("a/.git/index")));
    }

    #[test]
    fn walk_skips_ignored_directories_and_nested_rules_apply() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let w = |rel: &str, s: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w(".gitignore", "target/\n*.log\n");
        w("src/main.rs", "");
        w("src/.gitignore", "gen/\n!keep.log\n");
        w("src/gen/x.rs", "");
        w("src/keep.log", "");
        w("a.log", "");
        w("target/debug/x", "");
        w(".git/HEAD", "");
        let scan = walk_root(&root, &Defaults::new());
        let dirs: Vec<String> = scan.dirs.iter().map(|d| rel_string(&root, d)).collect();
        assert_eq!(dirs, ["", "src"]);
        let files: Vec<String> = scan.files.keys().map(|f| rel_string(&root, f)).collect();
        assert_eq!(
            files,
            [
                ".gitignore",
                "src/.gitignore",
                "src/keep.log",
                "src/main.rs"
            ]
        );
        let mut ig = Ignorer::new(&root);
        for d in &scan.ignore_dirs {
            ig.load_dir(d);
        }
        assert!(ig.is_ignored(&root.join("target"), true));
        assert!(ig.is_ignored(&root.join("b.log"), false));
        assert!(!ig.is_ignored(&root.join("src/keep.log"), false));
        assert!(ig.is_ignored(&root.join("src/gen"), true));
        assert!(!ig.is_ignored(&root.join("src/new"), true));
        assert!(ig.is_ignored(&root.join("src/.x.swp"), false));
        // A new directory is walked with the same rules.
        w("src/new/deep/a.rs", "");
        w("src/new/c.log", "");
        let scan = walk_new(&root.join("src/new"), &Arc::new(ig));
        let files: Vec<String> = scan.files.keys().map(|f| rel_string(&root, f)).collect();
        assert_eq!(files, ["src/new/deep/a.rs"]);
        assert_eq!(scan.dirs.len(), 2);
    }

    #[test]
    fn directories_kept_whole_ignore_the_ignore_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let w = |rel: &str, content: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        };
        w(".gitignore", "data/\n*.log\n");
        w("data/a.log", "");
        w("data/sub/b.txt", "");
        w("data/.b.txt.swp", "");
        w("other/c.log", "");
        let mut ig = Ignorer::new(&root);
        ig.keep_whole(&[root.join("data")]);
        let ig = Arc::new(ig);
        let scan = walk_all(&root, &Defaults::new(), &ig);
        let files: Vec<String> = scan.files.keys().map(|f| rel_string(&root, f)).collect();
        assert_eq!(files, [".gitignore", "data/a.log", "data/sub/b.txt"]);
        assert!(!ig.is_ignored(&root.join("data/new.log"), false));
        assert!(ig.is_ignored(&root.join("other/new.log"), false));
        assert!(ig.is_ignored(&root.join("data/.x.swp"), false));
    }
}

//! What a batch of changes means for the environment: the manifest, the lock, a step's
//! declared inputs (all of which move the image hash), or the paths of a `[[watch]]` rule.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::tree::rel_string;
use super::{Change, WatchError};
use crate::manifest::Manifest;

/// Maps changed paths to their meaning for one manifest.
#[derive(Debug, Clone)]
pub struct Classifier {
    manifest: String,
    lock: String,
    /// Other files the environment is made from: the base rootfs tarball, the env_file.
    sources: Vec<String>,
    steps: Vec<GlobSet>,
    rules: Vec<GlobSet>,
}

/// The meaning of a batch: every changed path counted where it belongs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified {
    pub manifest: bool,
    pub lock: bool,
    /// Changed base rootfs tarball or env_file.
    pub sources: Vec<String>,
    /// Step index → its changed inputs.
    pub steps: BTreeMap<usize, Vec<String>>,
    /// `[[watch]]` rule index → its changed paths (gitignored paths never count).
    pub rules: BTreeMap<usize, Vec<String>>,
    /// Changed paths that mean nothing to devenv.
    pub unmatched: Vec<String>,
}

impl Classified {
    /// Whether the image hash may have moved.
    pub fn affects_image(&self) -> bool {
        self.manifest || self.lock || !self.sources.is_empty() || !self.steps.is_empty()
    }
}

impl Classifier {
    pub fn new(manifest: &Manifest) -> Result<Classifier, WatchError> {
        let steps = manifest
            .steps
            .iter()
            .map(|s| match &s.ansible {
                // A playbook's key covers more than `inputs`: what it can read.
                Some(a) => globs(&crate::fingerprint::ansible::patterns(&manifest.root, s, a)),
                None => globs(&s.inputs),
            })
            .collect::<Result<_, _>>()?;
        let rules = manifest
            .watch
            .iter()
            .map(|r| globs(&r.paths))
            .collect::<Result<_, _>>()?;
        Ok(Classifier {
            manifest: rel_string(&manifest.root, &manifest.path),
            lock: rel_string(&manifest.root, &crate::manifest::lock_path(&manifest.path)),
            sources: sources(manifest),
            steps,
            rules,
        })
    }

    pub fn classify(&self, changes: &[Change]) -> Classified {
        let mut out = Classified::default();
        for c in changes {
            let mut matched = false;
            if c.rel == self.manifest {
                out.manifest = true;
                matched = true;
            }
            if c.rel == self.lock {
                out.lock = true;
                matched = true;
            }
            if self.sources.contains(&c.rel) {
                out.sources.push(c.rel.clone());
                matched = true;
            }
            for (i, set) in self.steps.iter().enumerate() {
                if set.is_match(&c.rel) {
                    out.steps.entry(i).or_default().push(c.rel.clone());
                    matched = true;
                }
            }
            if !c.ignored {
                for (i, set) in self.rules.iter().enumerate() {
                    if set.is_match(&c.rel) {
                        out.rules.entry(i).or_default().push(c.rel.clone());
                        matched = true;
                    }
                }
            }
            if !matched {
                out.unmatched.push(c.rel.clone());
            }
        }
        out
    }
}

/// The rootfs tarball and the env_file, as project-relative paths.
fn sources(manifest: &Manifest) -> Vec<String> {
    let rootfs = match &manifest.base.source {
        crate::manifest::BaseSource::Rootfs(p) => Some(p.clone()),
        crate::manifest::BaseSource::Image(_) => None,
    };
    rootfs
        .into_iter()
        .chain(manifest.container.env_file.clone())
        .map(|p| p.trim_start_matches("./").to_owned())
        .collect()
}

/// Globs relative to the project root; a literal path also means everything below it.
fn globs(patterns: &[String]) -> Result<GlobSet, WatchError> {
    let mut b = GlobSetBuilder::new();
    for raw in patterns {
        let p = raw.trim_start_matches("./").trim_end_matches('/');
        let mut add = |p: &str| {
            GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| {
                    b.add(g);
                })
                .map_err(|e| WatchError::Pattern {
                    pattern: raw.clone(),
                    message: e.kind().to_string(),
                })
        };
        add(p)?;
        if !p.contains(['*', '?', '[', '{']) {
            add(&format!("{p}/**"))?;
        }
    }
    b.build().map_err(|e| WatchError::Pattern {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::manifest::parse_str;
    use crate::watch::ChangeKind;

    fn manifest(body: &str) -> Manifest {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::write(root.join("base.tar"), b"").unwrap();
        let src = format!("name = \"t\"\n[base]\nrootfs = \"base.tar\"\n{body}");
        parse_str(&src, &root.join("devenv.toml"), &root).unwrap()
    }

    fn change(rel: &str, ignored: bool) -> Change {
        Change {
            rel: rel.to_owned(),
            abs: PathBuf::from("/p").join(rel),
            kind: ChangeKind::Modified,
            ignored,
        }
    }

    #[test]
    fn classifies_manifest_lock_inputs_and_rules() {
        let m = manifest(
            "[[step]]\nrun = \"true\"\n[[step]]\ninputs = [\"Cargo.toml\", \"scripts/*.sh\", \"vendor\"]\nrun = \"x\"\n\
             [[watch]]\npaths = [\"src/**/*.rs\"]\nrun = \"cargo check\"\n\
             [[watch]]\npaths = [\"package.json\"]\naction = \"rebuild\"\n",
        );
        let c = Classifier::new(&m).unwrap();
        let got = c.classify(&[
            change("devenv.toml", false),
            change("devenv.lock", false),
            change("scripts/a.sh", false),
            change("scripts/sub/a.sh", false),
            change("vendor/x/y.c", true),
            change("src/main.rs", false),
            change("src/a/b.rs", false),
            change("src/gen.rs", true),
            change("package.json", false),
            change("README.md", false),
        ]);
        assert!(got.manifest && got.lock && got.affects_image());
        assert_eq!(
            got.steps,
            BTreeMap::from([(
                1,
                vec!["scripts/a.sh".to_owned(), "vendor/x/y.c".to_owned()]
            )])
        );
        assert_eq!(
            got.rules,
            BTreeMap::from([
                (0, vec!["src/main.rs".to_owned(), "src/a/b.rs".to_owned()]),
                (1, vec!["package.json".to_owned()]),
            ])
        );
        assert_eq!(
            got.unmatched,
            ["scripts/sub/a.sh", "src/gen.rs", "README.md"]
        );
    }

    #[test]
    fn a_playbook_step_watches_what_its_key_covers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("base.tar"), b"").unwrap();
        std::fs::create_dir_all(root.join("provision/roles")).unwrap();
        std::fs::write(root.join("provision/site.yml"), "").unwrap();
        let src = "name = \"t\"\n[base]\nrootfs = \"base.tar\"\n\
                   [[step]]\nansible = \"provision/site.yml\"\ninputs = [\"data/seed.yml\"]\n";
        let m = parse_str(src, &root.join("devenv.toml"), root).unwrap();
        let got = Classifier::new(&m).unwrap().classify(&[
            change("provision/roles/r/templates/t.j2", false),
            change("data/seed.yml", false),
            change("src/main.c", false),
        ]);
        assert_eq!(
            got.steps,
            BTreeMap::from([(
                0,
                vec![
                    "provision/roles/r/templates/t.j2".to_owned(),
                    "data/seed.yml".to_owned()
                ]
            )])
        );
        assert_eq!(got.unmatched, ["src/main.c"]);
    }

    #[test]
    fn nothing_relevant_affects_nothing() {
        let m = manifest("[[step]]\nrun = \"true\"\n");
        let got = Classifier::new(&m)
            .unwrap()
            .classify(&[change("notes.txt", false)]);
        assert!(!got.affects_image());
        assert!(got.rules.is_empty());
    }
}

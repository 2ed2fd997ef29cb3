//! The record of this project's last build, kept in the state directory, so `-v` can say
//! why a step is rebuilt (which field or input file differs).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fingerprint::Plan;
use crate::manifest::{Manifest, Step};

const FILE: &str = "last-build.json";
/// The records by image hash ([`BuildRecord::save_for`]).
const BY_HASH: &str = "images";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildRecord {
    base_key: String,
    steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepRecord {
    #[serde(default)]
    name: String,
    key: String,
    run: String,
    user: String,
    env: BTreeMap<String, String>,
    secrets: Vec<String>,
    inputs: BTreeMap<String, String>,
    /// An `ansible` step: its playbook, vars, tags and controller identity (JSON).
    #[serde(default)]
    ansible: String,
}

/// An `ansible` step's fields besides its files, as one comparable text.
fn ansible_record(step: &Step, controller: Option<&str>) -> String {
    step.ansible.as_ref().map_or_else(String::new, |a| {
        serde_json::json!([a.playbook, a.vars, a.tags, controller]).to_string()
    })
}

impl BuildRecord {
    pub fn new(manifest: &Manifest, plan: &Plan) -> BuildRecord {
        let steps = manifest
            .steps
            .iter()
            .zip(&plan.steps)
            .map(|(s, p)| StepRecord {
                name: s.name.clone(),
                key: p.key.clone(),
                run: s.run.clone(),
                user: s.user.clone(),
                env: s.env.clone(),
                secrets: s.secrets.clone(),
                ansible: ansible_record(s, p.controller.as_deref()),
                inputs: p
                    .inputs
                    .iter()
                    .map(|f| (f.rel.clone(), format!("{}:{}", f.kind.tag(), f.digest)))
                    .collect(),
            })
            .collect();
        BuildRecord {
            base_key: plan.base_key.clone(),
            steps,
        }
    }

    pub fn load(dir: &Path) -> Option<BuildRecord> {
        let bytes = std::fs::read(dir.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Best effort: the record only feeds explanations.
    pub fn save(&self, dir: &Path) {
        if std::fs::create_dir_all(dir).is_ok() {
            if let Ok(bytes) = serde_json::to_vec_pretty(self) {
                let _ = std::fs::write(dir.join(FILE), bytes);
            }
        }
    }

    /// Keep the record under the image `hash` too (`.devenv/images/<hash>.json`), so a
    /// container made from an older image can be told what changed since. Best effort.
    pub fn save_for(&self, dir: &Path, hash: &str) {
        let dir = dir.join(BY_HASH);
        if std::fs::create_dir_all(&dir).is_ok() {
            if let Ok(bytes) = serde_json::to_vec(self) {
                let _ = std::fs::write(dir.join(format!("{hash}.json")), bytes);
            }
        }
    }

    fn load_for(dir: &Path, hash: &str) -> Option<BuildRecord> {
        let bytes = std::fs::read(dir.join(BY_HASH).join(format!("{hash}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// What differs between the images `old` and `new` of this project, in words (`step
    /// `deps`: input requirements.txt changed`); `None` when either is unknown here.
    pub fn what_changed(dir: &Path, old: &str, new: &str) -> Option<String> {
        let (old, new) = (Self::load_for(dir, old)?, Self::load_for(dir, new)?);
        Some(old.changes_to(&new))
    }

    fn changes_to(&self, new: &BuildRecord) -> String {
        if self.base_key != new.base_key {
            return "the base, `[env]` or `shell.workdir` changed".into();
        }
        let mut out = Vec::new();
        for (i, step) in new.steps.iter().enumerate() {
            let Some(old) = self.steps.get(i) else {
                out.push(format!("step `{}` added", step.name));
                continue;
            };
            if old.key == step.key {
                continue;
            }
            let mut reasons = Vec::new();
            if old.name != step.name {
                reasons.push(format!("replaces step `{}`", old.name));
            }
            reasons.extend(record_changes(old, step));
            if reasons.is_empty() {
                // Only its parent moved: the first changed step says why.
                continue;
            }
            out.push(format!("step `{}`: {}", step.name, reasons.join(", ")));
        }
        for old in self.steps.iter().skip(new.steps.len()) {
            out.push(format!("step `{}` removed", old.name));
        }
        if out.is_empty() {
            return "the steps changed".into();
        }
        out.join("; ")
    }

    /// Why step `index` needs building, compared with the last build of this project.
    pub fn explain(&self, index: usize, manifest: &Manifest, plan: &Plan) -> String {
        let planned = &plan.steps[index];
        let Some(old) = self.steps.get(index) else {
            return "new step".into();
        };
        if old.key == planned.key {
            return "same key as the last build, but its image is gone".into();
        }
        let step = &manifest.steps[index];
        let mut reasons = field_changes(old, step);
        if old.ansible != ansible_record(step, planned.controller.as_deref()) {
            reasons.push("`ansible` (playbook, vars, tags or controller) changed".to_owned());
        }
        let now: BTreeMap<String, String> = planned
            .inputs
            .iter()
            .map(|f| (f.rel.clone(), format!("{}:{}", f.kind.tag(), f.digest)))
            .collect();
        for (path, digest) in &now {
            match old.inputs.get(path) {
                None => reasons.push(format!("input {path} added")),
                Some(d) if d != digest => reasons.push(format!("input {path} changed")),
                Some(_) => {}
            }
        }
        for path in old.inputs.keys().filter(|p| !now.contains_key(*p)) {
            reasons.push(format!("input {path} removed"));
        }
        if reasons.is_empty() {
            return if self.base_key == plan.base_key {
                "an earlier step changed".into()
            } else {
                "the base, `[env]` or `shell.workdir` changed".into()
            };
        }
        reasons.join(", ")
    }
}

/// What differs between two records of a step: its fields and its input files.
fn record_changes(old: &StepRecord, new: &StepRecord) -> Vec<String> {
    let mut reasons = Vec::new();
    let fields = [
        ("`run`", old.run != new.run),
        ("`user`", old.user != new.user),
        ("`env`", old.env != new.env),
        ("`secrets`", old.secrets != new.secrets),
        (
            "`ansible` (playbook, vars, tags or controller)",
            old.ansible != new.ansible,
        ),
    ];
    for (name, changed) in fields {
        if changed {
            reasons.push(format!("{name} changed"));
        }
    }
    for (path, digest) in &new.inputs {
        match old.inputs.get(path) {
            None => reasons.push(format!("input {path} added")),
            Some(d) if d != digest => reasons.push(format!("input {path} changed")),
            Some(_) => {}
        }
    }
    for path in old.inputs.keys().filter(|p| !new.inputs.contains_key(*p)) {
        reasons.push(format!("input {path} removed"));
    }
    reasons
}

fn field_changes(old: &StepRecord, step: &Step) -> Vec<String> {
    let mut reasons = Vec::new();
    if old.run != step.run {
        reasons.push("`run` changed".to_owned());
    }
    if old.user != step.user {
        reasons.push("`user` changed".to_owned());
    }
    if old.env != step.env {
        reasons.push("`env` changed".to_owned());
    }
    if old.secrets != step.secrets {
        reasons.push("`secrets` changed".to_owned());
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, key: &str, run: &str, inputs: &[(&str, &str)]) -> StepRecord {
        StepRecord {
            name: name.into(),
            key: key.into(),
            run: run.into(),
            user: String::new(),
            env: BTreeMap::new(),
            secrets: Vec::new(),
            ansible: String::new(),
            inputs: inputs
                .iter()
                .map(|(p, d)| ((*p).to_owned(), (*d).to_owned()))
                .collect(),
        }
    }

    fn record(steps: Vec<StepRecord>) -> BuildRecord {
        BuildRecord {
            base_key: "b".into(),
            steps,
        }
    }

    #[test]
    fn the_first_changed_step_says_why_and_its_children_stay_quiet() {
        let old = record(vec![
            step(
                "deps",
                "k1",
                "pip install",
                &[("requirements.txt", "file:a")],
            ),
            step("tools", "k2", "make", &[]),
        ]);
        let new = record(vec![
            step(
                "deps",
                "k1b",
                "pip install",
                &[("requirements.txt", "file:b")],
            ),
            step("tools", "k2b", "make", &[]),
            step("more", "k3", "true", &[]),
        ]);
        assert_eq!(
            old.changes_to(&new),
            "step `deps`: input requirements.txt changed; step `more` added"
        );
        let edited = record(vec![
            step(
                "deps",
                "k1",
                "pip install",
                &[("requirements.txt", "file:a")],
            ),
            step("tools", "k2c", "make all", &[]),
        ]);
        assert_eq!(old.changes_to(&edited), "step `tools`: `run` changed");
        let fewer = record(vec![old.steps[0].clone()]);
        assert_eq!(old.changes_to(&fewer), "step `tools` removed");
        let rebased = BuildRecord {
            base_key: "other".into(),
            ..old.clone()
        };
        assert!(old.changes_to(&rebased).contains("the base"));
    }

    #[test]
    fn records_are_kept_by_hash_and_compared() {
        let dir = tempfile::tempdir().unwrap();
        let old = record(vec![step("deps", "k1", "a", &[])]);
        let new = record(vec![step("deps", "k2", "b", &[])]);
        old.save_for(dir.path(), "h1");
        new.save_for(dir.path(), "h2");
        assert_eq!(
            BuildRecord::what_changed(dir.path(), "h1", "h2").as_deref(),
            Some("step `deps`: `run` changed")
        );
        assert_eq!(BuildRecord::what_changed(dir.path(), "h1", "h3"), None);
    }
}

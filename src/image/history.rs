//! The record of this project's last build, kept in the state directory, so `-v` can say
//! why a step is rebuilt (which field or input file differs).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fingerprint::Plan;
use crate::manifest::{Manifest, Step};

const FILE: &str = "last-build.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildRecord {
    base_key: String,
    steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepRecord {
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

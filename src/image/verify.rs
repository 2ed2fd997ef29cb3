//! Proving that the local environment is the one the manifest, lock and inputs describe.
//!
//! Every layer devenv commits carries, in its labels, the image id of the image it was
//! committed on (`dev.devenv.parent-id`) and what went into its key (`dev.devenv.inputs`).
//! Labels are part of the image config and the image id is the digest of that config, so
//! the id of the last layer pins the whole chain. A retag cannot fake it: another image
//! under a layer's name has other labels, or (a `docker commit` over it, which copies the
//! labels) one more history entry whose parent is the real layer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::base::ROOTFS_REPO;
use super::{image_name, layer_ref, BuildError, Reporter};
use crate::engine::{labels, Engine, ImageDetail};
use crate::fingerprint::{sha256_hex, Plan, PlannedStep};
use crate::manifest::lock::{LockEntry, LockKind};
use crate::manifest::Manifest;

/// History entries of images that are not local carry this id.
const MISSING: &str = "<missing>";

/// The most input entries a layer label lists; beyond that only their count is kept.
const MAX_LISTED_INPUTS: usize = 2000;

/// What went into one layer's key, without secret values or env values (only digests of
/// those), so it can sit in a label and in a pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInputs {
    /// The step's name; `None` for the config layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The locked base digest (config layer only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The platform the chain was built for (`linux/arm64`; config layer only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// First 16 hex of the sha256 of `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Name → first 16 hex of the value's sha256 (`[env]` for the config layer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Relative path → `kind:sha256`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// Set when there were too many inputs to list: their number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_omitted: Option<usize>,
    /// An `ansible` step: the playbook, its vars (digests), tags and controller identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ansible: Option<AnsibleInputs>,
}

/// What of an `ansible` step went into its key besides its input files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsibleInputs {
    pub playbook: String,
    /// Name → first 16 hex of the value's sha256.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub controller: String,
}

fn env_digests(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| (k.clone(), sha256_hex(v.as_bytes())[..16].to_owned()))
        .collect()
}

impl LayerInputs {
    /// The config layer's inputs: base digest, `[env]`, workdir.
    pub fn config(manifest: &Manifest, base_digest: &str) -> LayerInputs {
        LayerInputs {
            base: Some(base_digest.to_owned()),
            platform: manifest.base.platform.as_ref().map(ToString::to_string),
            workdir: Some(manifest.shell.workdir.clone()),
            env: env_digests(&manifest.env),
            ..LayerInputs::default()
        }
    }

    /// Step `index`'s inputs.
    pub fn step(manifest: &Manifest, index: usize, planned: &PlannedStep) -> LayerInputs {
        let step = &manifest.steps[index];
        let mut secrets = step.secrets.clone();
        secrets.sort();
        let mut out = LayerInputs {
            step: Some(step.name.clone()),
            // A digest only: the command text may name what a secret step uses.
            run: Some(sha256_hex(step.run.as_bytes())[..16].to_owned()),
            user: Some(step.user.clone()),
            env: env_digests(&step.env),
            secrets,
            ansible: step.ansible.as_ref().map(|a| AnsibleInputs {
                playbook: a.playbook.clone(),
                vars: a
                    .vars
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            sha256_hex(v.to_string().as_bytes())[..16].to_owned(),
                        )
                    })
                    .collect(),
                tags: a.tags.clone(),
                controller: planned.controller.clone().unwrap_or_default(),
            }),
            ..LayerInputs::default()
        };
        if planned.inputs.len() > MAX_LISTED_INPUTS {
            out.inputs_omitted = Some(planned.inputs.len());
        } else {
            out.inputs = planned
                .inputs
                .iter()
                .map(|f| (f.rel.clone(), format!("{}:{}", f.kind.tag(), f.digest)))
                .collect();
        }
        out
    }

    /// Every layer's inputs, config layer first.
    pub fn chain(manifest: &Manifest, plan: &Plan, base_digest: &str) -> Vec<LayerInputs> {
        let config = LayerInputs {
            platform: Some(plan.platform.to_string()),
            ..LayerInputs::config(manifest, base_digest)
        };
        std::iter::once(config)
            .chain(
                plan.steps
                    .iter()
                    .enumerate()
                    .map(|(i, p)| LayerInputs::step(manifest, i, p)),
            )
            .collect()
    }

    /// Read from a layer's label.
    pub fn from_labels(labels: &std::collections::HashMap<String, String>) -> Option<Self> {
        serde_json::from_str(labels.get(labels::INPUTS)?).ok()
    }

    /// The labels a committed layer gets on top of `layer_labels`.
    pub fn record_labels(&self, parent_id: &str) -> [(String, String); 2] {
        [
            (labels::PARENT_ID.to_owned(), parent_id.to_owned()),
            (
                labels::INPUTS.to_owned(),
                serde_json::to_string(self).unwrap_or_default(),
            ),
        ]
    }
}

/// The reference under which the locked base is found locally for `platform`: a registry
/// base by the platform's own manifest digest (the engine keeps one image per name, so the
/// index digest names whichever platform was pulled last).
pub fn base_reference(entry: &LockEntry, platform: &crate::manifest::Platform) -> String {
    match entry.kind {
        LockKind::Registry => {
            let pinned = entry
                .image
                .clone()
                .unwrap_or_else(|| format!("{}@{}", entry.reference, entry.digest));
            match entry.platforms.get(&platform.to_string()) {
                Some(d) if *d != entry.digest => {
                    let name = pinned.split_once('@').map_or(pinned.as_str(), |(n, _)| n);
                    format!("{name}@{d}")
                }
                _ => pinned,
            }
        }
        LockKind::Local => entry.digest.clone(),
        LockKind::Rootfs => format!(
            "{ROOTFS_REPO}:{}",
            entry.digest.trim_start_matches("sha256:")
        ),
    }
}

/// One layer of the chain as verification found it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerState {
    pub key: String,
    /// `config` or the step's name.
    pub step: String,
    pub reference: String,
    /// Its image id, when present.
    pub id: Option<String>,
    /// How many filesystem layers (diff ids) the image has.
    pub layers: usize,
    pub ok: bool,
}

/// The first broken link.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    /// The image reference at fault.
    pub reference: String,
    /// `config`, a step name, or `final tag`.
    pub step: String,
    pub reason: String,
    /// Whether `devenv build` repairs it without running a step (a retagged final tag).
    pub restorable: bool,
}

/// The outcome of checking the local chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub hash: String,
    pub image: String,
    /// The final image's id when the chain holds.
    pub id: Option<String>,
    pub layers: Vec<LayerState>,
    pub broken: Option<Broken>,
    /// Checks that could not be made (base image not present locally).
    pub notes: Vec<String>,
}

impl ChainReport {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// A layer, its history length and where it sits, as the walk carries it to its child.
struct Known {
    detail: ImageDetail,
    history_len: usize,
}

/// Check every layer of the plan's chain and the final tag, stopping at the first broken
/// link.
pub async fn verify_chain(
    engine: &Engine,
    manifest: &Manifest,
    plan: &Plan,
    lock: &LockEntry,
) -> Result<ChainReport, BuildError> {
    let hash = plan.hash().to_owned();
    let image = image_name(manifest, &hash);
    let mut report = ChainReport {
        hash: hash.clone(),
        image: image.clone(),
        id: None,
        layers: Vec::new(),
        broken: None,
        notes: Vec::new(),
    };
    let base_ref = base_reference(lock, &plan.platform);
    let mut parent: Option<Known> = None;
    if let Some(detail) = engine.image_detail(&base_ref).await? {
        let history_len = engine.image_history(&detail.id).await?.len();
        parent = Some(Known {
            detail,
            history_len,
        });
    } else {
        report.notes.push(format!(
            "the base image {base_ref} is not present, so the config layer's link to it was not \
             checked"
        ));
    }
    let names = std::iter::once("config".to_owned())
        .chain(manifest.steps.iter().map(|s| format!("step `{}`", s.name)));
    let mut parent_key = String::new();
    for (key, step) in plan.keys().zip(names) {
        let reference = layer_ref(key);
        let state = LayerState {
            key: key.to_owned(),
            step: step.clone(),
            reference: reference.clone(),
            id: None,
            layers: 0,
            ok: false,
        };
        report.layers.push(state);
        let broken = |reason: String| Broken {
            reference: reference.clone(),
            step: step.clone(),
            reason,
            restorable: false,
        };
        let Some(detail) = engine.image_detail(&reference).await? else {
            report.broken = Some(broken("not present (not built or removed)".into()));
            return Ok(report);
        };
        let state = report.layers.last_mut().expect("pushed");
        state.id = Some(detail.id.clone());
        state.layers = detail.layers.len();
        let history = engine.image_history(&detail.id).await?;
        if let Err(reason) = check_layer(key, &parent_key, &detail, &history, parent.as_ref()) {
            report.broken = Some(broken(reason));
            return Ok(report);
        }
        report.layers.last_mut().expect("pushed").ok = true;
        parent = Some(Known {
            detail,
            history_len: history.len(),
        });
        key.clone_into(&mut parent_key);
    }
    let top = parent
        .expect("the chain has at least the config layer")
        .detail;
    match engine.image_detail(&image).await? {
        None => {
            report.broken = Some(Broken {
                reference: image,
                step: "final tag".into(),
                reason: "not present".into(),
                restorable: true,
            });
        }
        Some(fin) if fin.id != top.id => {
            report.broken = Some(Broken {
                reference: image,
                step: "final tag".into(),
                reason: format!(
                    "retagged: it is {}, not the image devenv built ({} = {})",
                    short_id(&fin.id),
                    layer_ref(&hash),
                    short_id(&top.id)
                ),
                restorable: true,
            });
        }
        Some(_) => report.id = Some(top.id),
    }
    Ok(report)
}

/// Whether `detail` is the layer devenv committed for `key` on `parent_key`.
fn check_layer(
    key: &str,
    parent_key: &str,
    detail: &ImageDetail,
    history: &[crate::engine::HistoryEntry],
    parent: Option<&Known>,
) -> Result<(), String> {
    let label = |k: &str| detail.labels.get(k).map_or("", String::as_str);
    if label(labels::KEY) != key {
        return Err(format!(
            "another image is tagged under this key (its labels name {})",
            if label(labels::KEY).is_empty() {
                "no devenv key".to_owned()
            } else {
                format!("key {}", super::head(label(labels::KEY), 12))
            }
        ));
    }
    if label(labels::PARENT) != parent_key {
        return Err(format!(
            "its labels name the parent {}, not {}",
            or_none(label(labels::PARENT)),
            or_none(parent_key)
        ));
    }
    let recorded = label(labels::PARENT_ID);
    if recorded.is_empty() {
        return Err(
            "committed by a devenv that did not record layer ids, so it cannot be verified \
             (remove it with `docker rmi` and build again)"
                .into(),
        );
    }
    // A commit over the layer copies its labels, but its history names the real layer
    // as parent and is one entry longer.
    if let Some(local_parent) = history.get(1).map(|h| h.id.as_str()) {
        if local_parent != MISSING && local_parent != recorded {
            return Err(format!(
                "retagged: it is a commit on top of {}, not the image devenv committed on {}",
                short_id(local_parent),
                short_id(recorded)
            ));
        }
    }
    if let Some(p) = parent {
        if p.detail.id != recorded {
            return Err(format!(
                "it was committed on {}, but its parent is now {}",
                short_id(recorded),
                short_id(&p.detail.id)
            ));
        }
        if history.len() != p.history_len + 1 {
            return Err(format!(
                "retagged: its history has {} entries where devenv's commit has {}",
                history.len(),
                p.history_len + 1
            ));
        }
        let extra = detail.layers.len().checked_sub(p.detail.layers.len());
        if !detail.layers.starts_with(&p.detail.layers) || extra.is_none_or(|n| n > 1) {
            return Err("its filesystem layers do not extend its parent's".into());
        }
    }
    Ok(())
}

fn or_none(key: &str) -> String {
    if key.is_empty() {
        "none".into()
    } else {
        super::head(key, 12).to_owned()
    }
}

/// `sha256:` and the first 12 hex digits.
pub fn short_id(id: &str) -> String {
    let hex = id.trim_start_matches("sha256:");
    format!("sha256:{}", super::head(hex, 12))
}

/// For the build path: make sure `devenv/layer:<hash>` (already inspected as `top`) is the
/// layer devenv committed, restoring it from the image under a `docker commit` over it.
/// Returns the trustworthy top layer's id, or `None` when it has to be rebuilt (its tag is
/// then removed, so the build commits it again).
pub async fn ensure_genuine_top(
    engine: &Engine,
    hash: &str,
    top: ImageDetail,
    reporter: &mut dyn Reporter,
) -> Result<Option<String>, BuildError> {
    let reference = layer_ref(hash);
    let parent_key = top.labels.get(labels::PARENT).cloned().unwrap_or_default();
    // Layers of older devenv versions carry no record: taken as they are.
    if top.labels.get(labels::KEY).map(String::as_str) == Some(hash)
        && !top.labels.contains_key(labels::PARENT_ID)
    {
        return Ok(Some(top.id));
    }
    let history = engine.image_history(&top.id).await?;
    if check_layer(hash, &parent_key, &top, &history, None).is_ok() {
        return Ok(Some(top.id));
    }
    // A `docker commit` over the layer: the real one is its local parent.
    if let Some(under) = history.get(1).filter(|h| h.id != MISSING) {
        if let Some(detail) = engine.image_detail(&under.id).await? {
            let deeper = engine.image_history(&detail.id).await?;
            if check_layer(hash, &parent_key, &detail, &deeper, None).is_ok() {
                engine
                    .tag(&detail.id, super::LAYER_REPO, hash)
                    .await
                    .map_err(BuildError::from)?;
                reporter.warn(&format!(
                    "{reference} was retagged ({} is not the image devenv committed); restored \
                     it from devenv's own layer {}",
                    short_id(&top.id),
                    short_id(&detail.id)
                ));
                return Ok(Some(detail.id));
            }
        }
    }
    reporter.warn(&format!(
        "{reference} is not the image devenv committed ({}); building it again",
        short_id(&top.id)
    ));
    engine.untag(&reference).await?;
    Ok(None)
}

/// Point the final tag at the top layer `top_id`, saying so when it pointed elsewhere.
pub async fn tag_final(
    engine: &Engine,
    manifest: &Manifest,
    hash: &str,
    top_id: &str,
    reporter: &mut dyn Reporter,
) -> Result<(), BuildError> {
    let image = image_name(manifest, hash);
    let current = engine.image_detail(&image).await?;
    if current.as_ref().is_some_and(|c| c.id == top_id) {
        return Ok(());
    }
    let repo = format!("devenv/{}", manifest.name);
    engine.tag(top_id, &repo, hash).await?;
    if let Some(c) = current {
        reporter.warn(&format!(
            "{image} no longer pointed at the image devenv built (it was {}); restored it from \
             {} ({})",
            short_id(&c.id),
            layer_ref(hash),
            short_id(top_id)
        ));
    }
    Ok(())
}

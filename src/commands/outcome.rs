//! `--json` on `up`, `down`, `build` and `restart`: one object on stdout saying what the
//! command did, for provisioning tools that drive devenv (Ansible's `changed_when`).
//!
//! ```json
//! {"command":"up","changed":true,"hash":"3f1c…","actions":[
//!   {"action":"built","kind":"step","name":"deps"},
//!   {"action":"created","kind":"container","name":"shop-1a2b3c4d","service":"dev"}]}
//! ```
//!
//! `action` is one of `built`, `created`, `recreated`, `started`, `removed`, `kept`;
//! `changed` is whether any action is not `kept`. On failure the same object carries
//! `error` (the message, and `hint` when there is one) and the exit status is the one the
//! command has without `--json`. What the engine holds is compared before and after the
//! command (one list call each), so the object does not depend on how the command reports
//! progress; built steps and restarted services come from the reporter ([`Tally`]).

use std::time::Duration;

use serde::Serialize;

use super::Ctx;
use crate::engine::{ContainerInfo, Engine};
use crate::environment::Events;
use crate::error::{Error, ExitStatus, Result};
use crate::image::Reporter;
use crate::ownership::ProjectId;
use crate::project::Project;
use crate::stack::replicas::member_name;
use crate::stack::Members;
use crate::ui::BuildView;

/// One thing the command did (`action` is the field name the object promises).
#[allow(clippy::struct_field_names)]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Action {
    /// `built`, `created`, `recreated`, `started`, `removed`, `kept`.
    pub action: &'static str,
    /// `step`, `container`, `network`, `volume`.
    pub kind: &'static str,
    pub name: String,
    /// For a container: `dev` (the environment container) or the service's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl Action {
    fn new(action: &'static str, kind: &'static str, name: &str) -> Action {
        Action {
            action,
            kind,
            name: name.to_owned(),
            service: None,
        }
    }
}

#[derive(Debug, Serialize)]
struct Object<'a> {
    command: &'a str,
    changed: bool,
    hash: Option<&'a str>,
    actions: &'a [Action],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// The project's containers as the engine lists them: each with its member name (`dev` for
/// the environment container, `web` or `web.2` for a service's replicas) and its service.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(Vec<Member>);

#[derive(Debug, Clone)]
struct Member {
    name: String,
    service: String,
    container: ContainerInfo,
}

impl Snapshot {
    pub async fn take(engine: &Engine, project: &Project) -> Result<Snapshot> {
        let members = Members::list(engine, &ProjectId::new(&project.manifest)).await?;
        Ok(Snapshot::of(members))
    }

    fn of(members: Members) -> Snapshot {
        let mut all: Vec<Member> = members
            .dev
            .into_iter()
            .map(|c| Member {
                name: "dev".to_owned(),
                service: "dev".to_owned(),
                container: c,
            })
            .collect();
        for (service, replicas) in members.services {
            for r in replicas {
                all.push(Member {
                    name: member_name(&service, r.number),
                    service: service.clone(),
                    container: r.container,
                });
            }
        }
        Snapshot(all)
    }

    /// The image hash the environment container runs.
    pub fn hash(&self) -> Option<String> {
        let dev = self.get("dev")?;
        dev.labels.get(crate::engine::labels::HASH).cloned()
    }

    fn get(&self, name: &str) -> Option<&ContainerInfo> {
        self.0.iter().find(|m| m.name == name).map(|m| &m.container)
    }
}

/// The container actions between two snapshots; `restarted` services count as `started`.
pub fn container_actions(before: &Snapshot, after: &Snapshot, restarted: &[String]) -> Vec<Action> {
    let mut out = Vec::new();
    for m in &after.0 {
        let c = &m.container;
        let action = match before.get(&m.name) {
            None => "created",
            Some(old) if old.id != c.id => "recreated",
            Some(old) if !old.running() && c.running() => "started",
            Some(_) if restarted.contains(&m.service) => "started",
            Some(_) => "kept",
        };
        let mut a = Action::new(action, "container", &c.name);
        a.service = Some(m.service.clone());
        out.push(a);
    }
    for m in &before.0 {
        if after.get(&m.name).is_none() {
            let mut a = Action::new("removed", "container", &m.container.name);
            a.service = Some(m.service.clone());
            out.push(a);
        }
    }
    out
}

/// `down`'s "container X" / "network X" / "volume X" as an action.
pub fn removed(what: &str) -> Action {
    let (kind, name) = what.split_once(' ').unwrap_or(("container", what));
    let kind = match kind {
        "network" => "network",
        "volume" => "volume",
        _ => "container",
    };
    Action::new("removed", kind, name)
}

/// The image hash as the lock and the inputs give it now, when that needs no engine (the
/// lock is current); for the object of a command that failed before it knew the hash.
pub fn planned_hash(ctx: &Ctx) -> Option<String> {
    let project = ctx.project().ok()?;
    let plan = crate::image::current_plan(&project.manifest, &project.paths, None).ok()??;
    Some(plan.hash().to_owned())
}

/// Built steps as actions, in build order.
pub fn built(steps: &[String]) -> Vec<Action> {
    steps
        .iter()
        .map(|s| Action::new("built", "step", s))
        .collect()
}

/// Print the object for `command` and return the command's own result: the same exit
/// status as without `--json` (the error is still reported on stderr by the caller).
pub fn finish(
    command: &str,
    hash: Option<&str>,
    actions: &[Action],
    result: Result<ExitStatus>,
    ctx: &Ctx,
) -> Result<ExitStatus> {
    let (error, hint) = match &result {
        Ok(_) => (None, None),
        Err(e) => (Some(error_text(e)), e.hint()),
    };
    let object = Object {
        command,
        changed: actions.iter().any(|a| a.action != "kept"),
        hash,
        actions,
        error,
        hint,
    };
    match serde_json::to_string(&object) {
        Ok(line) => ctx.printer.data(&line),
        Err(e) => tracing::warn!("cannot render the --json object: {e}"),
    }
    result
}

fn error_text(e: &Error) -> String {
    match e {
        // The caret report is for terminals; the object carries the plain message.
        Error::Manifest(m) => m.render(false),
        e => e.to_string(),
    }
}

/// A [`BuildView`] that also keeps the names of the steps it saw run and the services it
/// saw restarted, for `--json`.
pub struct Tally {
    view: BuildView,
    pub built: Vec<String>,
    pub restarted: Vec<String>,
    names: Vec<String>,
}

impl Tally {
    pub fn new(view: BuildView) -> Tally {
        Tally {
            view,
            built: Vec::new(),
            restarted: Vec::new(),
            names: Vec::new(),
        }
    }
}

impl Reporter for Tally {
    fn note(&mut self, message: &str) {
        self.view.note(message);
    }
    fn warn(&mut self, message: &str) {
        self.view.warn(message);
    }
    fn step_cached(&mut self, index: usize, total: usize, name: &str) {
        self.view.step_cached(index, total, name);
    }
    fn step_started(&mut self, index: usize, total: usize, name: &str, why: Option<&str>) {
        self.names.resize(total.max(index + 1), String::new());
        name.clone_into(&mut self.names[index]);
        self.view.step_started(index, total, name, why);
    }
    fn step_output(&mut self, index: usize, chunk: &[u8], stderr: bool) {
        self.view.step_output(index, chunk, stderr);
    }
    fn step_finished(&mut self, index: usize, elapsed: Duration) {
        if let Some(name) = self.names.get(index) {
            self.built.push(name.clone());
        }
        self.view.step_finished(index, elapsed);
    }
    fn step_failed(&mut self, index: usize, elapsed: Duration) {
        self.view.step_failed(index, elapsed);
    }
}

impl Events for Tally {
    fn info(&mut self, message: &str) {
        self.view.info(message);
    }
    fn hook_output(&mut self, chunk: &[u8]) {
        self.view.hook_output(chunk);
    }
    fn restarted(&mut self, service: &str) {
        self.restarted.push(service.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, state: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            name: format!("c-{id}"),
            state: state.into(),
            labels: std::collections::HashMap::new(),
            image_id: String::new(),
            status: String::new(),
        }
    }

    fn snap(items: &[(&str, ContainerInfo)]) -> Snapshot {
        Snapshot(
            items
                .iter()
                .map(|(s, c)| Member {
                    name: (*s).to_owned(),
                    service: s.split('.').next().unwrap_or(s).to_owned(),
                    container: c.clone(),
                })
                .collect(),
        )
    }

    #[test]
    fn container_actions_compare_ids_and_states() {
        let before = snap(&[
            ("dev", c("1", "running")),
            ("db", c("2", "exited")),
            ("web", c("3", "running")),
            ("old", c("4", "running")),
            ("cache", c("6", "running")),
        ]);
        let after = snap(&[
            ("dev", c("1", "running")),
            ("db", c("2", "running")),
            ("web", c("5", "running")),
            ("cache", c("6", "running")),
            ("new", c("7", "running")),
        ]);
        let actions = container_actions(&before, &after, &["cache".into()]);
        let got: Vec<String> = actions
            .iter()
            .map(|a| format!("{} {}", a.action, a.service.as_deref().unwrap_or("?")))
            .collect();
        let want = [
            "kept dev",
            "started db",
            "recreated web",
            "started cache",
            "created new",
            "removed old",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn replicas_are_compared_one_by_one_and_restarted_by_service() {
        let before = snap(&[
            ("web", c("1", "running")),
            ("web.2", c("2", "running")),
            ("web.3", c("3", "running")),
        ]);
        let after = snap(&[
            ("web", c("1", "running")),
            ("web.2", c("2", "running")),
            ("web.4", c("4", "running")),
        ]);
        let actions = container_actions(&before, &after, &["web".into()]);
        let got: Vec<String> = actions
            .iter()
            .map(|a| {
                format!(
                    "{} {} {}",
                    a.action,
                    a.name,
                    a.service.as_deref().unwrap_or("?")
                )
            })
            .collect();
        let want = [
            "started c-1 web",
            "started c-2 web",
            "created c-4 web",
            "removed c-3 web",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn down_lines_become_removed_actions() {
        assert_eq!(removed("network shop-net").kind, "network");
        assert_eq!(removed("volume shop_data").name, "shop_data");
        assert_eq!(removed("container shop-1").kind, "container");
    }
}

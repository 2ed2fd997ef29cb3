//! `ansible` steps: the controller (pinned in the lock by what it reports of itself) and
//! running a playbook against a step's build container.
//!
//! The playbook runs in a controller container on the same engine, with no network. It
//! reaches the step container only through a socket devenv serves on this machine
//! (`engine::mediate`): exec and file copy into that one container, nothing else of the
//! engine. The project files the step's key covers are copied into the controller at
//! `/project`; nothing of Ansible, the playbook or its vars goes into the image, and the
//! remote temp directory is removed before the commit. Secrets are the playbook exec's
//! environment (`lookup('env', …)`), never its arguments.

use std::collections::HashMap;

use futures_util::StreamExt;

use super::archive::inputs_tar;
use super::base::ResolvedBase;
use super::lock::NamedLock;
use super::{BuildError, LockMode, Reporter};
use crate::engine::mediate::{self, SOCKET_NAME};
use crate::engine::{labels, ContainerSpec, Engine, ExecOutput, ExecSpec, Mount};
use crate::fingerprint::ansible::{controller_path, playbook_dir, CONTROLLER_PROJECT};
use crate::fingerprint::{Hasher, PlannedStep};
use crate::manifest::lock::{ControllerLock, LockFile};
use crate::manifest::{AnsibleStep, Manifest, Step};

/// The lock's reference for the controller devenv builds from the base.
pub const BUILTIN: &str = "devenv:debian-ansible";
/// Repository of controllers devenv builds, tagged by the key of what went into them.
pub const CONTROLLER_REPO: &str = "devenv/ansible-controller";
/// How devenv makes a controller from a Debian-family base.
const INSTALL: &str = "set -e; export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends ansible python3-requests >/dev/null; \
    rm -rf /var/lib/apt/lists/*";
/// On a controller devenv built: its identity, asked when it was built (saves starting a
/// container to ask again at every build).
const IDENTITY_LABEL: &str = "dev.devenv.ansible-identity";
/// Where the mediated socket's directory is mounted in the controller.
const SOCKET_DIR: &str = "/run/devenv";
/// Where the inventory and vars go in the controller.
const DEVENV_DIR: &str = "/devenv";
/// Ansible's temporary directory in the step container, removed before the commit.
const REMOTE_TMP: &str = "/tmp/.devenv-ansible";

/// What a controller reports of itself, printed as one JSON line by [`IDENTITY_PY`] run
/// with the Python `ansible-playbook` runs on.
const IDENTITY_SH: &str = r#"pb=$(command -v ansible-playbook) || { echo "no ansible-playbook on PATH" >&2; exit 90; }
py=$(sed -n '1s/^#! *//p' "$pb")
exec $py -c "$1""#;
const IDENTITY_PY: &str = r"
import json, os
import ansible.release
cols = []
try:
    import ansible_collections
    for root in ansible_collections.__path__:
        for ns in sorted(os.listdir(root)):
            d = os.path.join(root, ns)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                mf = os.path.join(d, name, 'MANIFEST.json')
                if os.path.isfile(mf):
                    with open(mf) as f:
                        v = json.load(f)['collection_info']['version']
                    cols.append('%s.%s %s' % (ns, name, v))
except ImportError:
    pass
try:
    import requests
    rq = requests.__version__
except ImportError:
    rq = None
print(json.dumps({'core': ansible.release.__version__, 'collections': sorted(set(cols)), 'requests': rq}))
";

/// Whether any step runs a playbook.
pub fn needed(manifest: &Manifest) -> bool {
    manifest.steps.iter().any(|s| s.ansible.is_some())
}

/// The controller reference: `[provision.ansible] image`, or [`BUILTIN`].
pub fn reference(manifest: &Manifest) -> String {
    manifest
        .provision
        .ansible
        .as_ref()
        .and_then(|a| a.image.clone())
        .unwrap_or_else(|| BUILTIN.to_owned())
}

/// The locked identity for the plan when the lock is current for the controller:
/// `Some(None)` when no step needs one, `None` when the lock does not pin this controller.
pub fn current(manifest: &Manifest, lock: Option<&LockFile>) -> Option<Option<String>> {
    if !needed(manifest) {
        return Some(None);
    }
    let pinned = lock?.ansible.as_ref()?;
    (pinned.reference == reference(manifest)).then(|| Some(pinned.identity.clone()))
}

/// The pinned controller: its identity (in the keys) and, once made available, its image.
#[derive(Debug, Clone)]
pub struct Controller {
    pub identity: String,
    image: Option<String>,
}

impl Controller {
    /// The controller image, made available (built or pulled) and checked to report the
    /// identity the lock pins.
    pub async fn image(
        &mut self,
        engine: &Engine,
        manifest: &Manifest,
        base: &mut ResolvedBase,
        reporter: &mut dyn Reporter,
    ) -> Result<String, BuildError> {
        if let Some(image) = &self.image {
            return Ok(image.clone());
        }
        let image = controller_image(engine, manifest, base, reporter).await?;
        let found = identity(engine, manifest, &image).await?;
        if found != self.identity {
            return Err(BuildError::ControllerChanged {
                image: reference(manifest),
                locked: self.identity.clone(),
                found,
            });
        }
        self.image = Some(image.clone());
        Ok(image)
    }
}

/// Resolve the controller per `mode` when a step needs one, pinning it in the lock (which
/// the base's resolution has written).
pub async fn resolve(
    engine: &Engine,
    manifest: &Manifest,
    lock_path: &std::path::Path,
    mode: LockMode,
    base: &mut ResolvedBase,
    reporter: &mut dyn Reporter,
) -> Result<Option<Controller>, BuildError> {
    if !needed(manifest) {
        return Ok(None);
    }
    let lock = LockFile::read(lock_path)?;
    if mode != LockMode::Update {
        if let Some(Some(identity)) = current(manifest, lock.as_ref()) {
            return Ok(Some(Controller {
                identity,
                image: None,
            }));
        }
    }
    let file = super::base::file_name(lock_path);
    if mode == LockMode::Locked {
        return Err(BuildError::LockOutdated {
            file,
            missing: lock.is_none(),
            reference: format!("Ansible controller {}", reference(manifest)),
        });
    }
    let image = controller_image(engine, manifest, base, reporter).await?;
    let identity = identity(engine, manifest, &image).await?;
    let _held = NamedLock::acquire_for_file(lock_path).await?;
    let Some(mut lock) = LockFile::read(lock_path)? else {
        return Err(BuildError::Io {
            what: file,
            message: "disappeared while the Ansible controller was pinned".into(),
        });
    };
    let pinned = ControllerLock {
        reference: reference(manifest),
        identity: identity.clone(),
        image: engine.image(&image).await?.map(|i| i.id),
    };
    if lock.ansible.as_ref() != Some(&pinned) {
        lock.ansible = Some(pinned);
        lock.write(lock_path)?;
        reporter.note(&format!("{file}: Ansible controller {identity}"));
    }
    Ok(Some(Controller {
        identity,
        image: Some(image),
    }))
}

/// The controller image: the named one (pulled when missing), or the one devenv builds
/// from the base with Debian's `ansible` and `python3-requests`.
async fn controller_image(
    engine: &Engine,
    manifest: &Manifest,
    base: &mut ResolvedBase,
    reporter: &mut dyn Reporter,
) -> Result<String, BuildError> {
    if let Some(named) = manifest
        .provision
        .ansible
        .as_ref()
        .and_then(|a| a.image.clone())
    {
        if engine.image(&named).await?.is_none() {
            reporter.note(&format!("pulling the Ansible controller {named}"));
            engine
                .pull(&named, |_| {})
                .await
                .map_err(|e| BuildError::ControllerUnusable {
                    image: named.clone(),
                    reason: e.to_string(),
                })?;
        }
        return Ok(named);
    }
    let mut h = Hasher::new("devenv-ansible-controller-v2");
    h.field("base", base.entry.digest.as_bytes());
    // An index digest names one image per platform: the controller is built from this one.
    h.field("platform", base.platform.to_string().as_bytes());
    h.field("install", INSTALL.as_bytes());
    let tag = format!("{CONTROLLER_REPO}:{}", h.finish());
    if engine.image(&tag).await?.is_some() {
        return Ok(tag);
    }
    let _guard = NamedLock::acquire(&tag.replace([':', '/'], "-")).await?;
    if engine.image(&tag).await?.is_some() {
        return Ok(tag);
    }
    let from = base.image(engine, manifest, reporter).await?;
    reporter.note(&format!(
        "building the Ansible controller (Debian's ansible and python3-requests on the base), \
         once per base: {tag}"
    ));
    // Installed, then asked for its identity, which the image keeps as a label.
    let script = format!("{INSTALL}\n{IDENTITY_SH}");
    let cmd = vec![
        "/bin/sh".into(),
        "-c".into(),
        script,
        "sh".into(),
        IDENTITY_PY.into(),
    ];
    let mut spec = container(&from, cmd);
    spec.network = None;
    let id = engine.create_container(&spec).await?;
    let mut out = Vec::new();
    let status = engine
        .run_container(&id, |c| keep_tail(&mut out, &c, 1 << 20))
        .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let result = match status {
        Ok(0) => {
            let (repo, t) = tag.split_once(':').unwrap_or((&tag, "latest"));
            let mut labels = controller_labels();
            labels.insert(labels::KEY.to_owned(), t.to_owned());
            if let Ok(identity) = parse_identity(&text) {
                labels.insert(IDENTITY_LABEL.to_owned(), identity);
            }
            // Shared by every project on this base: not the one whose base it came from.
            for project in [labels::PROJECT, labels::PROJECT_ID] {
                labels.insert(project.to_owned(), String::new());
            }
            let commit = crate::engine::CommitSpec {
                repo: repo.to_owned(),
                tag: t.to_owned(),
                env: Vec::new(),
                workdir: "/".into(),
                labels,
                comment: "devenv: Ansible controller".into(),
            };
            engine
                .commit(&id, &commit)
                .await
                .map(|_| ())
                .map_err(Into::into)
        }
        Ok(code) => Err(BuildError::ControllerUnusable {
            image: format!("{BUILTIN} (from the base)"),
            reason: format!(
                "installing Debian's ansible and python3-requests on the base failed ({code}): \
                 {}",
                tail_of(&text, 2000)
            ),
        }),
        Err(e) => Err(e.into()),
    };
    let removed = engine.remove_container(&id).await.map_err(Into::into);
    super::first_error(result, removed, reporter)?;
    Ok(tag)
}

fn controller_labels() -> HashMap<String, String> {
    HashMap::from([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::ROLE.to_owned(), "controller".to_owned()),
    ])
}

/// A container of the controller (or the base, to build one), labelled as devenv's.
fn container(image: &str, cmd: Vec<String>) -> ContainerSpec {
    ContainerSpec {
        image: image.to_owned(),
        cmd,
        labels: controller_labels(),
        user: Some("0:0".into()),
        network: Some("none".into()),
        ..ContainerSpec::default()
    }
}

fn keep_tail(out: &mut Vec<u8>, chunk: &ExecOutput, max: usize) {
    let (ExecOutput::Stdout(b) | ExecOutput::Stderr(b)) = chunk;
    out.extend_from_slice(b);
    if out.len() > max {
        out.drain(..out.len() - max);
    }
}

fn tail_of(text: &str, chars: usize) -> &str {
    let text = text.trim();
    let start = text.char_indices().rev().nth(chars).map_or(0, |(i, _)| i);
    &text[start..]
}

/// The identity from the output of [`IDENTITY_PY`] (its last JSON line).
fn parse_identity(text: &str) -> Result<String, String> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|_| format!("it answered `{}`", tail_of(text, 2000)))?;
    describe(&v)
}

/// What the controller image reports of itself, as the lock and the keys carry it; for a
/// controller devenv built, what it reported then (its label).
async fn identity(engine: &Engine, manifest: &Manifest, image: &str) -> Result<String, BuildError> {
    if image.starts_with(CONTROLLER_REPO) {
        let info = engine.image(image).await?;
        if let Some(id) = info.and_then(|i| i.labels.get(IDENTITY_LABEL).cloned()) {
            return Ok(id);
        }
    }
    let cmd = vec![
        "/bin/sh".into(),
        "-c".into(),
        IDENTITY_SH.into(),
        "sh".into(),
        IDENTITY_PY.into(),
    ];
    let mut spec = container(image, cmd);
    spec.labels
        .insert(labels::PROJECT.to_owned(), manifest.name.clone());
    let id = engine.create_container(&spec).await?;
    let mut out = Vec::new();
    let status = engine
        .run_container(&id, |c| keep_tail(&mut out, &c, 1 << 20))
        .await;
    engine.remove_container(&id).await?;
    let unusable = |reason: String| BuildError::ControllerUnusable {
        image: image.to_owned(),
        reason,
    };
    let text = String::from_utf8_lossy(&out).into_owned();
    if status? != 0 {
        return Err(unusable(format!(
            "asking it for its versions failed: {}",
            tail_of(&text, 2000)
        )));
    }
    parse_identity(&text).map_err(unusable)
}

/// `ansible-core 2.14.18; community.docker 3.4.7; requests 2.28.1; collections sha256:…`,
/// or what the controller lacks.
fn describe(v: &serde_json::Value) -> Result<String, String> {
    let core = v["core"]
        .as_str()
        .ok_or("it reports no ansible-core version")?;
    let collections: Vec<&str> = v["collections"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let docker = collections
        .iter()
        .find_map(|c| c.strip_prefix("community.docker "))
        .ok_or("it has no community.docker collection (Debian's `ansible` package has it)")?;
    let requests = v["requests"]
        .as_str()
        .ok_or("its Python has no `requests` (Debian's `python3-requests`)")?;
    let all = crate::fingerprint::sha256_hex(collections.join("\n").as_bytes());
    Ok(format!(
        "ansible-core {core}; community.docker {docker}; requests {requests}; collections sha256:{}",
        &all[..16]
    ))
}

/// What a playbook run needs besides the step.
pub(super) struct Run<'a> {
    pub engine: &'a Engine,
    pub manifest: &'a Manifest,
    pub step: &'a Step,
    pub ansible: &'a AnsibleStep,
    pub planned: &'a PlannedStep,
    /// The step's build container, running.
    pub target: &'a str,
    pub controller_image: &'a str,
    /// `NAME=value` of the step's secrets and env.
    pub env: Vec<String>,
}

/// Run the playbook against `run.target`; output goes to `on_output`.
pub(super) async fn run_playbook(
    run: Run<'_>,
    on_output: &mut dyn FnMut(ExecOutput),
) -> Result<(), BuildError> {
    let engine = run.engine;
    let socket = local_socket(&run.step.name)?;
    has_python(engine, run.target, &run.step.name).await?;
    let mediated =
        mediate::serve(&socket, &[run.target.to_owned()]).map_err(|e| BuildError::Io {
            what: "serving the controller's engine socket".into(),
            message: e.to_string(),
        })?;
    let mut spec = container(run.controller_image, vec!["/bin/sh".into()]);
    spec.labels
        .insert(labels::PROJECT.to_owned(), run.manifest.name.clone());
    spec.open_stdin = true;
    spec.stdin_once = true;
    spec.mounts.push(Mount::Bind {
        source: mediated.dir().display().to_string(),
        target: SOCKET_DIR.into(),
        read_only: false,
    });
    let id = engine.create_container(&spec).await?;
    // Removed below; when the build is interrupted while the play runs (this future is
    // dropped), removed by the guard instead.
    let mut guard = RemoveOnDrop {
        engine: engine.clone(),
        id: Some(id.clone()),
    };
    let lease = engine.attach_stdin(&id).await;
    let result = match lease {
        Ok(_) => in_controller(&run, &id, on_output).await,
        Err(e) => Err(e.into()),
    };
    // The step container keeps no trace of the run.
    let cleanup = ExecSpec {
        cmd: vec!["rm".into(), "-rf".into(), REMOTE_TMP.into()],
        user: Some("0:0".into()),
        ..ExecSpec::default()
    };
    let _hold = crate::cancel::Hold::new();
    guard.id = None;
    let removed = engine.remove_container(&id).await;
    drop(mediated);
    let cleaned = engine.exec_collect(run.target, &cleanup).await;
    result?;
    removed?;
    cleaned?;
    Ok(())
}

/// Removes a controller container whose run was abandoned (Ctrl-C) in the background,
/// holding the backstop until it is gone.
struct RemoveOnDrop {
    engine: Engine,
    id: Option<String>,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let engine = self.engine.clone();
            let hold = crate::cancel::Hold::new();
            tokio::spawn(async move {
                let _ = engine.remove_container(&id).await;
                drop(hold);
            });
        }
    }
}

/// The engine's socket on this machine: the controller can be given a mediated one only
/// when devenv runs beside the engine.
fn local_socket(step: &str) -> Result<std::path::PathBuf, BuildError> {
    let endpoint = crate::engine::endpoint();
    match endpoint.strip_prefix("unix://") {
        Some(path) => Ok(path.into()),
        None => Err(BuildError::AnsibleRemoteEngine {
            step: step.to_owned(),
            endpoint,
        }),
    }
}

/// Most modules need Python in the target: say so before running, naming the step.
async fn has_python(engine: &Engine, target: &str, step: &str) -> Result<(), BuildError> {
    let check = ExecSpec {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "command -v python3 || command -v python || test -x /usr/libexec/platform-python"
                .into(),
        ],
        user: Some("0:0".into()),
        ..ExecSpec::default()
    };
    let (code, _) = engine.exec_collect(target, &check).await?;
    if code != 0 {
        return Err(BuildError::AnsibleNoPython {
            step: step.to_owned(),
        });
    }
    Ok(())
}

async fn in_controller(
    run: &Run<'_>,
    id: &str,
    on_output: &mut dyn FnMut(ExecOutput),
) -> Result<(), BuildError> {
    let engine = run.engine;
    let (body, verdict) = inputs_tar(
        &run.manifest.root,
        CONTROLLER_PROJECT,
        &run.step.name,
        &run.planned.inputs,
    );
    let uploaded = engine.upload_tar(id, "/", body).await;
    let verdict = verdict.await.map_err(|e| BuildError::Io {
        what: "inputs archive".into(),
        message: e.to_string(),
    })?;
    match (verdict, uploaded) {
        (Err(e @ BuildError::InputChanged { .. }), _) | (Err(e), Ok(())) => return Err(e),
        (_, Err(e)) => return Err(e.into()),
        (Ok(()), Ok(())) => {}
    }
    let files = devenv_files(run)?;
    let stream = futures_util::stream::once(async move { Ok(bytes::Bytes::from(files)) });
    engine.upload_tar(id, "/", stream).await?;
    engine.start_container(id).await?;
    let exec = ExecSpec {
        cmd: command(run.ansible),
        env: controller_env(&run.env),
        user: Some("0:0".into()),
        workdir: Some(
            controller_path(&playbook_dir(&run.ansible.playbook))
                .display()
                .to_string(),
        ),
        ..ExecSpec::default()
    };
    let mut io = engine.start_exec(id, &exec).await?;
    let mut text = Vec::new();
    while let Some(chunk) = io.output.next().await {
        let chunk = chunk?;
        keep_tail(&mut text, &chunk, 256 * 1024);
        on_output(chunk);
    }
    let status = engine.exec_exit_code(&io.id).await?;
    if status == 0 {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&text);
    Err(failure(&run.step.name, status, &text))
}

/// `ansible-playbook` with the inventory, vars and tags: no secret is ever an argument.
fn command(a: &AnsibleStep) -> Vec<String> {
    let mut cmd = vec![
        "ansible-playbook".to_owned(),
        "-i".to_owned(),
        format!("{DEVENV_DIR}/inventory.ini"),
    ];
    if !a.vars.is_empty() {
        cmd.extend(["-e".to_owned(), format!("@{DEVENV_DIR}/vars.json")]);
    }
    if !a.tags.is_empty() {
        cmd.extend(["--tags".to_owned(), a.tags.join(",")]);
    }
    cmd.push(controller_path(&a.playbook).display().to_string());
    cmd
}

fn controller_env(step_env: &[String]) -> Vec<String> {
    let mut env: Vec<String> = [
        "HOME=/root",
        "ANSIBLE_NOCOLOR=1",
        "ANSIBLE_RETRY_FILES_ENABLED=0",
        "ANSIBLE_PIPELINING=1",
        "ANSIBLE_LOCAL_TEMP=/tmp/.ansible-local",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    env.push(format!("ANSIBLE_REMOTE_TMP={REMOTE_TMP}"));
    env.extend(step_env.iter().cloned());
    env
}

/// The inventory (the step container as the one host, in group `devenv`, named after the
/// step) and the vars file, as a tar for `/`.
fn devenv_files(run: &Run<'_>) -> Result<Vec<u8>, BuildError> {
    let host = host_name(&run.step.name);
    let inventory = format!(
        "[devenv]\n{host} ansible_connection=community.docker.docker_api ansible_host={} \
         ansible_docker_docker_host=unix://{SOCKET_DIR}/{SOCKET_NAME} ansible_user={} \
         ansible_python_interpreter=auto_silent\n",
        run.target, run.step.user
    );
    let vars = serde_json::to_vec(&run.ansible.vars).unwrap_or_default();
    let io = |e: std::io::Error| BuildError::Io {
        what: "the controller's inventory".into(),
        message: e.to_string(),
    };
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("inventory.ini", inventory.as_bytes()),
        ("vars.json", &vars[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        let path = format!("{}/{name}", DEVENV_DIR.trim_start_matches('/'));
        tar.append_data(&mut h, path, data).map_err(io)?;
    }
    tar.into_inner().map_err(io)
}

/// The step's name as an inventory host name.
pub fn host_name(step: &str) -> String {
    let s: String = step
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "step".to_owned()
    } else {
        s
    }
}

/// The failure of a play from its output: the failing task, the host and the message.
fn failure(step: &str, status: i64, output: &str) -> BuildError {
    let tail = {
        let mut t = super::tail::Tail::default();
        t.push(output.as_bytes());
        t.render()
    };
    let lines: Vec<&str> = output.lines().collect();
    let fatal = lines
        .iter()
        .rposition(|l| l.starts_with("fatal: [") || l.starts_with("failed: ["));
    let Some(at) = fatal else {
        return BuildError::AnsibleFailed {
            step: step.to_owned(),
            task: None,
            message: format!("ansible-playbook exited with status {status}"),
            tail,
        };
    };
    let task = lines[..at]
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("TASK ["))
        .and_then(|l| l.split_once(']'))
        .map(|(t, _)| t.to_owned());
    let line = lines[at];
    let host = line
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(h, _)| h.to_owned())
        .unwrap_or_default();
    let json = line.split_once("=> ").map(|(_, j)| j).unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .map(|v| {
            let mut parts = Vec::new();
            for key in ["msg", "stderr", "module_stderr"] {
                if let Some(s) = v.get(key).and_then(serde_json::Value::as_str) {
                    if !s.trim().is_empty() {
                        parts.push(s.trim().to_owned());
                    }
                }
            }
            parts.join("\n")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| json.trim().to_owned());
    BuildError::AnsibleFailed {
        step: step.to_owned(),
        task,
        message: format!("on host {host}: {detail}"),
        tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_task_is_named_with_its_host_and_message() {
        let out = "PLAY [all] ***\n\nTASK [Gathering Facts] ***\nok: [web]\n\n\
                   TASK [install redis] ***\n\
                   fatal: [web]: FAILED! => {\"changed\": false, \"msg\": \"No package matching 'redis-nope' is available\"}\n\
                   \nPLAY RECAP ***\nweb : ok=1 failed=1\n";
        let BuildError::AnsibleFailed {
            step,
            task,
            message,
            tail,
        } = failure("redis", 2, out)
        else {
            panic!("not AnsibleFailed");
        };
        assert_eq!(step, "redis");
        assert_eq!(task.as_deref(), Some("install redis"));
        assert_eq!(
            message,
            "on host web: No package matching 'redis-nope' is available"
        );
        assert!(tail.contains("PLAY RECAP"), "{tail}");
    }

    #[test]
    fn identity_names_core_docker_requests_and_all_collections() {
        let v = serde_json::json!({
            "core": "2.14.18",
            "collections": ["community.docker 3.4.7", "community.general 6.6.2"],
            "requests": "2.28.1"
        });
        let id = describe(&v).unwrap();
        assert!(
            id.starts_with("ansible-core 2.14.18; community.docker 3.4.7; requests 2.28.1; collections sha256:"),
            "{id}"
        );
        let missing = serde_json::json!({"core": "2.14.18", "collections": [], "requests": null});
        assert!(describe(&missing).unwrap_err().contains("community.docker"));
        assert_eq!(host_name("my step/1"), "my_step_1");
        let noisy = "debconf: delaying package configuration\n{\"core\": \"2.14.18\", \"collections\": [\"community.docker 3.4.7\"], \"requests\": \"2.28.1\"}\n";
        assert!(parse_identity(noisy)
            .unwrap()
            .starts_with("ansible-core 2.14.18;"));
        assert!(parse_identity("E: Unable to locate package")
            .unwrap_err()
            .contains("answered"));
    }
}

//! Container operations: create from a spec, find by label, start/stop/remove, upload files.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, PortMap};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptionsBuilder, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};

use super::{label_filters, Engine, EngineError, Result};

/// Everything needed to create a container, in devenv's terms.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: Option<String>,
    pub image: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub labels: HashMap<String, String>,
    pub mounts: Vec<Mount>,
    pub ports: Vec<PortBinding>,
    /// `bridge`, `none`, `host`.
    pub network: Option<String>,
    /// Run docker-init as PID 1 (reaps zombies, forwards signals).
    pub init: bool,
    /// Keep stdin open with nothing attached: lets `/bin/sh` idle forever.
    pub open_stdin: bool,
    /// Close stdin when the one attached client goes away ([`Engine::attach_stdin`]): an
    /// idle `/bin/sh` then exits when the process that attached dies, even by kill -9.
    pub stdin_once: bool,
    pub hostname: Option<String>,
    /// The main process's user (`uid:gid` or a name); the image's when `None`.
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
    Volume {
        name: String,
        target: String,
        read_only: bool,
    },
    /// A named volume that stands for a host path (a remote engine's workspace or bind
    /// volume): never filled from the image at its target (`NoCopy`), as a bind mount
    /// would hide what the image has there.
    Synced {
        name: String,
        target: String,
        read_only: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// A container found by label.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// `running`, `exited`, `created`, …
    pub state: String,
    pub labels: HashMap<String, String>,
    pub image_id: String,
    /// The engine's one-line status: `Up 3 minutes (healthy)`, `Exited (1) 2 seconds ago`.
    pub status: String,
}

impl ContainerInfo {
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    /// Whether the engine's healthcheck reports it unhealthy.
    pub fn unhealthy(&self) -> bool {
        self.status.contains("(unhealthy)")
    }
}

/// What `inspect` says about a container's life, for judging whether it is live.
#[derive(Debug, Clone)]
pub struct ContainerState {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub state: String,
    /// Unix seconds (engine clock).
    pub created: Option<i64>,
    /// Unix seconds when the main process ended (exited containers).
    pub finished: Option<i64>,
    /// Config labels (its own merged over its image's).
    pub labels: HashMap<String, String>,
    /// The image's id.
    pub image_id: String,
    pub stdin_once: bool,
}

/// Holds a container's stdin (see [`ContainerSpec::stdin_once`]); dropping it, or the
/// process ending, closes it.
pub struct StdinLease {
    _input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    _output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = std::result::Result<
                        bollard::container::LogOutput,
                        bollard::errors::Error,
                    >,
                > + Send,
        >,
    >,
}

impl Engine {
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let mut opts = CreateContainerOptionsBuilder::new();
        if let Some(name) = &spec.name {
            opts = opts.name(name);
        }
        let body = container_body(spec);
        let res = self
            .docker
            .create_container(Some(opts.build()), body)
            .await
            .map_err(|e| EngineError::api(format!("create a container from {}", spec.image), e))?;
        Ok(res.id)
    }

    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, Some(StartContainerOptionsBuilder::new().build()))
            .await
            .map_err(|e| EngineError::api(format!("start container {id}"), e))
    }

    /// Stop with a grace period in seconds.
    pub async fn stop_container(&self, id: &str, grace: i32) -> Result<()> {
        let opts = StopContainerOptionsBuilder::new().t(grace).build();
        match self.docker.stop_container(id, Some(opts)).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("stop container {id}"), e)),
        }
    }

    /// Force-remove a container (and its anonymous volumes); a missing one is fine.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(opts)).await {
            // 404: already gone; 409: removal already in progress by someone else.
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("remove container {id}"), e)),
        }
    }

    /// All containers (running or not) carrying every one of `labels`.
    pub async fn list_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| EngineError::api("list containers", e))?;
        Ok(list
            .into_iter()
            .map(|c| ContainerInfo {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
                image_id: c.image_id.unwrap_or_default(),
                status: c.status.unwrap_or_default(),
            })
            .collect())
    }

    /// Inspect a container by id or name; `None` when there is none.
    pub(super) async fn inspect_container(
        &self,
        id: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>> {
        match self
            .docker
            .inspect_container(id, Some(InspectContainerOptionsBuilder::new().build()))
            .await
        {
            Ok(c) => Ok(Some(c)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect container {id}"), e)),
        }
    }

    /// The labels of a container (by id or name); `None` when there is none.
    pub async fn container_labels(&self, id: &str) -> Result<Option<HashMap<String, String>>> {
        Ok(self
            .inspect_container(id)
            .await?
            .map(|c| c.config.and_then(|c| c.labels).unwrap_or_default()))
    }

    /// The state of a container by id or name; `None` when there is none.
    pub async fn container_state(&self, id: &str) -> Result<Option<ContainerState>> {
        let Some(c) = self.inspect_container(id).await? else {
            return Ok(None);
        };
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        Ok(Some(ContainerState {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            created: c.created.as_deref().and_then(unix_seconds),
            finished: state.finished_at.as_deref().and_then(unix_seconds),
            labels: config.labels.unwrap_or_default(),
            image_id: c.image.unwrap_or_default(),
            stdin_once: config.stdin_once.unwrap_or_default(),
        }))
    }

    /// Attach to a container's stdin (before starting it), holding it for as long as the
    /// lease lives.
    pub async fn attach_stdin(&self, id: &str) -> Result<StdinLease> {
        use bollard::query_parameters::AttachContainerOptionsBuilder;
        let opts = AttachContainerOptionsBuilder::new()
            .stdin(true)
            .stream(true)
            .build();
        let r = self
            .docker
            .attach_container(id, Some(opts))
            .await
            .map_err(|e| EngineError::api(format!("attach to container {id}"), e))?;
        Ok(StdinLease {
            _input: r.input,
            _output: r.output,
        })
    }

    /// Ids of the images that any container on the engine (devenv's or not) was made from.
    pub async fn images_in_use(&self) -> Result<std::collections::HashSet<String>> {
        let opts = ListContainersOptionsBuilder::new().all(true).build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| EngineError::api("list containers", e))?;
        Ok(list.into_iter().filter_map(|c| c.image_id).collect())
    }

    /// Ids of execs still running in the container (other shells using it).
    pub async fn running_execs(&self, id: &str) -> Result<usize> {
        let c = self
            .docker
            .inspect_container(id, Some(InspectContainerOptionsBuilder::new().build()))
            .await
            .map_err(|e| EngineError::api(format!("inspect container {id}"), e))?;
        let mut running = 0;
        for exec in c.exec_ids.unwrap_or_default() {
            if let Ok(info) = self.docker.inspect_exec(&exec).await {
                if info.running == Some(true) {
                    running += 1;
                }
            }
        }
        Ok(running)
    }

    /// Start a created container and stream its output until its main process exits;
    /// returns the exit status.
    pub async fn run_container(
        &self,
        id: &str,
        mut on_output: impl FnMut(super::ExecOutput),
    ) -> Result<i64> {
        use bollard::container::LogOutput;
        use bollard::query_parameters::LogsOptionsBuilder;
        use futures_util::StreamExt;
        self.start_container(id).await?;
        let opts = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = self.docker.logs(id, Some(opts));
        while let Some(item) = logs.next().await {
            match item.map_err(|e| EngineError::api(format!("read the output of {id}"), e))? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    on_output(super::ExecOutput::Stdout(message));
                }
                LogOutput::StdErr { message } => on_output(super::ExecOutput::Stderr(message)),
                LogOutput::StdIn { .. } => {}
            }
        }
        let mut wait = self.docker.wait_container(id, None);
        match wait.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(EngineError::api(format!("wait for {id}"), e)),
            None => Err(EngineError::Api {
                action: format!("wait for {id}"),
                message: "the engine ended the wait without a status".into(),
            }),
        }
    }

    /// Extract a tar archive into the container's filesystem at `path`.
    pub async fn upload_tar(
        &self,
        id: &str,
        path: &str,
        tar: impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    ) -> Result<()> {
        let opts = UploadToContainerOptionsBuilder::new().path(path).build();
        self.docker
            .upload_to_container(id, Some(opts), bollard::body_try_stream(tar))
            .await
            .map_err(|e| EngineError::api(format!("copy files into container {id}"), e))
    }
}

pub(super) fn container_body(spec: &ContainerSpec) -> ContainerCreateBody {
    // The Mounts API (not `Binds` strings): a `:` in a path is fine, and a missing bind
    // source is an error instead of a root-owned directory made by the engine.
    let mounts: Vec<bollard::models::Mount> = spec.mounts.iter().map(mount).collect();
    let mut port_map: PortMap = HashMap::new();
    let mut exposed = Vec::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        exposed.push(key.clone());
        port_map
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(bollard::models::PortBinding {
                host_ip: p.host_ip.clone(),
                host_port: Some(p.host_port.to_string()),
            });
    }
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(spec.cmd.clone()),
        entrypoint: Some(Vec::new()),
        env: Some(spec.env.clone()),
        working_dir: spec.workdir.clone(),
        labels: Some(spec.labels.clone()),
        open_stdin: Some(spec.open_stdin),
        stdin_once: spec.stdin_once.then_some(true),
        attach_stdin: spec.stdin_once.then_some(true),
        hostname: spec.hostname.clone(),
        user: spec.user.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            mounts: (!mounts.is_empty()).then_some(mounts),
            port_bindings: (!port_map.is_empty()).then_some(port_map),
            network_mode: spec.network.clone(),
            init: spec.init.then_some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn mount(m: &Mount) -> bollard::models::Mount {
    use bollard::models::MountType;
    let (typ, source, target, read_only) = match m {
        Mount::Bind {
            source,
            target,
            read_only,
        } => (MountType::BIND, source, target, *read_only),
        Mount::Volume {
            name,
            target,
            read_only,
        }
        | Mount::Synced {
            name,
            target,
            read_only,
        } => (MountType::VOLUME, name, target, *read_only),
    };
    bollard::models::Mount {
        typ: Some(typ),
        source: Some(source.clone()),
        target: Some(target.clone()),
        read_only: Some(read_only),
        volume_options: matches!(m, Mount::Synced { .. }).then(|| {
            bollard::models::MountVolumeOptions {
                no_copy: Some(true),
                ..Default::default()
            }
        }),
        ..Default::default()
    }
}

/// Unix seconds of an RFC 3339 time as the engine writes it (`2024-05-01T10:00:00.123Z`);
/// `None` for the zero time (`0001-01-01T00:00:00Z`: never) or anything unreadable.
fn unix_seconds(time: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| time.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let clock = num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    if year < 1970 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    // The engine writes UTC (`Z`); an explicit offset is applied.
    let zone = time
        .get(19..)
        .map(|r| r.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit()));
    let offset = match zone {
        Some(z) if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (z.get(1..3)?.parse::<i64>().ok()? * 3600
                + z.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => 0,
    };
    Some(days * 86_400 + clock - offset)
}

#[cfg(test)]
mod tests {
    use super::unix_seconds;

    #[test]
    fn engine_times() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2024-05-01T10:00:00.123456789Z"),
            Some(1_714_557_600)
        );
        assert_eq!(
            unix_seconds("2024-05-01T12:00:00+02:00"),
            Some(1_714_557_600)
        );
        assert_eq!(unix_seconds("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("garbage"), None);
    }
}

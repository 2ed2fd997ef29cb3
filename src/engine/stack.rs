//! What a set of containers needs from the engine beyond one container: a project network
//! with a name per member, service containers with a healthcheck and a restart policy,
//! their state (health, restarts, exit code), restarts and logs.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::models::{
    EndpointSettings, HealthConfig, HealthStatusEnum, NetworkCreateRequest, NetworkingConfig,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{LogsOptionsBuilder, RestartContainerOptionsBuilder};
use futures_util::{Stream, StreamExt};

use super::{containers::container_body, ContainerSpec, Engine, EngineError, ExecOutput, Result};

/// How a service container differs from a plain one.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// The project network (also given as `spec.network`).
    pub network: String,
    /// Names the other members reach it by.
    pub aliases: Vec<String>,
    /// A shell command run as the container's healthcheck.
    pub health: Option<HealthCheck>,
    /// `no`, `on-failure`, `always`, `unless-stopped`.
    pub restart: String,
    pub user: Option<String>,
    /// Keep the image's entrypoint (and its command when `spec.cmd` is empty).
    pub image_entrypoint: bool,
    /// Memory limit in bytes (`docker run --memory`).
    pub memory: Option<u64>,
    /// CPU limit in billionths of a CPU (`docker run --cpus`).
    pub nano_cpus: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub command: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: i64,
    pub start_period: Duration,
}

/// A member's state as the engine sees it.
#[derive(Debug, Clone, Default)]
pub struct MemberState {
    /// `running`, `exited`, `restarting`, `created`, …
    pub status: String,
    /// `starting`, `healthy`, `unhealthy`; `None` without a healthcheck.
    pub health: Option<String>,
    /// Output of the last healthcheck run.
    pub health_output: Option<String>,
    /// Failed healthchecks in a row.
    pub failing_streak: i64,
    pub restart_count: i64,
    pub exit_code: i64,
    pub error: String,
    pub oom_killed: bool,
}

/// One chunk of a container's output.
pub type LogStream = Pin<Box<dyn Stream<Item = Result<ExecOutput>> + Send>>;

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Engine {
    /// Create the network unless it exists.
    pub async fn ensure_network(&self, name: &str, labels: HashMap<String, String>) -> Result<()> {
        match self.docker.inspect_network(name, None).await {
            Ok(_) => return Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(EngineError::api(format!("inspect network {name}"), e)),
        }
        self.create_network(NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ..Default::default()
        })
        .await
    }

    /// Create a network; one that another devenv made meanwhile (409) is as good.
    pub(super) async fn create_network(&self, body: NetworkCreateRequest) -> Result<()> {
        let name = body.name.clone();
        match self.docker.create_network(body).await {
            Ok(_)
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("create network {name}"), e)),
        }
    }

    /// Remove a network; `false` when there was none. Only networks carrying
    /// `managed_label` = `true` are removed.
    pub async fn remove_network(&self, name: &str, managed_label: &str) -> Result<bool> {
        let net = match self.docker.inspect_network(name, None).await {
            Ok(n) => n,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(false),
            Err(e) => return Err(EngineError::api(format!("inspect network {name}"), e)),
        };
        let ours = net
            .labels
            .as_ref()
            .and_then(|l| l.get(managed_label))
            .is_some_and(|v| v == "true");
        if !ours {
            return Ok(false);
        }
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(EngineError::api(format!("remove network {name}"), e)),
        }
    }

    /// Create a service container: on the project network under its aliases, with the
    /// probe as healthcheck and the engine restarting it per `restart`.
    pub async fn create_service_container(
        &self,
        spec: &ContainerSpec,
        opts: &ServiceOptions,
    ) -> Result<String> {
        use bollard::query_parameters::CreateContainerOptionsBuilder;
        let mut body = container_body(spec);
        if opts.image_entrypoint {
            body.entrypoint = None;
            if spec.cmd.is_empty() {
                body.cmd = None;
            }
        }
        body.user.clone_from(&opts.user);
        body.healthcheck = opts.health.as_ref().map(|h| HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), h.command.clone()]),
            interval: Some(nanos(h.interval)),
            timeout: Some(nanos(h.timeout)),
            retries: Some(h.retries),
            start_period: Some(nanos(h.start_period)),
            start_interval: None,
        });
        let name = match opts.restart.as_str() {
            "no" => RestartPolicyNameEnum::NO,
            "always" => RestartPolicyNameEnum::ALWAYS,
            "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
            _ => RestartPolicyNameEnum::ON_FAILURE,
        };
        if let Some(host) = body.host_config.as_mut() {
            host.restart_policy = Some(RestartPolicy {
                name: Some(name),
                maximum_retry_count: None,
            });
            host.memory = opts.memory.and_then(|b| i64::try_from(b).ok());
            host.nano_cpus = opts.nano_cpus.and_then(|n| i64::try_from(n).ok());
        }
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                opts.network.clone(),
                EndpointSettings {
                    aliases: Some(opts.aliases.clone()),
                    ..Default::default()
                },
            )])),
        });
        let mut create = CreateContainerOptionsBuilder::new();
        if let Some(n) = &spec.name {
            create = create.name(n);
        }
        let res = self
            .docker
            .create_container(Some(create.build()), body)
            .await
            .map_err(|e| EngineError::api(format!("create a container from {}", spec.image), e))?;
        Ok(res.id)
    }

    /// A member's state; `None` when the container is gone.
    pub async fn member_state(&self, id: &str) -> Result<Option<MemberState>> {
        let Some(c) = self.inspect_container(id).await? else {
            return Ok(None);
        };
        let state = c.state.unwrap_or_default();
        let health = state.health.as_ref();
        let health_status = health.and_then(|h| h.status).and_then(|s| match s {
            HealthStatusEnum::STARTING => Some("starting"),
            HealthStatusEnum::HEALTHY => Some("healthy"),
            HealthStatusEnum::UNHEALTHY => Some("unhealthy"),
            _ => None,
        });
        let health_output = health
            .and_then(|h| h.log.as_ref())
            .and_then(|l| l.last())
            .and_then(|r| r.output.clone());
        Ok(Some(MemberState {
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            health: health_status.map(str::to_owned),
            health_output,
            failing_streak: health.and_then(|h| h.failing_streak).unwrap_or_default(),
            restart_count: c.restart_count.unwrap_or_default(),
            exit_code: state.exit_code.unwrap_or_default(),
            error: state.error.unwrap_or_default(),
            oom_killed: state.oom_killed.unwrap_or_default(),
        }))
    }

    pub async fn restart_container(&self, id: &str, grace: i32) -> Result<()> {
        let opts = RestartContainerOptionsBuilder::new().t(grace).build();
        self.docker
            .restart_container(id, Some(opts))
            .await
            .map_err(|e| EngineError::api(format!("restart container {id}"), e))
    }

    /// A container's output: the last `tail` lines (all when `None`), then, with `follow`,
    /// what it writes from now on.
    pub fn container_logs(&self, id: &str, follow: bool, tail: Option<u64>) -> LogStream {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let opts = LogsOptionsBuilder::new()
            .follow(follow)
            .stdout(true)
            .stderr(true)
            .tail(&tail)
            .build();
        let id = id.to_owned();
        let stream = self.docker.logs(&id, Some(opts)).filter_map(move |item| {
            let out = match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok(ExecOutput::Stdout(message)))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(EngineError::api(format!("read the output of {id}"), e))),
            };
            std::future::ready(out)
        });
        Box::pin(stream)
    }

    /// The last `n` lines a container wrote (stdout and stderr interleaved), as text.
    pub async fn last_log_lines(&self, id: &str, n: u64) -> String {
        let mut stream = self.container_logs(id, false, Some(n));
        let mut text = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            match chunk {
                ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => text.extend_from_slice(&b),
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

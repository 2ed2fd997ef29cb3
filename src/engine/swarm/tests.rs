use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    EndpointPortConfigPublishModeEnum, EndpointSpecModeEnum, MountType,
    TaskSpecRestartPolicyConditionEnum,
};

use super::*;
use crate::engine::{HealthCheck, Mount, PortBinding};

fn web(image_entrypoint: bool) -> SwarmService {
    SwarmService {
        name: "devenv-app-1234abcd-web".into(),
        labels: HashMap::from([("dev.devenv.service".into(), "web".into())]),
        container: ContainerSpec {
            name: Some("devenv-app-1234abcd-web".into()),
            image: "10.0.0.1:5000/devenv/app@sha256:aa".into(),
            cmd: vec!["httpd".into(), "-f".into()],
            env: vec!["A=1".into()],
            workdir: None,
            labels: HashMap::from([("dev.devenv.role".into(), "service".into())]),
            mounts: vec![Mount::Volume {
                name: "devenv-app-1234abcd-data".into(),
                target: "/data".into(),
                read_only: false,
            }],
            ports: vec![PortBinding {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
            }],
            network: Some("devenv-app-1234abcd".into()),
            init: true,
            open_stdin: false,
            stdin_once: false,
            hostname: Some("web".into()),
            user: None,
        },
        options: ServiceOptions {
            network: "devenv-app-1234abcd".into(),
            aliases: vec!["web".into()],
            health: Some(HealthCheck {
                command: "wget -q -O /dev/null http://127.0.0.1/".into(),
                interval: Duration::from_secs(2),
                timeout: Duration::from_secs(30),
                retries: 3,
                start_period: Duration::from_secs(60),
            }),
            restart: "on-failure".into(),
            user: Some("1000:1000".into()),
            image_entrypoint,
            memory: None,
            nano_cpus: None,
        },
        deploy: Deploy {
            replicas: 3,
            memory: Some(256 << 20),
            nano_cpus: Some(500_000_000),
            constraints: vec!["node.labels.tier==web".into()],
            endpoint: EndpointMode::default(),
        },
        volume_labels: HashMap::from([("dev.devenv.role".into(), "volume".into())]),
    }
}

#[test]
fn a_service_spec_carries_the_container_and_how_it_is_deployed() {
    let spec = service_spec(&web(true));
    assert_eq!(spec.name.as_deref(), Some("devenv-app-1234abcd-web"));
    assert_eq!(spec.labels.unwrap()["dev.devenv.service"], "web");
    let replicas = spec.mode.unwrap().replicated.unwrap().replicas;
    assert_eq!(replicas, Some(3));
    let endpoint = spec.endpoint_spec.unwrap();
    // DNS round robin unless asked: VIPs need IPVS.
    assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::DNSRR));
    let port = &endpoint.ports.unwrap()[0];
    assert_eq!(
        port.publish_mode,
        Some(EndpointPortConfigPublishModeEnum::HOST)
    );
    assert_eq!(
        (port.published_port, port.target_port),
        (Some(8080), Some(80))
    );

    let task = spec.task_template.unwrap();
    let c = task.container_spec.unwrap();
    assert_eq!(
        c.image.as_deref(),
        Some("10.0.0.1:5000/devenv/app@sha256:aa")
    );
    // The image's entrypoint stays; the command becomes its arguments.
    assert_eq!(c.command, None);
    assert_eq!(c.args, Some(vec!["httpd".into(), "-f".into()]));
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert_eq!(c.init, Some(true));
    assert_eq!(c.hostname.as_deref(), Some("web"));
    assert_eq!(c.labels.unwrap()["dev.devenv.role"], "service");
    let m = &c.mounts.unwrap()[0];
    assert_eq!(m.typ, Some(MountType::VOLUME));
    assert_eq!(m.source.as_deref(), Some("devenv-app-1234abcd-data"));
    // The node makes the volume itself: with devenv's labels, so `down` and tests find it.
    let volume_labels = m.volume_options.as_ref().unwrap().labels.as_ref().unwrap();
    assert_eq!(volume_labels["dev.devenv.role"], "volume");
    let h = c.health_check.unwrap();
    assert_eq!(
        h.test.unwrap(),
        vec!["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"]
    );
    assert_eq!(h.interval, Some(2_000_000_000));
    assert_eq!(h.start_period, Some(60_000_000_000));
    assert_eq!(h.retries, Some(3));

    let limits = task.resources.unwrap().limits.unwrap();
    assert_eq!(limits.memory_bytes, Some(256 << 20));
    assert_eq!(limits.nano_cpus, Some(500_000_000));
    assert_eq!(
        task.placement.unwrap().constraints.unwrap(),
        vec!["node.labels.tier==web"]
    );
    let restart = task.restart_policy.unwrap();
    assert_eq!(
        restart.condition,
        Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE)
    );
    assert_eq!(restart.delay, Some(1_000_000_000));
    let net = &task.networks.unwrap()[0];
    assert_eq!(net.target.as_deref(), Some("devenv-app-1234abcd"));
    assert_eq!(net.aliases.as_deref(), Some(&["web".to_owned()][..]));
}

#[test]
fn a_service_from_the_environment_image_runs_its_command_without_an_entrypoint() {
    let mut s = web(false);
    s.options.restart = "always".into();
    s.options.health = None;
    s.deploy = Deploy {
        replicas: 1,
        endpoint: EndpointMode::Vip,
        ..Deploy::default()
    };
    s.container.ports.clear();
    let spec = service_spec(&s);
    let endpoint = spec.endpoint_spec.unwrap();
    assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::VIP));
    assert_eq!(endpoint.ports, None);
    let task = spec.task_template.unwrap();
    let c = task.container_spec.unwrap();
    assert_eq!(c.command, Some(vec!["httpd".into(), "-f".into()]));
    assert_eq!(c.args, None);
    assert_eq!(c.health_check, None);
    assert_eq!(task.resources, None);
    assert_eq!(task.placement, None);
    assert_eq!(
        task.restart_policy.unwrap().condition,
        Some(TaskSpecRestartPolicyConditionEnum::ANY)
    );
    s.options.restart = "no".into();
    let spec = service_spec(&s);
    assert_eq!(
        spec.task_template
            .unwrap()
            .restart_policy
            .unwrap()
            .condition,
        Some(TaskSpecRestartPolicyConditionEnum::NONE)
    );
}

fn task(slot: i64, node: &str, state: &str, desired: &str, since: &str) -> TaskInfo {
    TaskInfo {
        id: format!("t{slot}{node}{since}"),
        slot,
        node_id: format!("id-{node}"),
        node: node.into(),
        state: state.into(),
        desired: desired.into(),
        since: since.into(),
        ..TaskInfo::default()
    }
}

#[test]
fn replicas_count_running_tasks_and_remember_restarts_and_moves() {
    let tasks = vec![
        task(1, "node1", "running", "running", "2026-01-01T00:00:05Z"),
        // Slot 2 ran on node2, which died; it runs on node3 now.
        task(2, "node2", "running", "shutdown", "2026-01-01T00:00:01Z"),
        task(2, "node3", "running", "running", "2026-01-01T00:00:09Z"),
        // Slot 3 failed its first run and is starting again (healthcheck not passed).
        task(3, "node3", "failed", "shutdown", "2026-01-01T00:00:02Z"),
        task(3, "node3", "starting", "running", "2026-01-01T00:00:08Z"),
    ];
    let r = Replicas::of(3, &tasks);
    assert_eq!(r.running, 2);
    assert!(!r.complete());
    let nodes: Vec<&str> = r.current.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, ["node1", "node3", "node3"]);
    assert_eq!(r.restarts, BTreeMap::from([(2, 1), (3, 1)]));
    assert_eq!(
        r.moved_from,
        BTreeMap::from([(2, vec!["node2".to_owned()])])
    );

    let all = Replicas::of(2, &tasks[..3]);
    assert!(all.complete());
    // During an update the old replicas still run, but are not what was asked for.
    // A run stopped for an update, on the same node, is no restart.
    let updated = vec![
        task(1, "node1", "shutdown", "shutdown", "2026-01-01T00:00:01Z"),
        task(1, "node1", "running", "running", "2026-01-01T00:00:02Z"),
    ];
    assert!(Replicas::of(1, &updated).restarts.is_empty());
    let mut updating = tasks[..3].to_vec();
    updating[0].outdated = true;
    assert_eq!(Replicas::of(2, &updating).running, 1);
}

#[test]
fn a_scaled_down_slot_is_not_a_replica() {
    let tasks = vec![
        task(1, "node1", "running", "running", "2026-01-01T00:00:05Z"),
        task(2, "node2", "shutdown", "shutdown", "2026-01-01T00:00:06Z"),
    ];
    let r = Replicas::of(1, &tasks);
    assert_eq!((r.running, r.current.len()), (1, 1));
    assert!(r.complete());
}

#[test]
fn task_problems_are_swarms_own_words_newest_first() {
    let mut failed = task(1, "node2", "failed", "shutdown", "2026-01-01T00:00:03Z");
    failed.error = "task: non-zero exit (3)".into();
    failed.exit_code = Some(3);
    let mut pending = task(2, "", "pending", "running", "2026-01-01T00:00:04Z");
    pending.error = "no suitable node (insufficient resources on 3 nodes)".into();
    pending.node_id.clear();
    assert_eq!(
        task_problem(&[failed.clone(), pending.clone()]).as_deref(),
        Some("replica 2: no suitable node (insufficient resources on 3 nodes)")
    );
    assert_eq!(
        task_problem(&[failed.clone()]).as_deref(),
        Some("replica 1 on node2: task: non-zero exit (3)")
    );
    let mut missing = failed.clone();
    missing.error = "No such image: 10.0.0.1:5000/x@sha256:aa".into();
    assert_eq!(
        task_problem(&[missing]).as_deref(),
        Some("replica 1 on node2: No such image: 10.0.0.1:5000/x@sha256:aa (exit code 3)")
    );
    let fine = task(1, "node1", "running", "running", "2026-01-01T00:00:05Z");
    assert_eq!(task_problem(&[fine]), None);
}

#[test]
fn only_an_active_manager_can_make_services() {
    let mut s = SwarmStatus {
        state: "active".into(),
        manager: true,
        ..SwarmStatus::default()
    };
    assert!(s.is_manager());
    s.manager = false;
    assert!(!s.is_manager());
    s = SwarmStatus {
        state: "inactive".into(),
        manager: true,
        ..SwarmStatus::default()
    };
    assert!(!s.is_manager());
}

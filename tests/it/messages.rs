//! What devenv says and how it ends when something outside it fails: a reader that goes
//! away, conflicts the engine reports, pulls that fail, an engine that is not there.

use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{docker, docker_lines, stderr, TestContext};

/// Wait for `child` to exit within `limit`, killing it otherwise.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_follow_ends_when_its_reader_goes_away() {
    let t = TestContext::new();
    t.manifest("[services.ticker]\ncommand = \"while true; do echo tick; sleep 0.1; done\"\n");
    t.ok(&["up"]);
    let mut child = t
        .cmd(&["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.ends_with("| tick\n"), "{first:?}");
    // The reader is gone (as `| head -1` exits): the next write fails and logs ends.
    assert_eq!(exit_within(&mut child, Duration::from_secs(10)), Some(0));
    let out = t.run(&["down"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn down_volumes_reports_what_it_removed_and_which_volume_is_left_and_why() {
    let t = TestContext::new();
    t.manifest("[container]\nvolumes = [\"data:/data\", \"more:/more\"]\n");
    t.ok(&["up"]);
    let volumes = docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label={}", t.label()),
    ]);
    let data = volumes
        .iter()
        .find(|v| v.ends_with("data"))
        .unwrap_or_else(|| panic!("{volumes:?}"))
        .clone();
    // A container that is not devenv's holds one of the project's volumes.
    let image = format!("devenv-it-holder:{}", t.name);
    t.import_base(&image);
    let holder = format!("{}-holder", t.name);
    docker(&[
        "create",
        "--name",
        &holder,
        "--label",
        &t.label(),
        "-v",
        &format!("{data}:/d"),
        &image,
        "true",
    ]);
    let out = t.run(&["down", "--volumes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("already exists"), "{err}");
    assert!(err.contains("removed container"), "{err}");
    assert!(
        err.contains("removed volume") && err.contains("more"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{data} (in use by container {holder})")),
        "{err}"
    );
    assert!(t.containers().len() == 1, "only the holder is left");
    docker(&["rm", &holder]);
    let out = t.run(&["down", "--volumes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("removed volume {data}")),
        "{}",
        stderr(&out)
    );
}

/// `up` of a project whose service image is `reference`, which is not present locally.
fn pull_failure(reference: &str) -> String {
    let t = TestContext::new();
    t.manifest(&format!("[services.db]\nimage = \"{reference}\"\n"));
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn service_pull_failures_say_why_and_what_fixes_each() {
    // Not found: a registry that has no such repository.
    let registry = crate::cache::Registry::start();
    let err = pull_failure(&format!("{}/devenv-it-no-such-repo:1", registry.addr));
    assert!(err.contains("not found") && err.contains("typo"), "{err}");
    // Unauthorized: a registry that wants credentials.
    let auth = crate::secrets::AuthRecorder::start();
    let err = pull_failure(&format!("{}/private/app:1", auth.addr));
    assert!(
        err.contains("unauthorized") && err.contains("docker login"),
        "{err}"
    );
    // Network: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = pull_failure(&format!("127.0.0.1:{port}/app:1"));
    assert!(
        err.contains("cannot be reached") && err.contains("proxy"),
        "{err}"
    );
    assert!(!err.contains("could not be pulled"), "{err}");
}

#[test]
fn down_with_a_foreign_container_on_the_network_removes_the_rest_and_says_why_it_stays() {
    let t = TestContext::new();
    t.manifest(
        "[container]\nvolumes = [\"data:/data\"]\n\
         [services.ticker]\ncommand = \"sleep 1000\"\n",
    );
    t.ok(&["up"]);
    let network = docker(&[
        "network",
        "ls",
        "--filter",
        &format!("label={}", t.label()),
        "--format",
        "{{.Name}}",
    ])
    .trim()
    .to_owned();
    assert!(!network.is_empty());
    let image = format!("devenv-it-attached:{}", t.name);
    t.import_base(&image);
    let attached = format!("{}-attached", t.name);
    docker(&[
        "run",
        "-d",
        "--name",
        &attached,
        "--label",
        &t.label(),
        "--network",
        &network,
        &image,
        "sleep",
        "1000",
    ]);
    let out = t.run(&["down", "--volumes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("removed container"), "{err}");
    assert!(err.contains("removed volume"), "{err}");
    assert!(
        err.contains(&format!("cannot remove network {network}"))
            && err.contains("active endpoints"),
        "{err}"
    );
    assert!(err.contains("hint: something else still uses it"), "{err}");
    docker(&["rm", "-f", &attached]);
    let out = t.run(&["down", "--volumes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("removed network {network}")),
        "{}",
        stderr(&out)
    );
}

/// An "engine" that answers devenv's first contact (`GET /version`) and then is gone, as an
/// engine that stops or a network that drops right after devenv connected.
fn engine_that_goes_away() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = std::io::Read::read(&mut conn, &mut buf);
        let body = r#"{"ApiVersion":"1.41","MinAPIVersion":"1.12","Version":"20.10.24","Os":"linux","Arch":"amd64"}"#;
        let _ = std::io::Write::write_all(
            &mut conn,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        // The listener and the connection close here: every later request is refused.
    });
    host
}

#[test]
fn an_engine_lost_after_the_first_contact_exits_3_naming_it() {
    let t = TestContext::new();
    t.manifest("");
    let host = engine_that_goes_away();
    let out = t
        .cmd(&["down"])
        .env("DOCKER_HOST", &host)
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CONTEXT")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("cannot reach the Docker engine at {host}"))
            && err.contains("lost while trying to"),
        "{err}"
    );
}

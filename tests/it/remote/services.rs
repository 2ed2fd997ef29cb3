//! Services on an engine that cannot see this machine's files: a service that runs from the
//! environment image shares the dev container's synced workspace instead of binding a
//! project directory the engine does not have.

use super::RemoteProject;

#[test]
fn a_service_from_the_environment_image_sees_the_synced_project() {
    let p = RemoteProject::new();
    // Ready only when the service sees the project's file: `up` fails if its workspace is
    // an empty or missing bind.
    p.t.manifest(
        "[services.worker]\ncommand = \"exec sleep 600\"\nready = \"grep -q hello data.txt\"\n\
         ready_timeout = 20\n",
    );
    p.t.write("data.txt", "hello\n");
    p.ok(&["up"]);
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let worker = &status["services"]["worker"];
    assert_eq!(worker["ready"], true, "{json}");
    assert_eq!(worker["up_to_date"], true, "{json}");
    let id = worker["id"].as_str().unwrap().to_owned();

    // An edit synced before a run reaches the service too (the same volume), and the
    // warm path keeps the service as it is.
    p.t.write("data.txt", "hello again\n");
    p.ok(&["run", "--", "true"]);
    let seen = p.e.docker(&["exec", &id, "cat", "data.txt"]);
    assert_eq!(String::from_utf8_lossy(&seen.stdout), "hello again\n");
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["services"]["worker"]["id"], id.as_str(), "{json}");

    let label = format!("label={}", p.t.label());
    assert_eq!(
        p.e.docker_lines(&["network", "ls", "-q", "--filter", &label])
            .len(),
        1,
        "the project network is not on the engine"
    );
    p.ok(&["down", "--volumes"]);
    assert!(
        p.e.docker_lines(&["network", "ls", "-q", "--filter", &label])
            .is_empty(),
        "down left the project network on the engine"
    );
}

#[test]
fn env_files_are_read_here_and_reach_the_remote_containers() {
    let p = RemoteProject::new();
    p.t.manifest(
        "[container]\nenv_file = \".env\"\n[services.worker]\ncommand = \"exec sleep 600\"\n\
         env_file = \".env.worker\"\n",
    );
    // Literal values: a `$` and quotes travel as written.
    p.t.write(".env", "GREETING=hello $USER\n");
    p.t.write(".env.worker", "ROLE='worker'\n");
    let out = p.ok(&["run", "--", "sh", "-c", "printf '%s\\n' \"$GREETING\""]);
    assert_eq!(out, "hello $USER\n");
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let id = status["services"]["worker"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let env =
        p.e.docker(&["exec", &id, "sh", "-c", "printf '%s\\n' \"$ROLE\""]);
    // `docker run --env-file` rules: quotes are part of the value.
    assert_eq!(String::from_utf8_lossy(&env.stdout), "'worker'\n");

    // An edited env file recreates the dev container with the new value.
    p.t.write(".env", "GREETING=changed\n");
    let out = p.ok(&["up"]);
    let out = out + &p.ok(&["run", "--", "sh", "-c", "printf '%s\\n' \"$GREETING\""]);
    assert!(out.ends_with("changed\n"), "{out}");
    p.ok(&["down", "--volumes"]);
}

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

    p.ok(&["down", "--volumes"]);
    let label = format!("label={}", p.t.label());
    assert!(
        p.e.docker_lines(&["network", "ls", "-q", "--filter", &label])
            .is_empty(),
        "down left the project network on the engine"
    );
}

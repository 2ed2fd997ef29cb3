//! `--json` on `up`, `down`, `build` and `restart`: the one object on stdout says what was
//! built, created, recreated, started, removed or kept, and whether anything changed.

use crate::common::{stderr, stdout, TestContext};

const WORKER: &str = r#"
[[step]]
name = "marker"
run = "echo one > /marker"

[services.worker]
command = "while true; do sleep 1; done"
"#;

/// The single JSON object a command printed on stdout.
fn object(out: &std::process::Output) -> serde_json::Value {
    let text = stdout(out);
    assert_eq!(text.lines().count(), 1, "one line on stdout: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `(action, kind, name-or-service)` of every action, in order.
fn actions(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let who = a.get("service").unwrap_or(&a["name"]);
            (
                a["action"].as_str().unwrap().to_owned(),
                a["kind"].as_str().unwrap().to_owned(),
                who.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn act(action: &str, kind: &str, who: &str) -> (String, String, String) {
    (action.into(), kind.into(), who.into())
}

#[test]
fn up_json_reports_what_it_did_and_nothing_the_second_time() {
    let t = TestContext::new();
    t.manifest(WORKER);
    let out = t.run(&["up", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = object(&out);
    assert_eq!(first["command"], "up");
    assert_eq!(first["changed"], true);
    assert!(first.get("error").is_none(), "{first}");
    assert_eq!(
        actions(&first),
        [
            act("built", "step", "marker"),
            act("created", "container", "dev"),
            act("created", "container", "worker"),
        ]
    );
    let hash = t.ok(&["hash"]);
    assert_eq!(first["hash"], hash.trim());

    let second = object(&t.run(&["up", "--json"]));
    assert_eq!(second["changed"], false, "{second}");
    assert_eq!(second["hash"], hash.trim());
    assert_eq!(
        actions(&second),
        [
            act("kept", "container", "dev"),
            act("kept", "container", "worker"),
        ]
    );

    // A changed step rebuilds it and recreates what runs the image.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("echo one", "echo two"));
    let third = object(&t.run(&["up", "--json"]));
    assert_eq!(third["changed"], true);
    assert_ne!(third["hash"], hash.trim());
    assert_eq!(
        actions(&third),
        [
            act("built", "step", "marker"),
            act("recreated", "container", "dev"),
            act("recreated", "container", "worker"),
        ]
    );

    let restarted = object(&t.run(&["restart", "--json", "worker"]));
    assert_eq!(restarted["command"], "restart");
    assert_eq!(restarted["changed"], true);
    assert_eq!(
        actions(&restarted),
        [
            act("kept", "container", "dev"),
            act("started", "container", "worker"),
        ]
    );

    let down = object(&t.run(&["down", "--json"]));
    assert_eq!(down["changed"], true);
    let removed: Vec<String> = actions(&down)
        .into_iter()
        .map(|(a, kind, _)| format!("{a} {kind}"))
        .collect();
    assert_eq!(
        removed,
        ["removed container", "removed container", "removed network"],
        "{down}"
    );
    let again = object(&t.run(&["down", "--json"]));
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["actions"], serde_json::json!([]));
}

#[test]
fn build_json_failure_carries_the_error_and_the_same_exit_status() {
    let t = TestContext::new();
    t.manifest("[[step]]\nname = \"ok\"\nrun = \"true\"\n[[step]]\nname = \"boom\"\nrun = \"echo bad >&2; exit 3\"\n");
    let plain = t.run(&["build"]);
    let out = t.run(&["build", "--json"]);
    assert_eq!(out.status.code(), plain.status.code());
    assert_ne!(out.status.code(), Some(0));
    let v = object(&out);
    assert_eq!(v["command"], "build");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("step `boom` failed"), "{error}");
    // The first step was built by the plain run; this run built nothing.
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["hash"].as_str().map(str::len), Some(64));
    // The message is on stderr as without --json.
    assert!(
        stderr(&out).contains("step `boom` failed"),
        "{}",
        stderr(&out)
    );

    t.write(
        "devenv.toml",
        &std::fs::read_to_string(t.root().join("devenv.toml"))
            .unwrap()
            .replace("exit 3", "exit 0"),
    );
    let built = object(&t.run(&["build", "--json"]));
    assert_eq!(built["changed"], true);
    assert_eq!(actions(&built), [act("built", "step", "boom")]);
    let cached = object(&t.run(&["build", "--json"]));
    assert_eq!(cached["changed"], false);
    assert_eq!(cached["hash"], built["hash"]);
}

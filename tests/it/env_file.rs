//! `[container] env_file`: read literally, as `docker run --env-file` reads it, and never
//! from the environment devenv itself runs in.

use std::collections::BTreeMap;

use crate::common::{docker, stderr, TestContext};

const ENV_FILE: &str = "# a comment\n\
    DOLLAR=a$b\n\
    BRACED=${HOSTVALUE}x\n\
    NEWLINE=x\\ny\n\
    DQ=\"quoted \\\" $b\"\n\
    SQ='single $b'\n\
    SPACES=  two  \n\
    \x20\x20INDENTED=yes\r\n";

fn ours(env: &str) -> BTreeMap<String, String> {
    env.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| {
            [
                "DOLLAR", "BRACED", "NEWLINE", "DQ", "SQ", "SPACES", "INDENTED",
            ]
            .contains(k)
        })
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn status(t: &TestContext, host: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = t.cmd(&["status", "--json"]);
    cmd.env_remove("b")
        .env_remove("HOSTVALUE")
        .envs(host.iter().copied());
    serde_json::from_slice(&cmd.output().unwrap().stdout).unwrap()
}

fn container_env(t: &TestContext, host: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut cmd = t.cmd(&["run", "--", "env"]);
    cmd.env_remove("b")
        .env_remove("HOSTVALUE")
        .envs(host.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    ours(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn env_file_values_are_literal_and_the_same_whoever_runs_devenv() {
    let t = TestContext::new();
    t.write(".env", ENV_FILE);
    t.manifest("[[step]]\nrun = \"true\"\n[container]\nenv_file = \".env\"\n");
    let mut up = t.cmd(&["up"]);
    up.env_remove("b").env_remove("HOSTVALUE");
    assert!(up.output().unwrap().status.success());
    let expected: BTreeMap<String, String> = [
        ("DOLLAR", "a$b"),
        ("BRACED", "${HOSTVALUE}x"),
        ("NEWLINE", "x\\ny"),
        ("DQ", "\"quoted \\\" $b\""),
        ("SQ", "'single $b'"),
        ("SPACES", "  two  "),
        ("INDENTED", "yes"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let host = [("b", "HOSTVALUE"), ("HOSTVALUE", "leaked")];
    assert_eq!(container_env(&t, &[]), expected);
    assert_eq!(container_env(&t, &host), expected);
    let (a, b) = (status(&t, &[]), status(&t, &host));
    assert_eq!(a["container"]["up_to_date"], true, "{a}");
    assert_eq!(b["container"]["up_to_date"], true, "{b}");
    assert_eq!(a["container"]["id"], b["container"]["id"]);

    // `export devcontainer` hands the file to `--env-file`: docker reads the same values.
    let json = t.ok(&["export", "devcontainer", "-o", "-"]);
    assert!(json.contains("\"--env-file\""), "{json}");
    let image = a["image"].as_str().unwrap();
    let env_file = t.root().join(".env");
    let docker_env = docker(&[
        "run",
        "--rm",
        "--env-file",
        env_file.to_str().unwrap(),
        image,
        "env",
    ]);
    assert_eq!(ours(&docker_env), expected);
}

#[test]
fn env_file_line_that_would_copy_the_host_environment_is_an_error_naming_it() {
    let t = TestContext::new();
    t.write(".env", "A=1\nHOSTVALUE\n");
    t.manifest("[[step]]\nrun = \"true\"\n[container]\nenv_file = \".env\"\n");
    for args in [&["up"][..], &["export", "devcontainer", "-o", "-"][..]] {
        let out = t.cmd(args).env("HOSTVALUE", "leaked").output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(".env:2"), "{err}");
        assert!(err.contains("HOSTVALUE") && err.contains("hint:"), "{err}");
    }
    assert!(t.containers().is_empty());
}

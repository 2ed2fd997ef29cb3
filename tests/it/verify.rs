//! `devenv verify`, `pack`/`load` and `diff` against the real engine: a good chain, a
//! retagged one and its restoration, a pack carried to an engine with none of the images,
//! and a truncated pack refused.

use crate::common::{docker, docker_lines, stderr, stdout, TestContext};

pub(crate) const TWO_STEPS: &str = r#"
[[step]]
name = "tools"
run = "echo tools > /tools"
[[step]]
name = "app"
inputs = ["app.txt"]
run = "cp app.txt /app.txt"
"#;

fn project() -> (TestContext, String) {
    let t = TestContext::new();
    t.manifest(TWO_STEPS);
    t.write("app.txt", "version 1\n");
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    (t, hash)
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
        .trim()
        .to_owned()
}

/// What a hand-made `docker commit` over an image tag does.
fn commit_over(t: &TestContext, reference: &str) {
    let name = format!("{}-retag", t.name);
    docker(&[
        "create", "--name", &name, reference, "/bin/sh", "-c", "true",
    ]);
    docker(&["commit", &name, reference]);
    docker(&["rm", "-f", &name]);
}

#[test]
fn verify_holds_for_a_fresh_build() {
    let (t, hash) = project();
    let out = t.run(&["verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let line = stdout(&out);
    assert!(line.starts_with("ok: "), "{line}");
    assert!(line.contains(&hash), "{line}");
    let json = t.ok(&["verify", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["hash"], hash);
    assert_eq!(v["chain"]["layers"].as_array().unwrap().len(), 3);
    let id = image_id(&format!("devenv/layer:{hash}"));
    assert_eq!(v["id"], id);
}

#[test]
fn final_tag_committed_over_is_caught_and_restored_by_up() {
    let (t, hash) = project();
    let fin = format!("devenv/{}:{hash}", t.name);
    let genuine = image_id(&format!("devenv/layer:{hash}"));
    commit_over(&t, &fin);
    assert_ne!(image_id(&fin), genuine);
    let out = t.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let line = stdout(&out);
    assert!(line.starts_with("broken: final tag"), "{line}");
    assert!(line.contains("retagged"), "{line}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&t.run(&["verify", "--json"]))).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["chain"]["broken"]["step"], "final tag");
    // `up` does not use the retagged image: it restores the tag, saying so.
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("restored"), "{}", stderr(&out));
    assert_eq!(image_id(&fin), genuine);
    let container = t.containers().pop().expect("the environment container");
    let runs = docker(&["inspect", "--format", "{{.Image}}", &container]);
    assert_eq!(runs.trim(), genuine);
    t.ok(&["verify"]);
}

#[test]
fn layer_committed_over_is_caught_and_build_restores_it() {
    let (t, hash) = project();
    let layer = format!("devenv/layer:{hash}");
    let genuine = image_id(&layer);
    commit_over(&t, &layer);
    let out = t.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let line = stdout(&out);
    assert!(line.starts_with("broken: step `app`"), "{line}");
    assert!(line.contains("retagged"), "{line}");
    let out = t.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("restored"), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 steps run"), "{}", stderr(&out));
    assert_eq!(image_id(&layer), genuine);
    t.ok(&["verify"]);
}

#[test]
fn another_image_tagged_as_a_layer_is_built_again() {
    let (t, hash) = project();
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["verify", "--json"])).unwrap();
    let config_key = json["chain"]["layers"][0]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let layer = format!("devenv/layer:{hash}");
    docker(&["tag", &format!("devenv/layer:{config_key}"), &layer]);
    let out = t.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("another image is tagged under this key"),
        "{}",
        stdout(&out)
    );
    let out = t.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("building it again"), "{err}");
    assert!(err.contains("1 step run, 1 cached"), "{err}");
    t.ok(&["verify"]);
}

#[test]
fn pack_remove_everything_load_then_up_locked_builds_nothing() {
    let (t, hash) = project();
    let pack = t.root().join("env.devenv.tar");
    let pack_s = pack.to_str().unwrap();
    let out = t.run(&["pack", "-o", pack_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    t.ok(&["verify", "--against", pack_s]);
    let layer_id = image_id(&format!("devenv/layer:{hash}"));
    // Every image of the environment goes, the base included.
    remove_all_images(&t);
    assert!(
        docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]).is_empty()
    );
    let out = t.run(&["load", pack_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), hash);
    assert_eq!(image_id(&format!("devenv/layer:{hash}")), layer_id);
    let out = t.run(&["up", "--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("running"), "{err}");
    assert!(err.contains("step 2/2 app: cached"), "{err}");
    assert_eq!(t.ok(&["run", "--", "cat", "/app.txt"]), "version 1\n");
    t.ok(&["verify"]);
}

fn remove_all_images(t: &TestContext) {
    for c in t.containers() {
        docker(&["rm", "-f", &c]);
    }
    for _ in 0..3 {
        for id in docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]) {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", &id])
                .output();
        }
    }
}

#[test]
fn truncated_or_altered_pack_is_refused_and_loads_nothing() {
    let (t, _hash) = project();
    let pack = t.root().join("env.devenv.tar");
    t.ok(&["pack", "-o", pack.to_str().unwrap()]);
    let bytes = std::fs::read(&pack).unwrap();
    remove_all_images(&t);
    let truncated = t.root().join("truncated.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut altered = bytes.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x55;
    let altered_path = t.root().join("altered.tar");
    std::fs::write(&altered_path, &altered).unwrap();
    for file in [&truncated, &altered_path] {
        let out = t.run(&["load", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("truncated or altered"),
            "{}",
            stderr(&out)
        );
        assert!(
            docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]).is_empty(),
            "a refused pack loaded images"
        );
    }
    // The intact one still loads.
    t.ok(&["load", pack.to_str().unwrap()]);
}

#[test]
fn diff_of_two_builds_names_the_input_file_and_the_changed_files() {
    let (t, first) = project();
    t.write("app.txt", "version 2, longer\n");
    t.ok(&["build"]);
    let second = t.ok(&["hash"]).trim().to_owned();
    assert_ne!(first, second);
    let text = t.ok(&["diff", &first, "."]);
    assert!(text.contains("step `app`: input app.txt changed"), "{text}");
    assert!(!text.contains("step `tools`"), "{text}");
    assert!(
        text.contains("~ /app.txt (content, 10 → 18 bytes)"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&t.ok(&[
        "diff",
        "--json",
        &format!("devenv/{}:{first}", t.name),
        &second,
    ]))
    .unwrap();
    assert_eq!(json["same"], false);
    let inputs = json["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{json}");
    assert_eq!(inputs[0]["layer"], "step `app`");
    assert_eq!(inputs[0]["changes"][0], "input app.txt changed");
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{json}");
    assert_eq!(files[0]["layer"], "step `app`");
    let changed: Vec<&str> = files[0]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        [
            "/app.txt (content, 10 → 18 bytes)",
            "/workspace/app.txt (content, 10 → 18 bytes)"
        ]
    );
    // A pack compares like the image it holds.
    let pack = t.root().join("second.devenv.tar");
    t.ok(&["pack", "-o", pack.to_str().unwrap()]);
    let same = t.ok(&["diff", pack.to_str().unwrap(), "."]);
    assert!(same.contains("same environment"), "{same}");
}

#[test]
fn verify_against_a_registry_copy_holds_for_the_pushed_image_and_not_for_another() {
    let registry = crate::cache::Registry::start();
    let cache = format!("{}/devenv-it-verify", registry.addr);
    let t = TestContext::new();
    t.manifest(&format!("{TWO_STEPS}[cache]\nregistry = \"{cache}\"\n"));
    t.write("app.txt", "version 1\n");
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    t.ok(&["push"]);
    let out = t.run(&["verify", "--against", &cache]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // Someone pushes another image under the same hash: the registry copy is not ours.
    let remote = format!("{cache}:{hash}");
    let name = format!("{}-other", t.name);
    docker(&[
        "create",
        "--name",
        &name,
        &format!("devenv/layer:{hash}"),
        "/bin/sh",
        "-c",
        "true",
    ]);
    docker(&["commit", &name, &remote]);
    docker(&["rm", "-f", &name]);
    docker(&["push", &remote]);
    docker(&["rmi", &remote]);
    let out = t.run(&["verify", "--against", &cache, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    // Nothing pulled for the comparison is left behind.
    assert!(docker_lines(&["images", "-q", &remote]).is_empty());
}

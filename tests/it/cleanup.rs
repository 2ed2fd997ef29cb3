//! One documented way to remove everything a project made on the engine: `devenv down
//! --volumes`, then `devenv prune --current` (issue #24).

use crate::common::{docker_lines, stderr, TestContext};

#[test]
fn down_volumes_then_prune_current_leaves_nothing_of_the_project() {
    let t = TestContext::new();
    t.manifest(
        r#"
[[step]]
name = "one"
run = "echo 1 > /one"

[container]
volumes = ["cache:/cache"]
"#,
    );
    t.ok(&["up"]);
    let hash = t.ok(&["hash"]);
    // While the environment runs, its image stays and prune says why.
    let out = t.run(&["prune", "--current"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("devenv down --volumes"),
        "{}",
        stderr(&out)
    );
    t.ok(&["down", "--volumes"]);
    // Plain prune keeps the current chain, as documented.
    t.ok(&["prune"]);
    assert!(!docker_lines(&[
        "images",
        "-q",
        &format!("devenv/{}:{}", t.name, hash.trim())
    ])
    .is_empty());
    let out = t.run(&["prune", "--current"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let label = format!("label={}", t.label());
    assert_eq!(
        docker_lines(&["images", "-q", "--filter", &label]),
        Vec::<String>::new()
    );
    assert_eq!(
        docker_lines(&["ps", "-aq", "--filter", &label]),
        Vec::<String>::new()
    );
    assert_eq!(
        docker_lines(&["volume", "ls", "-q", "--filter", &label]),
        Vec::<String>::new()
    );
    assert_eq!(
        docker_lines(&["network", "ls", "-q", "--filter", &label]),
        Vec::<String>::new()
    );
}

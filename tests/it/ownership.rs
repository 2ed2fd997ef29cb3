//! devenv touches only what it made: prune and the container-name conflict leave alone
//! images and containers that merely inherited devenv's labels; prune is scoped by project
//! identity, not name; build containers are judged live from the engine, not from a lock
//! file another session cannot see; and `export --force` removes only what an earlier export
//! wrote.

use crate::common::{stderr, TestContext};

#[test]
fn export_force_into_the_project_keeps_the_users_steps_and_base_files() {
    let t = TestContext::new();
    t.manifest("[[step]]\ninputs = [\"tools\"]\nrun = \"true\"\n");
    t.write("tools/a.sh", "echo a\n");
    t.write("tools/b.sh", "echo b\n");
    t.write("steps/notes.md", "mine\n");
    t.write("steps/1/tools/mine.sh", "my own\n");
    t.write("base/keep.txt", "mine too\n");
    t.ok(&["export", "dockerfile", "-o", ".", "--force"]);
    assert!(t.root().join("steps/1/tools/a.sh").exists());
    assert!(t.root().join("steps/1/tools/b.sh").exists());
    // The input b.sh goes away: the next export drops its copy, and nothing of the user's.
    std::fs::remove_file(t.root().join("tools/b.sh")).unwrap();
    let out = t.run(&["export", "dockerfile", "-o", ".", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.root().join("steps/1/tools/a.sh").exists());
    assert!(!t.root().join("steps/1/tools/b.sh").exists());
    for (rel, content) in [
        ("steps/notes.md", "mine\n"),
        ("steps/1/tools/mine.sh", "my own\n"),
        ("base/keep.txt", "mine too\n"),
        ("tools/a.sh", "echo a\n"),
    ] {
        let got = std::fs::read_to_string(t.root().join(rel));
        assert_eq!(got.ok().as_deref(), Some(content), "{rel}");
    }
}

//! `devenv init` (detection, flags, never prompting off a terminal, prompting through a
//! pty, the generic template building on a local base), and the committed completion
//! scripts and man page being current.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{busybox_rootfs, stderr, stdout, PtySession, TestContext};

const TEMPLATES: &[&str] = &["rust", "go", "node", "python", "generic"];

fn manifest(t: &TestContext) -> String {
    std::fs::read_to_string(t.root().join("devenv.toml")).unwrap()
}

#[test]
fn list_shows_every_template_on_stdout() {
    let t = TestContext::new();
    let out = t.ok(&["init", "--list"]);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, TEMPLATES);
    assert!(!t.root().join("devenv.toml").exists());
}

#[test]
fn every_template_written_by_init_validates() {
    for name in TEMPLATES {
        let t = TestContext::new();
        let out = t.run(&["init", "--template", name, "--yes"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(
            manifest(&t).contains(&format!("devenv init --template {name}`")),
            "{name}"
        );
        let out = t.run(&["validate"]);
        assert!(
            out.status.success(),
            "{name}: {}\n{}",
            stderr(&out),
            manifest(&t)
        );
        assert!(stderr(&out).contains("is valid"), "{name}");
    }
}

#[test]
fn init_in_each_project_kind_picks_its_template() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("Cargo.toml", "[package]\nname = \"x\"\n"),
                ("Cargo.lock", ""),
            ],
            "rust",
        ),
        (
            &[("package.json", "{}\n"), ("package-lock.json", "{}\n")],
            "node",
        ),
        (&[("pyproject.toml", "[project]\nname = \"x\"\n")], "python"),
        (&[("requirements.txt", "requests\n")], "python"),
        (&[("go.mod", "module x\n"), ("go.sum", "")], "go"),
        (&[("README.md", "hi\n")], "generic"),
    ];
    for (files, expected) in cases {
        let t = TestContext::new();
        for (path, content) in *files {
            t.write(path, content);
        }
        // No flags and stdin not a terminal: detected defaults, no questions.
        let out = t.cmd(&["init"]).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{expected}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("from the `{expected}` template")),
            "{expected}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "stdout is for data only");
        let text = manifest(&t);
        assert!(
            text.contains(&format!("devenv init --template {expected}`")),
            "{text}"
        );
        // The detected dependency files are the step's inputs.
        for (path, _) in files.iter().filter(|(p, _)| *p != "README.md") {
            assert!(
                text.contains(&format!("\"{path}\"")),
                "{expected}: {path} in\n{text}"
            );
        }
        t.ok(&["validate"]);
        let gitignore = std::fs::read_to_string(t.root().join(".gitignore")).unwrap();
        assert_eq!(gitignore.lines().filter(|l| *l == ".devenv/").count(), 1);
    }
}

#[test]
fn init_without_a_terminal_never_waits_for_input() {
    let t = TestContext::new();
    t.write("package.json", "{}\n");
    // stdin stays open and silent: a prompt would hang here.
    let mut child = t
        .cmd(&["init"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`devenv init` without a terminal waited for input");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(manifest(&t).contains("image = \"node:22-bookworm-slim\""));
}

#[test]
fn flags_answer_the_questions() {
    let t = TestContext::new();
    t.write("go.mod", "module x\n");
    t.ok(&[
        "init",
        "--template",
        "node",
        "--base",
        "node:20-bookworm-slim",
        "--ports",
        "5173, 127.0.0.1:9229:9229",
        "--name",
        "front-end",
    ]);
    let text = manifest(&t);
    assert!(text.contains("name = \"front-end\"\n"), "{text}");
    assert!(text.contains("image = \"node:20-bookworm-slim\"\n"));
    assert!(text.contains("ports = [\"5173:5173\", \"127.0.0.1:9229:9229\"]"));
    // No npm files at all: the inputs stay as they are, so the build names what is missing.
    assert!(
        text.contains("inputs = [\"package.json\", \"package-lock.json\"]"),
        "{text}"
    );
    t.ok(&["validate"]);
}

#[test]
fn an_existing_manifest_needs_force() {
    let t = TestContext::new();
    t.write("devenv.toml", "# mine\n");
    let out = t.run(&["init", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: devenv.toml already exists\nhint: edit it, or pass --force to replace it with a new one\n"
    );
    assert_eq!(manifest(&t), "# mine\n");
    t.ok(&["init", "--yes", "--force"]);
    assert!(manifest(&t).contains("[base]"));
}

#[test]
fn gitignore_gets_the_state_directory_once() {
    let t = TestContext::new();
    t.write(".gitignore", "target");
    t.ok(&["init", "--yes"]);
    assert_eq!(
        std::fs::read_to_string(t.root().join(".gitignore")).unwrap(),
        "target\n# devenv's local state (build records, caches)\n.devenv/\n"
    );
    t.ok(&["init", "--yes", "--force"]);
    let text = std::fs::read_to_string(t.root().join(".gitignore")).unwrap();
    assert_eq!(text.matches(".devenv/").count(), 1, "{text}");
}

#[test]
fn bad_answers_are_reported_and_nothing_is_written() {
    let t = TestContext::new();
    let out = t.run(&["init", "--template", "pyhton", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown template `pyhton`"));
    assert!(stderr(&out).contains("did you mean `python`?"));
    let out = t.run(&["init", "--yes", "--ports", "http"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("devenv.toml not written"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("http"), "{}", stderr(&out));
    assert!(!t.root().join("devenv.toml").exists());
    assert!(!t.root().join(".gitignore").exists());
}

/// The generic template as written, on a local busybox base instead of Debian (nothing can
/// be pulled here). Its steps are POSIX sh that skip package managers the base lacks.
#[test]
fn generic_template_builds_and_runs_on_a_local_base() {
    let t = TestContext::new();
    t.ok(&["init", "--template", "generic", "--yes", "--name", &t.name]);
    let text = manifest(&t);
    let image_line = "image = \"debian:bookworm-slim\"\n";
    assert_eq!(text.matches(image_line).count(), 1);
    t.write(
        "devenv.toml",
        &text.replace(image_line, "rootfs = \"base.tar\"\n"),
    );
    std::fs::write(t.root().join("base.tar"), busybox_rootfs(&t.name)).unwrap();
    let out = t.run(&["run", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("system packages"), "{}", stderr(&out));
    let out = t.run(&["run", "--", "sh", "-c", "echo $LANG"]);
    assert_eq!(stdout(&out), "C.UTF-8\n");
}

/// Run `devenv init` in a pty and give `answers` to the prompts that show `questions`.
fn init_in_pty(t: &TestContext, color: bool, dialogue: &[(&str, &str)]) -> u32 {
    let env: &[(&str, &str)] = if color { &[] } else { &[("NO_COLOR", "1")] };
    let mut pty = PtySession::spawn(t, &["init"], env);
    for (question, answer) in dialogue {
        pty.expect(question);
        std::thread::sleep(Duration::from_millis(100));
        pty.send(&format!("{answer}\r"));
    }
    pty.expect("wrote devenv.toml");
    pty.wait()
}

#[test]
fn interactive_init_through_a_pty_accepts_the_detected_defaults() {
    let t = TestContext::new();
    t.write("package.json", "{}\n");
    let code = init_in_pty(
        &t,
        false,
        &[
            ("(detected package.json)", ""),
            ("Base image", ""),
            ("Ports", ""),
        ],
    );
    assert_eq!(code, 0);
    let text = manifest(&t);
    assert!(text.contains("devenv init --template node`"), "{text}");
    assert!(text.contains("image = \"node:22-bookworm-slim\""));
    assert!(text.contains("ports = [\"127.0.0.1:3000:3000\"]"), "{text}");
    t.ok(&["validate"]);
}

#[test]
fn interactive_init_through_a_pty_takes_typed_answers() {
    let t = TestContext::new();
    t.write("go.mod", "module x\n");
    let code = init_in_pty(
        &t,
        true,
        &[
            ("(detected go.mod)", ""),
            ("Base image", "golang:1.24-bookworm"),
            ("Ports", "9000, 127.0.0.1:6060:6060"),
        ],
    );
    assert_eq!(code, 0);
    let text = manifest(&t);
    assert!(text.contains("image = \"golang:1.24-bookworm\""), "{text}");
    assert!(text.contains("ports = [\"9000:9000\", \"127.0.0.1:6060:6060\"]"));
    t.ok(&["validate"]);
}

/// The committed completion scripts and man page match what the binary generates now.
/// Regenerate them with:
///     DEVENV_UPDATE_GENERATED=1 cargo test --test it -- init::generated_files_are_current
#[test]
fn generated_files_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("DEVENV_UPDATE_GENERATED").is_some_and(|v| v == "1");
    let t = TestContext::new();
    let files: &[(&[&str], &str)] = &[
        (&["completions", "bash"], "completions/devenv.bash"),
        (&["completions", "zsh"], "completions/_devenv"),
        (&["completions", "fish"], "completions/devenv.fish"),
        (&["man"], "man/devenv.1"),
    ];
    let mut stale = Vec::new();
    for (args, rel) in files {
        let out = t.run(args);
        assert!(out.status.success(), "devenv {args:?}: {}", stderr(&out));
        assert!(!out.stdout.is_empty());
        let path = root.join(rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &out.stdout).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(out.stdout.as_slice()) {
            stale.push(*rel);
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; regenerate with\n  DEVENV_UPDATE_GENERATED=1 cargo test --test it \
         -- init::generated_files_are_current"
    );
    // The bash script is at least valid bash.
    let check = std::process::Command::new("bash")
        .args([
            "-n",
            &root.join("completions/devenv.bash").to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
}

use std::path::Path;

use super::*;
use crate::manifest::{self, BaseSource, VolumeSpec};

fn parse(text: &str, root: &Path) -> manifest::Manifest {
    manifest::parse_str(text, Path::new("devenv.toml"), root).unwrap_or_else(|e| {
        panic!("does not parse:\n{}\n{text}", e.render(false));
    })
}

fn choices(template: &'static Template) -> Choices {
    Choices {
        template,
        name: "demo".into(),
        base: template.default_base(),
        ports: template.default_ports(),
    }
}

#[test]
fn every_template_parses_and_validates_as_shipped() {
    let dir = tempfile::tempdir().unwrap();
    for t in TEMPLATES {
        let m = parse(t.text, dir.path());
        assert_eq!(m.name, "my-project", "{}", t.name);
        let BaseSource::Image(image) = &m.base.source else {
            panic!("{}: base is not an image", t.name);
        };
        assert_eq!(image.raw, t.default_base(), "{}", t.name);
        assert!(
            image.tag.is_some(),
            "{}: base must be pinned by tag",
            t.name
        );
        assert!(!m.steps.is_empty(), "{}: no steps", t.name);
        assert!(
            m.steps.iter().all(|s| !s.name.starts_with("step ")),
            "{}: every step is named",
            t.name
        );
        assert!(
            t.text.starts_with("# devenv.toml"),
            "{}: starts with a comment",
            t.name
        );
    }
}

#[test]
fn language_templates_split_dependencies_cache_builds_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["rust", "node", "python", "go"] {
        let m = parse(template(name).unwrap().text, dir.path());
        let deps = m.steps.iter().find(|s| s.name == "dependencies").unwrap();
        assert!(
            !deps.inputs.is_empty(),
            "{name}: dependency step has inputs"
        );
        assert!(
            deps.inputs
                .iter()
                .all(|i| (!i.contains('*') || i == "requirements/*.txt") && !i.starts_with("src")),
            "{name}: only dependency files are inputs: {:?}",
            deps.inputs
        );
        // The dependency step is the last one with inputs, so a code-only edit rebuilds nothing.
        assert!(
            m.steps.iter().filter(|s| !s.inputs.is_empty()).count() == 1,
            "{name}"
        );
        assert!(
            m.container
                .volumes
                .iter()
                .any(|v| matches!(v, VolumeSpec::Named { .. })),
            "{name}: a named volume for build caches"
        );
        assert!(!m.watch.is_empty(), "{name}: watch rules");
    }
}

#[test]
fn defaults_come_from_the_template_text() {
    assert_eq!(
        template("rust").unwrap().default_base(),
        "rust:1.95-slim-bookworm"
    );
    assert_eq!(
        template("node").unwrap().default_ports(),
        vec!["127.0.0.1:3000:3000"]
    );
    assert_eq!(
        template("python").unwrap().default_ports(),
        vec!["127.0.0.1:8000:8000"]
    );
    assert!(template("generic").unwrap().default_ports().is_empty());
}

#[test]
fn render_fills_in_name_base_and_ports_and_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let t = template("node").unwrap();
    let mut c = choices(t);
    c.name = "shop \"api\"".into();
    c.base = "node:20-bookworm-slim".into();
    c.ports = vec!["5173:5173".into(), "127.0.0.1:9229:9229".into()];
    std::fs::write(dir.path().join("package.json"), "{}").unwrap();
    std::fs::write(dir.path().join("package-lock.json"), "{}").unwrap();
    let r = render(&c, dir.path());
    assert!(r.left_out.is_empty());
    assert!(
        r.text.contains("name = \"shop \\\"api\\\"\"\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains("image = \"node:20-bookworm-slim\"\n"));
    assert!(r
        .text
        .contains("ports = [\"5173:5173\", \"127.0.0.1:9229:9229\"]\n"));
    let comments = |s: &str| {
        s.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    assert_eq!(comments(&r.text), comments(t.text));
    // Quoted safely; the parser then judges the name itself.
    assert!(manifest::parse_str(&r.text, Path::new("devenv.toml"), dir.path()).is_err());
    c.name = "shop-api".into();
    let m = parse(&render(&c, dir.path()).text, dir.path());
    assert_eq!(m.name, "shop-api");
    assert_eq!(m.container.ports.len(), 2);
    // Unchanged choices reproduce the template except for the name.
    let r = render(&choices(t), dir.path());
    assert_eq!(r.text.replace("\"demo\"", "\"my-project\""), t.text);
}

#[test]
fn render_keeps_the_comment_after_a_replaced_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = choices(template("rust").unwrap());
    c.ports = vec!["8080:8080".into()];
    let r = render(&c, dir.path());
    let line = r.text.lines().find(|l| l.starts_with("ports")).unwrap();
    assert_eq!(
        line,
        "ports = [\"8080:8080\"]                         # e.g. [\"8080:8080\"]"
    );
}

#[test]
fn render_with_no_ports_writes_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = choices(template("go").unwrap());
    c.ports.clear();
    let r = render(&c, dir.path());
    assert!(r.text.contains("ports = []"));
    assert!(parse(&r.text, dir.path()).container.ports.is_empty());
}

#[test]
fn render_leaves_out_dependency_files_the_project_lacks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
    let r = render(&choices(template("rust").unwrap()), dir.path());
    assert_eq!(r.left_out, vec!["Cargo.lock"]);
    let m = parse(&r.text, dir.path());
    let deps = m.steps.iter().find(|s| s.name == "dependencies").unwrap();
    assert_eq!(deps.inputs, vec!["Cargo.toml"]);
    assert!(r
        .text
        .contains("# Left out, the project has none yet (add if you create them): Cargo.lock\n"));
    // With the lockfile present, both are inputs.
    std::fs::write(dir.path().join("Cargo.lock"), "").unwrap();
    let r = render(&choices(template("rust").unwrap()), dir.path());
    assert!(r.left_out.is_empty());
    assert!(r.text.contains("inputs = [\"Cargo.toml\", \"Cargo.lock\"]"));
}

#[test]
fn render_keeps_every_input_when_none_exists() {
    // Forcing a template onto an empty directory: the build will name the missing file.
    let dir = tempfile::tempdir().unwrap();
    let r = render(&choices(template("go").unwrap()), dir.path());
    assert!(r.left_out.is_empty());
    assert!(r.text.contains("inputs = [\"go.mod\", \"go.sum\"]"));
}

#[test]
fn detects_each_project_kind() {
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&["Cargo.toml"], "rust", Some("Cargo.toml")),
        (&["package.json"], "node", Some("package.json")),
        (&["pyproject.toml"], "python", Some("pyproject.toml")),
        (&["requirements.txt"], "python", Some("requirements.txt")),
        (&["go.mod"], "go", Some("go.mod")),
        (&["README.md"], "generic", None),
        (&[], "generic", None),
        // A Rust service with a JavaScript front end is a Rust project first.
        (&["package.json", "Cargo.toml"], "rust", Some("Cargo.toml")),
    ];
    for (files, expected, evidence) in cases {
        let dir = tempfile::tempdir().unwrap();
        for f in *files {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let d = detect(dir.path());
        assert_eq!(d.template.name, *expected, "{files:?}");
        assert_eq!(d.evidence, *evidence, "{files:?}");
    }
    // A directory named like a marker is not one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("go.mod")).unwrap();
    assert_eq!(detect(dir.path()).template.name, "generic");
}

#[test]
fn unknown_template_suggests_the_closest() {
    let err = template("pyhton").unwrap_err();
    assert!(matches!(
        err,
        InitError::UnknownTemplate {
            suggestion: Some("python"),
            ..
        }
    ));
    assert!(err.hint().unwrap().contains("`python`"));
    let err = template("cobol").unwrap_err();
    assert!(matches!(
        err,
        InitError::UnknownTemplate {
            suggestion: None,
            ..
        }
    ));
}

#[test]
fn ports_parse_from_commas_spaces_and_bare_numbers() {
    assert_eq!(
        parse_ports("3000, 8080:80  127.0.0.1:5432:5432/tcp"),
        vec!["3000:3000", "8080:80", "127.0.0.1:5432:5432/tcp"]
    );
    assert!(parse_ports("").is_empty());
    assert!(parse_ports(" , ").is_empty());
}

#[test]
fn gitignore_is_created_appended_and_never_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitignore");
    assert_eq!(
        ensure_gitignored(dir.path()).unwrap(),
        GitignoreChange::Created
    );
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.lines().any(|l| l == ".devenv/"));
    assert_eq!(
        ensure_gitignored(dir.path()).unwrap(),
        GitignoreChange::AlreadyIgnored
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);

    std::fs::write(&path, "target").unwrap();
    assert_eq!(
        ensure_gitignored(dir.path()).unwrap(),
        GitignoreChange::Appended
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("target\n"), "{text:?}");
    assert!(text.ends_with(".devenv/\n"));

    for already in ["/.devenv\n", "node_modules\n  .devenv  \n"] {
        std::fs::write(&path, already).unwrap();
        assert_eq!(
            ensure_gitignored(dir.path()).unwrap(),
            GitignoreChange::AlreadyIgnored
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), already);
    }
}

#[test]
fn an_existing_manifest_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devenv.toml");
    std::fs::write(&path, "mine").unwrap();
    assert!(matches!(
        check_target(&path, false),
        Err(InitError::Exists { .. })
    ));
    assert!(matches!(
        write_manifest(&path, "new", false),
        Err(InitError::Exists { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    check_target(&path, true).unwrap();
    write_manifest(&path, "new", true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
}

#[test]
fn every_step_and_hook_is_valid_sh_and_multiline_steps_stop_at_the_first_error() {
    let dir = tempfile::tempdir().unwrap();
    for t in TEMPLATES {
        let m = parse(t.text, dir.path());
        let hooks = [&m.hooks.on_create, &m.hooks.on_start];
        let scripts = m
            .steps
            .iter()
            .map(|s| &s.run)
            .chain(hooks.into_iter().flatten());
        for script in scripts {
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", script])
                .output();
            let out = out.expect("sh runs");
            assert!(
                out.status.success(),
                "{}: {script}\n{}",
                t.name,
                String::from_utf8_lossy(&out.stderr)
            );
            if script.trim_end().contains('\n') {
                assert!(script.starts_with("set -e\n"), "{}: {script}", t.name);
            }
        }
    }
}

/// Directories on PATH in the templates' base images (official rust, golang, node, python
/// and debian images) and in the templates' own `[env] PATH`.
const BASE_PATH_DIRS: &[&str] = &[
    "/usr/local/cargo/bin",
    "/go/bin",
    "/usr/local/go/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// What the templates' variables stand for in their base images.
const TEMPLATE_VARS: &[(&str, &str)] = &[
    ("\"$CARGO_HOME\"", "/usr/local/cargo"),
    ("$CARGO_HOME", "/usr/local/cargo"),
    ("\"$(go env GOMODCACHE)\"", "/go/pkg/mod"),
    ("\"$(go env GOPATH)\"", "/go"),
    ("\"$NPM_CONFIG_CACHE\"", "/opt/npm-cache"),
];

/// Whether a chmod mode lets others (not owner, not group) write.
fn grants_others_write(mode: &str) -> bool {
    if mode.chars().all(|c| c.is_ascii_digit()) {
        return mode
            .chars()
            .last()
            .and_then(|c| c.to_digit(8))
            .is_some_and(|d| d & 2 != 0);
    }
    mode.split(',').any(|clause| {
        let (who, perms) = clause.split_at(clause.find(['+', '=']).unwrap_or(clause.len()));
        (who.is_empty() || who.contains(['a', 'o']))
            && perms.starts_with(['+', '='])
            && perms.contains('w')
    })
}

/// The `chmod` (and `mkdir -m`) calls of a script that open a directory to others, as
/// (recursive, targets with the template variables resolved).
fn world_writable_targets(script: &str) -> Vec<(bool, Vec<String>)> {
    let mut found = Vec::new();
    for line in script.lines() {
        let mut line = line.to_owned();
        for (var, value) in TEMPLATE_VARS {
            line = line.replace(var, value);
        }
        for command in line.split(['&', ';', '|']) {
            let words: Vec<&str> = command.split_whitespace().collect();
            let (recursive, mode, targets) = match words.as_slice() {
                ["chmod", rest @ ..] => {
                    let recursive = rest.contains(&"-R");
                    let mut rest = rest.iter().filter(|w| !w.starts_with('-'));
                    let Some(mode) = rest.next() else { continue };
                    (recursive, *mode, rest.copied().collect::<Vec<_>>())
                }
                ["mkdir", rest @ ..] if rest.contains(&"-m") => {
                    let i = rest.iter().position(|w| *w == "-m").unwrap();
                    let mode = rest.get(i + 1).copied().unwrap_or_default();
                    let targets = rest.iter().skip(i + 2).filter(|w| !w.starts_with('-'));
                    (false, mode, targets.copied().collect())
                }
                _ => continue,
            };
            if grants_others_write(mode) {
                found.push((
                    recursive,
                    targets
                        .iter()
                        .map(|t| t.trim_matches('"').to_owned())
                        .collect(),
                ));
            }
        }
    }
    found
}

#[test]
fn no_template_makes_a_directory_on_path_writable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    for t in TEMPLATES {
        let m = parse(t.text, dir.path());
        let mut path_dirs: Vec<String> = BASE_PATH_DIRS.iter().map(|d| (*d).to_owned()).collect();
        if let Some(path) = m.env.get("PATH") {
            path_dirs.extend(path.split(':').map(str::to_owned));
        }
        for step in &m.steps {
            for (recursive, targets) in world_writable_targets(&step.run) {
                for target in targets {
                    assert!(
                        !target.contains('$') && !target.contains('{'),
                        "{}: step `{}` opens {target}, which this test cannot resolve: \
                         add it to TEMPLATE_VARS",
                        t.name,
                        step.name
                    );
                    // Relative targets are under the workdir (/workspace), never on PATH.
                    if !target.starts_with('/') {
                        continue;
                    }
                    let target = target.trim_end_matches('/');
                    for p in &path_dirs {
                        let covers =
                            p == target || (recursive && p.starts_with(&format!("{target}/")));
                        assert!(
                            !covers,
                            "{}: step `{}` makes {p} (on PATH) writable by others",
                            t.name, step.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_path_check_sees_what_the_old_templates_did() {
    assert!(grants_others_write("a+rwX"));
    assert!(grants_others_write("1777"));
    assert!(grants_others_write("o+w"));
    assert!(grants_others_write("+w"));
    assert!(!grants_others_write("go-w"));
    assert!(!grants_others_write("g+rwX"));
    assert!(!grants_others_write("755"));
    assert_eq!(
        world_writable_targets("set -e\nchmod -R a+rwX \"$CARGO_HOME\"\nmkdir -m 1777 -p /opt/x"),
        vec![
            (true, vec!["/usr/local/cargo".to_owned()]),
            (false, vec!["/opt/x".to_owned()])
        ]
    );
    assert_eq!(
        world_writable_targets("mkdir -p target && chmod 1777 target"),
        vec![(false, vec!["target".to_owned()])]
    );
}

#[test]
fn a_glob_input_whose_directory_the_project_lacks_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "x\n").unwrap();
    let inputs: Vec<String> = ["requirements.txt", "requirements/*.txt"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(
        render::missing_inputs_for_tests(dir.path(), &inputs),
        ["requirements/*.txt"]
    );
    std::fs::create_dir(dir.path().join("requirements")).unwrap();
    assert!(render::missing_inputs_for_tests(dir.path(), &inputs).is_empty());
}

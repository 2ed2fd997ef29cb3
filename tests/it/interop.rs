//! Export and import: the exported Dockerfile built by plain `docker build` against devenv's
//! own image, the exported devcontainer.json, and a corpus of devcontainer.json files
//! (tests/fixtures/devcontainer) imported, validated and, image-based ones, brought up on a
//! local busybox base.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{busybox_rootfs, docker, stderr, stdout, TestContext};

const EXPORT_MANIFEST: &str = r#"
[env]
GREETING = "hello"
LITERAL = "costs $5 \"quoted\" \\ back"
[[step]]
name = "first"
run = "echo \"$GREETING $STEP_ONLY\" > /one && mkdir -p /opt/data"
env = { STEP_ONLY = "it's step-only" }
[[step]]
name = "inputs"
inputs = ["scripts", "config/app.conf"]
run = """
sh scripts/setup.sh > /two
cat config/app.conf >> /two
stat -c '%n %a %s' scripts/* scripts/lib/* > /opt/data/listing
"""
[[step]]
name = "as nobody"
user = "65534"
run = "id -u > /tmp/uid && touch /tmp/made-by-nobody"
[shell]
workdir = "/src/app"
"#;

/// A project whose steps exercise env, inputs (exec bit, nested dirs, a symlink), a
/// multi-line script and a non-root user.
fn export_project() -> TestContext {
    let t = TestContext::new();
    t.manifest(EXPORT_MANIFEST);
    t.write("scripts/setup.sh", "echo \"$GREETING from setup\"\n");
    t.write("scripts/lib/util.sh", "util() { :; }\n");
    t.write("config/app.conf", "port = 8080\n");
    set_mode(&t.root().join("scripts/setup.sh"), 0o775);
    set_mode(&t.root().join("config/app.conf"), 0o600);
    std::os::unix::fs::symlink("setup.sh", t.root().join("scripts/run.sh")).unwrap();
    t
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The PATH Docker gives containers (and classic-builder images) that set none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths that differ between any two containers of the same image: the engine's mount
/// points and per-container files.
const VOLATILE: &[&str] = &[
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/.dockerenv",
];

/// Every file of the image's root filesystem with type, mode, owner, size (regular files)
/// and md5 (regular files), sorted. Directory sizes and all mtimes are left out: they depend
/// on the storage driver and the clock, not on what the image holds.
fn files_of(image: &str) -> BTreeSet<String> {
    let script = r#"find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -print |
while read -r p; do
  if [ -L "$p" ]; then echo "$p link $(readlink "$p") $(stat -c '%u:%g' "$p")"
  elif [ -d "$p" ]; then echo "$p dir $(stat -c '%a %u:%g' "$p")"
  else echo "$p file $(stat -c '%a %u:%g %s' "$p") $(md5sum < "$p" | cut -d' ' -f1)"
  fi
done"#;
    let out = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        script,
    ]);
    out.lines()
        .filter(|l| {
            let path = l.split(' ').next().unwrap_or_default();
            !VOLATILE.contains(&path) && !["/proc", "/sys", "/dev"].contains(&path)
        })
        .map(str::to_owned)
        .collect()
}

fn inspect(image: &str, format: &str) -> String {
    docker(&["image", "inspect", image, "--format", format])
        .trim()
        .to_owned()
}

fn env_set(image: &str) -> BTreeSet<String> {
    let json = inspect(image, "{{json .Config.Env}}");
    let list: Vec<String> = serde_json::from_str(&json).unwrap();
    list.into_iter().collect()
}

#[test]
fn exported_dockerfile_builds_the_same_image_with_plain_docker_build() {
    let t = export_project();
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    let devenv_image = format!("devenv/{}:{hash}", t.name);
    let out = t.run(&["export", "dockerfile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = t.root().join(".devenv/export");
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("FROM --platform=linux/amd64 scratch\nADD [\"base/base.tar\", \"/\"]"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains(&format!("image hash {hash}")),
        "{dockerfile}"
    );
    // Plain `docker build`: no BuildKit, no flags but the label that lets cleanup find it.
    let docker_image = format!("devenv-it-export/{}:built", t.name);
    let build = Command::new("docker")
        .args(["build", "-q", "--label", &t.label(), "-t", &docker_image])
        .arg(&dir)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "docker build: {}\n{dockerfile}",
        stderr(&build)
    );

    // The classic builder gives an image without PATH Docker's default PATH in its config;
    // the engine adds that same PATH to every container of an image without one, so the
    // processes see the same environment (compared below as `env` inside the containers).
    let mut docker_env = env_set(&docker_image);
    if !env_set(&devenv_image)
        .iter()
        .any(|e| e.starts_with("PATH="))
    {
        docker_env.remove(DEFAULT_PATH);
    }
    assert_eq!(docker_env, env_set(&devenv_image));
    let runtime_env = |img: &str| {
        docker(&["run", "--rm", "--hostname", "h", img, "env"])
            .lines()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(runtime_env(&docker_image), runtime_env(&devenv_image));
    assert!(env_set(&devenv_image).contains("LITERAL=costs $5 \"quoted\" \\ back"));
    assert!(!env_set(&devenv_image)
        .iter()
        .any(|e| e.starts_with("STEP_ONLY=")));
    for format in ["{{.Config.WorkingDir}}", "{{json .Config.Cmd}}"] {
        assert_eq!(
            inspect(&docker_image, format),
            inspect(&devenv_image, format),
            "{format}"
        );
    }
    // The user is the same effective one: root (the classic builder writes "0:0" where
    // devenv's commit keeps the base's empty value).
    let user = |img: &str| match inspect(img, "{{.Config.User}}").as_str() {
        "" | "0:0" | "root" => "root".to_owned(),
        other => other.to_owned(),
    };
    assert_eq!(user(&docker_image), user(&devenv_image));

    let (ours, theirs) = (files_of(&devenv_image), files_of(&docker_image));
    let only_devenv: Vec<_> = ours.difference(&theirs).collect();
    let only_docker: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        only_devenv.is_empty() && only_docker.is_empty(),
        "only in devenv's image: {only_devenv:#?}\nonly in docker's: {only_docker:#?}"
    );
    // And the comparison looked at what matters: step outputs and inputs with their modes.
    let has = |prefix: &str| ours.iter().any(|l| l.starts_with(prefix));
    assert!(has("/src/app/scripts/setup.sh file 755 0:0"), "{ours:#?}");
    assert!(has("/src/app/config/app.conf file 644 0:0"), "{ours:#?}");
    assert!(has("/src/app/scripts/run.sh link setup.sh"), "{ours:#?}");
    assert!(has("/tmp/made-by-nobody file 644 65534:"), "{ours:#?}");
    let one = docker(&[
        "run",
        "--rm",
        &docker_image,
        "cat",
        "/one",
        "/two",
        "/tmp/uid",
    ]);
    assert_eq!(
        one,
        "hello it's step-only\nhello from setup\nport = 8080\n65534\n"
    );
}

#[test]
fn exported_dockerfile_keeps_secret_values_out() {
    let t = TestContext::new();
    t.manifest("[[step]]\nrun = \"test -n \\\"$API_TOKEN\\\"\"\nsecrets = [\"API_TOKEN\"]\n");
    let out = t
        .cmd(&["export", "dockerfile", "-o", "out"])
        .env("API_TOKEN", "s3cr3t-value-never-written")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs BuildKit"), "{}", stderr(&out));
    let dockerfile = std::fs::read_to_string(t.root().join("out/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("RUN --mount=type=secret,id=API_TOKEN ["),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("--secret id=API_TOKEN,env=API_TOKEN"),
        "{dockerfile}"
    );
    for entry in walk(&t.root().join("out")) {
        if entry.is_file() {
            let bytes = std::fs::read(&entry).unwrap();
            let found = bytes.windows(10).any(|w| w == b"s3cr3t-val");
            assert!(!found, "secret value in {}", entry.display());
        }
    }
    // A directory that is not an export is not overwritten without --force.
    t.write("other/keep.txt", "mine");
    let out = t.run(&["export", "dockerfile", "-o", "other"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Strip `//` comment lines: the exported file is JSON with comments.
fn jsonc(text: &str) -> serde_json::Value {
    let plain: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    serde_json::from_str(&plain.join("\n")).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn exported_devcontainer_opens_the_built_image() {
    let t = TestContext::new();
    t.manifest(
        "[[step]]\nrun = \"echo built > /built\"\n[shell]\nuser = \"root\"\n[container]\n\
         env = { APP = \"1\" }\nvolumes = [\"cache:/cache\", \"./data:/data:ro\"]\n[hooks]\n\
         on_create = \"echo created\"\non_start = \"echo started\"\n",
    );
    std::fs::create_dir_all(t.root().join("data")).unwrap();
    let out = t.run(&["export", "devcontainer", "-o", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = jsonc(&stdout(&out));
    let hash = t.ok(&["hash"]).trim().to_owned();
    let image = format!("devenv/{}:{hash}", t.name);
    assert_eq!(v["image"], image.as_str());
    assert_eq!(docker(&["run", "--rm", &image, "cat", "/built"]), "built\n");
    assert_eq!(v["workspaceFolder"], "/workspace");
    assert_eq!(v["containerEnv"]["APP"], "1");
    assert_eq!(v["postCreateCommand"], "echo created");
    assert_eq!(v["postStartCommand"], "echo started");
    assert_eq!(v["remoteUser"], "root");
    let mounts = v["mounts"].as_array().unwrap();
    assert!(mounts[0]
        .as_str()
        .unwrap()
        .ends_with("-cache,target=/cache,type=volume"));
    assert_eq!(
        mounts[1],
        "source=${localWorkspaceFolder}/data,target=/data,type=bind,readonly"
    );
    // Written to .devcontainer/devcontainer.json, and re-exported over its own file…
    t.ok(&["export", "devcontainer"]);
    t.ok(&["export", "devcontainer"]);
    let path = t.root().join(".devcontainer/devcontainer.json");
    assert_eq!(
        jsonc(&std::fs::read_to_string(&path).unwrap())["image"],
        image.as_str()
    );
    // …but never over a hand-written one without --force.
    std::fs::write(&path, "{ \"image\": \"mine\" }").unwrap();
    let out = t.run(&["export", "devcontainer"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    t.ok(&["export", "devcontainer", "--force"]);
}

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/devcontainer")
        .join(case)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Copy a corpus case into the test's directory under the case's own name (so
/// `${localWorkspaceFolderBasename}` is stable), import it and validate the result.
/// Returns the project directory, the manifest text and the warnings.
fn import_case(t: &TestContext, case: &str) -> (PathBuf, String, String) {
    import_case_at(t, case, "")
}

/// `import_case` for a project at `sub` inside the case's folder.
fn import_case_at(t: &TestContext, case: &str, sub: &str) -> (PathBuf, String, String) {
    copy_dir(&fixture(case), &t.root().join(case));
    let project = t.root().join(case).join(sub);
    let out = t
        .cmd(&["import", "devcontainer"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(out.status.success(), "import {case}: {}", stderr(&out));
    let manifest = std::fs::read_to_string(project.join("devenv.toml")).unwrap();
    let out = t.cmd(&["validate"]).current_dir(&project).output().unwrap();
    assert!(
        out.status.success(),
        "validate {case}: {}\n{manifest}",
        stderr(&out)
    );
    let warnings: Vec<String> = stderr(&out_of_import_warnings(t, &project))
        .lines()
        .map(str::to_owned)
        .collect();
    (project, manifest, warnings.join("\n"))
}

/// Import again (with --force) to read its warnings as the user sees them.
fn out_of_import_warnings(t: &TestContext, project: &Path) -> std::process::Output {
    let out = t
        .cmd(&["import", "devcontainer", "--force"])
        .current_dir(project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// The image-based case on a local base: `[base]` replaced by a busybox root filesystem
/// unique to this test, a first step that gives it the users the real image has, and host
/// port publishing left out (host ports are shared with everything else on the machine).
fn bring_up(t: &TestContext, project: &Path, manifest: &str, users: &[&str]) {
    std::fs::write(project.join("base.tar"), busybox_rootfs(&t.name)).unwrap();
    let mut body = String::new();
    let mut in_base = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_base = line == "[base]";
            if in_base {
                continue;
            }
        }
        if in_base || line.starts_with("ports = ") {
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    let mut add_users = String::from("mkdir -p /home");
    for (i, u) in users.iter().enumerate() {
        let id = 1000 + i;
        let _ = write!(
            add_users,
            " && echo '{u}:x:{id}:{id}::/home/{u}:/bin/sh' >> /etc/passwd && echo '{u}:x:{id}:' >> /etc/group && mkdir -p /home/{u} && chown {id}:{id} /home/{u}"
        );
    }
    let text = format!(
        "name = \"{}\"\n[base]\nrootfs = \"base.tar\"\n\n[[step]]\nname = \"stand-in base: users of the real image\"\nrun = \"{add_users}\"\n{body}",
        t.name
    );
    std::fs::write(project.join("devenv.toml"), &text).unwrap();
    let up = t.cmd(&["up"]).current_dir(project).output().unwrap();
    assert!(up.status.success(), "up: {}\n{text}", stderr(&up));
    let run = t
        .cmd(&["run", "--", "true"])
        .current_dir(project)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "run: {}", stderr(&run));
}

fn run_in(t: &TestContext, project: &Path, script: &str) -> String {
    let out = t
        .cmd(&["run", "--", "sh", "-c", script])
        .current_dir(project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", stderr(&out));
    stdout(&out)
}

fn snapshot(case: &str, manifest: &str, warnings: &str) {
    insta::assert_snapshot!(
        format!("corpus_{case}"),
        format!("{manifest}\n----- warnings -----\n{warnings}")
    );
}

#[test]
fn corpus_node_typescript_imports_and_comes_up() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "node-typescript");
    snapshot("node-typescript", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &["node"]);
    assert_eq!(
        run_in(&t, &project, "id -un; pwd; cat /tmp/post-create"),
        "node\n/workspaces/node-typescript\nyarn-install-done\n"
    );
}

#[test]
fn corpus_python_full_imports_and_comes_up() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "python-full");
    snapshot("python-full", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &["vscode"]);
    let got = run_in(
        &t,
        &project,
        "echo $APP_ENV $FOO $PIP_DISABLE_PIP_VERSION_CHECK; cat /tmp/on-create /tmp/deps /tmp/starts; \
         ls '/tmp/pre-commit installed'; test -d /home/vscode/.cache/pip && echo volume",
    );
    assert_eq!(
        got,
        "development bar 1\non-create\npip-install\nstarted\n/tmp/pre-commit installed\nvolume\n"
    );
    t.cmd(&["down", "--volumes"])
        .current_dir(&project)
        .output()
        .unwrap();
}

#[test]
fn corpus_go_workspace_mount_imports_and_comes_up() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "go-workspace-mount");
    snapshot("go-workspace-mount", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
    assert_eq!(
        run_in(&t, &project, "pwd; cat /tmp/ready; id -u"),
        "/go/src/app\ngo-ready\n0\n"
    );
}

#[test]
fn corpus_minimal_dotfile_imports_and_comes_up() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "minimal-dotfile");
    assert!(warnings.contains("(0 warnings)"), "{warnings}");
    snapshot("minimal-dotfile", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
}

#[test]
fn corpus_nested_config_imports_and_comes_up() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "nested-config");
    snapshot("nested-config", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
    assert_eq!(
        run_in(&t, &project, "cat /tmp/kernel /tmp/content"),
        "kernel\ncontent\n"
    );
}

#[test]
fn corpus_rust_dockerfile_becomes_steps() {
    let t = TestContext::new();
    let (_, manifest, warnings) = import_case(&t, "rust-dockerfile");
    snapshot("rust-dockerfile", &manifest, &warnings);
}

#[test]
fn corpus_multistage_dockerfile_explains_what_it_refuses() {
    let t = TestContext::new();
    let (_, manifest, warnings) = import_case(&t, "multistage-dockerfile");
    for refused in [
        "COPY --from=tools",
        "RUN --mount=type=cache",
        "RUN [\"/bin/bash\"",
        "RUN <<EOT",
    ] {
        assert!(
            manifest.contains(&format!("# {refused}")),
            "{refused}: {manifest}"
        );
    }
    snapshot("multistage-dockerfile", &manifest, &warnings);
}

/// The `[hooks]` of an imported manifest, as sh would read them.
fn hooks_of(manifest: &str) -> Vec<String> {
    let v: toml::Value = toml::from_str(manifest).unwrap();
    v.get("hooks")
        .and_then(toml::Value::as_table)
        .map(|h| {
            h.values()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn corpus_copy_to_tmp_refuses_every_step_and_hook_that_uses_it() {
    let t = TestContext::new();
    let (_, manifest, warnings) = import_case(&t, "copy-to-tmp");
    // Both RUNs after the refused COPYs use /tmp/install-subversion.sh: neither may be a
    // step, and the hook that runs the other copied script is left out with a warning.
    assert!(
        !manifest.contains("run = \"/tmp/install-subversion.sh"),
        "{manifest}"
    );
    assert!(
        manifest.contains("# RUN /tmp/install-subversion.sh"),
        "{manifest}"
    );
    assert!(
        warnings.contains("postCreateCommand: not imported: it uses /tmp/install-extras.sh"),
        "{warnings}"
    );
    assert_eq!(hooks_of(&manifest), ["echo started > /tmp/started"]);
    snapshot("copy-to-tmp", &manifest, &warnings);
}

#[test]
fn corpus_user_made_by_a_refused_step_is_not_used() {
    let t = TestContext::new();
    let (_, manifest, warnings) = import_case(&t, "library-scripts-user");
    // Only the refused RUN creates vscode: no step runs as vscode and the shell does not.
    assert!(!manifest.contains("user = \"vscode\""), "{manifest}");
    assert!(
        warnings.contains("remoteUser: \"vscode\" is not used"),
        "{warnings}"
    );
    // ARG defaults that are unfilled template options are named, not dropped silently.
    assert!(warnings.contains("ARG INSTALL_ZSH="), "{warnings}");
    assert!(warnings.contains("ARG GHC_VERSION="), "{warnings}");
    snapshot("library-scripts-user", &manifest, &warnings);
}

#[test]
fn corpus_dockerfile_args_and_platform_are_carried_or_warned() {
    let t = TestContext::new();
    let (_, manifest, warnings) = import_case(&t, "dockerfile-args-platform");
    // `ARG IMAGE_TYPE` without a default is empty in FROM, as Docker has it.
    assert!(
        manifest.contains("image = \"tensorflow/tensorflow:devel\""),
        "{manifest}"
    );
    assert!(
        warnings.contains("FROM --platform=linux/arm64"),
        "{warnings}"
    );
    // A stage ARG whose default uses the base image's HOME is set by sh in each step.
    assert!(
        manifest.contains("TOOLS_DIR=\"${HOME}/tools\"; export TOOLS_DIR"),
        "{manifest}"
    );
    // A mount target with a trailing slash is the same directory.
    assert!(
        manifest.contains("tensorflow_cache:/home/foo/.cache/bazel"),
        "{manifest}"
    );
    snapshot("dockerfile-args-platform", &manifest, &warnings);
}

#[test]
fn corpus_lifecycle_variables_resolve_in_the_container() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "lifecycle-variables");
    assert!(
        warnings.contains("onCreateCommand: not imported: ${devcontainerId}"),
        "{warnings}"
    );
    assert!(
        warnings.contains("reads GIT_AUTHOR_NAME from the host"),
        "{warnings}"
    );
    snapshot("lifecycle-variables", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
    assert_eq!(
        run_in(
            &t,
            &project,
            "cat /tmp/post-create /tmp/where /tmp/start /tmp/listing; test -e /tmp/id || echo no-id"
        ),
        "post-create in /workspaces/lifecycle-variables\nlifecycle-variables: hello there\n\
         nobody /root fallback\ndevcontainer.json\npost-create.sh\nno-id\n"
    );
}

#[test]
fn corpus_lifecycle_comments_do_not_swallow_later_commands() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "lifecycle-comments");
    snapshot("lifecycle-comments", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
    assert_eq!(
        run_in(&t, &project, "cat /tmp/one /tmp/two /tmp/three /tmp/start"),
        "one\ntwo\nthree # not a comment\nstart\n"
    );
}

#[test]
fn corpus_forward_ports_are_published_on_localhost() {
    let t = TestContext::new();
    let (_, manifest, warnings) = import_case(&t, "forward-ports");
    // forwardPorts on 127.0.0.1 (editors forward to localhost); appPort as `docker run -p`;
    // 8080 is in both and published once.
    assert!(
        manifest
            .contains("ports = [\"127.0.0.1:8080:8080\", \"127.0.0.1:9003:9003\", \"3000:3000\"]"),
        "{manifest}"
    );
    snapshot("forward-ports", &manifest, &warnings);
}

#[test]
fn corpus_workspace_subfolder_keeps_the_project_root() {
    let t = TestContext::new();
    let (project, manifest, warnings) = import_case(&t, "workspace-subfolder");
    assert!(
        warnings.contains("workspaceFolder: \"/workspace/services/api\" is a folder inside"),
        "{warnings}"
    );
    snapshot("workspace-subfolder", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
    assert_eq!(
        run_in(
            &t,
            &project,
            "pwd; cat /tmp/hook-dir /tmp/hook-ls /workspace/services/api/main.txt"
        ),
        "/workspace\n/workspace/services/api\nmain.txt\napi\n"
    );
}

#[test]
fn corpus_workspace_parent_mount_puts_the_project_where_it_was() {
    let t = TestContext::new();
    let (project, manifest, warnings) =
        import_case_at(&t, "workspace-parent-mount", "test/regression/debian");
    assert!(
        manifest.contains("workdir = \"/workspace/test/regression/debian\""),
        "{manifest}"
    );
    snapshot("workspace-parent-mount", &manifest, &warnings);
    bring_up(&t, &project, &manifest, &[]);
    assert_eq!(
        run_in(&t, &project, "pwd; cat /tmp/hook-dir here.txt"),
        "/workspace/test/regression/debian\n/workspace\nhere\n"
    );
}

/// Every devcontainer.json of the corpus (but the Compose one), imported: the manifest
/// validates, every top-level property is carried over or named in a warning, every RUN
/// of a single-stage Dockerfile is a step or named, no devcontainer variable is left for
/// sh to misread, and every hook is valid sh.
#[test]
fn corpus_imports_without_silent_drops() {
    let t = TestContext::new();
    let base = fixture("");
    let mut configs = Vec::new();
    for case in std::fs::read_dir(&base).unwrap() {
        let case = case.unwrap().file_name().to_string_lossy().into_owned();
        if case.starts_with("compose") {
            continue;
        }
        for f in walk(&base.join(&case)) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name == "devcontainer.json" || name == ".devcontainer.json" {
                configs.push((case.clone(), f));
            }
        }
    }
    assert!(configs.len() >= 15, "{configs:?}");
    // Properties carried over without a warning when their value is used.
    let silent = [
        "image",
        "build",
        "dockerFile",
        "context",
        "workspaceFolder",
        "workspaceMount",
        "remoteUser",
        "containerUser",
        "$schema",
        "updateRemoteUserUID",
        "init",
        "overrideCommand",
        "containerEnv",
        "remoteEnv",
        "forwardPorts",
        "appPort",
        "mounts",
        "runArgs",
        "onCreateCommand",
        "postCreateCommand",
        "postStartCommand",
    ];
    for (case, config) in configs {
        copy_dir(&base.join(&case), &t.root().join(&case));
        let rel = config.strip_prefix(base.join(&case)).unwrap();
        let in_config_dir = rel.parent().unwrap();
        let project_rel = if in_config_dir.ends_with(".devcontainer") {
            in_config_dir.parent().unwrap()
        } else if in_config_dir
            .parent()
            .is_some_and(|p| p.ends_with(".devcontainer"))
        {
            in_config_dir.parent().unwrap().parent().unwrap()
        } else {
            in_config_dir
        };
        let project = t.root().join(&case).join(project_rel);
        let out = t
            .cmd(&["import", "devcontainer", "--force"])
            .arg(t.root().join(&case).join(rel))
            .current_dir(&project)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert!(out.status.success(), "{case}: {err}");
        let manifest = std::fs::read_to_string(project.join("devenv.toml")).unwrap();
        let out = t.cmd(&["validate"]).current_dir(&project).output().unwrap();
        assert!(out.status.success(), "validate {case}: {}", stderr(&out));
        let warned = |key: &str| {
            err.lines()
                .any(|l| l.starts_with(&format!("warning: {key}")))
        };
        let json = {
            let text = std::fs::read_to_string(&config).unwrap();
            let v = jsonc_parser::parse_to_value(&text, &jsonc_parser::ParseOptions::default());
            to_serde(v.unwrap().unwrap())
        };
        let hooks = hooks_of(&manifest);
        for (key, value) in json.as_object().unwrap() {
            let used = match key.as_str() {
                k if k.ends_with("Command")
                    && k != "initializeCommand"
                    && k != "postAttachCommand" =>
                {
                    !hooks.is_empty() || warned(k)
                }
                _ => true,
            };
            assert!(
                (silent.contains(&key.as_str()) && used) || warned(key),
                "{case}: {key} = {value} is neither carried over nor warned\n{err}\n{manifest}"
            );
        }
        if let Some(env) = json.get("containerEnv").and_then(|v| v.as_object()) {
            for k in env.keys() {
                assert!(
                    manifest.contains(&format!("\n{k} = ")) || warned(&format!("containerEnv.{k}")),
                    "{case}: containerEnv.{k} dropped silently\n{manifest}"
                );
            }
        }
        let dockerfile = json
            .get("build")
            .and_then(|b| b.get("dockerfile").or_else(|| b.get("dockerFile")))
            .or_else(|| json.get("dockerFile"))
            .and_then(|d| d.as_str());
        if let Some(d) = dockerfile {
            let text = std::fs::read_to_string(config.parent().unwrap().join(d)).unwrap();
            let froms = text
                .lines()
                .filter(|l| l.trim_start().starts_with("FROM"))
                .count();
            for (n, line) in text.lines().enumerate() {
                if froms == 1 && line.starts_with("RUN ") {
                    let n = n + 1;
                    assert!(
                        manifest.contains(&format!("Dockerfile line {n}\""))
                            || manifest.contains(&format!("Dockerfile:{n}\n")),
                        "{case}: RUN at line {n} is neither a step nor named\n{manifest}"
                    );
                }
            }
        }
        let body: String = manifest
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for var in [
            "${containerWorkspaceFolder",
            "${localWorkspaceFolder",
            "${localEnv:",
            "${env:",
            "${containerEnv:",
            "${devcontainerId",
        ] {
            assert!(
                !body.contains(var),
                "{case}: {var} left in the manifest\n{manifest}"
            );
        }
        for hook in hooks {
            let sh = Command::new("sh")
                .args(["-n", "-c", &hook])
                .output()
                .unwrap();
            assert!(
                sh.status.success(),
                "{case}: hook is not valid sh: {hook}\n{}",
                stderr(&sh)
            );
        }
    }
}

fn to_serde(v: jsonc_parser::JsonValue<'_>) -> serde_json::Value {
    use jsonc_parser::JsonValue;
    match v {
        JsonValue::String(s) => s.into_owned().into(),
        JsonValue::Number(n) => serde_json::from_str(n).unwrap_or(serde_json::Value::Null),
        JsonValue::Boolean(b) => b.into(),
        JsonValue::Null => serde_json::Value::Null,
        JsonValue::Array(a) => a.into_iter().map(to_serde).collect(),
        JsonValue::Object(o) => o
            .into_iter()
            .map(|(k, v)| (k.into_owned(), to_serde(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Compose devcontainers: the dev container's service becomes `[base]` / `[container]`,
/// the others `[services.NAME]`; everything else is named in a warning.
#[test]
fn corpus_compose_imports_services_with_warnings() {
    let t = TestContext::new();
    for case in ["compose-postgres", "compose-mongo"] {
        let (_, manifest, warnings) = import_case(&t, case);
        snapshot(case, &manifest, &warnings);
    }
}

/// A Compose devcontainer on local busybox images, brought up: the dev container reaches
/// the imported service by name, with the environment and workspace of the Compose file.
#[test]
fn compose_import_comes_up_with_its_services() {
    let t = TestContext::new();
    std::fs::write(t.root().join("base.tar"), busybox_rootfs(&t.name)).unwrap();
    let tag = format!("devenv-it-compose:{}", t.name);
    t.import_base(&tag);
    t.write(
        ".devcontainer/devcontainer.json",
        r#"{ "dockerComposeFile": ["compose.yml", "compose.override.yml"], "service": "app",
             "workspaceFolder": "/workspaces/src" }"#,
    );
    t.write(
        ".devcontainer/compose.yml",
        &format!(
            r#"services:
  app:
    image: {tag}
    volumes:
      - ..:/workspaces/src:cached
    environment:
      WEB_URL: http://web:8080/
    network_mode: service:web
  web:
    image: {tag}
    command: ["httpd", "-f", "-p", "8080", "-h", "/srv"]
    volumes:
      - ../site:/srv:ro
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]
    restart: on-failure
"#
        ),
    );
    t.write(
        ".devcontainer/compose.override.yml",
        "services:
  app:
    environment:
      - GREETING=${GREETING:-hello}
",
    );
    t.write("site/index.html", "from-web\n");
    let out = t.run(&["import", "devcontainer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("web:PORT"), "{}", stderr(&out));
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    assert!(manifest.contains("[services.web]"), "{manifest}");
    // Under the test's name, so its cleanup by label finds every image, container and
    // volume the environment makes (and the base tagged above can go with them).
    let manifest = format!("name = \"{}\"\n{manifest}", t.name);
    t.write("devenv.toml", &manifest);
    let out = t.run(&["up"]);
    assert!(out.status.success(), "up: {}\n{manifest}", stderr(&out));
    let got = t.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "pwd; echo $GREETING; wget -q -O- $WEB_URL",
    ]);
    assert_eq!(got, "/workspaces/src\nhello\nfrom-web\n");
    let _ = t.run(&["down", "--volumes"]);
}

#[test]
fn import_refuses_to_overwrite_and_reports_bad_json() {
    let t = TestContext::new();
    t.write(
        ".devcontainer/devcontainer.json",
        "{ \"image\": \"alpine:3.20\", }\n",
    );
    t.write("devenv.toml", "# mine\n");
    let out = t.run(&["import", "devcontainer"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(t.root().join("devenv.toml")).unwrap(),
        "# mine\n"
    );
    t.ok(&["import", "devcontainer", "--force"]);
    t.write(
        "broken.json",
        "{\n  \"image\": \"alpine\"\n  \"x\": [1,, 2]\n}\n",
    );
    let out = t.run(&["import", "devcontainer", "broken.json", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken.json: not valid JSON"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
}

/// Values with `$` in every form each exporter writes them; none is the host's variable.
const DOLLARS: &str = "cost $5, ${HOME} and $USER $$";

#[test]
fn exported_compose_file_keeps_dollar_signs_literal() {
    let t = TestContext::new();
    t.manifest(&format!(
        "[container]\nenv = {{ A = \"{DOLLARS}\" }}\nports = [\"8080:80\"]\n\
         [services.w]\ncommand = \"echo {DOLLARS} > /tmp/x; sleep 1000\"\n\
         ready = \"test -n \\\"$HOSTNAME\\\"\"\nenv = {{ B = \"{DOLLARS}\" }}\n"
    ));
    let out = t.run(&["export", "compose", "-o", "c.yml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = t.root().join("c.yml");
    let config = Command::new("docker-compose")
        .arg("-f")
        .arg(&file)
        .arg("config")
        .env("HOME", "/host-home")
        .env("USER", "host-user")
        .output()
        .expect("docker-compose must be installed");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(config.status.success(), "{}\n{text}", stderr(&config));
    // `config` prints the interpolated file with each literal `$` escaped again as `$$`.
    let shown = stdout(&config).replace("$$", "$");
    assert!(!shown.contains("host-"), "{shown}");
    for line in [
        format!("A: {DOLLARS}"),
        format!("B: {DOLLARS}"),
        format!("- echo {DOLLARS} > /tmp/x; sleep 1000"),
        "- test -n \"$HOSTNAME\"".to_owned(),
    ] {
        assert!(
            shown.lines().any(|l| l.trim().trim_matches('\'') == line),
            "{line}\n{shown}"
        );
    }
}

#[test]
fn exported_dockerfile_keeps_dollar_signs_literal() {
    let t = TestContext::new();
    t.manifest(&format!(
        "[env]\nE = \"{DOLLARS}\"\n[[step]]\nrun = \"echo {DOLLARS} > /lit\"\n"
    ));
    // A base file name with a `$`: ADD substitutes variables in its source.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("base.tar", "ba$HOME.tar"));
    std::fs::rename(t.root().join("base.tar"), t.root().join("ba$HOME.tar")).unwrap();
    t.ok(&["export", "dockerfile", "-o", "out"]);
    let image = format!("devenv-it-export/{}:dollars", t.name);
    let build = Command::new("docker")
        .args(["build", "-q", "--label", &t.label(), "-t", &image])
        .arg(t.root().join("out"))
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    let dockerfile = std::fs::read_to_string(t.root().join("out/Dockerfile")).unwrap();
    assert!(
        build.status.success(),
        "docker build: {}\n{dockerfile}",
        stderr(&build)
    );
    assert!(env_set(&image).contains(&format!("E={DOLLARS}")));
    // The step's sh expands `$HOME` and `$USER` as devenv's build does; `$5` and `$$` too.
    let built = docker(&["run", "--rm", &image, "cat", "/lit"]);
    t.ok(&["build"]);
    let hash = t.ok(&["hash"]).trim().to_owned();
    let ours = docker(&[
        "run",
        "--rm",
        &format!("devenv/{}:{hash}", t.name),
        "cat",
        "/lit",
    ]);
    assert_eq!(built, ours);
}

#[test]
fn exported_devcontainer_keeps_dollar_signs_literal_through_import() {
    let t = TestContext::new();
    let hook = "printf '%s|' \"$HOME\" '${localEnv:HOME}' \\${containerWorkspaceFolder} > /tmp/x";
    t.manifest(&format!(
        "[container]\nenv = {{ A = \"{DOLLARS}\" }}\n[hooks]\non_create = {}\n",
        serde_json::to_string(hook).unwrap()
    ));
    let out = t.run(&["export", "devcontainer", "-o", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = stdout(&out);
    let v = jsonc(&exported);
    assert_eq!(v["containerEnv"]["A"], DOLLARS);
    let back = TestContext::new();
    back.write(".devcontainer/devcontainer.json", &exported);
    let out = back.run(&["import", "devcontainer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_json::Value = serde_json::from_str(&back.ok(&["config", "--json"])).unwrap();
    assert_eq!(config["container"]["env"]["A"], DOLLARS, "{config:#}");
    // The hook is the same sh: it prints the same words in a shell.
    let imported = config["hooks"]["on_create"].as_str().unwrap().to_owned();
    let sh = |script: &str| {
        let script = script.replace("> /tmp/x", "");
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(sh(&imported), sh(hook), "{imported}");
    // A value devcontainers would replace, with no escape in the format, is refused.
    t.write(
        "devenv.toml",
        &std::fs::read_to_string(t.root().join("devenv.toml"))
            .unwrap()
            .replace("A = \"", "A = \"${localEnv:HOME}"),
    );
    let out = t.run(&["export", "devcontainer", "-o", "-"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[container] env A") && stderr(&out).contains("no escape"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn import_of_a_missing_compose_file_names_the_property_the_file_and_the_path_tried() {
    let t = TestContext::new();
    t.write(
        ".devcontainer/devcontainer.json",
        "{ \"dockerComposeFile\": \"../compose/app.yml\", \"service\": \"dev\" }\n",
    );
    let out = t.run(&["import", "devcontainer"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let tried = t.root().join("compose/app.yml");
    assert!(
        err.contains(
            ".devcontainer/devcontainer.json: dockerComposeFile names `../compose/app.yml`"
        ),
        "{err}"
    );
    assert!(err.contains(&tried.display().to_string()), "{err}");
    assert!(err.contains("hint: fix dockerComposeFile"), "{err}");
}

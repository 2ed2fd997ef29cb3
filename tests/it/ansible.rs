//! `ansible` steps against the real engine, on the Debian base made by debootstrap (cached
//! in /tmp/devenv-it-cache) with Python installed by an earlier step. The controller is the
//! one devenv builds from that base with Debian's `ansible` and `python3-requests` (the
//! first run takes a minute or two; the image `devenv/ansible-controller:<key>` is then a
//! machine-wide cache, like the Debian rootfs, removed by `devenv prune --all`).

use std::path::Path;

use crate::common::{docker, stderr, stdout, TestContext};
use crate::root_helpers::debian_rootfs;

/// Python in the target (and python3-apt for the `apt` module), before the playbook.
const PYTHON_STEP: &str = r#"
[[step]]
name = "python"
run = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt >/dev/null && rm -rf /var/lib/apt/lists/*"
"#;

const SITE: &str = r#"- hosts: all
  gather_facts: false
  vars_files:
    - vars/main.yml
  roles:
    - motd
  tasks:
    - name: install a package
      ansible.builtin.apt:
        name: "{{ package }}"
        update_cache: true
    - name: drop the apt lists
      ansible.builtin.file:
        path: /var/lib/apt/lists
        state: absent
    - name: a user for the app
      ansible.builtin.user:
        name: "{{ app_user }}"
        shell: /bin/sh
    - name: the secret reaches the play through the environment only
      ansible.builtin.copy:
        dest: /etc/secret.sha1
        content: "{{ lookup('env', 'DB_PASSWORD') | hash('sha1') }}\n"
"#;

/// A role in the style of the public ones: defaults, a template, a handler.
fn write_role(t: &TestContext, dir: &str) {
    t.write(
        &format!("{dir}/motd/defaults/main.yml"),
        "motd_owner: platform team\n",
    );
    t.write(
        &format!("{dir}/motd/templates/motd.j2"),
        "{{ greeting }} from {{ motd_owner }}\n",
    );
    t.write(
        &format!("{dir}/motd/tasks/main.yml"),
        "- name: write the motd\n  ansible.builtin.template:\n    src: motd.j2\n    dest: /etc/motd-devenv\n    mode: \"0644\"\n  notify: motd written\n",
    );
    t.write(
        &format!("{dir}/motd/handlers/main.yml"),
        "- name: motd written\n  ansible.builtin.copy:\n    dest: /etc/motd-devenv.handled\n    content: \"yes\\n\"\n",
    );
}

fn debian(t: &TestContext, body: &str) {
    let dst = t.root().join("debian.tar.gz");
    if std::fs::hard_link(debian_rootfs(), &dst).is_err() {
        std::fs::copy(debian_rootfs(), &dst).unwrap();
    }
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nrootfs = \"debian.tar.gz\"\n{body}",
            t.name
        ),
    );
}

/// The project of the main test: python, then the playbook with the role.
fn site_project(t: &TestContext) {
    debian(
        t,
        &format!(
            "{PYTHON_STEP}\n[[step]]\nname = \"site\"\nsecrets = [\"DB_PASSWORD\"]\n\
             ansible = {{ playbook = \"provision/site.yml\", vars = {{ greeting = \"hello\" }} }}\n"
        ),
    );
    t.write("provision/site.yml", SITE);
    t.write(
        "provision/ansible.cfg",
        "[defaults]\nroles_path = ../roles\n",
    );
    t.write("provision/vars/main.yml", "package: jq\napp_user: deploy\n");
    write_role(t, "roles");
    t.write("src/main.c", "int main(void) { return 0; }\n");
}

fn build(t: &TestContext) -> std::process::Output {
    t.cmd(&["build"])
        .env("DB_PASSWORD", "s3cret-pw")
        .output()
        .unwrap()
}

fn hash(t: &TestContext) -> String {
    t.ok(&["hash"]).trim().to_owned()
}

fn edit(t: &TestContext, rel: &str, from: &str, to: &str) {
    let path = t.root().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_playbook_with_a_role_builds_a_cached_step_keyed_on_everything_it_reads() {
    let t = TestContext::new();
    site_project(&t);
    let out = build(&t);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("TASK [motd : write the motd]"), "{err}");
    assert!(
        err.contains("RUNNING HANDLER [motd : motd written]"),
        "{err}"
    );
    let lock = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    assert!(lock.contains("[ansible]"), "{lock}");
    assert!(lock.contains("identity = \"ansible-core "), "{lock}");

    // What the play did is in the image; nothing of Ansible is.
    let check = "cat /etc/motd-devenv /etc/motd-devenv.handled; command -v jq; id -u deploy >/dev/null && echo user; \
                 cat /etc/secret.sha1; \
                 for p in /usr/bin/ansible-playbook /usr/lib/python3/dist-packages/ansible /root/.ansible /tmp/.devenv-ansible /project /devenv; do \
                   test -e $p && echo \"leftover $p\"; done; true";
    let out = t.run(&["run", "--", "sh", "-c", check]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = stdout(&out);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "hello from platform team", "{got}");
    assert_eq!(lines[1], "yes", "{got}");
    assert_eq!(lines[2], "/usr/bin/jq", "{got}");
    assert_eq!(lines[3], "user", "{got}");
    // sha1 of "s3cret-pw": the value reached the play, through its environment.
    assert_eq!(
        lines[4], "5c714424cd3da1ffd8ddb2cc1deeb9b6137956a4",
        "{got}"
    );
    assert!(!got.contains("leftover"), "{got}");
    // The secret is in no layer's history or config.
    let image = format!("devenv/{}:{}", t.name, hash(&t));
    let history = docker(&["history", "--no-trunc", &image]);
    let inspect = docker(&["inspect", &image]);
    assert!(!history.contains("s3cret-pw") && !inspect.contains("s3cret-pw"));

    // verify knows the step: its key, layer and record hold.
    let out = t.run(&["verify"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Cached on the second build.
    let first = hash(&t);
    let out = build(&t);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("step 2/2 site: cached"),
        "{}",
        stderr(&out)
    );

    // An edit elsewhere in the project does not change the key.
    edit(&t, "src/main.c", "return 0", "return 1");
    assert_eq!(
        hash(&t),
        first,
        "an edit outside the playbook's files changed the key"
    );

    // An edited template rebuilds the step, and the image has the new content.
    edit(
        &t,
        "roles/motd/templates/motd.j2",
        "{{ greeting }}",
        "{{ greeting }}!",
    );
    let after_template = hash(&t);
    assert_ne!(after_template, first, "a template edit left the key");
    let out = build(&t);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("step 2/2 site: running"),
        "{}",
        stderr(&out)
    );
    let motd = t.ok(&["run", "--", "cat", "/etc/motd-devenv"]);
    assert_eq!(motd, "hello! from platform team\n");

    // A role default, the vars file, ansible.cfg and a manifest var each change the key.
    let mut seen = vec![first, after_template];
    let edits = [
        ("roles/motd/defaults/main.yml", "platform team", "ops team"),
        (
            "provision/vars/main.yml",
            "app_user: deploy",
            "app_user: deployer",
        ),
        (
            "provision/ansible.cfg",
            "[defaults]",
            "[defaults]\nforks = 2",
        ),
        ("devenv.toml", "greeting = \"hello\"", "greeting = \"hi\""),
    ];
    for (rel, from, to) in edits {
        edit(&t, rel, from, to);
        let h = hash(&t);
        assert!(!seen.contains(&h), "editing {rel} left the key as it was");
        seen.push(h);
    }
}

#[test]
fn the_same_playbook_project_hashes_the_same_from_two_checkouts() {
    let t = TestContext::new();
    site_project(&t);
    // Locks the base and pins the controller (building it the first time on a machine).
    let out = t.run(&["lock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let here = hash(&t);
    let other = tempfile::Builder::new()
        .prefix("devenv-it-other-")
        .tempdir()
        .unwrap();
    copy_tree(t.root(), other.path());
    let out = t
        .cmd(&["-C", other.path().to_str().unwrap(), "hash"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), here);
}

fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(to.join(".devenv"));
}

#[test]
fn a_failing_task_fails_the_step_with_the_task_host_and_message() {
    let t = TestContext::new();
    debian(
        &t,
        &format!("{PYTHON_STEP}\n[[step]]\nname = \"broken\"\nansible = \"play/site.yml\"\n"),
    );
    t.write(
        "play/site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: fine\n      ansible.builtin.command: \"true\"\n    - name: check the database\n      ansible.builtin.fail:\n        msg: the database is not there\n",
    );
    let out = t.run(&["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: step `broken` failed at task `check the database`: on host broken: the database is not there"),
        "{err}"
    );
    assert!(err.contains("finished steps are reused"), "{err}");
    // No controller or build container is left.
    assert!(t.containers().is_empty(), "{:?}", t.containers());
}

#[test]
fn a_target_without_python_is_refused_before_running_naming_the_step() {
    let t = TestContext::new();
    debian(&t, "[[step]]\nname = \"bare\"\nansible = \"site.yml\"\n");
    t.write(
        "site.yml",
        "- hosts: all\n  tasks:\n    - ansible.builtin.ping:\n",
    );
    let out = t.run(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("step `bare` runs a playbook, but its container has no Python"),
        "{err}"
    );
    assert!(err.contains("install Python in an earlier step"), "{err}");
    assert!(!err.contains("PLAY ["), "the play ran: {err}");
}

#[test]
fn export_dockerfile_refuses_an_ansible_step_by_name() {
    let t = TestContext::new();
    t.manifest("[[step]]\nname = \"site\"\nansible = \"site.yml\"\n");
    t.write("site.yml", "- hosts: all\n  tasks: []\n");
    let config = t.ok(&["config", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(v["steps"][0]["ansible"]["playbook"], "site.yml");
    assert!(v["steps"][0].get("run").is_none(), "{config}");
    let out = t.run(&["export", "dockerfile", "-o", "out/Dockerfile"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("cannot express step `site` in a Dockerfile"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_controller_reaches_only_its_step_container() {
    let t = TestContext::new();
    debian(
        &t,
        &format!("{PYTHON_STEP}\n[[step]]\nname = \"probe\"\nansible = \"play/site.yml\"\n"),
    );
    // From the controller itself (delegate_to: localhost): the engine's own socket is not
    // there, and the mediated one refuses listing containers and creating one.
    t.write(
        "play/site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: the target answers
      ansible.builtin.command: "true"
    - name: no engine socket in the controller
      ansible.builtin.stat:
        path: /var/run/docker.sock
      delegate_to: localhost
      register: engine_socket
    - name: listing containers is refused
      ansible.builtin.uri:
        url: http://engine/v1.41/containers/json
        unix_socket: /run/devenv/engine.sock
        status_code: 403
      delegate_to: localhost
    - name: creating a container is refused
      ansible.builtin.uri:
        url: http://engine/v1.41/containers/create
        method: POST
        body_format: json
        body: {"Image": "busybox"}
        unix_socket: /run/devenv/engine.sock
        status_code: 403
      delegate_to: localhost
    - name: report
      ansible.builtin.copy:
        dest: /etc/probe
        content: "engine socket in the controller: {{ engine_socket.stat.exists }}\n"
"#,
    );
    let out = t.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let probe = t.ok(&["run", "--", "cat", "/etc/probe"]);
    assert_eq!(probe, "engine socket in the controller: False\n");
}

/// The Puppet step of docs/provisioning.md, as written there: masterless `puppet apply`
/// of a module of our own, Puppet installed and removed within the step.
#[test]
fn a_puppet_manifest_runs_as_an_ordinary_step_with_its_modules_as_inputs() {
    let t = TestContext::new();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/provisioning.md"))
            .unwrap();
    let start = docs
        .find("[[step]]\nname = \"puppet\"")
        .expect("the Puppet step in the docs");
    let end = start + docs[start..].find("```").unwrap();
    debian(&t, &docs[start..end]);
    t.write(
        "puppet/manifests/site.pp",
        "include greeting\nuser { 'deploy': ensure => present, shell => '/bin/sh' }\n",
    );
    t.write(
        "puppet/modules/greeting/manifests/init.pp",
        "class greeting (String $who = 'platform team') {\n  file { '/etc/greeting':\n    content => epp('greeting/greeting.epp', { 'who' => $who }),\n  }\n}\n",
    );
    t.write(
        "puppet/modules/greeting/templates/greeting.epp",
        "<%- | String $who | -%>\nhello from <%= $who %>\n",
    );
    t.write("src/app.py", "print('app')\n");
    let out = t.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = t.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat /etc/greeting; id -u deploy >/dev/null && echo user; command -v puppet || echo no puppet",
    ]);
    assert_eq!(got, "hello from platform team\nuser\nno puppet\n");
    let before = hash(&t);
    edit(&t, "src/app.py", "app", "app2");
    assert_eq!(hash(&t), before);
    edit(
        &t,
        "puppet/modules/greeting/templates/greeting.epp",
        "hello",
        "hi",
    );
    assert_ne!(hash(&t), before);
}

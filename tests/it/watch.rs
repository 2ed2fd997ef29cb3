//! `devenv watch` / `up --watch` with real file edits in a temp project against the real
//! engine: rules run, inputs rebuild, an invalid manifest keeps the environment, ignored
//! directories cost nothing, bursts and atomic saves give one action, Ctrl-C leaves the
//! environment running.

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{docker, signal, stdout, TestContext};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A running `devenv watch` with its output collected in the background.
pub(crate) struct Watching {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Watching {
    pub(crate) fn start(t: &TestContext, args: &[&str]) -> Watching {
        let mut child = t
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let w = Watching { child, out, err };
        w.wait_err("watching ");
        w
    }

    fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    fn wait(&self, what: &str, get: impl Fn() -> String, needle: &str) {
        let start = Instant::now();
        while !get().contains(needle) {
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting for {needle:?} on {what}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn wait_err(&self, needle: &str) {
        self.wait("stderr", || self.stderr(), needle);
    }

    fn wait_out(&self, needle: &str) {
        self.wait("stdout", || self.stdout(), needle);
    }

    /// Ctrl-C; returns the exit code.
    pub(crate) fn interrupt(mut self) -> (Option<i32>, String) {
        signal(&self.child, nix::sys::signal::Signal::SIGINT);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                return (status.code(), self.stderr());
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "watch did not stop:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

fn container(t: &TestContext) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    let c = &v["container"];
    (
        c["id"].as_str().unwrap().to_owned(),
        c["state"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn up_watch_runs_a_rule_with_prefixed_output_and_ctrl_c_leaves_the_environment_running() {
    let t = TestContext::new();
    t.write("src/a.txt", "zero\n");
    t.manifest(
        "[[step]]\nrun = \"true\"\n[[watch]]\npaths = [\"src/**\"]\nrun = \"echo ran:$(cat src/a.txt); echo err-line >&2\"\n",
    );
    let w = Watching::start(&t, &["up", "--watch"]);
    let (id, _) = container(&t);
    t.write("src/a.txt", "one\n");
    w.wait_out("[rule 1] ran:one\n");
    w.wait_err("[rule 1] err-line\n");
    w.wait_err("rule 1 finished: exit 0");
    assert!(
        w.stderr().contains("src/a.txt changed: running rule 1"),
        "{}",
        w.stderr()
    );
    let (code, err) = w.interrupt();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("stopped watching; the environment keeps running"),
        "{err}"
    );
    assert_eq!(container(&t), (id, "running".to_owned()));
}

#[test]
fn a_step_input_change_rebuilds_that_step_and_recreates_the_container() {
    let t = TestContext::new();
    t.write("inputs/dep.txt", "v1\n");
    t.manifest(
        "[[step]]\nrun = \"echo first > /first\"\n[[step]]\ninputs = [\"inputs/dep.txt\"]\nrun = \"cp inputs/dep.txt /dep\"\n",
    );
    t.ok(&["up"]);
    let (before, _) = container(&t);
    let w = Watching::start(&t, &["watch"]);
    t.write("inputs/dep.txt", "v2\n");
    w.wait_err("inputs/dep.txt changed (input of step 2): rebuilt 1 of 2 steps, recreated");
    assert_eq!(t.ok(&["run", "--", "cat", "/dep", "/first"]), "v2\nfirst\n");
    let (after, state) = container(&t);
    assert_ne!(before, after);
    assert_eq!(state, "running");
    let (code, _) = w.interrupt();
    assert_eq!(code, Some(0));
}

#[test]
fn an_invalid_manifest_keeps_the_environment_and_the_fix_is_picked_up() {
    let t = TestContext::new();
    t.manifest("[[step]]\nrun = \"true\"\n");
    t.ok(&["up"]);
    let (before, _) = container(&t);
    let good = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    let w = Watching::start(&t, &["watch"]);
    t.write(
        "devenv.toml",
        &format!("{good}[container]\nenvv = {{ X = \"1\" }}\n"),
    );
    w.wait_err("devenv.toml is invalid: keeping the current environment");
    let err = w.stderr();
    assert!(err.contains("unknown key `envv`"), "{err}");
    assert!(
        err.contains("devenv.toml:"),
        "the error names file:line:col: {err}"
    );
    // (status cannot read the invalid manifest: ask the engine)
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &before]);
    assert_eq!(running.trim(), "true");
    t.write(
        "devenv.toml",
        &format!("{good}[container]\nenv = {{ X = \"fixed\" }}\n"),
    );
    w.wait_err("devenv.toml changed: recreated");
    assert_eq!(t.ok(&["run", "--", "sh", "-c", "echo $X"]), "fixed\n");
    assert_ne!(container(&t).0, before);
    w.interrupt();
}

/// Inotify watches of a process: `inotify wd:` lines in /proc/PID/fdinfo/*.
fn inotify_watches(pid: u32) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        n += text
            .lines()
            .filter(|l| l.starts_with("inotify wd:"))
            .count();
    }
    n
}

#[test]
fn ignored_directories_cause_nothing_and_cost_no_watch() {
    let t = TestContext::new();
    t.write(".gitignore", "target/\nnode_modules/\n*.log\n");
    t.write("src/lib.rs", "");
    for i in 0..50 {
        t.write(&format!("target/debug/deps/f{i}.o"), "x");
        t.write(&format!("node_modules/pkg{i}/index.js"), "x");
    }
    t.manifest("[[step]]\nrun = \"true\"\n[[watch]]\npaths = [\"**\"]\nrun = \"echo hit\"\n");
    t.ok(&["up"]);
    let w = Watching::start(&t, &["watch"]);
    // Kept: the root and src/ (.devenv/ and .git/ are never watched).
    assert!(
        w.stderr().contains("watching 2 directories"),
        "{}",
        w.stderr()
    );
    assert_eq!(inotify_watches(w.child.id()), 2);
    t.write("target/debug/deps/f1.o", "changed");
    t.write("target/new/dir/x.o", "x");
    t.write("node_modules/pkg1/index.js", "changed");
    t.write("build.log", "ignored by pattern");
    std::thread::sleep(Duration::from_millis(800));
    assert!(!w.stderr().contains("running rule"), "{}", w.stderr());
    assert_eq!(inotify_watches(w.child.id()), 2);
    // The watch is alive: a kept file still triggers the rule.
    t.write("src/lib.rs", "fn f() {}");
    w.wait_out("[rule 1] hit");
    assert!(
        w.stderr().contains("src/lib.rs changed: running rule 1"),
        "{}",
        w.stderr()
    );
    w.interrupt();
}

#[test]
fn a_burst_of_changes_and_atomic_saves_give_one_action() {
    let t = TestContext::new();
    t.write("src/main.rs", "v1");
    t.manifest(
        "[[step]]\nrun = \"true\"\n[[watch]]\npaths = [\"src/**\"]\nrun = \"echo run >> /tmp/runs; echo runs=$(wc -l < /tmp/runs)\"\n",
    );
    t.ok(&["up"]);
    // A batch is delivered after at most 10 debounce periods: 3 s, so that writing the
    // 1,000 files below fits in one batch also on a loaded machine (no change is dropped,
    // so a burst spread over two batches runs the rule twice).
    let w = Watching::start(&t, &["watch", "--debounce", "300"]);
    // An editor's atomic save (temp file, swap file, rename over the original) ...
    t.write("src/.main.rs.swp", "swap");
    t.write("src/main.rs.tmp.1234", "v2");
    std::fs::rename(
        t.root().join("src/main.rs.tmp.1234"),
        t.root().join("src/main.rs"),
    )
    .unwrap();
    std::fs::remove_file(t.root().join("src/.main.rs.swp")).unwrap();
    t.write("src/4913", "");
    std::fs::remove_file(t.root().join("src/4913")).unwrap();
    // ... and a checkout of 1,000 files, some in a new directory.
    for i in 0..1000 {
        let dir = if i % 2 == 0 {
            "src"
        } else {
            "src/generated/deep"
        };
        t.write(&format!("{dir}/f{i}.rs"), &format!("{i}"));
    }
    w.wait_err("rule 1 finished");
    std::thread::sleep(Duration::from_secs(1));
    let err = w.stderr();
    assert_eq!(err.matches("running rule 1").count(), 1, "{err}");
    assert!(w.stdout().contains("[rule 1] runs=1\n"), "{}", w.stdout());
    assert!(
        !err.contains("main.rs.tmp") && !err.contains(".swp"),
        "{err}"
    );
    // The new directory is watched too.
    t.write("src/generated/deep/late.rs", "late");
    w.wait_out("[rule 1] runs=2\n");
    w.interrupt();
    assert_eq!(
        stdout(&t.run(&["run", "--", "cat", "/tmp/runs"])),
        "run\nrun\n"
    );
}

#[test]
fn changes_during_a_run_queue_exactly_one_more_run() {
    let t = TestContext::new();
    t.write("src/a.txt", "0\n");
    // Each run appends a line to runs.log after a pause long enough to save twice meanwhile.
    t.manifest(
        "[[step]]\nrun = \"true\"\n[[watch]]\npaths = [\"src/**\"]\n\
         run = \"sleep 1; echo run >> runs.log\"\n",
    );
    t.ok(&["up"]);
    let w = Watching::start(&t, &["watch"]);
    t.write("src/a.txt", "1\n");
    w.wait_err("running rule 1");
    std::thread::sleep(Duration::from_millis(300));
    t.write("src/a.txt", "2\n");
    std::thread::sleep(Duration::from_millis(300));
    t.write("src/a.txt", "3\n");
    w.wait_err("changed while it ran: running rule 1");
    let start = Instant::now();
    while std::fs::read_to_string(t.root().join("runs.log"))
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(start.elapsed() < TIMEOUT, "{}", w.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let runs = std::fs::read_to_string(t.root().join("runs.log")).unwrap();
    assert_eq!(runs, "run\nrun\n", "no pile-up: {}", w.stderr());
    let (code, _) = w.interrupt();
    assert_eq!(code, Some(0));
}

#[test]
fn on_busy_restart_stops_the_running_command_and_starts_it_again() {
    let t = TestContext::new();
    t.write("src/a.txt", "0\n");
    t.manifest(
        "[[step]]\nrun = \"true\"\n[[watch]]\npaths = [\"src/**\"]\n\
         run = \"echo start-$(cat src/a.txt); sleep 30; echo never\"\n",
    );
    t.ok(&["up"]);
    let w = Watching::start(&t, &["watch", "--on-busy", "restart"]);
    t.write("src/a.txt", "1\n");
    w.wait_out("[rule 1] start-1");
    t.write("src/a.txt", "2\n");
    w.wait_out("[rule 1] start-2");
    w.wait_err("rule 1 finished: exit 143");
    assert!(!w.stdout().contains("never"));
    let (code, _) = w.interrupt();
    assert_eq!(code, Some(0));
    // Ctrl-C also ended the rule's command.
    let (id, _) = container(&t);
    let ps = docker(&["exec", &id, "ps", "-o", "args"]);
    assert!(!ps.contains("sleep 30"), "{ps}");
}

#[test]
fn restart_rule_restarts_the_container_and_runs_on_start_again() {
    let t = TestContext::new();
    t.write("conf/app.conf", "a\n");
    t.manifest(
        "[[step]]\nrun = \"true\"\n[hooks]\non_start = \"echo s >> /workspace/starts.log\"\n\
         [[watch]]\npaths = [\"conf/*\"]\naction = \"restart\"\n",
    );
    t.ok(&["up"]);
    let (id, _) = container(&t);
    let w = Watching::start(&t, &["watch"]);
    t.write("conf/app.conf", "b\n");
    w.wait_err("restarted");
    let starts = std::fs::read_to_string(t.root().join("starts.log")).unwrap();
    assert_eq!(starts, "s\ns\n");
    assert_eq!(container(&t), (id, "running".to_owned()));
    w.interrupt();
}

#[test]
fn an_env_file_change_recreates_the_container() {
    let t = TestContext::new();
    t.write(".env", "MODE=one\n");
    t.manifest("[[step]]\nrun = \"true\"\n[container]\nenv_file = \".env\"\n");
    t.ok(&["up"]);
    let w = Watching::start(&t, &["watch"]);
    t.write(".env", "MODE=two\n");
    w.wait_err(".env changed: recreated");
    assert_eq!(t.ok(&["run", "--", "sh", "-c", "echo $MODE"]), "two\n");
    w.interrupt();
}

#[test]
fn a_run_rule_in_the_same_batch_as_a_restart_still_runs() {
    let t = TestContext::new();
    t.write("conf/app.conf", "a\n");
    t.manifest(
        "[[step]]\nrun = \"true\"\n[[watch]]\npaths = [\"conf/*\"]\naction = \"restart\"\n\
         [[watch]]\npaths = [\"conf/*\"]\nrun = \"echo ran-$(cat conf/app.conf)\"\n",
    );
    t.ok(&["up"]);
    let w = Watching::start(&t, &["watch"]);
    t.write("conf/app.conf", "b\n");
    w.wait_err("restarted");
    w.wait_out("[rule 2] ran-b");
    w.interrupt();
}

#[test]
fn a_file_saved_while_a_rule_prints_is_not_lost() {
    let t = TestContext::new();
    t.write("src/v", "zero\n");
    t.manifest(
        "[[step]]\nrun = \"true\"\n\
         [[watch]]\npaths = [\"noisy/*\"]\nrun = \"while :; do echo tick; sleep 0.02; done\"\n\
         [[watch]]\npaths = [\"src/*\"]\nrun = \"echo got-$(cat src/v)\"\n",
    );
    t.ok(&["up"]);
    // A long debounce: lines of rule 1 arrive many times while a batch is collected.
    let w = Watching::start(&t, &["watch", "--debounce", "400"]);
    t.write("noisy/go", "");
    w.wait_out("[rule 1] tick");
    for v in ["one", "two"] {
        t.write("src/v", &format!("{v}\n"));
        w.wait_out(&format!("[rule 2] got-{v}\n"));
    }
    w.interrupt();
}

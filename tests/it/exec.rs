//! `devenv run` exit codes and signals beyond the basics in `env.rs`: commands that cannot
//! start, commands that close their output and go on, SIGHUP/SIGQUIT, a closed pipe, and
//! a hook interrupted by Ctrl-C.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::{signal, stderr, stdout, TestContext};

fn project(extra: &str) -> TestContext {
    let t = TestContext::new();
    t.manifest(&format!(
        "[[step]]\nrun = \"mkdir /adir && echo x > /notexec && chmod 644 /notexec\"\n{extra}"
    ));
    t
}

fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn command_not_found_exits_127_and_not_executable_126_with_our_own_line() {
    let t = project("");
    t.ok(&["up"]);
    let out = t.run(&["run", "--", "nosuchcmd", "arg"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosuchcmd"), "{err}");
    assert!(!err.contains("OCI runtime"), "{err}");
    assert_eq!(stdout(&out), "");
    let out = t.run(&["run", "--", "/no/such/path"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    for path in ["/notexec", "/adir"] {
        let out = t.run(&["run", "--", path]);
        assert_eq!(out.status.code(), Some(126), "{path}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(path) && !err.contains("OCI runtime"), "{err}");
    }
    // A command that prints the engine's words itself keeps its output and status.
    let out = t.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo 'OCI runtime exec failed: mine'; exit 126",
    ]);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(stdout(&out), "OCI runtime exec failed: mine\n");
}

#[test]
fn run_waits_for_a_command_that_closed_its_output_and_keeps_forwarding_signals() {
    let t = project("");
    t.ok(&["up"]);
    let out = t.run(&["run", "--", "sh", "-c", "exec >&- 2>&-; sleep 12; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));

    let child = t
        .cmd(&[
            "run",
            "--",
            "sh",
            "-c",
            "exec >&- 2>&-; touch /workspace/closed; sleep 60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&t.root().join("closed"));
    // Let devenv see the end of the output first.
    std::thread::sleep(Duration::from_secs(2));
    let sent = Instant::now();
    signal(&child, Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    assert!(sent.elapsed() < Duration::from_secs(20));
}

/// Start `devenv run -- sh -c SCRIPT` (which prints `ready` first), send `sig` once it is
/// ready; its stdout and exit code.
fn run_and_signal(t: &TestContext, script: &str, sig: Signal) -> (String, Option<i32>) {
    let mut child = t
        .cmd(&["run", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    child.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    (stdout(&out), out.status.code())
}

#[test]
fn sighup_and_sigquit_reach_the_command_and_devenv_exits_128_plus_n() {
    let t = project("");
    t.ok(&["up"]);
    for (sig, name, n) in [(Signal::SIGHUP, "HUP", 1), (Signal::SIGQUIT, "QUIT", 3)] {
        // The command sees the signal...
        let script = format!(
            "trap 'echo got-{name}; exit 7' {name}; echo ready; while :; do sleep 0.1; done"
        );
        assert_eq!(
            run_and_signal(&t, &script, sig),
            (format!("got-{name}\n"), Some(7))
        );
        // ...and when it dies of it, devenv reports 128+N.
        let (_, code) = run_and_signal(&t, "echo ready; exec sleep 300", sig);
        assert_eq!(code, Some(128 + n), "{name}");
    }
}

#[test]
fn ctrl_c_during_on_create_exits_130_and_the_hook_runs_again_at_the_next_up() {
    let t = project(
        "[hooks]\non_create = \"echo run >> /workspace/hook.log; \
         if [ ! -f /workspace/second ]; then touch /workspace/started; sleep 60; fi\"\n",
    );
    let child = t.cmd(&["up"]).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_file(&t.root().join("started"));
    signal(&child, Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    t.write("second", "");
    t.ok(&["up"]);
    let log = std::fs::read_to_string(t.root().join("hook.log")).unwrap();
    assert_eq!(log, "run\nrun\n");
    t.ok(&["up"]);
    let log = std::fs::read_to_string(t.root().join("hook.log")).unwrap();
    assert_eq!(log, "run\nrun\n", "on_create ran again after it succeeded");
}

/// stdout and stderr whose reader is gone, as after `| head` has exited.
fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Stdio::from(write)
}

#[test]
fn a_closed_stdout_or_stderr_never_panics() {
    let t = TestContext::new();
    t.manifest("[[step]]\nrun = \"seq 1 2000\"\n[[step]]\nrun = \"echo two\"\n");
    let commands: [&[&str]; 6] = [
        &["config", "--json"],
        &["hash"],
        &["build"],
        &["build", "-v"],
        &["status", "--json"],
        &["run", "--", "yes"],
    ];
    for args in commands {
        let out = t
            .cmd(args)
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .output()
            .unwrap();
        let code = out.status.code();
        assert!(
            code != Some(101) && code.is_some(),
            "devenv {args:?} ended with {:?}",
            out.status
        );
        if args[0] != "run" {
            assert_eq!(code, Some(0), "devenv {args:?}");
        }
    }
    // The build really finished: a later build only reuses it.
    let out = t.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("running"), "{}", stderr(&out));
    // `run -- yes | head`: `yes` learns of the closed pipe as in a shell, by SIGPIPE.
    let mut child = t
        .cmd(&["run", "--", "yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4];
    let mut out = child.stdout.take().unwrap();
    out.read_exact(&mut buf).unwrap();
    drop(out);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

//! What devenv says and how it ends when something outside it fails: a reader that goes
//! away, conflicts the engine reports, pulls that fail, an engine that is not there.

use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{stderr, TestContext};

/// Wait for `child` to exit within `limit`, killing it otherwise.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_follow_ends_when_its_reader_goes_away() {
    let t = TestContext::new();
    t.manifest("[services.ticker]\ncommand = \"while true; do echo tick; sleep 0.1; done\"\n");
    t.ok(&["up"]);
    let mut child = t
        .cmd(&["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.ends_with("| tick\n"), "{first:?}");
    // The reader is gone (as `| head -1` exits): the next write fails and logs ends.
    assert_eq!(exit_within(&mut child, Duration::from_secs(10)), Some(0));
    let out = t.run(&["down"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

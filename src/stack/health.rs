//! When devenv restarts an unhealthy service: only once it stayed unhealthy for a grace
//! period (its `ready_timeout`), and then with a backoff between devenv's restarts of it
//! (the grace doubling with each restart that did not make it ready, up to ten minutes).
//! A database in a slow crash recovery is unhealthy for a while; restarting it at every
//! `up`, `run` or `watch` tick would kill it again and again.
//!
//! How long it has been unhealthy comes from the engine (the healthcheck's failing streak);
//! devenv's own restarts are kept in `.devenv/services/<name>.restarts` (their count and the
//! time of the last), so `up`, `run`, `watch` and `status` follow one schedule. Seeing the
//! service ready again clears it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::member::{HEALTH_INTERVAL, HEALTH_RETRIES};

/// The longest wait between two restarts by devenv (unless the grace is longer).
const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// What devenv makes of an unhealthy service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// About how long the engine has reported it unhealthy.
    pub unhealthy_for: Duration,
    /// Zero when a restart is due now.
    pub restart_in: Duration,
    /// devenv's restarts of it since it was last ready.
    pub restarts: u32,
}

/// How long a service has been unhealthy, from its healthcheck's failing streak (the
/// engine calls it unhealthy at [`HEALTH_RETRIES`] failures in a row, one per interval).
pub fn unhealthy_for(failing_streak: i64) -> Duration {
    let beyond = u32::try_from((failing_streak - HEALTH_RETRIES).max(0)).unwrap_or(u32::MAX);
    HEALTH_INTERVAL.saturating_mul(beyond)
}

/// Judge a service unhealthy for `unhealthy_for`, with grace `grace`.
pub fn judge(state_dir: &Path, service: &str, grace: Duration, unhealthy_for: Duration) -> Verdict {
    let (restarts, last) = read(state_dir, service);
    let since_last = Duration::from_secs(now().saturating_sub(last));
    decide(grace, unhealthy_for, restarts, since_last)
}

/// The schedule itself: the grace must have passed, and since devenv's last restart
/// (after `restarts` restarts in a row) the backoff.
fn decide(
    grace: Duration,
    unhealthy_for: Duration,
    restarts: u32,
    since_last: Duration,
) -> Verdict {
    let backoff = if restarts == 0 {
        Duration::ZERO
    } else {
        grace
            .saturating_mul(1 << restarts.min(16))
            .min(BACKOFF_MAX.max(grace))
    };
    Verdict {
        unhealthy_for,
        restart_in: grace
            .saturating_sub(unhealthy_for)
            .max(backoff.saturating_sub(since_last)),
        restarts,
    }
}

/// Note a restart by devenv.
pub fn record_restart(state_dir: &Path, service: &str) {
    let (restarts, _) = read(state_dir, service);
    let path = file(state_dir, service);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, format!("{} {}\n", restarts + 1, now()));
}

/// The service was ready: its restarts no longer count.
pub fn forget(state_dir: &Path, service: &str) {
    let _ = std::fs::remove_file(file(state_dir, service));
}

fn read(state_dir: &Path, service: &str) -> (u32, u64) {
    let text = std::fs::read_to_string(file(state_dir, service)).unwrap_or_default();
    let mut words = text.split_whitespace().map(str::parse::<u64>);
    match (words.next(), words.next()) {
        (Some(Ok(n)), Some(Ok(at))) => (u32::try_from(n).unwrap_or(u32::MAX), at),
        _ => (0, 0),
    }
}

fn file(state_dir: &Path, service: &str) -> PathBuf {
    state_dir
        .join("services")
        .join(format!("{service}.restarts"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn restart_waits_for_the_grace_then_backs_off() {
        // Unhealthy for 10 s of a 30 s grace: 20 s to go.
        assert_eq!(decide(S(30), S(10), 0, S(1000)).restart_in, S(20));
        assert_eq!(decide(S(30), S(30), 0, S(1000)).restart_in, S(0));
        // Restarted once 40 s ago: the next after 60 s, even if unhealthy long enough.
        assert_eq!(decide(S(30), S(40), 1, S(40)).restart_in, S(20));
        assert_eq!(decide(S(30), S(40), 2, S(40)).restart_in, S(80));
        // Capped at ten minutes, or the grace when that is longer.
        assert_eq!(decide(S(30), S(40), 9, S(0)).restart_in, S(600));
        assert_eq!(decide(S(900), S(900), 3, S(0)).restart_in, S(900));
    }

    #[test]
    fn unhealthy_time_counts_failures_beyond_the_retries() {
        assert_eq!(unhealthy_for(0), Duration::ZERO);
        assert_eq!(unhealthy_for(HEALTH_RETRIES), Duration::ZERO);
        assert_eq!(unhealthy_for(HEALTH_RETRIES + 5), HEALTH_INTERVAL * 5);
    }
}

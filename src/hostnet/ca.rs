//! The host's CA bundle inside a container. It arrives on an exec's stdin (no host path
//! is mounted, so a remote engine gets it the same way), is written to [`CA_PATH`] for the
//! tools' variables, and is appended to the container's system bundle
//! (`/etc/ssl/certs/ca-certificates.crt`, `/etc/pki/tls/certs/ca-bundle.crt`; created when
//! the image has neither) for the tools that read only that (apt, wget, most binaries).
//!
//! In a build step, [`remove`] undoes all of it before the commit: a system bundle the step
//! did not rewrite gets its old content back, one devenv created goes, and so does
//! [`CA_DIR`]. A bundle the step rewrote (installing `ca-certificates` regenerates it) is
//! the step's and stays. The layer thus holds the image's own bundle, never the host's.

use super::{HostCa, CA_DIR};
use crate::engine::{Engine, EngineError, ExecSpec};

/// Writes stdin to the private path and adds it to the system bundle, recording in
/// `$d/undo` how to take it out again. `$1` is the private directory.
const INSTALL: &str = r#"set -e
d="$1"
made_run=
[ -d /run ] || made_run=1
mkdir -p "$d"
chmod 755 "$d"
cat > "$d/host-ca.crt"
chmod 644 "$d/host-ca.crt"
: > "$d/undo"
[ -z "$made_run" ] || : > "$d/made-run"
n=0
for b in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  [ -f "$b" ] || continue
  n=$((n+1))
  cp "$b" "$d/orig$n"
  cat "$d/host-ca.crt" >> "$b"
  cp "$b" "$d/with$n"
  echo "appended $n $b" >> "$d/undo"
done
if [ "$n" = 0 ]; then
  made=
  [ -d /etc/ssl ] || made=/etc/ssl
  [ -d /etc/ssl/certs ] || made="/etc/ssl/certs $made"
  mkdir -p /etc/ssl/certs
  cp "$d/host-ca.crt" /etc/ssl/certs/ca-certificates.crt
  chmod 644 /etc/ssl/certs/ca-certificates.crt
  echo "created - /etc/ssl/certs/ca-certificates.crt" >> "$d/undo"
  [ -z "$made" ] || echo "dirs - $made" >> "$d/undo"
fi
"#;

/// Undoes [`INSTALL`]: a bundle still as devenv left it gets its old content back (or goes,
/// with the directories devenv made for it); one the step changed is the step's.
const REMOVE: &str = r#"d="$1"
[ -f "$d/undo" ] || exit 0
same() { cmp -s "$1" "$2" 2>/dev/null || { [ -f "$1" ] && [ "$(cat "$1")" = "$(cat "$2")" ]; }; }
while read -r kind n path; do
  case "$kind" in
    appended) if same "$path" "$d/with$n"; then cat "$d/orig$n" > "$path" || exit 1; fi ;;
    created) if same "$path" "$d/host-ca.crt"; then rm -f "$path" || exit 1; fi ;;
    dirs) for x in $path; do rmdir "$x" 2>/dev/null || true; done ;;
  esac
done < "$d/undo"
if [ -f "$d/made-run" ]; then rm -rf "$d" && rmdir /run; else rm -rf "$d"; fi
"#;

/// What failed inside the container, with its output (the engine itself worked).
pub type ScriptResult = Result<(), String>;

/// Put the host's bundle into the running container `id` (as root).
pub async fn install(engine: &Engine, id: &str, ca: &HostCa) -> Result<ScriptResult, EngineError> {
    let spec = root_script(INSTALL, "devenv-ca-install");
    let (code, out, err) = engine.exec_with_input(id, &spec, ca.bytes.clone()).await?;
    Ok(check(code, "adding the host's CA bundle", &out, &err))
}

/// Take the bundle out of the running container `id` again (before a commit).
pub async fn remove(engine: &Engine, id: &str) -> Result<ScriptResult, EngineError> {
    let spec = root_script(REMOVE, "devenv-ca-remove");
    let (code, out, err) = engine.exec_with_input(id, &spec, Vec::new()).await?;
    Ok(check(code, "removing the host's CA bundle", &out, &err))
}

fn root_script(script: &str, name: &str) -> ExecSpec {
    ExecSpec {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            script.into(),
            name.into(),
            CA_DIR.into(),
        ],
        user: Some("0:0".into()),
        workdir: Some("/".into()),
        ..ExecSpec::default()
    }
}

fn check(code: i64, what: &str, out: &[u8], err: &[u8]) -> ScriptResult {
    if code == 0 {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(out),
        String::from_utf8_lossy(err)
    );
    Err(format!(
        "{what} failed (exit status {code}): {}",
        text.trim()
    ))
}

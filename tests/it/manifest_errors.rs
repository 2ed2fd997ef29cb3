//! `devenv validate` over invalid manifests: exit status 2, the first error's position, and
//! a snapshot of the whole report per fixture.
//!
//! Each file in `tests/fixtures/invalid/` starts with `# expect: LINE:COL`, the position of
//! its first error. The fixtures run from their own directory so reports show the bare file
//! name, as they would for a user validating `-f devenv.toml`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid")
}

/// Run `devenv validate -f FILE` in `dir`: exit code and stderr.
fn validate(dir: &Path, file: &str) -> (Option<i32>, String) {
    let output = assert_cmd::Command::cargo_bin("devenv")
        .expect("the devenv binary is built")
        .args(["validate", "-f", file])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("devenv runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `LINE:COL` from the fixture's `# expect: LINE:COL` first line.
fn expected_position(text: &str) -> Option<&str> {
    text.lines()
        .next()?
        .strip_prefix("# expect: ")
        .map(str::trim)
}

/// Check one fixture; `Err` says what is wrong without stopping the other fixtures.
fn check_fixture(dir: &Path, file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
    let position = expected_position(&text).ok_or("first line is not `# expect: LINE:COL`")?;
    let (code, stderr) = validate(dir, file);
    if code != Some(2) {
        return Err(format!("exit code {code:?}, expected 2; stderr:\n{stderr}"));
    }
    let location = format!("{file}:{position}");
    let first = stderr.lines().find(|l| l.trim_start().starts_with("--> "));
    if !first.is_some_and(|l| l.ends_with(&location)) {
        return Err(format!("the first error is not at {location}:\n{stderr}"));
    }
    let name = file.trim_end_matches(".toml");
    catch_unwind(AssertUnwindSafe(|| {
        insta::assert_snapshot!(format!("invalid__{name}"), stderr);
    }))
    .map_err(|_| "snapshot differs".to_owned())
}

#[test]
fn invalid_manifests_are_reported_with_positions() {
    let dir = fixtures_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| Path::new(name).extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 45, "only {} fixtures", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            check_fixture(&dir, file)
                .err()
                .map(|e| format!("{file}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_error_in_a_file_is_reported() {
    let (code, stderr) = validate(&fixtures_dir(), "many_errors.toml");
    assert_eq!(code, Some(2));
    let errors = stderr.lines().filter(|l| l.starts_with("error")).count();
    assert!(errors >= 8, "expected every error, got {errors}:\n{stderr}");
}

/// A symlink can't live portably in git, so the project is made here.
#[cfg(unix)]
#[test]
fn symlink_escaping_the_project_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "secret").unwrap();
    let project = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), project.path().join("keys")).unwrap();
    let manifest =
        "[base]\nimage = \"debian\"\n\n[[step]]\nrun = \"true\"\ninputs = [\"keys/*\"]\n";
    std::fs::write(project.path().join("devenv.toml"), manifest).unwrap();
    let (code, stderr) = validate(project.path(), "devenv.toml");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("devenv.toml:6:11"), "{stderr}");
    insta::with_settings!({filters => vec![(r"\(to [^)]*\)", "(to [OUTSIDE])")]}, {
        insta::assert_snapshot!("symlink_escape", stderr);
    });
}

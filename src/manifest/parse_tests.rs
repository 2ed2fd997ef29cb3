//! Unit tests of manifest parsing: the full example, each grammar, rendering, and a
//! property test that no input makes the parser panic.

use std::path::Path;

use proptest::prelude::*;

use super::*;

/// The example from the manifest contract, with every section.
pub(super) const FULL: &str = r#"name = "shop-api"

[base]
image = "debian:bookworm-slim"
pull = "missing"

[env]
LANG = "C.UTF-8"

[[step]]
name = "system packages"
run = "apt-get update && apt-get install -y git"

[[step]]
name = "dependencies"
inputs = ["Cargo.toml", "Cargo.lock", "scripts/*.sh"]
run = "cargo fetch"
env = { CARGO_HOME = "/opt/cargo" }
secrets = ["GITHUB_TOKEN"]
user = "root"

[shell]
command = "/bin/bash"
user = "host"
workdir = "/workspace"

[container]
env = { RUST_LOG = "debug" }
env_file = ".env"
ports = ["8080:8080", "127.0.0.1:5432:5432"]
volumes = ["target-cache:/workspace/target", "./data:/data"]
network = "bridge"

[hooks]
on_create = "make bootstrap"
on_start = "echo ready"

[cache]
registry = "ghcr.io/acme/shop-env"

[[watch]]
paths = ["src/**/*.rs"]
run = "cargo check"
[[watch]]
paths = ["package.json"]
action = "rebuild"
"#;

fn parse(src: &str) -> Result<Manifest, ManifestError> {
    parse_str(
        src,
        Path::new("devenv.toml"),
        Path::new("/nonexistent/my Project"),
    )
}

/// `(line, col, message)` of every diagnostic.
fn errors(src: &str) -> Vec<(usize, usize, String)> {
    match parse(src) {
        Ok(m) => panic!("expected errors, parsed {m:?}"),
        Err(ManifestError::Invalid {
            diagnostics,
            source_text,
            ..
        }) => diagnostics
            .iter()
            .map(|d| {
                let (line, col) = diag::line_col(&source_text, d.span.start);
                (line, col, d.message.clone())
            })
            .collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn first_error(src: &str) -> String {
    errors(src).remove(0).2
}

const BASE: &str = "[base]\nimage = \"debian\"\n";

#[test]
fn full_example_parses_with_every_value() {
    let m = parse(FULL).unwrap();
    assert_eq!(m.name, "shop-api");
    let BaseSource::Image(image) = &m.base.source else {
        panic!("expected an image")
    };
    assert_eq!(image.name, "debian");
    assert_eq!(image.tag.as_deref(), Some("bookworm-slim"));
    assert_eq!(m.steps.len(), 2);
    assert_eq!(
        m.steps[1].inputs,
        ["Cargo.toml", "Cargo.lock", "scripts/*.sh"]
    );
    assert_eq!(m.steps[1].env["CARGO_HOME"], "/opt/cargo");
    assert_eq!(m.steps[1].secrets, ["GITHUB_TOKEN"]);
    assert_eq!(m.shell.command.as_deref(), Some("/bin/bash"));
    assert_eq!(m.container.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        m.container.volumes[1],
        VolumeSpec::Bind {
            source: "data".into(),
            target: "/data".into(),
            read_only: false
        }
    );
    assert_eq!(m.cache.unwrap().registry, "ghcr.io/acme/shop-env");
    assert_eq!(m.watch[0].action, WatchAction::Run("cargo check".into()));
    assert_eq!(m.watch[1].action, WatchAction::Rebuild);
}

#[test]
fn defaults_are_filled() {
    let m = parse(&format!("{BASE}[[step]]\nrun = \"true\"\n")).unwrap();
    assert_eq!(m.name, "my-project");
    assert_eq!(m.base.pull, PullPolicy::Missing);
    assert_eq!(m.steps[0].name, "step 1");
    assert_eq!(m.steps[0].user, "root");
    assert_eq!(m.shell.user, ShellUser::Host);
    assert_eq!(m.shell.workdir, DEFAULT_WORKDIR);
    assert_eq!(m.container.network, Network::Bridge);
    assert!(m.cache.is_none() && m.watch.is_empty());
}

#[test]
fn image_references() {
    let ok = |s: &str| reference::image_ref(s).unwrap();
    let r = ok("localhost:5000/a/b_c__d-e.f:v1.0");
    assert_eq!(r.name, "localhost:5000/a/b_c__d-e.f");
    assert_eq!(r.tag.as_deref(), Some("v1.0"));
    assert_eq!(ok("localhost/x").name, "localhost/x");
    let digest = format!("sha256:{}", "ab".repeat(32));
    let r = ok(&format!("ghcr.io:443/acme/base:1.2@{digest}"));
    assert_eq!(r.name, "ghcr.io:443/acme/base");
    assert_eq!(r.tag.as_deref(), Some("1.2"));
    assert_eq!(r.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(r.name_and_tag(), "ghcr.io:443/acme/base:1.2");
    let id = ok(&digest);
    assert_eq!((id.name.as_str(), id.tag), (digest.as_str(), None));
    assert_eq!(ok("a--b/c").name, "a--b/c");
    for bad in [
        "",
        "Debian",
        "debian:",
        "debian:-x",
        "a//b",
        "a_-b",
        "-a",
        "a.",
        "debian@sha256:abc",
        "debian@md5:abc",
        "sha256:xyz",
        "exa mple.com/x",
    ] {
        assert!(
            reference::image_ref(bad).is_err(),
            "{bad} should be refused"
        );
    }
    let short = reference::image_ref("debian@sha256:0123456789ab").unwrap_err();
    assert!(short
        .message
        .ends_with("a sha256 digest has 64 hex characters, found 12"));
}

#[test]
fn ports_and_volumes() {
    let p = values::port("[::1]:8080:80/udp").unwrap();
    assert_eq!(
        (
            p.host_ip.as_deref(),
            p.host_port,
            p.container_port,
            p.protocol.as_str()
        ),
        (Some("::1"), 8080, 80, "udp")
    );
    for bad in [
        "80",
        "0:80",
        "70000:80",
        "a:80",
        "1.2.3:80:80",
        "80:80/sctp",
        "::1:80:80",
    ] {
        assert!(values::port(bad).is_err(), "{bad} should be refused");
    }
    let v = values::volume(".:/src:ro").unwrap();
    assert_eq!(
        v,
        VolumeSpec::Bind {
            source: ".".into(),
            target: "/src".into(),
            read_only: true
        }
    );
    for bad in ["cache", "cache:rel", "cache:/x:rx", "-x:/x", "a:b:c:d"] {
        assert!(values::volume(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn every_error_is_collected_in_source_order() {
    let src =
        "nme = \"x\"\n[base]\nimage = \"Debian\"\npull = \"sometimes\"\n[[step]]\nrun = \"\"\n";
    let errs = errors(src);
    let positions: Vec<(usize, usize)> = errs.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(positions, [(1, 1), (3, 9), (4, 8), (6, 7)], "{errs:?}");
}

#[test]
fn unknown_keys_suggest_and_explain() {
    let src = format!("{BASE}imge = 1\n");
    let Err(ManifestError::Invalid { diagnostics, .. }) = parse(&src) else {
        panic!()
    };
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("did you mean `image`?")
    );
    let src = format!("[[steps]]\nrun = \"x\"\n{BASE}");
    assert_eq!(first_error(&src), "unknown key `steps` in the top level");
    assert!(first_error(&format!("{BASE}[step]\nrun = \"x\"\n"))
        .starts_with("expected an array of tables"));
}

#[test]
fn syntax_errors_are_all_reported() {
    let errs = errors("a = \"x\nb = [1,\n");
    assert!(errs.len() >= 2, "{errs:?}");
    assert!(errs.iter().all(|e| e.2.starts_with("invalid TOML")));
}

#[test]
fn empty_file_points_at_the_start() {
    assert_eq!(errors(""), [(1, 1, "missing [base] table".to_owned())]);
}

#[test]
fn render_matches_rustc_style() {
    let src = "name = \"x\"\n[base]\nimge = \"debian\"\nimage = \"debian\"\n";
    let err = parse(src).unwrap_err();
    let text = err.render(false);
    let expected = "error: unknown key `imge` in [base]
 --> devenv.toml:3:1
  |
3 | imge = \"debian\"
  | ^^^^ expected one of `image`, `rootfs`, `pull`, `platform`
  |
  = hint: did you mean `image`?
";
    assert!(text.starts_with(expected), "{text}");
    assert!(!text.contains('\u{1b}'));
    assert!(err.render(true).contains('\u{1b}'));
}

#[test]
fn base_platform_is_read_in_normal_form_and_nonsense_points_at_it() {
    let m =
        parse("name = \"x\"\n[base]\nrootfs = \"r.tar\"\nplatform = \"linux/aarch64\"\n").unwrap();
    assert_eq!(m.base.platform.unwrap().to_string(), "linux/arm64");
    let err =
        parse("name = \"x\"\n[base]\nrootfs = \"r.tar\"\nplatform = \"arm 64\"\n").unwrap_err();
    let text = err.render(false);
    assert!(
        text.contains("invalid `platform`: `arm 64` is not a platform"),
        "{text}"
    );
    assert!(text.contains("devenv.toml:4:12"), "{text}");
}

#[cfg(unix)]
#[test]
fn symlink_escapes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let src = format!("{BASE}[[step]]\nrun = \"x\"\ninputs = [\"src/*.rs\", \"etc/*.conf\"]\n");
    let err = parse_str(&src, Path::new("devenv.toml"), dir.path()).unwrap_err();
    let ManifestError::Invalid { diagnostics, .. } = err else {
        panic!()
    };
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("through a symlink"));
}

/// One random edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, u8),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(b"[]{}\"'=.,:#\n \\/*@-_0aZ\x00\xff".to_vec());
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), prop_oneof![interesting, any::<u8>()])
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Delete(i) if len > 0 => {
            bytes.remove(i % len);
        }
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Duplicate(i, n) if len > 0 => {
            let start = i % len;
            let chunk = bytes[start..(start + n).min(len)].to_vec();
            bytes.splice(start..start, chunk);
        }
        Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
        _ => {}
    }
}

/// Parse and render; neither may panic.
fn exercise(src: &str) {
    if let Err(e) = parse(src) {
        let _ = e.render(false);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in ".{0,200}") {
        exercise(&src);
    }

    #[test]
    fn mutated_manifests_never_panic(mutations in prop::collection::vec(mutation(), 1..8)) {
        let mut bytes = FULL.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn services_parse_with_defaults() {
    let src = format!(
        "{BASE}[services.db]\nimage = \"postgres:16\"\ncommand = [\"postgres\", \"-c\", \"fsync=off\"]\n\
         env = {{ POSTGRES_PASSWORD = \"dev\" }}\nports = [\"127.0.0.1:5432:5432\"]\n\
         volumes = [\"pgdata:/var/lib/postgresql/data\"]\nready = \"pg_isready\"\n\
         depends_on = [\"cache\"]\n[services.cache]\nimage = \"redis\"\nrestart = \"always\"\n\
         ready_timeout = 5\n[services.worker]\ncommand = \"python -m worker\"\n"
    );
    let m = parse(&src).unwrap();
    let db = &m.services["db"];
    assert_eq!(db.image.as_ref().unwrap().name, "postgres");
    assert_eq!(
        db.command,
        Some(ServiceCommand::Argv(vec![
            "postgres".into(),
            "-c".into(),
            "fsync=off".into()
        ]))
    );
    assert_eq!(db.ready_timeout, DEFAULT_READY_TIMEOUT);
    assert_eq!(db.restart, RestartPolicy::OnFailure);
    assert_eq!(m.services["cache"].restart, RestartPolicy::Always);
    assert_eq!(m.services["cache"].ready_timeout, 5);
    let worker = &m.services["worker"];
    assert!(worker.uses_environment_image());
    assert_eq!(
        worker.command.as_ref().unwrap().argv(),
        ["/bin/sh", "-c", "python -m worker"]
    );
    assert_eq!(
        start_levels(&m.services),
        vec![
            vec!["cache".to_owned(), "worker".to_owned()],
            vec!["db".to_owned()]
        ]
    );
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["services"]["db"]["restart"], "on-failure");
    assert_eq!(json["services"]["worker"]["command"], "python -m worker");
    assert_eq!(json["services"]["cache"]["ready"], serde_json::Value::Null);
}

#[test]
fn service_errors_point_at_their_place() {
    let src = format!(
        "{BASE}[services.db]\nimage = \"postgres\"\nredy = \"x\"\ndepends_on = [\"cahce\", \"db\"]\n\
         restart = \"sometimes\"\nready_timeout = \"60\"\n[services.cache]\nimage = \"redis\"\n\
         [services.Bad_Name]\nimage = \"x\"\n[services.w]\nenv = {{ A = \"1\" }}\n"
    );
    let errs = errors(&src);
    let messages: Vec<&str> = errs.iter().map(|e| e.2.as_str()).collect();
    assert!(
        messages.contains(&"unknown key `redy` in [services.db]"),
        "{errs:?}"
    );
    assert!(messages.contains(&"`cahce` is not a service"), "{errs:?}");
    assert!(
        messages.contains(&"service `db` depends on itself"),
        "{errs:?}"
    );
    assert!(
        messages.contains(&"invalid `restart` value \"sometimes\""),
        "{errs:?}"
    );
    assert!(
        messages.contains(&"expected an integer, found a string"),
        "{errs:?}"
    );
    assert!(
        messages.contains(&"invalid service name `Bad_Name`"),
        "{errs:?}"
    );
    assert!(
        messages.contains(&"[services.w] runs from the environment's image but has no `command`"),
        "{errs:?}"
    );
    assert!(errs.contains(&(5, 1, "unknown key `redy` in [services.db]".into())));
    assert!(errs.contains(&(6, 15, "`cahce` is not a service".into())));
    let hint = render_first(&src, "cahce");
    assert!(hint.contains("did you mean `cache`?"), "{hint}");
}

#[test]
fn service_cycles_ports_and_networks_are_refused() {
    let src = format!(
        "{BASE}[container]\nnetwork = \"host\"\nports = [\"8080:80\"]\n[services.a]\nimage = \"x\"\n\
         depends_on = [\"b\"]\nports = [\"8080:8080\"]\n[services.b]\nimage = \"x\"\ndepends_on = [\"a\"]\n"
    );
    let errs = errors(&src);
    let messages: Vec<&str> = errs.iter().map(|e| e.2.as_str()).collect();
    assert!(
        messages.contains(&"services depend on each other in a cycle: a → b → a"),
        "{errs:?}"
    );
    assert!(
        messages.contains(&"host port 8080/tcp is published twice"),
        "{errs:?}"
    );
    assert!(
        messages.contains(&"`network = \"host\"` cannot be used together with [services]"),
        "{errs:?}"
    );
    assert!(errs.contains(&(
        4,
        11,
        "`network = \"host\"` cannot be used together with [services]".into()
    )));
}

fn render_first(src: &str, needle: &str) -> String {
    match parse(src) {
        Err(ManifestError::Invalid { diagnostics, .. }) => diagnostics
            .iter()
            .find(|d| d.message.contains(needle))
            .map(|d| format!("{} {:?}", d.message, d.hint))
            .unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sync_fetch_paths_parse_as_written() {
    assert!(parse(BASE).unwrap().sync.fetch.is_empty());
    let src = format!("{BASE}[sync]\nfetch = [\"target/nextest/junit.xml\", \"coverage/\"]\n");
    let m = parse(&src).unwrap();
    assert_eq!(m.sync.fetch, ["target/nextest/junit.xml", "coverage/"]);
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["sync"]["fetch"][1], "coverage/");
    let m = parse(&format!("sync.fetch = [\"a\"]\n{BASE}")).unwrap();
    assert_eq!(m.sync.fetch, ["a"]);
}

#[test]
fn sync_fetch_paths_are_plain_paths_in_the_project() {
    let bad = |path: &str| {
        let src = format!("{BASE}[sync]\nfetch = [\"{path}\"]\n");
        let errs = errors(&src);
        assert_eq!(errs.len(), 1, "{path}: {errs:?}");
        assert_eq!((errs[0].0, errs[0].1), (4, 10), "{path}");
        errs[0].2.clone()
    };
    assert_eq!(bad("/tmp/r.xml"), "`/tmp/r.xml` is an absolute path");
    assert_eq!(
        bad("../r.xml"),
        "`../r.xml` leaves the project directory (`..`)"
    );
    assert_eq!(bad(""), "empty path");
    assert_eq!(
        bad("reports/*.xml"),
        "`reports/*.xml` is a pattern, not a path"
    );
    assert_eq!(
        bad("./coverage"),
        "`./coverage` has an empty or `.` component"
    );
    assert_eq!(bad("."), "`.` has an empty or `.` component");
    assert_eq!(bad("a//b"), "`a//b` has an empty or `.` component");
    assert_eq!(
        bad(".git/hooks"),
        "`.git/hooks` is inside `.git`, which is never synced"
    );
    assert_eq!(
        bad(".devenv"),
        "`.devenv` is inside `.devenv`, which is never synced"
    );
    for ok in ["coverage/", "a.b/c", "target/nextest/junit.xml", ".cache/x"] {
        assert!(check_fetch_path(ok).is_ok(), "{ok}");
    }
    assert!(check_fetch_path("../x").is_err());
}

#[test]
fn sync_fetch_paths_are_listed_once_and_not_inside_each_other() {
    let src = format!("{BASE}[sync]\nfetch = [\"cov/\", \"cov\", \"a/b\", \"a\", \"ab\"]\n");
    let errs = errors(&src);
    let messages: Vec<&str> = errs.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`cov` is listed twice in `fetch`",
            "`a/b` is inside `a`, which is fetched whole"
        ]
    );
    // Reported at the later of the two.
    assert_eq!((errs[1].0, errs[1].1), (4, 32));
    let src = format!("{BASE}[sync]\nfetchh = []\n");
    assert!(render_first(&src, "unknown key").contains("did you mean `fetch`?"));
    let src = format!("fetch = [\"x\"]\n{BASE}");
    assert!(render_first(&src, "unknown key").contains("`fetch` belongs in [sync]"));
    let src = format!("{BASE}[sync]\nfetch = \"coverage\"\n");
    assert_eq!(first_error(&src), "expected an array, found a string");
}

//! The host's CA bundle reaches steps and the environment on an engine that cannot see this
//! machine's files (it is sent on an exec's stdin, not mounted), and stays out of the image.

use super::RemoteProject;

#[test]
fn the_host_ca_reaches_a_remote_engines_steps_and_environment_but_no_layer() {
    let p = RemoteProject::new();
    let outside = tempfile::tempdir().unwrap();
    let bundle = outside.path().join("bundle.pem");
    let marker = "devenv-remote-ca-marker";
    std::fs::write(
        &bundle,
        format!("# {marker}\n-----BEGIN CERTIFICATE-----\nTUFSS0VS\n-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    p.t.manifest(&format!(
        "[[step]]\nname = \"sees it\"\nrun = \"grep -q {marker} \\\"$SSL_CERT_FILE\\\" && grep -q {marker} /etc/ssl/certs/ca-certificates.crt\"\n"
    ));
    let trusted = |args: &[&str]| {
        let out = p
            .cmd(args)
            .env("DEVENV_TRUST_HOST_CA", &bundle)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "devenv {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    trusted(&["up"]);
    let seen = trusted(&[
        "run",
        "--",
        "sh",
        "-c",
        &format!("grep -c {marker} \"$SSL_CERT_FILE\""),
    ]);
    assert_eq!(seen, "1\n");
    let hash = trusted(&["hash"]);
    let image = format!("devenv/{}:{}", p.t.name, hash.trim());
    let out = p.e.docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "ls /etc/ssl /run 2>&1; true",
    ]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("ca-certificates.crt"), "{listing}");
    assert!(!listing.contains("devenv-ca"), "{listing}");
}

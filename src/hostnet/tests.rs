use super::*;

fn config(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn proxies_take_the_entry_named_like_the_endpoint_else_default() {
    let c = config(
        r#"{"proxies": {
            "default": {"httpProxy": "http://d:3128", "noProxy": "localhost"},
            "tcp://far:2376": {"httpsProxy": "http://far-proxy:8080"}
        }}"#,
    );
    let (env, key) = proxies(&c, "unix:///var/run/docker.sock").unwrap();
    assert_eq!(key, "default");
    assert_eq!(
        env,
        [
            "HTTP_PROXY=http://d:3128",
            "NO_PROXY=localhost",
            "http_proxy=http://d:3128",
            "no_proxy=localhost"
        ]
    );
    let (env, key) = proxies(&c, "tcp://far:2376").unwrap();
    assert_eq!(key, "tcp://far:2376");
    assert_eq!(
        env,
        [
            "HTTPS_PROXY=http://far-proxy:8080",
            "https_proxy=http://far-proxy:8080"
        ]
    );
}

#[test]
fn no_proxies_section_or_only_empty_values_give_nothing() {
    assert_eq!(proxies(&config(r#"{"auths": {}}"#), "x"), None);
    assert_eq!(
        proxies(
            &config(r#"{"proxies": {"default": {"httpProxy": ""}}}"#),
            "x"
        ),
        None
    );
    assert_eq!(
        proxies(
            &config(r#"{"proxies": {"tcp://a:1": {"httpProxy": "p"}}}"#),
            "x"
        ),
        None
    );
}

#[test]
fn a_variable_the_container_sets_itself_wins() {
    let net = HostNetwork {
        proxy_env: vec!["HTTP_PROXY=http://p".into(), "http_proxy=http://p".into()],
        proxy_source: Some("f".into()),
        ca: Some(HostCa {
            path: "/b".into(),
            bytes: Vec::new(),
            source: "s".into(),
        }),
    };
    let env = net.env_for(&["http_proxy=mine".into(), "PIP_CERT=/own.pem".into()]);
    assert_eq!(
        env,
        [
            "HTTP_PROXY=http://p".to_owned(),
            format!("SSL_CERT_FILE={CA_PATH}"),
            format!("REQUESTS_CA_BUNDLE={CA_PATH}"),
            format!("NODE_EXTRA_CA_CERTS={CA_PATH}"),
        ]
    );
}

#[test]
fn nothing_in_use_has_no_fingerprint_and_a_changed_proxy_another_one() {
    let none = HostNetwork::default();
    assert_eq!(none.fingerprint(), "");
    assert!(none.env_for(&[]).is_empty());
    let a = HostNetwork {
        proxy_env: vec!["HTTP_PROXY=http://a".into()],
        ..HostNetwork::default()
    };
    let b = HostNetwork {
        proxy_env: vec!["HTTP_PROXY=http://b".into()],
        ..HostNetwork::default()
    };
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 64);
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn the_trust_setting_takes_1_0_or_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("b.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let pem_s = pem.display().to_string();
    assert_eq!(host_ca(&env_of(&[])).unwrap(), None);
    assert_eq!(host_ca(&env_of(&[(TRUST_VAR, "0")])).unwrap(), None);
    let ca = host_ca(&env_of(&[(TRUST_VAR, &pem_s)])).unwrap().unwrap();
    assert_eq!(ca.path, pem);
    // `1` takes the host's own bundle, SSL_CERT_FILE first.
    let ca = host_ca(&env_of(&[(TRUST_VAR, "1"), ("SSL_CERT_FILE", &pem_s)]))
        .unwrap()
        .unwrap();
    assert_eq!(ca.path, pem);
    let err = host_ca(&env_of(&[(TRUST_VAR, "maybe")])).unwrap_err();
    assert!(matches!(err, HostNetError::BadSetting { .. }), "{err}");
}

#[test]
fn a_bundle_without_certificates_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, "hello").unwrap();
    let err = host_ca(&env_of(&[(TRUST_VAR, &bad.display().to_string())])).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    let missing = dir.path().join("missing.pem");
    let err = host_ca(&env_of(&[(TRUST_VAR, &missing.display().to_string())])).unwrap_err();
    assert!(matches!(err, HostNetError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[test]
fn docker_config_respects_docker_config() {
    let dir = docker_config_dir(&env_of(&[("DOCKER_CONFIG", "/c"), ("HOME", "/h")]));
    assert_eq!(dir, Some(PathBuf::from("/c")));
    let dir = docker_config_dir(&env_of(&[("HOME", "/h")]));
    assert_eq!(dir, Some(PathBuf::from("/h/.docker")));
}

#[test]
fn a_broken_config_json_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, "{\"proxies\": ").unwrap();
    let err = proxies_from_file(&path, "x").unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
    assert_eq!(
        proxies_from_file(&dir.path().join("none.json"), "x").unwrap(),
        None
    );
}

#[test]
fn the_user_setting_applies_when_the_variable_is_unset() {
    let home = tempfile::tempdir().unwrap();
    let pem = home.path().join("b.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let config = home.path().join(".config/devenv");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!("trust_host_ca = \"{}\"\n", pem.display()),
    )
    .unwrap();
    let home_s = home.path().display().to_string();
    let ca = host_ca(&env_of(&[("HOME", &home_s)])).unwrap().unwrap();
    assert_eq!(ca.path, pem);
    assert!(ca.source.starts_with("trust_host_ca in "), "{}", ca.source);
    // The variable wins over the file.
    assert_eq!(
        host_ca(&env_of(&[("HOME", &home_s), (TRUST_VAR, "0")])).unwrap(),
        None
    );
    std::fs::write(config.join("config.toml"), "trust_host_ca = 5\n").unwrap();
    let err = host_ca(&env_of(&[("HOME", &home_s)])).unwrap_err();
    assert!(err.to_string().contains("config.toml"), "{err}");
}

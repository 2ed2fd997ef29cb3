//! The user's own settings, `$XDG_CONFIG_HOME/devenv/config.toml` (else
//! `~/.config/devenv/config.toml`): what belongs to where the user is, never to a project
//! (so never in a manifest or a hash). Today one key:
//!
//! ```toml
//! trust_host_ca = true          # or "/path/to/bundle.pem"; like DEVENV_TRUST_HOST_CA
//! ```

use std::path::{Path, PathBuf};

/// The file's path, from `XDG_CONFIG_HOME` or `HOME` as read by `env`.
pub fn user_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("devenv").join("config.toml"))
}

/// `trust_host_ca` of the file at `path`, as the value `DEVENV_TRUST_HOST_CA` would have
/// (`1`, `0` or a path); `Ok(None)` without the file or the key. An error says what is wrong.
pub fn trust_host_ca(path: &Path) -> Result<Option<String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    match table.get("trust_host_ca") {
        None => Ok(None),
        Some(toml::Value::Boolean(b)) => Ok(Some(if *b { "1" } else { "0" }.to_owned())),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "`trust_host_ca` must be true, false or a path, not {}",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_host_ca_is_a_bool_or_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        assert_eq!(trust_host_ca(&file), Ok(None));
        std::fs::write(&file, "trust_host_ca = true\n").unwrap();
        assert_eq!(trust_host_ca(&file), Ok(Some("1".into())));
        std::fs::write(&file, "trust_host_ca = \"/b.pem\"\n").unwrap();
        assert_eq!(trust_host_ca(&file), Ok(Some("/b.pem".into())));
        std::fs::write(&file, "trust_host_ca = 3\n").unwrap();
        assert!(trust_host_ca(&file)
            .unwrap_err()
            .contains("true, false or a path"));
        std::fs::write(&file, "trust_host_ca = \n").unwrap();
        assert!(trust_host_ca(&file).is_err());
    }

    #[test]
    fn the_file_is_under_xdg_config_home_else_home() {
        let env = |k: &str| (k == "HOME").then(|| "/h".to_owned());
        assert_eq!(
            user_config_path(&env),
            Some(PathBuf::from("/h/.config/devenv/config.toml"))
        );
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/x".to_owned()),
            _ => Some("/h".to_owned()),
        };
        assert_eq!(
            user_config_path(&env),
            Some(PathBuf::from("/x/devenv/config.toml"))
        );
    }
}

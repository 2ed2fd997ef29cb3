//! `devenv export devcontainer`: a devcontainer.json (JSON with comments) that opens the
//! environment devenv built in editors and tools that read that format.
//!
//! The image is the built hash image (`devenv/<project>:<hash>`), so the editor gets the
//! same bytes devenv runs; the runtime settings are mapped one by one, and what the format
//! cannot say the same way is said in a comment next to it.
//!
//! Devcontainers replace `${localEnv:X}`, `${containerWorkspaceFolder}` and the like as text in
//! every string, and the format has no escape for them. A manifest value that holds one is
//! written so that nothing is replaced: hooks (sh) get an sh spelling of the same text that
//! has no `${` left; any other value cannot be written and the export says so. Every other
//! `$` is left alone by devcontainers and written as it is.

use std::fmt::Write as _;

use super::text::{first_substituted, json_str};
use super::InteropError;
use crate::manifest::{Manifest, Network, ShellUser, VolumeSpec};

/// What the export needs besides the manifest.
#[derive(Debug, Clone)]
pub struct Target {
    /// `devenv/<project>:<hash>`.
    pub image: String,
    /// Engine name of a project-scoped named volume, by manifest name, so the editor's
    /// container shares devenv's volumes.
    pub volume_names: Vec<(String, String)>,
}

/// One `"key": value` entry with the comment lines above it.
struct Entry {
    comment: Option<String>,
    key: &'static str,
    value: String,
}

/// Render the devcontainer.json text.
pub fn render(manifest: &Manifest, target: &Target) -> Result<String, InteropError> {
    check_literals(manifest)?;
    let mut entries = Vec::new();
    let mut push = |comment: Option<String>, key: &'static str, value: String| {
        entries.push(Entry {
            comment,
            key,
            value,
        });
    };
    push(None, "name", json_str(&manifest.name));
    push(
        Some(
            "the image devenv built for this manifest; `devenv build` makes it again on\n\
             another machine, `devenv export devcontainer` refreshes this file after a change"
                .to_owned(),
        ),
        "image",
        json_str(&target.image),
    );
    let workdir = &manifest.shell.workdir;
    push(None, "workspaceFolder", json_str(workdir));
    push(
        None,
        "workspaceMount",
        json_str(&format!(
            "source=${{localWorkspaceFolder}},target={workdir},type=bind"
        )),
    );
    if !manifest.container.env.is_empty() {
        push(None, "containerEnv", json_object(&manifest.container.env));
    }
    let mut run_args: Vec<String> = Vec::new();
    if let Some(file) = &manifest.container.env_file {
        run_args.push("--env-file".into());
        run_args.push(format!("${{localWorkspaceFolder}}/{file}"));
    }
    match manifest.container.network {
        Network::Bridge => {}
        Network::Host => run_args.push("--network=host".into()),
        Network::None => run_args.push("--network=none".into()),
    }
    let (forward, publish): (Vec<_>, Vec<_>) = manifest.container.ports.iter().partition(|p| {
        p.protocol == "tcp" && p.host_ip.is_none() && p.host_port == p.container_port
    });
    if !forward.is_empty() {
        let ports: Vec<String> = forward
            .iter()
            .map(|p| p.container_port.to_string())
            .collect();
        push(None, "forwardPorts", format!("[{}]", ports.join(", ")));
    }
    for p in publish {
        run_args.push("-p".into());
        run_args.push(p.raw.clone());
    }
    if !manifest.container.volumes.is_empty() {
        let mounts: Vec<String> = manifest
            .container
            .volumes
            .iter()
            .map(|v| json_str(&mount(v, target)))
            .collect();
        push(
            Some("named volumes are the ones devenv's own container uses".into()),
            "mounts",
            json_array_lines(&mounts),
        );
    }
    if !run_args.is_empty() {
        let items: Vec<String> = run_args.iter().map(|a| json_str(a)).collect();
        // devenv reads env_file with docker's own --env-file rules (values literal, nothing
        // expanded), so the editor's container gets the same values as devenv's.
        let comment = manifest.container.env_file.as_ref().map(|_| {
            "--env-file: docker reads the file exactly as devenv does (KEY=VALUE lines,\n\
             values literal)"
                .to_owned()
        });
        push(comment, "runArgs", json_array_lines(&items));
    }
    push(
        Some("devenv runs its container with an init process and overrides its command".into()),
        "init",
        "true".into(),
    );
    if let Some(h) = &manifest.hooks.on_create {
        push(
            Some("devenv's hooks.on_create: once per container".into()),
            "postCreateCommand",
            json_str(&sh_unsubstituted("hooks.on_create", h)?),
        );
    }
    if let Some(h) = &manifest.hooks.on_start {
        push(
            Some("devenv's hooks.on_start: every start".into()),
            "postStartCommand",
            json_str(&sh_unsubstituted("hooks.on_start", h)?),
        );
    }
    match &manifest.shell.user {
        ShellUser::Root => push(None, "remoteUser", json_str("root")),
        ShellUser::Named(n) => push(None, "remoteUser", json_str(n)),
        ShellUser::Host => push(
            Some(
                "shell.user = \"host\": devenv adds your host uid/gid to the container and runs\n\
                 as it; this format can only reuse a user that exists in the image (remoteUser\n\
                 with updateRemoteUserUID), so the editor runs as the image's user instead"
                    .into(),
            ),
            "updateRemoteUserUID",
            "true".into(),
        ),
    }
    let mut out = String::from(
        "// Generated by `devenv export devcontainer` from devenv.toml; devenv.toml stays the\n\
         // source of truth.\n{\n",
    );
    let last = entries.len().saturating_sub(1);
    for (i, e) in entries.iter().enumerate() {
        if let Some(c) = &e.comment {
            for line in c.lines() {
                let _ = writeln!(out, "  // {line}");
            }
        }
        let comma = if i == last { "" } else { "," };
        let _ = writeln!(out, "  {}: {}{comma}", json_str(e.key), e.value);
    }
    if let Some(cmd) = &manifest.shell.command {
        let _ = writeln!(out, "  // shell.command in devenv: {cmd}");
    }
    out.push_str("}\n");
    Ok(out)
}

/// The manifest values written as JSON strings other than hooks: none may hold a variable
/// devcontainers would replace.
fn check_literals(m: &Manifest) -> Result<(), InteropError> {
    let mut values: Vec<(String, &str)> = vec![
        ("name".into(), &m.name),
        ("shell.workdir".into(), &m.shell.workdir),
    ];
    if let ShellUser::Named(n) = &m.shell.user {
        values.push(("shell.user".into(), n));
    }
    for (k, v) in &m.container.env {
        values.push((format!("[container] env {k}"), v));
    }
    if let Some(f) = &m.container.env_file {
        values.push(("[container] env_file".into(), f));
    }
    for p in &m.container.ports {
        values.push(("[container] ports".into(), &p.raw));
    }
    for v in &m.container.volumes {
        let (VolumeSpec::Named {
            name: source,
            target,
            ..
        }
        | VolumeSpec::Bind { source, target, .. }) = v;
        values.push(("[container] volumes".into(), source));
        values.push(("[container] volumes".into(), target));
    }
    for (what, v) in values {
        if let Some((_, inner)) = first_substituted(v) {
            return Err(InteropError::Inexpressible {
                format: "a devcontainer.json",
                what,
                why: format!(
                    "devcontainers replace `${{{inner}}}` in it, and the format has no escape"
                ),
            });
        }
    }
    Ok(())
}

/// A hook's sh text with every `${…}` devcontainers would replace spelled without `${`, so
/// the container's sh sees the same words: a literal `$` (quoted or escaped) gets an empty
/// quote pair between it and `{`; an expansion `${NAME}` becomes `$NAME` and an empty quote
/// pair (which ends the name). `${NAME:…}` is an expansion sh cannot spell otherwise.
fn sh_unsubstituted(what: &str, script: &str) -> Result<String, InteropError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut out = String::with_capacity(script.len());
    let (mut q, mut escaped) = (Q::None, false);
    let mut rest = script;
    while let Some(c) = rest.chars().next() {
        if c == '$' && rest[1..].starts_with('{') {
            if let Some((0, inner)) = first_substituted(rest) {
                let pair = if q == Q::Double { "\"\"" } else { "''" };
                if q == Q::Single || escaped {
                    let _ = write!(out, "${pair}{{{inner}}}");
                } else if inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    let _ = write!(out, "${inner}{pair}");
                } else {
                    return Err(InteropError::Inexpressible {
                        format: "a devcontainer.json",
                        what: what.to_owned(),
                        why: format!(
                            "devcontainers replace `${{{inner}}}` in it, and sh has no other \
                             spelling of that expansion"
                        ),
                    });
                }
                escaped = false;
                rest = &rest[inner.len() + 3..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
        if escaped {
            escaped = false;
            continue;
        }
        q = match (q, c) {
            (Q::None | Q::Double, '\\') => {
                escaped = true;
                q
            }
            (Q::None, '\'') => Q::Single,
            (Q::None, '"') => Q::Double,
            (Q::Single, '\'') | (Q::Double, '"') => Q::None,
            (q, _) => q,
        };
    }
    Ok(out)
}

fn mount(v: &VolumeSpec, target: &Target) -> String {
    match v {
        VolumeSpec::Named {
            name,
            target: t,
            read_only,
        } => {
            let engine_name = target
                .volume_names
                .iter()
                .find(|(n, _)| n == name)
                .map_or(name.as_str(), |(_, e)| e.as_str());
            let ro = if *read_only { ",readonly" } else { "" };
            format!("source={engine_name},target={t},type=volume{ro}")
        }
        VolumeSpec::Bind {
            source,
            target: t,
            read_only,
        } => {
            let ro = if *read_only { ",readonly" } else { "" };
            let src = if source == "." {
                "${localWorkspaceFolder}".to_owned()
            } else {
                format!("${{localWorkspaceFolder}}/{source}")
            };
            format!("source={src},target={t},type=bind{ro}")
        }
    }
}

fn json_object(map: &std::collections::BTreeMap<String, String>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("    {}: {}", json_str(k), json_str(v)))
        .collect();
    format!("{{\n{}\n  }}", items.join(",\n"))
}

fn json_array_lines(items: &[String]) -> String {
    let lines: Vec<String> = items.iter().map(|i| format!("    {i}")).collect();
    format!("[\n{}\n  ]", lines.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn maps_runtime_settings() {
        let text = "name = \"demo\"\n[base]\nimage = \"debian:12\"\n[shell]\nworkdir = \"/src\"\n\
                    user = \"root\"\n[container]\nenv = { A = \"1\" }\nports = [\"8080:8080\", \
                    \"127.0.0.1:5432:5432\"]\nvolumes = [\"cache:/c\", \"./data:/data:ro\"]\n\
                    network = \"host\"\n[hooks]\non_create = \"make\"\non_start = \"echo hi\"\n";
        let m =
            crate::manifest::parse_str(text, Path::new("/p/devenv.toml"), Path::new("/p")).unwrap();
        let t = Target {
            image: "devenv/demo:abc".into(),
            volume_names: vec![("cache".into(), "devenv-demo-1234-cache".into())],
        };
        let out = render(&m, &t).unwrap();
        let v: serde_json::Value = serde_json::from_str(
            &out.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .unwrap();
        assert_eq!(v["image"], "devenv/demo:abc");
        assert_eq!(v["workspaceFolder"], "/src");
        assert_eq!(
            v["workspaceMount"],
            "source=${localWorkspaceFolder},target=/src,type=bind"
        );
        assert_eq!(v["containerEnv"]["A"], "1");
        assert_eq!(v["forwardPorts"], serde_json::json!([8080]));
        assert_eq!(
            v["runArgs"],
            serde_json::json!(["--network=host", "-p", "127.0.0.1:5432:5432"])
        );
        assert_eq!(
            v["mounts"],
            serde_json::json!([
                "source=devenv-demo-1234-cache,target=/c,type=volume",
                "source=${localWorkspaceFolder}/data,target=/data,type=bind,readonly"
            ])
        );
        assert_eq!(v["postCreateCommand"], "make");
        assert_eq!(v["postStartCommand"], "echo hi");
        assert_eq!(v["remoteUser"], "root");
    }

    /// What host sh prints for `script` with two of the variables set.
    fn sh_output(script: &str) -> String {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .env("localWorkspaceFolder", "LWF")
            .env("devcontainerId", "ID")
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hooks_keep_their_sh_meaning_and_lose_every_devcontainer_variable() {
        let script = "printf '%s|' ${localWorkspaceFolder} \"${devcontainerId}x\" \
                      '${localEnv:HOME} ${containerEnv:X}' \\${localWorkspaceFolder} \
                      \"\\${env:Y}\" $HOME ${HOME} ${nvm_dir:-d}";
        let written = sh_unsubstituted("hooks.on_create", script).unwrap();
        assert_eq!(first_substituted(&written), None, "{written}");
        assert_eq!(sh_output(&written), sh_output(script), "{written}");
        assert!(written.contains("${HOME} ${nvm_dir:-d}"), "{written}");
        let err = sh_unsubstituted("hooks.on_start", "echo ${localEnv:HOME}").unwrap_err();
        assert!(err.to_string().contains("`${localEnv:HOME}`"), "{err}");
    }

    #[test]
    fn values_devcontainers_would_replace_are_refused() {
        let text = "name = \"demo\"\n[base]\nimage = \"debian:12\"\n[container]\n\
                    env = { A = \"$HOME ${PATH} $5\", B = \"${localEnv:HOME}\" }\n";
        let m =
            crate::manifest::parse_str(text, Path::new("/p/devenv.toml"), Path::new("/p")).unwrap();
        let t = Target {
            image: "devenv/demo:abc".into(),
            volume_names: vec![],
        };
        let err = render(&m, &t).unwrap_err();
        assert!(err.to_string().contains("[container] env B"), "{err}");
        let m = crate::manifest::parse_str(
            &text.replace(", B = \"${localEnv:HOME}\"", ""),
            Path::new("/p/devenv.toml"),
            Path::new("/p"),
        )
        .unwrap();
        assert!(render(&m, &t)
            .unwrap()
            .contains("\"A\": \"$HOME ${PATH} $5\""));
    }
}

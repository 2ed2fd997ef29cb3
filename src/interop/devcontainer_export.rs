//! `devenv export devcontainer`: a devcontainer.json (JSON with comments) that opens the
//! environment devenv built in editors and tools that read that format.
//!
//! The image is the built hash image (`devenv/<project>:<hash>`), so the editor gets the
//! same bytes devenv runs; the runtime settings are mapped one by one, and what the format
//! cannot say the same way is said in a comment next to it.

use std::fmt::Write as _;

use super::text::json_str;
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
pub fn render(manifest: &Manifest, target: &Target) -> String {
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
            json_str(h),
        );
    }
    if let Some(h) = &manifest.hooks.on_start {
        push(
            Some("devenv's hooks.on_start: every start".into()),
            "postStartCommand",
            json_str(h),
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
    out
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
        let out = render(&m, &t);
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
}

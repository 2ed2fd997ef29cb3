//! An imported manifest before it is written: plain values in the manifest's shape, plus
//! the warnings, rendered as commented TOML text.

use std::fmt::Write as _;

use super::text::{comment_lines, sh_quote, sh_sequence, toml_array, toml_inline_table, toml_str};

/// A property that could not be carried over, or was carried over differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The devcontainer.json property (or `Dockerfile:LINE`).
    pub property: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub(super) struct Draft {
    pub source: String,
    pub base_image: Option<String>,
    pub env: Vec<(String, String)>,
    pub steps: Vec<DraftStep>,
    pub workdir: Option<(String, Option<String>)>,
    pub user: Option<String>,
    pub container_env: Vec<(String, String)>,
    pub env_file: Option<String>,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub network: Option<String>,
    pub on_create: Vec<String>,
    pub on_start: Vec<String>,
    pub warnings: Vec<Warning>,
    /// Where refused COPY/ADDs would have put files (path prefixes) and which instruction.
    pub copied_to: Vec<(String, String)>,
    /// Refused Dockerfile RUNs (what, text): a user only they create is not used.
    pub refused_runs: Vec<(String, String)>,
    /// The devcontainer's `workspaceFolder` when it is not where the project is mounted:
    /// hooks run there, as devcontainers run lifecycle commands.
    pub hook_dir: Option<String>,
    /// `[services.NAME]` tables (from a Compose devcontainer).
    pub services: Vec<DraftService>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct DraftService {
    pub name: String,
    pub image: String,
    /// An argv (`command = [..]`).
    pub command: Option<Vec<String>>,
    /// A `/bin/sh -c` command (`command = ".."`).
    pub command_shell: Option<String>,
    pub env: Vec<(String, String)>,
    pub env_file: Option<String>,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub ready: Option<String>,
    pub restart: Option<String>,
    pub depends_on: Vec<String>,
    pub user: Option<String>,
    /// From Compose's `deploy:` (a stack file).
    pub replicas: Option<u32>,
    pub memory: Option<String>,
    pub cpus: Option<String>,
    pub placement: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct DraftStep {
    pub name: String,
    pub run: String,
    pub inputs: Vec<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    /// Not imported: rendered as a comment with this explanation.
    pub refused: Option<String>,
}

/// Set `key` in an ordered list of pairs, replacing an earlier value.
pub(super) fn set(list: &mut Vec<(String, String)>, key: &str, value: String) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => list.push((key.to_owned(), value)),
    }
}

impl Draft {
    pub fn warn(&mut self, property: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            property: property.into(),
            message: message.into(),
        });
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Imported by `devenv import devcontainer` from {}.",
            self.source
        );
        if !self.warnings.is_empty() {
            out.push_str("# Not carried over as it was (also printed as warnings on import):\n");
            for w in &self.warnings {
                let text = format!("- {}: {}", w.property, w.message);
                let _ = writeln!(out, "{}", comment_lines(&text));
            }
        }
        out.push_str("\n[base]\n");
        if let Some(image) = &self.base_image {
            let _ = writeln!(out, "image = {}", toml_str(image));
        }
        if !self.env.is_empty() {
            out.push_str("\n[env]\n");
            for (k, v) in &self.env {
                let _ = writeln!(out, "{k} = {}", toml_str(v));
            }
        }
        for s in &self.steps {
            out.push('\n');
            if let Some(why) = &s.refused {
                let text = format!("not imported: {}\n{why}\n{}", s.name, s.run);
                let _ = writeln!(out, "{}", comment_lines(&text));
                continue;
            }
            out.push_str("[[step]]\n");
            let _ = writeln!(out, "name = {}", toml_str(&s.name));
            if !s.inputs.is_empty() {
                let _ = writeln!(out, "inputs = {}", toml_array(&s.inputs));
            }
            let _ = writeln!(out, "run = {}", toml_str(&s.run));
            if !s.env.is_empty() {
                let _ = writeln!(out, "env = {}", toml_inline_table(&s.env));
            }
            if let Some(u) = &s.user {
                let _ = writeln!(out, "user = {}", toml_str(u));
            }
        }
        if self.workdir.is_some() || self.user.is_some() {
            out.push_str("\n[shell]\n");
            if let Some((w, note)) = &self.workdir {
                if let Some(note) = note {
                    let _ = writeln!(out, "{}", comment_lines(note));
                }
                let _ = writeln!(out, "workdir = {}", toml_str(w));
            }
            if let Some(u) = &self.user {
                out.push_str("# devenv's default is `host` (your host uid/gid)\n");
                let _ = writeln!(out, "user = {}", toml_str(u));
            }
        }
        self.render_container(&mut out);
        let in_dir = |script: String| match &self.hook_dir {
            Some(dir) => format!("cd {} || exit 1\n{script}", sh_quote(dir)),
            None => script,
        };
        let on_create = sh_sequence(&self.on_create).map(in_dir);
        let on_start = sh_sequence(&self.on_start).map(in_dir);
        if on_create.is_some() || on_start.is_some() {
            out.push_str("\n[hooks]\n");
            if let Some(h) = on_create {
                let _ = writeln!(out, "on_create = {}", toml_str(&h));
            }
            if let Some(h) = on_start {
                let _ = writeln!(out, "on_start = {}", toml_str(&h));
            }
        }
        for s in &self.services {
            s.render(&mut out);
        }
        out
    }

    fn render_container(&self, out: &mut String) {
        let plain = self.env_file.is_some()
            || !self.ports.is_empty()
            || !self.volumes.is_empty()
            || self.network.is_some();
        if plain {
            out.push_str("\n[container]\n");
        }
        if let Some(f) = &self.env_file {
            let _ = writeln!(out, "env_file = {}", toml_str(f));
        }
        if !self.ports.is_empty() {
            let _ = writeln!(out, "ports = {}", toml_array(&self.ports));
        }
        if !self.volumes.is_empty() {
            let _ = writeln!(out, "volumes = {}", toml_array(&self.volumes));
        }
        if let Some(n) = &self.network {
            let _ = writeln!(out, "network = {}", toml_str(n));
        }
        if !self.container_env.is_empty() {
            out.push_str("\n[container.env]\n");
            for (k, v) in &self.container_env {
                let _ = writeln!(out, "{k} = {}", toml_str(v));
            }
        }
    }
}

impl DraftService {
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "\n[services.{}]", self.name);
        let _ = writeln!(out, "image = {}", toml_str(&self.image));
        if let Some(c) = &self.command {
            let _ = writeln!(out, "command = {}", toml_array(c));
        }
        if let Some(c) = &self.command_shell {
            let _ = writeln!(out, "command = {}", toml_str(c));
        }
        if !self.env.is_empty() {
            let _ = writeln!(out, "env = {}", toml_inline_table(&self.env));
        }
        if let Some(f) = &self.env_file {
            let _ = writeln!(out, "env_file = {}", toml_str(f));
        }
        if !self.ports.is_empty() {
            let _ = writeln!(out, "ports = {}", toml_array(&self.ports));
        }
        if !self.volumes.is_empty() {
            let _ = writeln!(out, "volumes = {}", toml_array(&self.volumes));
        }
        if let Some(r) = &self.ready {
            let _ = writeln!(out, "ready = {}", toml_str(r));
        }
        if let Some(r) = &self.restart {
            let _ = writeln!(out, "restart = {}", toml_str(r));
        }
        if !self.depends_on.is_empty() {
            let _ = writeln!(out, "depends_on = {}", toml_array(&self.depends_on));
        }
        if let Some(u) = &self.user {
            let _ = writeln!(out, "user = {}", toml_str(u));
        }
        if let Some(n) = self.replicas {
            let _ = writeln!(out, "replicas = {n}");
        }
        if let Some(m) = &self.memory {
            let _ = writeln!(out, "memory = {}", toml_str(m));
        }
        if let Some(c) = &self.cpus {
            let _ = writeln!(out, "cpus = {c}");
        }
        if !self.placement.is_empty() {
            let _ = writeln!(out, "placement = {}", toml_array(&self.placement));
        }
    }
}

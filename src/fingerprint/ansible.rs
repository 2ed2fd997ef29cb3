//! What an `ansible` step's key covers: everything the playbook can read from the project.
//!
//! Ansible reads far more than the playbook: `ansible.cfg` next to it (the controller runs
//! it from the playbook's directory), `group_vars/`, `host_vars/`, roles with their
//! `defaults`, `templates`, `handlers`, `files`, plugin directories, `collections/`,
//! `requirements.yml`, and whatever `roles_path`/`collections_path` name. So:
//!
//! - a playbook in a directory of its own (`provision/site.yml`) takes that whole tree;
//! - a playbook at the project root takes itself and the conventional Ansible entries next
//!   to it ([`ROOT_ENTRIES`]), not the rest of the project;
//! - `roles_path` and `collections_path` of that `ansible.cfg` that point inside the
//!   project are added;
//! - the step's own `inputs` are added (files a play reads elsewhere: `vars_files`,
//!   `lookup('file')`).

use std::path::{Component, Path, PathBuf};

use crate::manifest::{AnsibleStep, Step};

/// Entries next to a playbook at the project root that Ansible reads.
pub const ROOT_ENTRIES: &[&str] = &[
    "ansible.cfg",
    "requirements.yml",
    "roles",
    "group_vars",
    "host_vars",
    "vars",
    "templates",
    "files",
    "tasks",
    "handlers",
    "library",
    "module_utils",
    "collections",
    "action_plugins",
    "callback_plugins",
    "filter_plugins",
    "lookup_plugins",
    "test_plugins",
    "vars_plugins",
];

/// The input patterns of an ansible step (project-relative, as `inputs` are written).
pub fn patterns(root: &Path, step: &Step, a: &AnsibleStep) -> Vec<String> {
    let dir = playbook_dir(&a.playbook);
    let mut out: Vec<String> = Vec::new();
    if dir.is_empty() {
        out.push(a.playbook.clone());
        out.extend(
            ROOT_ENTRIES
                .iter()
                .filter(|e| root.join(e).exists())
                .map(|e| (*e).to_owned()),
        );
    } else {
        out.push(dir.clone());
    }
    for extra in cfg_paths(root, &dir) {
        if !out.contains(&extra) {
            out.push(extra);
        }
    }
    for i in &step.inputs {
        if !out.contains(i) {
            out.push(i.clone());
        }
    }
    out
}

/// The playbook's directory, project-relative (`""` at the root).
pub fn playbook_dir(playbook: &str) -> String {
    Path::new(playbook)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `roles_path` and `collections_path` entries of `<dir>/ansible.cfg` that exist inside the
/// project, project-relative. Entries outside it (`~/.ansible/roles`, `/etc/ansible/roles`)
/// are the controller's, part of its identity.
fn cfg_paths(root: &Path, dir: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(root.join(dir).join("ansible.cfg")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for value in cfg_values(
        &text,
        &["roles_path", "collections_path", "collections_paths"],
    ) {
        for entry in value.split(':').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.starts_with('/') || entry.starts_with('~') || entry.contains('$') {
                continue;
            }
            let Some(rel) = normalise(&Path::new(dir).join(entry)) else {
                continue;
            };
            if !rel.is_empty() && root.join(&rel).is_dir() {
                out.push(rel);
            }
        }
    }
    out
}

/// Values of `keys` in the `[defaults]` section of an ini text.
fn cfg_values(text: &str, keys: &[&str]) -> Vec<String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            name.trim().clone_into(&mut section);
            continue;
        }
        if section != "defaults" {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if keys.contains(&k.trim()) {
                out.push(v.trim().to_owned());
            }
        }
    }
    out
}

/// A relative path with `.` and `..` resolved; `None` when it leaves the project.
fn normalise(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// Where the playbook is inside the controller, which gets the project's files at
/// [`CONTROLLER_PROJECT`].
pub fn controller_path(rel: &str) -> PathBuf {
    Path::new(CONTROLLER_PROJECT).join(rel)
}

/// Where the project's files the key covers are put in the controller.
pub const CONTROLLER_PROJECT: &str = "/project";

#[cfg(test)]
mod tests {
    use super::*;

    fn step(inputs: &[&str]) -> Step {
        Step {
            name: "p".into(),
            run: String::new(),
            ansible: None,
            inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
            env: std::collections::BTreeMap::new(),
            secrets: Vec::new(),
            user: "root".into(),
            caches: Vec::new(),
        }
    }

    fn ansible(playbook: &str) -> AnsibleStep {
        AnsibleStep {
            playbook: playbook.into(),
            vars: std::collections::BTreeMap::new(),
            tags: Vec::new(),
        }
    }

    #[test]
    fn a_playbook_in_a_directory_takes_the_tree_and_roles_path_inside_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("provision")).unwrap();
        std::fs::create_dir_all(root.join("shared/roles")).unwrap();
        std::fs::write(
            root.join("provision/ansible.cfg"),
            "[defaults]\nroles_path = ../shared/roles:~/.ansible/roles:/etc/ansible/roles:../../outside\n",
        )
        .unwrap();
        let got = patterns(
            root,
            &step(&["data/seed.sql"]),
            &ansible("provision/site.yml"),
        );
        assert_eq!(got, ["provision", "shared/roles", "data/seed.sql"]);
    }

    #[test]
    fn a_playbook_at_the_root_takes_the_conventional_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["roles", "group_vars", "src"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("ansible.cfg"), "[defaults]\n").unwrap();
        let got = patterns(root, &step(&[]), &ansible("site.yml"));
        assert_eq!(got, ["site.yml", "ansible.cfg", "roles", "group_vars"]);
    }

    #[test]
    fn cfg_values_read_the_defaults_section_only() {
        let text = "[defaults]\n# roles_path = no\nroles_path=a:b\n[galaxy]\nroles_path = c\n";
        assert_eq!(cfg_values(text, &["roles_path"]), ["a:b"]);
        assert_eq!(normalise(Path::new("x/../y/./z")), Some("y/z".into()));
        assert_eq!(normalise(Path::new("../y")), None);
    }
}

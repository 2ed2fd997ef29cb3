//! The `ansible` key of a `[[step]]` (a playbook, or `{ playbook, vars, tags }`) and
//! `[provision.ansible]` (the controller image).

use std::collections::BTreeMap;

use toml::de::DeValue;

use super::parse::{as_str, as_table, wrong_type, Cx, Table, Value};
use super::sections::{non_blank, project_path, report};
use super::{values, AnsibleController, AnsibleStep, Diagnostic, Provision};

pub(super) const PROVISION_KEYS: &[&str] = &["ansible"];
pub(super) const CONTROLLER_KEYS: &[&str] = &["image"];
pub(super) const ANSIBLE_KEYS: &[&str] = &["playbook", "vars", "tags"];

/// `[provision]`.
pub(super) fn provision(cx: &mut Cx<'_>, top: &Table<'_, '_>) -> Provision {
    let Some(t) = top.table(cx, "provision", "[provision]") else {
        return Provision::default();
    };
    t.check_keys(cx, PROVISION_KEYS);
    let Some(a) = t.table(cx, "ansible", "[provision.ansible]") else {
        return Provision::default();
    };
    a.check_keys(cx, CONTROLLER_KEYS);
    let image = a.non_empty(cx, "image").and_then(|s| {
        report(cx, &s.span, super::reference::image_ref(s.value))?;
        Some(s.value.to_owned())
    });
    Provision {
        ansible: Some(AnsibleController { image }),
    }
}

/// A step's `ansible` value: a playbook path, or a table.
pub(super) fn step_ansible(cx: &mut Cx<'_>, value: &Value<'_>, n: usize) -> Option<AnsibleStep> {
    if let DeValue::String(_) = value.get_ref() {
        let s = as_str(cx, "ansible", value)?;
        let playbook = playbook(cx, &s)?;
        return Some(AnsibleStep {
            playbook,
            vars: BTreeMap::new(),
            tags: Vec::new(),
        });
    }
    if !matches!(value.get_ref(), DeValue::Table(_)) {
        let d = wrong_type(cx.src, "ansible", value, "a string or a table").with_hint(
            "write `ansible = \"provision/site.yml\"` or \
             `ansible = { playbook = \"provision/site.yml\", vars = { port = \"6380\" } }`",
        );
        cx.push(d);
        return None;
    }
    let t = as_table(
        cx,
        "ansible",
        value,
        &format!("the ansible of [[step]] #{n}"),
    )?;
    t.check_keys(cx, ANSIBLE_KEYS);
    let p = t.require(
        cx,
        "playbook",
        "add the playbook, e.g. `playbook = \"provision/site.yml\"`",
    );
    let playbook = p
        .and_then(|v| as_str(cx, "playbook", v))
        .and_then(|s| playbook(cx, &s));
    let vars = t
        .table(cx, "vars", "the vars of the ansible step")
        .map(|v| vars(cx, &v))
        .unwrap_or_default();
    let mut tags = Vec::new();
    for s in t.strings(cx, "tags").unwrap_or_default() {
        if let Some(s) = non_blank(cx, "tags", s) {
            if s.value.contains(',') {
                let d = Diagnostic::new(s.span, format!("tag `{}` contains a comma", s.value))
                    .with_hint("list each tag as its own string: tags = [\"a\", \"b\"]");
                cx.push(d);
                continue;
            }
            tags.push(s.value.to_owned());
        }
    }
    Some(AnsibleStep {
        playbook: playbook?,
        vars,
        tags,
    })
}

fn playbook(cx: &mut Cx<'_>, s: &super::parse::Str<'_>) -> Option<String> {
    let s = non_blank(cx, "ansible", s.clone())?;
    project_path(cx, &s)?;
    if s.value.contains(['*', '?', '[', '{']) {
        let d = Diagnostic::new(s.span, format!("playbook `{}` is a pattern", s.value))
            .with_hint("name one playbook file, e.g. `provision/site.yml`");
        cx.push(d);
        return None;
    }
    let file = cx.root.join(s.value);
    if !file.is_file() {
        let d = Diagnostic::new(s.span, format!("playbook `{}` does not exist", s.value))
            .with_hint("the path is relative to the project directory");
        cx.push(d);
        return None;
    }
    Some(s.value.to_owned())
}

/// Extra variables: names as Ansible takes them, scalar values.
fn vars(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for (key, value) in t.map {
        let name: &str = key.get_ref();
        let name_ok = report(cx, &key.span(), values::env_name(name)).is_some();
        let v = match value.get_ref() {
            DeValue::String(s) => serde_json::Value::from(s.as_ref()),
            DeValue::Boolean(b) => serde_json::Value::from(*b),
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(i) => serde_json::Value::from(i),
                    Err(_) => serde_json::Value::from(i.as_str()),
                }
            }
            DeValue::Float(f) => serde_json::Value::from(f.as_str()),
            _ => {
                let d = wrong_type(cx.src, name, value, "a string, number or boolean")
                    .with_hint("put structured variables in a vars file next to the playbook");
                cx.push(d);
                continue;
            }
        };
        if name_ok {
            out.insert(name.to_owned(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{parse_str, ManifestError};

    fn parse(root: &Path, body: &str) -> Result<super::super::Manifest, Vec<String>> {
        let src = format!("[base]\nimage = \"debian:12\"\n{body}");
        parse_str(&src, &root.join("devenv.toml"), root).map_err(|e| match e {
            ManifestError::Invalid { diagnostics, .. } => {
                diagnostics.into_iter().map(|d| d.message).collect()
            }
            other => vec![other.to_string()],
        })
    }

    #[test]
    fn ansible_steps_and_the_controller_parse() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("provision")).unwrap();
        std::fs::write(dir.path().join("provision/site.yml"), "- hosts: all\n").unwrap();
        let m = parse(
            dir.path(),
            "[[step]]\nansible = \"provision/site.yml\"\n\
             [[step]]\nansible = { playbook = \"provision/site.yml\", vars = { port = 6380, name = \"r\", on = true }, tags = [\"dev\"] }\n\
             [provision.ansible]\nimage = \"registry.example.com/ansible:9\"\n",
        )
        .unwrap();
        let a = m.steps[1].ansible.as_ref().unwrap();
        assert_eq!(
            m.steps[0].ansible.as_ref().unwrap().playbook,
            "provision/site.yml"
        );
        assert_eq!(a.vars["port"], serde_json::json!(6380));
        assert_eq!(a.vars["on"], serde_json::json!(true));
        assert_eq!(a.tags, ["dev"]);
        assert!(m.steps[1].run.is_empty());
        let image = m.provision.ansible.and_then(|c| c.image);
        assert_eq!(image.as_deref(), Some("registry.example.com/ansible:9"));
    }

    #[test]
    fn ansible_step_problems_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.yml"), "").unwrap();
        let errors = parse(
            dir.path(),
            "[[step]]\nrun = \"x\"\nansible = \"site.yml\"\n\
             [[step]]\nansible = \"missing.yml\"\n\
             [[step]]\nansible = { playbook = \"site.yml\", vars = { list = [1] }, tags = [\"a,b\"], extra = 1 }\n\
             [[step]]\nansible = 3\n\
             [[step]]\nansible = \"../outside.yml\"\n",
        )
        .unwrap_err();
        let expected = [
            "[[step]] has both `run` and `ansible`",
            "playbook `missing.yml` does not exist",
            "unknown key `extra`",
            "expected a string, number or boolean",
            "tag `a,b` contains a comma",
            "expected a string or a table",
            "outside.yml",
        ];
        for e in expected {
            assert!(
                errors.iter().any(|m| m.contains(e)),
                "{e} not in {errors:#?}"
            );
        }
    }
}

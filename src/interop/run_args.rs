//! devcontainer `runArgs` (extra `docker run` flags): the ones devenv can express map to
//! `[container]`; every other flag is a warning.

use super::devcontainer_import::{same_host_port, valid_env_name, valid_port, volume, Cx};
use super::draft::{set, Draft};
use super::json::J;

/// Flags that take a value as the next word when not written `--flag=value`.
const WITH_VALUE: &[&str] = &[
    "--network",
    "--net",
    "-e",
    "--env",
    "--env-file",
    "-p",
    "--publish",
    "-v",
    "--volume",
    "--name",
    "--hostname",
    "-h",
    "--user",
    "-u",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "--device",
    "--add-host",
    "--label",
    "-l",
    "--shm-size",
    "--ulimit",
    "--memory",
    "-m",
    "--cpus",
    "--gpus",
    "--ipc",
    "--pid",
    "--workdir",
    "-w",
    "--entrypoint",
    "--runtime",
    "--mount",
    "--tmpfs",
    "--platform",
    "--dns",
    "--sysctl",
];

pub(super) fn import(cx: &Cx<'_>, v: &J, d: &mut Draft) {
    let J::Arr(items) = v else {
        d.warn(
            "runArgs",
            format!("{}: expected an array of strings", v.describe()),
        );
        return;
    };
    let words: Vec<String> = items
        .iter()
        .map(|w| w.as_str().map_or_else(|| w.describe(), str::to_owned))
        .collect();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_owned(), Some(v.to_owned())),
            _ => (word.clone(), None),
        };
        let value = match inline {
            Some(v) => Some(v),
            None if WITH_VALUE.contains(&flag.as_str()) && i + 1 < words.len() => {
                i += 1;
                Some(words[i].clone())
            }
            None => None,
        };
        i += 1;
        one(cx, &flag, value.as_deref(), d);
    }
}

fn one(cx: &Cx<'_>, flag: &str, value: Option<&str>, d: &mut Draft) {
    let shown = match value {
        Some(v) => format!("{flag} {v}"),
        None => flag.to_owned(),
    };
    let prop = format!("runArgs {shown}");
    let result: Result<(), String> = match (flag, value) {
        ("--init", None) => Ok(()),
        ("--network" | "--net", Some(n @ ("bridge" | "host" | "none"))) => {
            d.network = Some(n.to_owned());
            Ok(())
        }
        ("-e" | "--env", Some(kv)) => match kv.split_once('=') {
            Some((k, v)) if valid_env_name(k) => match cx.substitute(v) {
                Some(v) => {
                    set(&mut d.container_env, k, v);
                    Ok(())
                }
                None => Err("refers to a variable devenv cannot resolve".into()),
            },
            _ => Err("takes its value from the host environment; set it in [container] env".into()),
        },
        ("--env-file", Some(f)) => {
            let rel = f.strip_prefix("${localWorkspaceFolder}/").unwrap_or(f);
            if rel.starts_with('/') || rel.contains("${") || rel.split('/').any(|c| c == "..") {
                Err("the file is outside the project".into())
            } else {
                d.env_file = Some(rel.to_owned());
                Ok(())
            }
        }
        ("-p" | "--publish", Some(p)) => {
            let p = p
                .parse::<u16>()
                .map_or_else(|_| p.to_owned(), |n| format!("{n}:{n}"));
            if valid_port(&p) {
                if !d.ports.iter().any(|q| same_host_port(q, &p)) {
                    d.ports.push(p);
                }
                Ok(())
            } else {
                Err("not a port mapping devenv accepts".into())
            }
        }
        ("-v" | "--volume", Some(spec)) => {
            let parts: Vec<&str> = spec.split(':').collect();
            let (source, target, ro) = match parts.as_slice() {
                [s, t] => (*s, *t, false),
                [s, t, m] => (*s, *t, m.split(',').any(|o| o == "ro")),
                _ => ("", "", false),
            };
            let kind = if source.starts_with('/') || source.starts_with("${") {
                "bind"
            } else {
                "volume"
            };
            volume(cx, kind, Some(source), Some(target), ro).map(|v| d.volumes.push(v))
        }
        _ => Err("no devenv equivalent".into()),
    };
    if let Err(why) = result {
        d.warn(prop, why);
    }
}

//! devcontainer variables in lifecycle commands (`${containerWorkspaceFolder}`,
//! `${localEnv:X}`, `${containerEnv:X:default}`, …), which devcontainers replace as text
//! before the shell sees the command. devenv's hooks are plain sh, so each is written as
//! what means the same in devenv's container: a literal path, or a sh expansion of the
//! container's environment. What has no devenv value makes the command unimportable.

use std::fmt::Write as _;

use super::Cx;
use crate::interop::draft::Draft;
use crate::interop::text::sh_quote;

/// A piece of a command: the author's own text, a literal value, or a sh parameter
/// expansion (the text between `${` and `}`).
#[derive(Debug, PartialEq)]
enum Seg {
    Text(String),
    Lit(String),
    Var(String),
}

/// The command text `s` (sh) with its devcontainer variables resolved, or why it cannot be.
pub(super) fn shell_text(cx: &Cx<'_>, key: &str, s: &str, d: &mut Draft) -> Result<String, String> {
    Ok(render_shell(&segments(cx, key, s, d)?))
}

/// One argv word with its variables resolved, quoted for sh.
pub(super) fn shell_word(cx: &Cx<'_>, key: &str, s: &str, d: &mut Draft) -> Result<String, String> {
    let mut out = String::new();
    let mut lit = String::new();
    for seg in segments(cx, key, s, d)? {
        match seg {
            Seg::Text(t) | Seg::Lit(t) => lit.push_str(&t),
            Seg::Var(v) => {
                if !lit.is_empty() {
                    out.push_str(&sh_quote(&std::mem::take(&mut lit)));
                }
                let _ = write!(out, "\"${{{v}}}\"");
            }
        }
    }
    if !lit.is_empty() || out.is_empty() {
        out.push_str(&sh_quote(&lit));
    }
    Ok(out)
}

fn valid_name(s: &str) -> bool {
    crate::interop::devcontainer_import::valid_env_name(s)
}

fn segments(cx: &Cx<'_>, key: &str, s: &str, d: &mut Draft) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        let Some(len) = rest[at + 2..].find('}') else {
            break;
        };
        let inner = &rest[at + 2..at + 2 + len];
        out.push(Seg::Text(rest[..at].to_owned()));
        out.push(variable(cx, key, inner, d)?);
        rest = &rest[at + 3 + len..];
    }
    out.push(Seg::Text(rest.to_owned()));
    Ok(out)
}

/// One `${inner}`.
fn variable(cx: &Cx<'_>, key: &str, inner: &str, d: &mut Draft) -> Result<Seg, String> {
    let basename = |p: &str| p.rsplit('/').next().unwrap_or_default().to_owned();
    let with_default = |rest: &str| -> Result<String, String> {
        let (name, default) = match rest.split_once(':') {
            Some((n, def)) => (n, Some(def)),
            None => (rest, None),
        };
        if !valid_name(name) {
            return Err(format!(
                "${{{inner}}} does not name an environment variable"
            ));
        }
        Ok(match default {
            Some(def) => format!("{name}:-{def}"),
            None => name.to_owned(),
        })
    };
    Ok(match inner {
        "containerWorkspaceFolder" => Seg::Lit(cx.folder.clone()),
        "containerWorkspaceFolderBasename" => Seg::Lit(basename(&cx.folder)),
        "localWorkspaceFolderBasename" => Seg::Lit(cx.basename.clone()),
        "localWorkspaceFolder" => {
            d.warn(
                key,
                format!(
                    "${{localWorkspaceFolder}} is this machine's path of the project, which would \
                     tie the manifest to it; written as the project's path in the container, {}",
                    cx.workdir
                ),
            );
            Seg::Lit(cx.workdir.clone())
        }
        "devcontainerId" => {
            return Err("${devcontainerId} has no devenv value".into());
        }
        _ => {
            if let Some(rest) = inner.strip_prefix("containerEnv:") {
                Seg::Var(with_default(rest)?)
            } else if let Some(rest) = inner
                .strip_prefix("localEnv:")
                .or_else(|| inner.strip_prefix("env:"))
            {
                let var = with_default(rest)?;
                let name = var.split(':').next().unwrap_or_default().to_owned();
                d.warn(
                    key,
                    format!(
                        "${{{inner}}} reads {name} from the host, which would make the manifest \
                         depend on the machine; written as ${{{var}}}, which hooks read from the \
                         container: set {name} in [container] env or env_file"
                    ),
                );
                Seg::Var(var)
            } else {
                // Not a devcontainer variable: sh's own `${NAME…}`, which devcontainers also
                // leave alone. One that sh cannot read either is kept, and said.
                let name_end = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(inner.len());
                let modifier = &inner[name_end..];
                let sh_ok = name_end > 0
                    && (modifier.is_empty()
                        || ["-", "=", "?", "+", "#", "%"]
                            .iter()
                            .any(|m| modifier.trim_start_matches(':').starts_with(m)));
                if !sh_ok {
                    d.warn(
                        key,
                        format!(
                            "${{{inner}}} is resolved neither by devcontainers nor by sh; kept \
                             as it is"
                        ),
                    );
                }
                Seg::Text(format!("${{{inner}}}"))
            }
        }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Single,
    Double,
}

/// Segments back into sh text, each value written for the quoting it lands in.
fn render_shell(segs: &[Seg]) -> String {
    let mut out = String::new();
    let mut q = Quote::None;
    for seg in segs {
        match seg {
            Seg::Text(t) => {
                let mut escaped = false;
                for c in t.chars() {
                    out.push(c);
                    if escaped {
                        escaped = false;
                        continue;
                    }
                    q = match (q, c) {
                        (Quote::None | Quote::Double, '\\') => {
                            escaped = true;
                            q
                        }
                        (Quote::None, '\'') => Quote::Single,
                        (Quote::None, '"') => Quote::Double,
                        (Quote::Single, '\'') | (Quote::Double, '"') => Quote::None,
                        (q, _) => q,
                    };
                }
            }
            Seg::Lit(l) if sh_quote(l) == *l => out.push_str(l),
            Seg::Lit(l) => match q {
                Quote::None => out.push_str(&sh_quote(l)),
                Quote::Single => out.push_str(&l.replace('\'', "'\\''")),
                Quote::Double => {
                    for c in l.chars() {
                        if "\\\"$`".contains(c) {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            },
            Seg::Var(v) => match q {
                Quote::None => {
                    let _ = write!(out, "\"${{{v}}}\"");
                }
                Quote::Single => {
                    let _ = write!(out, "'\"${{{v}}}\"'");
                }
                Quote::Double => {
                    let _ = write!(out, "${{{v}}}");
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cx() -> Cx<'static> {
        Cx {
            root: Path::new("/home/me/shop"),
            dir: Path::new("/home/me/shop/.devcontainer"),
            basename: "shop".into(),
            shown: ".devcontainer/devcontainer.json".into(),
            folder: "/workspaces/shop/app".into(),
            workdir: "/workspaces/shop".into(),
        }
    }

    #[test]
    fn variables_become_paths_and_sh_expansions_in_their_quoting() {
        let mut d = Draft::default();
        let cx = cx();
        let text = |s: &str, d: &mut Draft| shell_text(&cx, "postCreateCommand", s, d).unwrap();
        assert_eq!(
            text(
                "git config --global --add safe.directory ${containerWorkspaceFolder}",
                &mut d
            ),
            "git config --global --add safe.directory /workspaces/shop/app"
        );
        assert_eq!(
            text(
                "echo ${containerWorkspaceFolderBasename}-${localWorkspaceFolderBasename}",
                &mut d
            ),
            "echo app-shop"
        );
        assert_eq!(
            text(
                "echo ${containerEnv:HOME}/x '${containerEnv:USER:me}' \"${containerEnv:A}\"",
                &mut d
            ),
            "echo \"${HOME}\"/x ''\"${USER:-me}\"'' \"${A}\""
        );
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        assert_eq!(text(". ${NVM_DIR}/nvm.sh", &mut d), ". ${NVM_DIR}/nvm.sh");
        assert_eq!(
            text("echo ${localEnv:GIT_EMAIL}", &mut d),
            "echo \"${GIT_EMAIL}\""
        );
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0]
            .message
            .contains("reads GIT_EMAIL from the host"));
        assert_eq!(
            text("ls ${localWorkspaceFolder}", &mut d),
            "ls /workspaces/shop"
        );
        assert_eq!(d.warnings.len(), 2);
        assert!(shell_text(&cx, "k", "echo ${devcontainerId}", &mut d).is_err());
        assert_eq!(
            shell_word(&cx, "k", "${containerEnv:HOME}/a b", &mut d).unwrap(),
            "\"${HOME}\"'/a b'"
        );
        assert_eq!(shell_word(&cx, "k", "", &mut d).unwrap(), "''");
    }
}

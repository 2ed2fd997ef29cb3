//! Quoting for the three languages the converters write: POSIX sh, TOML and JSON, and the
//! variables devcontainers replace in devcontainer.json's strings.
//! TOML is rendered by hand here (toml's home is `manifest`); the result is always checked
//! by the real manifest parser before it is written.

use std::fmt::Write as _;

/// A word for POSIX sh: bare when it is made of safe characters only, else single-quoted.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A TOML string: a basic string with escapes, or a multi-line literal string for
/// multi-line text that can be written that way (scripts read better so).
pub fn toml_str(s: &str) -> String {
    let literal_ok = s.contains('\n')
        && !s.contains("'''")
        && !s.ends_with('\'')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control());
    if literal_ok {
        return format!("'''\n{s}'''");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when possible.
pub fn toml_key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_owned()
    } else {
        toml_str(s)
    }
}

/// `["a", "b"]`.
pub fn toml_array(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// `{ A = "1", B = "2" }`.
pub fn toml_inline_table(items: &[(String, String)]) -> String {
    if items.is_empty() {
        return "{}".to_owned();
    }
    let parts: Vec<String> = items
        .iter()
        .map(|(k, v)| format!("{} = {}", toml_key(k), toml_str(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Whether devcontainers replace `${inner}`: the part before the first `:` names one of
/// their variables (as the devcontainer CLI splits it).
pub fn substituted(inner: &str) -> bool {
    let variable = inner.split(':').next().unwrap_or_default();
    [
        "env",
        "localEnv",
        "containerEnv",
        "localWorkspaceFolder",
        "localWorkspaceFolderBasename",
        "containerWorkspaceFolder",
        "containerWorkspaceFolderBasename",
        "devcontainerId",
    ]
    .contains(&variable)
}

/// The first `${…}` in `s` that devcontainers would replace, as (start, inner).
pub fn first_substituted(s: &str) -> Option<(usize, &str)> {
    let mut from = 0;
    while let Some(at) = s[from..].find("${").map(|i| from + i) {
        let inner = &s[at + 2..];
        let inner = &inner[..inner.find('}')?];
        if substituted(inner) {
            return Some((at, inner));
        }
        from = at + 2;
    }
    None
}

/// Whether `word` occurs in `text` as a whole word (a user name in a script).
pub fn mentions_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_-".contains(c)))
        .any(|w| w == word)
}

/// Commands as one sh script that stops at the first failure, each in a subshell when it
/// has shell operators (devcontainers run each in its own process). A command with a `#`
/// (which may start a comment) or a line break gets lines of its own, so a comment can
/// never swallow the commands after it.
pub fn sh_sequence(parts: &[String]) -> Option<String> {
    match parts {
        [] => None,
        [one] => Some(one.clone()),
        many if many.iter().any(|p| p.contains(['#', '\n'])) => Some(
            many.iter()
                .map(|p| format!("(\n{}\n)", p.trim_end_matches('\n')))
                .collect::<Vec<_>>()
                .join(" &&\n"),
        ),
        many => Some(
            many.iter()
                .map(|p| {
                    if p.contains([';', '&', '|']) {
                        format!("( {p} )")
                    } else {
                        p.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" && "),
        ),
    }
}

/// Prefix every line of `text` with `# ` (for explanations inside generated files).
pub fn comment_lines(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#".to_owned()
            } else {
                format!("# {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quoting() {
        assert_eq!(sh_quote("npm"), "npm");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn toml_strings_round_trip_through_the_manifest_parser() {
        for s in [
            "plain",
            "quote \" back \\ tab\t",
            "a\nb\n",
            "ends'\nx'",
            "bell\u{7}",
        ] {
            let text = format!(
                "[base]\nimage = \"debian:12\"\n[[step]]\nrun = {}\n",
                toml_str(s)
            );
            let m = crate::manifest::parse_str(
                &text,
                std::path::Path::new("devenv.toml"),
                std::path::Path::new("/nonexistent-project"),
            )
            .unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(m.steps[0].run, s, "{text}");
        }
        assert_eq!(toml_key("A_B"), "A_B");
        assert_eq!(toml_key("a.b"), "\"a.b\"");
    }
}

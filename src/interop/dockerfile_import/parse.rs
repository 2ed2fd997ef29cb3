//! Reading a Dockerfile: logical instructions (continuations joined, comments dropped,
//! heredoc bodies skipped), build stages, and the builder's quoting and `$` substitution.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(super) struct Instr {
    pub(super) line: usize,
    pub(super) keyword: String,
    pub(super) args: String,
    pub(super) heredoc: bool,
}

pub(super) struct Stage {
    pub(super) line: usize,
    pub(super) from: String,
    /// `FROM --platform=…`, which devenv cannot honour.
    pub(super) platform: Option<String>,
    pub(super) alias: Option<String>,
    pub(super) body: Vec<Instr>,
}

pub(super) fn split_stages(instrs: &[Instr]) -> (Vec<Instr>, Vec<Stage>) {
    let mut globals = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for i in instrs {
        if i.keyword == "FROM" {
            let words: Vec<&str> = i
                .args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let platform = i
                .args
                .split_whitespace()
                .find_map(|w| w.strip_prefix("--platform="))
                .map(str::to_owned);
            let alias = match words.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                _ => None,
            };
            stages.push(Stage {
                line: i.line,
                from: words.first().copied().unwrap_or_default().to_owned(),
                platform,
                alias,
                body: Vec::new(),
            });
        } else if let Some(s) = stages.last_mut() {
            s.body.push(i.clone());
        } else {
            globals.push(i.clone());
        }
    }
    (globals, stages)
}

/// Logical instructions: directives checked, comments dropped, continuations joined the
/// way the builder joins them (the backslash and the line break removed), heredoc bodies
/// kept out of the instruction stream.
pub(super) fn instructions(text: &str) -> Result<Vec<Instr>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut in_directives = true;
    while let Some((n, raw)) = lines.next() {
        let trimmed = raw.trim();
        if in_directives {
            if let Some(d) = trimmed.strip_prefix('#') {
                let d = d.trim().to_ascii_lowercase();
                if d.starts_with("escape=") && !d.ends_with('\\') {
                    return Err("the escape parser directive is not supported".into());
                }
                continue;
            }
            in_directives = false;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut logical = raw.trim_start().to_owned();
        while logical.trim_end().ends_with('\\') {
            let cut = logical.trim_end().len() - 1;
            logical.truncate(cut);
            // Comment lines inside a continuation are dropped by the builder.
            while lines
                .peek()
                .is_some_and(|(_, l)| l.trim_start().starts_with('#'))
            {
                lines.next();
            }
            match lines.next() {
                Some((_, next)) => logical.push_str(next),
                None => break,
            }
        }
        let (keyword, args) = logical
            .split_once(char::is_whitespace)
            .map_or((logical.as_str(), ""), |(k, a)| (k, a.trim()));
        let keyword = keyword.to_ascii_uppercase();
        let mut heredoc = false;
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            if let Some(word) = heredoc_word(args) {
                heredoc = true;
                for (_, l) in lines.by_ref() {
                    if l.trim() == word {
                        break;
                    }
                }
            }
        }
        out.push(Instr {
            line: n + 1,
            keyword,
            args: args.to_owned(),
            heredoc,
        });
    }
    Ok(out)
}

/// The terminator word of a Dockerfile heredoc (`<<EOF`, `<<-"EOF"`) in an instruction.
fn heredoc_word(args: &str) -> Option<String> {
    let at = args.find("<<")?;
    let rest = args[at + 2..].trim_start_matches('-');
    let rest = rest.trim_start_matches(['"', '\'']);
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

pub(super) fn unquote(s: &str) -> String {
    let bytes = s.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        s[1..s.len() - 1].to_owned()
    } else {
        s.to_owned()
    }
}

/// Why a `$` substitution has no value here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::interop) enum Missing {
    /// A name without a value (the builder would take it from the base image, or use "").
    Unset(String),
    /// Not Dockerfile syntax at all (`${templateOption:x}`): the builder refuses it.
    Syntax(String),
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Unset(name) => write!(f, "${name} has no value"),
            Missing::Syntax(text) => {
                write!(
                    f,
                    "{text} is not Dockerfile syntax (an unfilled template option?)"
                )
            }
        }
    }
}

/// `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}` (and without the colon); `\$`
/// stays literal. An unknown name is `Missing::Unset` (the builder would take it from the
/// base image); any other modifier is `Missing::Syntax`.
pub(super) fn substitute(s: &str, vars: &BTreeMap<String, String>) -> Result<String, Missing> {
    substitute_in(s, vars, false)
}

/// `substitute` where an unknown name is empty, as in `FROM` and before the first `FROM`.
pub(super) fn substitute_or_empty(
    s: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, Missing> {
    substitute_in(s, vars, true)
}

fn substitute_in(
    s: &str,
    vars: &BTreeMap<String, String>,
    unset_is_empty: bool,
) -> Result<String, Missing> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'$') {
            out.push('$');
            chars.next();
            continue;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let mut modifier = String::new();
        let mut closed = !braced;
        if braced {
            for n in chars.by_ref() {
                if n == '}' {
                    closed = true;
                    break;
                }
                modifier.push(n);
            }
        }
        if name.is_empty() && !braced {
            out.push('$');
            continue;
        }
        let whole = || format!("${{{name}{modifier}}}");
        if name.is_empty() || !closed {
            return Err(Missing::Syntax(whole()));
        }
        let value = vars.get(&name);
        let set = value.is_some_and(|v| !v.is_empty());
        let (op, word) = match modifier.as_str() {
            "" => ("", ""),
            m if m.starts_with(":-") || m.starts_with(":+") => (&m[..2], &m[2..]),
            m if m.starts_with('-') || m.starts_with('+') => (&m[..1], &m[1..]),
            _ => return Err(Missing::Syntax(whole())),
        };
        match op {
            ":-" if set => out.push_str(value.map_or("", String::as_str)),
            "-" if value.is_some() => out.push_str(value.map_or("", String::as_str)),
            ":-" | "-" => out.push_str(word),
            ":+" if set => out.push_str(word),
            "+" if value.is_some() => out.push_str(word),
            ":+" | "+" => {}
            _ => match value {
                Some(v) => out.push_str(v),
                None if unset_is_empty => {}
                None => return Err(Missing::Unset(name)),
            },
        }
    }
    Ok(out)
}

/// Whitespace-separated words with quotes removed.
pub(super) fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                any = true;
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Split on unquoted whitespace keeping quotes (for `ENV a="b c" d=e`).
pub(super) fn split_raw_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                cur.push(c);
                escaped = true;
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let vars = BTreeMap::from([("V".to_owned(), "3.12".to_owned())]);
        assert_eq!(substitute("py:${V}-slim", &vars).unwrap(), "py:3.12-slim");
        assert_eq!(substitute("$V/x", &vars).unwrap(), "3.12/x");
        assert_eq!(substitute("${W:-def}", &vars).unwrap(), "def");
        assert_eq!(substitute("a\\$V", &vars).unwrap(), "a$V");
        assert_eq!(
            substitute("${PATH}:/x", &vars).unwrap_err(),
            Missing::Unset("PATH".into())
        );
        assert_eq!(substitute_or_empty("a${PATH}b", &vars).unwrap(), "ab");
        assert_eq!(
            substitute_or_empty("base:${templateOption:imageVariant}", &vars).unwrap_err(),
            Missing::Syntax("${templateOption:imageVariant}".into())
        );
    }

    #[test]
    fn continuations_comments_and_heredocs() {
        let text = "# syntax=docker/dockerfile:1\nFROM a\nRUN apt-get update \\\n# note\n  && x\nRUN <<EOF\necho hi\nEOF\nenv A=1\n";
        let i = instructions(text).unwrap();
        assert_eq!(i.len(), 4);
        assert_eq!(i[1].args, "apt-get update   && x");
        assert!(i[2].heredoc);
        assert_eq!((i[3].keyword.as_str(), i[3].line), ("ENV", 9));
    }

    #[test]
    fn env_words() {
        assert_eq!(split_raw_words("A=\"b c\" D=e"), ["A=\"b c\"", "D=e"]);
        assert_eq!(words("\"b c\""), ["b c"]);
    }
}

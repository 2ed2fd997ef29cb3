//! `[container] env_file`: the syntax of `docker run --env-file`, read by us so that a value
//! never depends on the environment devenv runs in.
//!
//! One `KEY=VALUE` per line. Leading whitespace is dropped; blank lines and lines starting
//! with `#` are skipped; a trailing `\r` (CRLF files) and a UTF-8 BOM are dropped. The key is
//! everything before the first `=` and may not contain spaces or tabs; the value is
//! everything after it, byte for byte: quotes, `$`, backslashes and trailing spaces are part
//! of it, nothing is expanded or unescaped. That is exactly what Docker does with the same
//! file, so `export devcontainer` can hand it to `--env-file` unchanged. Docker copies a bare
//! `KEY` line from the caller's environment; devenv rejects it, because that would make the
//! container depend on who runs devenv.

use std::collections::BTreeMap;

/// A line the syntax does not allow: its 1-based number and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Parse an env file's bytes into its variables (a later line wins over an earlier one).
pub fn parse(bytes: &[u8]) -> Result<BTreeMap<String, String>, LineError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut vars = BTreeMap::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let err = |message: String| LineError { line, message };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|_| err("is not valid UTF-8".into()))?;
        let text = text.trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let Some((key, value)) = text.split_once('=') else {
            return Err(err(format!(
                "`{text}` has no `=`; devenv never copies its own environment into the \
                 container (write `{text}=VALUE`, or `{text}=` for an empty value)"
            )));
        };
        if key.is_empty() {
            return Err(err("has no variable name before `=`".into()));
        }
        if key.contains([' ', '\t']) {
            let hint = if key.starts_with("export ") {
                " (drop `export `: values are read literally, as `docker run --env-file` does)"
            } else {
                ""
            };
            return Err(err(format!("variable `{key}` contains whitespace{hint}")));
        }
        if value.contains('\0') {
            return Err(err(format!("the value of `{key}` contains a NUL byte")));
        }
        vars.insert(key.to_owned(), value.to_owned());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes()).unwrap().into_iter().collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn values_are_literal() {
        let vars = ok("A=a$b\nB=${HOME}x\nC=\"q\"\nD='s'\nE=x\\ny\nF=trailing  \nG=\nH=a=b#c\n");
        assert_eq!(
            vars,
            vec![
                pair("A", "a$b"),
                pair("B", "${HOME}x"),
                pair("C", "\"q\""),
                pair("D", "'s'"),
                pair("E", "x\\ny"),
                pair("F", "trailing  "),
                pair("G", ""),
                pair("H", "a=b#c"),
            ]
        );
    }

    #[test]
    fn comments_blank_lines_crlf_bom_and_indentation() {
        let vars = ok("\u{feff}# c\n\n   \n  # indented comment\r\n  K=v\r\nL=w");
        assert_eq!(vars, vec![pair("K", "v"), pair("L", "w")]);
    }

    #[test]
    fn later_line_wins() {
        assert_eq!(ok("K=1\nK=2\n"), vec![pair("K", "2")]);
    }

    #[test]
    fn bare_key_is_rejected_not_taken_from_the_host() {
        let e = parse(b"A=1\nHOME\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`HOME` has no `=`"), "{}", e.message);
    }

    #[test]
    fn bad_keys_are_rejected_with_their_line() {
        let e = parse(b"export A=1\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("drop `export `"), "{}", e.message);
        assert_eq!(parse(b"\n=1\n").unwrap_err().line, 2);
        assert_eq!(parse(b"A B=1\n").unwrap_err().line, 1);
        assert_eq!(parse(b"A=\xff\n").unwrap_err().line, 1);
        assert_eq!(parse(b"A=x\0y\n").unwrap_err().line, 1);
    }
}

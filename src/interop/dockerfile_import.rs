//! The Dockerfile of a Dockerfile-based devcontainer, as devenv steps where that is
//! faithful, and as explanations where it is not.
//!
//! Faithful: `FROM` (with ARG substitution) → `base.image`; shell-form `RUN` → a step that
//! runs the same text with `/bin/sh -c`, with the stage's ARGs as the step's env (as the
//! builder gives them), as the current `USER`, in the current `WORKDIR` (a `cd` prefix when
//! it is not the manifest's workdir); `ENV` with literal values → `[env]`; `COPY`/`ADD` of
//! project files whose destination is `<workdir>/<project path>` → the next step's inputs.
//! Everything else is refused with the reason: exec-form and `--mount` RUNs, heredocs,
//! copies elsewhere or with flags, `SHELL`; a RUN after a refused copy is refused too,
//! since it would run without those files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::devcontainer_import::normalise;
use super::draft::{set, Draft, DraftStep};
use super::InteropError;

pub(super) struct Input {
    pub path: PathBuf,
    /// The build context (absolute, normalised).
    pub context: PathBuf,
    pub root: PathBuf,
    /// `build.args`, which override ARG defaults.
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
    /// The manifest's `shell.workdir`.
    pub workdir: String,
}

#[derive(Debug, Clone)]
struct Instr {
    line: usize,
    keyword: String,
    args: String,
    heredoc: bool,
}

pub(super) fn import(input: &Input, d: &mut Draft) -> Result<(), InteropError> {
    let shown = input
        .path
        .strip_prefix(&input.root)
        .unwrap_or(&input.path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(&input.path).map_err(|e| InteropError::io(&shown, &e))?;
    let unsupported = |message: String| InteropError::Unsupported {
        path: shown.clone(),
        message,
    };
    let instrs = instructions(&text).map_err(&unsupported)?;
    let (globals, stages) = split_stages(&instrs);
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for i in &globals {
        if i.keyword == "ARG" {
            declare_arg(&i.args, input, &BTreeMap::new(), &mut vars);
        }
    }
    let chosen = match &input.target {
        Some(t) => stages
            .iter()
            .position(|s| s.alias.as_deref() == Some(t.as_str()))
            .ok_or_else(|| unsupported(format!("build.target `{t}` is not a stage")))?,
        None => stages
            .len()
            .checked_sub(1)
            .ok_or_else(|| unsupported("no FROM instruction".into()))?,
    };
    // A stage built FROM an earlier stage continues it: walk the chain back to an image.
    let mut chain = vec![chosen];
    loop {
        let from = &stages[*chain.last().expect("non-empty")].from;
        match stages[..*chain.last().expect("non-empty")]
            .iter()
            .rposition(|s| s.alias.as_deref() == Some(from.as_str()))
        {
            Some(prev) => chain.push(prev),
            None => break,
        }
    }
    chain.reverse();
    let first = &stages[chain[0]];
    let image = substitute(&first.from, &vars)
        .map_err(|v| unsupported(format!("FROM {}: ${{{v}}} has no value", first.from)))?;
    if image == "scratch" {
        return Err(unsupported(
            "FROM scratch has no shell to run steps in".into(),
        ));
    }
    d.base_image = Some(image);
    for (n, s) in stages.iter().enumerate() {
        if !chain.contains(&n) {
            d.warn(
                format!("{shown}:{}", s.line),
                format!(
                    "stage `{}` is not part of the image that is used",
                    s.alias.as_deref().unwrap_or(&s.from)
                ),
            );
        }
    }
    let mut st = State::new(input, &shown, vars);
    for &n in &chain {
        for i in &stages[n].body {
            st.instruction(i, d);
        }
    }
    st.finish(d);
    Ok(())
}

struct Stage {
    line: usize,
    from: String,
    alias: Option<String>,
    body: Vec<Instr>,
}

fn split_stages(instrs: &[Instr]) -> (Vec<Instr>, Vec<Stage>) {
    let mut globals = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for i in instrs {
        if i.keyword == "FROM" {
            let words: Vec<&str> = i
                .args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let alias = match words.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                _ => None,
            };
            stages.push(Stage {
                line: i.line,
                from: words.first().copied().unwrap_or_default().to_owned(),
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
fn instructions(text: &str) -> Result<Vec<Instr>, String> {
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

fn declare_arg(
    args: &str,
    input: &Input,
    globals: &BTreeMap<String, String>,
    vars: &mut BTreeMap<String, String>,
) -> Option<(String, String)> {
    let (name, default) = match args.split_once('=') {
        Some((n, v)) => (n.trim(), Some(unquote(v.trim()))),
        None => (args.trim(), None),
    };
    let value = input
        .args
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .or_else(|| default.and_then(|d| substitute(&d, vars).ok()))
        .or_else(|| globals.get(name).cloned())?;
    vars.insert(name.to_owned(), value.clone());
    Some((name.to_owned(), value))
}

fn unquote(s: &str) -> String {
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

/// `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`; `\$` stays literal. An unknown
/// name is an error carrying it (the builder would take it from the base image).
fn substitute(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
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
        if braced {
            for n in chars.by_ref() {
                if n == '}' {
                    break;
                }
                modifier.push(n);
            }
        }
        if name.is_empty() {
            out.push('$');
            continue;
        }
        let value = vars.get(&name);
        match (
            modifier.strip_prefix(":-"),
            modifier.strip_prefix(":+"),
            value,
        ) {
            (Some(_), _, Some(v)) if !v.is_empty() => out.push_str(v),
            (Some(word), _, _) => out.push_str(word),
            (_, Some(word), Some(v)) if !v.is_empty() => out.push_str(word),
            (_, Some(_), _) => {}
            (_, _, Some(v)) => out.push_str(v),
            (_, _, None) => return Err(name),
        }
    }
    Ok(out)
}

/// Whitespace-separated words with quotes removed.
fn words(s: &str) -> Vec<String> {
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

struct State<'a> {
    input: &'a Input,
    shown: &'a str,
    vars: BTreeMap<String, String>,
    globals: BTreeMap<String, String>,
    stage_args: Vec<(String, String)>,
    cwd: Option<String>,
    user: Option<String>,
    inputs: Vec<String>,
    copy_lines: Vec<usize>,
    refusal: Option<String>,
    shell_changed: bool,
    ran: bool,
    warned_no_workdir: bool,
}

impl<'a> State<'a> {
    fn new(input: &'a Input, shown: &'a str, globals: BTreeMap<String, String>) -> Self {
        State {
            input,
            shown,
            vars: BTreeMap::new(),
            globals,
            stage_args: Vec::new(),
            cwd: None,
            user: None,
            inputs: Vec::new(),
            copy_lines: Vec::new(),
            refusal: None,
            shell_changed: false,
            ran: false,
            warned_no_workdir: false,
        }
    }

    fn at(&self, i: &Instr) -> String {
        format!("{}:{}", self.shown, i.line)
    }

    fn instruction(&mut self, i: &Instr, d: &mut Draft) {
        match i.keyword.as_str() {
            "ARG" => {
                if let Some(kv) = declare_arg(&i.args, self.input, &self.globals, &mut self.vars) {
                    set(&mut self.stage_args, &kv.0, kv.1);
                }
            }
            "ENV" => self.env(i, d),
            "WORKDIR" => match substitute(&i.args, &self.vars) {
                Ok(w) => {
                    let w = unquote(&w);
                    let base = self.cwd.clone().unwrap_or_else(|| "/".into());
                    let joined = normalise(&Path::new(&base).join(w));
                    self.cwd = Some(joined.display().to_string());
                }
                Err(v) => d.warn(self.at(i), format!("WORKDIR: ${v} has no value")),
            },
            "USER" => match substitute(&i.args, &self.vars) {
                Ok(u) => self.user = Some(u.trim().to_owned()),
                Err(v) => d.warn(self.at(i), format!("USER: ${v} has no value")),
            },
            "RUN" => self.run(i, d),
            "COPY" | "ADD" => self.copy(i, d),
            "SHELL" => {
                self.shell_changed = true;
                d.warn(
                    self.at(i),
                    "SHELL: devenv runs steps with /bin/sh -c; later RUN lines are not imported",
                );
            }
            "EXPOSE" => d.warn(
                self.at(i),
                format!(
                    "EXPOSE {}: publishes nothing; use [container] ports",
                    i.args
                ),
            ),
            "CMD" | "ENTRYPOINT" => d.warn(
                self.at(i),
                format!(
                    "{}: devenv's container runs its own idle command",
                    i.keyword
                ),
            ),
            other => d.warn(self.at(i), format!("{other}: no devenv equivalent")),
        }
    }

    fn env(&mut self, i: &Instr, d: &mut Draft) {
        let ws = words(&i.args);
        let pairs: Vec<(String, String)> = if ws.first().is_some_and(|w| w.contains('=')) {
            let mut pairs = Vec::new();
            // Substitute on the raw text of each pair so quoting survives.
            for raw in split_raw_words(&i.args) {
                let Some((k, v)) = raw.split_once('=') else {
                    continue;
                };
                pairs.push((k.to_owned(), v.to_owned()));
            }
            pairs
        } else {
            let mut it = i.args.splitn(2, char::is_whitespace);
            let k = it.next().unwrap_or_default().to_owned();
            vec![(k, it.next().unwrap_or_default().trim().to_owned())]
        };
        for (k, raw) in pairs {
            let prop = format!("{} ENV {k}", self.at(i));
            if !super::devcontainer_import::valid_env_name(&k) {
                d.warn(prop, "not a valid environment variable name");
                continue;
            }
            let value = if raw.starts_with('\'') {
                Ok(unquote(&raw))
            } else {
                substitute(&raw, &self.vars).map(|v| words(&v).join(" "))
            };
            match value {
                Ok(v) => {
                    if self.ran {
                        d.warn(prop.clone(), "set after a RUN; in devenv every step sees it");
                    }
                    self.vars.insert(k.clone(), v.clone());
                    set(&mut d.env, &k, v);
                }
                Err(name) => d.warn(
                    prop,
                    format!("its value uses ${name} from the base image; devenv's [env] values are literal"),
                ),
            }
        }
    }

    fn refuse(&mut self, i: &Instr, why: &str, d: &mut Draft) {
        d.warn(self.at(i), format!("{} not imported: {why}", i.keyword));
        d.steps.push(DraftStep {
            name: format!("{} {}", i.keyword, self.at(i)),
            run: format!("{} {}", i.keyword, i.args),
            refused: Some(why.to_owned()),
            ..DraftStep::default()
        });
    }

    fn run(&mut self, i: &Instr, d: &mut Draft) {
        self.ran = true;
        let why = if i.heredoc {
            Some("a heredoc (BuildKit syntax)".to_owned())
        } else if i.args.starts_with('[') {
            Some("exec form (no shell); write it as a shell command".to_owned())
        } else if i.args.starts_with("--") {
            Some(
                "RUN flags such as --mount need BuildKit; devenv has secrets = [...] instead"
                    .to_owned(),
            )
        } else if self.shell_changed {
            Some("it runs under a SHELL other than /bin/sh".to_owned())
        } else {
            self.refusal.take()
        };
        if let Some(why) = why {
            self.inputs.clear();
            self.refuse(i, &why, d);
            return;
        }
        let mut run = i.args.clone();
        match &self.cwd {
            Some(c) if *c != self.input.workdir => {
                let q = super::text::sh_quote(c);
                run = format!("mkdir -p {q} && cd {q} || exit 1\n{run}");
            }
            None if !self.warned_no_workdir => {
                self.warned_no_workdir = true;
                d.warn(
                    self.at(i),
                    format!(
                        "RUN before any WORKDIR ran in the base image's working directory; \
                         devenv runs steps in {}",
                        self.input.workdir
                    ),
                );
            }
            Some(_) | None => {}
        }
        let user = self
            .user
            .clone()
            .filter(|u| !matches!(u.as_str(), "root" | "0" | "0:0" | "root:root"));
        d.steps.push(DraftStep {
            name: format!("Dockerfile line {}", i.line),
            run,
            inputs: std::mem::take(&mut self.inputs),
            env: self.stage_args.clone(),
            user,
            refused: None,
        });
        self.copy_lines.clear();
    }

    fn copy(&mut self, i: &Instr, d: &mut Draft) {
        match self.copy_inputs(i) {
            Ok(patterns) => {
                self.inputs.extend(patterns);
                self.copy_lines.push(i.line);
            }
            Err(why) => {
                d.warn(
                    self.at(i),
                    format!(
                        "{} not imported: {why}; the next RUN is not imported either",
                        i.keyword
                    ),
                );
                d.steps.push(DraftStep {
                    name: format!("{} {}", i.keyword, self.at(i)),
                    run: format!("{} {}", i.keyword, i.args),
                    refused: Some(why.clone()),
                    ..DraftStep::default()
                });
                self.refusal = Some(format!(
                    "it follows {} at line {}, which was not imported",
                    i.keyword, i.line
                ));
            }
        }
    }

    /// The project-relative input patterns of a COPY/ADD, when devenv's layout gives the
    /// same result: every source lands at `<workdir>/<its project path>`.
    fn copy_inputs(&self, i: &Instr) -> Result<Vec<String>, String> {
        if i.heredoc {
            return Err("a heredoc (BuildKit syntax)".into());
        }
        if i.args.starts_with("--") {
            return Err("flags (--from, --chown, --chmod, …) have no devenv equivalent".into());
        }
        let parts: Vec<String> = if i.args.starts_with('[') {
            serde_json::from_str(&i.args).map_err(|_| "an invalid JSON array".to_owned())?
        } else {
            let sub = substitute(&i.args, &self.vars).map_err(|v| format!("${v} has no value"))?;
            words(&sub)
        };
        let Some((dest, sources)) = parts.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Err("needs a source and a destination".into());
        };
        let cwd = self.cwd.clone().unwrap_or_else(|| "/".into());
        let dest_is_dir = dest.ends_with('/') || sources.len() > 1;
        let dest = normalise(&Path::new(&cwd).join(dest)).display().to_string();
        let mut out = Vec::new();
        for src in sources {
            if i.keyword == "ADD" && (src.contains("://") || is_archive(src)) {
                return Err(format!(
                    "ADD {src} downloads or unpacks; devenv copies files as they are"
                ));
            }
            let abs = normalise(&self.input.context.join(src));
            let rel = abs
                .strip_prefix(&self.input.root)
                .map_err(|_| format!("{src} is outside the project"))?
                .display()
                .to_string();
            let glob = src.contains(['*', '?', '[']);
            let landed = if glob || dest_is_dir && !abs.is_dir() {
                let parent = Path::new(&rel)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                (dest.clone(), join(&self.input.workdir, &parent))
            } else {
                if !glob && !abs.exists() {
                    return Err(format!("{src} does not exist in the build context"));
                }
                (dest.clone(), join(&self.input.workdir, &rel))
            };
            if landed.0 != landed.1 {
                return Err(format!(
                    "{src} lands in {} but devenv copies inputs to {} (the workdir plus the \
                     project path)",
                    landed.0, landed.1
                ));
            }
            out.push(if rel.is_empty() { ".".to_owned() } else { rel });
        }
        Ok(out)
    }

    fn finish(self, d: &mut Draft) {
        if !self.inputs.is_empty() {
            let lines: Vec<String> = self.copy_lines.iter().map(ToString::to_string).collect();
            d.steps.push(DraftStep {
                name: format!("files copied at Dockerfile line {}", lines.join(", ")),
                run: "true".into(),
                inputs: self.inputs,
                ..DraftStep::default()
            });
        }
        if let Some(u) = self.user {
            let name = u.split(':').next().unwrap_or_default().to_owned();
            d.user = Some(name);
        }
    }
}

fn join(workdir: &str, rel: &str) -> String {
    if rel.is_empty() {
        workdir.to_owned()
    } else {
        format!("{workdir}/{rel}")
    }
}

fn is_archive(src: &str) -> bool {
    [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
    ]
    .iter()
    .any(|ext| src.ends_with(ext))
}

/// Split on unquoted whitespace keeping quotes (for `ENV a="b c" d=e`).
fn split_raw_words(s: &str) -> Vec<String> {
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
        assert_eq!(substitute("${PATH}:/x", &vars).unwrap_err(), "PATH");
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

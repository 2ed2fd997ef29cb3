//! The Dockerfile of a Dockerfile-based devcontainer, as devenv steps where that is
//! faithful, and as explanations where it is not.
//!
//! Faithful: `FROM` (with ARG substitution) → `base.image`; shell-form `RUN` → a step that
//! runs the same text with `/bin/sh -c`, with the stage's ARGs as the step's env (as the
//! builder gives them), as the current `USER`, in the current `WORKDIR` (a `cd` prefix when
//! it is not the manifest's workdir); `ENV` with literal values → `[env]`; `COPY`/`ADD` of
//! project files whose destination is `<workdir>/<project path>` → the next step's inputs.
//! Everything else is refused with the reason: exec-form and `--mount` RUNs, heredocs,
//! copies elsewhere or with flags, `SHELL`. Every RUN after a refused copy is refused
//! too (any of them may use what it copies), and so is a RUN as a user that a refused RUN
//! mentions; the destinations of refused copies are recorded so hooks that use them are
//! left out.
//!
//! `parse` reads the Dockerfile (instructions, stages, quoting and `$` substitution);
//! `mapping` turns the instructions of the chosen stages into the draft manifest.

mod mapping;
mod parse;

use std::collections::BTreeMap;
use std::path::PathBuf;

use self::mapping::State;
use self::parse::{instructions, split_stages, substitute, substitute_or_empty, unquote, Missing};
use super::draft::Draft;
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
    // Before the first FROM only earlier ARGs are visible: an unknown name is empty there.
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut broken: BTreeMap<String, String> = BTreeMap::new();
    let mut unset = Vec::new();
    for i in &globals {
        if i.keyword != "ARG" {
            continue;
        }
        let (name, value) = declare_arg(&i.args, input, &BTreeMap::new(), &vars, true);
        match value {
            ArgValue::Value(v) => {
                vars.insert(name, v);
            }
            ArgValue::Unset => {
                vars.insert(name.clone(), String::new());
                unset.push(name);
            }
            ArgValue::Unresolved(raw, why) => {
                let why = format!("ARG {name}={raw} at line {}: {why}", i.line);
                d.warn(format!("{shown}:{}", i.line), why.clone());
                broken.insert(name, why);
            }
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
    if let Some(name) = broken.keys().find(|n| mentions(&first.from, n)) {
        return Err(unsupported(format!(
            "FROM {}: {}",
            first.from, broken[name]
        )));
    }
    let image = substitute_or_empty(&first.from, &vars)
        .map_err(|e| unsupported(format!("FROM {}: {e}", first.from)))?;
    if let Some(name) = undeclared(&first.from, &vars) {
        d.warn(
            format!("{shown}:{}", first.line),
            format!(
                "FROM {}: ${name} is not declared by an ARG before FROM; Docker uses an empty \
                 value, so the base is {image}",
                first.from
            ),
        );
    }
    if let Some(p) = &first.platform {
        d.warn(
            format!("{shown}:{}", first.line),
            format!(
                "FROM --platform={p}: devenv builds for the Docker engine's own platform; \
                 the base is used as the engine resolves it"
            ),
        );
    }
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
    for name in &unset {
        vars.remove(name);
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

/// What an `ARG` gives the instructions after it.
pub(super) enum ArgValue {
    Value(String),
    /// Declared without a default or build arg: empty for substitutions, absent from RUN.
    Unset,
    /// A default devenv cannot compute: the raw text and why.
    Unresolved(String, Missing),
}

/// An `ARG name[=default]`: `build.args` first, then the default (substituted with `vars`;
/// before the first FROM an unknown name is empty, as the builder has it), then the global
/// of the same name (`outer`).
pub(super) fn declare_arg(
    args: &str,
    input: &Input,
    outer: &BTreeMap<String, String>,
    vars: &BTreeMap<String, String>,
    global: bool,
) -> (String, ArgValue) {
    let (name, default) = match args.split_once('=') {
        Some((n, v)) => (n.trim(), Some(unquote(v.trim()))),
        None => (args.trim(), None),
    };
    if let Some((_, v)) = input.args.iter().find(|(k, _)| k == name) {
        return (name.to_owned(), ArgValue::Value(v.clone()));
    }
    let value = match default {
        Some(d) => {
            let sub = if global {
                substitute_or_empty(&d, vars)
            } else {
                substitute(&d, vars)
            };
            match sub {
                Ok(v) => ArgValue::Value(v),
                Err(e) => ArgValue::Unresolved(d, e),
            }
        }
        None => outer
            .get(name)
            .map_or(ArgValue::Unset, |v| ArgValue::Value(v.clone())),
    };
    (name.to_owned(), value)
}

/// Whether `text` refers to `$name` / `${name…}`.
pub(super) fn mentions(text: &str, name: &str) -> bool {
    text.match_indices('$').any(|(at, _)| {
        let rest = text[at + 1..].strip_prefix('{').unwrap_or(&text[at + 1..]);
        rest.strip_prefix(name)
            .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// The first plain `$name` in `text` that `vars` does not know.
fn undeclared(text: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    text.match_indices('$').find_map(|(at, _)| {
        let rest = text[at + 1..].strip_prefix('{').unwrap_or(&text[at + 1..]);
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty() && !vars.contains_key(&name)).then_some(name)
    })
}

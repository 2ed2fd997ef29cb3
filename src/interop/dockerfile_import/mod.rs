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
//!
//! `parse` reads the Dockerfile (instructions, stages, quoting and `$` substitution);
//! `mapping` turns the instructions of the chosen stages into the draft manifest.

mod mapping;
mod parse;

use std::collections::BTreeMap;
use std::path::PathBuf;

use self::mapping::State;
use self::parse::{instructions, split_stages, substitute, unquote};
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

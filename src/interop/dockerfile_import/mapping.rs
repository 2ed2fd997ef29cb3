//! Mapping the instructions of the chosen stages onto the draft manifest: ARG, ENV,
//! WORKDIR and USER tracked as the builder would, RUN as steps, COPY/ADD as the next
//! step's inputs, and a warning with the reason for everything that is not imported.

use std::collections::BTreeMap;
use std::path::Path;

use super::parse::{
    split_raw_words, substitute, substitute_or_empty, unquote, words, Instr, Missing,
};
use super::{declare_arg, ArgValue, Input};
use crate::interop::devcontainer_import::normalise;
use crate::interop::draft::{set, Draft, DraftStep};
use crate::interop::text::mentions_word;

pub(super) struct State<'a> {
    input: &'a Input,
    shown: &'a str,
    vars: BTreeMap<String, String>,
    globals: BTreeMap<String, String>,
    stage_args: Vec<(String, String)>,
    cwd: Option<String>,
    user: Option<String>,
    inputs: Vec<String>,
    copy_lines: Vec<usize>,
    /// Stage ARGs whose defaults use the base image's variables: set by sh in each RUN.
    deferred: Vec<(String, String)>,
    /// Set once a COPY/ADD is refused: every later RUN may use what it copies.
    after_refused_copy: Option<String>,
    /// Refused RUNs: line and text (ARGs substituted), to find users only they create.
    refused_runs: Vec<(usize, String)>,
    shell_changed: bool,
    ran: bool,
    warned_no_workdir: bool,
}

impl<'a> State<'a> {
    pub(super) fn new(input: &'a Input, shown: &'a str, globals: BTreeMap<String, String>) -> Self {
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
            deferred: Vec::new(),
            after_refused_copy: None,
            refused_runs: Vec::new(),
            shell_changed: false,
            ran: false,
            warned_no_workdir: false,
        }
    }

    fn at(&self, i: &Instr) -> String {
        format!("{}:{}", self.shown, i.line)
    }

    pub(super) fn instruction(&mut self, i: &Instr, d: &mut Draft) {
        match i.keyword.as_str() {
            "ARG" => self.arg(i, d),
            "ENV" => self.env(i, d),
            "WORKDIR" => match substitute(&i.args, &self.vars) {
                Ok(w) => {
                    let w = unquote(&w);
                    let base = self.cwd.clone().unwrap_or_else(|| "/".into());
                    let joined = normalise(&Path::new(&base).join(w));
                    self.cwd = Some(joined.display().to_string());
                }
                Err(e) => d.warn(self.at(i), format!("WORKDIR: {e}")),
            },
            "USER" => match substitute(&i.args, &self.vars) {
                Ok(u) => self.user = Some(u.trim().to_owned()),
                Err(e) => d.warn(self.at(i), format!("USER: {e}")),
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
            if !crate::interop::devcontainer_import::valid_env_name(&k) {
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
                Err(Missing::Unset(name)) => d.warn(
                    prop,
                    format!("its value uses ${name} from the base image; devenv's [env] values are literal"),
                ),
                Err(e) => d.warn(prop, format!("not imported: {e}")),
            }
        }
    }

    /// A stage `ARG`: a value for later substitutions and for RUN's environment (as the
    /// builder gives it), set by sh in each RUN when its default uses the base image's
    /// variables, and a warning when it cannot be computed at all.
    fn arg(&mut self, i: &Instr, d: &mut Draft) {
        let (name, value) = declare_arg(&i.args, self.input, &self.globals, &self.vars, false);
        self.deferred.retain(|(n, _)| *n != name);
        self.stage_args.retain(|(n, _)| *n != name);
        self.vars.remove(&name);
        match value {
            ArgValue::Value(v) => {
                self.vars.insert(name.clone(), v.clone());
                set(&mut self.stage_args, &name, v);
            }
            ArgValue::Unset => {
                self.vars.insert(name, String::new());
            }
            ArgValue::Unresolved(raw, Missing::Unset(_)) if sh_double_quotable(&raw) => {
                self.deferred.push((name, raw));
            }
            ArgValue::Unresolved(raw, e) => d.warn(
                self.at(i),
                format!("ARG {name}={raw}: {e}; the RUN steps after it see {name} unset"),
            ),
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
            self.after_refused_copy
                .clone()
                .or_else(|| self.user_only_refused_runs_create())
        };
        if let Some(why) = why {
            self.inputs.clear();
            let text = substitute_or_empty(&i.args, &self.vars).unwrap_or_else(|_| i.args.clone());
            d.refused_runs
                .push((format!("the RUN at {}", self.at(i)), text.clone()));
            self.refused_runs.push((i.line, text));
            self.refuse(i, &why, d);
            return;
        }
        let mut run = i.args.clone();
        if !self.deferred.is_empty() {
            let sets: Vec<String> = self
                .deferred
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\"; export {k}"))
                .collect();
            run = format!("{}\n{run}", sets.join("\n"));
        }
        match &self.cwd {
            Some(c) if *c != self.input.workdir => {
                let q = crate::interop::text::sh_quote(c);
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

    /// The step's user when it is one that only a refused RUN may create.
    fn user_only_refused_runs_create(&self) -> Option<String> {
        let user = self.user.as_deref()?.split(':').next()?;
        if user.is_empty()
            || matches!(user, "root" | "0")
            || user.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (line, _) = self
            .refused_runs
            .iter()
            .find(|(_, text)| mentions_word(text, user))?;
        Some(format!(
            "it runs as {user}, whom the RUN at line {line} (not imported) may create"
        ))
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
                        "{} not imported: {why}; no RUN after it is imported (they may use \
                         what it copies)",
                        i.keyword
                    ),
                );
                d.steps.push(DraftStep {
                    name: format!("{} {}", i.keyword, self.at(i)),
                    run: format!("{} {}", i.keyword, i.args),
                    refused: Some(why.clone()),
                    ..DraftStep::default()
                });
                for prefix in self.copy_destinations(i) {
                    d.copied_to
                        .push((prefix, format!("{} at {}", i.keyword, self.at(i))));
                }
                self.after_refused_copy = Some(format!(
                    "it follows {} at line {}, which was not imported (it may use what that \
                     copies)",
                    i.keyword, i.line
                ));
            }
        }
    }

    /// Where a COPY/ADD puts its files in the image, as absolute paths or globs (a file
    /// copied into a directory lands at `<dest>/<its name>`), when that can be told.
    fn copy_destinations(&self, i: &Instr) -> Vec<String> {
        let words: Vec<String> = if i.args.starts_with('[') {
            serde_json::from_str(&i.args).unwrap_or_default()
        } else {
            let Ok(sub) = substitute_or_empty(&i.args, &self.vars) else {
                return Vec::new();
            };
            words(&sub)
                .into_iter()
                .filter(|w| !w.starts_with("--"))
                .collect()
        };
        let Some((dest, sources)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Vec::new();
        };
        let cwd = self.cwd.clone().unwrap_or_else(|| "/".into());
        let dest_is_dir = dest.ends_with('/') || sources.len() > 1;
        let dest = normalise(&Path::new(&cwd).join(dest)).display().to_string();
        if !dest_is_dir {
            return vec![dest];
        }
        sources
            .iter()
            .map(|src| {
                let abs = normalise(&self.input.context.join(src));
                if abs.is_dir() {
                    // A directory's contents land in dest itself.
                    return dest.clone();
                }
                let name = Path::new(src.trim_end_matches('/'))
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{}/{name}", dest.trim_end_matches('/'))
            })
            .collect()
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
            let sub = substitute(&i.args, &self.vars).map_err(|e| e.to_string())?;
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

    pub(super) fn finish(self, d: &mut Draft) {
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

/// Whether `raw` can be written between double quotes for sh and mean what the builder
/// makes of it: no quotes, backquotes or backslashes other than `\$`.
fn sh_double_quotable(raw: &str) -> bool {
    !raw.contains(['"', '`']) && !raw.replace("\\$", "").contains('\\') && !raw.contains("$(")
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

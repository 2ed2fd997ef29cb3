//! `devenv init`: detect the project, ask on a terminal (never otherwise), render the
//! template, check it with the manifest parser, write it and ignore `.devenv/` in git.

use std::path::Path;

use super::Ctx;
use crate::cli::InitArgs;
use crate::error::{ExitStatus, Result};
use crate::init::{self, Choices, Detection, GitignoreChange, InitError, TEMPLATES};
use crate::manifest::{self, MANIFEST_FILE};
use crate::project;
use crate::ui::prompt;

pub fn run(ctx: &Ctx, args: &InitArgs) -> Result<ExitStatus> {
    if args.list {
        return Ok(list(ctx));
    }
    let dir = project::start_dir(ctx.directory.as_deref())?;
    let path = match &ctx.file {
        Some(f) if f.is_absolute() => f.clone(),
        Some(f) => dir.join(f),
        None => dir.join(MANIFEST_FILE),
    };
    let shown = path.strip_prefix(&dir).unwrap_or(&path).to_path_buf();
    // Before any question: an answer that cannot be used is a waste of the user's time.
    init::check_target(&path, args.force).map_err(|_| InitError::Exists {
        path: shown.clone(),
    })?;
    let root = path.parent().map_or_else(|| dir.clone(), Path::to_path_buf);
    let detection = init::detect(&root);
    let choices = choose(ctx, args, &root, &detection)?;
    let rendered = init::render(&choices, &root);
    // Whatever was typed at the prompt or on the command line, the file is valid or unwritten.
    if let Err(e) = manifest::parse_str(&rendered.text, &shown, &root) {
        ctx.printer.warn(&format!(
            "{} not written: the answers make it invalid",
            shown.display()
        ));
        return Err(e.into());
    }
    init::write_manifest(&path, &rendered.text, args.force).map_err(|e| relabel(e, &shown))?;
    let gitignore = init::ensure_gitignored(&root)?;
    report(ctx, &shown, &choices, &rendered.left_out, gitignore);
    Ok(ExitStatus::Success)
}

fn list(ctx: &Ctx) -> ExitStatus {
    let width = TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in TEMPLATES {
        ctx.printer
            .data(&format!("{:width$}  {}", t.name, t.summary));
    }
    ExitStatus::Success
}

fn relabel(err: InitError, shown: &Path) -> InitError {
    match err {
        InitError::Exists { .. } => InitError::Exists {
            path: shown.to_path_buf(),
        },
        other => other,
    }
}

/// Flags answer their own question; `--yes` or a non-terminal takes the defaults for the
/// rest; otherwise ask.
fn choose(ctx: &Ctx, args: &InitArgs, root: &Path, detection: &Detection) -> Result<Choices> {
    let ask = !args.yes && prompt::available();
    let template = match &args.template {
        Some(name) => init::template(name)?,
        None if ask => ask_template(ctx, detection)?,
        None => detection.template,
    };
    let base = match &args.base {
        Some(base) => base.clone(),
        None if ask => ask_text(ctx, "Base image", &template.default_base())?,
        None => template.default_base(),
    };
    let ports = match &args.ports {
        Some(list) => init::parse_ports(list),
        None if ask => {
            let default = template.default_ports().join(", ");
            init::parse_ports(&ask_text(
                ctx,
                "Ports to publish (e.g. 3000, 8080:80)",
                &default,
            )?)
        }
        None => template.default_ports(),
    };
    let name = args.name.clone().unwrap_or_else(|| default_name(root));
    Ok(Choices {
        template,
        name,
        base,
        ports,
    })
}

fn ask_template(ctx: &Ctx, detection: &Detection) -> Result<&'static init::Template> {
    let width = TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let items: Vec<String> = TEMPLATES
        .iter()
        .map(|t| match detection.evidence {
            Some(file) if t.name == detection.template.name => {
                format!("{:width$}  {} (detected {file})", t.name, t.summary)
            }
            _ => format!("{:width$}  {}", t.name, t.summary),
        })
        .collect();
    let default = TEMPLATES
        .iter()
        .position(|t| t.name == detection.template.name)
        .unwrap_or(0);
    let index =
        prompt::select(&ctx.printer, "Template", &items, default).map_err(InitError::Prompt)?;
    Ok(&TEMPLATES[index])
}

fn ask_text(ctx: &Ctx, question: &str, default: &str) -> Result<String> {
    Ok(prompt::input(&ctx.printer, question, default).map_err(InitError::Prompt)?)
}

fn default_name(root: &Path) -> String {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let dir_name = canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    manifest::sanitise_name(&dir_name)
}

fn report(
    ctx: &Ctx,
    shown: &Path,
    choices: &Choices,
    left_out: &[String],
    gitignore: GitignoreChange,
) {
    let p = &ctx.printer;
    p.info(&format!(
        "wrote {} from the `{}` template (base {})",
        shown.display(),
        choices.template.name,
        choices.base
    ));
    if !left_out.is_empty() {
        p.info(&format!(
            "left out of the step inputs, the project has none yet: {} (add them to `inputs` \
             if you create them)",
            left_out.join(", ")
        ));
    }
    match gitignore {
        GitignoreChange::Created => {
            p.info("created .gitignore with devenv's state directory .devenv/");
        }
        GitignoreChange::Appended => {
            p.info("added devenv's state directory .devenv/ to .gitignore");
        }
        GitignoreChange::AlreadyIgnored => {}
    }
    p.info("next: `devenv up` builds the environment, `devenv shell` opens a shell in it");
}

//! `devenv completions SHELL` and `devenv man`: generated from the clap definitions, so
//! they never drift from the real command line. clap_complete, clap_mangen and roff are
//! used here only. Copies are committed under `completions/` and `man/`; the integration
//! test `init::generated_files_are_current` keeps them current (see docs/init.md).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{roman, Roff};

use crate::cli::{Cli, CompletionShell, CompletionsArgs};
use crate::error::{Error, ExitStatus, Result};

pub fn completions(args: &CompletionsArgs) -> Result<ExitStatus> {
    write_stdout(&completion_script(args.shell))
}

pub fn man() -> Result<ExitStatus> {
    write_stdout(&man_page())
}

fn write_stdout(bytes: &[u8]) -> Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitStatus::Success),
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitStatus::Success),
        Err(e) => Err(Error::other(format!("cannot write to stdout: {e}"), None)),
    }
}

/// The completion script for `shell`.
pub fn completion_script(shell: CompletionShell) -> Vec<u8> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "devenv", &mut out);
    out
}

/// Global flags, documented once at the top of the page rather than under every command.
const GLOBAL_ARGS: &[&str] = &[
    "file",
    "directory",
    "verbose",
    "quiet",
    "color",
    "help",
    "version",
];

/// One page for the whole tool: the top-level synopsis and options, then every command with
/// its own synopsis, options and examples, then exit status, environment and files.
pub fn man_page() -> Vec<u8> {
    let mut cmd = Cli::command();
    cmd.build();
    let top = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = top.render_title(&mut out);
    let _ = top.render_name_section(&mut out);
    let _ = top.render_synopsis_section(&mut out);
    let _ = top.render_description_section(&mut out);
    let _ = top.render_options_section(&mut out);
    let mut commands = Roff::new();
    commands.control("SH", ["COMMANDS"]);
    out.extend(commands.render().into_bytes());
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        render_subcommand(sub, &mut out);
    }
    let mut tail = Roff::new();
    if let Some(examples) = cmd.get_after_help() {
        tail.control("SH", ["EXAMPLES"]);
        let examples = examples.to_string();
        preformatted(
            &mut tail,
            examples.strip_prefix("Examples:\n").unwrap_or(&examples),
        );
    }
    for (heading, body) in STATIC_SECTIONS {
        tail.control("SH", [*heading]);
        for (term, text) in *body {
            tail.control("TP", []);
            tail.text([roff::bold(*term)]);
            tail.text([roman(*text)]);
        }
    }
    out.extend(tail.render().into_bytes());
    let _ = top.render_version_section(&mut out);
    out
}

fn render_subcommand(sub: &clap::Command, out: &mut Vec<u8>) {
    let mut sub = sub.clone();
    for id in GLOBAL_ARGS {
        if sub.get_arguments().any(|a| a.get_id() == id) {
            sub = sub.mut_arg(*id, |a| a.hide(true));
        }
    }
    let name = sub
        .get_bin_name()
        .map_or_else(|| format!("devenv {}", sub.get_name()), str::to_owned);
    let mut head = Roff::new();
    head.control("SS", [name.as_str()]);
    out.extend(head.render().into_bytes());
    let page = clap_mangen::Man::new(sub.clone());
    let mut body = Vec::new();
    let _ = page.render_description_section(&mut body);
    let _ = page.render_synopsis_section(&mut body);
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = page.render_options_section(&mut body);
    }
    // The sections of a command's own page become paragraphs under its `.SS`.
    for line in String::from_utf8_lossy(&body).lines() {
        if line.starts_with(".SH ") {
            out.extend(b".PP\n");
        } else {
            out.extend(line.as_bytes());
            out.push(b'\n');
        }
    }
    if let Some(after) = sub.get_after_help() {
        let mut r = Roff::new();
        preformatted(&mut r, &after.to_string());
        out.extend(r.render().into_bytes());
    }
}

/// After-help text: paragraphs split at blank lines; a paragraph with indented lines (the
/// examples) keeps its line breaks, prose is filled.
fn preformatted(roff: &mut Roff, text: &str) {
    for block in text.split("\n\n") {
        roff.control("PP", []);
        let keep_breaks = block.lines().skip(1).any(|l| l.starts_with(' '));
        if keep_breaks {
            roff.control("nf", []);
        }
        for line in block.lines() {
            roff.text([roman(line)]);
        }
        if keep_breaks {
            roff.control("fi", []);
        }
    }
}

type Section = (&'static str, &'static [(&'static str, &'static str)]);

const STATIC_SECTIONS: &[Section] = &[
    (
        "EXIT STATUS",
        &[
            ("0", "Success."),
            ("1", "Failure."),
            ("2", "Invalid manifest or usage."),
            ("3", "The Docker engine cannot be reached."),
            (
                "run, shell",
                "The command's own status (128+N after signal N); 125 when devenv fails \
                 before the command runs.",
            ),
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            (
                "DOCKER_HOST",
                "The Docker engine to use (default: the local socket).",
            ),
            (
                "DEVENV_LOG",
                "Log filter, overriding -v (e.g. devenv=trace).",
            ),
            ("NO_COLOR", "Disables colours."),
            ("CI", "When set, no progress animations and no colours."),
        ],
    ),
    (
        "FILES",
        &[
            (
                "devenv.toml",
                "The manifest, found from the current directory upwards.",
            ),
            (
                "devenv.lock",
                "The resolved base image; commit it next to the manifest.",
            ),
            (
                ".devenv/",
                "Local state next to the manifest; never commit it.",
            ),
        ],
    ),
];

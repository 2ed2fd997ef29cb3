//! `devenv logs [SERVICE…] [-f] [--tail N]`: the output of the services and the dev
//! container, merged as it arrives, each line prefixed with its source (coloured on a
//! terminal). Lines keep their stream: stdout to stdout, stderr to stderr. A reader that
//! goes away (`devenv logs -f | head -1`) ends it at once with success, as it ends `cat`.

use std::io::{IsTerminal, Write};

use futures_util::stream::{select_all, StreamExt};

use super::Ctx;
use crate::cli::LogsArgs;
use crate::engine::ExecOutput;
use crate::environment::{Environment, DEV};
use crate::error::{Error, ExitStatus, Result};
const COLOURS: &[&str] = &["36", "33", "32", "35", "34", "31"];

pub async fn run(ctx: &Ctx, args: &LogsArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let engine = ctx.engine().await?;
    for name in &args.services {
        let known = m.services.contains_key(name) || name == DEV;
        if !known {
            let list: Vec<&str> = std::iter::once(DEV)
                .chain(m.services.keys().map(String::as_str))
                .collect();
            return Err(Error::other(
                format!("no service named `{name}`"),
                Some(format!("the sources are: {}", list.join(", "))),
            ));
        }
    }
    let sources = Environment::new(&engine, &project)
        .log_sources(&args.services)
        .await?;
    if sources.is_empty() {
        ctx.printer
            .info("no containers to show: run `devenv up` first");
        return Ok(ExitStatus::Success);
    }
    let colour = ctx.printer.color && std::io::stdout().is_terminal();
    let width = sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let prefixes: Vec<String> = sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let text = format!("{:<width$} |", source.name);
            if colour {
                format!("\x1b[{}m{text}\x1b[0m", COLOURS[i % COLOURS.len()])
            } else {
                text
            }
        })
        .collect();
    let streams = sources.iter().enumerate().map(|(i, source)| {
        source
            .stream(&engine, args.follow, args.tail)
            .map(move |item| (i, item))
    });
    let mut merged = select_all(streams);
    // Partial lines per source and stream, printed once complete.
    let mut pending: Vec<[Vec<u8>; 2]> = vec![[Vec::new(), Vec::new()]; sources.len()];
    // Ctrl-C ends following (the lines already read are still printed).
    while let Some(Some((i, item))) = crate::cancel::or_cancelled(merged.next()).await {
        let (which, bytes) = match item? {
            ExecOutput::Stdout(b) => (0, b),
            ExecOutput::Stderr(b) => (1, b),
        };
        let buf = &mut pending[i][which];
        buf.extend_from_slice(&bytes);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            if let Err(e) = emit(&prefixes[i], &line, which == 1) {
                return output_closed(&e);
            }
        }
    }
    for (i, bufs) in pending.iter().enumerate() {
        for (which, buf) in bufs.iter().enumerate() {
            if !buf.is_empty() {
                let mut line = buf.clone();
                line.push(b'\n');
                if let Err(e) = emit(&prefixes[i], &line, which == 1) {
                    return output_closed(&e);
                }
            }
        }
    }
    if crate::cancel::is_cancelled() {
        return Ok(ExitStatus::Code(crate::error::EXIT_INTERRUPTED));
    }
    // A service whose last start failed says so here too (its container may have printed
    // nothing at all: a command that does not exist), until it starts again.
    let mut failed = false;
    let asked = |name: &&String| args.services.is_empty() || args.services.contains(name);
    for name in m.services.keys().filter(asked) {
        if let Some(failure) = crate::stack::last_failure(&project.paths.dir, name) {
            ctx.printer.info(&format!(
                "service {name} failed to start: {}",
                failure.trim_end()
            ));
            failed = true;
        }
    }
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn emit(prefix: &str, line: &[u8], stderr: bool) -> std::io::Result<()> {
    let write = |out: &mut dyn Write| {
        out.write_all(prefix.as_bytes())?;
        out.write_all(b" ")?;
        out.write_all(line)?;
        out.flush()
    };
    if stderr {
        write(&mut std::io::stderr().lock())
    } else {
        write(&mut std::io::stdout().lock())
    }
}

/// A write failed: the reader went away (a closed pipe ends the logs, as it ends `cat`), or
/// the output cannot be written (a full disk), which is an error.
fn output_closed(e: &std::io::Error) -> Result<ExitStatus> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return Ok(ExitStatus::Success);
    }
    Err(Error::other(format!("cannot write the logs: {e}"), None))
}

//! Questions on the terminal (dialoguer), for commands that may ask before acting. Callers
//! check [`available`] first: devenv never prompts when stdin or stderr is not a terminal.

use std::io::IsTerminal;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Input, Select};

use super::Printer;

/// Whether a question can be asked and answered: stdin and stderr are both terminals.
pub fn available() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn theme(color: bool) -> Box<dyn Theme> {
    if color {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
    }
}

/// Pick one of `items`; Enter accepts `default`.
pub fn select(
    printer: &Printer,
    prompt: &str,
    items: &[String],
    default: usize,
) -> Result<usize, String> {
    let theme = theme(printer.color);
    Select::with_theme(theme.as_ref())
        .with_prompt(prompt)
        .items(items)
        .default(default)
        .interact()
        .map_err(|e| e.to_string())
}

/// A line of text; Enter accepts `default` (which may be empty).
pub fn input(printer: &Printer, prompt: &str, default: &str) -> Result<String, String> {
    let theme = theme(printer.color);
    Input::<String>::with_theme(theme.as_ref())
        .with_prompt(prompt)
        .default(default.to_owned())
        .show_default(!default.is_empty())
        .allow_empty(true)
        .interact_text()
        .map(|s| s.trim().to_owned())
        .map_err(|e| e.to_string())
}

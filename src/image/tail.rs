//! The last lines of a step's output, kept for the message when the step fails.

use std::collections::VecDeque;

/// Lines of output kept for the failure message.
const TAIL_LINES: usize = 20;

/// The last lines of a step's output.
#[derive(Default)]
pub(super) struct Tail {
    lines: VecDeque<String>,
    partial: String,
}

impl Tail {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.partial.push_str(&String::from_utf8_lossy(bytes));
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            self.lines.push_back(line.trim_end().to_owned());
            if self.lines.len() > TAIL_LINES {
                self.lines.pop_front();
            }
        }
    }

    pub(super) fn render(&self) -> String {
        let mut lines: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        if !self.partial.is_empty() {
            lines.push(&self.partial);
        }
        if lines.is_empty() {
            return "  (no output)".to_owned();
        }
        let mut out = String::from("  last output:\n");
        for l in lines {
            out.push_str("  | ");
            out.push_str(l);
            out.push('\n');
        }
        out.trim_end().to_owned()
    }
}

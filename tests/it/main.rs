//! One integration-test binary: every test drives the real `devenv` binary, most against
//! the real Docker engine.

mod build;
mod cli;
mod common;
mod env;
mod manifest_errors;
mod watch;

//! One integration-test binary: every test drives the real `devenv` binary, most against
//! the real Docker engine.

mod build;
mod cache;
mod cli;
mod common;
mod env;
mod init;
mod interop;
mod manifest_errors;
mod remote;
mod watch;

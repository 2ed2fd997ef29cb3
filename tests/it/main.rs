//! One integration-test binary: every test drives the real `devenv` binary, most against
//! the real Docker engine.

mod build;
mod cache;
mod cli;
mod common;
mod env;
mod env_file;
mod exec;
mod init;
mod interop;
mod manifest_errors;
mod ownership;
mod registry_base;
mod remote;
mod root_helpers;
mod secrets;
mod service_waits;
mod services;
mod verify;
mod watch;

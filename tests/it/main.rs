//! One integration-test binary: every test drives the real `devenv` binary, most against
//! the real Docker engine.

mod ansible;
mod build;
mod cache;
mod caches;
mod cleanup;
mod cli;
mod common;
mod env;
mod env_file;
mod exec;
mod hostnet;
mod init;
mod interop;
mod json;
mod manifest_errors;
mod messages;
mod ownership;
mod pack_trust;
mod platform;
mod podman;
mod registry_base;
mod remote;
mod replicas;
mod root_helpers;
mod scripts;
mod secrets;
mod service_waits;
mod services;
mod stack_export;
mod start_failures;
mod swarm;
mod templates_debian;
mod verify;
mod watch;

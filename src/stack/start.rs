//! Starting a service's container: the engine refusing to (its command not found or not
//! executable) becomes [`StackError::CannotStart`], with the service's name and the
//! runtime's reason without its wrapping.

use super::member::ServiceSettings;
use super::StackError;
use crate::engine::{Engine, EngineError};
use crate::manifest::Manifest;

/// Start a service's container; the engine refusing to (its command not found or not
/// executable) is [`StackError::CannotStart`], naming the service.
pub(super) async fn start(
    engine: &Engine,
    manifest: &Manifest,
    (name, settings): (&str, &ServiceSettings),
    container: &str,
) -> Result<(), StackError> {
    // The image as the user wrote it (the environment's own when the service has none).
    let image = manifest
        .services
        .get(name)
        .and_then(|s| s.image.as_ref())
        .map_or_else(|| settings.image.clone(), |r| r.raw.clone());
    match engine.start_container(container).await {
        Err(EngineError::Api { message, .. }) => Err(StackError::CannotStart {
            service: name.to_owned(),
            image,
            reason: start_reason(&message),
        }),
        other => Ok(other?),
    }
}

/// The part of the runtime's message that says why: `exec: "python3": executable file not
/// found in $PATH` out of `failed to create shim task: OCI runtime create failed: …`.
fn start_reason(message: &str) -> String {
    let markers = [
        "unable to start container process: ",
        "starting container process caused: ",
    ];
    let tail = markers
        .iter()
        .find_map(|m| message.rfind(m).map(|i| &message[i + m.len()..]))
        .unwrap_or(message);
    tail.trim()
        .trim_end_matches(": unknown")
        .trim_end_matches(": unknown.")
        .to_owned()
}

/// The program named in a start failure (`exec: "python3": …`).
pub(super) fn missing_program(reason: &str) -> Option<&str> {
    let rest = reason.split("exec: \"").nth(1)?;
    rest.split('"').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_the_runtimes_last_clause() {
        let message = "failed to create shim task: OCI runtime create failed: runc create \
            failed: unable to start container process: exec: \"python3\": executable file not \
            found in $PATH: unknown";
        let reason = start_reason(message);
        assert_eq!(
            reason,
            "exec: \"python3\": executable file not found in $PATH"
        );
        assert_eq!(missing_program(&reason), Some("python3"));
        let old = "OCI runtime create failed: container_linux.go:380: starting container \
            process caused: exec: \"/app/run\": permission denied: unknown";
        assert_eq!(start_reason(old), "exec: \"/app/run\": permission denied");
        assert_eq!(start_reason("something else"), "something else");
        assert_eq!(missing_program("something else"), None);
    }
}

//! A service's `replicas`, `memory`, `cpus` and `placement`: how many containers run it and
//! with what limits, on one engine and on a swarm. The grammars are pure functions (unit
//! tested below); the readers report each problem at its value's span.

use toml::de::DeValue;

use super::parse::{wrong_type, Cx, Table, Value};
use super::Diagnostic;

/// Most replicas a service may ask for (a typo guard, far above a development machine).
pub const MAX_REPLICAS: u32 = 1000;
/// The engine refuses a memory limit below 6 MiB.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// Most CPUs a limit may name.
const MAX_CPUS: f64 = 1024.0;

pub(super) fn replicas(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<u32> {
    let value = t.get("replicas")?;
    let DeValue::Integer(_) = value.get_ref() else {
        cx.push(
            wrong_type(cx.src, "replicas", value, "an integer")
                .with_hint("write how many containers run the service, e.g. `replicas = 3`"),
        );
        return None;
    };
    let raw = raw(cx, value);
    match replica_count(&raw) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            cx.push(
                Diagnostic::new(value.span(), "`replicas` is out of range")
                    .with_label(format!("expected a number from 1 to {MAX_REPLICAS}"))
                    .with_hint("e.g. `replicas = 3`; `devenv scale NAME=0` stops a service"),
            );
            None
        }
    }
}

pub(super) fn memory(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<u64> {
    let value = t.get("memory")?;
    let DeValue::String(s) = value.get_ref() else {
        cx.push(
            wrong_type(cx.src, "memory", value, "a string")
                .with_hint("write a size with its unit, e.g. `memory = \"256m\"` or \"1g\""),
        );
        return None;
    };
    match memory_bytes(s) {
        Ok(n) => Some(n),
        Err(why) => {
            cx.push(
                Diagnostic::new(
                    value.span(),
                    format!("invalid `memory` value \"{s}\": {why}"),
                )
                .with_label("expected a size such as \"256m\", \"1.5g\", \"512k\"")
                .with_hint("units: b, k, m, g (powers of 1024, as `docker run --memory`)"),
            );
            None
        }
    }
}

pub(super) fn cpus(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<u64> {
    let value = t.get("cpus")?;
    let text = match value.get_ref() {
        DeValue::Integer(_) | DeValue::Float(_) => raw(cx, value),
        DeValue::String(s) => s.to_string(),
        _ => {
            cx.push(
                wrong_type(cx.src, "cpus", value, "a number")
                    .with_hint("write how many CPUs the service may use, e.g. `cpus = 0.5`"),
            );
            return None;
        }
    };
    match nano_cpus(&text) {
        Ok(n) => Some(n),
        Err(why) => {
            cx.push(
                Diagnostic::new(value.span(), format!("invalid `cpus` value {text}: {why}"))
                    .with_label(format!("expected a number above 0 and at most {MAX_CPUS}"))
                    .with_hint("e.g. `cpus = 0.5` (half a CPU) or `cpus = 2`"),
            );
            None
        }
    }
}

pub(super) fn placement(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Vec<String> {
    let mut out = Vec::new();
    for s in t.strings(cx, "placement").unwrap_or_default() {
        match constraint(s.value) {
            Ok(()) => out.push(s.value.to_owned()),
            Err(why) => cx.push(
                Diagnostic::new(
                    s.span,
                    format!("invalid placement constraint \"{}\": {why}", s.value),
                )
                .with_label("expected `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`")
                .with_hint(
                    "as Compose's deploy.placement.constraints, e.g. \"node.labels.tier==web\" \
                         or \"node.role!=manager\"",
                ),
            ),
        }
    }
    out
}

/// The value's text as written (numbers: digits, `_`, sign, exponent).
fn raw(cx: &Cx<'_>, value: &Value<'_>) -> String {
    cx.src
        .get(value.span())
        .unwrap_or_default()
        .replace('_', "")
}

/// A replica count from 0 to [`MAX_REPLICAS`] (0 only through `devenv scale`).
pub fn replica_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n <= MAX_REPLICAS => Ok(n),
        _ => Err(format!("expected a number from 0 to {MAX_REPLICAS}")),
    }
}

/// `256m`, `1.5g`, `512k`, `1048576` (bytes), case-insensitive, with an optional trailing
/// `b` after the unit (`256mb`), as `docker run --memory` reads it.
pub fn memory_bytes(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    let (number, unit) = match body.char_indices().last() {
        Some((i, c @ ('k' | 'm' | 'g' | 't'))) => (&body[..i], c),
        _ => (body, 'b'),
    };
    let factor: u64 = match unit {
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        't' => 1 << 40,
        _ => 1,
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err("not a number with a unit".into());
    }
    let n: f64 = number
        .parse()
        .map_err(|_| "not a number with a unit".to_owned())?;
    #[allow(clippy::cast_precision_loss)] // sizes far below 2^52 bytes
    let bytes = n * factor as f64;
    if !(bytes.is_finite() && bytes < 2f64.powi(53)) {
        return Err("too large".into());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err("below the engine's minimum of 6m".into());
    }
    Ok(bytes)
}

/// `0.5` → 500 000 000 (the engine's `NanoCpus`).
pub fn nano_cpus(s: &str) -> Result<u64, String> {
    let n: f64 = s.trim().parse().map_err(|_| "not a number".to_owned())?;
    if !(n > 0.0 && n <= MAX_CPUS) {
        return Err("out of range".into());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 < n ≤ 1024
    let nano = (n * 1e9).round() as u64;
    if nano < 10_000_000 {
        return Err("below 0.01 CPU".into());
    }
    Ok(nano)
}

/// A CPU limit as Compose and `docker run --cpus` write it: `0.5`, `2`.
pub fn cpus_text(nano: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // at most 1024e9
    let s = format!("{:.3}", nano as f64 / 1e9);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A memory limit as Compose writes it: the largest unit that divides it (`256M`), else
/// bytes.
pub fn memory_text(bytes: u64) -> String {
    for (unit, factor) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

/// `node.labels.tier==web`: an attribute, `==` or `!=`, a value, no spaces around either.
fn constraint(s: &str) -> Result<(), String> {
    let (attr, value) = s
        .split_once("==")
        .or_else(|| s.split_once("!="))
        .ok_or("no `==` or `!=`")?;
    let attr = attr.trim();
    let value = value.trim();
    if attr.is_empty() || value.is_empty() {
        return Err("an attribute and a value are both needed".into());
    }
    let known = [
        "node.id",
        "node.hostname",
        "node.role",
        "node.platform.os",
        "node.platform.arch",
    ];
    let labelled = ["node.labels.", "engine.labels."]
        .iter()
        .any(|p| attr.strip_prefix(p).is_some_and(|l| !l.is_empty()));
    if !(known.contains(&attr) || labelled) {
        return Err(format!(
            "unknown attribute `{attr}` (node.id, node.hostname, node.role, node.platform.os, \
             node.platform.arch, node.labels.NAME, engine.labels.NAME)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_as_docker_reads_them() {
        assert_eq!(memory_bytes("256m"), Ok(256 << 20));
        assert_eq!(memory_bytes("256MB"), Ok(256 << 20));
        assert_eq!(memory_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(memory_bytes("8192k"), Ok(8 << 20));
        assert_eq!(memory_bytes("67108864"), Ok(64 << 20));
        assert!(memory_bytes("1m").is_err(), "below the engine's minimum");
        assert!(memory_bytes("m").is_err());
        assert!(memory_bytes("12x").is_err());
        assert!(memory_bytes("-5m").is_err());
        assert!(memory_bytes("").is_err());
        assert_eq!(memory_text(256 << 20), "256M");
        assert_eq!(memory_text(3 << 29), "1536M");
        assert_eq!(memory_text(2 << 30), "2G");
    }

    #[test]
    fn cpus_are_nano_cpus() {
        assert_eq!(nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert!(nano_cpus("0").is_err());
        assert!(nano_cpus("-1").is_err());
        assert!(nano_cpus("2000").is_err());
        assert!(nano_cpus("half").is_err());
        assert!(nano_cpus("NaN").is_err());
        assert_eq!(cpus_text(500_000_000), "0.5");
        assert_eq!(cpus_text(2_000_000_000), "2");
        assert_eq!(cpus_text(1_250_000_000), "1.25");
    }

    #[test]
    fn placement_constraints_have_an_attribute_an_operator_and_a_value() {
        assert!(constraint("node.labels.tier==web").is_ok());
        assert!(constraint("node.role!=manager").is_ok());
        assert!(constraint("node.hostname == node2").is_ok());
        assert!(constraint("tier=web").is_err());
        assert!(constraint("node.labels.==x").is_err());
        assert!(constraint("node.colour==red").is_err());
        assert!(constraint("node.role==").is_err());
    }

    #[test]
    fn replica_counts_stay_in_range() {
        assert_eq!(replica_count("3"), Ok(3));
        assert_eq!(replica_count("0"), Ok(0));
        assert!(replica_count("1001").is_err());
        assert!(replica_count("-1").is_err());
        assert!(replica_count("three").is_err());
    }
}

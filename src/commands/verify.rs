//! `devenv verify`, `devenv pack`, `devenv load`: prove the environment is the one devenv
//! built, and carry it to machines without a registry.

use std::path::{Path, PathBuf};

use std::fmt::Write as _;

use serde::Serialize;

use super::build::lock_mode;
use super::Ctx;
use crate::cli::{LoadArgs, PackArgs, VerifyArgs};
use crate::engine::Engine;
use crate::error::{Error, ExitStatus, Result};
use crate::image::pack::{self, PackError, PackMeta};
use crate::image::verify::{self, short_id, ChainReport};
use crate::image::{self as builder, base};
use crate::manifest::LockFile;
use crate::ui::BuildView;

pub use super::diff::diff;

fn pack_error(e: PackError) -> Error {
    match e {
        PackError::Build(b) => b.into(),
        other => Error::other(other.to_string(), other.hint()),
    }
}

/// The outcome of `--against`.
#[derive(Debug, Serialize)]
struct Against {
    source: String,
    /// `pack` or `registry`.
    kind: &'static str,
    id: Option<String>,
    ok: bool,
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct Verdict<'a> {
    ok: bool,
    #[serde(rename = "verdict")]
    line: String,
    hash: Option<&'a str>,
    image: Option<&'a str>,
    id: Option<&'a str>,
    chain: Option<&'a ChainReport>,
    against: Option<&'a Against>,
}

pub async fn verify(ctx: &Ctx, args: &VerifyArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let lock_name = base::file_name(&project.paths.lock);
    let platform = ctx.platform(&project, None).await?;
    let plan = builder::current_plan(m, &project.paths, platform.as_ref())?;
    let lock = LockFile::read(&project.paths.lock)?;
    let (Some(plan), Some(lock)) = (plan, lock) else {
        let verdict = format!(
            "broken: {lock_name} is missing or out of date, so the hash cannot be recomputed"
        );
        return finish(
            ctx,
            args.json,
            &Verdict {
                ok: false,
                line: verdict,
                hash: None,
                image: None,
                id: None,
                chain: None,
                against: None,
            },
            Some(&format!("run `devenv lock` and commit {lock_name}")),
        );
    };
    let engine = ctx.engine().await?;
    let report = verify::verify_chain(&engine, m, &plan, &lock.base).await?;
    let against = match (&args.against, &report.id) {
        (Some(source), Some(id)) => {
            Some(check_against(&engine, source, &report, id, &plan.platform).await?)
        }
        _ => None,
    };
    let (verdict, hint) = if let Some(b) = &report.broken {
        let hint = if b.restorable {
            "run `devenv build`: it restores the tag from devenv's own layers"
        } else {
            "run `devenv build` to rebuild what is missing or replaced"
        };
        (
            format!("broken: {} ({}): {}", b.step, b.reference, b.reason),
            Some(hint),
        )
    } else if let Some(a) = against.as_ref().filter(|a| !a.ok) {
        (
            format!(
                "broken: {} differs: {}",
                a.source,
                a.reason.as_deref().unwrap_or("")
            ),
            None,
        )
    } else {
        let mut line = format!(
            "ok: {} is the environment {} and {} describe ({} layers, image {})",
            report.image,
            project.display_path.display(),
            lock_name,
            report.layers.len(),
            short_id(report.id.as_deref().unwrap_or_default())
        );
        if let Some(a) = &against {
            let _ = write!(line, "; {} holds the same image", a.source);
        }
        (line, None)
    };
    if !args.json {
        for note in &report.notes {
            ctx.printer.info(note);
        }
    }
    let ok = report.ok() && against.as_ref().is_none_or(|a| a.ok);
    finish(
        ctx,
        args.json,
        &Verdict {
            ok,
            line: verdict,
            hash: Some(&report.hash),
            image: Some(&report.image),
            id: report.id.as_deref(),
            chain: Some(&report),
            against: against.as_ref(),
        },
        hint,
    )
}

#[allow(clippy::unnecessary_wraps)]
fn finish(ctx: &Ctx, json: bool, v: &Verdict, hint: Option<&str>) -> Result<ExitStatus> {
    if json {
        ctx.printer
            .data(&serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        ctx.printer.data(&v.line);
        if let Some(h) = hint.filter(|_| !v.ok && !ctx.printer.quiet) {
            eprintln!("hint: {h}");
        }
    }
    Ok(if v.ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Compare the verified local image with a pack file or a registry copy.
async fn check_against(
    engine: &Engine,
    source: &str,
    report: &ChainReport,
    local_id: &str,
    platform: &crate::manifest::Platform,
) -> Result<Against> {
    let path = Path::new(source);
    if path.is_file() {
        let meta = pack::read_checked(path).map_err(pack_error)?;
        let mut against = compare_pack(source, &meta, report, local_id);
        // Two architectures: said first, everything else follows from it.
        if meta.platform != platform.to_string() {
            against.ok = false;
            against.reason = Some(platform_differs(&meta.platform, platform));
        }
        return Ok(against);
    }
    let reference = with_tag(source, &report.hash);
    let existed = engine.image_detail(&reference).await?.is_some();
    engine.pull(&reference, |_| {}).await?;
    let remote = engine.image_detail(&reference).await?;
    if !existed {
        engine.remove_image(&reference).await?;
    }
    let Some(remote) = remote else {
        return Err(Error::other(
            format!("{reference} could not be pulled"),
            None,
        ));
    };
    let key = remote
        .labels
        .get(crate::engine::labels::KEY)
        .cloned()
        .unwrap_or_default();
    let theirs = remote
        .labels
        .get(crate::engine::labels::PLATFORM)
        .filter(|p| !p.is_empty());
    let reason = if let Some(theirs) = theirs.filter(|p| **p != platform.to_string()) {
        Some(platform_differs(theirs, platform))
    } else if key != report.hash {
        Some(format!(
            "it is the image of hash {}, not {}",
            short(&key),
            short(&report.hash)
        ))
    } else if remote.id != local_id {
        Some(format!(
            "same hash, but image {} where the local one is {} (a different build)",
            short_id(&remote.id),
            short_id(local_id)
        ))
    } else {
        None
    };
    Ok(Against {
        source: reference,
        kind: "registry",
        ok: reason.is_none(),
        id: Some(remote.id),
        reason,
    })
}

/// A copy of another platform, named as such.
fn platform_differs(theirs: &str, ours: &crate::manifest::Platform) -> String {
    format!("it is a {theirs} environment, this one is {ours} ({theirs} vs {ours})")
}

fn compare_pack(source: &str, meta: &PackMeta, report: &ChainReport, local_id: &str) -> Against {
    let reason = if meta.hash != report.hash {
        Some(format!(
            "it holds hash {}, not {}",
            short(&meta.hash),
            short(&report.hash)
        ))
    } else if meta.id != local_id {
        let first = meta
            .layers
            .iter()
            .zip(&report.layers)
            .find(|(p, l)| l.id.as_deref() != Some(p.id.as_str()));
        Some(match first {
            Some((p, _)) => format!(
                "same hash, but {} is image {} there (a different build)",
                p.step,
                short_id(&p.id)
            ),
            None => format!("same hash, but image {}", short_id(&meta.id)),
        })
    } else {
        None
    };
    Against {
        source: source.to_owned(),
        kind: "pack",
        id: Some(meta.id.clone()),
        ok: reason.is_none(),
        reason,
    }
}

/// `host/repo` → `host/repo:<hash>`; a reference with a tag or digest stays as it is.
fn with_tag(reference: &str, hash: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || last.contains('@') {
        reference.to_owned()
    } else {
        format!("{reference}:{hash}")
    }
}

fn short(hash: &str) -> &str {
    crate::image::head(hash, 12)
}

pub async fn pack(ctx: &Ctx, args: &PackArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let engine = ctx.engine().await?;
    let mut view = BuildView::new(ctx.printer);
    let (plan, _) = builder::plan(
        &engine,
        m,
        &project.paths,
        lock_mode(&args.locked),
        &mut view,
    )
    .await?;
    let lock_text = std::fs::read_to_string(&project.paths.lock).map_err(|e| {
        Error::other(
            format!("cannot read {}: {e}", project.paths.lock.display()),
            None,
        )
    })?;
    let lock = LockFile::read(&project.paths.lock)?.ok_or_else(|| {
        Error::other(
            format!("{} is missing", base::file_name(&project.paths.lock)),
            Some("run `devenv lock` first".into()),
        )
    })?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.devenv.tar", m.name, short(plan.hash()))));
    let started = std::time::Instant::now();
    let packed = pack::pack(&engine, m, &plan, (&lock.base, &lock_text), &out)
        .await
        .map_err(pack_error)?;
    ctx.printer.info(&format!(
        "packed {} ({} layers) into {}: {:.1} MB in {:.1} s",
        packed.meta.image,
        packed.meta.layers.len(),
        packed.path.display(),
        mb(packed.size),
        started.elapsed().as_secs_f64()
    ));
    ctx.printer.data(&packed.path.display().to_string());
    Ok(ExitStatus::Success)
}

pub async fn load(ctx: &Ctx, args: &LoadArgs) -> Result<ExitStatus> {
    let engine = ctx.engine().await?;
    let mut view = BuildView::new(ctx.printer);
    let started = std::time::Instant::now();
    let meta = pack::load(&engine, &args.file, &mut view)
        .await
        .map_err(pack_error)?;
    ctx.printer.info(&format!(
        "loaded {} ({} layers, image {}) in {:.1} s",
        meta.image,
        meta.layers.len(),
        short_id(&meta.id),
        started.elapsed().as_secs_f64()
    ));
    let raw = engine.platform().await?;
    let native = crate::manifest::Platform::normalise(&raw.os, &raw.arch, &raw.variant);
    if native.to_string() != meta.platform {
        ctx.printer.warn(&format!(
            "the pack holds a {} environment, this engine runs {native}: it runs under \
             emulation (slowly), or not at all; `devenv up --platform {}` uses it",
            meta.platform, meta.platform
        ));
    }
    // In a project: write a missing lock, and say whether this is the project's environment.
    if let Ok(project) = ctx.project() {
        let lock_name = base::file_name(&project.paths.lock);
        if !project.paths.lock.exists() {
            std::fs::write(&project.paths.lock, &meta.lock).map_err(|e| {
                Error::other(
                    format!("cannot write {}: {e}", project.paths.lock.display()),
                    None,
                )
            })?;
            ctx.printer
                .info(&format!("wrote {lock_name} from the pack"));
        }
        let platform = ctx.platform(&project, Some(&engine)).await?;
        match builder::current_plan(&project.manifest, &project.paths, platform.as_ref()) {
            Ok(Some(plan)) if plan.hash() == meta.hash => ctx.printer.info(
                "this is the environment of this project: `devenv up --locked` needs no build",
            ),
            Ok(Some(plan)) if plan.platform.to_string() != meta.platform => {
                ctx.printer.warn(&format!(
                    "the pack is this project's environment for {}, not for {} ({} vs {}): \
                     pass --platform {} to use it",
                    meta.platform, plan.platform, meta.platform, plan.platform, meta.platform
                ));
            }
            Ok(Some(plan)) => ctx.printer.warn(&format!(
                "this project's environment is {}, the pack holds {}",
                short(plan.hash()),
                short(&meta.hash)
            )),
            _ => ctx.printer.warn(&format!(
                "{lock_name} does not match the manifest, so this project's hash is unknown"
            )),
        }
    }
    ctx.printer.data(&meta.hash);
    Ok(ExitStatus::Success)
}

fn mb(bytes: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    b / 1_000_000.0
}

//! `devenv build`, `devenv hash`, `devenv lock`, `devenv prune`.

use std::collections::HashSet;

use super::outcome::{self, Tally};
use super::Ctx;
use crate::cli::{BuildArgs, LockArgs, LockedArgs, PruneArgs, PushArgs};
use crate::error::{Error, ExitStatus, Result};
use crate::image::base::{self, short};
use crate::image::{self as builder, LockMode};
use crate::ui::BuildView;

pub fn lock_mode(args: &LockedArgs) -> LockMode {
    if args.locked {
        LockMode::Locked
    } else {
        LockMode::Normal
    }
}

pub async fn build(ctx: &Ctx, args: &BuildArgs) -> Result<ExitStatus> {
    let mut tally = Tally::new(BuildView::new(ctx.printer));
    let mut hash = None;
    let result = build_image(ctx, &args.locked, &mut tally, &mut hash).await;
    if !args.json {
        return result;
    }
    let hash = hash.or_else(|| outcome::planned_hash(ctx));
    let actions = outcome::built(&tally.built);
    outcome::finish("build", hash.as_deref(), &actions, result, ctx)
}

async fn build_image(
    ctx: &Ctx,
    args: &LockedArgs,
    view: &mut Tally,
    hash: &mut Option<String>,
) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let built = builder::ensure_image(
        &engine,
        &project.manifest,
        &project.paths,
        lock_mode(args),
        view,
    )
    .await?;
    *hash = Some(built.hash.clone());
    project.paths.ensure_dir();
    ctx.printer.info(&format!(
        "built {} ({} step{} run, {} cached)",
        built.image,
        built.steps_run,
        if built.steps_run == 1 { "" } else { "s" },
        built.steps_cached
    ));
    Ok(ExitStatus::Success)
}

pub async fn hash(ctx: &Ctx, args: &LockedArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    // No build work when the lock is current; without an engine, the lock's platform.
    let platform = ctx.platform(&project, None).await?;
    let plan = if let Some(plan) = builder::current_plan(m, &project.paths, platform.as_ref())? {
        plan
    } else {
        if platform.is_none() {
            // No engine to ask, and the lock pins several: say so rather than "unreachable".
            let mut cache = project.paths.stat_cache();
            if let Some(entry) = base::matching_entry(m, &project.paths.lock, &mut cache)? {
                if entry.platforms.len() > 1 {
                    return Err(builder::BuildError::PlatformUnknown {
                        file: base::file_name(&project.paths.lock),
                        reference: entry.reference.clone(),
                        have: base::pinned_platforms(&entry),
                    }
                    .into());
                }
            }
        }
        let engine = ctx.engine().await?;
        let mut view = BuildView::new(ctx.printer);
        builder::plan(&engine, m, &project.paths, lock_mode(args), &mut view)
            .await?
            .0
    };
    ctx.printer.data(plan.hash());
    Ok(ExitStatus::Success)
}

pub async fn lock(ctx: &Ctx, args: &LockArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let mode = match (args.update, args.locked) {
        (true, _) => LockMode::Update,
        (_, true) => LockMode::Locked,
        _ => LockMode::Normal,
    };
    let mut cache = project.paths.stat_cache();
    let mut view = BuildView::new(ctx.printer);
    let mut resolved = base::resolve(
        &engine,
        &project.manifest,
        &project.paths.lock,
        mode,
        &mut cache,
        &mut view,
    )
    .await?;
    cache.save();
    // The Ansible controller is pinned in the same file.
    builder::ansible::resolve(
        &engine,
        &project.manifest,
        &project.paths.lock,
        mode,
        &mut resolved,
        &mut view,
    )
    .await?;
    // The services' images are pinned in the same file.
    crate::stack::pinned_images(&engine, &project.manifest, &project.paths, mode, &mut view)
        .await?;
    ctx.printer.info(&format!(
        "{}: base {} = {} ({})",
        base::file_name(&project.paths.lock),
        resolved.entry.reference,
        short(&resolved.entry.digest),
        base::pinned_platforms(&resolved.entry)
    ));
    Ok(ExitStatus::Success)
}

pub async fn prune(ctx: &Ctx, args: &PruneArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let m = &project.manifest;
    let keep = if args.current {
        // Everything goes: the environment must be down, or its image would stay in use.
        if let Some(c) = crate::session::find(&engine, &crate::ownership::ProjectId::new(m)).await?
        {
            return Err(Error::other(
                format!(
                    "the environment container {} still uses the current image",
                    c.name
                ),
                Some("run `devenv down --volumes` first, then `devenv prune --current`".into()),
            ));
        }
        HashSet::new()
    } else {
        let platform = ctx.platform(&project, Some(&engine)).await?;
        current_chain(&project, platform.as_ref())?
    };
    let identity = builder::project_identity(m);
    let scope = if args.all {
        builder::PruneScope::All
    } else {
        builder::PruneScope::Project {
            name: &m.name,
            identity: &identity,
        }
    };
    let pruned = builder::prune(&engine, scope, &keep)
        .await
        .map_err(Error::from)?;
    ctx.printer.info(&format!(
        "removed {} image{} and {} build container{}, freed {:.1} MB",
        pruned.images,
        if pruned.images == 1 { "" } else { "s" },
        pruned.containers,
        if pruned.containers == 1 { "" } else { "s" },
        bytes_mb(pruned.bytes)
    ));
    if args.caches {
        prune_caches(ctx, &engine, m).await?;
    }
    Ok(ExitStatus::Success)
}

/// `prune --caches`: the client's cache volumes, and the engine-scoped ones this manifest
/// names.
async fn prune_caches(
    ctx: &Ctx,
    engine: &crate::engine::Engine,
    m: &crate::manifest::Manifest,
) -> Result<()> {
    use crate::image::caches;
    let client = crate::ownership::client::id();
    let named: Vec<String> = caches::manifest_volumes(m, &client)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let (count, bytes) = caches::remove(engine, &client, &named)
        .await
        .map_err(|e| Error::from(crate::image::BuildError::from(e)))?;
    ctx.printer.info(&format!(
        "removed {count} cache{}, freed {:.1} MB",
        if count == 1 { "" } else { "s" },
        bytes_mb(i64::try_from(bytes).unwrap_or(i64::MAX))
    ));
    Ok(())
}

/// The current chain's keys and base digest, which prune keeps.
fn current_chain(
    project: &crate::project::Project,
    platform: Option<&crate::manifest::Platform>,
) -> Result<HashSet<String>> {
    let m = &project.manifest;
    // Keep the current chain: without knowing it, pruning could remove it.
    let Some(plan) = builder::current_plan(m, &project.paths, platform)? else {
        return Err(Error::other(
            format!(
                "{} is missing or stale, so the current image is unknown: nothing pruned",
                base::file_name(&project.paths.lock)
            ),
            Some(
                "run `devenv lock` (or `devenv build`) first; `devenv prune --current` removes \
                 the current chain too"
                    .into(),
            ),
        ));
    };
    let mut keep: HashSet<String> = plan.keys().map(str::to_owned).collect();
    if let Some(lock) = crate::manifest::LockFile::read(&project.paths.lock)? {
        keep.insert(lock.base.digest.trim_start_matches("sha256:").to_owned());
    }
    Ok(keep)
}

fn bytes_mb(bytes: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    b / 1_000_000.0
}

pub async fn push(ctx: &Ctx, args: &PushArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let Some(cache) = &m.cache else {
        return Err(Error::other(
            "no registry cache configured",
            Some(
                "set `[cache] registry = \"host/repo\"` in the manifest or pass --cache host/repo"
                    .into(),
            ),
        ));
    };
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
    let keys: Vec<&str> = if args.steps {
        plan.keys().collect()
    } else {
        vec![plan.hash()]
    };
    builder::push(&engine, &cache.registry, &keys).await?;
    ctx.printer.info(&format!(
        "pushed {}:{}{}",
        cache.registry,
        plan.hash(),
        if args.steps {
            format!(" and {} step layers", keys.len() - 1)
        } else {
            String::new()
        }
    ));
    Ok(ExitStatus::Success)
}

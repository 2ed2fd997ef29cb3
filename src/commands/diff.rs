//! `devenv diff A B`: what differs between two environments.

use std::fmt::Write as _;
use std::path::Path;

use super::Ctx;
use crate::cli::DiffArgs;
use crate::engine::Engine;
use crate::error::{Error, ExitStatus, Result};
use crate::image::verify::LayerInputs;
use crate::image::{self as builder, base, layer_ref, Diff, Filesystem, Side, SideLayer};
use crate::manifest::LockFile;

pub async fn diff(ctx: &Ctx, args: &DiffArgs) -> Result<ExitStatus> {
    let engine = ctx.engine().await?;
    let a = side(ctx, &engine, &args.a).await?;
    let b = side(ctx, &engine, &args.b).await?;
    let d = builder::diff_sides(&engine, &a, &b).await?;
    if args.json {
        ctx.printer
            .data(&serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        ctx.printer.data(render(&d).trim_end());
    }
    Ok(ExitStatus::Success)
}

/// Resolve `.`, a pack file, a hash or an image reference.
async fn side(ctx: &Ctx, engine: &Engine, arg: &str) -> Result<Side> {
    if arg == "." {
        return project_side(ctx, engine).await;
    }
    let path = Path::new(arg);
    if path.is_file() {
        return Side::from_pack(arg, path).map_err(|e| Error::other(e.to_string(), e.hint()));
    }
    let is_hash = arg.len() == 64 && arg.bytes().all(|c| c.is_ascii_hexdigit());
    let reference = if is_hash {
        layer_ref(arg)
    } else {
        arg.to_owned()
    };
    Side::from_image(engine, arg, &reference)
        .await?
        .ok_or_else(|| {
            Error::other(
                format!("`{arg}` is neither `.`, a pack file, nor a local image"),
                Some(
                    "name a hash (`devenv hash`), an image such as devenv/<name>:<hash>, or a \
                     file written by `devenv pack`"
                        .into(),
                ),
            )
        })
}

/// This project now: the plan from the current lock; its filesystem when it is built.
async fn project_side(ctx: &Ctx, engine: &Engine) -> Result<Side> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let lock_name = base::file_name(&project.paths.lock);
    let stale = || {
        Error::other(
            format!("{lock_name} is missing or out of date, so this project's hash is unknown"),
            Some("run `devenv lock` first".into()),
        )
    };
    let platform = ctx.platform(&project, Some(engine)).await?;
    let plan = builder::current_plan(m, &project.paths, platform.as_ref())?.ok_or_else(stale)?;
    let lock = LockFile::read(&project.paths.lock)?.ok_or_else(stale)?;
    let inputs = LayerInputs::chain(m, &plan, &lock.base.digest);
    let names = std::iter::once("config".to_owned())
        .chain(m.steps.iter().map(|s| format!("step `{}`", s.name)));
    let mut layers = Vec::new();
    for ((key, step), inputs) in plan.keys().zip(names).zip(inputs) {
        let fs_layers = engine
            .image_detail(&layer_ref(key))
            .await?
            .map(|d| d.layers.len());
        layers.push(SideLayer {
            key: key.to_owned(),
            step,
            inputs: Some(inputs),
            fs_layers,
        });
    }
    let hash = plan.hash().to_owned();
    let top = engine.image_detail(&layer_ref(&hash)).await?;
    Ok(Side {
        source: ".".into(),
        id: top.as_ref().map(|t| t.id.clone()),
        filesystem: if top.is_some() {
            Filesystem::Local(layer_ref(&hash))
        } else {
            Filesystem::None
        },
        hash,
        layers,
    })
}

fn render(d: &Diff) -> String {
    let mut s = String::new();
    let short = |h: &str| builder::head(h, 12).to_owned();
    let _ = writeln!(
        s,
        "a: {} ({})\nb: {} ({})",
        d.a.source,
        short(&d.a.hash),
        d.b.source,
        short(&d.b.hash)
    );
    if d.same {
        s.push_str("same environment: same hash and image\n");
        return s;
    }
    if let Some(p) = &d.platform {
        let _ = writeln!(
            s,
            "platform: {p} (two architectures: everything below follows)"
        );
    }
    if d.a.hash == d.b.hash {
        s.push_str("same hash, different images (built separately)\n");
    }
    if !d.inputs.is_empty() {
        s.push_str("inputs:\n");
        for c in &d.inputs {
            let _ = writeln!(s, "  {}: {}", c.layer, c.changes.join(", "));
        }
    }
    if let Some(files) = &d.files {
        if !files.is_empty() {
            s.push_str("files:\n");
        }
        for f in files {
            let _ = writeln!(s, "  {}:", f.layer);
            for p in &f.added {
                let _ = writeln!(s, "    + {p}");
            }
            for p in &f.removed {
                let _ = writeln!(s, "    - {p}");
            }
            for p in &f.changed {
                let _ = writeln!(s, "    ~ {p}");
            }
        }
    }
    if let Some(p) = &d.packages {
        if !(p.added.is_empty() && p.removed.is_empty() && p.changed.is_empty()) {
            s.push_str("packages:\n");
            for x in &p.added {
                let _ = writeln!(s, "  + {x}");
            }
            for x in &p.removed {
                let _ = writeln!(s, "  - {x}");
            }
            for x in &p.changed {
                let _ = writeln!(s, "  ~ {x}");
            }
        }
    }
    for n in &d.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

//! `devenv fetch PATH...`: copy files from the environment's workspace back into the
//! project. With a remote engine the workspace is a synced copy, so what commands make
//! there (test reports, generated code) stays there until fetched.

use super::Ctx;
use crate::cli::FetchArgs;
use crate::error::{Error, ExitStatus, Result};
use crate::session::{self, ProjectId};

pub async fn run(ctx: &Ctx, args: &FetchArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let m = &project.manifest;
    let Some(c) = session::find(&engine, &ProjectId::new(m)).await? else {
        return Err(Error::other(
            "no environment container for this project",
            Some("run `devenv up` (or a `devenv run`) first".into()),
        ));
    };
    for path in &args.paths {
        let rel = std::path::Path::new(path.trim_end_matches('/'));
        let safe = !rel.as_os_str().is_empty()
            && rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe {
            return Err(Error::other(
                format!("{path}: not a path inside the project"),
                Some("give a relative path without `..`, e.g. `target/report.xml`".into()),
            ));
        }
        let source = format!(
            "{}/{}",
            m.shell.workdir.trim_end_matches('/'),
            rel.display()
        );
        let tar = engine.download_tar(&c.id, &source).await.map_err(|e| {
            if e.is_not_found() {
                Error::other(format!("{path}: not in the workspace"), None)
            } else {
                e.into()
            }
        })?;
        // The archive names the entry by its last component: unpack it beside its parent.
        let dest = m
            .root
            .join(rel.parent().unwrap_or(std::path::Path::new("")));
        std::fs::create_dir_all(&dest)
            .and_then(|()| tar::Archive::new(tar.as_slice()).unpack(&dest))
            .map_err(|e| Error::other(format!("cannot write {path}: {e}"), None))?;
        ctx.printer.info(&format!("fetched {path}"));
    }
    Ok(ExitStatus::Success)
}

//! `vigil pypi yank|unyank`: PEP 592 yanking from the command line, the same change (and event, with the CLI
//! as its actor) as `POST`/`DELETE /pypi/<ns>/<repo>/-/yank/<project>/<version>`.

use anyhow::Context;
use clap::Subcommand;
use vigil_auth::directory::Actor;
use vigil_core::{Format, RepoName};
use vigil_pypi::names;

use crate::Stores;

#[derive(Subcommand)]
pub enum PypiCmd {
    /// Yank a release: pip skips it unless it is pinned exactly (`==VERSION`).
    Yank {
        /// The index (`NS/NAME`, a repository of format pypi).
        repository: RepoName,
        project: String,
        version: String,
        /// Shown by pip when it installs the release anyway.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Take a yank back.
    Unyank { repository: RepoName, project: String, version: String },
}

pub async fn run(stores: &Stores, cmd: PypiCmd) -> anyhow::Result<()> {
    let (repo, project, version, reason, yanked) = match cmd {
        PypiCmd::Yank { repository, project, version, reason } => (repository, project, version, reason, true),
        PypiCmd::Unyank { repository, project, version } => (repository, project, version, None, false),
    };
    names::valid_name(&project).map_err(anyhow::Error::msg)?;
    let project = names::normalize(&project);
    let version = names::normalize_version(&version).map_err(anyhow::Error::msg)?;
    vigil_registry::packages::repository(&stores.content, &repo, Format::Pypi).await?;
    let kind = if yanked { "yank_version" } else { "unyank_version" };
    let event = Actor::cli().event(kind, &format!("{project}@{version}"), String::new());
    vigil_pypi::yank::apply(&stores.content, &stores.meta, &repo, &project, &version, yanked, reason, event)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.0.message))
        .with_context(|| format!("{kind} {project} {version} in {repo}"))?;
    println!("{} {project} {version} in {repo}", if yanked { "yanked" } else { "restored" });
    Ok(())
}

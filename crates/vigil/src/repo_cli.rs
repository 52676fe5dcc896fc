//! `vigil repo create|list|delete`: repositories of a format, made explicitly (OCI ones also appear on their
//! first push). Each change is recorded with the CLI as its actor, like identity changes.

use anyhow::Context;
use clap::Subcommand;
use vigil_auth::directory::{Actor, Directory};
use vigil_core::{Format, RepoName};
use vigil_registry::repositories;
use vigil_store::RepoSettings;

use crate::Stores;

#[derive(Subcommand)]
pub enum RepoCmd {
    /// Create a repository of a format (`NS/NAME --format raw`).
    Create {
        name: RepoName,
        /// oci, npm, pypi, maven, cargo or raw.
        #[arg(long)]
        format: Format,
        /// Let a file (or a release) be replaced by different content at the same path.
        #[arg(long)]
        allow_overwrite: bool,
        /// Allow anonymous pulls.
        #[arg(long)]
        public: bool,
    },
    /// List repositories (name, format, settings).
    List {
        #[arg(long)]
        format: Option<Format>,
    },
    /// Delete a repository and everything in it (its content is freed by the next garbage collection).
    Delete { name: RepoName },
}

pub async fn run(stores: &Stores, cmd: RepoCmd) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        RepoCmd::Create { name, format, allow_overwrite, public } => {
            let settings = RepoSettings { allow_overwrite };
            let event = actor.event("create_repo", name.as_str(), repositories::describe(format, settings));
            repositories::create(&stores.meta, name.clone(), format, settings, event.boxed())
                .await
                .with_context(|| format!("creating {name}"))?;
            if public {
                Directory::new(stores.identity.clone())
                    .set_public(name.as_str(), true, &actor)
                    .await
                    .with_context(|| format!("making {name} public"))?;
            }
            println!("created {format} repository {name}");
        }
        RepoCmd::List { format } => {
            for r in repositories::list(&stores.content, format).await? {
                let origin = if r.declared { "created" } else { "first push" };
                println!(
                    "{}\t{}\tallow_overwrite={}\t{origin} {}",
                    r.name,
                    r.format,
                    r.settings.allow_overwrite,
                    vigil_core::time::rfc3339_ms(r.created_at_ms)
                );
            }
        }
        RepoCmd::Delete { name } => {
            let event = actor.event("delete_repo", name.as_str(), String::new());
            repositories::delete(&stores.meta, name.clone(), event.boxed())
                .await
                .with_context(|| format!("deleting {name}"))?;
            println!("deleted {name}");
        }
    }
    Ok(())
}

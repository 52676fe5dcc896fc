//! The `vigil` binary: command line, configuration and the composition root (the only place that chooses
//! storage backends).

mod audit;
mod audit_cli;
mod audit_cli_query;
mod audit_reindex;
mod config;
mod gc;
mod identity;
mod listener;
mod pypi_cli;
mod repo_cli;
mod serve;
mod telemetry;
mod verify;
mod witness;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vigil_store::fs::FsBlobStore;
use vigil_store::identity::IdentityStore;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{BlobStore, MetadataStore};

use crate::config::{Config, Flags};

#[derive(Parser)]
#[command(name = "vigil", version, about = "A self-hosted artifact registry with a provable audit trail")]
struct Cli {
    /// Configuration file (default: ./vigil.toml if present).
    #[arg(long, global = true, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides VIGIL_DATA_DIR and the file).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the largest variant (the audit query filters) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the registry server.
    Serve {
        /// Address to listen on (overrides VIGIL_LISTEN and the file).
        #[arg(long)]
        listen: Option<String>,
        /// Externally visible base URL (overrides VIGIL_PUBLIC_URL and the file).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Remove blobs that no manifest references (safe while the server runs).
    Gc {
        /// List what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the effective configuration after files, environment and flags are applied.
    Config,
    /// Manage users.
    #[command(subcommand)]
    User(identity::UserCmd),
    /// Manage organizations, members and teams.
    #[command(subcommand)]
    Org(identity::OrgCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(identity::TokenCmd),
    /// Manage robot accounts.
    #[command(subcommand)]
    Robot(identity::RobotCmd),
    /// Grant a role on a repository (`ns/app`) or namespace (`ns/*`) to a user, robot (`ns+name`) or team (`org/team`).
    Grant {
        pattern: String,
        grantee: String,
        #[arg(long)]
        role: Option<vigil_core::Role>,
        /// Remove the grant instead.
        #[arg(long)]
        revoke: bool,
    },
    /// The audit log: its key, receipts, verification.
    #[command(subcommand)]
    Audit(audit_cli::AuditCmd),
    /// Manage repositories of a format (raw, and the package formats).
    #[command(subcommand)]
    Repo(repo_cli::RepoCmd),
    /// Python package indexes: yank or restore a release (PEP 592).
    #[command(subcommand)]
    Pypi(pypi_cli::PypiCmd),
    /// This server as a witness of other logs.
    #[command(subcommand)]
    Witness(witness::WitnessCmd),
    /// Allow (or with --private, stop) anonymous pulls of a repository (`ns/app`) or a namespace (`ns`).
    Visibility {
        target: String,
        #[arg(long)]
        private: bool,
    },
}

/// The storage backends, chosen here and nowhere else.
pub struct Stores {
    pub meta: Arc<dyn MetadataStore>,
    pub content: Arc<dyn vigil_store::ContentStore>,
    pub identity: Arc<dyn IdentityStore>,
    pub blobs: Arc<dyn BlobStore>,
}

/// The data directory holds the database, the signing keys and every blob: only vigil's user may enter it, whatever
/// the umask made of the files inside.
fn private(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making the data directory {} private (mode 0700)", dir.display()))?;
        tracing::info!(dir = %dir.display(), was = format!("{mode:o}"), "data directory made private (mode 0700)");
    }
    Ok(())
}

async fn open_stores(config: &Config) -> anyhow::Result<Stores> {
    open_stores_with_clock(config, Arc::new(vigil_store::now_ms)).await
}

/// As [`open_stores`], with journal entries stamped by `clock` (the benchmark loader's past weeks).
async fn open_stores_with_clock(config: &Config, clock: vigil_store::Clock) -> anyhow::Result<Stores> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    private(&config.data_dir)?;
    let meta = SqliteStore::open_with_clock(&config.data_dir.join("vigil.db"), clock)
        .await
        .with_context(|| format!("opening metadata store in {}", config.data_dir.display()))?;
    let blobs = FsBlobStore::open(config.data_dir.join("storage"))
        .with_context(|| format!("opening blob store in {}", config.data_dir.display()))?;
    let meta = Arc::new(meta);
    Ok(Stores { meta: meta.clone(), content: meta.clone(), identity: meta, blobs: Arc::new(blobs) })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut flags = Flags { config: cli.config, data_dir: cli.data_dir, ..Flags::default() };
    if let Command::Serve { listen, public_url } = &cli.command {
        flags.listen = listen.clone();
        flags.public_url = public_url.clone();
    }
    let config = Config::load(&flags)?;
    telemetry::init_logging(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => {
                let stores = open_stores(&config).await?;
                serve::run(config, stores).await
            }
            Command::Gc { dry_run } => {
                let stores = open_stores(&config).await?;
                let report = gc::collect(&stores, &config, dry_run, vigil_audit::Origin::Cli).await?;
                println!("{report}");
                Ok(())
            }
            Command::Config => {
                // TOML, so the output can be saved as a `vigil.toml` and edited.
                print!("{}", toml::to_string_pretty(&config).context("printing the configuration")?);
                Ok(())
            }
            Command::User(cmd) => identity::user(&open_stores(&config).await?, cmd).await,
            Command::Org(cmd) => identity::org(&open_stores(&config).await?, cmd).await,
            Command::Token(cmd) => identity::token(&open_stores(&config).await?, cmd).await,
            Command::Robot(cmd) => identity::robot(&open_stores(&config).await?, cmd).await,
            Command::Grant { pattern, grantee, role, revoke } => {
                identity::grant(&open_stores(&config).await?, &pattern, &grantee, role, revoke).await
            }
            Command::Audit(cmd) => audit_cli::run(&config, cmd).await,
            Command::Repo(cmd) => repo_cli::run(&open_stores(&config).await?, cmd).await,
            Command::Pypi(cmd) => pypi_cli::run(&open_stores(&config).await?, cmd).await,
            Command::Witness(cmd) => witness::run(&config, cmd),
            Command::Visibility { target, private } => {
                identity::visibility(&open_stores(&config).await?, &target, !private).await
            }
        }
    })
}

//! Identity commands (`vigil user|org|team|robot|token|grant|visibility ...`): the CLI front door to the same
//! [`Directory`] the admin API uses. They work on the store directly, so they run while the server does.

use std::io::Read;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Subcommand;
use vigil_auth::directory::{Actor, Directory};
use vigil_core::Role;

use crate::Stores;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user (reads the password from stdin).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// Take over the namespace of that name although it holds repositories no account owns (recorded).
        #[arg(long)]
        adopt: bool,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change a user's password (reads it from stdin).
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Delete a user (their tokens and robots go with them).
    Del { name: String },
    /// List users.
    List,
}

#[derive(Subcommand)]
pub enum OrgCmd {
    /// Create an organization.
    Create {
        name: String,
        /// Take over the namespace of that name although it holds repositories no account owns (recorded).
        #[arg(long)]
        adopt: bool,
    },
    /// Add (or change the role of) a member.
    AddMember {
        org: String,
        member: String,
        #[arg(long, default_value = "read")]
        role: Role,
    },
    /// Remove a member.
    RemoveMember { org: String, member: String },
    /// Create a team with an organization-wide role.
    CreateTeam {
        org: String,
        team: String,
        #[arg(long, default_value = "read")]
        role: Role,
    },
    /// Add a user or robot to a team.
    AddTeamMember { org: String, team: String, member: String },
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an API token and print it (alone, on stdout; it is shown only once).
    Create {
        /// The user or robot (`ns+name`) the token acts as.
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Limit the token: `acme/app:pull,push`, `acme/*:pull`, `*:pull`. Repeatable.
        #[arg(long)]
        scope: Vec<String>,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke a token by id (takes effect at once, including registry tokens issued with it).
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum RobotCmd {
    /// Create robot `<namespace>+<name>` and print its token.
    Create { namespace: String, name: String },
    /// Delete a robot (`ns+name`).
    Del { name: String },
}

fn directory(stores: &Stores) -> Directory {
    Directory::new(Arc::clone(&stores.identity))
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("reading the password from stdin")?;
    let p = s.trim_end_matches(['\n', '\r']).to_owned();
    if p.is_empty() {
        bail!("no password on stdin");
    }
    Ok(p)
}

pub async fn user(stores: &Stores, cmd: UserCmd) -> anyhow::Result<()> {
    let dir = directory(stores);
    let actor = Actor::cli();
    match cmd {
        UserCmd::Add { name, admin, adopt, .. } => {
            let dir = if adopt { Directory::adopting(Arc::clone(&stores.identity)) } else { dir };
            let a = dir.add_user(&name, &password_from_stdin()?, admin, &actor).await?;
            eprintln!("created user {} (id {})", a.name, a.id);
        }
        UserCmd::Passwd { name, .. } => {
            dir.set_password(&name, &password_from_stdin()?, &actor).await?;
            eprintln!("password changed for {name}");
        }
        UserCmd::Del { name } => {
            dir.delete_account(&name, &actor).await?;
            eprintln!("deleted {name}");
        }
        UserCmd::List => {
            for a in stores.identity.accounts(Some(vigil_store::identity::AccountKind::User)).await? {
                println!("{}\t{}\t{}", a.name, a.id, if a.is_admin { "admin" } else { "" });
            }
        }
    }
    Ok(())
}

pub async fn org(stores: &Stores, cmd: OrgCmd) -> anyhow::Result<()> {
    let dir = directory(stores);
    let actor = Actor::cli();
    match cmd {
        OrgCmd::Create { name, adopt } => {
            let dir = if adopt { Directory::adopting(Arc::clone(&stores.identity)) } else { dir };
            dir.create_org(&name, None, &actor).await?;
        }
        OrgCmd::AddMember { org, member, role } => dir.set_member(&org, &member, Some(role), &actor).await?,
        OrgCmd::RemoveMember { org, member } => dir.set_member(&org, &member, None, &actor).await?,
        OrgCmd::CreateTeam { org, team, role } => {
            dir.create_team(&org, &team, role, &actor).await?;
        }
        OrgCmd::AddTeamMember { org, team, member } => dir.set_team_member(&org, &team, &member, true, &actor).await?,
    }
    Ok(())
}

pub async fn token(stores: &Stores, cmd: TokenCmd) -> anyhow::Result<()> {
    let dir = directory(stores);
    match cmd {
        TokenCmd::Create { user, name, scope, expires_in_days } => {
            let t = dir.create_token(&user, &name, &scope, expires_in_days, &Actor::cli()).await?;
            eprintln!("token id {} for {}", t.id, t.account);
            println!("{}", t.token);
        }
        TokenCmd::Revoke { id } => {
            dir.revoke_token(&id, None, &Actor::cli()).await?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
}

pub async fn robot(stores: &Stores, cmd: RobotCmd) -> anyhow::Result<()> {
    let dir = directory(stores);
    match cmd {
        RobotCmd::Create { namespace, name } => {
            let t = dir.create_robot(&namespace, &name, &Actor::cli()).await?;
            eprintln!("robot {} (token id {})", t.account, t.id);
            println!("{}", t.token);
        }
        RobotCmd::Del { name } => dir.delete_account(&name, &Actor::cli()).await?,
    }
    Ok(())
}

/// `vigil grant PATTERN GRANTEE --role R` (or `--revoke`).
pub async fn grant(
    stores: &Stores,
    pattern: &str,
    grantee: &str,
    role: Option<Role>,
    revoke: bool,
) -> anyhow::Result<()> {
    let role = match (role, revoke) {
        (Some(r), false) => Some(r),
        (None, true) => None,
        _ => bail!("give exactly one of --role or --revoke"),
    };
    directory(stores).grant(pattern, grantee, role, &Actor::cli()).await?;
    Ok(())
}

pub async fn visibility(stores: &Stores, target: &str, public: bool) -> anyhow::Result<()> {
    directory(stores).set_public(target, public, &Actor::cli()).await?;
    Ok(())
}

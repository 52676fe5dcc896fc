//! Who is calling, and may they do this?
//!
//! - [`secret`]: argon2id password hashes (for humans) and API tokens (`vgt_<id>_<secret>`, stored as SHA-256,
//!   compared in constant time).
//! - [`scope`]: Docker token-service scopes and API-token scopes.
//! - [`jwt`]: the short-lived registry tokens the token service issues.
//! - [`access`]: a caller's effective role on a repository.
//! - [`authn`]: the [`Authenticator`] that turns credentials into a [`Principal`], with a cache of verified
//!   passwords and failed-login throttling.
//! - [`client`]: the client address, honouring `X-Forwarded-For`/`Forwarded` only from trusted proxies.

pub mod access;
pub mod authn;
pub mod client;
pub mod directory;
pub mod jwt;
pub mod principal;
pub mod scope;
pub mod secret;
mod throttle;

pub use access::Access;
pub use authn::{AuthConfig, AuthError, Authenticator};
pub use principal::{Credential, Principal, PrincipalKind};

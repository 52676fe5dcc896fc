//! Authentication: credentials in, [`Principal`] out.
//!
//! Cost control: a successful password check is cached briefly (keyed by a hash of name and password, and valid
//! only while the stored hash is unchanged), so clients that send Basic credentials on every request do not pay
//! an argon2 run each time. API tokens are checked by id lookup and a constant-time SHA-256 comparison.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use vigil_store::identity::{Account, AccountKind, IdentityStore, TokenRecord};
use vigil_store::{now_ms, StoreError};

use crate::access::Access;
use crate::client::TrustedProxies;
use crate::jwt::{Claims, JwtKeys, ISSUER};
use crate::principal::{Credential, Principal, PrincipalKind};
use crate::scope::{ResourceAccess, TokenScope};
use crate::secret;
use crate::throttle::Throttle;

/// How long a verified password stays verified without another argon2 run.
const PASSWORD_CACHE_TTL: Duration = Duration::from_secs(60);
/// How long a caller's roles are cached (identity changes in this process clear the cache at once).
const ACCESS_CACHE_TTL: Duration = Duration::from_secs(2);
/// A token's last-used time is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;
const CACHE_MAX: usize = 10_000;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The `service` of challenges and the audience of registry JWTs.
    pub service: String,
    /// Further names the token service answers to (a DTR user's scripts say `service=dtr`); tokens still name
    /// `service` as their audience.
    pub service_aliases: Vec<String>,
    /// Token endpoint URL for `WWW-Authenticate` (from `public_url`).
    pub realm: String,
    pub token_ttl: Duration,
    pub trusted_proxies: TrustedProxies,
    pub throttle_window: Duration,
    pub max_failures_per_user: u32,
    pub max_failures_per_ip: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid username or password")]
    BadCredentials,
    #[error("too many failed logins; try again later")]
    Throttled,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("malformed Authorization header: {0}")]
    Malformed(String),
    #[error("identity store: {0}")]
    Store(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e.to_string())
    }
}

pub struct Authenticator {
    store: Arc<dyn IdentityStore>,
    keys: JwtKeys,
    config: AuthConfig,
    throttle: Throttle,
    verified: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    hashing: HashPool,
    access_cache: Mutex<HashMap<String, (Instant, Access)>>,
}

fn principal_of(account: &Account, credential: Credential) -> Result<Principal, AuthError> {
    let kind = match account.kind {
        AccountKind::User => PrincipalKind::User,
        AccountKind::Robot => PrincipalKind::Robot,
        AccountKind::Org => return Err(AuthError::BadCredentials),
    };
    Ok(Principal {
        account_id: Some(account.id.clone()),
        name: account.name.clone(),
        kind,
        credential,
        token_id: None,
        is_admin: account.is_admin,
        token_scopes: None,
        jwt_access: None,
    })
}

fn token_usable(t: &TokenRecord) -> bool {
    t.revoked_at_ms.is_none() && t.expires_at_ms.is_none_or(|e| e > now_ms())
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads (one per core) for argon2 runs. Each run works in ~19 MiB; on a fixed set of threads
/// that memory is reused, and a burst of logins (valid or not) queues instead of spreading over many blocking
/// threads whose allocator arenas keep the memory (measured: 128 concurrent bad logins reached 800 MiB before).
struct HashPool {
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
}

impl HashPool {
    fn new(threads: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("vigil-argon2-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().expect("hash pool lock").recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("spawning a password-hashing thread");
        }
        HashPool { jobs: Mutex::new(tx) }
    }

    /// Runs `f` on the pool; `None` if the pool is gone.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.lock().expect("hash pool lock").send(job).ok()?;
        rx.await.ok()
    }
}

impl Authenticator {
    pub fn new(store: Arc<dyn IdentityStore>, keys: JwtKeys, config: AuthConfig) -> Self {
        let throttle = Throttle::new(config.throttle_window, config.max_failures_per_user, config.max_failures_per_ip);
        let hashing = HashPool::new(std::thread::available_parallelism().map_or(2, |n| n.get()));
        Authenticator {
            store,
            keys,
            config,
            throttle,
            verified: Mutex::default(),
            hashing,
            access_cache: Mutex::default(),
        }
    }

    /// Whether a token request's `service` names this registry.
    pub fn is_own_service(&self, service: &str) -> bool {
        service == self.config.service || self.config.service_aliases.iter().any(|a| a == service)
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    /// `Bearer realm=...,service=...[,scope=...][,error=...]`.
    pub fn challenge(&self, scope: Option<&str>, error: Option<&str>) -> String {
        let mut c = format!("Bearer realm=\"{}\",service=\"{}\"", self.config.realm, self.config.service);
        if let Some(s) = scope {
            c.push_str(&format!(",scope=\"{s}\""));
        }
        if let Some(e) = error {
            c.push_str(&format!(",error=\"{e}\""));
        }
        c
    }

    /// Resolves an `Authorization` header. No header is the anonymous principal. `allow_jwt` is true on the
    /// registry API (`/v2`), where registry JWTs are valid; elsewhere only Basic and API tokens are.
    pub async fn from_header(&self, header: Option<&str>, ip: IpAddr, allow_jwt: bool) -> Result<Principal, AuthError> {
        let Some(header) = header else { return Ok(Principal::anonymous()) };
        let header = header.trim();
        if header.starts_with(secret::TOKEN_PREFIX) && !header.contains(' ') {
            // Cargo sends its registry token as the whole header value, with no scheme.
            return self.api_token(header, None, ip).await;
        }
        let (scheme, value) = header.split_once(' ').ok_or_else(|| AuthError::Malformed("no scheme".into()))?;
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| AuthError::Malformed("Basic credentials are not base64".into()))?;
            let text =
                String::from_utf8(raw).map_err(|_| AuthError::Malformed("Basic credentials are not UTF-8".into()))?;
            let (user, secret) =
                text.split_once(':').ok_or_else(|| AuthError::Malformed("Basic credentials lack ':'".into()))?;
            self.basic(user, secret, ip).await
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if value.starts_with(secret::TOKEN_PREFIX) {
                self.api_token(value, None, ip).await
            } else if allow_jwt {
                self.jwt(value).await
            } else {
                Err(AuthError::InvalidToken("registry tokens are valid only on /v2; use an API token".into()))
            }
        } else {
            Err(AuthError::Malformed(format!("unsupported scheme {scheme:?}")))
        }
    }

    /// Verifies a user name and a password or API token.
    pub async fn basic(&self, user: &str, secret: &str, ip: IpAddr) -> Result<Principal, AuthError> {
        if user.len() > 256 || secret.len() > 1024 {
            return Err(AuthError::BadCredentials);
        }
        // Counted from before the secret is checked, so parallel guesses are throttled too.
        let Some(attempt) = self.throttle.begin(user, ip) else {
            return Err(AuthError::Throttled);
        };
        let result = if secret.starts_with(secret::TOKEN_PREFIX) {
            self.api_token(secret, Some(user), ip).await
        } else {
            self.password(user, secret).await
        };
        match &result {
            Ok(_) => attempt.succeeded(),
            Err(AuthError::BadCredentials | AuthError::InvalidToken(_)) => attempt.failed(),
            Err(_) => drop(attempt),
        }
        result
    }

    async fn password(&self, user: &str, password: &str) -> Result<Principal, AuthError> {
        let account = self.store.account_by_name(user).await?;
        let Some((account, phc)) = account.and_then(|a| a.password_hash.clone().map(|h| (a, h))) else {
            let password = password.to_owned();
            self.hashing.run(move || secret::verify_dummy(&password)).await;
            return Err(AuthError::BadCredentials);
        };
        let key: [u8; 32] = Sha256::new().chain_update(user).chain_update([0]).chain_update(password).finalize().into();
        let cached = self
            .verified
            .lock()
            .expect("cache lock")
            .get(&key)
            .is_some_and(|(h, at)| *h == phc && at.elapsed() < PASSWORD_CACHE_TTL);
        if !cached {
            let (p, h) = (password.to_owned(), phc.clone());
            let ok = self.hashing.run(move || secret::verify_password(&h, &p)).await.unwrap_or(false);
            if !ok {
                return Err(AuthError::BadCredentials);
            }
            let mut cache = self.verified.lock().expect("cache lock");
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (phc, Instant::now()));
        }
        principal_of(&account, Credential::Password)
    }

    async fn api_token(&self, token: &str, user: Option<&str>, _ip: IpAddr) -> Result<Principal, AuthError> {
        let bad = || AuthError::InvalidToken("unknown, expired or revoked API token".into());
        let (id, secret_part) = secret::parse_token(token).ok_or_else(bad)?;
        let record = self.store.token(id).await?.ok_or_else(bad)?;
        if !secret::ct_eq(secret::hash_secret(secret_part), &record.secret_hash) || !token_usable(&record) {
            return Err(bad());
        }
        let account = self.store.account_by_id(&record.account_id).await?.ok_or_else(bad)?;
        if let Some(u) = user {
            // Quay scripts send `$oauthtoken` as the user name with a token, twine `__token__`; otherwise the name
            // must match.
            if u != account.name && !matches!(u, "$oauthtoken" | "token" | "__token__") {
                return Err(AuthError::BadCredentials);
            }
        }
        let mut p = principal_of(&account, Credential::Token)?;
        p.token_id = Some(record.id.clone());
        if !record.scopes.is_empty() {
            let scopes = record.scopes.iter().map(|s| TokenScope::parse(s)).collect::<Result<Vec<_>, _>>();
            p.token_scopes = Some(scopes.map_err(AuthError::Store)?);
        }
        if record.last_used_at_ms.is_none_or(|t| now_ms() - t > TOUCH_EVERY_MS) {
            let (store, id) = (self.store.clone(), record.id.clone());
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(&id, now_ms()).await {
                    tracing::debug!(error = %e, "could not record token use");
                }
            });
        }
        Ok(p)
    }

    async fn jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self.keys.verify(token).map_err(|e| {
            // The library's words (`unknown variant none`, …) are for the log, not for whoever sent the token.
            tracing::debug!(error = %e, "a registry token was refused");
            AuthError::InvalidToken("invalid token".to_owned())
        })?;
        let mut p = if claims.sub.is_empty() {
            Principal::anonymous()
        } else {
            let account = self
                .store
                .account_by_id(&claims.sub)
                .await?
                .ok_or_else(|| AuthError::InvalidToken("the account no longer exists".into()))?;
            principal_of(&account, Credential::TemporaryToken)?
        };
        if let Some(tid) = &claims.tid {
            // Revoking the API token behind a registry token takes effect at once.
            let usable = self.store.token(tid).await?.is_some_and(|t| token_usable(&t));
            if !usable {
                return Err(AuthError::InvalidToken("the API token it was issued for is revoked or expired".into()));
            }
            p.token_id = Some(tid.clone());
        }
        p.jwt_access = Some(claims.access);
        Ok(p)
    }

    /// The caller's roles (cached briefly).
    pub async fn access(&self, p: &Principal) -> Result<Access, AuthError> {
        let key = p.account_id.clone().unwrap_or_default();
        if let Some((at, a)) = self.access_cache.lock().expect("cache lock").get(&key) {
            if at.elapsed() < ACCESS_CACHE_TTL {
                return Ok(Access { is_admin: p.is_admin, facts: a.facts.clone() });
            }
        }
        let facts = self.store.access_facts(p.account_id.as_deref()).await?;
        let access = Access { is_admin: p.is_admin, facts };
        let mut cache = self.access_cache.lock().expect("cache lock");
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), access.clone()));
        Ok(access)
    }

    /// Whether anonymous callers may pull `repo` (Cargo's `auth-required` says the opposite).
    pub async fn is_public(&self, repo: &vigil_core::RepoName) -> Result<bool, AuthError> {
        Ok(self.access(&Principal::anonymous()).await?.role_for(repo).is_some())
    }

    /// Forgets cached roles and passwords (after an identity change in this process).
    pub fn invalidate(&self) {
        self.access_cache.lock().expect("cache lock").clear();
        self.verified.lock().expect("cache lock").clear();
    }

    /// Issues a registry JWT for `p` granting `access`. Returns the token and its lifetime in seconds.
    pub fn issue(&self, p: &Principal, access: Vec<ResourceAccess>) -> (String, i64, u64) {
        let now = now_ms() / 1000;
        let ttl = self.config.token_ttl.as_secs();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: p.account_id.clone().unwrap_or_default(),
            aud: self.config.service.clone(),
            exp: now + ttl as i64,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            name: p.name.clone(),
            cred: p.credential.as_str().to_owned(),
            tid: p.token_id.clone(),
            access,
        };
        (self.keys.sign(&claims), now, ttl)
    }

    pub fn client_ip(&self, peer: IpAddr, xff: &[&str], forwarded: &[&str]) -> IpAddr {
        self.config.trusted_proxies.client_ip(peer, xff, forwarded)
    }
}

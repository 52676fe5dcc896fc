//! Signing in and out, and who is looking at a page.
//!
//! A session is an API token of the account's own rights (no scopes) that expires after [`SESSION_DAYS`], held in
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` when served over TLS) scoped to `/ui`. Being a token, it is
//! checked by the same `Authenticator` as every API call, listed and revocable with the account's tokens, and
//! signing out revokes it: there is no second session store and no second permission model.
//!
//! Every state-changing form carries a CSRF token: for a session, an HMAC of the session's token id under the
//! server's key; for the sign-in form, a random value also set as a cookie (double submit). A form whose token
//! does not match, or whose `Origin` is another site's, is refused with 403 and nothing is done.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vigil_audit::{RequestScope, UserRef};
use vigil_auth::directory::Actor;
use vigil_auth::{AuthError, Principal};

use crate::page::{self, Chrome};
use crate::{ops, Ui};

pub const SESSION_COOKIE: &str = "vigil_session";
const LOGIN_COOKIE: &str = "vigil_login_csrf";
/// How long a session lasts (its token's expiry).
pub const SESSION_DAYS: u32 = 1;
/// The largest form the UI reads.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The signed-in user of a request, and the CSRF token their forms carry.
pub struct Viewer {
    pub principal: Principal,
    pub csrf: String,
    token_id: String,
}

impl Viewer {
    /// What every page's frame shows of its viewer.
    pub fn chrome(&self, title: impl Into<String>, section: &'static str) -> Chrome {
        Chrome {
            title: title.into(),
            section,
            user: Some(self.principal.name.clone()),
            is_admin: self.principal.is_admin,
            csrf: self.csrf.clone(),
        }
    }
}

/// A handler that takes a `Viewer` sends a browser without a live session to sign in.
impl axum::extract::FromRequestParts<Ui> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Viewer, Response> {
        ui.viewer(parts).await
    }
}

/// The value of cookie `name`, from every `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

impl Ui {
    /// The signed-in viewer, or the response that sends the browser to sign in (and forgets a dead session).
    pub async fn viewer(&self, parts: &Parts) -> Result<Viewer, Response> {
        let back_to = || {
            let next = parts.uri.path_and_query().map_or("/ui/", |p| p.as_str());
            let mut resp = Redirect::to(&format!("/ui/login?next={}", page::query_escape(next))).into_response();
            if cookie(&parts.headers, SESSION_COOKIE).is_some() {
                resp.headers_mut().append(header::SET_COOKIE, self.clear_session());
            }
            resp
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| t.starts_with("vgt_")) else {
            return Err(back_to());
        };
        let ip = vigil_http::admission::client_ip(Some(&self.auth()), parts);
        match self.auth().from_header(Some(&format!("Bearer {token}")), ip, false).await {
            Ok(principal) => {
                let Some(token_id) = principal.token_id.clone() else { return Err(back_to()) };
                RequestScope::of(parts).set_user(principal.audit_user());
                Ok(Viewer { csrf: self.csrf_for(&token_id), principal, token_id })
            }
            Err(AuthError::Store(e)) => Err(page::error(StatusCode::INTERNAL_SERVER_ERROR, None, &e)),
            Err(AuthError::Throttled) => Err(page::error(StatusCode::TOO_MANY_REQUESTS, None, "too many attempts")),
            Err(_) => Err(back_to()),
        }
    }

    fn csrf_for(&self, token_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0.logs.page_key[..]).expect("any key length");
        mac.update(b"vigil ui csrf\0");
        mac.update(token_id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The refusal of a state-changing form whose CSRF token is not this session's, or that another site posted;
    /// `None` when the form may proceed.
    pub fn refuse_form(&self, viewer: &Viewer, parts: &Parts, presented: Option<&str>) -> Option<Response> {
        let expected = self.csrf_for(&viewer.token_id);
        let matches = presented.is_some_and(|p| vigil_auth::secret::ct_eq(p.as_bytes(), expected.as_bytes()));
        (!matches || !same_origin(parts)).then(|| csrf_refused(Some(viewer.chrome("Refused", ""))))
    }

    fn session_cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.0.secure_cookies { "; Secure" } else { "" };
        let cookie =
            format!("{SESSION_COOKIE}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
        HeaderValue::from_str(&cookie).expect("a cookie of token characters")
    }

    fn clear_session(&self) -> HeaderValue {
        self.session_cookie("", 0)
    }

    /// `GET /ui/login`: the form, with a fresh sign-in CSRF token set as a cookie beside it.
    pub fn login_form(&self, next: Option<&str>, message: Option<&str>, status: StatusCode) -> Response {
        let csrf = hex::encode(vigil_auth::secret::random_bytes::<16>());
        let secure = if self.0.secure_cookies { "; Secure" } else { "" };
        let cookie = format!("{LOGIN_COOKIE}={csrf}; Path=/ui/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
        let chrome = Chrome { title: "Sign in".into(), section: "login", user: None, is_admin: false, csrf };
        let mut resp = page::render(
            status,
            &page::LoginPage { chrome, next: safe_next(next).to_owned(), message: message.map(str::to_owned) },
        );
        resp.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("hex"));
        resp
    }

    /// `POST /ui/login`: checks the sign-in CSRF token, then the password (throttled like every login), then opens
    /// a session and sends the browser on.
    pub async fn login(&self, parts: &Parts, form: &LoginForm) -> Response {
        let expected = cookie(&parts.headers, LOGIN_COOKIE);
        let matches = match (&expected, &form.csrf) {
            (Some(e), Some(p)) => vigil_auth::secret::ct_eq(e.as_bytes(), p.as_bytes()),
            _ => false,
        };
        if !matches || !same_origin(parts) {
            return csrf_refused(None);
        }
        let scope = RequestScope::of(parts);
        scope.set_user(UserRef::claimed(Some(form.username.clone()), "password", None));
        let ip = vigil_http::admission::client_ip(Some(&self.auth()), parts);
        let next = form.next.as_deref();
        let principal = match self.auth().basic(&form.username, &form.password, ip).await {
            Ok(p) if p.token_id.is_none() => p,
            Ok(_) => {
                let message = "sign in with your password; API tokens are for clients";
                return self.login_form(next, Some(message), StatusCode::UNAUTHORIZED);
            }
            Err(AuthError::Throttled) => {
                let message = "too many failed sign-ins; wait a minute and try again";
                return self.login_form(next, Some(message), StatusCode::TOO_MANY_REQUESTS);
            }
            Err(AuthError::Store(e)) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, None, &e),
            Err(_) => {
                return self.login_form(next, Some("incorrect username or password"), StatusCode::UNAUTHORIZED);
            }
        };
        scope.set_user(principal.audit_user());
        let name = format!("ui session {}", vigil_core::time::rfc3339_ms(vigil_store::now_ms()));
        let actor = Actor::request_as(&scope, ops::LOGIN, 303);
        let issued = match self.0.logs.admin.directory.open_session(&principal.name, &name, SESSION_DAYS, &actor).await
        {
            Ok(issued) => issued,
            Err(e) => return page::error(StatusCode::SERVICE_UNAVAILABLE, None, &format!("could not sign in: {e}")),
        };
        let mut resp = Redirect::to(safe_next(next)).into_response();
        let headers = resp.headers_mut();
        headers.append(header::SET_COOKIE, self.session_cookie(&issued.token, u64::from(SESSION_DAYS) * 86_400));
        let clear_login = format!("{LOGIN_COOKIE}=; Path=/ui/login; HttpOnly; SameSite=Strict; Max-Age=0");
        headers.append(header::SET_COOKIE, HeaderValue::from_str(&clear_login).expect("ascii"));
        resp
    }

    /// `POST /ui/logout`: revokes the session's token and forgets the cookie.
    pub async fn logout(&self, parts: &Parts, viewer: &Viewer, csrf: Option<&str>) -> Response {
        if let Some(refused) = self.refuse_form(viewer, parts, csrf) {
            return refused;
        }
        let actor = Actor::request_as(&RequestScope::of(parts), ops::LOGOUT, 303);
        let directory = &self.0.logs.admin.directory;
        if let Err(e) = directory.revoke_token(&viewer.token_id, Some(&viewer.principal.name), &actor).await {
            return page::error(StatusCode::SERVICE_UNAVAILABLE, None, &format!("could not sign out: {e}"));
        }
        let mut resp = Redirect::to("/ui/login").into_response();
        resp.headers_mut().append(header::SET_COOKIE, self.clear_session());
        resp
    }

    pub(crate) fn auth(&self) -> Arc<vigil_auth::Authenticator> {
        self.0.logs.admin.auth.clone()
    }
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    pub csrf: Option<String>,
    pub next: Option<String>,
}

/// Where to go after signing in: only a page of the UI (never another site, nor `//host`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("/ui//") && !n.contains(['\\', '\r', '\n']) => n,
        _ => "/ui/",
    }
}

/// A form sent from another site: browsers send `Origin` with every POST, and it must name this server's host.
fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

fn csrf_refused(chrome: Option<Chrome>) -> Response {
    page::error(
        StatusCode::FORBIDDEN,
        chrome,
        "this form was refused: its security token is missing or stale, or it was sent from another site. \
         Nothing was changed; reload the page and try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ui_pages_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/ui/logs?kind=push_repo")), "/ui/logs?kind=push_repo");
        for hostile in ["https://evil.example/", "//evil.example/ui/", "/ui//evil", "/api/v1/user", "/ui/\r\nx"] {
            assert_eq!(safe_next(Some(hostile)), "/ui/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; vigil_session=vgt_x_y".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("vgt_x_y"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }
}

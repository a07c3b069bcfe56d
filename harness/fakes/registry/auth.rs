//! Who may do what on the registry, answered exactly as the real services answer: what a request
//! touches ([`Scope`]), and the two personalities that take Basic credentials. The bearer-token
//! personalities build on this in `bearer`; `personalities` picks one per registry.
//!
//! - `Basic`: distribution 2.8 with htpasswd (bcrypt). Missing and wrong credentials look the same:
//!   401, `Www-Authenticate: Basic realm="…"`, JSON `UNAUTHORIZED` whose detail lists the access
//!   records (auth-protocol-facts.md §1.2).
//! - `EcrPrivate`: Amazon ECR. Basic `AWS:<token>` where tokens come only from the fake ECR API;
//!   anything else gets 401 `text/plain` `Not Authorized` with ECR's Basic challenge; an expired token
//!   gets 403 `DENIED` "Your authorization token has expired. Reauthenticate and try again." (§2.2).

use super::errors::error;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
}

/// What a request touches: a repository with an action, or the registry itself (`/v2/`, catalog).
pub struct Scope<'a> {
    pub repository: Option<&'a str>,
    pub action: Action,
    pub head: bool,
}

/// Authorization tokens issued by the fake ECR API: password → expiry (unix seconds).
#[derive(Clone, Default)]
pub struct EcrTokens(Arc<Mutex<HashMap<String, i64>>>);

impl EcrTokens {
    pub fn insert(&self, password: String, expires_at: i64) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(password, expires_at);
    }

    pub fn is_valid(&self, password: &str) -> bool {
        self.expiry(password)
            .is_some_and(|e| e > crate::fakes::oidc::now())
    }

    fn expiry(&self, password: &str) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(password)
            .copied()
    }
}

/// distribution 2.8 with htpasswd: the user's password must match its bcrypt hash. Missing and
/// wrong credentials get the same challenge, so a client cannot tell which users exist.
pub fn authorize_htpasswd(
    realm: &str,
    users: &HashMap<String, String>,
    headers: &HeaderMap,
    scope: &Scope,
) -> Result<(), Response> {
    let known = basic_credentials(headers)
        .is_some_and(|(user, password)| htpasswd_verifies(users, &user, &password));
    if known {
        Ok(())
    } else {
        Err(distribution_challenge(realm, scope))
    }
}

/// Whether `users` (user → bcrypt hash, as an htpasswd file holds them) accepts the password.
pub(super) fn htpasswd_verifies(
    users: &HashMap<String, String>,
    user: &str,
    password: &str,
) -> bool {
    users
        .get(user)
        .is_some_and(|hash| bcrypt::verify(password, hash).unwrap_or(false))
}

/// Amazon ECR: Basic `AWS:<token>` with a token the fake ECR API issued. Anything unknown gets the
/// challenge; only a token ECR issued and that has run out gets the 403 (§2.2).
pub fn authorize_ecr_private(
    host: &str,
    tokens: &EcrTokens,
    headers: &HeaderMap,
    scope: &Scope,
) -> Result<(), Response> {
    let password = match basic_credentials(headers) {
        Some((user, password)) if user == "AWS" => password,
        _ => return Err(ecr_private_challenge(host, scope.head)),
    };
    match tokens.expiry(&password) {
        None => Err(ecr_private_challenge(host, scope.head)),
        Some(exp) if exp <= crate::fakes::oidc::now() => Err(ecr_token_expired(scope.head)),
        Some(_) => Ok(()),
    }
}

/// ECR's 401: plain text, not distribution's JSON, with a Basic challenge naming the host.
fn ecr_private_challenge(host: &str, head: bool) -> Response {
    let body = if head { "" } else { "Not Authorized\n" };
    let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::WWW_AUTHENTICATE,
        format!("Basic realm=\"https://{host}/\",service=\"ecr.amazonaws.com\"")
            .parse()
            .expect("ascii"),
    );
    r
}

fn ecr_token_expired(head: bool) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "DENIED",
        "Your authorization token has expired. Reauthenticate and try again.",
        serde_json::Value::Null,
        head,
    )
}

pub(super) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    )
    .ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// distribution's access records for a request, as its UNAUTHORIZED errors list them.
pub(super) fn access_records(scope: &Scope) -> serde_json::Value {
    match scope.repository {
        None => serde_json::Value::Null,
        Some(name) => {
            let record = |action: &str| serde_json::json!({"Type": "repository", "Class": "", "Name": name, "Action": action});
            match scope.action {
                Action::Pull => serde_json::json!([record("pull")]),
                Action::Push => serde_json::json!([record("pull"), record("push")]),
            }
        }
    }
}

/// distribution's `authorized()`: UNAUTHORIZED with the access records as detail, and a challenge.
pub(super) fn unauthorized(scope: &Scope, challenge: &str) -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
        access_records(scope),
        scope.head,
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.parse().expect("ascii"));
    r
}

fn distribution_challenge(realm: &str, scope: &Scope) -> Response {
    unauthorized(scope, &format!("Basic realm=\"{realm}\""))
}

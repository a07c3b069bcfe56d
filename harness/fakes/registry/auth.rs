//! Who may do what on the registry, answered exactly as the real services answer.
//!
//! - `Basic`: distribution 2.8 with htpasswd (bcrypt). Missing and wrong credentials look the same:
//!   401, `Www-Authenticate: Basic realm="…"`, JSON `UNAUTHORIZED` whose detail lists the access
//!   records (auth-protocol-facts.md §1.2).
//! - `EcrPrivate`: Amazon ECR. Basic `AWS:<token>` where tokens come only from the fake ECR API;
//!   anything else gets 401 `text/plain` `Not Authorized` with ECR's Basic challenge; an expired token
//!   gets 403 `DENIED` "Your authorization token has expired. Reauthenticate and try again." (§2.2).

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

pub enum Personality {
    Basic {
        realm: String,
        /// user → bcrypt hash, as an htpasswd file holds them.
        users: HashMap<String, String>,
    },
    EcrPrivate {
        /// e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`
        host: String,
        tokens: EcrTokens,
    },
    Token(super::bearer::TokenAuth),
    EcrPublic(super::bearer::EcrPublicAuth),
}

impl Personality {
    pub fn name(&self) -> &'static str {
        match self {
            Personality::Basic { .. } => "basic",
            Personality::EcrPrivate { .. } => "ecr-private",
            Personality::Token(_) => "token",
            Personality::EcrPublic(_) => "ecr-public",
        }
    }

    /// `Ok` when the request may proceed; otherwise the response the real service gives.
    pub fn authorize(&self, headers: &HeaderMap, scope: &Scope) -> Result<(), Response> {
        let basic = basic_credentials(headers);
        match self {
            Personality::Token(t) => t.authorize(headers, scope),
            Personality::EcrPublic(p) => p.authorize(headers, scope),
            Personality::Basic { realm, users } => {
                let ok = basic.as_ref().is_some_and(|(u, p)| {
                    users
                        .get(u)
                        .is_some_and(|hash| bcrypt::verify(p, hash).unwrap_or(false))
                });
                if ok {
                    Ok(())
                } else {
                    Err(distribution_challenge(realm, scope))
                }
            }
            Personality::EcrPrivate { host, tokens } => {
                let challenge = || {
                    let mut r = (
                        StatusCode::UNAUTHORIZED,
                        if scope.head { "" } else { "Not Authorized\n" },
                    )
                        .into_response();
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
                };
                let Some((user, password)) = basic else {
                    return Err(challenge());
                };
                if user != "AWS" {
                    return Err(challenge());
                }
                match tokens.expiry(&password) {
                    None => Err(challenge()),
                    Some(exp) if exp <= crate::fakes::oidc::now() => Err(super::routes::error(
                        StatusCode::FORBIDDEN,
                        "DENIED",
                        "Your authorization token has expired. Reauthenticate and try again.",
                        serde_json::Value::Null,
                        scope.head,
                    )),
                    Some(_) => Ok(()),
                }
            }
        }
    }

    /// The token endpoint of bearer personalities; `None` for the others.
    pub fn token_endpoint(
        &self,
        headers: &HeaderMap,
        query: &[(String, String)],
    ) -> Option<Response> {
        match self {
            Personality::Token(t) => Some(t.token(headers, query)),
            Personality::EcrPublic(p) => Some(p.token(headers, query)),
            _ => None,
        }
    }
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
    let mut r = super::routes::error(
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

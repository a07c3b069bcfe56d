//! Bearer-token registries: Docker token auth (distribution's `token` backend with its own token
//! server) and Amazon ECR Public.
//!
//! Token auth (auth-protocol-facts.md §1.1–1.2): `401` with `Bearer realm=…,service=…[,scope=…]`;
//! the token endpoint gives anonymous clients a token with whatever they may do (possibly nothing,
//! never an error), rejects wrong credentials with 401, and the registry answers a token lacking an
//! action with `error="insufficient_scope"` and a bad one with `error="invalid_token"` — always 401.
//!
//! ECR Public (§3): anonymous pulls allowed; `/v2/` challenges with `scope="aws"` and a `DENIED`
//! "Not Authorized" body; stale or invalid credentials get `DENIED` with 403 or 400 (both have been
//! seen; configurable) and no challenge.

use super::auth::{self, Action, EcrTokens, Scope};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Access {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    actions: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: Vec<Access>,
}

/// The token server's signing key.
pub struct SigningKey {
    private_pem: String,
    public_pem: String,
}

impl SigningKey {
    pub fn generate() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .expect("P-256 key generation");
        SigningKey {
            private_pem: key.serialize_pem(),
            public_pem: key.public_key_pem(),
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        let key = EncodingKey::from_ec_pem(self.private_pem.as_bytes()).expect("generated PEM");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).expect("ES256 signing")
    }

    fn verify(&self, token: &str, audience: &str) -> Option<Claims> {
        let key = DecodingKey::from_ec_pem(self.public_pem.as_bytes()).ok()?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[audience]);
        v.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &key, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// Who may do what with a token registry: user → (bcrypt hash, actions granted on every repository).
pub struct TokenAuth {
    /// The token endpoint's URL, e.g. `https://registry.example.internal/token` (served by the
    /// registry itself at `/token`).
    pub realm: String,
    pub service: String,
    pub users: HashMap<String, String>,
    /// Actions anonymous clients get (empty: a private registry).
    pub anonymous: Vec<String>,
    pub key: SigningKey,
}

pub struct EcrPublicAuth {
    /// `https://public.ecr.aws/token/` on the real service.
    pub realm: String,
    /// Passwords from ECR Public's GetAuthorizationToken that are still valid.
    pub tokens: EcrTokens,
    /// 403 (seen until 2023) or 400 (seen since 2024) for stale credentials; changeable while serving.
    pub stale_status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    pub key: SigningKey,
}

pub const ECR_PUBLIC_SERVICE: &str = "public.ecr.aws";

fn scope_text(scope: &Scope) -> Option<String> {
    scope.repository.map(|name| match scope.action {
        Action::Pull => format!("repository:{name}:pull"),
        Action::Push => format!("repository:{name}:pull,push"),
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn grants(claims: &Claims, scope: &Scope) -> bool {
    let Some(name) = scope.repository else {
        return true;
    };
    let needed: &[&str] = match scope.action {
        Action::Pull => &["pull"],
        Action::Push => &["pull", "push"],
    };
    claims.access.iter().any(|a| {
        a.kind == "repository"
            && a.name == name
            && needed
                .iter()
                .all(|n| a.actions.iter().any(|x| x == n || x == "*"))
    })
}

impl TokenAuth {
    pub fn authorize(&self, headers: &HeaderMap, scope: &Scope) -> Result<(), Response> {
        let challenge = |error: Option<&str>| {
            let mut value = format!(
                "Bearer realm=\"{}\",service=\"{}\"",
                self.realm, self.service
            );
            if let Some(s) = scope_text(scope) {
                value.push_str(&format!(",scope=\"{s}\""));
            }
            if let Some(e) = error {
                value.push_str(&format!(",error=\"{e}\""));
            }
            auth::unauthorized(scope, &value)
        };
        match bearer(headers) {
            None => Err(challenge(None)),
            Some(token) => match self.key.verify(token, &self.service) {
                None => Err(challenge(Some("invalid_token"))),
                Some(c) if grants(&c, scope) => Ok(()),
                Some(_) => Err(challenge(Some("insufficient_scope"))),
            },
        }
    }

    /// `GET /token?service=…&scope=…`, Basic credentials optional.
    pub fn token(&self, headers: &HeaderMap, query: &[(String, String)]) -> Response {
        let user = match self.token_user(headers) {
            Ok(user) => user,
            Err(refused) => return refused,
        };
        let allowed: Vec<String> = if user.is_some() {
            vec!["pull".into(), "push".into()]
        } else {
            self.anonymous.clone()
        };
        issue(
            &self.key,
            &self.realm,
            user.as_deref().unwrap_or(""),
            &self.service,
            granted(query, |action| allowed.iter().any(|a| a == action)),
        )
    }

    /// Who asks for a token: `None` for anonymous clients, who still get one (with whatever
    /// anonymous clients may do); wrong credentials are the token endpoint's only refusal.
    fn token_user(&self, headers: &HeaderMap) -> Result<Option<String>, Response> {
        match auth::basic_credentials(headers) {
            None => Ok(None),
            Some((u, p)) if auth::htpasswd_verifies(&self.users, &u, &p) => Ok(Some(u)),
            Some(_) => Err((
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"details":"incorrect username or password"}"#,
            )
                .into_response()),
        }
    }
}

impl EcrPublicAuth {
    pub fn authorize(&self, headers: &HeaderMap, scope: &Scope) -> Result<(), Response> {
        match bearer(headers) {
            None => {
                let scope_value = scope_text(scope).unwrap_or_else(|| "aws".into());
                let mut r =
                    ecr_public_error(StatusCode::UNAUTHORIZED, "Not Authorized", scope.head);
                let value = format!(
                    "Bearer realm=\"{}\",service=\"{ECR_PUBLIC_SERVICE}\",scope=\"{scope_value}\"",
                    self.realm
                );
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value.parse().expect("ascii"));
                Err(r)
            }
            Some(token) => match self.key.verify(token, ECR_PUBLIC_SERVICE) {
                Some(c) if grants(&c, scope) => Ok(()),
                _ => Err(self.denied(scope.head)),
            },
        }
    }

    fn denied(&self, head: bool) -> Response {
        let status =
            StatusCode::from_u16(self.stale_status.load(std::sync::atomic::Ordering::Relaxed))
                .unwrap_or(StatusCode::BAD_REQUEST);
        let message = if status == StatusCode::FORBIDDEN {
            "Your authorization token has expired. Reauthenticate and try again."
        } else {
            "Your Authorization Token is invalid."
        };
        ecr_public_error(status, message, head)
    }

    /// `GET /token/?service=public.ecr.aws&scope=…`: anonymous pulls, or `AWS:<password>` as Basic.
    pub fn token(&self, headers: &HeaderMap, query: &[(String, String)]) -> Response {
        let user = match auth::basic_credentials(headers) {
            None => "",
            Some((u, p)) if u == "AWS" && self.tokens.is_valid(&p) => "AWS",
            Some(_) => return self.denied(false),
        };
        issue(
            &self.key,
            ECR_PUBLIC_SERVICE,
            user,
            ECR_PUBLIC_SERVICE,
            granted(query, |action| action == "pull"),
        )
    }
}

/// ECR Public's error body: no `detail`, and a trailing newline (captured lengths: 58 bytes for
/// "Not Authorized", 80 for "Your Authorization Token is invalid.").
fn ecr_public_error(status: StatusCode, message: &str, head: bool) -> Response {
    let body = format!(
        "{}\n",
        serde_json::json!({"errors": [{"code": "DENIED", "message": message}]})
    );
    let mut r = (status, if head { String::new() } else { body }).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// `scope=repository:NAME:ACTIONS` parameters (repeatable, or space-separated).
fn requested(query: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query {
        if k != "scope" {
            continue;
        }
        for s in v.split(' ') {
            let mut parts = s.splitn(3, ':');
            if let (Some("repository"), Some(name), Some(actions)) =
                (parts.next(), parts.next(), parts.next())
            {
                out.entry(name.to_string())
                    .or_default()
                    .extend(actions.split(',').map(str::to_string));
            }
        }
    }
    out
}

/// The access a token carries: each requested repository with the requested actions `allowed`
/// lets through (possibly none: a token is issued all the same).
fn granted(query: &[(String, String)], allowed: impl Fn(&str) -> bool) -> Vec<Access> {
    requested(query)
        .into_iter()
        .map(|(name, actions)| Access {
            kind: "repository".into(),
            name,
            actions: actions.into_iter().filter(|a| allowed(a)).collect(),
        })
        .collect()
}

fn issue(
    key: &SigningKey,
    issuer: &str,
    subject: &str,
    audience: &str,
    access: Vec<Access>,
) -> Response {
    let now = crate::fakes::oidc::now();
    let claims = Claims {
        iss: issuer.into(),
        sub: subject.into(),
        aud: audience.into(),
        exp: now + 300,
        nbf: now - 1,
        iat: now,
        jti: crate::fakes::events::request_id(),
        access,
    };
    let token = key.sign(&claims);
    let issued_at = time_rfc3339(now);
    let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300, "issued_at": issued_at});
    let mut r = body.to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn time_rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

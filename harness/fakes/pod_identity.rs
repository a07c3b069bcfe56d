//! EKS Pod Identity agent emulator: `GET http://169.254.170.23/v1/credentials`.
//!
//! Validation order, status codes and bodies follow aws/eks-pod-identity-agent
//! (`internal/validation/request.go`, `pkg/errors/errors.go`; shared/research/auth-protocol-facts.md §4.1):
//! 1. Host must be 169.254.170.23 or fd00:ec2::23 → 403;
//! 2. empty token → 400;
//! 3. unparsable JWT → 400;
//! 4. exp/nbf/iat → 400 (no signature check in the agent);
//! 5. the EKS Auth call, which verifies signature and audience and looks up the association; its
//!    errors pass through with their status and the body `[<request-id>]: (<Code>): <message>, fault: client`.
//!
//! Errors are `http.Error` plain text; success is JSON with RFC 3339 expiration.

use super::events::{EventLog, request_id};
use super::issuer::CredentialIssuer;
use super::oidc::{self, OidcKeys, POD_IDENTITY_AUDIENCE};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where EKS runs the agent on every node, and the URL its webhook gives pods (fixed by EKS).
pub const AGENT_ADDR: &str = "169.254.170.23:80";
pub const AGENT_URL: &str = "http://169.254.170.23/v1/credentials";

pub const AGENT_HOSTS: [&str; 2] = ["169.254.170.23", "fd00:ec2::23"];
pub const FAKE: &str = "pod-identity-agent";

pub struct PodIdentityAgent {
    /// The real agent always checks Host; a copy bound to 127.0.0.1 for SDK tests may not.
    pub check_host: bool,
    pub oidc: OidcKeys,
    /// Pod Identity associations: token subject (`system:serviceaccount:NS:SA`) → role ARN.
    pub associations: BTreeMap<String, String>,
    pub issuer: CredentialIssuer,
    pub events: EventLog,
}

pub fn router(agent: Arc<PodIdentityAgent>) -> Router {
    Router::new()
        .route("/v1/credentials", any(credentials))
        .with_state(agent)
}

async fn credentials(
    State(agent): State<Arc<PodIdentityAgent>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request = format!("{method} {}", uri.path());
    let reply = answer(&agent, &headers).await;
    let (status, detail) = match &reply {
        Ok(_) => (200, "credentials issued".to_string()),
        Err((s, body)) => (s.as_u16(), body.trim_end().to_string()),
    };
    agent.events.push(FAKE, request, status, detail);
    match reply {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err((status, body)) => plain_error(status, body),
    }
}

/// Go's `http.Error`: text/plain, nosniff, message and a newline.
fn plain_error(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn answer(
    agent: &PodIdentityAgent,
    headers: &HeaderMap,
) -> Result<String, (StatusCode, String)> {
    let bad = |status: StatusCode, msg: String| Err((status, format!("{msg}\n")));
    if agent.check_host {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let bare = strip_port(host);
        if !AGENT_HOSTS.contains(&bare) {
            return bad(
                StatusCode::FORBIDDEN,
                format!(
                    "Access Denied. Called agent through invalid address, please use either [{}] address not {bare}",
                    AGENT_HOSTS.join(" ")
                ),
            );
        }
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if token.is_empty() {
        return bad(
            StatusCode::BAD_REQUEST,
            "Service account token cannot be empty".into(),
        );
    }
    let claims: oidc::Claims = match jsonwebtoken::dangerous::insecure_decode(&token) {
        Ok(data) => data.claims,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                format!(
                    "Service account token cannot be parsed: {}",
                    jwt_parse_error(&token, &e)
                ),
            );
        }
    };
    let now = oidc::now();
    let basic = if claims.exp <= now {
        Some("token is expired")
    } else if claims.nbf > now {
        Some("token is not valid yet")
    } else if claims.iat > now {
        Some("token used before issued")
    } else {
        None
    };
    if let Some(why) = basic {
        return bad(
            StatusCode::BAD_REQUEST,
            format!("Service account token failed basic claim validations: {why}"),
        );
    }

    // EKS Auth AssumeRoleForPodIdentity: the cluster's signature and the Pod Identity audience.
    let eks_auth = |status: StatusCode, code: &str, msg: String| {
        Err((
            status,
            format!("[{}]: ({code}): {msg}, fault: client\n", request_id()),
        ))
    };
    let verified = match agent.oidc.verify(&token, POD_IDENTITY_AUDIENCE) {
        Ok(c) => c,
        Err(e) => {
            return eks_auth(
                StatusCode::BAD_REQUEST,
                "InvalidTokenException",
                format!("The token is not valid: {e}"),
            );
        }
    };
    let Some(role_arn) = agent.associations.get(&verified.sub) else {
        return eks_auth(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("No Pod Identity association found for {}", verified.sub),
        );
    };
    let session = format!(
        "eks-authmatrix-{}",
        verified.sub.rsplit(':').next().unwrap_or("pod")
    );
    let creds = match agent.issuer.assume_role(role_arn, &session, 3600).await {
        Ok(c) => c,
        Err(e) => {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "[{}]: (InternalServerException): {e}, fault: server\n",
                    request_id()
                ),
            ));
        }
    };
    let account_id = creds
        .assumed_role_arn
        .split(':')
        .nth(4)
        .unwrap_or_default()
        .to_string();
    Ok(serde_json::json!({
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "AccountId": account_id,
        "Expiration": creds.expiration,
    })
    .to_string())
}

/// `169.254.170.23:80` → `169.254.170.23`, `[fd00:ec2::23]:80` → `fd00:ec2::23`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The agent parses with golang-jwt v5, whose errors read `token is malformed: …`.
fn jwt_parse_error(token: &str, e: &jsonwebtoken::errors::Error) -> String {
    if token.split('.').count() != 3 {
        "token is malformed: token contains an invalid number of segments".into()
    } else {
        format!("token is malformed: {e}")
    }
}

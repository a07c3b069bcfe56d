//! Amazon ECR API emulator: `GetAuthorizationToken` on `https://api.ecr.<region>.amazonaws.com`.
//!
//! awsJson1.1, `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`
//! (auth-protocol-facts.md §2.1). The SigV4 signature is checked by the fake cloud's IAM: the
//! request is replayed unchanged (same Host, same headers) to moto, which recomputes the signature
//! with the caller's secret and evaluates its policy; moto's error passes through as AWS would send it.
//! Only then does this fake issue a token — its own, since moto's is fixed and expired in 2015 — that
//! the ECR registry fake accepts: `authorizationToken` is base64 of `AWS:<password>`, `proxyEndpoint`
//! matches ECR's host name pattern (the credential helper rejects any other).

use super::events::EventLog;
use super::registry::EcrTokens;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub const FAKE: &str = "ecr-api";
const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

pub struct EcrApi {
    /// moto, which verifies signatures and policies.
    pub iam_endpoint: String,
    pub account: String,
    pub region: String,
    pub tokens: EcrTokens,
    /// Lifetime of issued tokens (ECR: 12 hours); changeable while serving.
    pub token_lifetime_secs: Arc<AtomicI64>,
    pub events: EventLog,
}

pub fn router(api: Arc<EcrApi>) -> Router {
    Router::new().route("/", post(handle)).with_state(api)
}

async fn handle(
    State(api): State<Arc<EcrApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = match operation(&headers, TARGET, &api.events, FAKE) {
        Ok(t) => t,
        Err(r) => return r,
    };
    // 1. Is the caller who it says it is, and allowed? Ask the fake cloud's IAM.
    match verify(&api.iam_endpoint, &method, &uri, &headers, body).await {
        Err(e) => {
            api.events
                .push(FAKE, format!("POST / {target}"), 500, e.clone());
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "ServerException", &e);
        }
        Ok(Some(rejection)) => {
            let status = rejection.status().as_u16();
            api.events.push(
                FAKE,
                format!("POST / {target}"),
                status,
                "rejected by IAM (signature or policy)",
            );
            return rejection;
        }
        Ok(None) => {}
    }
    // 2. Issue a token.
    let (token, expires_at) = issue(&api.tokens, api.token_lifetime_secs.load(Ordering::Relaxed));
    api.events
        .push(FAKE, format!("POST / {target}"), 200, "token issued");
    let body = serde_json::json!({"authorizationData": [{
        "authorizationToken": token,
        "expiresAt": expires_at,
        "proxyEndpoint": format!("https://{}.dkr.ecr.{}.amazonaws.com", api.account, api.region),
    }]});
    (
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// Replays the request to moto. `None` when moto accepted it; otherwise moto's answer.
async fn verify(
    endpoint: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Option<Response>, String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let url: Uri = format!(
        "{}{}",
        endpoint.trim_end_matches('/'),
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    )
    .parse()
    .map_err(|e| format!("{e}"))?;
    let mut req = axum::http::Request::builder()
        .method(method.clone())
        .uri(url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req.body(Body::from(body)).map_err(|e| e.to_string())?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("the fake cloud's IAM did not answer: {e}"))?;
    if resp.status().is_success() {
        return Ok(None);
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let mut r = (parts.status, bytes).into_response();
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    Ok(Some(r))
}

#[allow(clippy::result_large_err)] // the error is the HTTP reply itself
/// The awsJson operation (`X-Amz-Target`) when it is the one this fake serves; otherwise the
/// `UnknownOperationException` reply, recorded.
fn operation(
    headers: &HeaderMap,
    served: &str,
    events: &EventLog,
    fake: &str,
) -> Result<String, Response> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target == served {
        return Ok(target.to_string());
    }
    events.push(
        fake,
        format!("POST / {target}"),
        400,
        "UnknownOperationException",
    );
    Err(json_error(
        StatusCode::BAD_REQUEST,
        "UnknownOperationException",
        "",
    ))
}

/// A new registry password valid for `lifetime_secs`, as ECR hands it out: base64 of `AWS:<password>`.
fn issue(tokens: &EcrTokens, lifetime_secs: i64) -> (String, i64) {
    let password = format!("authmatrix-ecr-{}", super::events::request_id());
    let expires_at = super::oidc::now() + lifetime_secs;
    tokens.insert(password.clone(), expires_at);
    (
        base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}")),
        expires_at,
    )
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        serde_json::json!({"__type": code, "message": message}).to_string(),
    )
        .into_response()
}

/// Amazon ECR Public API emulator: `GetAuthorizationToken` on `https://api.ecr-public.us-east-1.amazonaws.com`
/// (`X-Amz-Target: SpencerFrontendService.GetAuthorizationToken`; a single `authorizationData`
/// object without proxyEndpoint; auth-protocol-facts.md §3). moto has no ECR Public, so the SigV4
/// signature is verified here against the fake cloud's keys (IAM policies are not evaluated).
pub struct EcrPublicApi {
    pub keys: super::sigv4::KeyStore,
    pub tokens: EcrTokens,
    pub token_lifetime_secs: Arc<AtomicI64>,
    pub events: EventLog,
}

pub const PUBLIC_FAKE: &str = "ecr-public-api";
const PUBLIC_TARGET: &str = "SpencerFrontendService.GetAuthorizationToken";

pub fn public_router(api: Arc<EcrPublicApi>) -> Router {
    Router::new()
        .route("/", post(handle_public))
        .with_state(api)
}

async fn handle_public(
    State(api): State<Arc<EcrPublicApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match operation(&headers, PUBLIC_TARGET, &api.events, PUBLIC_FAKE) {
        Ok(t) => format!("POST / {t}"),
        Err(r) => return r,
    };
    if let Err(r) = super::sigv4::verify(
        &api.keys,
        "ecr-public",
        &method,
        uri.path(),
        uri.query().unwrap_or(""),
        &headers,
        &body,
    ) {
        api.events
            .push(PUBLIC_FAKE, request, r.status.as_u16(), r.code);
        return json_error(r.status, r.code, &r.message);
    }
    let (token, expires_at) = issue(&api.tokens, api.token_lifetime_secs.load(Ordering::Relaxed));
    api.events.push(PUBLIC_FAKE, request, 200, "token issued");
    let body = serde_json::json!({"authorizationData": {"authorizationToken": token, "expiresAt": expires_at}});
    (
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

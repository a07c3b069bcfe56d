//! OCI distribution API: pull and push, on [`Storage`], behind a [`Personality`].

use super::auth::{Action, Scope};
use super::errors::error;
use super::personalities::Personality;
use super::storage::{Storage, digest_of, valid_digest, valid_name, valid_tag};
use crate::fakes::events::EventLog;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::collections::HashMap;
use std::sync::Arc;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const API_VERSION: &str = "registry/2.0";

pub struct Registry {
    pub storage: Storage,
    pub personality: Personality,
    pub events: EventLog,
    /// Label in the event log, e.g. `registry (basic)`.
    pub label: String,
}

pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/v2/", any(root))
        .route("/v2", any(root))
        .route("/v2/{*rest}", any(dispatch))
        .route("/token", axum::routing::get(token))
        .route("/token/", axum::routing::get(token))
        // Blobs and manifests of any size (distribution has no 2 MiB cap).
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(registry)
}

fn with_api_version(mut r: Response) -> Response {
    r.headers_mut().insert(
        "Docker-Distribution-Api-Version",
        HeaderValue::from_static(API_VERSION),
    );
    r
}

async fn root(State(reg): State<Arc<Registry>>, method: Method, headers: HeaderMap) -> Response {
    let scope = Scope {
        repository: None,
        action: Action::Pull,
        head: method == Method::HEAD,
    };
    let r = match reg.personality.authorize(&headers, &scope) {
        Err(r) => r,
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            "{}",
        )
            .into_response(),
    };
    reg.record(&method, "/v2/", &r);
    with_api_version(r)
}

async fn token(
    State(reg): State<Arc<Registry>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let query: Vec<(String, String)> = uri.query().map(serde_urlencoded_pairs).unwrap_or_default();
    let r = reg
        .personality
        .token_endpoint(&headers, &query)
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    reg.record(&Method::GET, uri.path(), &r);
    r
}

/// Query pairs in order, repeated keys kept (`scope` may repeat).
fn serde_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{q}").parse().expect("valid"),
    )
    .map(|p| p.0)
    .unwrap_or_default()
}

/// What a path under /v2/ asks for.
enum Route {
    Manifest(String, String),
    Blob(String, String),
    Upload(String, Option<String>),
    Tags(String),
}

fn route(rest: &str) -> Option<Route> {
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.into()));
    }
    if let Some((name, id)) = rest.split_once("/blobs/uploads") {
        let id = id.trim_start_matches('/');
        return Some(Route::Upload(
            name.into(),
            (!id.is_empty()).then(|| id.into()),
        ));
    }
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        return Some(Route::Manifest(name.into(), reference.into()));
    }
    if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        return Some(Route::Blob(name.into(), digest.into()));
    }
    None
}

async fn dispatch(
    State(reg): State<Arc<Registry>>,
    method: Method,
    Path(rest): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let head = method == Method::HEAD;
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
            serde_json::Value::Null,
            head,
        )
    };
    let r = match route(&rest) {
        None => not_found(),
        Some(route) => {
            let name = match &route {
                Route::Manifest(n, _)
                | Route::Blob(n, _)
                | Route::Upload(n, _)
                | Route::Tags(n) => n.clone(),
            };
            if !valid_name(&name) {
                error(
                    StatusCode::BAD_REQUEST,
                    "NAME_INVALID",
                    "invalid repository name",
                    serde_json::Value::Null,
                    head,
                )
            } else {
                let action = if matches!(method, Method::GET | Method::HEAD) {
                    Action::Pull
                } else {
                    Action::Push
                };
                match reg.personality.authorize(
                    &headers,
                    &Scope {
                        repository: Some(&name),
                        action,
                        head,
                    },
                ) {
                    Err(r) => r,
                    Ok(()) => reg.serve(route, &method, &query, &headers, &body),
                }
            }
        }
    };
    reg.record(&method, &format!("/v2/{rest}"), &r);
    with_api_version(r)
}

impl Registry {
    fn record(&self, method: &Method, path: &str, r: &Response) {
        self.events.push(
            &self.label,
            format!("{method} {path}"),
            r.status().as_u16(),
            "",
        );
    }

    fn serve(
        &self,
        route: Route,
        method: &Method,
        query: &HashMap<String, String>,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Response {
        let head = method == Method::HEAD;
        let s = &self.storage;
        let io = |e: std::io::Error| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN",
                &e.to_string(),
                serde_json::Value::Null,
                head,
            )
        };
        match (route, method.clone()) {
            (Route::Manifest(name, reference), Method::GET | Method::HEAD) => {
                match s.manifest(&name, &reference) {
                    None => error(
                        StatusCode::NOT_FOUND,
                        "MANIFEST_UNKNOWN",
                        "manifest unknown",
                        serde_json::json!({"Tag": reference}),
                        head,
                    ),
                    Some(m)
                        if m.media_type.starts_with("application/vnd.oci.")
                            && !accepts(headers, &m.media_type) =>
                    {
                        // distribution 2.8 (auth-protocol-facts.md §1.3): an OCI manifest needs an OCI Accept.
                        error(
                            StatusCode::NOT_FOUND,
                            "MANIFEST_UNKNOWN",
                            "OCI manifest found, but accept header does not support OCI manifests",
                            serde_json::Value::Null,
                            head,
                        )
                    }
                    Some(m) => content(head, &m.media_type, &m.digest, m.body, true),
                }
            }
            (Route::Manifest(name, reference), Method::PUT) => {
                if !valid_digest(&reference) && !valid_tag(&reference) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "TAG_INVALID",
                        "manifest tag did not match URI",
                        serde_json::Value::Null,
                        false,
                    );
                }
                if valid_digest(&reference) && digest_of(body) != reference {
                    return digest_invalid(false);
                }
                let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "MANIFEST_INVALID",
                        "manifest invalid",
                        serde_json::Value::Null,
                        false,
                    );
                };
                let media_type = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .or_else(|| doc["mediaType"].as_str().map(str::to_string))
                    .unwrap_or_else(|| OCI_MANIFEST.to_string());
                // Non-distributable ("foreign") layers are never pushed, so they are not required.
                let mut referenced: Vec<String> = doc["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|l| {
                        !l["mediaType"].as_str().is_some_and(|m| {
                            m.contains("nondistributable") || m.contains("foreign")
                        })
                    })
                    .filter_map(|l| l["digest"].as_str().map(str::to_string))
                    .collect();
                if let Some(c) = doc["config"]["digest"].as_str() {
                    referenced.push(c.to_string());
                }
                if let Some(missing) = referenced.iter().find(|d| !s.has_blob(&name, d)) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "MANIFEST_BLOB_UNKNOWN",
                        "blob unknown to registry",
                        serde_json::json!(missing),
                        false,
                    );
                }
                match s.put_manifest(&name, &reference, &media_type, body) {
                    Err(e) => io(e),
                    Ok(digest) => created(&format!("/v2/{name}/manifests/{digest}"), &digest),
                }
            }
            (Route::Manifest(name, reference), Method::DELETE) => {
                if s.delete_manifest(&name, &reference) {
                    StatusCode::ACCEPTED.into_response()
                } else {
                    error(
                        StatusCode::NOT_FOUND,
                        "MANIFEST_UNKNOWN",
                        "manifest unknown",
                        serde_json::Value::Null,
                        false,
                    )
                }
            }
            (Route::Blob(name, digest), Method::GET | Method::HEAD) => {
                if !valid_digest(&digest) {
                    return digest_invalid(head);
                }
                match s.blob(&name, &digest) {
                    None => blob_unknown(&digest, head),
                    Some(data) => content(head, "application/octet-stream", &digest, data, false),
                }
            }
            (Route::Blob(name, digest), Method::DELETE) => {
                if s.delete_blob(&name, &digest) {
                    StatusCode::ACCEPTED.into_response()
                } else {
                    blob_unknown(&digest, false)
                }
            }
            (Route::Upload(name, None), Method::POST) => {
                if let (Some(mount), Some(from)) = (query.get("mount"), query.get("from")) {
                    match s.mount(&name, from, mount) {
                        Err(e) => return io(e),
                        Ok(true) => return created(&format!("/v2/{name}/blobs/{mount}"), mount),
                        Ok(false) => {} // distribution falls back to a new upload session
                    }
                }
                if let Some(digest) = query.get("digest") {
                    if digest_of(body) != *digest {
                        return digest_invalid(false);
                    }
                    return match s.put_blob(&name, body) {
                        Err(e) => io(e),
                        Ok(d) => created(&format!("/v2/{name}/blobs/{d}"), &d),
                    };
                }
                match s.start_upload() {
                    Err(e) => io(e),
                    Ok(id) => upload_status(StatusCode::ACCEPTED, &name, &id, 0),
                }
            }
            (Route::Upload(name, Some(id)), m) => {
                let Some(size) = s.upload_size(&id) else {
                    return error(
                        StatusCode::NOT_FOUND,
                        "BLOB_UPLOAD_UNKNOWN",
                        "blob upload unknown to registry",
                        serde_json::Value::Null,
                        head,
                    );
                };
                match m {
                    Method::GET => upload_status(StatusCode::NO_CONTENT, &name, &id, size),
                    Method::DELETE => {
                        s.cancel_upload(&id);
                        StatusCode::NO_CONTENT.into_response()
                    }
                    Method::PATCH | Method::PUT if !range_continues(headers, size) => {
                        upload_status(StatusCode::RANGE_NOT_SATISFIABLE, &name, &id, size)
                    }
                    Method::PATCH => match s.append_upload(&id, body) {
                        Err(e) => io(e),
                        Ok(new) => upload_status(StatusCode::ACCEPTED, &name, &id, new),
                    },
                    Method::PUT => {
                        let Some(digest) = query.get("digest").filter(|d| valid_digest(d)) else {
                            return digest_invalid(false);
                        };
                        if !body.is_empty()
                            && let Err(e) = s.append_upload(&id, body)
                        {
                            return io(e);
                        }
                        match s.finish_upload(&name, &id, digest) {
                            Err(e) => io(e),
                            Ok(Err(())) => digest_invalid(false),
                            Ok(Ok(())) => created(&format!("/v2/{name}/blobs/{digest}"), digest),
                        }
                    }
                    _ => unsupported(),
                }
            }
            (Route::Tags(name), Method::GET) => {
                if !s.repo_exists(&name) {
                    return error(
                        StatusCode::NOT_FOUND,
                        "NAME_UNKNOWN",
                        "repository name not known to registry",
                        serde_json::json!({"name": name}),
                        false,
                    );
                }
                let mut tags = s.tags(&name);
                if let Some(last) = query.get("last") {
                    tags.retain(|t| t > last);
                }
                let limit = query.get("n").and_then(|n| n.parse::<usize>().ok());
                let mut link = None;
                if let Some(n) = limit
                    && tags.len() > n
                {
                    tags.truncate(n);
                    link = tags
                        .last()
                        .map(|l| format!("</v2/{name}/tags/list?last={l}&n={n}>; rel=\"next\""));
                }
                let mut r = (
                    [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                    serde_json::json!({"name": name, "tags": tags}).to_string(),
                )
                    .into_response();
                if let Some(l) = link {
                    r.headers_mut()
                        .insert(header::LINK, l.parse().expect("ascii"));
                }
                r
            }
            _ => unsupported(),
        }
    }
}

/// A chunk's `Content-Range: <start>-<end>` must start where the upload stands.
fn range_continues(headers: &HeaderMap, size: u64) -> bool {
    match headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(range) => {
            range
                .trim_start_matches("bytes ")
                .split('-')
                .next()
                .and_then(|v| v.trim().parse::<u64>().ok())
                == Some(size)
        }
    }
}

fn digest_invalid(head: bool) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "DIGEST_INVALID",
        "provided digest did not match uploaded content",
        serde_json::Value::Null,
        head,
    )
}

fn blob_unknown(digest: &str, head: bool) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "BLOB_UNKNOWN",
        "blob unknown to registry",
        serde_json::json!(digest),
        head,
    )
}

fn unsupported() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNSUPPORTED",
        "The operation is unsupported.",
        serde_json::Value::Null,
        false,
    )
}

fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|a| a.split(';').next().unwrap_or("").trim() == media_type)
}

fn content(head: bool, media_type: &str, digest: &str, data: Vec<u8>, etag: bool) -> Response {
    let len = data.len();
    let mut r = if head {
        StatusCode::OK.into_response()
    } else {
        data.into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        media_type
            .parse()
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert("Docker-Content-Digest", digest.parse().expect("ascii"));
    h.insert(header::CONTENT_LENGTH, len.into());
    if etag {
        h.insert(
            header::ETAG,
            format!("\"{digest}\"").parse().expect("ascii"),
        );
    } else {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    r
}

fn created(location: &str, digest: &str) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    r.headers_mut()
        .insert(header::LOCATION, location.parse().expect("ascii"));
    r.headers_mut()
        .insert("Docker-Content-Digest", digest.parse().expect("ascii"));
    r.headers_mut().insert(header::CONTENT_LENGTH, 0.into());
    r
}

fn upload_status(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    let mut r = status.into_response();
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        format!("/v2/{name}/blobs/uploads/{id}")
            .parse()
            .expect("ascii"),
    );
    h.insert("Docker-Upload-UUID", id.parse().expect("ascii"));
    h.insert(
        header::RANGE,
        format!("0-{}", size.saturating_sub(1))
            .parse()
            .expect("ascii"),
    );
    h.insert(header::CONTENT_LENGTH, 0.into());
    r
}

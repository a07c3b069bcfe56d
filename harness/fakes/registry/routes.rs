//! OCI distribution API: pull and push, on [`Storage`], behind a [`Personality`].

use super::auth::{Action, Scope};
use super::errors::{Code, error, internal};
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

/// Every reply under /v2/, refusals included, names the API version, as distribution does.
fn with_api_version(mut r: Response) -> Response {
    r.headers_mut().insert(
        "Docker-Distribution-Api-Version",
        HeaderValue::from_static(API_VERSION),
    );
    r
}

/// `/v2/`: the version check, where clients first meet the challenge (no repository in scope).
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

/// `GET /token`: the token server of the bearer personalities; 404 for the others.
async fn token(
    State(reg): State<Arc<Registry>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let query: Vec<(String, String)> = uri.query().map(query_pairs).unwrap_or_default();
    let r = reg
        .personality
        .token_endpoint(&headers, &query)
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    reg.record(&Method::GET, uri.path(), &r);
    r
}

/// Query pairs in order, repeated keys kept (`scope` may repeat).
fn query_pairs(q: &str) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{q}").parse().expect("valid"),
    )
    .map(|p| p.0)
    .unwrap_or_default()
}

/// What a path under /v2/ asks for; every variant starts with the repository name.
enum Route {
    Manifest(String, String),
    Blob(String, String),
    Upload(String, Option<String>),
    Tags(String),
}

impl Route {
    /// An upload path also contains `/blobs/`, so uploads are recognised before blobs.
    fn parse(rest: &str) -> Option<Route> {
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

    fn repository(&self) -> &str {
        match self {
            Route::Manifest(n, _) | Route::Blob(n, _) | Route::Upload(n, _) | Route::Tags(n) => n,
        }
    }
}

/// The parts of a request under /v2/ that the route handlers read.
struct Request<'a> {
    method: &'a Method,
    query: &'a HashMap<String, String>,
    headers: &'a HeaderMap,
    body: &'a Bytes,
}

impl Request<'_> {
    /// A HEAD reply carries the GET reply's status and headers without its body.
    fn head(&self) -> bool {
        *self.method == Method::HEAD
    }

    /// Reading needs pull; every other method changes the repository and needs push.
    fn action(&self) -> Action {
        if matches!(*self.method, Method::GET | Method::HEAD) {
            Action::Pull
        } else {
            Action::Push
        }
    }
}

/// Everything under `/v2/<name>/…`.
async fn dispatch(
    State(reg): State<Arc<Registry>>,
    method: Method,
    Path(rest): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method: &method,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let r = match Route::parse(&rest) {
        None => Code::NameUnknown.bare(request.head()),
        Some(route) => reg.validate_and_serve(route, &request),
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

    /// distribution's order: a malformed name is refused before authorization is asked, and
    /// nothing about the repository is looked at before the client is authorized.
    fn validate_and_serve(&self, route: Route, req: &Request) -> Response {
        if !valid_name(route.repository()) {
            return Code::NameInvalid.bare(req.head());
        }
        let scope = Scope {
            repository: Some(route.repository()),
            action: req.action(),
            head: req.head(),
        };
        match self.personality.authorize(req.headers, &scope) {
            Err(refused) => refused,
            Ok(()) => self.serve(route, req),
        }
    }

    fn serve(&self, route: Route, req: &Request) -> Response {
        match (route, req.method.clone()) {
            (Route::Manifest(name, reference), Method::GET | Method::HEAD) => {
                self.get_manifest(&name, &reference, req)
            }
            (Route::Manifest(name, reference), Method::PUT) => {
                self.put_manifest(&name, &reference, req)
            }
            (Route::Manifest(name, reference), Method::DELETE) => {
                self.delete_manifest(&name, &reference)
            }
            (Route::Blob(name, digest), Method::GET | Method::HEAD) => {
                self.get_blob(&name, &digest, req.head())
            }
            (Route::Blob(name, digest), Method::DELETE) => self.delete_blob(&name, &digest),
            (Route::Upload(name, None), Method::POST) => self.start_upload(&name, req),
            (Route::Upload(name, Some(id)), _) => self.upload_session(&name, &id, req),
            (Route::Tags(name), Method::GET) => self.list_tags(&name, req.query),
            _ => Code::Unsupported.bare(false),
        }
    }

    /// `GET|HEAD /v2/<name>/manifests/<reference>`.
    fn get_manifest(&self, name: &str, reference: &str, req: &Request) -> Response {
        let head = req.head();
        match self.storage.manifest(name, reference) {
            None => Code::ManifestUnknown.reply(serde_json::json!({"Tag": reference}), head),
            Some(m)
                if m.media_type.starts_with("application/vnd.oci.")
                    && !accepts(req.headers, &m.media_type) =>
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

    /// `PUT /v2/<name>/manifests/<reference>`: the reference must be a tag or the body's digest,
    /// the body JSON, and every blob it needs already in the repository.
    fn put_manifest(&self, name: &str, reference: &str, req: &Request) -> Response {
        if !valid_digest(reference) && !valid_tag(reference) {
            return Code::TagInvalid.bare(false);
        }
        if valid_digest(reference) && digest_of(req.body) != reference {
            return Code::DigestInvalid.bare(false);
        }
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(req.body) else {
            return Code::ManifestInvalid.bare(false);
        };
        let media_type = manifest_media_type(req.headers, &doc);
        let needed = blobs_needed_by(&doc);
        if let Some(missing) = needed.iter().find(|d| !self.storage.has_blob(name, d)) {
            return Code::ManifestBlobUnknown.reply(serde_json::json!(missing), false);
        }
        match self
            .storage
            .put_manifest(name, reference, &media_type, req.body)
        {
            Err(e) => internal(&e, req.head()),
            Ok(digest) => created(&format!("/v2/{name}/manifests/{digest}"), &digest),
        }
    }

    /// `DELETE /v2/<name>/manifests/<reference>`.
    fn delete_manifest(&self, name: &str, reference: &str) -> Response {
        if self.storage.delete_manifest(name, reference) {
            StatusCode::ACCEPTED.into_response()
        } else {
            Code::ManifestUnknown.bare(false)
        }
    }

    /// `GET|HEAD /v2/<name>/blobs/<digest>`.
    fn get_blob(&self, name: &str, digest: &str, head: bool) -> Response {
        if !valid_digest(digest) {
            return Code::DigestInvalid.bare(head);
        }
        match self.storage.blob(name, digest) {
            None => blob_unknown(digest, head),
            Some(data) => content(head, "application/octet-stream", digest, data, false),
        }
    }

    /// `DELETE /v2/<name>/blobs/<digest>`.
    fn delete_blob(&self, name: &str, digest: &str) -> Response {
        if self.storage.delete_blob(name, digest) {
            StatusCode::ACCEPTED.into_response()
        } else {
            blob_unknown(digest, false)
        }
    }

    /// `POST /v2/<name>/blobs/uploads/`: a cross-repository mount (`?mount=&from=`), a whole blob
    /// in one request (`?digest=`), or else a new upload session.
    fn start_upload(&self, name: &str, req: &Request) -> Response {
        if let (Some(mount), Some(from)) = (req.query.get("mount"), req.query.get("from")) {
            match self.storage.mount(name, from, mount) {
                Err(e) => return internal(&e, req.head()),
                Ok(true) => return created(&format!("/v2/{name}/blobs/{mount}"), mount),
                Ok(false) => {} // distribution falls back to a new upload session
            }
        }
        if let Some(digest) = req.query.get("digest") {
            return self.monolithic_upload(name, digest, req);
        }
        match self.storage.start_upload() {
            Err(e) => internal(&e, req.head()),
            Ok(id) => upload_status(StatusCode::ACCEPTED, name, &id, 0),
        }
    }

    /// `POST /v2/<name>/blobs/uploads/?digest=<digest>` with the whole blob as body.
    fn monolithic_upload(&self, name: &str, digest: &str, req: &Request) -> Response {
        if digest_of(req.body) != digest {
            return Code::DigestInvalid.bare(false);
        }
        match self.storage.put_blob(name, req.body) {
            Err(e) => internal(&e, req.head()),
            Ok(d) => created(&format!("/v2/{name}/blobs/{d}"), &d),
        }
    }

    /// `/v2/<name>/blobs/uploads/<id>`: an unknown session is refused whatever the method; a chunk
    /// or the final PUT must continue where the session stands.
    fn upload_session(&self, name: &str, id: &str, req: &Request) -> Response {
        let Some(size) = self.storage.upload_size(id) else {
            return Code::BlobUploadUnknown.bare(req.head());
        };
        match *req.method {
            Method::GET => upload_status(StatusCode::NO_CONTENT, name, id, size),
            Method::DELETE => {
                self.storage.cancel_upload(id);
                StatusCode::NO_CONTENT.into_response()
            }
            Method::PATCH | Method::PUT if !range_continues(req.headers, size) => {
                upload_status(StatusCode::RANGE_NOT_SATISFIABLE, name, id, size)
            }
            Method::PATCH => self.append_chunk(name, id, req),
            Method::PUT => self.finish_upload(name, id, req),
            _ => Code::Unsupported.bare(false),
        }
    }

    /// `PATCH /v2/<name>/blobs/uploads/<id>`: one more chunk.
    fn append_chunk(&self, name: &str, id: &str, req: &Request) -> Response {
        match self.storage.append_upload(id, req.body) {
            Err(e) => internal(&e, req.head()),
            Ok(size) => upload_status(StatusCode::ACCEPTED, name, id, size),
        }
    }

    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=<digest>`, with an optional last chunk: the
    /// whole upload must hash to the digest.
    fn finish_upload(&self, name: &str, id: &str, req: &Request) -> Response {
        let Some(digest) = req.query.get("digest").filter(|d| valid_digest(d)) else {
            return Code::DigestInvalid.bare(false);
        };
        if !req.body.is_empty()
            && let Err(e) = self.storage.append_upload(id, req.body)
        {
            return internal(&e, req.head());
        }
        match self.storage.finish_upload(name, id, digest) {
            Err(e) => internal(&e, req.head()),
            Ok(Err(())) => Code::DigestInvalid.bare(false),
            Ok(Ok(())) => created(&format!("/v2/{name}/blobs/{digest}"), digest),
        }
    }

    /// `GET /v2/<name>/tags/list[?n=&last=]`.
    fn list_tags(&self, name: &str, query: &HashMap<String, String>) -> Response {
        if !self.storage.repo_exists(name) {
            return Code::NameUnknown.reply(serde_json::json!({"name": name}), false);
        }
        let (tags, next) = tags_page(self.storage.tags(name), name, query);
        let mut r = (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::json!({"name": name, "tags": tags}).to_string(),
        )
            .into_response();
        if let Some(link) = next {
            r.headers_mut()
                .insert(header::LINK, link.parse().expect("ascii"));
        }
        r
    }
}

/// The spec's pagination: the tags after `last`, at most `n` of them, and when that cut some off,
/// the `Link` header value of the next page.
fn tags_page(
    mut tags: Vec<String>,
    name: &str,
    query: &HashMap<String, String>,
) -> (Vec<String>, Option<String>) {
    if let Some(last) = query.get("last") {
        tags.retain(|t| t > last);
    }
    let limit = query.get("n").and_then(|n| n.parse::<usize>().ok());
    let mut next = None;
    if let Some(n) = limit
        && tags.len() > n
    {
        tags.truncate(n);
        next = tags
            .last()
            .map(|l| format!("</v2/{name}/tags/list?last={l}&n={n}>; rel=\"next\""));
    }
    (tags, next)
}

/// The media type a manifest is stored with: the request's Content-Type, else the document's own
/// `mediaType`, else OCI's.
fn manifest_media_type(headers: &HeaderMap, doc: &serde_json::Value) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| doc["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| OCI_MANIFEST.to_string())
}

/// The blobs a manifest refers to, layers first, then the config. Non-distributable ("foreign")
/// layers are never pushed, so they are not required.
fn blobs_needed_by(doc: &serde_json::Value) -> Vec<String> {
    let is_foreign = |layer: &serde_json::Value| {
        layer["mediaType"]
            .as_str()
            .is_some_and(|m| m.contains("nondistributable") || m.contains("foreign"))
    };
    let mut needed: Vec<String> = doc["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| !is_foreign(l))
        .filter_map(|l| l["digest"].as_str().map(str::to_string))
        .collect();
    if let Some(config) = doc["config"]["digest"].as_str() {
        needed.push(config.to_string());
    }
    needed
}

fn blob_unknown(digest: &str, head: bool) -> Response {
    Code::BlobUnknown.reply(serde_json::json!(digest), head)
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

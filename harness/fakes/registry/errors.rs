//! distribution's error replies. The lowest of the registry's modules: the authorization layers
//! (`auth`, `bearer`) and the routes all answer with these, so none of them has to reach up for it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The distribution error envelope, with the headers every distribution response carries.
/// A HEAD reply keeps the status and headers but has no body.
pub fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    detail: serde_json::Value,
    head: bool,
) -> Response {
    let body =
        serde_json::json!({"errors": [{"code": code, "message": message, "detail": detail}]})
            .to_string();
    let mut r = (status, if head { String::new() } else { body }).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

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

/// The error codes whose status and message never vary, as distribution 2.8 words them.
#[derive(Clone, Copy)]
pub enum Code {
    NameUnknown,
    NameInvalid,
    TagInvalid,
    ManifestUnknown,
    ManifestInvalid,
    ManifestBlobUnknown,
    DigestInvalid,
    BlobUnknown,
    BlobUploadUnknown,
    Unsupported,
}

impl Code {
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Code::NameUnknown => (
                S::NOT_FOUND,
                "NAME_UNKNOWN",
                "repository name not known to registry",
            ),
            Code::NameInvalid => (S::BAD_REQUEST, "NAME_INVALID", "invalid repository name"),
            Code::TagInvalid => (
                S::BAD_REQUEST,
                "TAG_INVALID",
                "manifest tag did not match URI",
            ),
            Code::ManifestUnknown => (S::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown"),
            Code::ManifestInvalid => (S::BAD_REQUEST, "MANIFEST_INVALID", "manifest invalid"),
            Code::ManifestBlobUnknown => (
                S::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                "blob unknown to registry",
            ),
            Code::DigestInvalid => (
                S::BAD_REQUEST,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
            ),
            Code::BlobUnknown => (S::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry"),
            Code::BlobUploadUnknown => (
                S::NOT_FOUND,
                "BLOB_UPLOAD_UNKNOWN",
                "blob upload unknown to registry",
            ),
            Code::Unsupported => (
                S::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "The operation is unsupported.",
            ),
        }
    }

    /// The error reply for this code; `detail` is what distribution puts there (often `null`).
    pub fn reply(self, detail: serde_json::Value, head: bool) -> Response {
        let (status, code, message) = self.parts();
        error(status, code, message, detail, head)
    }

    /// The reply with no detail, the most common case.
    pub fn bare(self, head: bool) -> Response {
        self.reply(serde_json::Value::Null, head)
    }
}

/// A storage failure: 500 `UNKNOWN` with the I/O error as message.
pub fn internal(e: &std::io::Error, head: bool) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        &e.to_string(),
        serde_json::Value::Null,
        head,
    )
}

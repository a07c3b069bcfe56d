//! Verifying AWS Signature Version 4 for fakes that moto cannot check for us (moto has no ECR
//! Public). The signature is recomputed from the canonical request with the secret of the caller's
//! key, exactly as AWS does (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
//! using aws-sigv4's key derivation. Keys are the fake cloud's: its IAM users and every temporary
//! credential it minted.

use axum::http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A key's secret and, for temporary credentials, its session token.
type Secret = (String, Option<String>);

/// Access key id → its secret.
#[derive(Clone, Default)]
pub struct KeyStore(Arc<Mutex<HashMap<String, Secret>>>);

impl KeyStore {
    pub fn add(&self, access_key_id: &str, secret: &str, session_token: Option<&str>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(
            access_key_id.into(),
            (secret.into(), session_token.map(str::to_string)),
        );
    }

    fn get(&self, access_key_id: &str) -> Option<Secret> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
            .cloned()
    }
}

/// An AWS JSON-protocol error: status, `__type`, message.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn reject(code: &'static str, message: &str) -> Rejection {
    Rejection {
        status: StatusCode::BAD_REQUEST,
        code,
        message: message.into(),
    }
}

/// Checks the request's SigV4 `Authorization` header for `service`; returns the caller's key id.
pub fn verify(
    keys: &KeyStore,
    service: &str,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Rejection> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            reject(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
        })?;
    let fields = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        reject(
            "IncompleteSignatureException",
            "Unsupported signature algorithm",
        )
    })?;
    let mut credential = "";
    let mut signed_headers = "";
    let mut signature = "";
    for part in fields.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, scope_service, "aws4_request"] = scope[..] else {
        return Err(reject(
            "IncompleteSignatureException",
            "Authorization header requires a valid Credential",
        ));
    };
    if scope_service != service {
        return Err(reject(
            "InvalidSignatureException",
            &format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    let Some((secret, session_token)) = keys.get(akid) else {
        return Err(reject(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    };
    if let Some(expected) = session_token
        && headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            != Some(expected.as_str())
    {
        return Err(reject(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    let canonical_request =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let time = time::PrimitiveDateTime::parse(
        amz_date,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .map_err(|_| {
        reject(
            "IncompleteSignatureException",
            "X-Amz-Date is missing or malformed",
        )
    })?
    .assume_utc();
    let key = aws_sigv4::sign::v4::generate_signing_key(&secret, time.into(), region, service);
    let expected = aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes());
    if expected != signature {
        return Err(reject(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(akid.to_string())
}

//! STS `AssumeRoleWithWebIdentity` emulator (the IRSA exchange) on
//! `https://sts.<region>.amazonaws.com` and `https://sts.amazonaws.com`.
//!
//! awsQuery protocol: `POST /`, form body, XML reply in the `https://sts.amazonaws.com/doc/2011-06-15/`
//! namespace; the operation is unsigned (shared/research/auth-protocol-facts.md §5). Unlike moto, the
//! token is checked: signature by the cluster's OIDC key, issuer, audience `sts.amazonaws.com`,
//! expiry, and the role's trust in the token's subject. Errors use the query-protocol envelope.

use super::events::{EventLog, request_id};
use super::issuer::CredentialIssuer;
use super::oidc::{self, IRSA_AUDIENCE, OidcKeys};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jsonwebtoken::errors::ErrorKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const FAKE: &str = "sts";
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub struct Sts {
    pub oidc: OidcKeys,
    /// Role ARN → subjects its trust policy allows (`system:serviceaccount:NS:SA`).
    pub trust: BTreeMap<String, Vec<String>>,
    pub issuer: CredentialIssuer,
    pub events: EventLog,
}

pub fn router(sts: Arc<Sts>) -> Router {
    Router::new().route("/", post(handle)).with_state(sts)
}

struct StsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> StsError {
    StsError {
        status,
        code,
        message: message.into(),
    }
}

async fn handle(
    State(sts): State<Arc<Sts>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let action = form.get("Action").cloned().unwrap_or_default();
    let reply = assume(&sts, &form).await;
    let xml = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    match reply {
        Ok(body) => {
            sts.events.push(
                FAKE,
                format!("POST / Action={action}"),
                200,
                "credentials issued",
            );
            ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
        }
        Err(e) => {
            sts.events.push(
                FAKE,
                format!("POST / Action={action}"),
                e.status.as_u16(),
                format!("{}: {}", e.code, e.message),
            );
            let body = format!(
                "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                e.code,
                xml(&e.message),
                request_id()
            );
            (e.status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
        }
    }
}

async fn assume(sts: &Sts, form: &HashMap<String, String>) -> Result<String, StsError> {
    let action = form.get("Action").map(String::as_str).unwrap_or_default();
    if action != "AssumeRoleWithWebIdentity" {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Could not find operation {action} for version 2011-06-15"),
        ));
    }
    let required = |name: &str, member: &str| {
        form.get(name).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
            err(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
            )
        })
    };
    let role_arn = required("RoleArn", "roleArn")?;
    let session = required("RoleSessionName", "roleSessionName")?;
    let token = required("WebIdentityToken", "webIdentityToken")?;

    let claims = sts.oidc.verify(&token, IRSA_AUDIENCE).map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature => err(
            StatusCode::BAD_REQUEST,
            "ExpiredTokenException",
            format!("Token expired: current date/time {} must be before the expiration date/time {}", oidc::now(), exp_of(&token)),
        ),
        ErrorKind::InvalidAudience => err(StatusCode::BAD_REQUEST, "InvalidIdentityToken", "Incorrect token audience"),
        ErrorKind::InvalidIssuer => err(StatusCode::BAD_REQUEST, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for the token's issuer"),
        ErrorKind::ImmatureSignature => err(StatusCode::BAD_REQUEST, "InvalidIdentityToken", "Token is not yet valid"),
        _ => err(StatusCode::BAD_REQUEST, "InvalidIdentityToken", "Couldn't verify the identity token"),
    })?;
    let trusted = sts
        .trust
        .get(&role_arn)
        .is_some_and(|subs| subs.contains(&claims.sub));
    if !trusted {
        return Err(err(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ));
    }
    let duration = form
        .get("DurationSeconds")
        .and_then(|d| d.parse().ok())
        .unwrap_or(3600);
    let creds = sts
        .issuer
        .assume_role(&role_arn, &session, duration)
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", e))?;
    let provider = oidc::ISSUER.trim_start_matches("https://");
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    Ok(format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{XMLNS}\"><AssumeRoleWithWebIdentityResult>\
<SubjectFromWebIdentityToken>{sub}</SubjectFromWebIdentityToken><Audience>{IRSA_AUDIENCE}</Audience>\
<AssumedRoleUser><Arn>{arn}</Arn><AssumedRoleId>AROAAUTHMATRIX:{session}</AssumedRoleId></AssumedRoleUser>\
<Credentials><SessionToken>{token}</SessionToken><SecretAccessKey>{secret}</SecretAccessKey>\
<Expiration>{exp}</Expiration><AccessKeyId>{akid}</AccessKeyId></Credentials>\
<Provider>arn:aws:iam::{account}:oidc-provider/{provider}</Provider>\
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>\
</AssumeRoleWithWebIdentityResponse>",
        sub = claims.sub,
        arn = creds.assumed_role_arn,
        token = creds.session_token,
        secret = creds.secret_access_key,
        exp = creds.expiration,
        akid = creds.access_key_id,
        rid = request_id(),
    ))
}

fn exp_of(token: &str) -> i64 {
    jsonwebtoken::dangerous::insecure_decode::<oidc::Claims>(token)
        .map(|d| d.claims.exp)
        .unwrap_or(0)
}

//! Which real service a registry impersonates. A [`Personality`] only picks the authorization
//! code (`auth` for Basic credentials, `bearer` for tokens); the routes ask it, and nothing below
//! asks the routes.

use super::auth::{self, EcrTokens, Scope};
use super::bearer::{EcrPublicAuth, TokenAuth};
use axum::http::HeaderMap;
use axum::response::Response;
use std::collections::HashMap;

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
    Token(TokenAuth),
    EcrPublic(EcrPublicAuth),
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
        match self {
            Personality::Basic { realm, users } => {
                auth::authorize_htpasswd(realm, users, headers, scope)
            }
            Personality::EcrPrivate { host, tokens } => {
                auth::authorize_ecr_private(host, tokens, headers, scope)
            }
            Personality::Token(t) => t.authorize(headers, scope),
            Personality::EcrPublic(p) => p.authorize(headers, scope),
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

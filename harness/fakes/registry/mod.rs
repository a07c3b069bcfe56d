//! An OCI distribution registry (pull and push, on disk) whose authentication answers exactly as
//! distribution 2.8 (htpasswd or token auth), Amazon ECR or ECR Public does.

// An authorization failure *is* the HTTP reply, built once per refused request.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod bearer;
mod errors;
pub mod image;
pub mod personalities;
pub mod routes;
pub mod storage;

pub use auth::EcrTokens;
pub use personalities::Personality;
pub use routes::{Registry, router};
pub use storage::Storage;

//! An OCI distribution registry (pull and push, on disk) whose authentication answers exactly as
//! distribution 2.8 with htpasswd or Amazon ECR does.

pub mod auth;
pub mod bearer;
pub mod image;
pub mod routes;
pub mod storage;

pub use auth::{EcrTokens, Personality};
pub use routes::{Registry, router};
pub use storage::Storage;

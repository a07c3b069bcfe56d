//! The fake cloud: faithful stand-ins for the AWS endpoints Argo's code talks to.
//!
//! A library that knows nothing of namespaces or clusters: callers choose every address and name,
//! and [`cloud::CloudBuilder`] assembles the fakes into one cloud. The local backend runs it inside
//! a private network namespace; the kind backend will run the same code inside a cluster.

pub mod ca;
pub mod cloud;
pub mod ecr_api;
pub mod eks_webhook;
pub mod events;
pub mod faults;
pub mod issuer;
pub mod minio;
pub mod moto;
pub mod oidc;
pub mod pod_identity;
pub mod registry;
pub mod serve;
pub mod sigv4;
pub mod sts;
pub mod world;

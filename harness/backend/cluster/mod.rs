//! The cluster backend: Argo's released workflow-controller against a real Kubernetes API server.

pub mod build;
pub mod manifests;

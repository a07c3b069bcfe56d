//! Who exists in the fake cloud: one AWS account, one role for artifacts, and the workflow pod's
//! service account, trusted by that role for IRSA and associated with it for Pod Identity.

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const NAMESPACE: &str = "argo";
pub const SERVICE_ACCOUNT: &str = "default";
pub const ARTIFACT_ROLE: &str = "argo-artifacts";

pub fn subject() -> String {
    format!("system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
}

pub fn role_arn(role: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{role}")
}

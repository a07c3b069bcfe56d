//! Who exists in the fake cloud: one AWS account, one role for artifacts, and the service accounts
//! trusted by that role for IRSA and associated with it for Pod Identity: the workflow pod's, and
//! the workflow-controller's (`argo` in `argo`, as Argo's manifests create it), which the cluster
//! backend's controller runs as.

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const NAMESPACE: &str = "argo";
pub const SERVICE_ACCOUNT: &str = "default";
pub const ARTIFACT_ROLE: &str = "argo-artifacts";

pub const CONTROLLER_SERVICE_ACCOUNT: &str = "argo";

/// The image config every seeded image has: what a successful entrypoint lookup returns.
pub const SEEDED_ENTRYPOINT: &[&str] = &["/bin/busybox"];
pub const SEEDED_CMD: &[&str] = &["echo", "hello from authmatrix"];

pub fn subject() -> String {
    format!("system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
}

/// Every subject the artifact role trusts (IRSA) and is associated with (Pod Identity).
pub fn trusted_subjects() -> Vec<String> {
    vec![
        subject(),
        format!("system:serviceaccount:{NAMESPACE}:{CONTROLLER_SERVICE_ACCOUNT}"),
    ]
}

pub fn role_arn(role: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{role}")
}

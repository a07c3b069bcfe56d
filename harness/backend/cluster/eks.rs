//! What EKS adds to a cluster, whichever provider made it: the mutating webhook that gives pods
//! their AWS identity (IRSA, Pod Identity), served by the fake cloud (`fakes::eks_webhook`).

use crate::backend::sandbox::network;
use crate::fakes::eks_webhook;
use crate::fakes::oidc::OidcKeys;
use std::path::{Path, PathBuf};

/// File names of the API server's service-account keys (`write_service_account_keys`).
pub const SA_KEY: &str = "sa.key";
pub const SA_PUB: &str = "sa.pub";

/// The API server's service-account keys, as files.
pub struct ServiceAccountKeys {
    /// `--service-account-signing-key-file` (and the controller-manager's private key file).
    pub key: PathBuf,
    /// `--service-account-key-file`.
    pub public: PathBuf,
}

/// Writes the cluster's service-account keys into `dir` (made if missing): the fake cloud's OIDC
/// keys, so that STS and EKS Auth trust the tokens the API server issues, as they trust EKS's issuer.
pub fn write_service_account_keys(
    oidc: &OidcKeys,
    dir: &Path,
) -> Result<ServiceAccountKeys, String> {
    crate::cleanup::create_dir_all(dir).map_err(|e| e.to_string())?;
    let write = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok::<_, String>(path)
    };
    Ok(ServiceAccountKeys {
        key: write(SA_KEY, &oidc.private_pem)?,
        public: write(SA_PUB, &oidc.public_pem)?,
    })
}

/// The EKS webhook, as EKS registers it: pods of Argo's workflows, on CREATE, failing closed.
pub fn webhook_configuration(ca_file: &Path) -> Result<serde_json::Value, String> {
    use base64::Engine;
    let ca = std::fs::read(ca_file).map_err(|e| e.to_string())?;
    Ok(serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": eks_webhook::FAKE},
        "webhooks": [{
            "name": format!("{}.amazonaws.com", eks_webhook::FAKE),
            "clientConfig": {
                "url": format!("https://{}{}", network::EKS_WEBHOOK_HOST, eks_webhook::PATH),
                "caBundle": base64::engine::general_purpose::STANDARD.encode(ca),
            },
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "objectSelector": {"matchExpressions": [{"key": "workflows.argoproj.io/workflow", "operator": "Exists"}]},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "reinvocationPolicy": "IfNeeded",
        }],
    }))
}

//! What EKS adds to a cluster, whichever provider made it: the mutating webhook that gives pods
//! their AWS identity (IRSA, Pod Identity), served by the fake cloud (`fakes::eks_webhook`).

use crate::backend::sandbox::network;
use crate::fakes::eks_webhook;
use std::path::Path;

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

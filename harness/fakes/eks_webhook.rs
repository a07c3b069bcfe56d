//! The mutating admission webhook EKS runs for pod identities: amazon-eks-pod-identity-webhook for
//! IRSA and the EKS Pod Identity webhook (auth-protocol-facts.md §4.1, §5). On a pod's CREATE it adds
//! one token volume and, to every container and init container, the AWS environment and the
//! volume's mount — so Argo's init and wait containers see exactly what they see on EKS.
//!
//! Which identity a pod gets is EKS's knowledge (a ServiceAccount annotation, a Pod Identity
//! association); here the harness says it per cell ([`Injection`]). No injection: the pod is
//! admitted unchanged, as on a cluster without either feature.

use super::events::EventLog;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const FAKE: &str = "eks-pod-identity-webhook";
pub const PATH: &str = "/mutate";

/// What the webhook adds to a pod.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Injection {
    /// `irsa` or `pod-identity`, for the evidence.
    pub mode: String,
    pub env: BTreeMap<String, String>,
    /// A `core/v1` Volume (a projected service-account token, as EKS mounts it).
    pub volume: serde_json::Value,
    pub mount_path: String,
}

#[derive(Default)]
pub struct Webhook {
    pub injection: Mutex<Option<Injection>>,
    pub events: EventLog,
}

pub fn router(webhook: Arc<Webhook>) -> Router {
    Router::new().route(PATH, post(mutate)).with_state(webhook)
}

async fn mutate(State(webhook): State<Arc<Webhook>>, body: Bytes) -> Response {
    let Ok(review) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not an AdmissionReview\n").into_response();
    };
    let request = &review["request"];
    let uid = request["uid"].clone();
    let pod = &request["object"];
    let name = pod["metadata"]["name"]
        .as_str()
        .or(pod["metadata"]["generateName"].as_str())
        .unwrap_or_default()
        .to_string();
    let injection = webhook
        .injection
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut response = serde_json::json!({"uid": uid, "allowed": true});
    let detail = match &injection {
        Some(inj) => {
            let patch = patch(pod, inj);
            response["patchType"] = "JSONPatch".into();
            response["patch"] = base64::engine::general_purpose::STANDARD
                .encode(patch.to_string())
                .into();
            format!("pod {name}: injected {} identity", inj.mode)
        }
        None => format!("pod {name}: no identity to inject"),
    };
    webhook
        .events
        .push(FAKE, format!("POST {PATH}"), 200, detail);
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        review.to_string(),
    )
        .into_response()
}

/// The RFC 6902 patch that adds the injection to `pod`. Arrays that do not exist yet are created
/// whole (a JSON Patch `add` to `/-` needs an existing array).
pub fn patch(pod: &serde_json::Value, inj: &Injection) -> serde_json::Value {
    let mut ops = Vec::new();
    let mut add =
        |path: String, existing: Option<&serde_json::Value>, items: Vec<serde_json::Value>| {
            if existing.and_then(|v| v.as_array()).is_some() {
                for item in items {
                    ops.push(
                    serde_json::json!({"op": "add", "path": format!("{path}/-"), "value": item}),
                );
                }
            } else {
                ops.push(serde_json::json!({"op": "add", "path": path, "value": items}));
            }
        };
    let spec = &pod["spec"];
    add(
        "/spec/volumes".into(),
        spec.get("volumes"),
        vec![inj.volume.clone()],
    );
    let env: Vec<serde_json::Value> = inj
        .env
        .iter()
        .map(|(k, v)| serde_json::json!({"name": k, "value": v}))
        .collect();
    let mount = serde_json::json!({
        "name": inj.volume["name"],
        "mountPath": inj.mount_path,
        "readOnly": true,
    });
    for list in ["initContainers", "containers"] {
        for (i, container) in spec[list].as_array().into_iter().flatten().enumerate() {
            let base = format!("/spec/{list}/{i}");
            add(format!("{base}/env"), container.get("env"), env.clone());
            add(
                format!("{base}/volumeMounts"),
                container.get("volumeMounts"),
                vec![mount.clone()],
            );
        }
    }
    serde_json::Value::Array(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_gets_the_environment_and_the_mount() {
        let pod = serde_json::json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "wait", "env": [{"name": "A", "value": "1"}]}, {"name": "main"}],
            "volumes": [{"name": "var-run-argo"}],
        }});
        let inj = Injection {
            mode: "irsa".into(),
            env: BTreeMap::from([("AWS_ROLE_ARN".into(), "arn".into())]),
            volume: serde_json::json!({"name": "aws-iam-token"}),
            mount_path: "/var/run/secrets/eks.amazonaws.com/serviceaccount".into(),
        };
        let ops = patch(&pod, &inj);
        let paths: Vec<&str> = ops
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/spec/volumes/-",
                "/spec/initContainers/0/env",
                "/spec/initContainers/0/volumeMounts",
                "/spec/containers/0/env/-",
                "/spec/containers/0/volumeMounts",
                "/spec/containers/1/env",
                "/spec/containers/1/volumeMounts",
            ]
        );
        assert_eq!(ops[1]["value"][0]["name"], "AWS_ROLE_ARN");
    }
}

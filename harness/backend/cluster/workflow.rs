//! One cell on a cluster: the scenario's objects are created, the Workflow is submitted, and the
//! controller's answer is read back from the API server — a pod it created, or the message it put
//! on the workflow or its node. Watching and judging live here; the backend wires them up.

use super::kube::{self, Client};
use crate::backend::objects::{Objects, SuccessCheck};
use crate::shared::ObservedOutcome;
use ::kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use k8s_openapi::api::core::v1::{Event, Pod, Secret, ServiceAccount};
use std::time::Duration;

/// What the controller did with the submitted Workflow.
#[derive(Debug)]
pub enum Seen {
    /// It created the workflow's pod (all an entrypoint lookup needs to show).
    Pod(Box<Pod>),
    /// The workflow ran to success on the node (its pod, as it ended).
    Succeeded(Box<Pod>),
    /// The node cannot start the pod's containers (e.g. `ErrImagePull`): what the kubelet says.
    PodStuck { reason: String, message: String },
    /// It marked the pod node failed or errored, with this message.
    NodeFailed { phase: String, message: String },
    /// It marked the whole workflow failed or errored (e.g. after a recovered panic).
    WorkflowFailed { phase: String, message: String },
    /// Nothing within the cell's time.
    Nothing,
}

/// Makes sure the namespace exists and has its `default` ServiceAccount, which the
/// controller-manager (re)creates and without which pods are refused.
pub async fn ensure_namespace(client: &Client, namespace: &str) -> Result<(), String> {
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    kube::apply(client, &ns).await?;
    let what = "the namespace's default ServiceAccount";
    kube::until_default_service_account(client, namespace, Duration::from_secs(30), what).await
}

/// Deletes what the cell created — its Workflow (its pod goes with it), Secrets and
/// ServiceAccounts — so the next cell starts from Argo's install alone. A deleted `default`
/// ServiceAccount comes back clean from the controller-manager.
pub async fn remove(client: &Client, objs: &Objects) -> Result<(), String> {
    let ns = objs.namespace.as_str();
    let (workflows, name) = kube::api_for(client, &objs.workflow)?;
    let gone = |r: Result<_, ::kube::Error>| match r {
        Ok(_) => Ok(()),
        Err(::kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    gone(
        workflows
            .delete(&name, &DeleteParams::background())
            .await
            .map(|_| ()),
    )?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    for s in &objs.secrets {
        gone(
            secrets
                .delete(
                    s.metadata.name.as_deref().unwrap_or_default(),
                    &DeleteParams::default(),
                )
                .await
                .map(|_| ()),
        )?;
    }
    for object in &objs.rbac {
        let (api, name) = kube::api_for(client, object)?;
        gone(
            api.delete(&name, &DeleteParams::default())
                .await
                .map(|_| ()),
        )?;
    }
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    for sa in &objs.service_accounts {
        gone(
            sas.delete(
                sa.metadata.name.as_deref().unwrap_or_default(),
                &DeleteParams::default(),
            )
            .await
            .map(|_| ()),
        )?;
    }
    Ok(())
}

/// How far a cell follows its workflow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The controller created the pod (or failed the node before).
    PodCreated,
    /// The workflow ended, or its pod is stuck on the node.
    WorkflowDone,
}

/// Polls the workflow and its pods until the controller has decided, or `timeout` passes.
pub async fn watch(
    client: &Client,
    workflow: &serde_json::Value,
    until: Until,
    timeout: Duration,
) -> Result<(Seen, serde_json::Value), String> {
    let (api, name) = kube::api_for(client, workflow)?;
    let namespace = workflow["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("workflows.argoproj.io/workflow={name}"));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = serde_json::Value::Null;
    loop {
        if let Ok(wf) = api.get(&name).await {
            last = serde_json::to_value(&wf).unwrap_or_default();
            if let Some(seen) = decided(&wf) {
                return Ok((seen, last));
            }
        }
        if let Ok(list) = pods.list(&selector).await
            && let Some(pod) = list.items.into_iter().next()
        {
            match until {
                Until::PodCreated => return Ok((Seen::Pod(Box::new(pod)), last)),
                Until::WorkflowDone => {
                    if last["status"]["phase"] == "Succeeded" {
                        return Ok((Seen::Succeeded(Box::new(pod)), last));
                    }
                    if let Some((reason, message)) = stuck(&pod) {
                        return Ok((Seen::PodStuck { reason, message }, last));
                    }
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((Seen::Nothing, last));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A container the kubelet cannot start for a reason that retrying will not change by itself.
fn stuck(pod: &Pod) -> Option<(String, String)> {
    let status = pod.status.as_ref()?;
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in all {
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            if matches!(
                reason.as_str(),
                "ErrImagePull"
                    | "ImagePullBackOff"
                    | "CreateContainerConfigError"
                    | "InvalidImageName"
            ) {
                return Some((reason, w.message.clone().unwrap_or_default()));
            }
        }
    }
    None
}

/// A failed or errored pod node, or a failed or errored workflow, read from its status.
fn decided(wf: &DynamicObject) -> Option<Seen> {
    let status = wf.data.get("status")?;
    let failed = |phase: &str| matches!(phase, "Failed" | "Error");
    for node in status["nodes"]
        .as_object()
        .into_iter()
        .flat_map(|n| n.values())
    {
        let phase = node["phase"].as_str().unwrap_or_default();
        if node["type"] == "Pod" && failed(phase) {
            return Some(Seen::NodeFailed {
                phase: phase.into(),
                message: node["message"].as_str().unwrap_or_default().into(),
            });
        }
    }
    let phase = status["phase"].as_str().unwrap_or_default();
    failed(phase).then(|| Seen::WorkflowFailed {
        phase: phase.into(),
        message: status["message"].as_str().unwrap_or_default().into(),
    })
}

/// The events about the workflow and its pod, oldest first, as `kind reason: message` lines.
pub async fn events(client: &Client, workflow: &serde_json::Value) -> Vec<String> {
    let name = workflow["metadata"]["name"].as_str().unwrap_or_default();
    let ns = workflow["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut items = api
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    items.retain(|e| {
        e.involved_object
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(name))
    });
    items.sort_by_key(|e| e.metadata.creation_timestamp.clone());
    items
        .into_iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e.involved_object.kind.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect()
}

/// What the controller's decision means for the cell. `main_output` is what the workflow's main
/// container printed on stdout (read from the node; empty where pods do not run).
pub fn workflow_outcome(
    seen: &Seen,
    success: &SuccessCheck,
    main_output: &str,
) -> (ObservedOutcome, String) {
    match seen {
        Seen::Pod(pod) => {
            let SuccessCheck::SameImageConfig { entrypoint, cmd } = success else {
                return (
                    ObservedOutcome::Error,
                    "a pod was created for a scenario that expects no image lookup".into(),
                );
            };
            let Some((got_entrypoint, got_cmd)) = main_command(pod) else {
                return (
                    ObservedOutcome::Error,
                    "the workflow's pod has no main container with an emissary command".into(),
                );
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if &got_entrypoint == entrypoint && &got_cmd == cmd {
                (
                    ObservedOutcome::Pass,
                    format!(
                        "the controller created pod {name}: entrypoint {got_entrypoint:?}, cmd {got_cmd:?}"
                    ),
                )
            } else {
                (
                    ObservedOutcome::Fail,
                    format!(
                        "the controller created pod {name} with entrypoint {got_entrypoint:?} and cmd {got_cmd:?}, the image has {entrypoint:?} and {cmd:?}"
                    ),
                )
            }
        }
        Seen::Succeeded(_) => main_output_outcome(main_output, success),
        Seen::PodStuck { reason, message } => {
            (ObservedOutcome::Fail, format!("{reason}: {message}"))
        }
        Seen::NodeFailed { message, .. } | Seen::WorkflowFailed { message, .. } => {
            (ObservedOutcome::Fail, message.clone())
        }
        Seen::Nothing => (
            ObservedOutcome::Error,
            "the controller neither created the workflow's pod nor marked it failed in time".into(),
        ),
    }
}

/// A workflow that succeeded passes when its main container printed exactly the expected body
/// (the executor-s3 workflow's main container `cat`s the input artifact).
fn main_output_outcome(main_log: &str, success: &SuccessCheck) -> (ObservedOutcome, String) {
    match success {
        SuccessCheck::SameBody(body) if main_log == body => (
            ObservedOutcome::Pass,
            "the workflow succeeded and its main container read the seeded object".into(),
        ),
        SuccessCheck::SameBody(body) => (
            ObservedOutcome::Fail,
            format!(
                "the workflow succeeded, but its main container printed {main_log:?}, not the seeded {body:?}"
            ),
        ),
        SuccessCheck::WorkflowSucceeds => (
            ObservedOutcome::Pass,
            "the workflow succeeded on the node".into(),
        ),
        SuccessCheck::SameImageConfig { .. } => (
            ObservedOutcome::Error,
            "an entrypoint scenario's workflow was followed to its end".into(),
        ),
    }
}

/// The main container's entrypoint and cmd as the emissary executor will run them: the controller
/// writes `argoexec emissary … -- <entrypoint…>` as the command and the image's cmd as args.
pub fn main_command(pod: &Pod) -> Option<(Vec<String>, Vec<String>)> {
    let main = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == "main")?;
    let command = main.command.clone().unwrap_or_default();
    let at = command.iter().position(|a| a == "--")?;
    Some((
        command[at + 1..].to_vec(),
        main.args.clone().unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn pod(command: &[&str], args: &[&str]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "main".into(),
                    command: Some(command.iter().map(|s| s.to_string()).collect()),
                    args: Some(args.iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn image(entrypoint: &[&str], cmd: &[&str]) -> SuccessCheck {
        SuccessCheck::SameImageConfig {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_pod_passes_only_with_the_images_entrypoint_and_cmd() {
        let p = pod(
            &["/var/run/argo/argoexec", "emissary", "--", "/bin/busybox"],
            &["echo", "hi"],
        );
        let want = image(&["/bin/busybox"], &["echo", "hi"]);
        assert_eq!(
            workflow_outcome(&Seen::Pod(Box::new(p.clone())), &want, "").0,
            ObservedOutcome::Pass
        );
        let other = image(&["/bin/sh"], &["echo", "hi"]);
        assert_eq!(
            workflow_outcome(&Seen::Pod(Box::new(p)), &other, "").0,
            ObservedOutcome::Fail
        );
    }

    #[test]
    fn a_pod_without_the_emissary_separator_is_not_a_pass() {
        let p = pod(&["/bin/busybox"], &["echo", "hi"]);
        let want = image(&["/bin/busybox"], &["echo", "hi"]);
        assert_eq!(
            workflow_outcome(&Seen::Pod(Box::new(p)), &want, "").0,
            ObservedOutcome::Error
        );
    }

    #[test]
    fn node_and_workflow_failures_carry_the_controllers_message() {
        let seen = Seen::NodeFailed {
            phase: "Error".into(),
            message: "failed to look-up".into(),
        };
        assert_eq!(
            workflow_outcome(&seen, &image(&[], &[]), ""),
            (ObservedOutcome::Fail, "failed to look-up".into())
        );
        assert_eq!(
            workflow_outcome(&Seen::Nothing, &image(&[], &[]), "").0,
            ObservedOutcome::Error
        );
    }

    #[test]
    fn a_failed_pod_node_decides_before_the_workflow_phase() {
        let wf: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
            "status": {"phase": "Error", "message": "child failed",
                       "nodes": {"w": {"type": "Pod", "phase": "Error", "message": "401 Unauthorized"}}}
        }))
        .unwrap();
        match decided(&wf) {
            Some(Seen::NodeFailed { message, .. }) => assert_eq!(message, "401 Unauthorized"),
            other => panic!("{other:?}"),
        }
        let running: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
            "status": {"phase": "Running", "nodes": {"w": {"type": "Pod", "phase": "Pending"}}}
        }))
        .unwrap();
        assert!(decided(&running).is_none());
    }
}

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
    /// The pod cannot start for a reason that waiting will not change (a Secret volume that
    /// cannot mount, `ErrImagePull`, an unschedulable pod): what the kubelet or the scheduler
    /// says, and the workflow's own phase and progress beside it (`Running 0/1`).
    PodStuck { blocked: Blocked, workflow: String },
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

/// What a cell saw of its workflow: the decision, the workflow as last read, and its pod as last
/// read (also when nothing was decided: the evidence shows how far the pod got).
pub struct Watched {
    pub seen: Seen,
    pub workflow: serde_json::Value,
    pub pod: Option<Pod>,
}

/// How long a pod must stay unable to start before the cell is decided.
///
/// Every reason [`blocked`] knows is one the kubelet or the scheduler retries (a mount every
/// 0.5 s doubling to 2 min, a pull with a 10 s back-off doubling, the scheduler on any cluster
/// change), so each could in principle heal: a Secret created late is mounted on the next retry.
/// In a cell it cannot: the scenario's objects are all created before the Workflow, and nothing
/// changes the namespace after. And a `secret "…" not found` is not a stale cache: the kubelet's
/// watch-based Secret manager waits for its reflector's first list from the API server before it
/// answers NotFound (`pkg/kubelet/util/manager/watch_based_manager.go`, Kubernetes v1.34.1). So
/// the first definitive reason decides; the short wait only lets what belongs with it arrive — the
/// events the kubelet emits around it (`FailedToRetrieveImagePullSecret` comes before the 401) and
/// the workflow's status — instead of the 60 s blanket timeout.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Polls the workflow and its pods until the controller has decided, the pod cannot start (for
/// [`SETTLE`]), or `timeout` passes.
pub async fn watch(
    client: &Client,
    workflow: &serde_json::Value,
    until: Until,
    timeout: Duration,
) -> Result<Watched, String> {
    let (api, name) = kube::api_for(client, workflow)?;
    let namespace = workflow["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("workflows.argoproj.io/workflow={name}"));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut watched = Watched {
        seen: Seen::Nothing,
        workflow: serde_json::Value::Null,
        pod: None,
    };
    let mut blocked_since = None;
    loop {
        if let Ok(wf) = api.get(&name).await {
            watched.workflow = serde_json::to_value(&wf).unwrap_or_default();
            if let Some(seen) = decided(&wf) {
                watched.seen = seen;
                return Ok(watched);
            }
        }
        if let Ok(list) = pods.list(&selector).await
            && let Some(pod) = list.items.into_iter().next()
        {
            match until {
                Until::PodCreated => {
                    watched.seen = Seen::Pod(Box::new(pod));
                    return Ok(watched);
                }
                Until::WorkflowDone if watched.workflow["status"]["phase"] == "Succeeded" => {
                    watched.seen = Seen::Succeeded(Box::new(pod));
                    return Ok(watched);
                }
                Until::WorkflowDone => {
                    let pod_name = pod.metadata.name.clone().unwrap_or_default();
                    let about =
                        ListParams::default().fields(&format!("involvedObject.name={pod_name}"));
                    let said = events.list(&about).await.map(|l| l.items);
                    let why = blocked(&pod, &said.unwrap_or_default());
                    watched.pod = Some(pod);
                    if let Some(why) = why {
                        let since = *blocked_since.get_or_insert_with(tokio::time::Instant::now);
                        if since.elapsed() >= SETTLE {
                            let workflow = progress(&watched.workflow);
                            watched.seen = Seen::PodStuck {
                                blocked: why,
                                workflow,
                            };
                            return Ok(watched);
                        }
                    } else {
                        blocked_since = None;
                    }
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(watched);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Why a pod cannot start, in the words of the kubelet or the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub pod: String,
    /// What `kubectl get pod` shows as its STATUS (`Init:0/1`, `ErrImagePull`, `Pending`).
    pub shown: String,
    /// `FailedMount`, `ErrImagePull`, `CreateContainerConfigError`, `Unschedulable`, …
    pub reason: String,
    pub message: String,
}

/// Waiting reasons of a container the kubelet cannot create, whatever it retries.
const CANNOT_CREATE: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
];

/// The kubelet's mount errors for a Secret or ConfigMap volume whose object or key does not exist
/// (`pkg/volume/secret`, `pkg/volume/configmap`, NotFound from the kubelet's object manager, all
/// behind `MountVolume.SetUp failed for volume "…" : `). Other mount failures may be slow, not
/// wrong: they are left to the cell's timeout.
static MISSING_OBJECT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"^MountVolume\.SetUp failed for volume "[^"]*" : ((secret|configmap) "[^"]*" not found|(configmap )?references non-existent (secret|config) key: )"#,
    )
    .expect("valid regex")
});

/// Why the pod cannot start, if it is for a reason the judge knows to be definitive: a container
/// the kubelet cannot create (its waiting reason), a Secret or ConfigMap volume it cannot mount
/// (a `FailedMount` event), or a pod the scheduler cannot place (`PodScheduled=False`,
/// `Unschedulable`). `events` are the pod's, in any order.
pub fn blocked(pod: &Pod, events: &[Event]) -> Option<Blocked> {
    let status = pod.status.as_ref()?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let shown = kubectl_status(pod);
    let said = |reason: &str| {
        let mut matching: Vec<&Event> = events
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .collect();
        matching.sort_by_key(|e| e.first_timestamp.clone());
        matching
            .into_iter()
            .filter_map(|e| e.message.clone())
            .collect::<Vec<_>>()
    };
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in all {
        let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = w.reason.clone().unwrap_or_default();
        if CANNOT_CREATE.contains(&reason.as_str()) {
            let mut message = w.message.clone().unwrap_or_default();
            // The kubelet pulls without the pull secrets it could not read, and says so first.
            if let Some(before) = said("FailedToRetrieveImagePullSecret").first() {
                message = format!("{message} (FailedToRetrieveImagePullSecret: {before})");
            }
            return Some(Blocked {
                pod: name,
                shown,
                reason,
                message,
            });
        }
    }
    if let Some(message) = said("FailedMount")
        .into_iter()
        .find(|m| MISSING_OBJECT.is_match(m))
    {
        return Some(Blocked {
            pod: name,
            shown,
            reason: "FailedMount".into(),
            message,
        });
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    Some(Blocked {
        pod: name,
        shown,
        reason: "Unschedulable".into(),
        message: unschedulable.message.clone().unwrap_or_default(),
    })
}

/// The pod's STATUS as `kubectl get pod` prints it (kubectl's `printPod`, the cases a pod that
/// has not started can be in): the first unfinished init container (`Init:ErrImagePull`,
/// `Init:0/1`), else a waiting container's reason, else the pod's reason or phase.
pub fn kubectl_status(pod: &Pod) -> String {
    let Some(status) = pod.status.as_ref() else {
        return "Pending".into();
    };
    let inits = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    for (i, c) in inits.iter().enumerate() {
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = &state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            return match &t.reason {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => format!("Init:ExitCode:{}", t.exit_code),
            };
        }
        return match state.waiting.and_then(|w| w.reason) {
            Some(r) if !r.is_empty() && r != "PodInitializing" => format!("Init:{r}"),
            _ => format!("Init:{i}/{}", inits.len()),
        };
    }
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .find(|r| !r.is_empty());
    waiting
        .or_else(|| status.reason.clone())
        .or_else(|| status.phase.clone())
        .unwrap_or_else(|| "Pending".into())
}

/// What an undecided cell with a pod says: how far the pod got, beside the workflow's phase. Not a
/// finding (nothing says why the pod did not start), but the user sees where it stopped.
pub fn undecided(pod: &Pod, workflow: &serde_json::Value) -> String {
    format!(
        "no decision in time: pod {} is {}, the workflow {}",
        pod.metadata.name.as_deref().unwrap_or_default(),
        kubectl_status(pod),
        progress(workflow)
    )
}

/// The workflow's phase and progress as `argo list` shows them (`Running 0/1`).
fn progress(workflow: &serde_json::Value) -> String {
    let status = &workflow["status"];
    let phase = status["phase"].as_str().unwrap_or("Pending");
    match status["progress"].as_str() {
        Some(p) => format!("{phase} {p}"),
        None => phase.to_string(),
    }
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
        Seen::PodStuck { blocked, workflow } => {
            let Blocked {
                pod,
                shown,
                reason,
                message,
            } = blocked;
            // `stuck in ErrImagePull: ErrImagePull: …` says it twice.
            let why = if shown == reason {
                message.clone()
            } else {
                format!("{reason}: {message}")
            };
            (
                ObservedOutcome::Fail,
                format!(
                    "pod {pod} stuck in {shown}: {why}; the workflow never finishes: {workflow}"
                ),
            )
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

    /// A Pending Argo pod: its `init` container waiting (as the kubelet reports it before any
    /// volume mounted), `wait` and `main` likewise, unless `main` says otherwise.
    fn pending_pod(main_waiting: (&str, &str)) -> Pod {
        let waiting = |name: &str, reason: &str, message: &str| {
            serde_json::json!({"name": name, "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}}})
        };
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "wf-c1"},
            "status": {"phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "initContainerStatuses": [waiting("init", "PodInitializing", "")],
                "containerStatuses": [waiting("wait", "PodInitializing", ""),
                                      waiting("main", main_waiting.0, main_waiting.1)]}
        }))
        .unwrap()
    }

    fn event(reason: &str, message: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "wf-c1.1"}, "involvedObject": {"kind": "Pod", "name": "wf-c1"},
            "reason": reason, "message": message, "type": "Warning"
        }))
        .unwrap()
    }

    fn stuck(blocked: Blocked) -> Seen {
        Seen::PodStuck {
            blocked,
            workflow: "Running 0/1".into(),
        }
    }

    #[test]
    fn a_secret_volume_that_cannot_mount_blocks_the_pod_in_init() {
        let pod = pending_pod(("PodInitializing", ""));
        let missing = r#"MountVolume.SetUp failed for volume "no-such-secret" : secret "no-such-secret" not found"#;
        let events = [
            event("Scheduled", "Successfully assigned argo/wf-c1 to node"),
            event("FailedMount", missing),
        ];
        let why = blocked(&pod, &events).expect("blocked");
        assert_eq!(
            (why.shown.as_str(), why.reason.as_str()),
            ("Init:0/1", "FailedMount")
        );
        assert_eq!(
            workflow_outcome(&stuck(why), &SuccessCheck::WorkflowSucceeds, ""),
            (
                ObservedOutcome::Fail,
                format!(
                    "pod wf-c1 stuck in Init:0/1: FailedMount: {missing}; the workflow never finishes: Running 0/1"
                )
            )
        );
        let no_key = r#"MountVolume.SetUp failed for volume "s3-cred" : references non-existent secret key: accesskey"#;
        assert!(blocked(&pod, &[event("FailedMount", no_key)]).is_some());
        let configmap = r#"MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found"#;
        assert!(blocked(&pod, &[event("FailedMount", configmap)]).is_some());
    }

    #[test]
    fn other_mount_failures_and_a_pod_merely_starting_are_not_decided() {
        let pod = pending_pod(("PodInitializing", ""));
        assert_eq!(blocked(&pod, &[]), None);
        let slow = r#"MountVolume.SetUp failed for volume "data" : mount failed: exit status 32"#;
        assert_eq!(blocked(&pod, &[event("FailedMount", slow)]), None);
        let forbidden =
            r#"MountVolume.SetUp failed for volume "s3-cred" : secrets "s3-cred" is forbidden"#;
        assert_eq!(blocked(&pod, &[event("FailedMount", forbidden)]), None);
        assert_eq!(blocked(&Pod::default(), &[]), None);
    }

    #[test]
    fn a_container_the_kubelet_cannot_create_says_why() {
        let config = "couldn't find key accesskey in Secret argo/s3-cred";
        let why =
            blocked(&pending_pod(("CreateContainerConfigError", config)), &[]).expect("blocked");
        assert_eq!(why.shown, "Init:0/1");
        assert_eq!(
            workflow_outcome(&stuck(why), &SuccessCheck::WorkflowSucceeds, "").1,
            format!(
                "pod wf-c1 stuck in Init:0/1: CreateContainerConfigError: {config}; the workflow never finishes: Running 0/1"
            )
        );
    }

    #[test]
    fn a_pull_without_its_missing_pull_secret_names_both() {
        let mut pod = pending_pod(("ErrImagePull", "failed to pull: 401 Unauthorized"));
        // init has finished and wait runs: kubectl shows main's waiting reason.
        let status = pod.status.as_mut().unwrap();
        status.init_container_statuses.as_mut().unwrap()[0].state =
            serde_json::from_value(serde_json::json!({"terminated": {"exitCode": 0}})).unwrap();
        status.container_statuses.as_mut().unwrap()[0].state =
            serde_json::from_value(serde_json::json!({"running": {}})).unwrap();
        let retrieve = "Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed.";
        let why =
            blocked(&pod, &[event("FailedToRetrieveImagePullSecret", retrieve)]).expect("blocked");
        let (outcome, message) = workflow_outcome(&stuck(why), &SuccessCheck::WorkflowSucceeds, "");
        assert_eq!(outcome, ObservedOutcome::Fail);
        assert_eq!(
            message,
            format!(
                "pod wf-c1 stuck in ErrImagePull: failed to pull: 401 Unauthorized (FailedToRetrieveImagePullSecret: {retrieve}); the workflow never finishes: Running 0/1"
            )
        );
    }

    #[test]
    fn an_unschedulable_pod_is_blocked_with_the_schedulers_message() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "wf-c1"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."}]}
        }))
        .unwrap();
        let why = blocked(&pod, &[]).expect("blocked");
        assert_eq!(
            (why.shown.as_str(), why.reason.as_str()),
            ("Pending", "Unschedulable")
        );
        assert!(why.message.starts_with("0/1 nodes are available"));
    }

    #[test]
    fn an_undecided_cell_says_how_far_the_pod_got() {
        let wf = serde_json::json!({"status": {"phase": "Running", "progress": "0/1"}});
        assert_eq!(
            undecided(&pending_pod(("PodInitializing", "")), &wf),
            "no decision in time: pod wf-c1 is Init:0/1, the workflow Running 0/1"
        );
    }
}

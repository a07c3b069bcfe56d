//! The cluster backend: Argo's released workflow-controller, built per tag, against a real
//! Kubernetes API server — real RBAC from the tag's own manifests, real ServiceAccounts and pull
//! Secrets read through the API, service-account tokens issued by the API server.
//!
//! Each backend holds one sandbox with the fake cloud and one cluster (from its provider) that
//! serves every tag of the run. Cells run one after another in the namespace the scenarios' world
//! puts workflows in (`argo`, beside Argo's install, as the local backend's probes assume), each
//! with a controller of its own (its entrypoint cache and AWS identity are per cell) and with the
//! cell's objects removed after it. The namespace matters: Argo's cluster-install RBAC lets the
//! controller read Secrets only in its own namespace.

pub mod eks;
pub mod engine;
pub mod kind;
pub mod kube;
pub mod local_up;
pub mod manifests;
pub mod node;
pub mod provider;
mod workflow;

use super::cell;
use super::objects;
use super::sandbox::cloud::SandboxedCloud;
use super::{Backend, Builds, identity};
use crate::builds::cluster::{ControlPlane, ControllerBuild};
use crate::builds::cluster_builds::ClusterBuilds;
use crate::builds::images;
use crate::fakes::eks_webhook::Injection;
use crate::fakes::oidc::{IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE};
use crate::fakes::world;
use crate::scenario::{AuthMode, Component, Scenario, TokenKind};
use crate::shared::{ArgoLog, ArgoTag, Evidence, Observation, ObservedOutcome};
use kube::ClusterAccess;
use provider::{ClusterProvider, ControllerLaunch, ProviderKind, SandboxedController};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where Argo is installed, as its manifests say (`namespace: argo`).
const ARGO_NAMESPACE: &str = "argo";

#[derive(Clone)]
pub struct ClusterOptions {
    /// The `authmatrix` binary, which serves the sandbox.
    pub sandbox_exe: PathBuf,
    /// The project checkout: `cluster/` (wrapper modules) and `.venv`.
    pub project_root: PathBuf,
    pub cache_dir: PathBuf,
    pub provider: ProviderKind,
    /// How long the controller may take to decide about one workflow.
    pub cell_timeout: Duration,
}

/// `jobs` cluster backends, each with its own sandbox and cluster, sharing one set of builds: a
/// tag's cells run on any of them as soon as its controller is built.
pub fn pool(opts: &ClusterOptions, jobs: usize) -> anyhow::Result<Vec<Box<dyn Backend + Send>>> {
    let builds = Arc::new(ClusterBuilds::new(
        opts.cache_dir.clone(),
        opts.project_root.clone(),
    ));
    (0..jobs.max(1))
        .map(|_| {
            let backend = ClusterBackend::sharing(opts.clone(), Arc::clone(&builds))?;
            Ok(Box::new(backend) as Box<dyn Backend + Send>)
        })
        .collect()
}

pub struct ClusterBackend {
    opts: ClusterOptions,
    cloud: SandboxedCloud,
    provider: Option<Box<dyn ClusterProvider>>,
    /// Argo's controller of the cell that runs, if one does.
    controller: SandboxedController,
    access: Result<ClusterAccess, String>,
    kubernetes_version: String,
    builds: Arc<ClusterBuilds>,
    /// Tags whose argoexec image the node has (loaded before the tag's first cell).
    executors: HashSet<String>,
    /// Tags whose CRDs and RBAC are applied (the last one applied wins: one tag at a time).
    installed: Option<String>,
    cells: usize,
}

impl ClusterBackend {
    /// A backend with builds of its own (checks that drive one backend by hand).
    pub fn new(opts: ClusterOptions) -> anyhow::Result<Self> {
        let builds = ClusterBuilds::new(opts.cache_dir.clone(), opts.project_root.clone());
        Self::sharing(opts, Arc::new(builds))
    }

    fn sharing(opts: ClusterOptions, builds: Arc<ClusterBuilds>) -> anyhow::Result<Self> {
        // Cgroups of node containers whose run was killed before it could remove them.
        crate::cgroups::remove_orphans();
        let cloud = SandboxedCloud::new(&opts.project_root, &opts.cache_dir)?;
        Ok(ClusterBackend {
            opts,
            cloud,
            provider: None,
            controller: SandboxedController::default(),
            access: Err("the cluster has not been started".into()),
            kubernetes_version: String::new(),
            builds,
            executors: HashSet::new(),
            installed: None,
            cells: 0,
        })
    }

    /// The sandbox process, once started (for checks that it leaves nothing behind).
    pub fn sandbox_pid(&self) -> Option<u32> {
        self.cloud.sandbox_pid()
    }

    /// How to reach the cluster, once prepared.
    pub fn access(&self) -> Result<ClusterAccess, String> {
        self.access.clone()
    }

    /// The tag's workflow-controller and argoexec, once built (`Builds::build`).
    pub fn controller(&self, tag: &ArgoTag) -> Option<Result<ControllerBuild, String>> {
        self.builds.controller(tag)
    }

    /// The cluster's service-account signing key (what the fake STS and EKS Auth trust).
    pub fn oidc(&self) -> &crate::fakes::oidc::OidcKeys {
        &self.cloud.oidc
    }

    fn start_cluster(&mut self, plane: ControlPlane) -> Result<ClusterAccess, String> {
        let mut provider: Box<dyn ClusterProvider> = match self.opts.provider {
            ProviderKind::LocalUp => Box::new(local_up::LocalUp::new(plane)),
            ProviderKind::Kind => Box::new(kind::Kind::new(
                self.cloud.run_dir(),
                &self.opts.project_root,
                &self.opts.cache_dir,
            )?),
        };
        let started = Instant::now();
        let access = provider.up(&mut self.cloud);
        self.provider = Some(provider);
        let access = access?;
        crate::progress::line(&format!(
            "cluster ({}, Kubernetes {}) ready in {:.1} s",
            self.opts.provider.as_str(),
            self.kubernetes_version,
            started.elapsed().as_secs_f64()
        ));
        Ok(access)
    }

    /// The tag's argoexec as an image on the node (the controller names it `--executor-image`),
    /// before the tag's first cell: tags are built one after another while cells run. Every tag
    /// built by then goes in the same load (one load per archive batch, not per tag: on a warm
    /// cache that is every tag at once, as when the cluster was prepared before any cell).
    fn load_executor(&mut self, tag: &str) -> Result<(), String> {
        if self.provider.is_none() || self.executors.contains(tag) {
            return Ok(()); // No cluster, or the node has it from an earlier cell.
        }
        let ca = std::fs::read_to_string(&self.cloud.ca_file).map_err(|e| e.to_string())?;
        let dir = self.cloud.run_dir().join("images");
        crate::cleanup::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut archives = Vec::new();
        let new = self.builds.built().into_iter();
        for (tag, build) in new.filter(|(t, _)| !self.executors.contains(t)) {
            let image =
                images::argoexec_image(&tag, &build.argoexec, build.known_hosts.as_deref(), &ca)?;
            let path = dir.join(format!("argoexec-{tag}.tar"));
            images::write_archive(&image, &path)?;
            archives.push((tag, path));
        }
        let paths: Vec<_> = archives.iter().map(|(_, p)| p.clone()).collect();
        let provider = self.provider.as_mut().expect("checked above");
        let result = provider.load_images(&mut self.cloud, &paths);
        paths.iter().for_each(|p| drop(std::fs::remove_file(p)));
        result?;
        self.executors.extend(archives.into_iter().map(|(t, _)| t));
        Ok(())
    }

    /// Applies the tag's CRDs and controller RBAC, unless they are the ones in place.
    fn install(&mut self, tag: &str, build: &ControllerBuild) -> Result<(), String> {
        if self.installed.as_deref() == Some(tag) {
            return Ok(());
        }
        let objects = manifests::cluster_install(&build.manifests)?;
        let access = self.access.clone()?;
        access.talk(|c| async move {
            let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGO_NAMESPACE}});
            kube::apply(&c, &ns).await?;
            for o in &objects {
                kube::apply(&c, o).await?;
            }
            // A CRD is served a moment after it is created: until then creating a Workflow is
            // "404 page not found" (seen on a cluster's first cell).
            let probe = serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "-", "namespace": ARGO_NAMESPACE}});
            let (workflows, _) = kube::api_for(&c, &probe)?;
            let first = ::kube::api::ListParams::default().limit(1);
            kube::until(Duration::from_secs(60), "Argo's Workflow CRD to be served", || async {
                workflows.list(&first).await.ok()
            })
            .await?;
            Ok(())
        })?;
        self.installed = Some(tag.to_string());
        Ok(())
    }

    fn observe(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Result<Observation, String> {
        let cell = self.set_up(scenario, tag)?;
        let driven = self.drive(&cell)?;
        self.collect(&cell, driven)
    }

    /// The cell's objects, the controller's ConfigMap, tokens and environment, and the pod's
    /// identity at the EKS webhook; nothing runs yet.
    fn set_up(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Result<ClusterCell, String> {
        let build = self.builds.controller(tag);
        let build = cell::prepared(build.as_ref(), tag, "workflow-controller")?;
        self.load_executor(&tag.tag)?;
        self.install(&tag.tag, &build)?;
        let namespace = world::NAMESPACE.to_string();
        let mut start = cell::begin(&mut self.cloud, scenario, tag, &namespace)?;
        self.cells += 1;
        // Unique per cell: the same scenario runs on the next tag right after, and the previous
        // workflow's deletion need not be finished by then.
        let workflow_name = format!("{}-c{}", objects::workflow_name(scenario), self.cells);
        let workflow = &mut start.objects.workflow;
        workflow["metadata"]["name"] = workflow_name.clone().into();
        // This node has no pod network: its pods share the node's (the sandbox's) network, where
        // the fake cloud and the API server's ClusterIP are.
        workflow["spec"]["hostNetwork"] = true.into();
        let runs_pods = scenario.component != Component::ControllerEntrypoint;
        let injection = self.pod_identity(scenario, &namespace, runs_pods, &mut start.objects);
        self.cloud.inject(injection.clone())?;
        let success = objects::success_check(scenario)?;
        let (kubeconfig, env) = self.create_objects(scenario, &start.objects, &start.dir)?;
        Ok(ClusterCell {
            log: start.dir.join("workflow-controller.log"),
            tag: tag.tag.clone(),
            build,
            start,
            namespace,
            workflow_name,
            runs_pods,
            injection,
            kubeconfig,
            env,
            success,
        })
    }

    /// What EKS's webhook injects into the workflow's pod for the scenario's identity; its token
    /// becomes a Secret of the cell. None where no pod runs (the controller's identity is used).
    fn pod_identity(
        &mut self,
        scenario: &Scenario,
        namespace: &str,
        runs_pods: bool,
        objs: &mut objects::Objects,
    ) -> Option<Injection> {
        if !runs_pods {
            return None;
        }
        let (injection, token) = identity::eks_injection(
            scenario,
            &self.cloud.oidc,
            (namespace, world::SERVICE_ACCOUNT),
            &world::role_arn(world::ARTIFACT_ROLE),
        )?;
        if let Some(token) = token {
            self.cloud.redactor.add(&token);
            objs.secrets.push(objects::opaque_secret(
                identity::TOKEN_SECRET,
                namespace,
                &[("token", token.as_str())],
            ));
        }
        Some(injection)
    }

    /// Runs the controller on the workflow until it decides, then removes the cell's objects.
    fn drive(&mut self, cell: &ClusterCell) -> Result<Driven, String> {
        let access = self.access.clone()?;
        self.cloud.sandbox()?.events()?;
        let started = Instant::now();
        let provider = self.provider.as_mut().ok_or("no cluster")?;
        let cwd = cell
            .log
            .parent()
            .unwrap_or(self.cloud.run_dir())
            .to_path_buf();
        self.controller.start(
            &mut self.cloud,
            &ControllerLaunch {
                build: &cell.build,
                tag: &cell.tag,
                managed_namespace: &cell.namespace,
                env: cell.env.clone(),
                kubeconfig: cell.kubeconfig.clone(),
                log: cell.log.clone(),
            },
            &cwd,
        )?;
        let (timeout, workflow) = (self.opts.cell_timeout, cell.start.objects.workflow.clone());
        let until = if cell.runs_pods {
            workflow::Until::WorkflowDone
        } else {
            workflow::Until::PodCreated
        };
        let watched = access.talk(|c| async move {
            kube::create(&c, &workflow).await?;
            let watched = workflow::watch(&c, &workflow, until, timeout).await?;
            let events = workflow::events(&c, &workflow).await;
            Ok((watched, events))
        });
        let exit = self.controller.stop(&mut self.cloud);
        let fake_events = self.cloud.sandbox()?.events().unwrap_or_default();
        let leftovers = cell.start.objects.clone();
        access.talk(|c| async move { workflow::remove(&c, &leftovers).await })?;
        if cell.runs_pods {
            provider.forget_pulled_images(&mut self.cloud)?;
        }
        let (watched, kube_events) = watched?;
        Ok(Driven {
            seen: watched.seen,
            workflow_status: watched.workflow,
            pod: watched.pod,
            kube_events,
            exit,
            fake_events,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The observation: what the controller decided, Argo's logs (controller and pod containers)
    /// and the objects as evidence.
    fn collect(&self, cell: &ClusterCell, driven: Driven) -> Result<Observation, String> {
        let pod_log = |container, stream| {
            let dirs = self.provider.as_ref().and_then(|p| p.pod_logs());
            let log =
                |d| node::container_log(d, &cell.namespace, &cell.workflow_name, container, stream);
            dirs.map(log).unwrap_or_default()
        };
        let main_output = if cell.runs_pods {
            pod_log("main", Some("stdout"))
        } else {
            String::new()
        };
        let mut judged = workflow::workflow_outcome(&driven.seen, &cell.success, &main_output);
        if let (workflow::Seen::Nothing, Some(pod)) = (&driven.seen, &driven.pod) {
            judged.1 = workflow::undecided(pod, &driven.workflow_status);
        }
        let exit = driven.exit.as_ref().map_err(String::clone)?;
        // Undecided because the controller died: that is the harness's problem to show, not a result.
        if !exit.was_running && matches!(driven.seen, workflow::Seen::Nothing) {
            judged = (
                ObservedOutcome::Error,
                format!(
                    "the workflow-controller exited (code {:?}) before it decided",
                    exit.exit_code
                ),
            );
        }
        let controller_log = std::fs::read_to_string(&cell.log).unwrap_or_default();
        // Whole: the epilogue looks for exposed secrets in all of it, then keeps the tail.
        let mut logs = vec![ArgoLog::new("workflow-controller", controller_log)];
        if cell.runs_pods {
            // Argo's own words inside the pod (argoexec's init and wait, and main), as the node kept them.
            for container in ["init", "wait", "main"] {
                let text = pod_log(container, None);
                if !text.is_empty() {
                    logs.push(ArgoLog::new(format!("container {container}"), text));
                }
            }
        }
        let evidence = Evidence {
            probe: format!(
                "workflow-controller {} ({}, {}) on {} Kubernetes {}",
                cell.tag,
                cell.build.go_version,
                cell.build.binary.display(),
                self.opts.provider.as_str(),
                self.kubernetes_version
            ),
            stage: Some(stage(&driven.seen)),
            exit_code: exit.exit_code,
            elapsed_ms: driven.elapsed_ms,
            env: cell.env.clone(),
            logs,
            kube: Some(kube_evidence(cell, &driven, exit)),
            fake_events: driven.fake_events,
            diagnosis: None,
        };
        Ok(cell::finish(
            &self.cloud,
            judged,
            evidence,
            &cell.start.objects,
        ))
    }

    /// Creates the cell's objects and the controller's ConfigMap, and gets the controller its
    /// tokens: one for the API server (its kubeconfig), one for AWS (the scenario's identity).
    /// Returns the kubeconfig's path and the controller's environment.
    fn create_objects(
        &mut self,
        scenario: &Scenario,
        objs: &objects::Objects,
        cell_dir: &std::path::Path,
    ) -> Result<(PathBuf, BTreeMap<String, String>), String> {
        let access = self.access.clone()?;
        let configmap =
            serde_json::to_value(objects::controller_configmap(scenario, ARGO_NAMESPACE))
                .map_err(|e| e.to_string())?;
        // The controller's own AWS identity matters to its entrypoint lookup; in a workflow that
        // runs, the pod has the scenario's identity (the EKS webhook's injection), not the controller.
        let mut controller_scenario = scenario.clone();
        if scenario.component != Component::ControllerEntrypoint {
            controller_scenario.auth.mode = AuthMode::None;
        }
        let scenario = &controller_scenario;
        let (controller_token, aws_token) = {
            let objs = objs.clone();
            let (mode, kind) = (scenario.auth.mode, scenario.auth.token);
            let oidc = self.cloud.oidc.clone();
            access.talk(|c| async move {
                workflow::ensure_namespace(&c, &objs.namespace).await?;
                let sas = objs.service_accounts.iter().map(serde_json::to_value);
                let secrets = objs.secrets.iter().map(serde_json::to_value);
                for object in sas.chain(secrets) {
                    kube::apply(&c, &object.map_err(|e| e.to_string())?).await?;
                }
                for object in &objs.rbac {
                    kube::apply(&c, object).await?;
                }
                kube::apply(&c, &configmap).await?;
                let sa = world::CONTROLLER_SERVICE_ACCOUNT;
                // Audience-less: the API server's own, for talking to it.
                let controller = kube::token(&c, ARGO_NAMESPACE, sa, &[], 3600).await?;
                let aws = aws_token(&c, &oidc, mode, kind).await?;
                Ok((controller, aws))
            })?
        };
        self.cloud.redactor.add(&controller_token);
        let kubeconfig = cell_dir.join("controller.kubeconfig");
        let text = kube::kubeconfig(
            &access.server,
            &access.ca_file,
            "argo",
            &controller_token,
            ARGO_NAMESPACE,
        );
        std::fs::write(&kubeconfig, text).map_err(|e| e.to_string())?;
        let token_file = cell::write_token(&mut self.cloud, cell_dir, aws_token)?;
        let env = cell::pod_env(&self.cloud, scenario, cell_dir, token_file.as_deref());
        Ok((kubeconfig, env))
    }
}

/// `authmatrix prepare --backend cluster`: builds (or finds cached) Kubernetes, etcd and each tag's
/// workflow-controller and argoexec. Returns what was built, one line each; fails naming every
/// controller that did not build.
pub fn prepare_tier(opts: &ClusterOptions, tags: &[ArgoTag]) -> anyhow::Result<Vec<String>> {
    let builds = ClusterBuilds::new(opts.cache_dir.clone(), opts.project_root.clone());
    builds.build(&[], tags, &crate::builds::every_cell, &|_| {})?;
    let plane = builds.control_plane().map_err(anyhow::Error::msg)?;
    let controllers = tags
        .iter()
        .map(|t| (&t.tag, builds.controller(t).expect("built")));
    let mut built = vec![format!(
        "Kubernetes {} and etcd {}: {}",
        plane.kubernetes_version,
        plane.etcd_version,
        plane.kube.display()
    )];
    let mut failed = Vec::new();
    for (tag, result) in controllers {
        match result {
            Ok(b) => built.push(format!("workflow-controller {tag}: {}", b.binary.display())),
            Err(e) => failed.push(format!("{tag}: {e}")),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "some workflow-controllers did not build:\n{}",
            failed.join("\n")
        );
    }
    Ok(built)
}

/// The AWS token the controller pod would have: issued by the API server (TokenRequest, for the
/// controller's ServiceAccount) where it can issue it; the kinds it never issues (expired, not yet
/// valid) are signed with the same cluster key, as an earlier API server would have; malformed and
/// empty tokens are written as they are.
async fn aws_token(
    c: &kube::Client,
    oidc: &crate::fakes::oidc::OidcKeys,
    mode: AuthMode,
    kind: TokenKind,
) -> Result<Option<String>, String> {
    let (audience, other) = match mode {
        AuthMode::None => return Ok(None),
        AuthMode::Irsa => (IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE),
        AuthMode::PodIdentity => (POD_IDENTITY_AUDIENCE, IRSA_AUDIENCE),
    };
    let sa = world::CONTROLLER_SERVICE_ACCOUNT;
    match kind {
        TokenKind::Valid => kube::token(c, ARGO_NAMESPACE, sa, &[audience], 3600)
            .await
            .map(Some),
        TokenKind::WrongAudience => kube::token(c, ARGO_NAMESPACE, sa, &[other], 3600)
            .await
            .map(Some),
        _ => Ok(identity::token(oidc, (ARGO_NAMESPACE, sa), mode, kind)),
    }
}

/// A cluster cell once set up (`ClusterBackend::set_up`).
struct ClusterCell {
    tag: String,
    build: ControllerBuild,
    start: cell::CellStart,
    namespace: String,
    workflow_name: String,
    /// Whether the workflow's pod runs (executor and node columns) or the cell ends when the
    /// controller creates it (the entrypoint lookup happens before).
    runs_pods: bool,
    injection: Option<Injection>,
    kubeconfig: PathBuf,
    /// The controller's environment: its AWS identity.
    env: BTreeMap<String, String>,
    success: objects::SuccessCheck,
    /// Where the controller's log goes.
    log: PathBuf,
}

/// What driving a cell produced (`ClusterBackend::drive`).
struct Driven {
    seen: workflow::Seen,
    workflow_status: serde_json::Value,
    /// The workflow's pod as last seen, if the controller created one.
    pod: Option<k8s_openapi::api::core::v1::Pod>,
    kube_events: Vec<String>,
    exit: Result<provider::ControllerExit, String>,
    fake_events: Vec<crate::shared::Event>,
    elapsed_ms: u64,
}

/// The cluster's view of the cell: the objects as created (secret values redacted), the workflow's
/// status, the pod, the namespace's events, how the controller ended.
fn kube_evidence(
    cell: &ClusterCell,
    driven: &Driven,
    exit: &provider::ControllerExit,
) -> serde_json::Value {
    let objs = &cell.start.objects;
    serde_json::json!({
        "namespace": cell.namespace,
        "note": if cell.runs_pods {
            "the workflow ran on the node (containerd + kubelet); pods share the node's network"
        } else {
            "decided when the controller created the pod (the entrypoint lookup happens before)"
        },
        "objects": {
            "serviceAccounts": objs.service_accounts,
            "secrets": objs.secrets.iter().map(objects::redacted_secret).collect::<Vec<_>>(),
            "rbac": objs.rbac,
            "workflow": objs.workflow,
        },
        "eksWebhookInjection": cell.injection,
        "workflowStatus": driven.workflow_status.get("status").cloned().unwrap_or_default(),
        "pod": match &driven.seen {
            workflow::Seen::Pod(p) | workflow::Seen::Succeeded(p) => pod_evidence(p),
            _ => driven.pod.as_ref().map(pod_evidence).unwrap_or_default(),
        },
        "events": driven.kube_events,
        "controllerExit": {"wasRunning": exit.was_running, "exitCode": exit.exit_code},
    })
}

/// The pod as evidence: its name, containers and volumes as the controller made them, and its
/// status (phase, conditions, init and main container states) as the node left it.
fn pod_evidence(pod: &k8s_openapi::api::core::v1::Pod) -> serde_json::Value {
    let spec = pod.spec.as_ref();
    serde_json::json!({
        "name": pod.metadata.name,
        "shown": workflow::kubectl_status(pod),
        "initContainers": spec.map(|s| &s.init_containers),
        "containers": spec.map(|s| &s.containers),
        "volumes": spec.map(|s| &s.volumes),
        "status": pod.status,
    })
}

fn stage(seen: &workflow::Seen) -> String {
    match seen {
        workflow::Seen::Pod(_) => "pod created".into(),
        workflow::Seen::Succeeded(_) => "workflow Succeeded".into(),
        workflow::Seen::PodStuck { blocked, .. } => format!("pod {}", blocked.reason),
        workflow::Seen::NodeFailed { phase, .. } => format!("pod node {phase}"),
        workflow::Seen::WorkflowFailed { phase, .. } => format!("workflow {phase}"),
        workflow::Seen::Nothing => "undecided".into(),
    }
}

impl Backend for ClusterBackend {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn provider(&self) -> Option<&'static str> {
        Some(self.opts.provider.as_str())
    }

    fn builds(&self) -> Arc<dyn Builds> {
        Arc::clone(&self.builds) as Arc<dyn Builds>
    }

    /// Starts the sandbox at once and the cluster once Kubernetes is built; a cluster that fails
    /// to start is each cell's observation.
    fn start(&mut self, scenarios: &[Scenario]) -> anyhow::Result<()> {
        let python = crate::tools::python(&self.opts.project_root)?;
        self.cloud.start(&self.opts.sandbox_exe, python, scenarios);
        let plane = self.builds.control_plane().map_err(anyhow::Error::msg)?;
        self.kubernetes_version = plane.kubernetes_version.clone();
        self.access = match self.cloud.sandbox_started() {
            Ok(()) => self.start_cluster(plane),
            Err(e) => Err(e),
        };
        if let Err(e) = &self.access {
            crate::progress::line(&format!(
                "cluster FAILED: {}",
                e.lines().next().unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        foreign_controller(scenario).or_else(|| self.cloud.not_applicable(scenario))
    }

    fn run(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Observation {
        self.observe(scenario, tag).unwrap_or_else(|message| {
            let probe = format!(
                "workflow-controller {tag} on {}",
                self.opts.provider.as_str()
            );
            cell::unobserved(&self.cloud, probe, &message)
        })
    }
}

impl Drop for ClusterBackend {
    fn drop(&mut self) {
        if self.controller.running() {
            let _ = self.controller.stop(&mut self.cloud);
        }
        if let Some(mut provider) = self.provider.take() {
            provider.down(&mut self.cloud);
        }
    }
}

/// A controller on another CPU: the cluster runs one workflow-controller per tag, built for this
/// machine, for every cell; emulating it for one scenario would mean a second controller per tag.
fn foreign_controller(scenario: &Scenario) -> Option<String> {
    let arch = scenario.foreign_arch()?;
    Some(format!(
        "the scenario's controller runs on {}: the cluster backend runs each tag's workflow-controller built for this machine ({}) for every cell and does not emulate another CPU; the local backend runs the lookup under {}",
        arch.as_str(),
        std::env::consts::ARCH,
        arch.qemu()
    ))
}

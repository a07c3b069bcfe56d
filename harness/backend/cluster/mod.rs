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

pub mod build;
mod cell;
pub mod images;
pub mod kind;
pub mod kube;
pub mod local_up;
pub mod manifests;
pub mod node;
pub mod provider;

use super::objects;
use super::sandbox::cloud::SandboxedCloud;
use super::{Backend, Evidence, Observation, ObservedOutcome, TagInfo, identity};
use crate::fakes::oidc::{IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE};
use crate::fakes::world;
use crate::matrix::tags::ArgoTag;
use crate::scenario::{AuthMode, Component, Scenario, TokenKind};
use build::{ClusterBuilder, ControllerBuild};
use kube::ClusterAccess;
use provider::{ClusterProvider, ControllerLaunch, ProviderKind};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where Argo is installed, as its manifests say (`namespace: argo`).
const ARGO_NAMESPACE: &str = "argo";
/// Most of the controller's log kept as evidence.
const LOG_LIMIT: usize = 64 * 1024;

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

/// `jobs` cluster backends, each with its own sandbox and cluster.
pub fn pool(opts: &ClusterOptions, jobs: usize) -> anyhow::Result<Vec<Box<dyn Backend + Send>>> {
    (0..jobs.max(1))
        .map(|_| Ok(Box::new(ClusterBackend::new(opts.clone())?) as Box<dyn Backend + Send>))
        .collect()
}

/// Each tag's workflow-controller and argoexec, or why they did not build.
pub type TagBuilds = Vec<(String, Result<ControllerBuild, String>)>;

pub struct ClusterBackend {
    opts: ClusterOptions,
    cloud: SandboxedCloud,
    provider: Option<Box<dyn ClusterProvider>>,
    access: Result<ClusterAccess, String>,
    kubernetes_version: String,
    controllers: HashMap<String, Result<ControllerBuild, String>>,
    /// Tags whose CRDs and RBAC are applied (the last one applied wins: one tag at a time).
    installed: Option<String>,
    cells: usize,
}

impl ClusterBackend {
    pub fn new(opts: ClusterOptions) -> anyhow::Result<Self> {
        // Cgroups of node containers whose run was killed before it could remove them.
        crate::cgroups::remove_orphans();
        let cloud = SandboxedCloud::new(&opts.project_root, &opts.cache_dir)?;
        Ok(ClusterBackend {
            opts,
            cloud,
            provider: None,
            access: Err("the cluster has not been started".into()),
            kubernetes_version: String::new(),
            controllers: HashMap::new(),
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

    /// The cluster's service-account signing key (what the fake STS and EKS Auth trust).
    pub fn oidc(&self) -> &crate::fakes::oidc::OidcKeys {
        &self.cloud.oidc
    }

    /// Builds (or finds cached) everything the cluster tier needs for these tags, without running.
    pub fn build_all(
        opts: &ClusterOptions,
        tags: &[ArgoTag],
    ) -> Result<(build::ControlPlane, TagBuilds), String> {
        let builder = ClusterBuilder::new(&opts.cache_dir, &opts.project_root)?;
        let plane = builder.control_plane()?;
        let controllers = tags
            .iter()
            .map(|t| (t.tag.clone(), builder.controller(t)))
            .collect();
        Ok((plane, controllers))
    }

    fn start_cluster(&mut self, plane: build::ControlPlane) -> Result<ClusterAccess, String> {
        let mut provider: Box<dyn ClusterProvider> = match self.opts.provider {
            ProviderKind::LocalUp => Box::new(local_up::LocalUp::new(plane)),
            ProviderKind::Kind => Box::new(kind::Kind::new(self.cloud.run_dir())?),
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

    /// Each tag's argoexec as an image on the node (the controller names it `--executor-image`).
    fn load_executors(&mut self) -> Result<(), String> {
        let Some(provider) = self.provider.as_mut() else {
            return Ok(());
        };
        if provider.pod_logs().is_none() {
            return Ok(()); // No node that runs the harness's images.
        }
        let ca = std::fs::read_to_string(&self.cloud.ca_file).map_err(|e| e.to_string())?;
        let dir = self.cloud.run_dir().join("images");
        crate::cleanup::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut archives = Vec::new();
        for (tag, build) in &self.controllers {
            let Ok(build) = build else { continue };
            let image =
                images::argoexec_image(tag, &build.argoexec, build.known_hosts.as_deref(), &ca)?;
            let path = dir.join(format!("argoexec-{tag}.tar"));
            images::write_archive(&image, &path)?;
            archives.push(path);
        }
        let result = provider.load_images(&mut self.cloud, &archives);
        for a in &archives {
            let _ = std::fs::remove_file(a);
        }
        result
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
        let build = match self.controllers.get(&tag.tag) {
            Some(Ok(b)) => b.clone(),
            Some(Err(e)) => return Err(format!("no workflow-controller for {tag}: {e}")),
            None => return Err(format!("{tag} was not prepared")),
        };
        let access = self.access.clone()?;
        self.install(&tag.tag, &build)?;
        self.cloud.apply(scenario)?;
        self.cells += 1;
        let namespace = world::NAMESPACE.to_string();
        let cell_dir = self
            .cloud
            .run_dir()
            .join("cells")
            .join(&scenario.id)
            .join(&tag.tag);
        crate::cleanup::create_dir_all(&cell_dir).map_err(|e| e.to_string())?;
        let cloud_values = self.cloud.cloud_values()?;
        let mut objs = objects::objects(scenario, &namespace, &cloud_values);
        for value in objs.secret_values() {
            self.cloud.redactor.add(&value);
        }
        // Unique per cell: the same scenario runs on the next tag right after, and the previous
        // workflow's deletion need not be finished by then.
        let workflow_name = format!("{}-c{}", objects::workflow_name(scenario), self.cells);
        objs.workflow["metadata"]["name"] = workflow_name.clone().into();
        // This node has no pod network: its pods share the node's (the sandbox's) network, where
        // the fake cloud and the API server's ClusterIP are.
        objs.workflow["spec"]["hostNetwork"] = true.into();
        let runs_pods = scenario.component != Component::ControllerEntrypoint;
        let injection = if runs_pods {
            identity::eks_injection(
                scenario,
                &self.cloud.oidc,
                (&namespace, world::SERVICE_ACCOUNT),
                &world::role_arn(world::ARTIFACT_ROLE),
            )
        } else {
            None
        };
        if let Some((_, Some(token))) = &injection {
            self.cloud.redactor.add(token);
            objs.secrets.push(objects::opaque_secret(
                identity::TOKEN_SECRET,
                &namespace,
                &[("token", token.as_str())],
            ));
        }
        let injection = injection.map(|(i, _)| i);
        self.cloud.inject(injection.clone())?;
        let expected = objects::expected(scenario)?;
        let configmap =
            serde_json::to_value(objects::controller_configmap(scenario, ARGO_NAMESPACE))
                .map_err(|e| e.to_string())?;

        let (kubeconfig, env) = self.set_up(scenario, &objs, configmap, &cell_dir)?;
        let log = cell_dir.join("workflow-controller.log");
        self.cloud.sandbox()?.events()?;

        // The controller, the workflow, and what the controller made of it.
        let started = Instant::now();
        let provider = self.provider.as_mut().ok_or("no cluster")?;
        provider.start_controller(
            &mut self.cloud,
            &ControllerLaunch {
                build: &build,
                tag: &tag.tag,
                managed_namespace: &namespace,
                env: env.clone(),
                kubeconfig,
                log: log.clone(),
            },
        )?;
        let timeout = self.opts.cell_timeout;
        let workflow = objs.workflow.clone();
        let until = if runs_pods {
            cell::Until::WorkflowDone
        } else {
            cell::Until::PodCreated
        };
        let watched = access.talk(|c| async move {
            kube::create(&c, &workflow).await?;
            let (seen, status) = cell::watch(&c, &workflow, until, timeout).await?;
            let events = cell::events(&c, &workflow).await;
            Ok((seen, status, events))
        });
        let exit = provider.stop_controller(&mut self.cloud);
        let fake_events = self.cloud.sandbox()?.events().unwrap_or_default();
        let leftovers = objs.clone();
        access.talk(|c| async move { cell::remove(&c, &leftovers).await })?;
        if runs_pods {
            provider.forget_pulled_images(&mut self.cloud)?;
        }
        let (seen, workflow_status, kube_events) = watched?;

        let (logs, main_output) = if runs_pods {
            (
                ["init", "wait", "main"].map(|c| {
                    let text = self.node_log(&workflow_name, &namespace, c, None);
                    (
                        c.to_string(),
                        self.cloud.redactor.redact(&tail(&text, LOG_LIMIT)),
                    )
                }),
                self.node_log(&workflow_name, &namespace, "main", Some("stdout")),
            )
        } else {
            (Default::default(), String::new())
        };
        let (mut outcome, mut message) = cell::judge(&seen, &expected, &main_output);
        // A fake that failed decides the cell before anything Argo did.
        if let Some(why) = crate::fakes::faults::infra_failure(&fake_events) {
            outcome = ObservedOutcome::Error;
            message = why;
        }
        let exit = exit?;
        // Undecided because the controller died: that is the harness's problem to show, not a result.
        if !exit.was_running && matches!(seen, cell::Seen::Nothing) {
            outcome = ObservedOutcome::Error;
            message = format!(
                "the workflow-controller exited (code {:?}) before it decided",
                exit.exit_code
            );
        }
        let controller_log = std::fs::read_to_string(&log).unwrap_or_default();
        let kube = serde_json::json!({
            "namespace": namespace,
            "note": if runs_pods {
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
            "eksWebhookInjection": injection,
            "workflowStatus": workflow_status.get("status").cloned().unwrap_or_default(),
            "pod": match &seen {
                cell::Seen::Pod(p) => serde_json::to_value(p.spec.as_ref().map(|s| &s.containers)).unwrap_or_default(),
                cell::Seen::Succeeded(p) => serde_json::to_value(&p.status).unwrap_or_default(),
                _ => serde_json::Value::Null,
            },
            "containerLogs": logs.iter().filter(|(_, l)| !l.is_empty()).cloned().collect::<BTreeMap<String, String>>(),
            "events": kube_events,
            "controllerExit": {"wasRunning": exit.was_running, "exitCode": exit.exit_code},
        });
        let redact = |s: &str| self.cloud.redactor.redact(s);
        let evidence = Evidence {
            probe: format!(
                "workflow-controller {} ({}, {}) on {} Kubernetes {}",
                tag.tag,
                build.go_version,
                build.binary.display(),
                self.opts.provider.as_str(),
                self.kubernetes_version
            ),
            stage: Some(stage(&seen)),
            exit_code: exit.exit_code,
            elapsed_ms: started.elapsed().as_millis() as u64,
            env: self.cloud.redact_env(&env),
            stdout: redact(&tail(&controller_log, LOG_LIMIT)),
            // Argo's own words inside the pod (argoexec's init and wait, and main), as the node kept them.
            stderr: logs
                .iter()
                .filter(|(_, l)| !l.is_empty())
                .map(|(c, l)| format!("--- container {c}:\n{l}"))
                .collect::<Vec<_>>()
                .join(""),
            fake_events: self.cloud.redact_events(fake_events),
            diagnosis: None,
            // Through the redactor as text: status messages and events may quote anything.
            kube: serde_json::from_str(&redact(&kube.to_string())).ok(),
        };
        Ok(Observation {
            outcome,
            message: redact(&message),
            evidence,
        })
    }

    /// One container's log of the workflow's pods, as the node wrote it (empty where pods do not
    /// run); `stream` keeps `stdout` or `stderr` only.
    fn node_log(
        &self,
        workflow: &str,
        namespace: &str,
        container: &str,
        stream: Option<&str>,
    ) -> String {
        self.provider
            .as_ref()
            .and_then(|p| p.pod_logs())
            .map(|dirs| node::container_log(dirs, namespace, workflow, container, stream))
            .unwrap_or_default()
    }

    /// Creates the cell's objects and the controller's ConfigMap, and gets the controller its
    /// tokens: one for the API server (its kubeconfig), one for AWS (the scenario's identity).
    /// Returns the kubeconfig's path and the controller's environment.
    fn set_up(
        &mut self,
        scenario: &Scenario,
        objs: &objects::Objects,
        configmap: serde_json::Value,
        cell_dir: &std::path::Path,
    ) -> Result<(PathBuf, BTreeMap<String, String>), String> {
        let access = self.access.clone()?;
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
                cell::ensure_namespace(&c, &objs.namespace).await?;
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
            &self.cloud.ca_file,
            "argo",
            &controller_token,
            ARGO_NAMESPACE,
        );
        std::fs::write(&kubeconfig, text).map_err(|e| e.to_string())?;
        let token_file = match aws_token {
            Some(token) => {
                self.cloud.redactor.add(&token);
                let path = cell_dir.join("token");
                // No trailing newline: the kubelet writes none, and SDKs reject one.
                std::fs::write(&path, token).map_err(|e| e.to_string())?;
                Some(path)
            }
            None => None,
        };
        let env = identity::pod_env(
            scenario,
            cell_dir,
            &self.cloud.ca_file,
            token_file.as_deref(),
            &world::role_arn(world::ARTIFACT_ROLE),
        );
        Ok((kubeconfig, env))
    }
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

/// Why a provider cannot run a scenario: argoexec's column needs pods that run, which only
/// `local-up`'s node does so far.
pub fn not_applicable(provider: ProviderKind, scenario: &Scenario) -> Option<String> {
    (scenario.component != Component::ControllerEntrypoint && provider == ProviderKind::Kind).then(|| {
        format!(
            "{} needs the workflow's pod to run with the harness's argoexec image, which the kind provider does not load yet",
            scenario.component.as_str()
        )
    })
}

fn stage(seen: &cell::Seen) -> String {
    match seen {
        cell::Seen::Pod(_) => "pod created".into(),
        cell::Seen::Succeeded(_) => "workflow Succeeded".into(),
        cell::Seen::PodStuck { reason, .. } => format!("pod {reason}"),
        cell::Seen::NodeFailed { phase, .. } => format!("pod node {phase}"),
        cell::Seen::WorkflowFailed { phase, .. } => format!("workflow {phase}"),
        cell::Seen::Nothing => "undecided".into(),
    }
}

fn tail(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut cut = text.len() - limit;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    text[cut..].to_string()
}

impl Backend for ClusterBackend {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn prepare(
        &mut self,
        tags: &[ArgoTag],
        _components: &[Component],
        scenarios: &[Scenario],
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
        let (plane, controllers) =
            Self::build_all(&self.opts, tags).map_err(|e| anyhow::anyhow!(e))?;
        self.kubernetes_version = plane.kubernetes_version.clone();
        let mut infos: BTreeMap<String, BTreeMap<Component, TagInfo>> = BTreeMap::new();
        for (tag, result) in controllers {
            let info = match &result {
                Ok(b) => TagInfo {
                    go_version: b.go_version.clone(),
                    checksums: format!("module go.sum; {}", b.manifests_source),
                    ..Default::default()
                },
                Err(e) => TagInfo {
                    error: Some(e.clone()),
                    ..Default::default()
                },
            };
            infos
                .entry(tag.clone())
                .or_default()
                .insert(Component::ControllerEntrypoint, info);
            self.controllers.insert(tag, result);
        }
        let python = crate::tools::python(&self.opts.project_root)?;
        self.cloud.start(&self.opts.sandbox_exe, python, scenarios);
        self.access = match self.cloud.sandbox_started() {
            Ok(()) => self
                .start_cluster(plane)
                .and_then(|a| self.load_executors().map(|_| a)),
            Err(e) => Err(e),
        };
        if let Err(e) = &self.access {
            crate::progress::line(&format!(
                "cluster FAILED: {}",
                e.lines().next().unwrap_or_default()
            ));
        }
        Ok(infos)
    }

    fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        not_applicable(self.opts.provider, scenario).or_else(|| self.cloud.not_applicable(scenario))
    }

    fn run(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Observation {
        self.observe(scenario, tag)
            .unwrap_or_else(|message| Observation {
                outcome: ObservedOutcome::Error,
                message: self.cloud.redactor.redact(&message),
                evidence: Evidence {
                    probe: format!(
                        "workflow-controller {tag} on {}",
                        self.opts.provider.as_str()
                    ),
                    ..Default::default()
                },
            })
    }
}

impl Drop for ClusterBackend {
    fn drop(&mut self) {
        if let Some(mut provider) = self.provider.take() {
            provider.down(&mut self.cloud);
        }
    }
}

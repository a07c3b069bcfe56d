//! Where a cluster comes from: `local-up` (the default here: a control plane built from
//! Kubernetes' Go modules, run inside the sandbox, no container engine needed) or `kind` (a kind
//! cluster on the harness's own container engine, from a node image made without a registry). The
//! backend above does not care which: both run every column, the controller in the sandbox and the
//! workflow's pods on a node that reaches the fake cloud (measured on 93 cells, 3 tags: the same
//! outcomes). So providers state no limits: a cluster cell is not applicable only for what neither
//! runs (a controller built for another CPU, `foreign_controller`).

use super::kube::ClusterAccess;
use crate::backend::sandbox::cloud::SandboxedCloud;
use crate::backend::sandbox::protocol::SpawnRequest;
use crate::builds::cluster::ControllerBuild;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Argo's workflow-controller as one cell needs it.
pub struct ControllerLaunch<'a> {
    pub build: &'a ControllerBuild,
    pub tag: &'a str,
    /// The namespace it manages (`--namespaced --managed-namespace`): the cell's own.
    pub managed_namespace: &'a str,
    /// The controller pod's environment: what EKS's webhooks inject for its AWS identity.
    pub env: BTreeMap<String, String>,
    /// A kubeconfig for the controller's own ServiceAccount (`argo/argo`).
    pub kubeconfig: PathBuf,
    /// Where its log goes.
    pub log: PathBuf,
}

/// How the controller's run ended.
pub struct ControllerExit {
    /// False when it had exited (crashed) before the cell ended.
    pub was_running: bool,
    pub exit_code: Option<i32>,
}

/// Argo's controller as its dev loop runs it: a process inside the sandbox with a kubeconfig for
/// its own ServiceAccount, so the fake cloud's names resolve for it as for the probes. The backend
/// runs it so on either provider: both clusters' API servers are reachable from the sandbox.
#[derive(Default)]
pub struct SandboxedController {
    running: bool,
}

impl SandboxedController {
    const NAME: &'static str = "workflow-controller";

    pub fn start(
        &mut self,
        cloud: &mut SandboxedCloud,
        launch: &ControllerLaunch,
        cwd: &Path,
    ) -> Result<(), String> {
        let mut env = launch.env.clone();
        // One controller at a time per cluster, so no leader to elect.
        env.insert("LEADER_ELECTION_DISABLE".into(), "true".into());
        cloud.sandbox()?.spawn(SpawnRequest {
            name: Self::NAME.into(),
            program: launch.build.binary.clone(),
            args: vec![
                format!("--kubeconfig={}", launch.kubeconfig.display()),
                "--namespaced".into(),
                format!("--managed-namespace={}", launch.managed_namespace),
                format!(
                    "--executor-image={}",
                    crate::builds::images::argoexec(launch.tag)
                ),
                "--loglevel=debug".into(),
            ],
            env,
            cwd: cwd.to_path_buf(),
            log: launch.log.clone(),
        })?;
        self.running = true;
        Ok(())
    }

    pub fn stop(&mut self, cloud: &mut SandboxedCloud) -> Result<ControllerExit, String> {
        if !std::mem::take(&mut self.running) {
            return Err("no controller was started".into());
        }
        let (was_running, exit_code) = cloud.sandbox()?.stop(Self::NAME, Duration::from_secs(2))?;
        Ok(ControllerExit {
            was_running,
            exit_code,
        })
    }

    pub fn running(&self) -> bool {
        self.running
    }
}

pub trait ClusterProvider: Send {
    /// Starts the cluster and says how to reach it. Called once per backend; the cluster serves
    /// every tag of the run.
    fn up(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String>;

    /// Makes OCI image archives available to the cluster's container runtime.
    fn load_images(&mut self, cloud: &mut SandboxedCloud, images: &[PathBuf])
    -> Result<(), String>;

    /// Forgets every image the node pulled from a registry, so that the next cell's pull is a
    /// pull (the kubelet skips pulling a present image under `IfNotPresent`, pull secret or not).
    fn forget_pulled_images(&mut self, _cloud: &mut SandboxedCloud) -> Result<(), String> {
        Ok(())
    }

    /// Where the node's pod logs can be read (`None` before the node runs).
    fn pod_logs(&self) -> Option<&super::node::NodeDirs> {
        None
    }

    /// Deletes the cluster and everything it started. Also runs on drop.
    fn down(&mut self, cloud: &mut SandboxedCloud);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    LocalUp,
    Kind,
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local-up" => Ok(ProviderKind::LocalUp),
            "kind" => Ok(ProviderKind::Kind),
            other => Err(format!(
                "unknown cluster provider `{other}`: use `local-up` (no container engine needed) or `kind` (the docker CLI and what `make engine kind-node` builds; no registry)"
            )),
        }
    }
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::LocalUp => "local-up",
            ProviderKind::Kind => "kind",
        }
    }
}

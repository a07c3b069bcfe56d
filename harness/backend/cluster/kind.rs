//! `kind`: a kind cluster, for machines with Docker (users' CI). One cluster per run, reused across
//! tags. Its nodes run on the harness's own container engine (`engine`), started inside the
//! sandbox, so the cluster, its network and its containers go with the sandbox: when the backend is
//! dropped, on Ctrl-C and when the harness is killed. Runs `kind` and `docker` as their CLIs (as
//! every Rust kind wrapper does; kind has no API), pointed at that engine.
//!
//! Cells on kind need the fake cloud beside the cluster as containers and the controller as its
//! release image; until that exists (the "Cluster backend II" issue), starting a controller here
//! says so, and every cell is an infra error rather than a result.

use super::engine::{Engine, EngineBuild};
use super::kube::ClusterAccess;
use super::node;
use super::provider::{ClusterProvider, ControllerExit, ControllerLaunch, ProviderKind};
use crate::backend::sandbox::cloud::SandboxedCloud;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Kind {
    kind: PathBuf,
    name: String,
    kubeconfig: PathBuf,
    config: PathBuf,
    engine_build: EngineBuild,
    engine: Option<Engine>,
    created: bool,
}

impl Kind {
    pub fn new(run_dir: &Path, project_root: &Path, cache_dir: &Path) -> Result<Self, String> {
        let kind = crate::tools::which("kind").ok_or(
            "`kind` is needed for --provider kind but was not found on PATH; install it (`go install sigs.k8s.io/kind@v0.30.0`) and Docker, or use --provider local-up",
        )?;
        crate::tools::which("docker").ok_or(
            "`docker` is needed for --provider kind but was not found on PATH; install Docker, or use --provider local-up",
        )?;
        let engine_build = EngineBuild::find(project_root, cache_dir)?;
        Ok(Kind {
            kind,
            name: format!("authmatrix-{}", std::process::id()),
            kubeconfig: run_dir.join("kind.kubeconfig"),
            config: crate::project_root().join("kind-config/cluster.yaml"),
            engine_build,
            engine: None,
            created: false,
        })
    }

    fn cli(&self, args: &[&str]) -> Result<(), String> {
        let mut cmd = Command::new(&self.kind);
        if let Some(engine) = &self.engine {
            // kind runs the docker CLI, which reads it too.
            cmd.env("DOCKER_HOST", engine.docker_host());
        }
        let out = cmd
            .args(args)
            .output()
            .map_err(|e| format!("kind {}: {e}", args.join(" ")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "kind {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl ClusterProvider for Kind {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Kind
    }

    fn up(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        let cgroup = cloud.node_host(&node::tmpfs_paths(), &[])?;
        let dir = cloud.run_dir().join("engine");
        self.engine = Some(Engine::start(cloud, &self.engine_build, &dir, &cgroup)?);
        self.created = true;
        self.cli(&[
            "create",
            "cluster",
            "--name",
            &self.name,
            "--config",
            &self.config.display().to_string(),
            "--kubeconfig",
            &self.kubeconfig.display().to_string(),
            "--wait",
            "180s",
        ])?;
        Ok(ClusterAccess {
            kubeconfig: self.kubeconfig.clone(),
            // In-cluster, the controller reaches the API server through its Service.
            server: "https://kubernetes.default.svc".into(),
            netns: None,
        })
    }

    fn load_images(
        &mut self,
        _cloud: &mut SandboxedCloud,
        images: &[PathBuf],
    ) -> Result<(), String> {
        for image in images {
            self.cli(&[
                "load",
                "image-archive",
                &image.display().to_string(),
                "--name",
                &self.name,
            ])?;
        }
        Ok(())
    }

    fn start_controller(
        &mut self,
        _cloud: &mut SandboxedCloud,
        launch: &ControllerLaunch,
    ) -> Result<(), String> {
        Err(format!(
            "kind runs workflow-controller {} as its release image beside the fake cloud's containers, which the cluster backend does not start yet (issue \"Cluster backend II\"); use --provider local-up",
            launch.tag
        ))
    }

    fn stop_controller(&mut self, _cloud: &mut SandboxedCloud) -> Result<ControllerExit, String> {
        Ok(ControllerExit {
            was_running: false,
            exit_code: None,
        })
    }

    fn down(&mut self, cloud: &mut SandboxedCloud) {
        if self.created {
            let _ = self.cli(&["delete", "cluster", "--name", &self.name]);
            self.created = false;
        }
        if let Some(mut engine) = self.engine.take() {
            let _ = engine.stop(cloud);
        }
    }
}

//! `local-up`: a single-node control plane assembled the way Kubernetes' own
//! hack/local-up-cluster.sh does — etcd, kube-apiserver (RBAC, ServiceAccount admission, token
//! issuing), kube-controller-manager, kube-scheduler — as processes inside the sandbox, so the
//! fake cloud's names resolve for them exactly as for the local backend's probes.
//!
//! The API server signs service-account tokens with the run's cluster key and the EKS issuer, so
//! the fake STS and Pod Identity agent verify real tokens with the key they already trust.

use super::build::ControlPlane;
use super::kube::{self, ClusterAccess};
use super::provider::{ClusterProvider, ControllerExit, ControllerLaunch};
use crate::backend::sandbox::cloud::SandboxedCloud;
use crate::backend::sandbox::protocol::SpawnRequest;
use crate::fakes::oidc::ISSUER;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const API_SERVER: &str = "https://127.0.0.1:6443";
const CONTROLLER: &str = "workflow-controller";

pub struct LocalUp {
    plane: ControlPlane,
    dir: PathBuf,
    started: Vec<&'static str>,
    controller_running: bool,
}

impl LocalUp {
    pub fn new(plane: ControlPlane) -> Self {
        LocalUp {
            plane,
            dir: PathBuf::new(),
            started: Vec::new(),
            controller_running: false,
        }
    }

    fn spawn(
        &mut self,
        cloud: &mut SandboxedCloud,
        name: &'static str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<(), String> {
        let env = BTreeMap::from([(
            "PATH".to_string(),
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
        )]);
        cloud.sandbox()?.spawn(SpawnRequest {
            name: name.into(),
            program: program.to_path_buf(),
            args,
            env,
            cwd: self.dir.clone(),
            log: self.log(name),
        })?;
        self.started.push(name);
        Ok(())
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// The last lines of each component's log, for an error message.
    fn logs_tail(&self) -> String {
        let mut out = String::new();
        for name in &self.started {
            let text = std::fs::read_to_string(self.log(name)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(6).collect();
            out.push_str(&format!("--- {name} ({}):\n", self.log(name).display()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn start(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        self.dir = cloud.run_dir().join("cluster");
        let pki = self.dir.join("pki");
        std::fs::create_dir_all(&pki).map_err(|e| e.to_string())?;
        let write = |name: &str, text: &str| -> Result<PathBuf, String> {
            let path = pki.join(name);
            std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
            Ok(path)
        };
        let serving = cloud
            .ca
            .issue(&[
                "127.0.0.1",
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "10.0.0.1",
            ])
            .map_err(|e| e.to_string())?;
        cloud.redactor.add(&serving.key_pem);
        let cert = write("apiserver.crt", &serving.cert_pem)?;
        let key = write("apiserver.key", &serving.key_pem)?;
        let sa_key = write("sa.key", &cloud.oidc.private_pem)?;
        let sa_pub = write("sa.pub", &cloud.oidc.public_pem)?;
        let ca = cloud.ca_file.clone();

        // Static tokens for the admin and the two controllers (hack/local-up-cluster.sh uses
        // client certificates; tokens are simpler and as real to RBAC).
        let identities = [
            ("admin", "authmatrix-admin", "system:masters"),
            (
                "kube-controller-manager",
                "system:kube-controller-manager",
                "",
            ),
            ("kube-scheduler", "system:kube-scheduler", ""),
        ];
        let mut csv = String::new();
        let mut kubeconfigs = BTreeMap::new();
        for (file, user, groups) in identities {
            let token = format!("am-{}", crate::fakes::events::request_id());
            cloud.redactor.add(&token);
            csv.push_str(&format!("{token},{user},{user},\"{groups}\"\n"));
            let text = kube::kubeconfig(API_SERVER, &ca, user, &token, "default");
            kubeconfigs.insert(file, write(&format!("{file}.kubeconfig"), &text)?);
        }
        let tokens = write("tokens.csv", &csv)?;
        let path = |p: &Path| p.display().to_string();

        let etcd = self.plane.etcd.clone();
        let data = self.dir.join("etcd-data");
        self.spawn(
            cloud,
            "etcd",
            &etcd,
            vec![
                format!("--data-dir={}", path(&data)),
                "--listen-client-urls=http://127.0.0.1:2379".into(),
                "--advertise-client-urls=http://127.0.0.1:2379".into(),
                "--listen-peer-urls=http://127.0.0.1:2380".into(),
                "--initial-advertise-peer-urls=http://127.0.0.1:2380".into(),
                "--initial-cluster=default=http://127.0.0.1:2380".into(),
                // A throwaway cluster: durability buys nothing, fsync costs seconds per cell.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        )?;
        let kube_bin = self.plane.kube.clone();
        let mut apiserver = vec!["kube-apiserver".to_string()];
        apiserver.extend([
            "--etcd-servers=http://127.0.0.1:2379".to_string(),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            "--secure-port=6443".into(),
            format!("--tls-cert-file={}", path(&cert)),
            format!("--tls-private-key-file={}", path(&key)),
            format!("--client-ca-file={}", path(&ca)),
            format!("--token-auth-file={}", path(&tokens)),
            "--authorization-mode=Node,RBAC".into(),
            format!("--service-account-issuer={ISSUER}"),
            format!("--service-account-key-file={}", path(&sa_pub)),
            format!("--service-account-signing-key-file={}", path(&sa_key)),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            // The `kubernetes` Service's endpoint would be a loopback address, which the API
            // server refuses to publish; nothing in this cluster needs that endpoint yet.
            "--endpoint-reconciler-type=none".into(),
            "--allow-privileged=true".into(),
            format!("--cert-dir={}", path(&self.dir.join("apiserver-certs"))),
            "--profiling=false".into(),
        ]);
        self.spawn(cloud, "kube-apiserver", &kube_bin, apiserver)?;
        let access = ClusterAccess {
            kubeconfig: kubeconfigs["admin"].clone(),
            server: API_SERVER.into(),
            netns: cloud
                .sandbox_pid()
                .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net"))),
        };
        // Ready when it serves and has made its `default` namespace.
        access.talk(|c| async move {
            let namespaces: ::kube::Api<Namespace> = ::kube::Api::all(c);
            kube::until(Duration::from_secs(90), "the API server", || async {
                namespaces.get("default").await.ok()
            })
            .await
        })?;
        self.spawn(
            cloud,
            "kube-controller-manager",
            &kube_bin,
            vec![
                "kube-controller-manager".into(),
                format!(
                    "--kubeconfig={}",
                    path(&kubeconfigs["kube-controller-manager"])
                ),
                format!("--service-account-private-key-file={}", path(&sa_key)),
                format!("--root-ca-file={}", path(&ca)),
                "--use-service-account-credentials=true".into(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
            ],
        )?;
        self.spawn(
            cloud,
            "kube-scheduler",
            &kube_bin,
            vec![
                "kube-scheduler".into(),
                format!("--kubeconfig={}", path(&kubeconfigs["kube-scheduler"])),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
            ],
        )?;
        // The controller-manager works once it gives namespaces their `default` ServiceAccount.
        access.talk(|c| async move {
            let sas: ::kube::Api<ServiceAccount> = ::kube::Api::namespaced(c, "default");
            kube::until(
                Duration::from_secs(60),
                "the controller-manager",
                || async { sas.get("default").await.ok() },
            )
            .await
        })?;
        Ok(access)
    }
}

impl ClusterProvider for LocalUp {
    fn name(&self) -> &'static str {
        "local-up"
    }

    fn up(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        self.start(cloud)
            .map_err(|e| format!("{e}\n{}", self.logs_tail()))
    }

    /// No kubelet runs yet, so no image is pulled or loaded.
    fn load_images(&mut self, _images: &[PathBuf]) -> Result<(), String> {
        Ok(())
    }

    /// As Argo's dev loop runs it: a process with a kubeconfig for its own ServiceAccount.
    fn start_controller(
        &mut self,
        cloud: &mut SandboxedCloud,
        launch: &ControllerLaunch,
    ) -> Result<(), String> {
        let mut env = launch.env.clone();
        // One controller at a time per cluster, so no leader to elect.
        env.insert("LEADER_ELECTION_DISABLE".into(), "true".into());
        cloud.sandbox()?.spawn(SpawnRequest {
            name: CONTROLLER.into(),
            program: launch.build.binary.clone(),
            args: vec![
                format!("--kubeconfig={}", launch.kubeconfig.display()),
                "--namespaced".into(),
                format!("--managed-namespace={}", launch.managed_namespace),
                "--loglevel=debug".into(),
            ],
            env,
            cwd: self.dir.clone(),
            log: launch.log.clone(),
        })?;
        self.controller_running = true;
        Ok(())
    }

    fn stop_controller(&mut self, cloud: &mut SandboxedCloud) -> Result<ControllerExit, String> {
        if !self.controller_running {
            return Err("no controller was started".into());
        }
        self.controller_running = false;
        let (was_running, exit_code) = cloud.sandbox()?.stop(CONTROLLER, Duration::from_secs(2))?;
        Ok(ControllerExit {
            was_running,
            exit_code,
        })
    }

    fn down(&mut self, cloud: &mut SandboxedCloud) {
        if self.controller_running {
            let _ = self.stop_controller(cloud);
        }
        while let Some(name) = self.started.pop() {
            if let Ok(sandbox) = cloud.sandbox() {
                let _ = sandbox.stop(name, Duration::from_secs(3));
            }
        }
    }
}

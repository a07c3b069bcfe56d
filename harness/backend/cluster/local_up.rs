//! `local-up`: a single-node control plane assembled the way Kubernetes' own
//! hack/local-up-cluster.sh does — etcd, kube-apiserver (RBAC, ServiceAccount admission, token
//! issuing), kube-controller-manager, kube-scheduler — as processes inside the sandbox, so the
//! fake cloud's names resolve for them exactly as for the local backend's probes.
//!
//! The API server signs service-account tokens with the run's cluster key and the EKS issuer, so
//! the fake STS and Pod Identity agent verify real tokens with the key they already trust. It
//! listens on the `kubernetes` Service's ClusterIP too, so pods reach it with no kube-proxy. A node
//! (containerd and a kubelet, `node.rs`) runs the pods, and the fake EKS webhook gives them their
//! AWS identity as EKS does.

use super::kube::{self, ClusterAccess};
use super::node::{self, NodeDirs};
use super::provider::ClusterProvider;
use crate::backend::sandbox::cloud::SandboxedCloud;
use crate::backend::sandbox::network;
use crate::backend::sandbox::protocol::SpawnRequest;
use crate::builds::cluster::ControlPlane;
use crate::fakes::oidc::ISSUER;
use k8s_openapi::api::core::v1::{Namespace, Node};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the harness, the controller and pods reach the API server: the `kubernetes` Service's
/// ClusterIP (network::API_SERVICE_IP), an address of the sandbox. Not the wildcard address: the
/// fakes listen on :443 of their own loopback addresses.
const API_SERVER: &str = "https://10.0.0.1:443";

pub struct LocalUp {
    plane: ControlPlane,
    dir: PathBuf,
    node: Option<NodeDirs>,
    started: Vec<&'static str>,
}

impl LocalUp {
    pub fn new(plane: ControlPlane) -> Self {
        LocalUp {
            plane,
            dir: PathBuf::new(),
            node: None,
            started: Vec::new(),
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
            let log = self.log(name);
            let tail = crate::backend::sandbox::log_tail(&log, 6);
            out.push_str(&format!("--- {name} ({}):\n{tail}\n", log.display()));
        }
        out
    }

    fn start(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        self.dir = cloud.run_dir().join("cluster");
        let pki = Pki::write(cloud, &self.dir.join("pki"))?;
        let cgroup = cloud.node_host(
            &node::tmpfs_paths(),
            &[network::API_SERVICE_IP, network::NODE_IP],
        )?;
        let (tokens, kubeconfigs) = identities(cloud, &pki)?;
        self.start_etcd(cloud)?;
        let access = self.start_apiserver(cloud, &pki, &tokens)?;
        self.start_controllers(cloud, &pki, &kubeconfigs, &access)?;
        self.start_node(cloud, &kubeconfigs["kubelet"], &cgroup, &access)?;
        Ok(access)
    }

    fn start_etcd(&mut self, cloud: &mut SandboxedCloud) -> Result<(), String> {
        let etcd = self.plane.etcd.clone();
        let data = self.dir.join("etcd-data");
        self.spawn(
            cloud,
            "etcd",
            &etcd,
            vec![
                format!("--data-dir={}", data.display()),
                "--listen-client-urls=http://127.0.0.1:2379".into(),
                "--advertise-client-urls=http://127.0.0.1:2379".into(),
                "--listen-peer-urls=http://127.0.0.1:2380".into(),
                "--initial-advertise-peer-urls=http://127.0.0.1:2380".into(),
                "--initial-cluster=default=http://127.0.0.1:2380".into(),
                // A throwaway cluster: durability buys nothing, fsync costs seconds per cell.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        )
    }

    /// The API server; done when it serves and has made its `default` namespace.
    fn start_apiserver(
        &mut self,
        cloud: &mut SandboxedCloud,
        pki: &Pki,
        tokens: &Path,
    ) -> Result<ClusterAccess, String> {
        let path = |p: &Path| p.display().to_string();
        let kube_bin = self.plane.kube.clone();
        let mut apiserver = vec!["kube-apiserver".to_string()];
        apiserver.extend([
            "--etcd-servers=http://127.0.0.1:2379".to_string(),
            format!("--bind-address={}", network::API_SERVICE_IP),
            format!("--advertise-address={}", network::API_SERVICE_IP),
            "--secure-port=443".into(),
            format!("--tls-cert-file={}", path(&pki.cert)),
            format!("--tls-private-key-file={}", path(&pki.key)),
            format!("--client-ca-file={}", path(&pki.ca)),
            format!("--token-auth-file={}", path(tokens)),
            "--authorization-mode=Node,RBAC".into(),
            format!("--service-account-issuer={ISSUER}"),
            format!("--service-account-key-file={}", path(&pki.sa_pub)),
            format!("--service-account-signing-key-file={}", path(&pki.sa_key)),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            // Pods reach the ClusterIP itself (an address of the sandbox), not an endpoint.
            "--endpoint-reconciler-type=none".into(),
            "--allow-privileged=true".into(),
            format!("--cert-dir={}", path(&self.dir.join("apiserver-certs"))),
            "--profiling=false".into(),
        ]);
        self.spawn(cloud, "kube-apiserver", &kube_bin, apiserver)?;
        let access = ClusterAccess {
            kubeconfig: pki.dir.join("admin.kubeconfig"),
            server: API_SERVER.into(),
            ca_file: pki.ca.clone(),
            netns: cloud.netns(),
        };
        access.talk(|c| async move {
            let namespaces: ::kube::Api<Namespace> = ::kube::Api::all(c);
            kube::until(Duration::from_secs(90), "the API server", || async {
                namespaces.get("default").await.ok()
            })
            .await
        })?;
        Ok(access)
    }

    /// The controller-manager and the scheduler; done when namespaces get their `default`
    /// ServiceAccount (the controller-manager works).
    fn start_controllers(
        &mut self,
        cloud: &mut SandboxedCloud,
        pki: &Pki,
        kubeconfigs: &BTreeMap<&str, PathBuf>,
        access: &ClusterAccess,
    ) -> Result<(), String> {
        let path = |p: &Path| p.display().to_string();
        let kube_bin = self.plane.kube.clone();
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
                format!("--service-account-private-key-file={}", path(&pki.sa_key)),
                format!("--root-ca-file={}", path(&pki.ca)),
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
        let ready = Duration::from_secs(60);
        access.talk(|c| async move {
            kube::until_default_service_account(&c, "default", ready, "the controller-manager")
                .await
        })
    }

    /// containerd, the node's images, the kubelet, and the EKS webhook; done when the node is Ready.
    fn start_node(
        &mut self,
        cloud: &mut SandboxedCloud,
        kubeconfig: &Path,
        cgroup: &str,
        access: &ClusterAccess,
    ) -> Result<(), String> {
        crate::tools::node_runtime().map_err(|e| e.to_string())?;
        let dirs = NodeDirs::new(&self.dir);
        for d in [
            dirs.containerd(),
            dirs.kubelet(),
            dirs.pod_logs(),
            dirs.cni_conf(),
        ] {
            crate::cleanup::create_dir_all(&d)
                .map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        let write = |path: PathBuf, text: String| -> Result<PathBuf, String> {
            std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
            Ok(path)
        };
        let containerd_config = write(
            dirs.containerd().join("config.toml"),
            node::containerd_config(&dirs),
        )?;
        write(
            dirs.cni_conf().join("10-authmatrix.conflist"),
            node::cni_config(&dirs),
        )?;
        node::write_registry_hosts(&dirs, &cloud.ca_file)?;
        let containerd = crate::tools::which("containerd").ok_or("containerd vanished")?;
        self.spawn(
            cloud,
            "containerd",
            &containerd,
            vec![format!("--config={}", containerd_config.display())],
        )?;
        let socket = dirs.socket();
        wait_for(Duration::from_secs(30), "containerd's socket", || {
            socket.exists()
        })?;
        let images = self.dir.join("images");
        crate::cleanup::create_dir_all(&images).map_err(|e| e.to_string())?;
        let mut archives = Vec::new();
        for image in [
            crate::builds::images::pause()?,
            crate::builds::images::test_image()?,
        ] {
            let path = images.join(format!("{}.tar", image.name.replace(['/', ':'], "_")));
            crate::builds::images::write_archive(&image, &path)?;
            archives.push(path);
        }
        self.node = Some(dirs);
        self.import(cloud, &archives)?;

        let dirs = self.node.as_ref().expect("set above");
        let resolv = cloud.run_dir().join("sandbox").join("resolv.conf");
        let config = write(
            dirs.kubelet().join("config.json"),
            node::kubelet_config(dirs, cgroup, &resolv),
        )?;
        let args = node::kubelet_args(dirs, &config, kubeconfig);
        let kube_bin = self.plane.kube.clone();
        self.spawn(cloud, "kubelet", &kube_bin, args)?;

        let webhook = super::eks::webhook_configuration(&cloud.ca_file)?;
        access.talk(|c| async move {
            kube::apply(&c, &webhook).await?;
            let nodes: ::kube::Api<Node> = ::kube::Api::all(c);
            kube::until(Duration::from_secs(120), "the node to be Ready", || async {
                let n = nodes.get(node::NODE_NAME).await.ok()?;
                let ready = n
                    .status?
                    .conditions?
                    .into_iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                ready.then_some(())
            })
            .await
        })
    }

    /// Imports OCI archives into the node's containerd.
    fn import(&mut self, cloud: &mut SandboxedCloud, archives: &[PathBuf]) -> Result<(), String> {
        let dirs = self.node.as_ref().ok_or("this cluster has no node")?;
        for archive in archives {
            let path = archive.display().to_string();
            let args = node::ctr_args(dirs, &["images", "import", &path]);
            self.ctr(cloud, args)?;
        }
        Ok(())
    }

    /// Runs containerd's client inside the sandbox; its stdout.
    fn ctr(&self, cloud: &mut SandboxedCloud, args: Vec<String>) -> Result<String, String> {
        let ctr = crate::tools::which("ctr").ok_or("ctr (containerd's client) is missing")?;
        cloud
            .sandbox()?
            .run_ok(&ctr, args, &self.dir, Duration::from_secs(120))
    }
}

fn wait_for(timeout: Duration, what: &str, ready: impl Fn() -> bool) -> Result<(), String> {
    let deadline = std::time::Instant::now() + timeout;
    while !ready() {
        if std::time::Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

impl ClusterProvider for LocalUp {
    fn up(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        self.start(cloud)
            .map_err(|e| format!("{e}\n{}", self.logs_tail()))
    }

    fn load_images(
        &mut self,
        cloud: &mut SandboxedCloud,
        images: &[PathBuf],
    ) -> Result<(), String> {
        self.import(cloud, images)
    }

    fn forget_pulled_images(&mut self, cloud: &mut SandboxedCloud) -> Result<(), String> {
        let Some(dirs) = self.node.as_ref() else {
            return Ok(());
        };
        let listed = self.ctr(cloud, node::ctr_args(dirs, &["images", "ls", "-q"]))?;
        let pulled = node::pulled_from_fakes(&listed);
        if !pulled.is_empty() {
            let mut args = vec!["images", "rm"];
            args.extend(pulled.iter().map(String::as_str));
            self.ctr(cloud, node::ctr_args(dirs, &args))?;
        }
        Ok(())
    }

    fn pod_logs(&self) -> Option<&NodeDirs> {
        self.node.as_ref()
    }

    fn down(&mut self, cloud: &mut SandboxedCloud) {
        while let Some(name) = self.started.pop() {
            if let Ok(sandbox) = cloud.sandbox() {
                let _ = sandbox.stop(name, Duration::from_secs(3));
            }
        }
    }
}

/// The control plane's key material, written where its components read it.
struct Pki {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
    ca: PathBuf,
}

impl Pki {
    /// The API server's serving certificate (from the run's CA, redacted) and the cluster's
    /// service-account keys (the fake cloud's OIDC keys: what STS and EKS Auth trust).
    fn write(cloud: &mut SandboxedCloud, dir: &Path) -> Result<Pki, String> {
        crate::cleanup::create_dir_all(dir).map_err(|e| e.to_string())?;
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
        let sa = super::eks::write_service_account_keys(&cloud.oidc, dir)?;
        Ok(Pki {
            cert: write_file(dir, "apiserver.crt", &serving.cert_pem)?,
            key: write_file(dir, "apiserver.key", &serving.key_pem)?,
            sa_key: sa.key,
            sa_pub: sa.public,
            ca: cloud.ca_file.clone(),
            dir: dir.to_path_buf(),
        })
    }
}

/// Static tokens (redacted) for the admin, the two controllers and the kubelet, and a kubeconfig
/// each (hack/local-up-cluster.sh uses client certificates; tokens are simpler and as real to
/// RBAC). Returns the API server's token file and the kubeconfigs by name.
fn identities(
    cloud: &mut SandboxedCloud,
    pki: &Pki,
) -> Result<(PathBuf, BTreeMap<&'static str, PathBuf>), String> {
    let kubelet_user = format!("system:node:{}", node::NODE_NAME);
    let identities = [
        ("admin", "authmatrix-admin", "system:masters"),
        (
            "kube-controller-manager",
            "system:kube-controller-manager",
            "",
        ),
        ("kube-scheduler", "system:kube-scheduler", ""),
        // The Node authorizer knows a kubelet by this name and group.
        ("kubelet", kubelet_user.as_str(), "system:nodes"),
    ];
    let mut csv = String::new();
    let mut kubeconfigs = BTreeMap::new();
    for (file, user, groups) in identities {
        let token = format!("am-{}", crate::fakes::events::request_id());
        cloud.redactor.add(&token);
        csv.push_str(&format!("{token},{user},{user},\"{groups}\"\n"));
        let text = kube::kubeconfig(API_SERVER, &pki.ca, user, &token, "default");
        let name = format!("{file}.kubeconfig");
        kubeconfigs.insert(file, write_file(&pki.dir, &name, &text)?);
    }
    Ok((write_file(&pki.dir, "tokens.csv", &csv)?, kubeconfigs))
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

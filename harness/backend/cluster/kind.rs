//! `kind`: a kind cluster on the harness's own container engine (`engine`), started inside the
//! sandbox, so the cluster, its network and its containers go with the sandbox: when the backend
//! is dropped, on Ctrl-C and when the harness is killed. One cluster per run, reused across tags.
//! Runs `kind` as its CLI (kind has no API; it drives the docker CLI), pointed at that engine.
//!
//! The node image is built without a registry (`make kind-node`, tools/kind-node/build.sh), and
//! the API server signs service-account tokens with the run's key and the EKS issuer, as local-up's
//! does, so the fake STS and EKS Auth trust them. Argo's controller runs as on local-up: a process
//! in the sandbox (`SandboxedController`), talking to kind's API server through the port kind
//! publishes on the sandbox's loopback.
//!
//! The node reaches the fake cloud through the sandbox, which routes kind's network: the fakes'
//! names resolve to their outside addresses (`network::outside_hosts`) in the node's /etc/hosts,
//! its containerd trusts the run's CA for the fake registries, the EKS webhook is registered as on
//! local-up, and workflow pods use the node's network (`hostNetwork`, as on local-up). Pod logs are
//! the kubelet's files, which the node writes into the run's directory.

use super::engine::{Engine, EngineBuild};
use super::kube::{self, ClusterAccess};
use super::node::{self, NodeDirs};
use super::provider::ClusterProvider;
use crate::backend::sandbox::cloud::SandboxedCloud;
use crate::backend::sandbox::network;
use crate::fakes::oidc::ISSUER;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where kind's node mounts the run's service-account keys: under the directory kubeadm's API
/// server pod already mounts.
const NODE_KEYS: &str = "/etc/kubernetes/pki/authmatrix";
/// The run's CA on the node, for its containerd's registry hosts.
const NODE_CA: &str = "/etc/authmatrix/ca.pem";
/// Where containerd reads registry hosts on the node (set by `registry_patch`).
const NODE_REGISTRY_HOSTS: &str = "/etc/containerd/certs.d";

/// What `make kind-node` builds: the kind CLI and the node image, cached by version.
pub struct KindBuild {
    pub cli: PathBuf,
    /// A `docker load` archive and the image name it holds.
    pub node_tarball: PathBuf,
    pub node_image: String,
}

impl KindBuild {
    pub fn find(project_root: &Path, cache_dir: &Path) -> Result<Self, String> {
        let version = |dir: &str, module| {
            crate::builds::go::required_version(&project_root.join(dir), module)
        };
        let kind = version("tools/kind-node/kind", "sigs.k8s.io/kind")?;
        let kubernetes = version("cluster/kubernetes", "k8s.io/kubernetes")?;
        let dir = cache_dir.join("kind");
        let build = KindBuild {
            cli: dir.join(format!("kind-{kind}")),
            node_tarball: dir.join(format!("kindest-node-{kubernetes}-authmatrix.tar")),
            node_image: format!("kindest/node:{kubernetes}-authmatrix"),
        };
        for path in [&build.cli, &build.node_tarball] {
            if !path.exists() {
                return Err(format!(
                    "--provider kind needs the kind CLI {kind} and a node image for Kubernetes {kubernetes} made without a registry, but {} does not exist; build them with `make kind-node`",
                    path.display()
                ));
            }
        }
        Ok(build)
    }
}

pub struct Kind {
    build: KindBuild,
    engine_build: EngineBuild,
    name: String,
    dir: PathBuf,
    config: PathBuf,
    engine: Option<Engine>,
    /// The node's files the harness reads (pod logs) or writes (registry hosts), mounted into it.
    node: NodeDirs,
    created: bool,
}

impl Kind {
    pub fn new(run_dir: &Path, project_root: &Path, cache_dir: &Path) -> Result<Self, String> {
        crate::tools::which("docker").ok_or(
            "the docker CLI is needed for --provider kind (kind drives it) but was not found on PATH; install Docker's CLI",
        )?;
        let dir = run_dir.join("kind");
        Ok(Kind {
            build: KindBuild::find(project_root, cache_dir)?,
            engine_build: EngineBuild::find(project_root, cache_dir)?,
            name: format!("authmatrix-{}", std::process::id()),
            config: project_root.join("kind-config/cluster.yaml"),
            engine: None,
            node: NodeDirs::new(&dir),
            dir,
            created: false,
        })
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Runs `program` (the kind or docker CLI) against the engine.
    fn cli(&self, program: &Path, args: &[&str]) -> Result<(), String> {
        self.cli_with(program, args, None).map(|_| ())
    }

    /// `cli` with `input` on stdin; its stdout.
    fn cli_with(
        &self,
        program: &Path,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, String> {
        use crate::cleanup::KillableOutput;
        let mut cmd = Command::new(program);
        if let Some(engine) = &self.engine {
            // kind runs the docker CLI, which reads it too.
            cmd.env("DOCKER_HOST", engine.docker_host());
        }
        // kind makes ~/.kube even when told another kubeconfig; the docker CLI keeps ~/.docker.
        cmd.env("HOME", &self.dir);
        let what = || format!("{} {}", program.display(), args.join(" "));
        // In a group of its own that an interrupt kills: a Ctrl-C must not fail a half-made
        // cluster's command before the handler deletes the cluster. Its stdin is always a pipe
        // that ends after `input`.
        let input = input.unwrap_or_default().as_bytes();
        let out = cmd.args(args).killable_output_fed(Some(input));
        let out = out.map_err(|e| format!("{}: {e}", what()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{}: {}",
                what(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// kind-config/cluster.yaml with what this run adds: its node image, and its service-account
    /// keys mounted into the node and used by the API server.
    fn write_config(&self, keys: &Path, ca: &Path) -> Result<PathBuf, String> {
        let text = std::fs::read_to_string(&self.config)
            .map_err(|e| format!("read {}: {e}", self.config.display()))?;
        let mut config: serde_json::Value =
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", self.config.display()))?;
        config["kubeadmConfigPatches"] = serde_json::json!([api_server_patch()]);
        let patches = config["containerdConfigPatches"].as_array().cloned();
        let mut patches = patches.unwrap_or_default();
        patches.push(registry_patch().into());
        config["containerdConfigPatches"] = patches.into();
        let mounts = serde_json::json!([
            {"hostPath": keys, "containerPath": NODE_KEYS, "readOnly": true},
            {"hostPath": ca, "containerPath": NODE_CA, "readOnly": true},
            {"hostPath": self.node.registry_hosts(), "containerPath": NODE_REGISTRY_HOSTS, "readOnly": true},
            {"hostPath": self.node.pod_logs(), "containerPath": "/var/log/pods"},
        ]);
        for n in config["nodes"].as_array_mut().into_iter().flatten() {
            n["image"] = self.build.node_image.clone().into();
            n["extraMounts"] = mounts.clone();
        }
        let path = self.dir.join("cluster.yaml");
        // JSON is YAML.
        std::fs::write(&path, config.to_string()).map_err(|e| e.to_string())?;
        Ok(path)
    }

    fn create(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        crate::cleanup::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let cgroup = cloud.node_host(&node::tmpfs_paths(), &[])?;
        let engine_dir = self.dir.join("engine");
        self.engine = Some(Engine::start(
            cloud,
            &self.engine_build,
            &engine_dir,
            &cgroup,
        )?);
        let tarball = self.build.node_tarball.display().to_string();
        self.cli(Path::new("docker"), &["load", "--quiet", "-i", &tarball])?;
        crate::cleanup::create_dir_all(&self.node.pod_logs()).map_err(|e| e.to_string())?;
        node::write_registry_hosts(&self.node, Path::new(NODE_CA))?;
        // The run's service-account keys, in the directory the node mounts at NODE_KEYS.
        let keys = self.dir.join("sa");
        super::eks::write_service_account_keys(&cloud.oidc, &keys)?;
        let config = self.write_config(&keys, &cloud.ca_file)?;
        self.created = true;
        let kubeconfig = self.kubeconfig().display().to_string();
        self.cli(
            &self.build.cli,
            &[
                "create",
                "cluster",
                "--name",
                &self.name,
                "--config",
                &config.display().to_string(),
                "--kubeconfig",
                &kubeconfig,
                "--wait",
                "180s",
            ],
        )?;
        self.route_fakes(cloud)?;
        let test_image = self.test_image()?;
        self.load_images(cloud, &[test_image])?;
        let access = self.access(cloud)?;
        let webhook = super::eks::webhook_configuration(&cloud.ca_file)?;
        access.talk(|c| async move {
            kube::until_default_service_account(
                &c,
                "default",
                Duration::from_secs(60),
                "kind's controller-manager",
            )
            .await?;
            kube::apply(&c, &webhook).await
        })?;
        Ok(access)
    }

    fn node_container(&self) -> String {
        format!("{}-control-plane", self.name)
    }

    /// The fake cloud from the node: the sandbox maps `network::OUTSIDE_NET` onto the loopback
    /// addresses the fakes listen on, and the node's /etc/hosts names them there. The pods that run
    /// already (the API server, which calls the EKS webhook) got a copy of that file when they
    /// started (the kubelet copies it for `hostNetwork` pods), so their copies get the names too.
    fn route_fakes(&self, cloud: &mut SandboxedCloud) -> Result<(), String> {
        let script = format!(
            "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && iptables -w -t nat -A PREROUTING -d {} -j NETMAP --to 127.0.0.0/24",
            network::OUTSIDE_NET
        );
        cloud
            .sandbox()?
            .run_ok(
                Path::new("/bin/sh"),
                vec!["-c".into(), script],
                &self.dir,
                Duration::from_secs(30),
            )
            .map_err(|e| format!("routing the fake cloud to kind's network: {e}"))?;
        let append = "cat > /tmp/authmatrix-hosts && for f in /etc/hosts /var/lib/kubelet/pods/*/etc-hosts; do [ -f \"$f\" ] && cat /tmp/authmatrix-hosts >> \"$f\"; done; rm /tmp/authmatrix-hosts";
        let node = self.node_container();
        self.cli_with(
            Path::new("docker"),
            &["exec", "-i", &node, "sh", "-c", append],
            Some(&network::outside_hosts()),
        )?;
        Ok(())
    }

    /// The image workflow pods run (busybox), as an archive for `kind load`.
    fn test_image(&self) -> Result<PathBuf, String> {
        let image = crate::builds::images::test_image()?;
        let path = self.dir.join("test-image.tar");
        crate::builds::images::write_archive(&image, &path)?;
        Ok(path)
    }

    /// kind's kubeconfig points at the API server port it publishes on the sandbox's loopback:
    /// reachable from the sandbox's network namespace, where the harness talks from and the
    /// controller runs.
    fn access(&self, cloud: &SandboxedCloud) -> Result<ClusterAccess, String> {
        let text = std::fs::read_to_string(self.kubeconfig()).map_err(|e| e.to_string())?;
        let doc: serde_json::Value =
            serde_saphyr::from_str(&text).map_err(|e| format!("kind's kubeconfig: {e}"))?;
        let cluster = &doc["clusters"][0]["cluster"];
        let server = cluster["server"]
            .as_str()
            .ok_or("kind's kubeconfig names no server")?;
        let ca = base64::engine::general_purpose::STANDARD
            .decode(
                cluster["certificate-authority-data"]
                    .as_str()
                    .unwrap_or_default(),
            )
            .map_err(|e| format!("kind's kubeconfig: certificate-authority-data: {e}"))?;
        let ca_file = self.dir.join("ca.crt");
        std::fs::write(&ca_file, ca).map_err(|e| e.to_string())?;
        Ok(ClusterAccess {
            kubeconfig: self.kubeconfig(),
            server: server.to_string(),
            ca_file,
            netns: cloud.netns(),
        })
    }
}

/// containerd on the node reads registry hosts (the fake registries, trusting the run's CA) where
/// the run mounts them.
fn registry_patch() -> String {
    format!(
        "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{NODE_REGISTRY_HOSTS}\"\n"
    )
}

/// kubeadm's ClusterConfiguration (v1beta3, which kind uses for Kubernetes < 1.36): the API server
/// issues and trusts service-account tokens with the run's key and the EKS issuer.
fn api_server_patch() -> String {
    use super::eks::{SA_KEY, SA_PUB};
    format!(
        "kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    service-account-issuer: \"{ISSUER}\"\n    service-account-key-file: {NODE_KEYS}/{SA_PUB}\n    service-account-signing-key-file: {NODE_KEYS}/{SA_KEY}\n"
    )
}

impl ClusterProvider for Kind {
    fn up(&mut self, cloud: &mut SandboxedCloud) -> Result<ClusterAccess, String> {
        self.create(cloud).map_err(|e| {
            let log = self.engine.as_ref().map(|e| e.log().display().to_string());
            format!("{e}\n(the engine's log: {})", log.unwrap_or_default())
        })
    }

    fn load_images(
        &mut self,
        _cloud: &mut SandboxedCloud,
        images: &[PathBuf],
    ) -> Result<(), String> {
        for image in images {
            self.cli(
                &self.build.cli,
                &[
                    "load",
                    "image-archive",
                    &image.display().to_string(),
                    "--name",
                    &self.name,
                ],
            )?;
        }
        Ok(())
    }

    fn forget_pulled_images(&mut self, _cloud: &mut SandboxedCloud) -> Result<(), String> {
        let node = self.node_container();
        let ctr = |args: &[&str]| {
            let mut all = vec!["exec", node.as_str(), "ctr", "-n", "k8s.io", "images"];
            all.extend(args);
            self.cli_with(Path::new("docker"), &all, None)
        };
        let pulled = node::pulled_from_fakes(&ctr(&["ls", "-q"])?);
        if !pulled.is_empty() {
            let mut args = vec!["rm"];
            args.extend(pulled.iter().map(String::as_str));
            ctr(&args)?;
        }
        Ok(())
    }

    fn pod_logs(&self) -> Option<&NodeDirs> {
        Some(&self.node)
    }

    fn down(&mut self, cloud: &mut SandboxedCloud) {
        if std::mem::take(&mut self.created) {
            let _ = self.cli(
                &self.build.cli,
                &["delete", "cluster", "--name", &self.name],
            );
        }
        if let Some(mut engine) = self.engine.take() {
            let _ = engine.stop(cloud);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_server_signs_with_the_runs_key_and_the_eks_issuer() {
        let patch: serde_json::Value = serde_saphyr::from_str(&api_server_patch()).unwrap();
        let args = &patch["apiServer"]["extraArgs"];
        assert_eq!(args["service-account-issuer"], ISSUER);
        assert_eq!(
            args["service-account-signing-key-file"],
            format!("{NODE_KEYS}/sa.key")
        );
    }
}

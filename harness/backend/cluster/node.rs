//! The node of a `local-up` cluster: Debian's containerd and runc, and the kubelet of the control
//! plane's release, as processes inside the sandbox — so pods run in the sandbox's network, where
//! the fake cloud lives, exactly as the local backend's probes do.
//!
//! Settings this machine needs (a VM with cgroup v1 and without CAP_SYS_RESOURCE; cluster-facts §0):
//! - containerd `restrict_oom_score_adj = true`: a pod sandbox asks for oom_score_adj -998, which
//!   needs CAP_SYS_RESOURCE; without it every sandbox fails in runc ("can't get final child's PID").
//! - kubelet `failCgroupV1: false`, `cgroupDriver: cgroupfs`, `cgroupsPerQOS: false`,
//!   `enforceNodeAllocatable: []`: no QoS hierarchy on a host whose hierarchies are partly missing.
//! - pods use the node's network (`hostNetwork`): this node has no pod network of its own, and
//!   the fake cloud listens on the sandbox's loopback addresses.
//!
//! Everything the two write by fixed path (/run/containerd/s, /var/log/containers, /var/lib/cni)
//! lands on tmpfs mounted in the sandbox's mount namespace; containers' cgroups live under a tree
//! named after the sandbox, removed when it ends (`crate::cgroups`).

use crate::backend::sandbox::network;
use std::path::{Path, PathBuf};

pub const NODE_NAME: &str = "authmatrix-node";

/// Paths of one node under the run's cluster directory.
pub struct NodeDirs {
    pub root: PathBuf,
}

impl NodeDirs {
    pub fn new(cluster_dir: &Path) -> Self {
        NodeDirs {
            root: cluster_dir.join("node"),
        }
    }
    pub fn containerd(&self) -> PathBuf {
        self.root.join("containerd")
    }
    pub fn socket(&self) -> PathBuf {
        self.containerd().join("containerd.sock")
    }
    pub fn kubelet(&self) -> PathBuf {
        self.root.join("kubelet")
    }
    /// The kubelet's `podLogsDir`: `<ns>_<pod>_<uid>/<container>/<restart>.log`, CRI format.
    pub fn pod_logs(&self) -> PathBuf {
        self.root.join("pod-logs")
    }
    pub fn cni_conf(&self) -> PathBuf {
        self.root.join("cni")
    }
    pub fn registry_hosts(&self) -> PathBuf {
        self.containerd().join("certs.d")
    }
}

/// The paths the sandbox covers with tmpfs before the node starts.
pub fn tmpfs_paths() -> Vec<PathBuf> {
    ["/run", "/var/log", "/var/lib/cni", "/mnt"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect()
}

/// containerd 1.6's configuration (version 2): everything under the node's directory.
pub fn containerd_config(dirs: &NodeDirs) -> String {
    let c = dirs.containerd();
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{hosts}"
"#,
        root = c.join("root").display(),
        state = c.join("state").display(),
        sock = dirs.socket().display(),
        opt = c.join("opt").display(),
        pause = crate::builds::images::PAUSE,
        runc = c.join("runc").display(),
        cni = dirs.cni_conf().display(),
        hosts = dirs.registry_hosts().display(),
    )
}

/// A CNI configuration, so that containerd reports its network ready and the node becomes Ready.
/// No pod uses it: every pod is on the node's network.
pub fn cni_config(dirs: &NodeDirs) -> String {
    serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "authmatrix",
        "plugins": [{
            "type": "bridge",
            "bridge": "am-cni0",
            "isGateway": true,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/24"}]],
                     "dataDir": dirs.root.join("cni-ipam").display().to_string()},
        }],
    })
    .to_string()
}

/// The images of `ctr images ls -q` that came from the fake cloud's registries: what a node forgets
/// between cells, so that the next cell's pull is a pull.
pub fn pulled_from_fakes(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter(|r| {
            network::registry_hosts()
                .iter()
                .any(|h| r.starts_with(&format!("{h}/")))
        })
        .map(String::from)
        .collect()
}

/// `hosts.toml` for each of the fake cloud's registries: trust the run's CA, as a node trusts
/// the real registries' public CAs.
pub fn write_registry_hosts(dirs: &NodeDirs, ca_file: &Path) -> Result<(), String> {
    for host in network::registry_hosts() {
        let dir = dirs.registry_hosts().join(host);
        crate::cleanup::create_dir_all(&dir)
            .map_err(|e| format!("create {}: {e}", dir.display()))?;
        let text = format!(
            "server = \"https://{host}\"\n\n[host.\"https://{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"{}\"\n",
            ca_file.display()
        );
        std::fs::write(dir.join("hosts.toml"), text).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The kubelet's configuration file.
pub fn kubelet_config(dirs: &NodeDirs, cgroup_root: &str, resolv_conf: &Path) -> String {
    serde_json::json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": network::NODE_IP,
        "readOnlyPort": 0,
        "healthzPort": 0,
        "authentication": {"anonymous": {"enabled": false}, "webhook": {"enabled": false}},
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": false,
        "cgroupRoot": format!("/{cgroup_root}"),
        "enforceNodeAllocatable": [],
        "failCgroupV1": false,
        "failSwapOn": false,
        "containerRuntimeEndpoint": format!("unix://{}", dirs.socket().display()),
        "podLogsDir": dirs.pod_logs().display().to_string(),
        "resolvConf": resolv_conf.display().to_string(),
        "clusterDomain": "cluster.local",
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": false,
        "localStorageCapacityIsolation": false,
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "registerNode": true,
        "staticPodPath": "",
        "syncFrequency": "5s",
        "nodeStatusUpdateFrequency": "2s",
        "shutdownGracePeriod": "0s",
    })
    .to_string()
}

/// The kubelet's flags (the rest is in its configuration file).
pub fn kubelet_args(dirs: &NodeDirs, config: &Path, kubeconfig: &Path) -> Vec<String> {
    vec![
        "kubelet".into(),
        format!("--config={}", config.display()),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--root-dir={}", dirs.kubelet().display()),
        format!("--cert-dir={}", dirs.kubelet().join("pki").display()),
        format!("--hostname-override={NODE_NAME}"),
        format!("--node-ip={}", network::NODE_IP),
        "--v=1".into(),
    ]
}

/// The argv of `ctr` for this node's containerd, in the CRI's namespace.
pub fn ctr_args(dirs: &NodeDirs, args: &[&str]) -> Vec<String> {
    let mut argv = vec![
        format!("--address={}", dirs.socket().display()),
        "--namespace=k8s.io".into(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv
}

/// One container's log as the kubelet wrote it (CRI format: `<time> <stream> <P|F> <text>`), as
/// plain text, for the pods of one workflow (named after it); `stream` keeps only `stdout` or
/// `stderr` (Argo's emissary logs to main's stderr, the program's output is its stdout). Empty
/// when the container never started.
pub fn container_log(
    dirs: &NodeDirs,
    namespace: &str,
    workflow: &str,
    container: &str,
    stream: Option<&str>,
) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dirs.pod_logs())
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = dir_name.strip_prefix(&format!("{namespace}_{workflow}")) else {
            continue;
        };
        if !(rest.starts_with('_') || rest.starts_with('-')) {
            continue;
        }
        let dir = entry.path().join(container);
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        logs.sort();
        for log in logs {
            text.push_str(&cri_log_text(
                &std::fs::read_to_string(log).unwrap_or_default(),
                stream,
            ));
        }
    }
    text
}

fn cri_log_text(raw: &str, stream: Option<&str>) -> String {
    let mut out = String::new();
    for line in raw.lines() {
        let mut parts = line.splitn(4, ' ');
        let (_, from, tag, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
        if stream.is_some_and(|s| from != Some(s)) {
            continue;
        }
        out.push_str(rest.unwrap_or_default());
        // `P`: a partial line, continued by the next record.
        if tag != Some("P") {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn cri_log_lines_become_the_containers_output() {
        let raw = "2026-12-01T00:00:00.1Z stdout P authmatrix test \n2026-12-01T00:00:00.2Z stdout F object\n2026-12-01T00:00:00.3Z stderr F second line\n";
        assert_eq!(
            super::cri_log_text(raw, None),
            "authmatrix test object\nsecond line\n"
        );
        assert_eq!(
            super::cri_log_text(raw, Some("stdout")),
            "authmatrix test object\n"
        );
    }
}

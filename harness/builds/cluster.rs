//! Building what the cluster backend runs, from Go modules through the module proxy, cached by
//! version and source hash under `<cache>/cluster/`:
//! - Kubernetes (one multi-call binary: kube-apiserver, kube-controller-manager, kube-scheduler,
//!   kubelet, kube-proxy, and kubeadm and kubectl for the kind node image, which tools/kind-node/build.sh
//!   links from the same module with the same flags) from `cluster/kubernetes/` — `k8s.io/kubernetes`
//!   at a pinned release with every staging module replaced by its published `v0.X` (kubernetes
//!   issue 79384);
//! - etcd from `cluster/etcd/` (etcdmain, as etcd's own server/main.go; the kind node's etcd too);
//! - Argo's workflow-controller and argoexec per tag, built together inside a copy of that tag's
//!   module directory so its own `replace` directives hold, with the version ldflags of Argo's
//!   Makefile, and the tag's `manifests/` and `hack/ssh_known_hosts` beside them.
//!
//! Checksums: the wrapper modules carry committed go.sum files; Argo's module carries its own.

use super::cache::OtherKeys;
use super::go::{GO_TMP, GoEnv, GoTmp};
use super::module::{ModuleError, argo_at, argo_module};
use crate::cleanup::KillableOutput;
use crate::shared::ArgoTag;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlane {
    /// The multi-call Kubernetes binary (`kube kube-apiserver …`).
    pub kube: PathBuf,
    pub etcd: PathBuf,
    /// e.g. `v1.34.1`.
    pub kubernetes_version: String,
    pub etcd_version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerBuild {
    /// workflow-controller.
    pub binary: PathBuf,
    /// argoexec, for the executor image (`images::argoexec_image`).
    #[serde(default)]
    pub argoexec: PathBuf,
    /// Argo's `hack/ssh_known_hosts`, which its Dockerfile copies into the argoexec image.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// The tag's `manifests/` directory (CRDs, RBAC), copied from its module.
    pub manifests: PathBuf,
    /// Where the manifests came from, for report.json.
    pub manifests_source: String,
    pub commit: String,
    pub go_version: String,
    pub build_seconds: f64,
}

pub struct ClusterBuilder {
    go: PathBuf,
    cache_dir: PathBuf,
    /// The project's `cluster/` (wrapper modules with committed go.sum files).
    sources: PathBuf,
    local_go: String,
}

impl ClusterBuilder {
    pub fn new(cache_dir: &Path, project_root: &Path) -> Result<Self, String> {
        let go = crate::tools::go().map_err(|e| e.to_string())?;
        // GOTOOLCHAIN as the caller's environment has it: this is the cache keys' Go version.
        let local_go =
            super::go::version(&go, None).map_err(|e| format!("go env GOVERSION: {e}"))?;
        super::cache::remove_dead_partials(&cache_dir.join("cluster"));
        Ok(ClusterBuilder {
            go,
            cache_dir: cache_dir.join("cluster"),
            sources: project_root.join("cluster"),
            local_go,
        })
    }

    /// etcd and the Kubernetes components, built once per source change.
    pub fn control_plane(&self) -> Result<ControlPlane, String> {
        let kubernetes_version =
            super::go::required_version(&self.sources.join("kubernetes"), "k8s.io/kubernetes")?;
        let etcd_version =
            super::go::required_version(&self.sources.join("etcd"), "go.etcd.io/etcd/server/v3")?;
        let kube = self.build_wrapper("kubernetes", "kube", &kube_ldflags(&kubernetes_version)?)?;
        let etcd = self.build_wrapper("etcd", "etcd", "-s -w")?;
        Ok(ControlPlane {
            kube,
            etcd,
            kubernetes_version,
            etcd_version,
        })
    }

    /// Builds `cluster/<name>/` into `<cache>/cluster/<name>-<key>/<binary>` unless it is there.
    fn build_wrapper(&self, name: &str, binary: &str, ldflags: &str) -> Result<PathBuf, String> {
        let src = self.sources.join(name);
        let mut h = Sha256::new();
        for file in ["go.mod", "go.sum", "main.go"] {
            let text = std::fs::read(src.join(file))
                .map_err(|e| format!("read {}: {e}", src.join(file).display()))?;
            h.update(file.as_bytes());
            h.update(&text);
        }
        h.update(self.local_go.as_bytes());
        h.update(ldflags.as_bytes());
        let key = &hex::encode(h.finalize())[..12];
        // The build's start when this call built it (for the progress line), `None` when cached.
        let (target, built) = super::cache::get_or_build(
            &self.cache_dir,
            name,
            key,
            OtherKeys::Forget,
            |dir| {
                let target = dir.join(binary);
                target.is_file().then_some((target, None))
            },
            |tmp, dir| {
                crate::progress::line(&format!(
                    "building {name} from its Go module (minutes on a cold cache)"
                ));
                let started = std::time::Instant::now();
                for file in ["go.mod", "go.sum", "main.go"] {
                    std::fs::copy(src.join(file), tmp.join(file)).map_err(|e| e.to_string())?;
                }
                // -mod=readonly: every checksum must come from the committed go.sum.
                let out = self
                    .go_cmd(tmp, "-mod=readonly -buildvcs=false", false)
                    .args(["build", "-trimpath", "-ldflags", ldflags, "-o", binary, "."])
                    .killable_output()
                    .map_err(|e| format!("go build: {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "building {name} failed:\n{}",
                        without_downloads(&out.stderr)
                    ));
                }
                Ok((dir.join(binary), Some(started)))
            },
        )?;
        if let Some(started) = built {
            crate::progress::line(&format!(
                "built {name} in {:.0} s",
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(target)
    }

    /// The workflow-controller of `tag` and its manifests, built once per tag and Go version.
    pub fn controller(&self, tag: &ArgoTag) -> Result<ControllerBuild, String> {
        let key = &hex::encode(Sha256::digest(self.local_go.as_bytes()))[..12];
        // Builds of the tag under another Go's key stay (the probes' and wrappers' do not).
        super::cache::get_or_build(
            &self.cache_dir,
            &format!("workflow-controller-{}", tag.tag),
            key,
            OtherKeys::Keep,
            |dir| {
                std::fs::read(dir.join("build.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<ControllerBuild>(&b).ok())
                    .filter(|b| b.binary.is_file() && b.argoexec.is_file())
            },
            |tmp, dir| {
                crate::progress::line(&format!(
                    "building workflow-controller and argoexec {} from their Go module",
                    tag.tag
                ));
                let started = std::time::Instant::now();
                let build = self.build_controller(tag, tmp, dir, started)?;
                let json = serde_json::to_string_pretty(&build).expect("serializable");
                std::fs::write(tmp.join("build.json"), json).map_err(|e| e.to_string())?;
                Ok(build)
            },
        )
    }

    fn build_controller(
        &self,
        tag: &ArgoTag,
        tmp: &Path,
        dir: &Path,
        started: std::time::Instant,
    ) -> Result<ControllerBuild, String> {
        let module = argo_at(tag);
        // The module the tag's probes use too, downloaded once (a version the checksum database
        // does not know is trusted on first use); Go's temporary files stay in this partial build.
        let _ = std::fs::create_dir_all(tmp.join(GO_TMP));
        let argo = super::module::argo(&self.go, tag, tmp).map_err(|e| match e {
            ModuleError::Go(e) | ModuleError::NoAnswer(e) => {
                format!("go mod download {module}: {e}")
            }
            ModuleError::Spawn(e) => format!("go mod download: {e}"),
        })?;
        let module_dir = argo.dir();
        let commit = argo.commit().to_string();
        let src = tmp.join("src");
        copy_tree(&module_dir, &src)?;
        restore_symlinks(&src)?;
        // Argo's Makefile sets these in the module root package (`…/v4.version` from 4.0).
        let version = argo_module(tag);
        let ldflags = format!(
            "-s -w -X {version}.version={t} -X {version}.gitTag={t} -X {version}.gitCommit={commit} -X {version}.gitTreeState=clean",
            t = tag.tag
        );
        let out = self
            .go_cmd(&src, "-mod=mod -buildvcs=false", true)
            .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
            // A directory: one `go build` for both, sharing every package they have in common.
            .arg(format!("{}/", tmp.display()))
            .args(["./cmd/workflow-controller", "./cmd/argoexec"])
            .killable_output()
            .map_err(|e| format!("go build: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building workflow-controller {} failed:\n{}",
                tag.tag,
                without_downloads(&out.stderr)
            ));
        }
        copy_tree(&module_dir.join("manifests"), &tmp.join("manifests"))?;
        let known_hosts = module_dir.join("hack/ssh_known_hosts");
        let known_hosts = if known_hosts.is_file() {
            std::fs::copy(&known_hosts, tmp.join("ssh_known_hosts")).map_err(|e| e.to_string())?;
            Some(dir.join("ssh_known_hosts"))
        } else {
            None
        };
        std::fs::remove_dir_all(&src).map_err(|e| e.to_string())?;
        Ok(ControllerBuild {
            binary: dir.join("workflow-controller"),
            argoexec: dir.join("argoexec"),
            known_hosts,
            manifests: dir.join("manifests"),
            manifests_source: format!(
                "{module} manifests/cluster-install (the release's install.yaml is not reachable here)"
            ),
            commit,
            go_version: self.local_go.clone(),
            build_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// `go` in `dir` with this machine's Go; `dir/.gotmp` is created for Go's temporary files.
    fn go_cmd(&self, dir: &Path, goflags: &str, nosumdb: bool) -> Command {
        GoEnv {
            toolchain: "local",
            goflags,
            nosumdb,
            tmp: GoTmp::Create,
        }
        .command(&self.go, dir)
    }
}

/// Symlinks of the tag's git tree on argoexec's build path, which module zips omit (golang.org/x/mod
/// zip drops every symlink). `signal_linux.go` is a symlink to `signal_darwin.go` (`git ls-tree`
/// shows mode 120000) in `workflow/executor/os-specific` up to v3.6.x and in
/// `workflow/executor/osspecific` from v3.7.0-rc1 on (renamed by a4f457eace, PR 14520; still so in
/// v4.0.x), so the module as the proxy serves it has no Linux `Setpgid` and argoexec does not build
/// ("undefined: Setpgid"). Recreated exactly as git has it; a tag whose module has the file keeps its own.
fn restore_symlinks(src: &Path) -> Result<(), String> {
    for dir in [
        "workflow/executor/os-specific",
        "workflow/executor/osspecific",
    ] {
        let dir = src.join(dir);
        let (link, target) = (dir.join("signal_linux.go"), "signal_darwin.go");
        if dir.join(target).is_file() && !link.exists() {
            std::os::unix::fs::symlink(target, &link)
                .map_err(|e| format!("symlink {}: {e}", link.display()))?;
        }
    }
    Ok(())
}

/// Version ldflags as Kubernetes' own build sets them (hack/lib/version.sh), so that the
/// components report their release instead of `v0.0.0-master`.
fn kube_ldflags(version: &str) -> Result<String, String> {
    let v = semver::Version::parse(version.trim_start_matches('v'))
        .map_err(|e| format!("Kubernetes version {version}: {e}"))?;
    let mut flags = String::from("-s -w");
    for pkg in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        flags.push_str(&format!(
            " -X {pkg}.gitVersion={version} -X {pkg}.gitMajor={} -X {pkg}.gitMinor={} -X {pkg}.gitTreeState=clean",
            v.major, v.minor
        ));
    }
    Ok(flags)
}

/// `cp -r` of a (read-only) module directory into a writable copy.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("read {}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest)
                .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
            let mut perms = std::fs::metadata(&dest)
                .map_err(|e| e.to_string())?
                .permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&dest, perms).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn without_downloads(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with("go: downloading"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn kubernetes_version_ldflags_name_the_release() {
        let flags = super::kube_ldflags("v1.34.1").unwrap();
        assert!(flags.contains("k8s.io/component-base/version.gitVersion=v1.34.1"));
        assert!(flags.contains("k8s.io/client-go/pkg/version.gitMinor=34"));
        assert!(super::kube_ldflags("master").is_err());
    }
}

//! The container engine kind's nodes run on: Docker's daemon and runc built from their Go modules
//! (`make engine`), started inside the sandbox that holds the cluster, so that its bridge network,
//! iptables rules, mounts and processes live in the sandbox's namespaces and go with it.
//!
//! Why not the machine's engine: Debian's dockerd 20.10 cannot start a `--privileged` container on
//! a host that withholds a capability (here CAP_SYS_RESOURCE); from 23.0 the daemon drops what it
//! does not hold itself (moby PR 42933), and Debian's runc 1.1.5 fails every container under it
//! (kind-facts.md §2, §7). Everything the daemon writes is under its own directory (data-root,
//! exec-root, socket, pidfile) or on the sandbox's tmpfs (`/run`), and its containers' cgroups live
//! in the sandbox's tree (`crate::cgroups`), removed when the sandbox ends.

use crate::backend::sandbox::cloud::SandboxedCloud;
use crate::backend::sandbox::log_tail;
use crate::backend::sandbox::protocol::SpawnRequest;
use crate::builds::cached_tools::BuiltTool;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NAME: &str = "dockerd";
/// The runtime's name in daemon.json: the built runc, not the machine's.
const RUNTIME: &str = "runc-built";
/// Starting takes 2–4 s here; a loaded machine needs more.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// dockerd and runc as `make engine` built them.
pub struct EngineBuild {
    pub dockerd: PathBuf,
    pub runc: PathBuf,
}

impl EngineBuild {
    pub fn find(project_root: &Path, cache_dir: &Path) -> Result<Self, String> {
        let tool = |name, module| BuiltTool {
            name,
            dir: name,
            module,
            make_target: "engine",
            why: "to run kind's nodes (--provider kind)",
        };
        Ok(EngineBuild {
            dockerd: tool("dockerd", "github.com/moby/moby/v2").find(project_root, cache_dir)?,
            runc: tool("runc", "github.com/opencontainers/runc").find(project_root, cache_dir)?,
        })
    }
}

/// A running daemon inside a sandbox; [`Engine::stop`] ends it (the sandbox's end does too).
pub struct Engine {
    dir: PathBuf,
    running: bool,
}

impl Engine {
    /// Starts the daemon inside `cloud`'s sandbox, which must already host a node
    /// ([`SandboxedCloud::node_host`] gave `cgroup`), and waits until its API answers.
    pub fn start(
        cloud: &mut SandboxedCloud,
        build: &EngineBuild,
        dir: &Path,
        cgroup: &str,
    ) -> Result<Engine, String> {
        for sub in ["data", "exec"] {
            crate::cleanup::create_dir_all(&dir.join(sub))
                .map_err(|e| format!("create {}: {e}", dir.join(sub).display()))?;
        }
        let config = dir.join("daemon.json");
        std::fs::write(&config, daemon_json(build, dir, cgroup).to_string())
            .map_err(|e| format!("write {}: {e}", config.display()))?;
        let mut engine = Engine {
            dir: dir.to_path_buf(),
            running: false,
        };
        cloud.sandbox()?.spawn(SpawnRequest {
            name: NAME.into(),
            program: build.dockerd.clone(),
            args: vec![format!("--config-file={}", config.display())],
            env: BTreeMap::from([(
                "PATH".to_string(),
                // iptables (/usr/sbin) and the containerd the daemon starts as its child (/usr/bin).
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            )]),
            cwd: dir.to_path_buf(),
            log: engine.log(),
        })?;
        engine.running = true;
        engine.wait_ready()?;
        Ok(engine)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `DOCKER_HOST` for the docker CLI, kind and testcontainers.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if ping(&self.socket()).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "Docker's daemon did not answer on {} within {}s; the end of {}:\n{}",
            self.socket().display(),
            READY_WITHIN.as_secs(),
            self.log().display(),
            log_tail(&self.log(), 12)
        ))
    }

    /// Stops the daemon: it stops its containers and its containerd, then exits.
    pub fn stop(&mut self, cloud: &mut SandboxedCloud) -> Result<(), String> {
        if !std::mem::take(&mut self.running) {
            return Ok(());
        }
        let (was_running, code) = cloud.sandbox()?.stop(NAME, Duration::from_secs(30))?;
        match (was_running, code) {
            (true, _) | (false, Some(0)) => Ok(()),
            (false, code) => Err(format!(
                "Docker's daemon had exited ({code:?}) before it was stopped; the end of {}:\n{}",
                self.log().display(),
                log_tail(&self.log(), 12)
            )),
        }
    }
}

/// `authmatrix engine`: the engine in a sandbox of its own, for the docker CLI, kind and
/// testcontainers (`DOCKER_HOST`, printed first), until stdin closes; Ctrl-C or a killed harness
/// take the sandbox, and with it the daemon and its containers.
pub fn serve(project_root: &Path, cache_dir: &Path, exe: &Path) -> anyhow::Result<()> {
    let build = EngineBuild::find(project_root, cache_dir).map_err(anyhow::Error::msg)?;
    let mut cloud = SandboxedCloud::new(project_root, cache_dir)?;
    cloud.start(exe, crate::tools::python(project_root)?, &[]);
    let cgroup = cloud
        .node_host(&super::node::tmpfs_paths(), &[])
        .map_err(anyhow::Error::msg)?;
    let dir = cloud.run_dir().join("engine");
    let mut engine =
        Engine::start(&mut cloud, &build, &dir, &cgroup).map_err(anyhow::Error::msg)?;
    println!("DOCKER_HOST={}", engine.docker_host());
    std::io::stdout().flush()?;
    std::io::stdin().read_to_end(&mut Vec::new())?;
    engine.stop(&mut cloud).map_err(anyhow::Error::msg)
}

/// The daemon's whole configuration: nothing from /etc/docker, every path its own.
fn daemon_json(build: &EngineBuild, dir: &Path, cgroup: &str) -> serde_json::Value {
    let path = |p: &str| dir.join(p).display().to_string();
    serde_json::json!({
        "data-root": path("data"),
        "exec-root": path("exec"),
        "pidfile": path("docker.pid"),
        "hosts": [format!("unix://{}", path("docker.sock"))],
        "runtimes": {RUNTIME: {"path": build.runc}},
        "default-runtime": RUNTIME,
        // overlay2 on the daemon's own data-root, as Docker ≤ 28 installs have it; the containerd
        // image store would need a newer containerd than Debian's 1.6.
        "features": {"containerd-snapshotter": false},
        "storage-driver": "overlay2",
        "exec-opts": ["native.cgroupdriver=cgroupfs"],
        "cgroup-parent": format!("/{cgroup}/docker"),
        // Published ports by iptables alone: docker-proxy is not built.
        "userland-proxy": false,
        "ip6tables": false,
        "shutdown-timeout": 5,
        "log-level": "warn",
    })
}

/// `GET /_ping` on the daemon's socket: `Ok` once it serves its API.
pub fn ping(socket: &Path) -> Result<(), String> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(answer.lines().next().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_writes_only_under_its_directory_and_puts_containers_in_the_sandboxs_tree() {
        let build = EngineBuild {
            dockerd: "/c/dockerd".into(),
            runc: "/c/runc".into(),
        };
        let v = daemon_json(&build, Path::new("/r/engine"), "authmatrix-42");
        for key in ["data-root", "exec-root", "pidfile"] {
            assert!(v[key].as_str().unwrap().starts_with("/r/engine/"), "{key}");
        }
        assert_eq!(v["hosts"][0], "unix:///r/engine/docker.sock");
        assert_eq!(v["cgroup-parent"], "/authmatrix-42/docker");
        assert_eq!(
            v["runtimes"][v["default-runtime"].as_str().unwrap()]["path"],
            "/c/runc"
        );
    }
}

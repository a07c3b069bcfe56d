//! The sandbox process (`authmatrix sandbox-serve`). Started by [`super::Sandbox`] already
//! inside fresh network and mount namespaces; it sets up loopback and the link-local agent address,
//! mounts a private /etc/hosts, starts the fake cloud, then runs probes on request until stdin closes.

use super::network::*;
use super::protocol::{Ready, Reply, Request, RunReply, RunRequest, SandboxConfig, SpawnRequest};
use crate::fakes::cloud::{
    CloudBuilder, ECR_TOKEN_LIFETIME_SECS, FakeCloud, RegistryKind, SeededImage, Served,
};
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Most of a probe's output worth keeping as evidence.
const OUTPUT_LIMIT: usize = 64 * 1024;

pub fn main() -> Result<(), String> {
    // Started in a fresh PID namespace, this process is not in it: its first child is, as PID 1.
    // Become that child, so that everything the sandbox starts dies with it.
    if std::process::id() != 1 {
        return become_pid_one();
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let config = read_config(lines.next())?;
    set_up_network(&config.work_dir)?;
    let (mut session, ready) = Session::start(&config)?;
    reply_line(&ready)?;
    for line in lines {
        let reply = session.answer(&line.map_err(|e| e.to_string())?);
        reply_line(&reply)?;
    }
    session.tear_down();
    Ok(())
}

/// The first line on stdin: what the sandbox serves, and with which keys.
fn read_config(first: Option<std::io::Result<String>>) -> Result<SandboxConfig, String> {
    let first = first
        .ok_or("no configuration on stdin")?
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&first).map_err(|e| format!("bad configuration: {e}"))
}

/// The sandbox's fake cloud: moto, MinIO when a scenario keeps its bucket there, and every HTTPS
/// fake on its fixed address (network.rs), presenting the run's certificate.
fn start_cloud(config: &SandboxConfig) -> Result<FakeCloud, String> {
    let mut builder = CloudBuilder::new(
        &config.python,
        &config.work_dir,
        at(S3_IP, S3_PORT),
        config.oidc.clone(),
        config.tls_cert.clone(),
    )
    .objects(&config.objects)
    .moto_zygote(config.moto_zygote.as_deref())
    .registry_user(&config.registry_user, &config.registry_password);
    if let Some(launch) = &config.minio {
        builder = builder.minio(launch, at(MINIO_IP, MINIO_PORT));
    }
    let cloud = builder.start()?;
    serve_https_fakes(&cloud, &config.images)?;
    Ok(cloud)
}

/// Every fake but the agent (which a scenario may stop and start): they never stop, so their
/// tasks are not kept.
fn serve_https_fakes(cloud: &FakeCloud, images: &[SeededImage]) -> Result<(), String> {
    cloud.serve_sts(at(STS_IP, 443))?;
    cloud.serve_ecr_api(at(ECR_API_IP, 443))?;
    cloud.serve_ecr_public_api(at(ECR_PUBLIC_API_IP, 443))?;
    let registries = [
        (RegistryKind::Token, TOKEN_REGISTRY_HOST, TOKEN_REGISTRY_IP),
        (RegistryKind::EcrPublic, ECR_PUBLIC_HOST, ECR_PUBLIC_IP),
        (RegistryKind::Ecr, ECR_REGISTRY_HOST, ECR_REGISTRY_IP),
        (
            RegistryKind::Basic,
            PRIVATE_REGISTRY_HOST,
            PRIVATE_REGISTRY_IP,
        ),
    ];
    for (kind, host, ip) in registries {
        cloud.serve_registry(kind, host, at(ip, 443), images)?;
    }
    cloud.serve_eks_webhook(at(EKS_WEBHOOK_IP, 443))?;
    Ok(())
}

/// The real agent's address, which it checks callers used.
fn serve_agent(cloud: &FakeCloud) -> Result<Served, String> {
    let addr = AGENT_ADDR
        .parse()
        .expect("AGENT_ADDR is an IP:port literal");
    cloud.serve_agent(addr, true)
}

fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("network.rs holds IP literals"), port)
}

/// What the protocol acts on: the fake cloud, the agent while it runs, the programs started on
/// request, and the node's cgroup once the sandbox hosts a node.
struct Session {
    cloud: FakeCloud,
    agent: Option<Served>,
    programs: Programs,
    node_cgroup: Option<String>,
}

impl Session {
    /// Starts the cloud and the agent; the [`Ready`] line tells the parent what they issued.
    fn start(config: &SandboxConfig) -> Result<(Session, Ready), String> {
        let cloud = start_cloud(config)?;
        let agent = serve_agent(&cloud)?;
        let now = crate::fakes::oidc::now();
        let ready = Ready {
            ecr_token: cloud.issue_ecr_password(now + ECR_TOKEN_LIFETIME_SECS),
            ecr_expired_token: cloud.issue_ecr_password(now - 60),
            static_key: cloud.moto.keys.static_key.clone(),
            moto_log: cloud.moto_log().to_path_buf(),
        };
        let session = Session {
            cloud,
            agent: Some(agent),
            programs: Programs::default(),
            node_cgroup: None,
        };
        Ok((session, ready))
    }

    fn answer(&mut self, line: &str) -> Reply {
        match serde_json::from_str::<Request>(line) {
            Ok(request) => self.handle(request),
            Err(e) => Reply::Failed {
                message: format!("bad request: {e}"),
            },
        }
    }

    fn handle(&mut self, request: Request) -> Reply {
        match request {
            Request::Agent { running } => done_or_failed(self.set_agent_running(running)),
            Request::Configure {
                ecr_token_lifetime_secs,
                ecr_public_stale_status,
            } => {
                self.cloud
                    .configure_ecr(ecr_token_lifetime_secs, ecr_public_stale_status);
                Reply::Done
            }
            Request::Run(req) => Reply::Ran(self.run(&req)),
            Request::Fault { fault } => {
                self.cloud.inject(fault);
                Reply::Done
            }
            Request::Events => Reply::Events {
                events: self.cloud.take_events(),
            },
            Request::Spawn(req) => {
                reply_or_failed(self.programs.spawn(&req).map(|pid| Reply::Spawned { pid }))
            }
            Request::NodeHost {
                tmpfs,
                addresses,
                cgroup,
            } => done_or_failed(self.host_node(&tmpfs, &addresses, cgroup)),
            Request::Inject { injection } => {
                self.cloud.set_injection(injection);
                Reply::Done
            }
            Request::Stop { name, grace_ms } => reply_or_failed(
                self.programs
                    .stop(&name, Duration::from_millis(grace_ms))
                    .map(|(was_running, exit_code)| Reply::Stopped {
                        was_running,
                        exit_code,
                    }),
            ),
        }
    }

    fn set_agent_running(&mut self, running: bool) -> Result<(), String> {
        match (running, self.agent.take()) {
            (true, None) => self.agent = Some(serve_agent(&self.cloud)?),
            // Stopping waits until the port is closed: the next probe sees "connection refused".
            (false, Some(agent)) => self.cloud.stop(agent),
            (_, already) => self.agent = already,
        }
        Ok(())
    }

    /// A probe run, with what the cloud saw while it ran (and only then).
    fn run(&mut self, req: &RunRequest) -> RunReply {
        self.cloud.forget_events();
        let mut ran = run(req);
        ran.events = self.cloud.take_events();
        ran
    }

    /// See [`Request::NodeHost`].
    fn host_node(
        &mut self,
        tmpfs: &[std::path::PathBuf],
        addresses: &[String],
        cgroup: String,
    ) -> Result<(), String> {
        node_host(tmpfs, addresses)?;
        self.node_cgroup = Some(cgroup);
        Ok(())
    }

    fn tear_down(mut self) {
        self.programs.stop_all();
        if let Some(cgroup) = self.node_cgroup {
            // Containers' processes (shims, runc's children) are ours as PID 1 but in no program's
            // group: end them all, then their cgroups can go.
            end_every_process();
            crate::cgroups::remove(&cgroup);
        }
        self.cloud.shut_down();
    }
}

fn done_or_failed(result: Result<(), String>) -> Reply {
    reply_or_failed(result.map(|()| Reply::Done))
}

fn reply_or_failed(result: Result<Reply, String>) -> Reply {
    result.unwrap_or_else(|message| Reply::Failed { message })
}

/// Runs this very command again as the first process of the new PID namespace, sharing stdin and
/// stdout, and exits with its status. It dies with us (SIGKILL included), and with it the namespace.
fn become_pid_one() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1));
    super::namespaces::die_with_parent(&mut cmd);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start the sandbox's PID 1: {e}"))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// Long-lived programs started on request, each in its own process group.
#[derive(Default)]
struct Programs {
    running: Vec<(String, std::process::Child)>,
}

impl Programs {
    fn spawn(&mut self, req: &SpawnRequest) -> Result<u32, String> {
        use std::os::unix::process::CommandExt;
        if self.running.iter().any(|(n, _)| n == &req.name) {
            return Err(format!("a program named {} is already running", req.name));
        }
        let log = std::fs::File::create(&req.log)
            .map_err(|e| format!("create {}: {e}", req.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&req.program);
        cmd.args(&req.args)
            .env_clear()
            .envs(&req.env)
            .current_dir(&req.cwd)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        super::namespaces::die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", req.program.display()))?;
        let pid = child.id();
        self.running.push((req.name.clone(), child));
        Ok(pid)
    }

    /// SIGTERM to the program's process group, SIGKILL after `grace`.
    fn stop(&mut self, name: &str, grace: Duration) -> Result<(bool, Option<i32>), String> {
        let at = self
            .running
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| format!("no program named {name} was started"))?;
        let (_, mut child) = self.running.remove(at);
        Ok(stop_child(&mut child, grace))
    }

    /// Newest first: the controller before the API server, the API server before etcd.
    fn stop_all(&mut self) {
        while let Some((_, mut child)) = self.running.pop() {
            stop_child(&mut child, Duration::from_secs(3));
        }
    }
}

fn stop_child(child: &mut std::process::Child, grace: Duration) -> (bool, Option<i32>) {
    if let Ok(Some(status)) = child.try_wait() {
        return (false, status.code());
    }
    let group = child.id() as libc::pid_t;
    // SAFETY: signalling a process group we created.
    unsafe { libc::kill(-group, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // SAFETY: as above; whatever it left in its group goes too.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            return (true, None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let _ = child.wait();
    (true, None)
}

/// Inside fresh namespaces: a private /etc/hosts (and resolv.conf), loopback up, the Pod Identity
/// agent's link-local address on it.
fn set_up_network(work_dir: &std::path::Path) -> Result<(), String> {
    let hosts = work_dir.join("hosts");
    std::fs::write(&hosts, hosts_file()).map_err(|e| e.to_string())?;
    let resolv = work_dir.join("resolv.conf");
    // No resolver is reachable in the namespace; say so rather than let lookups wander.
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").map_err(|e| e.to_string())?;
    let mut binds = vec![(hosts.as_path(), "/etc/hosts")];
    if std::path::Path::new("/etc/resolv.conf").exists() {
        binds.push((resolv.as_path(), "/etc/resolv.conf"));
    }
    super::namespaces::make_private_and_bind(&binds)
        .map_err(|e| format!("mount namespace: {e}"))?;
    ip(&["link", "set", "lo", "up"])?;
    ip(&["addr", "add", "169.254.170.23/32", "dev", "lo"])
}

/// See [`Request::NodeHost`].
fn node_host(tmpfs: &[std::path::PathBuf], addresses: &[String]) -> Result<(), String> {
    super::namespaces::node_mounts(tmpfs).map_err(|e| format!("node mounts: {e}"))?;
    for address in addresses {
        ip(&["addr", "add", &format!("{address}/32"), "dev", "lo"])?;
    }
    Ok(())
}

/// As PID 1: SIGKILL to every other process of the namespace, and reap them.
fn end_every_process() {
    // SAFETY: kill(-1) from PID 1 of a PID namespace reaches only that namespace's processes.
    unsafe { libc::kill(-1, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        // SAFETY: reaping any child; -1 with WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if pid < 0 {
            break; // ECHILD: none left.
        }
        if pid == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `authmatrix namespace-check`: enters the sandbox's namespaces the way the sandbox does (as root,
/// or through a user namespace when unprivileged), sets up its network, and prints what a probe would
/// see. Checks that this machine and user can run the local backend, without Go or Python.
pub fn namespace_check(inside: bool) -> Result<String, String> {
    if !inside {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.args(["namespace-check", "--inside"]);
        super::namespaces::isolate(&mut cmd, super::namespaces::PidNamespace::Shared);
        let out = cmd
            .output()
            .map_err(|e| format!("cannot enter new namespaces: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        };
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    set_up_network(dir.path())?;
    // The fakes' privileged ports must be ours to bind (CAP_NET_BIND_SERVICE in the namespace).
    for addr in [AGENT_ADDR, "127.0.0.2:443"] {
        std::net::TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    }
    let addrs = Command::new("ip")
        .args(["-o", "addr", "show"])
        .output()
        .map_err(|e| e.to_string())?;
    let hosts = std::fs::read_to_string("/etc/hosts").map_err(|e| e.to_string())?;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    Ok(format!(
        "uid inside: {uid}\nbound {AGENT_ADDR} and 127.0.0.2:443\n{}{hosts}",
        String::from_utf8_lossy(&addrs.stdout)
    ))
}

/// One line of JSON to the parent, flushed at once: it waits for it.
fn reply_line(reply: &impl serde::Serialize) -> Result<(), String> {
    let line = serde_json::to_string(reply).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (install iproute2): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Runs a program with exactly the given environment, killing it at the timeout.
fn run(req: &RunRequest) -> RunReply {
    let started = Instant::now();
    let spawned = Command::new(&req.program)
        .args(&req.args)
        .env_clear()
        .envs(&req.env)
        .current_dir(&req.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return RunReply {
                exit_code: None,
                timed_out: false,
                stdout: String::new(),
                stderr: format!("cannot start {}: {e}", req.program.display()),
                elapsed_ms: 0,
                events: vec![],
            };
        }
    };
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = started + Duration::from_millis(req.timeout_ms);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    RunReply {
        exit_code: status.and_then(|s| s.code()),
        timed_out,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        events: vec![],
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        if buf.len() > OUTPUT_LIMIT {
            let cut = buf.len() - OUTPUT_LIMIT;
            buf.drain(..cut);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

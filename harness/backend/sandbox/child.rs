//! The sandbox process (`authmatrix sandbox-serve`). Started by [`super::Sandbox`] already
//! inside fresh network and mount namespaces; it sets up loopback and the link-local agent address,
//! mounts a private /etc/hosts, starts the fake cloud, then runs probes on request until stdin closes.

use super::network::*;
use super::protocol::{Ready, Reply, Request, RunReply, RunRequest, SandboxConfig, SpawnRequest};
use crate::fakes::ecr_api::{self, EcrApi};
use crate::fakes::events::EventLog;
use crate::fakes::faults::{self, Fault, Faults, Watch};
use crate::fakes::issuer::CredentialIssuer;
use crate::fakes::minio::Minio;
use crate::fakes::moto::Moto;
use crate::fakes::pod_identity::{self, PodIdentityAgent};
use crate::fakes::registry::bearer::{EcrPublicAuth, SigningKey, TokenAuth};
use crate::fakes::registry::{self, EcrTokens, Personality, Registry, Storage, image};
use crate::fakes::{eks_webhook, serve, sts, world};
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

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
    let first = lines
        .next()
        .ok_or("no configuration on stdin")?
        .map_err(|e| e.to_string())?;
    let config: SandboxConfig =
        serde_json::from_str(&first).map_err(|e| format!("bad configuration: {e}"))?;

    set_up_network(&config.work_dir)?;

    let moto_log = config.work_dir.join("moto.log");
    let mut moto = Moto::start(
        &config.python,
        &config.work_dir,
        S3_IP,
        S3_PORT,
        &config.objects,
        &[world::ARTIFACT_ROLE],
        &moto_log,
    )?;
    let minio = match &config.minio {
        Some(launch) => Some(Minio::start(
            launch,
            &config.work_dir.join("minio-data"),
            MINIO_IP,
            MINIO_PORT,
            &config.work_dir.join("minio.log"),
        )?),
        None => None,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let events = EventLog::default();
    let faults = Faults::default();
    let watch = |label: &str, stalls: bool| Watch {
        label: label.to_string(),
        events: events.clone(),
        faults: faults.clone(),
        stalls,
    };
    let issuer = CredentialIssuer::new(&moto.keys.endpoint, &moto.keys.admin);
    let issuer_keys = issuer.minted.clone();
    let role = moto
        .keys
        .roles
        .get(world::ARTIFACT_ROLE)
        .cloned()
        .ok_or("moto created no artifact role")?;
    let agent = Arc::new(PodIdentityAgent {
        check_host: true,
        oidc: config.oidc.clone(),
        associations: world::trusted_subjects()
            .into_iter()
            .map(|s| (s, role.clone()))
            .collect(),
        issuer: issuer.clone(),
        events: events.clone(),
    });
    let sts_fake = Arc::new(sts::Sts {
        oidc: config.oidc.clone(),
        trust: BTreeMap::from([(role, world::trusted_subjects())]),
        issuer,
        events: events.clone(),
    });

    // Every fake's router goes through faults::watch; `close` is a registry's injected fault.
    let https = |ip: &str, label: &str, app: axum::Router, close: serve::CloseGate| {
        let app = app.layer(axum::middleware::from_fn_with_state(
            watch(label, false),
            faults::watch,
        ));
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind((ip, 443))
                .await
                .map_err(|e| format!("bind {ip}:443: {e}"))?;
            serve::spawn_https_closing(listener, app, &config.tls_cert, close)
        })
    };
    let open: serve::CloseGate = Arc::new(|| false);
    let _sts_task = https(STS_IP, "sts", sts::router(sts_fake), open.clone())?;

    // ECR: the API issues tokens the ECR registry accepts; a private registry with htpasswd.
    // Settings a scenario may change between cells (Request::Configure).
    let token_lifetime = Arc::new(AtomicI64::new(12 * 3600));
    let stale_status = Arc::new(AtomicU16::new(400));
    let ecr_tokens = EcrTokens::default();
    let now = crate::fakes::oidc::now();
    let ecr_token = format!("authmatrix-ecr-{}", crate::fakes::events::request_id());
    let ecr_expired_token = format!("authmatrix-ecr-{}", crate::fakes::events::request_id());
    ecr_tokens.insert(ecr_token.clone(), now + 12 * 3600);
    ecr_tokens.insert(ecr_expired_token.clone(), now - 60);
    let ecr_api = Arc::new(EcrApi {
        iam_endpoint: moto.keys.endpoint.clone(),
        account: world::ACCOUNT.into(),
        region: world::REGION.into(),
        tokens: ecr_tokens.clone(),
        token_lifetime_secs: token_lifetime.clone(),
        events: events.clone(),
    });
    let _ecr_api_task = https(
        ECR_API_IP,
        "ecr-api",
        ecr_api::router(ecr_api),
        open.clone(),
    )?;
    let hash = bcrypt::hash(&config.registry_password, 5).map_err(|e| e.to_string())?;
    let token_auth = TokenAuth {
        realm: format!("https://{TOKEN_REGISTRY_HOST}/token"),
        service: TOKEN_REGISTRY_HOST.into(),
        users: std::collections::HashMap::from([(config.registry_user.clone(), hash.clone())]),
        anonymous: vec![],
        key: SigningKey::generate(),
    };
    // ECR Public: its API verifies SigV4 against every key of the fake cloud (IAM users and minted
    // temporary credentials) and issues passwords its registry accepts. Stale credentials get 400,
    // what public.ecr.aws answers since 2024.
    let public_tokens = EcrTokens::default();
    let keys = issuer_keys.clone();
    for k in [&moto.keys.static_key, &moto.keys.admin] {
        keys.add(&k.access_key_id, &k.secret_access_key, None);
    }
    let public_api = Arc::new(ecr_api::EcrPublicApi {
        keys,
        tokens: public_tokens.clone(),
        token_lifetime_secs: token_lifetime.clone(),
        events: events.clone(),
    });
    let _ecr_public_api_task = https(
        ECR_PUBLIC_API_IP,
        "ecr-public-api",
        ecr_api::public_router(public_api),
        open.clone(),
    )?;
    let ecr_public = EcrPublicAuth {
        realm: format!("https://{ECR_PUBLIC_HOST}/token/"),
        tokens: public_tokens,
        stale_status: stale_status.clone(),
        key: SigningKey::generate(),
    };
    let registries = [
        (
            TOKEN_REGISTRY_HOST,
            TOKEN_REGISTRY_IP,
            Personality::Token(token_auth),
        ),
        (
            ECR_PUBLIC_HOST,
            ECR_PUBLIC_IP,
            Personality::EcrPublic(ecr_public),
        ),
        (
            ECR_REGISTRY_HOST,
            ECR_REGISTRY_IP,
            Personality::EcrPrivate {
                host: ECR_REGISTRY_HOST.into(),
                tokens: ecr_tokens,
            },
        ),
        (
            PRIVATE_REGISTRY_HOST,
            PRIVATE_REGISTRY_IP,
            Personality::Basic {
                realm: "basic-realm".into(),
                users: std::collections::HashMap::from([(config.registry_user.clone(), hash)]),
            },
        ),
    ];
    let mut _registry_tasks = Vec::new();
    for (host, ip, personality) in registries {
        let storage = Storage::new(&config.work_dir.join(format!("registry-{host}")))
            .map_err(|e| e.to_string())?;
        for reference in config
            .images
            .iter()
            .filter_map(|i| i.strip_prefix(&format!("{host}/")))
        {
            let (repository, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
            let img = image::busybox(repository, tag, world::SEEDED_ENTRYPOINT, world::SEEDED_CMD);
            image::store(&storage, &img).map_err(|e| format!("store {host}/{reference}: {e}"))?;
        }
        let label = format!("registry ({})", personality.name());
        let close: serve::CloseGate = {
            let (faults, events, label) = (faults.clone(), events.clone(), label.clone());
            Arc::new(move || faults.registry_closes(&label, &events))
        };
        let registry = Arc::new(Registry {
            storage,
            personality,
            events: events.clone(),
            label: label.clone(),
        });
        _registry_tasks.push(https(ip, &label, registry::router(registry), close)?);
    }
    let agent_watch = watch("pod-identity-agent", true);
    let mut agent_task = Some(start_agent(&runtime, &agent, &agent_watch)?);
    let webhook = Arc::new(eks_webhook::Webhook {
        injection: Default::default(),
        events: events.clone(),
    });
    let _webhook_task = https(
        EKS_WEBHOOK_IP,
        "eks-pod-identity-webhook",
        eks_webhook::router(webhook.clone()),
        open,
    )?;

    let mut s3_log = MotoLog {
        path: moto_log.clone(),
        offset: 0,
    };
    let ready = Ready {
        ecr_token,
        ecr_expired_token,
        static_key: moto.keys.static_key.clone(),
        moto_log,
    };
    reply_line(&serde_json::to_string(&ready).map_err(|e| e.to_string())?)?;

    let mut programs = Programs::default();
    let mut node_cgroup: Option<String> = None;
    for line in lines {
        let line = line.map_err(|e| e.to_string())?;
        let reply = match serde_json::from_str::<Request>(&line) {
            Err(e) => Reply::Failed {
                message: format!("bad request: {e}"),
            },
            Ok(Request::Agent { running: true }) => match agent_task {
                Some(_) => Reply::Done,
                None => match start_agent(&runtime, &agent, &agent_watch) {
                    Ok(task) => {
                        agent_task = Some(task);
                        Reply::Done
                    }
                    Err(message) => Reply::Failed { message },
                },
            },
            Ok(Request::Configure {
                ecr_token_lifetime_secs,
                ecr_public_stale_status,
            }) => {
                token_lifetime.store(ecr_token_lifetime_secs, Ordering::Relaxed);
                stale_status.store(ecr_public_stale_status, Ordering::Relaxed);
                Reply::Done
            }
            Ok(Request::Agent { running: false }) => {
                if let Some(task) = agent_task.take() {
                    task.abort();
                    // Wait until the listener is really closed, so the next probe sees "connection refused".
                    let _ = runtime.block_on(task);
                }
                Reply::Done
            }
            Ok(Request::Run(req)) => {
                events.drain();
                s3_log.read_new();
                let mut ran = run(&req);
                if let Some(why) = moto.exited() {
                    events.push_infra("s3 (moto)", "(process)".into(), why);
                }
                ran.events = events.drain();
                ran.events.extend(s3_log.read_new());
                Reply::Ran(ran)
            }
            Ok(Request::Fault { fault }) => {
                if fault == Some(Fault::KillS3) {
                    moto.kill();
                }
                faults.set(fault);
                Reply::Done
            }
            Ok(Request::Events) => {
                if let Some(why) = moto.exited() {
                    events.push_infra("s3 (moto)", "(process)".into(), why);
                }
                let mut seen = events.drain();
                seen.extend(s3_log.read_new());
                Reply::Events { events: seen }
            }
            Ok(Request::Spawn(req)) => match programs.spawn(&req) {
                Ok(pid) => Reply::Spawned { pid },
                Err(message) => Reply::Failed { message },
            },
            Ok(Request::NodeHost {
                tmpfs,
                addresses,
                cgroup,
            }) => match node_host(&tmpfs, &addresses) {
                Ok(()) => {
                    node_cgroup = Some(cgroup);
                    Reply::Done
                }
                Err(message) => Reply::Failed { message },
            },
            Ok(Request::Inject { injection }) => {
                *webhook.injection.lock().unwrap_or_else(|p| p.into_inner()) = injection;
                Reply::Done
            }
            Ok(Request::Stop { name, grace_ms }) => {
                match programs.stop(&name, Duration::from_millis(grace_ms)) {
                    Ok((was_running, exit_code)) => Reply::Stopped {
                        was_running,
                        exit_code,
                    },
                    Err(message) => Reply::Failed { message },
                }
            }
        };
        reply_line(&serde_json::to_string(&reply).map_err(|e| e.to_string())?)?;
    }
    programs.stop_all();
    if let Some(cgroup) = node_cgroup {
        // Containers' processes (shims, runc's children) are ours as PID 1 but in no program's
        // group: end them all, then their cgroups can go.
        end_every_process();
        crate::cgroups::remove(&cgroup);
    }
    drop(minio);
    drop(moto);
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
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

fn start_agent(
    runtime: &tokio::runtime::Runtime,
    agent: &Arc<PodIdentityAgent>,
    watch: &Watch,
) -> Result<JoinHandle<()>, String> {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(AGENT_ADDR)
            .await
            .map_err(|e| format!("bind agent {AGENT_ADDR}: {e}"))?;
        let app = pod_identity::router(agent.clone()).layer(axum::middleware::from_fn_with_state(
            watch.clone(),
            faults::watch,
        ));
        Ok(serve::spawn_http(listener, app))
    })
}

fn reply_line(line: &str) -> Result<(), String> {
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

/// New request lines of moto's log (werkzeug's `"GET /bucket/key HTTP/1.1" 403 -`), as events, so a
/// cell's evidence shows what the S3 server answered too.
struct MotoLog {
    path: std::path::PathBuf,
    offset: u64,
}

impl MotoLog {
    fn read_new(&mut self) -> Vec<crate::shared::Event> {
        use std::io::{Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return vec![];
        };
        let mut text = String::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_string(&mut text).is_err() {
            return vec![];
        }
        self.offset += text.len() as u64;
        text.lines().filter_map(parse_werkzeug_line).collect()
    }
}

fn parse_werkzeug_line(line: &str) -> Option<crate::shared::Event> {
    let plain: String = strip_ansi(line);
    let start = plain.find('"')?;
    let end = start + 1 + plain[start + 1..].find('"')?;
    let request = plain[start + 1..end]
        .trim_end_matches(" HTTP/1.1")
        .to_string();
    let status = plain[end + 1..].split_whitespace().next()?.parse().ok()?;
    Some(crate::shared::Event {
        fake: "s3 (moto)".into(),
        request,
        status,
        detail: String::new(),
        infra: false,
    })
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn werkzeug_lines_become_events_with_or_without_colour() {
        let e = super::parse_werkzeug_line("127.0.0.1 - - [23/Nov/2026 09:03:54] \"\u{1b}[31m\u{1b}[1mGET /b/k HTTP/1.1\u{1b}[0m\" 403 -").unwrap();
        assert_eq!((e.request.as_str(), e.status), ("GET /b/k", 403));
        assert!(super::parse_werkzeug_line("Traceback (most recent call last):").is_none());
    }
}

//! The local backend's sandbox: private network and names, and nothing left behind afterwards,
//! also after Ctrl-C. Needs root or user namespaces, and the project's venv.

use authmatrix::backend::local::{LocalBackend, LocalOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn backend(cache: &Path) -> LocalBackend {
    LocalBackend::new(LocalOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: crate::util::root().to_path_buf(),
        cache_dir: cache.to_path_buf(),
        probe_timeout: Duration::from_secs(20),
    })
    .unwrap()
}

fn netns_of(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

/// Processes still living in the given network namespace.
fn processes_in(netns: &Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| netns_of(*pid).as_deref() == Some(netns))
        .collect()
}

#[test]
fn the_sandbox_has_its_own_network_and_names_and_leaves_nothing_behind() {
    require!(Venv, Sandbox);
    let cache = tempfile::tempdir().unwrap();
    let mut b = backend(cache.path());
    authmatrix::backend::start_alone(&mut b, &[], &[]).unwrap();
    let pid = b.sandbox_pid().expect("sandbox started");
    let netns = netns_of(pid).unwrap();
    assert_ne!(
        Some(&netns),
        netns_of(std::process::id()).as_ref(),
        "the sandbox has its own network namespace"
    );
    let run_dir = b.run_dir().to_path_buf();

    let addrs = b
        .exec_in_sandbox(
            Path::new("/bin/sh"),
            &["-c", "ip -o addr show; cat /etc/hosts"],
        )
        .unwrap();
    assert!(
        addrs.stdout.contains("169.254.170.23/32"),
        "{}",
        addrs.stdout
    );
    assert!(
        addrs.stdout.contains("sts.us-east-1.amazonaws.com"),
        "{}",
        addrs.stdout
    );
    let devices: Vec<&str> = addrs
        .stdout
        .lines()
        .filter(|l| l.contains(" inet"))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(
        devices.iter().all(|d| *d == "lo"),
        "only loopback exists inside: {devices:?}"
    );
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(
        !host_hosts.contains("sts.us-east-1.amazonaws.com"),
        "the host's /etc/hosts is untouched"
    );

    drop(b);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(&netns).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        processes_in(&netns),
        Vec::<u32>::new(),
        "no process (sandbox, moto) survives the backend"
    );
    assert!(!run_dir.exists(), "the run directory is removed");
}

/// The parent of `pid` (the fourth field of /proc/<pid>/stat, after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// Importing moto costs 1.5 CPU-seconds: the sandboxes' motos are forks of one server that has.
#[test]
fn the_sandboxes_of_a_run_fork_their_moto_from_one_server() {
    require!(Venv, Sandbox);
    let caches = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut backends: Vec<LocalBackend> = caches.iter().map(|c| backend(c.path())).collect();
    let mut parents = Vec::new();
    for b in &mut backends {
        authmatrix::backend::start_alone(b, &[], &[]).unwrap();
        let netns = netns_of(b.sandbox_pid().expect("sandbox started")).unwrap();
        let moto: Vec<u32> = processes_in(&netns)
            .into_iter()
            .filter(|pid| cmdline(*pid).contains("moto_cloud.py"))
            .collect();
        assert_eq!(moto.len(), 1, "one moto in the sandbox: {moto:?}");
        parents.push(parent_of(moto[0]).expect("its parent"));
    }
    assert_eq!(parents[0], parents[1], "one server forked both");
    let server = cmdline(parents[0]);
    assert!(server.contains("--zygote"), "forked by {server:?}");
    let netns = netns_of(parents[0]);
    assert_eq!(netns, netns_of(std::process::id()), "the server is outside");
}

#[test]
fn ctrl_c_during_a_run_removes_the_sandbox_and_the_temporary_files() {
    require_local_run!();
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, _) = crate::util::spawn_until_sandbox_ready(
        Command::new(env!("CARGO_BIN_EXE_authmatrix"))
            .args([
                "run",
                "--argo",
                "v3.6.0",
                "--scenario",
                "s3-pod-identity-agent-down",
            ])
            .arg("--out")
            .arg(tmp.path().join("out"))
            .env("TMPDIR", tmp.path()),
    );
    let sandbox_pids = pids_with_env("TMPDIR", tmp.path());
    assert!(!sandbox_pids.is_empty(), "the sandbox runs with our TMPDIR");
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    // SAFETY: plain kill(2).
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    // A run that ignores Ctrl-C would hang the suite: bounded, it fails instead.
    let status =
        crate::util::wait_within(&mut child, Duration::from_secs(60), "the interrupted run");
    assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids_with_env("TMPDIR", tmp.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        pids_with_env("TMPDIR", tmp.path()),
        Vec::<u32>::new(),
        "sandbox, moto and probes are gone"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.iter()
            .all(|n| !n.to_string_lossy().starts_with("authmatrix-run-")),
        "temporary run directory removed: {left:?}"
    );
}

/// Processes whose environment has `key=value`.
fn pids_with_env(key: &str, value: &Path) -> Vec<u32> {
    let needle = format!("{key}={}", value.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

/// The rootless path: an unprivileged user gets the same namespaces through a user namespace.
#[test]
fn an_unprivileged_user_gets_the_same_sandbox_network_through_a_user_namespace() {
    require!(Sandbox, UserNamespaces);
    // SAFETY: getuid cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    // Run a copy the unprivileged user can reach, whatever the checkout's permissions.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("authmatrix");
    std::fs::copy(env!("CARGO_BIN_EXE_authmatrix"), &exe).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    // setpriv (util-linux) runs the check as nobody.
    let out = crate::util::output_within(cmd.arg("namespace-check").env("TMPDIR", "/tmp"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("169.254.170.23/32")
            && text.contains("bound 169.254.170.23:80")
            && text.contains("public.ecr.aws"),
        "{text}"
    );
}

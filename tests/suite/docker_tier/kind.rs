//! The cluster backend's kind provider, end to end through the CLI: a kind cluster from the offline
//! node image on the harness's engine, Argo's controller against it on two tags, and an
//! interrupted kind run that leaves nothing behind. Needs `make engine` and `make kind-node`.

use crate::leftovers::{
    assert_clean_after, interrupt, pids_where, processes_using, wait_until_gone, wait_until_none,
};
use authmatrix::report::Report;
use rstest::rstest;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Tags `make setup` built controllers for (the Makefile's CLUSTER_TAGS): before the ECR 401
/// regression and on it.
const TAGS: &str = "v3.5.11,v3.6.0";

fn kind_run(tmp: &Path, scenarios: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authmatrix"));
    cmd.args([
        "run",
        "--backend",
        "cluster",
        "--provider",
        "kind",
        "--jobs",
        "1",
    ])
    .args(["--argo", TAGS, "--out"])
    .arg(tmp.join("out"))
    .env("TMPDIR", tmp);
    for s in scenarios {
        cmd.args(["--scenario", s]);
    }
    cmd
}

/// The smoke: an executor, a controller and a node cell on kind, two tags. The controller cell
/// flips where it flips on local-up (the ECR 401 of 3.6.0, issue 13947); the executor reads S3
/// with IRSA through the fake STS; the kubelet pulls from the fake registry with a pull secret.
#[test]
fn kind_runs_an_executor_a_controller_and_a_node_cell_on_two_tags() {
    require!(Venv, Sandbox, Engine, Kind, Cluster);
    let _alone = super::one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let scenarios = [
        "ecr-irsa-entrypoint",
        "s3-irsa-sdk-creds",
        "kubelet-pull-sa-secret",
    ];
    let out = crate::util::output_within(&mut kind_run(tmp.path(), &scenarios));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("cluster (kind, Kubernetes v1.34.1) ready"),
        "{stderr}"
    );
    let report = Report::read(&tmp.path().join("out")).unwrap();
    assert_eq!(report.provider.as_deref(), Some("kind"));
    let cell = |scenario: &str, tag: &str| {
        report
            .cells
            .iter()
            .find(|c| c.id.is(scenario, tag))
            .unwrap_or_else(|| panic!("{scenario}::{tag} in the report"))
    };
    for tag in ["v3.5.11", "v3.6.0"] {
        for scenario in scenarios {
            let c = cell(scenario, tag);
            assert_eq!(
                c.verdict.as_str(),
                "as-expected",
                "{scenario}::{tag}: {:?}",
                c.observed
            );
            assert!(c.evidence.probe.contains("on kind"), "{}", c.evidence.probe);
        }
    }
    let outcome = |tag| format!("{:?}", cell("ecr-irsa-entrypoint", tag).observed.outcome);
    assert_ne!(
        outcome("v3.5.11"),
        outcome("v3.6.0"),
        "the lookup works on 3.5.11 and fails on 3.6.0"
    );
}

/// Interrupts a kind run while its node runs. Ctrl-C: everything goes, the temporary directory
/// too. SIGKILL: the sandbox ends the engine, the node and every container in it.
#[rstest]
#[case::ctrl_c(libc::SIGINT)]
#[case::sigkill(libc::SIGKILL)]
fn an_interrupted_kind_run_leaves_no_node_daemon_mount_cgroup_or_module_dir(
    #[case] signal: libc::c_int,
) {
    require!(Venv, Sandbox, Engine, Kind, Cluster);
    let _alone = super::one_at_a_time();
    let had_modules = Path::new("/lib/modules").exists();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = kind_run(tmp.path(), &["ecr-irsa-entrypoint"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // The node is up: its kubelet runs (in the node container, under the engine's containerd).
    let kubelet = |c: &[u8]| c.starts_with(b"/usr/bin/kubelet\0");
    let deadline = Instant::now() + Duration::from_secs(300);
    let seen = loop {
        let procs = processes_using(tmp.path());
        if !pids_where(kubelet).is_empty()
            && procs.iter().any(|(_, c)| c.contains("containerd-shim"))
        {
            break procs;
        }
        assert!(Instant::now() < deadline, "no kind node within 5 minutes");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its node started"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        seen.iter().any(|(_, c)| c.contains("dockerd")),
        "the engine runs: {seen:?}"
    );
    interrupt(child.id(), signal);
    let status = crate::util::wait_within(
        &mut child,
        Duration::from_secs(120),
        "the interrupted kind run",
    );
    assert_eq!(
        wait_until_gone(tmp.path(), Duration::from_secs(30)),
        Vec::<(u32, String)>::new(),
        "no engine, containerd, shim or sandbox survives"
    );
    assert_eq!(
        wait_until_none(Duration::from_secs(15), kubelet),
        Vec::<u32>::new(),
        "the node's processes are gone"
    );
    assert_eq!(
        Path::new("/lib/modules").exists(),
        had_modules,
        "kind's /lib/modules mount made no directory on the host"
    );
    assert_clean_after(tmp.path(), signal, status);
}

//! The cluster backend's kind provider, end to end through the CLI: a kind cluster from the offline
//! node image on the harness's engine, Argo's controller against it on two tags, and an
//! interrupted kind run that leaves nothing behind. Needs `make engine` and `make kind-node`.

use crate::leftovers::{orphaned_cgroups, processes_using, wait_until_gone};
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

/// The smoke: a controller cell runs on kind and flips where it flips on local-up (the ECR 401 of
/// 3.6.0, issue 13947); an executor and a node cell are not applicable there, with the reason.
#[test]
fn kind_runs_the_controller_column_and_says_what_it_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kind_run(
        tmp.path(),
        &[
            "ecr-irsa-entrypoint",
            "s3-static-keys",
            "kubelet-pull-sa-secret",
        ],
    )
    .output()
    .unwrap();
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
            .find(|c| c.scenario == scenario && c.argo == tag)
            .unwrap_or_else(|| panic!("{scenario}::{tag} in the report"))
    };
    for tag in ["v3.5.11", "v3.6.0"] {
        let entrypoint = cell("ecr-irsa-entrypoint", tag);
        assert_eq!(
            entrypoint.verdict.as_str(),
            "as-expected",
            "{tag}: {:?}",
            entrypoint.observed
        );
        let probe = &entrypoint.evidence.probe;
        assert!(
            probe.contains(&format!("workflow-controller {tag}")) && probe.contains("on kind"),
            "{probe}"
        );
        for other in ["s3-static-keys", "kubelet-pull-sa-secret"] {
            let c = cell(other, tag);
            assert_eq!(c.verdict.as_str(), "not-applicable", "{other}::{tag}");
            assert!(
                c.observed.message.contains("fake cloud"),
                "{other}: {}",
                c.observed.message
            );
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
    let had_modules = Path::new("/lib/modules").exists();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = kind_run(tmp.path(), &["ecr-irsa-entrypoint"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // The node is up: its kubelet runs (in the node container, under the engine's containerd).
    let deadline = Instant::now() + Duration::from_secs(300);
    let seen = loop {
        let procs = processes_using(tmp.path());
        let kubelet = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .any(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.starts_with(b"/usr/bin/kubelet\0"))
            });
        if kubelet && procs.iter().any(|(_, c)| c.contains("containerd-shim")) {
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
    let pid = child.id() as i32;
    // SAFETY: plain kill(2); SIGINT to the group is what a terminal sends on Ctrl-C.
    unsafe {
        if signal == libc::SIGINT {
            libc::kill(-pid, signal);
        } else {
            libc::kill(pid, signal);
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(
        wait_until_gone(tmp.path(), Duration::from_secs(30)),
        Vec::<(u32, String)>::new(),
        "no engine, containerd, shim or sandbox survives"
    );
    let kubelets = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.starts_with(b"/usr/bin/kubelet\0"))
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while kubelets() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(kubelets(), 0, "the node's processes are gone");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(&tmp.path().display().to_string()),
        "no mount under the run's directory"
    );
    assert_eq!(
        orphaned_cgroups(),
        Vec::<String>::new(),
        "no cgroup is left"
    );
    assert_eq!(
        Path::new("/lib/modules").exists(),
        had_modules,
        "kind's /lib/modules mount made no directory on the host"
    );
    if signal == libc::SIGINT {
        assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
        let runs: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("authmatrix-run-"))
            .collect();
        assert!(runs.is_empty(), "temporary run directory removed: {runs:?}");
    }
}

//! The kind provider's container engine: a `--privileged` container (what kind's nodes are) started
//! by testcontainers-rs runs on it with every capability this machine grants, its cgroups in the
//! sandbox's tree and its network behind the sandbox's, where the fake cloud answers; and an
//! interrupted engine leaves no daemon, container, mount, cgroup or directory behind.

use super::{BUSYBOX, ServedEngine};
use crate::leftovers::{
    assert_clean_after, interrupt, pids_where, processes_using, wait_until_gone, wait_until_none,
};
use rstest::rstest;
use std::time::Duration;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

/// CAP_SYS_RESOURCE: this machine's VM withholds it (kind-facts.md §7).
const CAP_SYS_RESOURCE: u32 = 24;

/// What the container reports about itself, one `key=value` per line, then `ready`. The agent is
/// asked until it answers: once, the first request of a run got no reply on a loaded machine.
const SELF_REPORT: &str = r#"
echo "cap_eff=$(busybox awk '/^CapEff/ {print $2}' /proc/self/status)"
echo "cgroup=$(busybox awk -F: '$2 == "pids" {print $3}' /proc/self/cgroup)"
echo "cgroupfs=$(busybox awk '$2 == "/sys/fs/cgroup/pids" {print $4}' /proc/self/mounts)"
for try in 1 2 3 4 5 6 7 8 9 10; do
  agent=$(printf 'GET /v1/credentials HTTP/1.0\r\nHost: 169.254.170.23\r\n\r\n' \
    | busybox nc -w 5 169.254.170.23 80 | busybox head -1)
  [ -n "$agent" ] && break
  busybox sleep 1
done
echo "agent=$agent (try $try)"
echo ready
exec busybox sleep 600
"#;

fn field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{key}= in the container's report:\n{report}"))
        .trim()
}

#[test]
fn a_privileged_container_from_testcontainers_runs_with_the_machines_capabilities_in_the_sandbox() {
    require!(Venv, Sandbox, Engine);
    let _alone = super::one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let engine = ServedEngine::start(tmp.path());
    engine.import_busybox();
    // SAFETY: the Docker tier runs on one test thread (see the module); testcontainers reads it.
    unsafe { std::env::set_var("DOCKER_HOST", &engine.docker_host) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (id, report) = runtime.block_on(async {
        let (name, tag) = BUSYBOX.split_once(':').unwrap();
        let container = GenericImage::new(name, tag)
            .with_wait_for(WaitFor::message_on_stdout("ready"))
            .with_privileged(true)
            .with_cmd(["sh", "-c", SELF_REPORT])
            .start()
            .await
            .expect("testcontainers starts the container on the engine");
        let report = String::from_utf8(container.stdout_to_vec().await.unwrap()).unwrap();
        let id = container.id().to_string();
        container.rm().await.unwrap();
        (id, report)
    });

    let cap_eff = u64::from_str_radix(field(&report, "cap_eff"), 16).unwrap();
    let withheld = 1u64 << CAP_SYS_RESOURCE;
    assert_eq!(
        cap_eff & withheld,
        0,
        "the engine drops what this machine withholds"
    );
    assert_eq!(
        cap_eff | withheld,
        (1u64 << (cap_eff | withheld).trailing_ones()) - 1,
        "and grants every other capability: {report}"
    );
    let cgroup = field(&report, "cgroup");
    assert!(
        cgroup.starts_with(&format!("/{}", authmatrix::cgroups::PREFIX))
            && cgroup.ends_with(&format!("/docker/{id}")),
        "the container's cgroup is in its sandbox's tree: {cgroup}"
    );
    assert!(
        field(&report, "cgroupfs").split(',').any(|o| o == "rw"),
        "a privileged container may write its cgroups, as kind's node entrypoint does: {report}"
    );
    assert!(
        field(&report, "agent").starts_with("HTTP/1."),
        "the fake cloud's Pod Identity agent answers on 169.254.170.23 through the engine's bridge: {report}"
    );
    drop(engine);
    assert_eq!(
        wait_until_gone(tmp.path(), Duration::from_secs(15)),
        Vec::<(u32, String)>::new(),
        "the daemon and its containerd end with the engine"
    );
}

/// Interrupts `authmatrix engine` while a container runs on it. Ctrl-C: everything goes, the
/// temporary directory too. SIGKILL: the sandbox sees its stdin close and, as PID 1 of its
/// namespace, ends the daemon, containerd, the shims and the container, and removes their cgroups.
#[rstest]
#[case::ctrl_c(libc::SIGINT)]
#[case::sigkill(libc::SIGKILL)]
fn an_interrupted_engine_leaves_no_daemon_container_mount_or_cgroup(#[case] signal: libc::c_int) {
    require!(Venv, Sandbox, Engine);
    let _alone = super::one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut engine = ServedEngine::start(tmp.path());
    engine.import_busybox();
    engine.docker(&[
        "run",
        "-d",
        "--privileged",
        BUSYBOX,
        "busybox",
        "sleep",
        "4242",
    ]);
    let container = || pids_where(|c| c == b"busybox\0sleep\x004242\0");
    let seen = processes_using(tmp.path());
    for part in ["dockerd", "containerd --config", "containerd-shim"] {
        assert!(
            seen.iter().any(|(_, c)| c.contains(part)),
            "{part} runs: {seen:?}"
        );
    }
    assert_eq!(container().len(), 1, "the container runs");

    interrupt(engine.child.id(), signal);
    let status = crate::util::wait_within(
        &mut engine.child,
        Duration::from_secs(120),
        "the interrupted engine",
    );
    let left = wait_until_gone(tmp.path(), Duration::from_secs(30));
    assert_eq!(
        left,
        Vec::<(u32, String)>::new(),
        "no daemon, containerd or shim survives"
    );
    assert_eq!(
        wait_until_none(Duration::from_secs(15), |c| c
            == b"busybox\0sleep\x004242\0"),
        Vec::<u32>::new(),
        "the container is gone"
    );
    assert_clean_after(tmp.path(), signal, status);
}

//! The cluster backend (`local-up`): what its API server does, checked through kube-rs, and that
//! an interrupted run leaves no etcd, API server, controller, mount, namespace or temporary
//! directory behind. Needs root, Go, the venv and the cluster builds (`make setup`).

use crate::leftovers::{assert_clean_after, interrupt, processes_using, wait_until_gone};
use authmatrix::backend::cluster::{ClusterBackend, ClusterOptions, provider::ProviderKind};
use authmatrix::fakes::oidc::{IRSA_AUDIENCE, ISSUER};
use authmatrix::shared::ArgoTag;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use rstest::rstest;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// A tag of the Makefile's CLUSTER_TAGS: `make setup` built its controller (another tag would be
// built here, minutes of CI).
const TAG: &str = "v3.6.0";

/// Whether the API server lets `user` get secrets in `namespace`.
async fn may_get_secrets(c: &kube::Client, user: &str, namespace: &str) -> Result<bool, String> {
    let api: kube::Api<SubjectAccessReview> = kube::Api::all(c.clone());
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.into()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:argo".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(namespace.into()),
                verb: Some("get".into()),
                resource: Some("secrets".into()),
                name: Some("regcred".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = api
        .create(&Default::default(), &review)
        .await
        .map_err(|e| e.to_string())?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

#[test]
fn the_api_server_issues_tokens_the_fake_cloud_trusts_and_applies_argos_own_rbac() {
    require!(Venv, Sandbox, Cluster);
    let cache = authmatrix::builds::cache_dir();
    let mut backend = ClusterBackend::new(ClusterOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: crate::util::root().to_path_buf(),
        cache_dir: cache,
        provider: ProviderKind::LocalUp,
        cell_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let tags = [ArgoTag::parse(TAG).unwrap()];
    let scenarios = authmatrix::scenario::load_dir(&crate::util::root().join("scenarios")).unwrap();
    let ecr = scenarios
        .iter()
        .find(|s| s.id == "ecr-irsa-entrypoint")
        .unwrap();
    authmatrix::backend::start_alone(&mut backend, std::slice::from_ref(ecr), &tags).unwrap();
    // Running one cell installs Argo's manifests of the tag.
    let cell = authmatrix::matrix::run_cell(&mut backend, ecr, &tags[0]);
    assert_eq!(
        cell.verdict.as_str(),
        "as-expected",
        "{}",
        cell.observed.message
    );

    let access = backend.access().unwrap();
    let (token, in_argo, elsewhere) = access
        .talk(|c| async move {
            let token = authmatrix::backend::cluster::kube::token(
                &c,
                "argo",
                "argo",
                &[IRSA_AUDIENCE],
                600,
            )
            .await?;
            let user = "system:serviceaccount:argo:argo";
            Ok((
                token,
                may_get_secrets(&c, user, "argo").await?,
                may_get_secrets(&c, user, "team-a").await?,
            ))
        })
        .unwrap();
    // The fake STS verifies exactly what the API server signed.
    let claims = backend.oidc().verify(&token, IRSA_AUDIENCE).unwrap();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, "system:serviceaccount:argo:argo");
    assert!(
        backend
            .oidc()
            .verify(&token, "pods.eks.amazonaws.com")
            .is_err()
    );
    // Argo's cluster-install: the controller reads Secrets in its own namespace only, so an
    // entrypoint lookup with pull secrets in any other namespace is forbidden.
    assert!(
        in_argo,
        "argo-role lets the controller read secrets in argo"
    );
    assert!(
        !elsewhere,
        "argo-cluster-role does not let it read secrets elsewhere"
    );
}

/// Interrupts a cluster run mid-workflow: a pod of it runs on the node. Ctrl-C: everything goes,
/// the temporary directory too. SIGKILL of the harness: nothing can run in it, but every process
/// still goes (the sandbox sees its stdin close; it is PID 1 of its namespace, and ends the
/// node's containers and removes their cgroups before it exits).
#[rstest]
#[case::ctrl_c(libc::SIGINT)]
#[case::sigkill(libc::SIGKILL)]
fn an_interrupted_cluster_run_leaves_no_process_mount_or_namespace(#[case] signal: libc::c_int) {
    require!(Venv, Sandbox, Cluster);
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .args(["run", "--backend", "cluster", "--jobs", "1", "--argo", TAG])
        .args([
            "--scenario",
            "s3-static-keys",
            "--scenario",
            "s3-irsa-*",
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // Mid-workflow: a controller of this run is up and a pod's containers run on the node.
    let deadline = Instant::now() + Duration::from_secs(300);
    let seen = loop {
        let procs = processes_using(tmp.path());
        let running = |part: &str| procs.iter().any(|(_, cmd)| cmd.contains(part));
        if running("workflow-controller") && running("containerd-shim") {
            break procs;
        }
        assert!(
            Instant::now() < deadline,
            "no workflow pod ran within 5 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before a controller started"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for part in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kubelet",
        "containerd --config",
        "containerd-shim",
        "workflow-controller",
    ] {
        assert!(
            seen.iter().any(|(_, c)| c.contains(part)),
            "{part} runs: {seen:?}"
        );
    }
    let netns: Vec<_> = seen
        .iter()
        .filter_map(|(pid, _)| std::fs::read_link(format!("/proc/{pid}/ns/net")).ok())
        .collect();
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(
        netns.iter().any(|n| *n != own),
        "the cluster lives in the sandbox's network namespace"
    );

    interrupt(child.id(), signal);
    let status = crate::util::wait_within(
        &mut child,
        Duration::from_secs(120),
        "the interrupted cluster run",
    );
    let left = wait_until_gone(tmp.path(), Duration::from_secs(15));
    assert_eq!(
        left,
        Vec::<(u32, String)>::new(),
        "no etcd, API server, controller or sandbox survives"
    );
    // Killed processes take a moment to exit (moto runs Python's SIGINT handling first).
    let in_netns = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let n = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                (n != own && netns.contains(&n)).then(|| format!("{n:?} {stat}"))
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !in_netns().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let namespaces_left = in_netns();
    assert!(
        namespaces_left.is_empty(),
        "the sandbox's network namespace is gone, and every container in it: {namespaces_left:?}"
    );
    assert_clean_after(tmp.path(), signal, status);
}

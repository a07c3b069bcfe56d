//! `scan` against a real API server (the cluster backend's, `local-up`): the four fixtures of
//! `tests/fixtures/scan/` applied as objects, read back through kube-rs, give the setups the
//! manifests give; a user bound only to `view` (plus Argo's aggregate roles) still scans, and the
//! coverage says what it missed. Needs root and the cluster builds (`make setup`).

use authmatrix::backend::cluster::kube::{self as k, ClusterAccess};
use authmatrix::backend::cluster::{
    ClusterBackend, ClusterOptions, manifests, provider::ProviderKind,
};
use authmatrix::scan::{self, Scan, objects::Inventory};
use authmatrix::shared::ArgoTag;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

// A tag of the Makefile's CLUSTER_TAGS (its manifests: CRDs and aggregate roles), built by `make setup`.
const TAG: &str = "v3.6.0";
const FIXTURES: &[&str] = &[
    "irsa-ecr",
    "pod-identity",
    "static-keys-37",
    "deleted-pull-secret",
];

fn fixture(name: &str) -> PathBuf {
    crate::util::root().join("tests/fixtures/scan").join(name)
}

/// The fixture's objects as written (values included: they are applied, not scanned), Namespaces
/// first, ServiceAccounts before the Pods that name them.
fn objects_of(name: &str) -> Vec<Value> {
    let mut objects: Vec<Value> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(fixture(name))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "yaml"));
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        objects.extend(
            serde_saphyr::from_multiple::<Value>(&text)
                .unwrap()
                .into_iter()
                .filter(|v| v.is_object()),
        );
    }
    let mut namespaces: Vec<String> = objects
        .iter()
        .filter_map(|o| o["metadata"]["namespace"].as_str().map(str::to_string))
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let order = |o: &Value| match o["kind"].as_str() {
        Some("ServiceAccount") => 0,
        Some("Pod") => 2,
        _ => 1,
    };
    objects.sort_by_key(order);
    let ns = namespaces
        .into_iter()
        .map(|n| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}));
    ns.chain(objects).collect()
}

fn live(access: &ClusterAccess) -> Inventory {
    access
        .talk(|c| async move {
            scan::live::collect(c, "cluster".into(), "default")
                .await
                .map_err(|e| e.0)
        })
        .unwrap()
}

fn scenarios_of(s: &Scan) -> Vec<String> {
    let mut v: Vec<String> = s
        .setups
        .iter()
        .filter_map(|x| x.corresponds_to.clone())
        .collect();
    v.sort();
    v
}

/// A kubeconfig for the ServiceAccount `default/scan-viewer`, bound to `view` only.
fn viewer(access: &ClusterAccess, dir: &Path) -> ClusterAccess {
    let token = access
        .talk(|c| async move {
            let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "scan-viewer", "namespace": "default"}});
            let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "scan-viewer"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": "scan-viewer", "namespace": "default"}]});
            k::apply(&c, &sa).await?;
            k::apply(&c, &binding).await?;
            k::token(&c, "default", "scan-viewer", &[], 3600).await
        })
        .unwrap();
    let admin: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&access.kubeconfig).unwrap()).unwrap();
    let cluster = &admin["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().unwrap();
    let ca = PathBuf::from(cluster["certificate-authority"].as_str().unwrap());
    let path = dir.join("viewer.kubeconfig");
    std::fs::write(
        &path,
        k::kubeconfig(server, &ca, "scan-viewer", &token, "default"),
    )
    .unwrap();
    ClusterAccess {
        kubeconfig: path,
        ..access.clone()
    }
}

#[test]
fn live_scans_match_manifest_scans_and_a_view_only_user_is_told_what_it_missed() {
    require!(Venv, Sandbox, Cluster);
    let opts = ClusterOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: crate::util::root().to_path_buf(),
        cache_dir: authmatrix::builds::cache_dir(),
        provider: ProviderKind::LocalUp,
        cell_timeout: Duration::from_secs(30),
    };
    let tags = [ArgoTag::parse(TAG).unwrap()];
    let mut backend = ClusterBackend::new(opts.clone()).unwrap();
    authmatrix::backend::start_alone(&mut backend, &[], &tags).unwrap();
    let access = backend.access().unwrap();
    // Argo's CRDs and aggregate roles, as cluster-install has them (its ConfigMap is the fixtures').
    let build = backend.controller(&tags[0]).unwrap().unwrap();
    let mut install = manifests::cluster_install(&build.manifests).unwrap();
    install.retain(|o| o["kind"] != "ConfigMap");
    access
        .talk(|c| async move {
            k::apply(&c, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argo"}})).await?;
            for o in &install {
                k::apply(&c, o).await?;
            }
            let probe = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "-", "namespace": "argo"}});
            let (workflows, _) = k::api_for(&c, &probe)?;
            k::until(Duration::from_secs(60), "the Workflow CRD", || async {
                workflows.list(&Default::default()).await.ok()
            })
            .await
        })
        .unwrap();

    for (i, name) in FIXTURES.iter().enumerate() {
        let objects = objects_of(name);
        let applied = objects.clone();
        access
            .talk(|c| async move {
                for o in &applied {
                    k::apply(&c, o).await?;
                }
                Ok(())
            })
            .unwrap();
        let inv = live(&access);
        assert!(
            inv.objects
                .iter()
                .all(|o| !o.name.starts_with("sh.helm.release.v1")),
            "Helm release Secrets are never listed"
        );
        assert!(
            inv.of_kind("Secret")
                .all(|s| s.value.get("data").is_none() && s.value.get("stringData").is_none()),
            "Secrets are read as metadata and key names only"
        );
        let from_cluster = scan::scan(inv);
        let from_files = scan::from_manifests(&[fixture(name)], "default").unwrap();
        let everything = format!(
            "{}{}",
            from_cluster.render(),
            serde_json::to_string(&from_cluster).unwrap()
        );
        assert!(!everything.contains("CANARY-SCAN-"), "{everything}");
        assert_eq!(
            from_cluster.running,
            from_files.running,
            "{name}: {}",
            from_cluster.render()
        );
        assert_eq!(
            scenarios_of(&from_cluster),
            scenarios_of(&from_files),
            "{name}:\n{}",
            from_cluster.render()
        );
        eprintln!("--- {name}, as cluster-admin:\n{}", from_cluster.render());
        if i + 1 == FIXTURES.len() {
            break; // The last fixture stays for the view-only user.
        }
        let doomed: Vec<Value> = objects
            .into_iter()
            .filter(|o| o["kind"] != "Namespace")
            .collect();
        access
            .talk(|c| async move {
                for o in &doomed {
                    let (api, name) = k::api_for(&c, o)?;
                    let _ = api
                        .delete(&name, &kube::api::DeleteParams::default().grace_period(0))
                        .await;
                }
                Ok(())
            })
            .unwrap();
    }

    // `view` (plus argo-aggregate-to-view): no Secrets, no RBAC objects.
    let tmp = tempfile::tempdir().unwrap();
    let viewer = viewer(&access, tmp.path());
    let s = scan::scan(live(&viewer));
    let text = s.render();
    eprintln!("--- deleted-pull-secret, as a view-only user:\n{text}");
    assert_eq!(s.running.as_deref(), Some("v3.6.0"), "{text}");
    for missed in [
        "list secrets (all namespaces)",
        "list rolebindings (all namespaces)",
    ] {
        assert!(
            s.coverage
                .iter()
                .any(|g| g.what == missed && g.why.contains("forbidden")),
            "{missed}:\n{text}"
        );
    }
    assert!(
        s.coverage
            .iter()
            .any(|g| g.what.starts_with("Secret old-regcred in web")),
        "whether the pull secret exists is unknown, and said so:\n{text}"
    );
    assert!(
        !scenarios_of(&s).contains(&"basic-missing-secret-ref".to_string()),
        "a view-only scan cannot tell the pull secret is missing:\n{text}"
    );
    assert!(
        s.setups
            .iter()
            .any(|x| x.summary.contains("pull secrets unknown")),
        "{text}"
    );

    // The command itself, as the view-only user runs it (from inside the network namespace the
    // API server listens in): exit 0, JSON with the coverage, no secret value.
    let mut cmd = match &viewer.netns {
        Some(netns) => {
            let mut c = std::process::Command::new("nsenter");
            c.arg(format!("--net={}", netns.display()))
                .arg(env!("CARGO_BIN_EXE_authmatrix"));
            c
        }
        None => std::process::Command::new(env!("CARGO_BIN_EXE_authmatrix")),
    };
    let out = cmd
        .args(["scan", "--json", "--kubeconfig"])
        .arg(&viewer.kubeconfig)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["running"], "v3.6.0");
    assert!(json["coverage"].as_array().unwrap().len() >= 4, "{stdout}");
    assert!(!stdout.contains("CANARY-SCAN-") && !stderr.contains("CANARY-SCAN-"));
}

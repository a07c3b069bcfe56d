//! `authmatrix scan` over the four fixture setups of `tests/fixtures/scan/`: the setups and the
//! catalogue scenarios they are, the coverage, the catalogue `--out` writes (loaded by the
//! project's own loader), and that no Secret value of the fixtures leaves the scan. Needs nothing;
//! the `*_verdict_*` tests run cells on the local backend (root or user namespaces, Go, the venv).

use crate::util::authmatrix;
use authmatrix::scan::{self, Scan};
use rstest::rstest;
use std::path::{Path, PathBuf};

/// Every Secret value, env value and annotation of the fixtures starts with this (or is its
/// base64: `Q0FOQVJZLVNDQU4t`).
const CANARY: &str = "CANARY-SCAN-";
const CANARY_B64: &str = "Q0FOQVJZLVNDQU4t";

fn fixture(name: &str) -> PathBuf {
    crate::util::root().join("tests/fixtures/scan").join(name)
}

fn scanned(name: &str) -> Scan {
    scan::from_manifests(&[fixture(name)], "default").unwrap()
}

#[rstest]
#[case::irsa_ecr("irsa-ecr", "v3.5.11", &["s3-irsa-sdk-creds", "ecr-irsa-entrypoint"])]
#[case::pod_identity("pod-identity", "v3.5.11", &["s3-pod-identity-sdk-creds"])]
#[case::static_keys("static-keys-37", "v3.7.18", &["s3-static-keys"])]
#[case::deleted_pull_secret(
    "deleted-pull-secret",
    "v3.6.0",
    &["basic-missing-secret-ref", "kubelet-pull-missing-secret", "kubelet-pull-sa-secret"]
)]
fn each_fixture_scans_to_its_setups(
    #[case] name: &str,
    #[case] running: &str,
    #[case] scenarios: &[&str],
) {
    let s = scanned(name);
    assert_eq!(s.running.as_deref(), Some(running), "{}", s.render());
    let mut found: Vec<&str> = s
        .setups
        .iter()
        .filter_map(|x| x.corresponds_to.as_deref())
        .collect();
    found.sort();
    let mut want = scenarios.to_vec();
    want.sort();
    assert_eq!(found, want, "{}", s.render());
    assert!(
        s.setups.iter().all(|x| !x.evidence.is_empty()),
        "every setup names where it came from"
    );
}

#[test]
fn evidence_names_objects_and_field_paths() {
    let s = scanned("irsa-ecr");
    let text = s.render();
    for line in [
        "argo/ConfigMap/argo-workflows-workflow-controller-configmap: artifactRepository.s3.useSDKCreds=true",
        "ml-team/ServiceAccount/argo-workflow: eks.amazonaws.com/role-arn",
        "argo/ServiceAccount/argo-workflows-workflow-controller: eks.amazonaws.com/role-arn",
        "container.image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/train:2.3 (no command)",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    // The per-key ConfigMap layout and workflowDefaults (pod-identity) are read too.
    let text = scanned("pod-identity").render();
    assert!(
        text.contains("argo/ConfigMap/workflow-controller-configmap: workflowDefaults.spec.serviceAccountName=argo-workflow"),
        "{text}"
    );
    assert!(
        text.contains("env[AWS_CONTAINER_CREDENTIALS_FULL_URI]"),
        "{text}"
    );
}

#[test]
fn the_deleted_pull_secret_is_told_apart_from_the_one_that_exists() {
    let text = scanned("deleted-pull-secret").render();
    assert!(
        text.contains("spec.imagePullSecrets[name=old-regcred] -> web/Secret/old-regcred: not in the scanned manifests"),
        "{text}"
    );
    assert!(
        text.contains("web/ServiceAccount/builder: imagePullSecrets[name=regcred] (exists)"),
        "{text}"
    );
}

/// Everything a scan can emit for a fixture: stdout and stderr of text and `--json`, and every
/// file under `--out`.
fn everything_emitted(name: &str, out: &Path) -> String {
    let dir = fixture(name);
    let dir = dir.to_str().unwrap();
    let mut all = String::new();
    for extra in [vec![], vec!["--json"]] {
        let mut args = vec!["scan", "--manifests", dir, "--out", out.to_str().unwrap()];
        args.extend(extra);
        let (code, stdout, stderr) = authmatrix(&args);
        assert_eq!(code, Some(0), "{stderr}");
        all.push_str(&stdout);
        all.push_str(&stderr);
    }
    for f in std::fs::read_dir(out).unwrap().flatten() {
        all.push_str(&std::fs::read_to_string(f.path()).unwrap());
    }
    all
}

#[rstest]
#[case("irsa-ecr")]
#[case("pod-identity")]
#[case("static-keys-37")]
#[case("deleted-pull-secret")]
fn no_secret_value_of_a_fixture_appears_in_anything_scan_prints_or_writes(#[case] name: &str) {
    let fixture_text: String = std::fs::read_dir(fixture(name))
        .unwrap()
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .collect();
    assert!(
        fixture_text.contains(CANARY) && fixture_text.contains("last-applied-configuration"),
        "the fixture carries canaries"
    );
    let out = tempfile::tempdir().unwrap();
    let all = everything_emitted(name, out.path());
    assert!(!all.is_empty());
    for canary in [CANARY, CANARY_B64, "DB_PASSWORD"] {
        assert!(!all.contains(canary), "{canary} leaked:\n{all}");
    }
}

#[rstest]
#[case("irsa-ecr")]
#[case("pod-identity")]
#[case("static-keys-37")]
#[case("deleted-pull-secret")]
fn the_catalogue_out_writes_loads_and_keeps_the_catalogues_expectations(#[case] name: &str) {
    let s = scanned(name);
    let out = tempfile::tempdir().unwrap();
    let catalogue = crate::util::root().join("scenarios");
    scan::catalogue::write(&s, &catalogue, out.path()).unwrap();
    let loaded = authmatrix::scenario::load_dir(out.path()).unwrap();
    let originals = authmatrix::scenario::load_dir(&catalogue).unwrap();
    assert_eq!(loaded.len(), s.setups.len());
    for setup in &s.setups {
        let mine = loaded.iter().find(|x| x.id == setup.id).unwrap();
        let id = setup.corresponds_to.as_deref().unwrap();
        let original = originals.iter().find(|x| x.id == id).unwrap();
        assert_eq!(mine.component, original.component);
        let ranges = |s: &authmatrix::scenario::Scenario| -> Vec<String> {
            s.expectations
                .iter()
                .map(|e| {
                    format!(
                        "{} {:?} {:?}",
                        e.range,
                        e.outcome,
                        e.error.as_ref().map(|r| r.as_str().to_string())
                    )
                })
                .collect()
        };
        assert_eq!(ranges(mine), ranges(original), "{}", setup.id);
    }
    assert_eq!(
        scan::catalogue::recorded_running(out.path()),
        s.running,
        "scan.json records the running version"
    );
    // verdict's default --from, and the plan it makes over the catalogue.
    let from = authmatrix::decision::from_or_recorded(None, Some(out.path())).unwrap();
    assert_eq!(Some(from.clone()), s.running);
    let scope = authmatrix::matrix::plan::select(loaded, &[]).unwrap();
    assert_eq!(scope.len(), s.setups.len());
    authmatrix::shared::ArgoTag::parse_list(&format!("{from},v4.0.5")).unwrap();
}

#[test]
fn the_team_names_are_kept_where_the_expectations_allow() {
    let s = scanned("irsa-ecr");
    let out = tempfile::tempdir().unwrap();
    scan::catalogue::write(&s, &crate::util::root().join("scenarios"), out.path()).unwrap();
    let loaded = authmatrix::scenario::load_dir(out.path()).unwrap();
    let s3 = loaded
        .iter()
        .find(|x| x.id.ends_with("s3-irsa-sdk-creds"))
        .unwrap();
    assert_eq!(s3.artifact["s3"]["bucket"], "acme-ml-artifacts");
    let ecr = loaded
        .iter()
        .find(|x| x.id.ends_with("ecr-irsa-entrypoint"))
        .unwrap();
    let wf = &ecr.entrypoint.as_ref().unwrap().workflow;
    assert_eq!(wf.service_account_name.as_deref(), Some("argo-workflow"));
    // kubelet-pull-missing-secret's error names `regcred`: its pull secret keeps that name.
    let s = scanned("deleted-pull-secret");
    let out = tempfile::tempdir().unwrap();
    scan::catalogue::write(&s, &crate::util::root().join("scenarios"), out.path()).unwrap();
    let text = std::fs::read_to_string(
        out.path()
            .join("web-builder-kubelet-pull-missing-secret.yaml"),
    )
    .unwrap();
    assert!(text.contains("imagePullSecrets:\n  - regcred"), "{text}");
}

#[test]
fn verdict_without_from_and_without_a_recorded_version_says_what_to_give() {
    let (code, _, err) = authmatrix(&["verdict", "--to", "v4.0.5", "--report", "nowhere"]);
    assert_eq!(code, Some(authmatrix::exit::BAD_INPUT as i32), "{err}");
    assert!(err.contains("give --from"), "{err}");
}

#[test]
fn a_bad_document_is_a_coverage_gap_with_file_and_line_and_nothing_readable_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: x}\n---\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }\n",
    )
    .unwrap();
    let s = scan::from_manifests(&[dir.path().to_path_buf()], "default").unwrap();
    let gap = s
        .coverage
        .iter()
        .find(|g| g.what.contains("rendered.yaml:"))
        .unwrap();
    assert!(gap.what.contains("rendered.yaml:7"), "{gap:?}");
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = authmatrix(&["scan", "--manifests", empty.path().to_str().unwrap()]);
    assert_eq!(code, Some(scan::EXIT_CANNOT_SCAN as i32), "{err}");
    assert!(err.contains("cannot scan"), "{err}");
}

/// The README's walkthrough, on the local backend: scan, then verdict with the recorded --from.
#[test]
fn irsa_ecr_verdict_from_the_scanned_catalogue_is_no_go_on_3_6_0() {
    require_local_run!();
    let out = tempfile::tempdir().unwrap();
    let dir = fixture("irsa-ecr");
    let o = out.path().to_str().unwrap();
    let (code, _, err) = authmatrix(&["scan", "--manifests", dir.to_str().unwrap(), "--out", o]);
    assert_eq!(code, Some(0), "{err}");
    let (code, stdout, stderr) = authmatrix(&["verdict", "--scenarios", o, "--to", "v3.6.0"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("NO-GO v3.5.11 -> v3.6.0"), "{stdout}");
    assert!(
        stdout.contains("BLOCKER ml-team-argo-workflow-ecr-irsa-entrypoint"),
        "{stdout}"
    );
    // The verdict names the team's objects behind the blocker.
    assert!(
        stdout.contains("    found in: ml-team/WorkflowTemplate/train: spec.templates[0](name=train).container.image="),
        "{stdout}"
    );
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    // Nor in any report of a run over the scanned catalogue.
    let reports = tempfile::tempdir().unwrap();
    let r = reports.path().to_str().unwrap();
    let (code, _, stderr) = authmatrix(&["run", "--scenarios", o, "--argo", "v3.5.11", "--out", r]);
    assert_eq!(code, Some(0), "{stderr}");
    let written: Vec<_> = std::fs::read_dir(reports.path())
        .unwrap()
        .flatten()
        .collect();
    assert!(written.len() >= 3, "report.json, report.md, junit.xml…");
    for f in written {
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(
            !text.contains(CANARY) && !text.contains(CANARY_B64),
            "{}",
            f.path().display()
        );
    }
}

/// A setup no catalogue scenario describes (S3 with `roleARN` on top of IRSA) is exploratory,
/// written with `outcome: unknown`; a `--namespaced` controller's scan leaves other namespaces'
/// workflows to their controller, and a second controller is named in the coverage.
#[test]
fn an_undescribed_setup_is_exploratory_and_scope_limits_are_coverage() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("install.yaml"),
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: workflow-controller, namespace: argo}
spec:
  template:
    spec:
      serviceAccountName: argo
      containers:
        - name: workflow-controller
          image: quay.io/argoproj/workflow-controller:v3.7.18
          args: [--namespaced]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: workflow-controller, namespace: other-argo}
spec:
  template:
    spec:
      containers:
        - {name: workflow-controller, image: quay.io/argoproj/workflow-controller:v3.6.5}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: workflow-controller-configmap, namespace: argo}
data:
  artifactRepository: |
    s3: {bucket: team-bucket, endpoint: s3.amazonaws.com, useSDKCreds: true, roleARN: "arn:aws:iam::123456789012:role/artifacts"}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
  namespace: argo
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/runner"}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf, namespace: argo}
spec:
  serviceAccountName: runner
  templates:
    - name: main
      container: {image: busybox, command: [sh]}
      outputs: {artifacts: [{name: a, path: /tmp/a}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: elsewhere, namespace: team-b}
spec:
  templates:
    - {name: main, container: {image: busybox}}
"#,
    )
    .unwrap();
    let s = scan::from_manifests(&[dir.path().to_path_buf()], "default").unwrap();
    let text = s.render();
    assert_eq!(s.setups.len(), 1, "{text}");
    let setup = &s.setups[0];
    assert_eq!(setup.corresponds_to, None, "{text}");
    assert!(setup.summary.contains("roleARN"), "{text}");
    assert!(
        text.contains("1 workflow object(s) outside the controller's namespace"),
        "{text}"
    );
    assert!(text.contains("2 workflow-controller Deployments"), "{text}");
    let out = tempfile::tempdir().unwrap();
    scan::catalogue::write(&s, &crate::util::root().join("scenarios"), out.path()).unwrap();
    let loaded = authmatrix::scenario::load_dir(out.path()).unwrap();
    let x = &loaded[0];
    assert_eq!(x.expectations.len(), 1);
    assert_eq!(
        x.expectations[0].outcome,
        authmatrix::scenario::ExpectedOutcome::Unknown
    );
    assert_eq!(x.auth.mode, authmatrix::scenario::AuthMode::Irsa);
    assert_eq!(x.artifact["s3"]["bucket"], "team-bucket");
    assert_eq!(
        x.artifact["s3"]["roleARN"],
        "arn:aws:iam::123456789012:role/artifacts"
    );
}

/// Node setups: a non-root pod writing to a hostPath, an executor with only the legacy
/// pods/patch RBAC, and an anonymous public.ecr.aws lookup.
#[test]
fn host_paths_legacy_executor_rbac_and_ecr_public_are_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("team.yaml"),
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {name: etl, namespace: jobs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: old-executor, namespace: jobs}
rules:
  - {apiGroups: [""], resources: [pods], verbs: [get, watch, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: old-executor, namespace: jobs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: old-executor}
subjects: [{kind: ServiceAccount, name: etl}]
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: dump, namespace: jobs}
spec:
  serviceAccountName: etl
  securityContext: {runAsUser: 1000}
  volumes:
    - {name: scratch, hostPath: {path: /mnt/scratch}}
  templates:
    - name: main
      container: {image: public.ecr.aws/docker/library/busybox:1.36}
"#,
    )
    .unwrap();
    let s = scan::from_manifests(&[dir.path().to_path_buf()], "default").unwrap();
    let text = s.render();
    let mut found: Vec<&str> = s
        .setups
        .iter()
        .filter_map(|x| x.corresponds_to.as_deref())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "ecr-public-anonymous-entrypoint",
            "executor-rbac-missing-taskresults",
            "hostpath-not-writable"
        ],
        "{text}"
    );
    assert!(
        text.contains(
            "jobs/WorkflowTemplate/dump: spec.volumes[name=scratch].hostPath.path=/mnt/scratch"
        ),
        "{text}"
    );
    assert!(
        text.contains("jobs/RoleBinding/old-executor -> jobs/Role/old-executor: rules"),
        "{text}"
    );
    // No controller in these manifests: the coverage says what that leaves unknown.
    assert!(
        text.contains("the workflow-controller Deployment"),
        "{text}"
    );
}

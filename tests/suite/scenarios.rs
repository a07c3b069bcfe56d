//! The scenario loader: the catalogue loads, and every kind of bad input names file:line:column.

use authmatrix::scenario::{self, ExpectedOutcome};
use std::path::Path;

const GOOD: &str = r#"id: demo
title: demo
component: executor-s3
auth:
  mode: pod-identity
artifact:
  s3: {bucket: b, key: k}
expect:
  - versions: ">=3.5.0, <3.6.0"
    outcome: fail
    error: "loopback"
  - versions: ">=3.6.0"
    outcome: pass
"#;

fn parse_err(text: &str) -> String {
    scenario::parse(Path::new("scenarios/demo.yaml"), text)
        .map(|_| ())
        .expect_err("should be refused")
        .to_string()
}

#[test]
fn the_project_catalogue_loads() {
    let all = scenario::load_dir(&crate::util::root().join("scenarios")).unwrap();
    assert!(all.iter().any(|s| s.id == "s3-pod-identity-sdk-creds"));
    for s in &all {
        assert!(!s.expectations.is_empty(), "{}", s.id);
        assert_eq!(
            s.source.file_stem().unwrap().to_str().unwrap(),
            s.id,
            "file name and id agree"
        );
    }
}

#[test]
fn a_good_file_parses_into_ranges() {
    let s = scenario::parse(Path::new("demo.yaml"), GOOD).unwrap();
    let v = |t| authmatrix::scenario::range::tag_version(t).unwrap();
    assert_eq!(
        s.expectation_for(&v("v3.5.11")).unwrap().outcome,
        ExpectedOutcome::Fail
    );
    assert_eq!(
        s.expectation_for(&v("v3.6.5")).unwrap().outcome,
        ExpectedOutcome::Pass
    );
}

#[test]
fn an_unknown_field_names_its_line_and_column() {
    let err = parse_err(&GOOD.replace("title: demo", "title: demo\ncolour: blue"));
    assert!(err.starts_with("scenarios/demo.yaml:3:1: "), "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn overlapping_ranges_are_refused_at_the_second_range() {
    let err = parse_err(&GOOD.replace(r#"">=3.6.0""#, r#"">=3.5.12""#));
    assert!(err.starts_with("scenarios/demo.yaml:12:15: "), "{err}");
    assert!(err.contains("overlaps"), "{err}");
}

#[test]
fn a_bad_range_is_refused_where_it_stands() {
    let err = parse_err(&GOOD.replace(r#"">=3.6.0""#, r#""^3.6""#));
    assert!(err.starts_with("scenarios/demo.yaml:12:15: "), "{err}");
}

#[test]
fn a_fail_without_an_error_signature_is_refused() {
    let err = parse_err(&GOOD.replace("    error: \"loopback\"\n", ""));
    assert!(err.contains("a `fail` expectation needs `error`"), "{err}");
    assert!(err.starts_with("scenarios/demo.yaml:10:"), "{err}");
}

#[test]
fn a_bad_regex_an_unknown_component_and_an_unknown_placeholder_are_refused() {
    assert!(parse_err(&GOOD.replace("\"loopback\"", "\"(unclosed\"")).contains("bad regex"));
    assert!(
        parse_err(&GOOD.replace("executor-s3", "executor-gcs"))
            .contains("unknown component `executor-gcs`")
    );
    let with_secret = GOOD.replace("expect:", "secrets:\n  c:\n    k: ${cloud.nope}\nexpect:");
    let err = parse_err(&with_secret);
    assert!(
        err.contains("unknown placeholder `${cloud.nope}`")
            && err.starts_with("scenarios/demo.yaml:10:"),
        "{err}"
    );
}

#[test]
fn broken_yaml_names_its_place() {
    let err = parse_err("id: [unclosed\n");
    assert!(err.starts_with("scenarios/demo.yaml:"), "{err}");
    assert!(!err.starts_with("scenarios/demo.yaml:0:0"), "{err}");
}

#[test]
fn a_duplicate_id_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), GOOD).unwrap();
    std::fs::write(dir.path().join("b.yaml"), GOOD).unwrap();
    let err = scenario::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("b.yaml") && err.contains("a.yaml") && err.contains("already used"),
        "{err}"
    );
}

const NODE: &str = r#"id: demo
title: demo
component: node
auth:
  mode: none
workflow:
  image: registry.example.internal/team/app:1.0
  command: [/bin/busybox, "true"]
  securityContext: {runAsUser: 8737}
  volumes: [{name: out, hostPath: {path: /mnt/x}}]
  volumeMounts: [{name: out, mountPath: /out}]
kubernetes:
  executorRules: [{apiGroups: [""], resources: [pods], verbs: [patch]}]
expect:
  - versions: ">=3.5.0"
    outcome: pass
"#;

#[test]
fn a_node_scenario_parses_with_its_pod_fields() {
    let s = scenario::parse(Path::new("demo.yaml"), NODE).unwrap();
    let ep = s.entrypoint.unwrap();
    assert_eq!(ep.workflow.command, ["/bin/busybox", "true"]);
    assert_eq!(ep.workflow.volumes[0]["hostPath"]["path"], "/mnt/x");
    assert_eq!(
        ep.kubernetes.executor_rules.unwrap()[0]["verbs"][0],
        "patch"
    );
}

/// Each node-only field is refused where it does not belong, and a node scenario's own
/// mistakes name the workflow's line.
#[rstest::rstest]
#[case::command_on_an_entrypoint_scenario(
    "component: node",
    "component: controller-entrypoint",
    "`workflow.command` belongs to node scenarios"
)]
#[case::no_command(
    "  command: [/bin/busybox, \"true\"]\n",
    "",
    "needs `workflow.command`"
)]
#[case::unnamed_volume("{name: out, hostPath", "{hostPath", "needs a `name`")]
#[case::rule_without_verbs(", verbs: [patch]", "", "needs `verbs`")]
#[case::unknown_pod_field("  securityContext:", "  podSecurity:", "podSecurity")]
fn node_fields_are_checked_where_they_stand(
    #[case] from: &str,
    #[case] to: &str,
    #[case] says: &str,
) {
    let err = parse_err(&NODE.replacen(from, to, 1));
    assert!(err.starts_with("scenarios/demo.yaml:"), "{err}");
    let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
    assert!(line > 0, "{err}");
    assert!(err.contains(says), "{err}");
}

#[test]
fn an_unknown_s3_server_is_refused_where_it_stands() {
    let err = parse_err(&GOOD.replace("artifact:", "cloud: {s3: ceph}\nartifact:"));
    assert!(err.starts_with("scenarios/demo.yaml:6:13: "), "{err}");
    assert!(err.contains("ceph") && err.contains("minio"), "{err}");
}

#[test]
fn minio_credentials_are_refused_outside_a_minio_scenario() {
    let with_secret = GOOD.replace(
        "expect:",
        "secrets:\n  cred:\n    secretkey: ${cloud.minioRootPassword}\nexpect:",
    );
    let err = parse_err(&with_secret);
    assert!(err.starts_with("scenarios/demo.yaml:10:16: "), "{err}");
    assert!(err.contains("cloud: {s3: minio}"), "{err}");
    let minio = with_secret.replace("artifact:", "cloud: {s3: minio}\nartifact:");
    let s = scenario::parse(Path::new("demo.yaml"), &minio).unwrap();
    assert_eq!(s.cloud.s3, authmatrix::scenario::S3Server::Minio);
}

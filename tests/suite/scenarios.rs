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

const GOOD_ARTIFACT: &str = "artifact:\n  s3: {bucket: b, key: k}\n";

const NODE_WORKFLOW: &str = r#"workflow:
  image: registry.example.internal/team/app:1.0
  command: [/bin/busybox, "true"]
  securityContext: {runAsUser: 8737}
  volumes: [{name: out, hostPath: {path: /mnt/x}}]
  volumeMounts: [{name: out, mountPath: /out}]
"#;

/// Every refusal the loader makes after YAML parsing, with its exact message and the place it
/// names: a scenario author jumps to that place, so neither may drift.
#[rstest::rstest]
#[case::id_with_capitals(GOOD, &[("id: demo", "id: Demo_1")], "scenarios/demo.yaml:1:5: id `Demo_1` must be lower-case letters, digits and dashes")]
#[case::unknown_component(GOOD, &[("executor-s3", "executor-gcs")], "scenarios/demo.yaml:3:12: unknown component `executor-gcs`; known: executor-s3, controller-entrypoint, node")]
#[case::token_without_identity(GOOD, &[("mode: pod-identity", "mode: none\n  token: expired")], "scenarios/demo.yaml:5:3: auth mode `none` has no token; remove `token`")]
#[case::executor_without_artifact(GOOD, &[(GOOD_ARTIFACT, "")], "scenarios/demo.yaml:3:12: an executor-s3 scenario needs `artifact` (Argo's S3 artifact)")]
#[case::artifact_without_s3(GOOD, &[("s3: {bucket", "gcs: {bucket")], "scenarios/demo.yaml:7:3: an executor-s3 scenario needs `artifact.s3` (Argo's S3 artifact)")]
#[case::workflow_on_executor(GOOD, &[("expect:", "workflow: {image: a}\nexpect:")], "scenarios/demo.yaml:8:11: `workflow` belongs to controller-entrypoint scenarios")]
#[case::artifact_on_node(NODE, &[("expect:", "artifact: {s3: {}}\nexpect:")], "scenarios/demo.yaml:14:11: `artifact` belongs to executor-s3 scenarios")]
#[case::entrypoint_without_workflow(
    GOOD,
    &[(GOOD_ARTIFACT, ""), ("executor-s3", "controller-entrypoint")],
    "scenarios/demo.yaml:3:12: a controller-entrypoint scenario needs `workflow.image`"
)]
#[case::node_without_workflow(NODE, &[(NODE_WORKFLOW, "")], "scenarios/demo.yaml:3:12: a node scenario needs `workflow.image`")]
#[case::command_on_entrypoint(NODE, &[("component: node", "component: controller-entrypoint")], "scenarios/demo.yaml:7:3: `workflow.command` belongs to node scenarios")]
#[case::rules_on_entrypoint(
    NODE,
    &[("component: node", "component: controller-entrypoint"), (NODE_WORKFLOW, "workflow: {image: a}\n")],
    "scenarios/demo.yaml:6:11: `kubernetes.executorRules` belongs to node scenarios"
)]
#[case::arch_on_node(NODE, &[("expect:", "controller: {arch: arm64}\nexpect:")], "scenarios/demo.yaml:7:3: `controller.arch` belongs to controller-entrypoint scenarios")]
#[case::unknown_arch(
    NODE,
    &[("component: node", "component: controller-entrypoint"), (NODE_WORKFLOW, "workflow: {image: a}\n"), ("kubernetes:\n  executorRules: [{apiGroups: [\"\"], resources: [pods], verbs: [patch]}]\n", ""), ("expect:", "controller: {arch: s390x}\nexpect:")],
    "scenarios/demo.yaml:7:20: error: line 7 column 20: unknown variant `s390x`, expected one of amd64, arm64"
)]
#[case::platform_without_arch(
    NODE,
    &[("component: node", "component: controller-entrypoint"), (NODE_WORKFLOW, "workflow: {image: a, imageIndex: [linux]}\n"), ("kubernetes:\n  executorRules: [{apiGroups: [\"\"], resources: [pods], verbs: [patch]}]\n", "")],
    "scenarios/demo.yaml:6:11: workflow.imageIndex: `linux` is not a platform; write os/arch[/variant], e.g. linux/amd64"
)]
#[case::node_without_command(NODE, &[("  command: [/bin/busybox, \"true\"]\n", "")], "scenarios/demo.yaml:7:3: a node scenario needs `workflow.command`: without it the controller looks the image's entrypoint up before the node sees the pod")]
#[case::unnamed_volume(NODE, &[("{name: out, hostPath", "{hostPath")], "scenarios/demo.yaml:7:3: every volume and volume mount needs a `name`: {\"hostPath\":{\"path\":\"/mnt/x\"}}")]
#[case::unnamed_volume_mount(NODE, &[("{name: out, mountPath", "{mountPath")], "scenarios/demo.yaml:7:3: every volume and volume mount needs a `name`: {\"mountPath\":\"/out\"}")]
#[case::rule_without_verbs(NODE, &[(", verbs: [patch]", "")], "scenarios/demo.yaml:7:3: kubernetes.executorRules: a rule needs `verbs` (an RBAC PolicyRule): {\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}")]
#[case::pull_secret_placeholder(
    NODE,
    &[("kubernetes:\n", "kubernetes:\n  pullSecrets: {r: {registry: x, username: u, password: \"${cloud.nope}\"}}\n")],
    "scenarios/demo.yaml:7:3: kubernetes.pullSecrets: unknown placeholder `${cloud.nope}`; known: ${cloud.staticAccessKeyId}, ${cloud.staticSecretAccessKey}, ${cloud.ecrToken}, ${cloud.ecrExpiredToken}, ${cloud.registryUsername}, ${cloud.registryPassword}, ${cloud.minioRootUser}, ${cloud.minioRootPassword}"
)]
#[case::stale_status(GOOD, &[("artifact:", "cloud: {ecrPublicStaleStatus: 404}\nartifact:")], "scenarios/demo.yaml:3:12: cloud.ecrPublicStaleStatus is 400 or 403 (what public.ecr.aws has answered)")]
#[case::token_lifetime(GOOD, &[("artifact:", "cloud: {ecrTokenLifetimeSeconds: 0}\nartifact:")], "scenarios/demo.yaml:3:12: cloud.ecrTokenLifetimeSeconds must be positive")]
#[case::unclosed_placeholder(GOOD, &[("expect:", "secrets:\n  c:\n    k: \"${cloud.ecrToken\"\nexpect:")], "scenarios/demo.yaml:10:8: unclosed `${` in `${cloud.ecrToken`")]
#[case::unknown_placeholder(GOOD, &[("expect:", "secrets:\n  c:\n    k: ${cloud.nope}\nexpect:")], "scenarios/demo.yaml:10:8: unknown placeholder `${cloud.nope}`; known: ${cloud.staticAccessKeyId}, ${cloud.staticSecretAccessKey}, ${cloud.ecrToken}, ${cloud.ecrExpiredToken}, ${cloud.registryUsername}, ${cloud.registryPassword}, ${cloud.minioRootUser}, ${cloud.minioRootPassword}")]
#[case::minio_outside_minio(GOOD, &[("expect:", "secrets:\n  c:\n    k: ${cloud.minioRootUser}\nexpect:")], "scenarios/demo.yaml:10:8: MinIO's root user and password exist only with `cloud: {s3: minio}`")]
#[case::no_expectation(
    GOOD,
    &[
        ("  - versions: \">=3.5.0, <3.6.0\"\n    outcome: fail\n    error: \"loopback\"\n", ""),
        ("  - versions: \">=3.6.0\"\n    outcome: pass\n", ""),
        ("expect:\n", "expect: []\n"),
    ],
    "scenarios/demo.yaml:8:9: `expect` needs at least one version range"
)]
#[case::bad_range(GOOD, &[(r#"">=3.6.0""#, r#""^3.6""#)], "scenarios/demo.yaml:12:15: `^3.6`: write full versions (major.minor.patch) in every comparator")]
#[case::overlapping_ranges(GOOD, &[(r#"">=3.6.0""#, r#"">=3.5.12""#)], "scenarios/demo.yaml:12:15: range `>=3.5.12` overlaps `>=3.5.0, <3.6.0`")]
#[case::fail_without_error(GOOD, &[("    error: \"loopback\"\n", "")], "scenarios/demo.yaml:10:14: a `fail` expectation needs `error`, a regex of the error")]
#[case::pass_with_error(GOOD, &[("    outcome: pass\n", "    outcome: pass\n    error: x\n")], "scenarios/demo.yaml:14:12: a `pass` expectation takes no `error`")]
#[case::bad_error_regex(GOOD, &[("\"loopback\"", "\"(unclosed\"")], "scenarios/demo.yaml:11:12: bad regex: regex parse error:")]
#[case::log_on_pass(GOOD, &[("    outcome: pass\n", "    outcome: pass\n    log: x\n")], "scenarios/demo.yaml:14:10: `log` belongs to a `fail` expectation")]
#[case::bad_log_regex(GOOD, &[("    error: \"loopback\"\n", "    error: \"loopback\"\n    log: \"(x\"\n")], "scenarios/demo.yaml:12:10: bad regex: regex parse error:")]
fn each_refusal_keeps_its_message_and_place(
    #[case] base: &str,
    #[case] edits: &[(&str, &str)],
    #[case] refusal: &str,
) {
    let mut text = base.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in the base scenario");
        text = text.replacen(from, to, 1);
    }
    assert_eq!(parse_err(&text), refusal);
}

#[test]
fn a_directory_without_scenarios_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let err = scenario::load_dir(dir.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:0:0: no *.yaml scenario files here",
            dir.path().display()
        )
    );
    let missing = dir.path().join("missing");
    let err = scenario::load_dir(&missing).unwrap_err().to_string();
    let prefix = format!(
        "{}:0:0: cannot read the scenario directory: ",
        missing.display()
    );
    assert!(err.starts_with(&prefix), "{err}");
}

//! Loading and validating scenario files. Every error names file:line:column.

use super::model::*;
use super::range::VersionRange;
use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario file that cannot be used, with the place to fix.
#[derive(Debug, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawScenario {
    id: Spanned<String>,
    title: String,
    component: Spanned<String>,
    #[serde(default)]
    references: Vec<String>,
    auth: Spanned<RawAuth>,
    #[serde(default)]
    cloud: Cloud,
    artifact: Option<Spanned<serde_json::Value>>,
    workflow: Option<Spanned<WorkflowSpec>>,
    #[serde(default)]
    kubernetes: KubernetesSpec,
    #[serde(default)]
    controller: ControllerSpec,
    #[serde(default)]
    secrets: BTreeMap<String, BTreeMap<String, Spanned<String>>>,
    expect: Spanned<Vec<RawExpectation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAuth {
    mode: AuthMode,
    token: Option<TokenKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExpectation {
    versions: Spanned<String>,
    outcome: Spanned<ExpectedOutcome>,
    error: Option<Spanned<String>>,
    log: Option<Spanned<String>>,
    note: Option<String>,
}

/// Loads every `*.yaml` file of `dir`, sorted by file name, and checks that ids are unique.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError {
        file: dir.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the scenario directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| LoadError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        let scenario = parse(&file, &text)?;
        if let Some(first) = seen.insert(scenario.id.clone(), file.clone()) {
            return Err(LoadError {
                file,
                line: 1,
                column: 1,
                message: format!(
                    "scenario id `{}` is already used by {}",
                    scenario.id,
                    first.display()
                ),
            });
        }
        out.push(scenario);
    }
    if out.is_empty() {
        return Err(LoadError {
            file: dir.to_path_buf(),
            line: 0,
            column: 0,
            message: "no *.yaml scenario files here".into(),
        });
    }
    Ok(out)
}

/// Parses and validates one scenario file.
pub fn parse(file: &Path, text: &str) -> Result<Scenario, LoadError> {
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        LoadError {
            file: file.to_path_buf(),
            line,
            column,
            message: first_line(&e.to_string()),
        }
    })?;
    let at = |loc: serde_saphyr::Location, message: String| LoadError {
        file: file.to_path_buf(),
        line: loc.line(),
        column: loc.column(),
        message,
    };

    let id = raw.id.value.clone();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(at(
            raw.id.referenced,
            format!("id `{id}` must be lower-case letters, digits and dashes"),
        ));
    }
    let component = match raw.component.value.as_str() {
        "executor-s3" => Component::ExecutorS3,
        "controller-entrypoint" => Component::ControllerEntrypoint,
        "node" => Component::Node,
        other => {
            return Err(at(
                raw.component.referenced,
                format!(
                    "unknown component `{other}`; known: executor-s3, controller-entrypoint, node"
                ),
            ));
        }
    };

    let auth = Auth {
        mode: raw.auth.value.mode,
        token: match (raw.auth.value.mode, raw.auth.value.token) {
            (AuthMode::None, Some(_)) => {
                return Err(at(
                    raw.auth.referenced,
                    "auth mode `none` has no token; remove `token`".into(),
                ));
            }
            (_, token) => token.unwrap_or_default(),
        },
    };

    let (artifact, entrypoint) = match component {
        Component::ExecutorS3 => {
            let Some(art) = raw.artifact else {
                return Err(at(
                    raw.component.referenced,
                    "an executor-s3 scenario needs `artifact` (Argo's S3 artifact)".into(),
                ));
            };
            if art.value.get("s3").is_none_or(|s| !s.is_object()) {
                return Err(at(
                    art.referenced,
                    "an executor-s3 scenario needs `artifact.s3` (Argo's S3 artifact)".into(),
                ));
            }
            if let Some(w) = raw.workflow {
                return Err(at(
                    w.referenced,
                    "`workflow` belongs to controller-entrypoint scenarios".into(),
                ));
            }
            (art.value, None)
        }
        Component::ControllerEntrypoint | Component::Node => {
            let name = component.as_str();
            if let Some(art) = raw.artifact {
                return Err(at(
                    art.referenced,
                    "`artifact` belongs to executor-s3 scenarios".into(),
                ));
            }
            let Some(workflow) = raw.workflow else {
                return Err(at(
                    raw.component.referenced,
                    format!("a {name} scenario needs `workflow.image`"),
                ));
            };
            node_fields_fit(component, &workflow.value, &raw.kubernetes)
                .map_err(|m| at(workflow.referenced, m))?;
            for secret in raw.kubernetes.pull_secrets.values() {
                for v in [&secret.username, &secret.password] {
                    check_placeholders(v).map_err(|m| {
                        at(workflow.referenced, format!("kubernetes.pullSecrets: {m}"))
                    })?;
                }
            }
            let spec = EntrypointSpec {
                workflow: workflow.value,
                kubernetes: raw.kubernetes,
                controller: raw.controller,
            };
            (serde_json::Value::Null, Some(spec))
        }
    };

    if ![400, 403].contains(&raw.cloud.ecr_public_stale_status) {
        return Err(at(
            raw.component.referenced,
            "cloud.ecrPublicStaleStatus is 400 or 403 (what public.ecr.aws has answered)".into(),
        ));
    }
    if raw.cloud.ecr_token_lifetime_seconds <= 0 {
        return Err(at(
            raw.component.referenced,
            "cloud.ecrTokenLifetimeSeconds must be positive".into(),
        ));
    }
    let mut secrets = BTreeMap::new();
    for (name, keys) in raw.secrets {
        let mut values = BTreeMap::new();
        for (key, value) in keys {
            check_placeholders(&value.value).map_err(|m| at(value.referenced, m))?;
            if raw.cloud.s3 != S3Server::Minio && value.value.contains("${cloud.minio") {
                return Err(at(
                    value.referenced,
                    "MinIO's root user and password exist only with `cloud: {s3: minio}`".into(),
                ));
            }
            values.insert(key, value.value);
        }
        secrets.insert(name, values);
    }

    let mut expectations: Vec<Expectation> = Vec::new();
    if raw.expect.value.is_empty() {
        return Err(at(
            raw.expect.referenced,
            "`expect` needs at least one version range".into(),
        ));
    }
    for e in raw.expect.value {
        let range =
            VersionRange::parse(&e.versions.value).map_err(|m| at(e.versions.referenced, m))?;
        if let Some(prev) = expectations.iter().find(|p| p.range.overlaps(&range)) {
            return Err(at(
                e.versions.referenced,
                format!("range `{range}` overlaps `{}`", prev.range),
            ));
        }
        let error = match (e.outcome.value, e.error) {
            (ExpectedOutcome::Fail, None) => {
                return Err(at(
                    e.outcome.referenced,
                    "a `fail` expectation needs `error`, a regex of the error".into(),
                ));
            }
            (ExpectedOutcome::Pass, Some(err)) => {
                return Err(at(
                    err.referenced,
                    "a `pass` expectation takes no `error`".into(),
                ));
            }
            (_, Some(err)) => Some(Regex::new(&err.value).map_err(|x| {
                at(
                    err.referenced,
                    format!("bad regex: {}", first_line(&x.to_string())),
                )
            })?),
            (_, None) => None,
        };
        let log = match e.log {
            Some(l) if e.outcome.value != ExpectedOutcome::Fail => {
                return Err(at(
                    l.referenced,
                    "`log` belongs to a `fail` expectation".into(),
                ));
            }
            Some(l) => Some(Regex::new(&l.value).map_err(|x| {
                at(
                    l.referenced,
                    format!("bad regex: {}", first_line(&x.to_string())),
                )
            })?),
            None => None,
        };
        expectations.push(Expectation {
            range,
            outcome: e.outcome.value,
            error,
            log,
            note: e.note,
        });
    }

    Ok(Scenario {
        id,
        title: raw.title,
        component,
        references: raw.references,
        auth,
        cloud: raw.cloud,
        artifact,
        entrypoint,
        secrets,
        expectations,
        source: file.to_path_buf(),
    })
}

/// `${cloud.NAME}` must name a credential the fake cloud issues.
/// The fields only a node scenario has, and the one it must have.
fn node_fields_fit(
    component: Component,
    workflow: &crate::scenario::model::WorkflowSpec,
    kubernetes: &crate::scenario::model::KubernetesSpec,
) -> Result<(), String> {
    let node_only = [
        ("workflow.command", !workflow.command.is_empty()),
        (
            "workflow.securityContext",
            workflow.security_context.is_some(),
        ),
        ("workflow.volumes", !workflow.volumes.is_empty()),
        ("workflow.volumeMounts", !workflow.volume_mounts.is_empty()),
        (
            "kubernetes.executorRules",
            kubernetes.executor_rules.is_some(),
        ),
    ];
    if component == Component::Node {
        if workflow.command.is_empty() {
            return Err("a node scenario needs `workflow.command`: without it the controller looks the image's entrypoint up before the node sees the pod".into());
        }
        for v in workflow.volumes.iter().chain(&workflow.volume_mounts) {
            if v.get("name").and_then(|n| n.as_str()).is_none() {
                return Err(format!("every volume and volume mount needs a `name`: {v}"));
            }
        }
        for rule in kubernetes.executor_rules.iter().flatten() {
            if rule.get("verbs").and_then(|v| v.as_array()).is_none() {
                return Err(format!(
                    "kubernetes.executorRules: a rule needs `verbs` (an RBAC PolicyRule): {rule}"
                ));
            }
        }
        return Ok(());
    }
    match node_only.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(format!("`{field}` belongs to node scenarios")),
        None => Ok(()),
    }
}

fn check_placeholders(value: &str) -> Result<(), String> {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in `{value}`"))?;
        let name = &rest[start + 2..start + end];
        let known = name
            .strip_prefix("cloud.")
            .is_some_and(|n| CLOUD_PLACEHOLDERS.contains(&n));
        if !known {
            return Err(format!(
                "unknown placeholder `${{{name}}}`; known: {}",
                CLOUD_PLACEHOLDERS
                    .iter()
                    .map(|n| format!("${{cloud.{n}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &rest[start + end + 1..];
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

//! Loading and validating scenario files. Every error names file:line:column.

use super::model::*;
use super::range::VersionRange;
use regex::Regex;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
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
    /// Written by `authmatrix scan --out`.
    #[serde(default)]
    found_in: Vec<String>,
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
    exposes: Option<Spanned<Vec<String>>>,
    note: Option<String>,
}

impl LoadError {
    /// For what no line is to blame: a directory or file that cannot be read, or holds nothing.
    fn whole(file: &Path, message: String) -> Self {
        LoadError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message,
        }
    }
}

/// The scenario file a refusal names; each check supplies the place in it.
#[derive(Clone, Copy)]
struct InFile<'a>(&'a Path);

impl InFile<'_> {
    fn at(self, place: Location, message: impl Into<String>) -> LoadError {
        LoadError {
            file: self.0.to_path_buf(),
            line: place.line(),
            column: place.column(),
            message: message.into(),
        }
    }
}

/// Loads every `*.yaml` file of `dir`, sorted by file name, and checks that ids are unique.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, LoadError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LoadError::whole(dir, format!("cannot read the scenario directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| LoadError::whole(&file, format!("cannot read: {e}")))?;
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
        return Err(LoadError::whole(
            dir,
            "no *.yaml scenario files here".into(),
        ));
    }
    Ok(out)
}

/// Parses and validates one scenario file.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, LoadError> {
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| yaml_error(path, &e))?;
    let file = InFile(path);
    let id = parse_id(file, &raw.id)?;
    let component = parse_component(file, &raw.component)?;
    let auth = parse_auth(file, &raw.auth)?;
    // A block the component needs but lacks is blamed on `component:`, the choice that needs it.
    let needed_by = raw.component.referenced;
    let blocks = ComponentBlocks {
        artifact: raw.artifact,
        workflow: raw.workflow,
        kubernetes: raw.kubernetes,
        controller: raw.controller,
    };
    let (artifact, entrypoint) = parse_component_blocks(file, component, needed_by, blocks)?;
    // `cloud` is read straight into the model, which keeps no positions: its refusals point at
    // `component:` too.
    check_cloud(file, &raw.cloud, needed_by)?;
    let secrets = parse_secrets(file, raw.secrets, raw.cloud.s3)?;
    let expectations = parse_expectations(file, raw.expect)?;
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
        found_in: raw.found_in,
        source: path.to_path_buf(),
    })
}

/// serde_saphyr goes on with a snippet of the source; the position already points there.
fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> LoadError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    LoadError {
        file: path.to_path_buf(),
        line,
        column,
        message: first_line(&e.to_string()),
    }
}

fn parse_id(file: InFile, id: &Spanned<String>) -> Result<String, LoadError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if id.value.is_empty() || !id.value.chars().all(allowed) {
        return Err(file.at(
            id.referenced,
            format!(
                "id `{}` must be lower-case letters, digits and dashes",
                id.value
            ),
        ));
    }
    Ok(id.value.clone())
}

fn parse_component(file: InFile, component: &Spanned<String>) -> Result<Component, LoadError> {
    match component.value.as_str() {
        "executor-s3" => Ok(Component::ExecutorS3),
        "controller-entrypoint" => Ok(Component::ControllerEntrypoint),
        "node" => Ok(Component::Node),
        other => Err(file.at(
            component.referenced,
            format!("unknown component `{other}`; known: executor-s3, controller-entrypoint, node"),
        )),
    }
}

fn parse_auth(file: InFile, auth: &Spanned<RawAuth>) -> Result<Auth, LoadError> {
    let RawAuth { mode, token } = auth.value;
    if mode == AuthMode::None && token.is_some() {
        return Err(file.at(
            auth.referenced,
            "auth mode `none` has no token; remove `token`",
        ));
    }
    Ok(Auth {
        mode,
        token: token.unwrap_or_default(),
    })
}

/// The blocks whose meaning depends on the component.
struct ComponentBlocks {
    artifact: Option<Spanned<serde_json::Value>>,
    workflow: Option<Spanned<WorkflowSpec>>,
    kubernetes: KubernetesSpec,
    controller: ControllerSpec,
}

fn parse_component_blocks(
    file: InFile,
    component: Component,
    needed_by: Location,
    blocks: ComponentBlocks,
) -> Result<(serde_json::Value, Option<EntrypointSpec>), LoadError> {
    match component {
        Component::ExecutorS3 => {
            let artifact = parse_s3_artifact(file, needed_by, blocks.artifact)?;
            let owner = Component::ControllerEntrypoint;
            refuse_foreign(file, &blocks.workflow, "workflow", owner)?;
            Ok((artifact, None))
        }
        Component::ControllerEntrypoint | Component::Node => {
            refuse_foreign(file, &blocks.artifact, "artifact", Component::ExecutorS3)?;
            let spec = parse_entrypoint(file, component, needed_by, blocks)?;
            Ok((serde_json::Value::Null, Some(spec)))
        }
    }
}

/// Only `s3` is checked: the rest is Argo's `Artifact` schema, for Argo's own code to judge.
fn parse_s3_artifact(
    file: InFile,
    needed_by: Location,
    artifact: Option<Spanned<serde_json::Value>>,
) -> Result<serde_json::Value, LoadError> {
    let Some(artifact) = artifact else {
        return Err(file.at(
            needed_by,
            "an executor-s3 scenario needs `artifact` (Argo's S3 artifact)",
        ));
    };
    if artifact.value.get("s3").is_none_or(|s| !s.is_object()) {
        return Err(file.at(
            artifact.referenced,
            "an executor-s3 scenario needs `artifact.s3` (Argo's S3 artifact)",
        ));
    }
    Ok(artifact.value)
}

/// `kubernetes` keeps no position of its own: its refusals point at `workflow`, the pod it serves.
fn parse_entrypoint(
    file: InFile,
    component: Component,
    needed_by: Location,
    blocks: ComponentBlocks,
) -> Result<EntrypointSpec, LoadError> {
    let ComponentBlocks {
        workflow,
        kubernetes,
        controller,
        ..
    } = blocks;
    let Some(workflow) = workflow else {
        let name = component.as_str();
        return Err(file.at(
            needed_by,
            format!("a {name} scenario needs `workflow.image`"),
        ));
    };
    node_fields_fit(component, &workflow.value, &kubernetes)
        .and_then(|()| lookup_fields_fit(component, &workflow.value, &controller))
        .and_then(|()| pull_secrets_fit(&kubernetes))
        .map_err(|m| file.at(workflow.referenced, m))?;
    Ok(EntrypointSpec {
        workflow: workflow.value,
        kubernetes,
        controller,
    })
}

/// A block only another component reads would be silently ignored here, so it is refused.
fn refuse_foreign<T>(
    file: InFile,
    block: &Option<Spanned<T>>,
    name: &str,
    owner: Component,
) -> Result<(), LoadError> {
    match block {
        Some(block) => Err(file.at(block.referenced, belongs_to(name, owner))),
        None => Ok(()),
    }
}

fn belongs_to(field: &str, owner: Component) -> String {
    format!("`{field}` belongs to {} scenarios", owner.as_str())
}

/// Fields only a node scenario has would be ignored elsewhere, so they are refused there.
fn node_fields_fit(
    component: Component,
    workflow: &WorkflowSpec,
    kubernetes: &KubernetesSpec,
) -> Result<(), String> {
    if component == Component::Node {
        return node_pod_complete(workflow, kubernetes);
    }
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
    match node_only.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(belongs_to(field, Component::Node)),
        None => Ok(()),
    }
}

/// Fields only the controller's entrypoint lookup reads would be ignored on a node scenario, where
/// the command is explicit; platforms must name an OS and an architecture, as an index does.
fn lookup_fields_fit(
    component: Component,
    workflow: &WorkflowSpec,
    controller: &ControllerSpec,
) -> Result<(), String> {
    if component == Component::Node && controller.arch.is_some() {
        return Err(belongs_to(
            "controller.arch",
            Component::ControllerEntrypoint,
        ));
    }
    for platform in &workflow.image_index {
        let parts: Vec<&str> = platform.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "workflow.imageIndex: `{platform}` is not a platform; write os/arch[/variant], e.g. linux/amd64"
            ));
        }
    }
    Ok(())
}

fn node_pod_complete(workflow: &WorkflowSpec, kubernetes: &KubernetesSpec) -> Result<(), String> {
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
    Ok(())
}

fn pull_secrets_fit(kubernetes: &KubernetesSpec) -> Result<(), String> {
    for secret in kubernetes.pull_secrets.values() {
        for v in [&secret.username, &secret.password] {
            check_placeholders(v).map_err(|m| format!("kubernetes.pullSecrets: {m}"))?;
        }
    }
    Ok(())
}

fn check_cloud(file: InFile, cloud: &Cloud, place: Location) -> Result<(), LoadError> {
    if ![400, 403].contains(&cloud.ecr_public_stale_status) {
        return Err(file.at(
            place,
            "cloud.ecrPublicStaleStatus is 400 or 403 (what public.ecr.aws has answered)",
        ));
    }
    if cloud.ecr_token_lifetime_seconds <= 0 {
        return Err(file.at(place, "cloud.ecrTokenLifetimeSeconds must be positive"));
    }
    Ok(())
}

type RawSecrets = BTreeMap<String, BTreeMap<String, Spanned<String>>>;

fn parse_secrets(
    file: InFile,
    raw: RawSecrets,
    s3: S3Server,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, LoadError> {
    let mut secrets = BTreeMap::new();
    for (name, keys) in raw {
        let mut values = BTreeMap::new();
        for (key, value) in keys {
            check_secret_value(file, &value, s3)?;
            values.insert(key, value.value);
        }
        secrets.insert(name, values);
    }
    Ok(secrets)
}

fn check_secret_value(
    file: InFile,
    value: &Spanned<String>,
    s3: S3Server,
) -> Result<(), LoadError> {
    check_placeholders(&value.value).map_err(|m| file.at(value.referenced, m))?;
    // The fake cloud makes MinIO's root credentials only when it runs a MinIO.
    if s3 != S3Server::Minio && value.value.contains("${cloud.minio") {
        return Err(file.at(
            value.referenced,
            "MinIO's root user and password exist only with `cloud: {s3: minio}`",
        ));
    }
    Ok(())
}

/// Overlapping ranges would give one Argo version two verdicts.
fn parse_expectations(
    file: InFile,
    expect: Spanned<Vec<RawExpectation>>,
) -> Result<Vec<Expectation>, LoadError> {
    if expect.value.is_empty() {
        return Err(file.at(
            expect.referenced,
            "`expect` needs at least one version range",
        ));
    }
    let mut expectations: Vec<Expectation> = Vec::new();
    for e in expect.value {
        let range = VersionRange::parse(&e.versions.value)
            .map_err(|m| file.at(e.versions.referenced, m))?;
        if let Some(prev) = expectations.iter().find(|p| p.range.overlaps(&range)) {
            return Err(file.at(
                e.versions.referenced,
                format!("range `{range}` overlaps `{}`", prev.range),
            ));
        }
        expectations.push(parse_expectation(file, e, range)?);
    }
    Ok(expectations)
}

/// A verdict of `fail` is only checkable against a signature; `pass` has nothing to match.
fn parse_expectation(
    file: InFile,
    e: RawExpectation,
    range: VersionRange,
) -> Result<Expectation, LoadError> {
    let outcome = e.outcome.value;
    let error = match (outcome, e.error) {
        (ExpectedOutcome::Fail, None) => {
            return Err(file.at(
                e.outcome.referenced,
                "a `fail` expectation needs `error`, a regex of the error",
            ));
        }
        (ExpectedOutcome::Pass, Some(err)) => {
            return Err(file.at(err.referenced, "a `pass` expectation takes no `error`"));
        }
        (_, err) => err.map(|err| parse_regex(file, &err)).transpose()?,
    };
    let log = match e.log {
        Some(log) if outcome != ExpectedOutcome::Fail => {
            return Err(file.at(log.referenced, "`log` belongs to a `fail` expectation"));
        }
        log => log.map(|log| parse_regex(file, &log)).transpose()?,
    };
    let exposes = match e.exposes {
        Some(list) => {
            if let Some(bad) = list.value.iter().find(|s| !is_secret_key(s)) {
                let why = format!("`exposes` names secrets as NAME/KEY, not `{bad}`");
                return Err(file.at(list.referenced, why));
            }
            list.value
        }
        None => vec![],
    };
    Ok(Expectation {
        range,
        outcome,
        error,
        log,
        exposes,
        note: e.note,
    })
}

/// `NAME/KEY` of a Secret: both parts non-empty, one slash.
fn is_secret_key(s: &str) -> bool {
    matches!(s.split_once('/'), Some((name, key)) if !name.is_empty() && !key.is_empty() && !key.contains('/'))
}

fn parse_regex(file: InFile, pattern: &Spanned<String>) -> Result<Regex, LoadError> {
    Regex::new(&pattern.value).map_err(|e| {
        let first = first_line(&e.to_string());
        file.at(pattern.referenced, format!("bad regex: {first}"))
    })
}

/// `${cloud.NAME}` must name a credential the fake cloud issues.
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

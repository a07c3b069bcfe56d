//! Credential exposure: the scenario's secret values found in what Argo itself printed, before
//! anything is redacted. v4.0.0–v4.0.4 log the S3 driver struct, keys included, on every Load
//! (commit 680ee6c222 / PR 14706; fixed in v4.0.5 by bdd4090858): a cell can pass and still hand
//! its keys to whoever reads pod logs.

use super::objects::Objects;
use crate::shared::encoding::percent_encoded;
use crate::shared::{ArgoLog, Exposure};
use base64::Engine;

/// Values shorter than this are not looked for: a short value (a region, `true`) would be found
/// everywhere without being a leak. Keys, secrets and tokens are longer.
const SHORTEST_SECRET: usize = 8;

/// One secret value of the namespace: `name/key` and the value.
pub struct SecretValue {
    pub secret: String,
    pub value: String,
}

/// Every value of every Secret the scenario puts into the namespace.
pub fn values_by_secret(objects: &Objects) -> Vec<SecretValue> {
    let mut out = Vec::new();
    for secret in &objects.secrets {
        let name = secret.metadata.name.clone().unwrap_or_default();
        for (key, value) in secret.data.iter().flatten() {
            out.push(SecretValue {
                secret: format!("{name}/{key}"),
                value: String::from_utf8_lossy(&value.0).into_owned(),
            });
        }
    }
    out
}

/// Where each secret value appears in `logs`, plain and as a log would encode it (base64,
/// URL-escaped, JSON-escaped); the first line of each (secret, source, encoding).
pub fn find(secrets: &[SecretValue], logs: &[ArgoLog]) -> Vec<Exposure> {
    let mut found = Vec::new();
    for s in secrets.iter().filter(|s| s.value.len() >= SHORTEST_SECRET) {
        for (encoding, needle) in encodings(&s.value) {
            for log in logs {
                if let Some(line) = log.text.lines().position(|l| l.contains(&needle)) {
                    found.push(Exposure {
                        secret: s.secret.clone(),
                        source: log.source.clone(),
                        line: line + 1,
                        encoding: encoding.to_string(),
                    });
                }
            }
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.secret == b.secret && a.source == b.source && a.line == b.line);
    found
}

/// The forms a value takes in a log, each once (a value with nothing to escape is found plain).
fn encodings(value: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json[1..json.len().saturating_sub(1).max(1)].to_string();
    let mut forms = vec![
        ("plain", value.to_string()),
        (
            "base64",
            base64::engine::general_purpose::STANDARD.encode(value),
        ),
        ("url-escaped", percent_encoded(value, b"")),
        ("json-escaped", json),
    ];
    let mut seen = std::collections::HashSet::new();
    forms.retain(|(_, f)| seen.insert(f.clone()));
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, value: &str) -> SecretValue {
        SecretValue {
            secret: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_secret_is_found_plain_and_encoded_with_its_line_and_source() {
        let secrets = [
            secret("s3-creds/secretKey", "wJalrXUtnFEMI/K7MDENG+bPxRfiCY"),
            secret("s3-creds/accessKey", "AKIAEXAMPLE123"),
            secret("s3-creds/region", "eu"),
        ];
        let logs = [
            ArgoLog::new("probe stdout", "nothing here"),
            ArgoLog::new(
                "container init",
                "level=INFO msg=start\nlevel=INFO msg=\"Loading artifact\" driver=\"&{AccessKey:AKIAEXAMPLE123 SecretKey:wJalrXUtnFEMI/K7MDENG+bPxRfiCY}\"",
            ),
            ArgoLog::new(
                "workflow-controller",
                "token=d0phbHJYVXRuRkVNSS9LN01ERU5HK2JQeFJmaUNZ",
            ),
            ArgoLog::new(
                "container wait",
                "url=https://x/?k=wJalrXUtnFEMI%2FK7MDENG%2BbPxRfiCY",
            ),
        ];
        let found: Vec<String> = find(&secrets, &logs)
            .iter()
            .map(Exposure::describe)
            .collect();
        assert_eq!(
            found,
            [
                "s3-creds/accessKey in container init line 2 (plain)",
                "s3-creds/secretKey in container init line 2 (plain)",
                "s3-creds/secretKey in container wait line 1 (url-escaped)",
                "s3-creds/secretKey in workflow-controller line 1 (base64)",
            ]
        );
    }

    #[test]
    fn json_escaping_and_short_values_are_handled() {
        let secrets = [secret("t/token", "ab\"cd/ef\\gh"), secret("t/x", "short")];
        let logs = [ArgoLog::new(
            "probe stderr",
            r#"{"token":"ab\"cd/ef\\gh"} short"#,
        )];
        let found = find(&secrets, &logs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].encoding, "json-escaped");
    }
}

//! Keeps secrets out of reports, logs and evidence: every credential the run knows is replaced,
//! and anything shaped like a JWT or an AWS secret field is masked too.

use regex::Regex;
use std::sync::OnceLock;

pub const MASK: &str = "[REDACTED]";

#[derive(Clone, Default)]
pub struct Redactor {
    known: Vec<String>,
}

impl Redactor {
    /// Remembers a secret value (ignored when too short to be a secret: redacting "a" would garble text).
    pub fn add(&mut self, secret: &str) {
        if secret.len() >= 8 && !self.known.iter().any(|k| k == secret) {
            self.known.push(secret.to_string());
            // Longest first, so a secret containing another is masked whole.
            self.known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for k in &self.known {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), MASK);
            }
        }
        for re in patterns() {
            out = re
                .replace_all(&out, |c: &regex::Captures| match c.get(1) {
                    Some(prefix) => format!("{}{MASK}", prefix.as_str()),
                    None => MASK.to_string(),
                })
                .into_owned();
        }
        out
    }
}

fn patterns() -> &'static [Regex] {
    static P: OnceLock<Vec<Regex>> = OnceLock::new();
    P.get_or_init(|| {
        vec![
            // A JWT: three base64url parts, the first a JSON header.
            Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*").expect("valid"),
            // JSON or XML credential fields.
            Regex::new(r#"((?i)"(?:SecretAccessKey|Token|SessionToken|secretkey)"\s*:\s*")[^"]+"#).expect("valid"),
            Regex::new(r"(<(?:SecretAccessKey|SessionToken)>)[^<]+").expect("valid"),
            // Environment-style assignments.
            Regex::new(r"((?:AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_CONTAINER_AUTHORIZATION_TOKEN)=)\S+").expect("valid"),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_known_values_jwts_and_credential_fields() {
        let mut r = Redactor::default();
        r.add("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let text = r#"key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4eXoifQ.c2lnbmF0dXJl {"Token":"abc123"} AWS_SESSION_TOKEN=zzz"#;
        let out = r.redact(text);
        assert!(
            !out.contains("EXAMPLEKEY")
                && !out.contains("eyJzdWIi")
                && !out.contains("abc123")
                && !out.contains("zzz"),
            "{out}"
        );
        assert!(out.contains(r#""Token":"[REDACTED]"#), "{out}");
    }

    #[test]
    fn short_values_are_not_treated_as_secrets() {
        let mut r = Redactor::default();
        r.add("a");
        assert_eq!(r.redact("a cat"), "a cat");
    }
}

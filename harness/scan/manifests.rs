//! `--manifests`: files and directories of YAML (rendered Helm or Kustomize output, a GitOps
//! repository), multi-document, `List`s unwrapped, kinds a scan does not read skipped.

use super::Gap;
use super::objects::{Inventory, Object};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Reads every manifest under `paths`. A document that is not YAML (a raw Helm template, say)
/// becomes a coverage gap naming its file and line; only paths that cannot be read at all fail.
pub fn read(paths: &[PathBuf], default_ns: &str) -> Result<Inventory, String> {
    let mut inv = Inventory {
        source: format!(
            "manifests {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ..Default::default()
    };
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    if files.is_empty() {
        return Err("no *.yaml, *.yml or *.json file under the given paths".into());
    }
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        read_text(&file, &text, default_ns, &mut inv);
    }
    Ok(inv)
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let manifest = matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml" | "json")
        );
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if manifest {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses one file's documents into `inv`.
pub fn read_text(file: &Path, text: &str, default_ns: &str, inv: &mut Inventory) {
    for (first_line, doc) in documents(text) {
        let origin = format!("{}:{first_line}", file.display());
        match serde_saphyr::from_str::<Value>(&doc) {
            Ok(Value::Null) => {}
            Ok(value) => add(value, default_ns, &origin, inv),
            Err(e) => {
                let line = e.location().map(|l| l.line()).unwrap_or(1);
                let at = format!("{}:{}", file.display(), first_line as u64 + line - 1);
                let message = e.to_string();
                inv.gaps.push(Gap {
                    what: format!("{at}: not a YAML document"),
                    why: message.lines().next().unwrap_or_default().to_string(),
                    unknown: vec!["whatever this document declares".into()],
                });
            }
        }
    }
}

/// A document, or each item of a `List`.
fn add(value: Value, default_ns: &str, origin: &str, inv: &mut Inventory) {
    if value.get("kind").and_then(Value::as_str) == Some("List")
        || value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List") && value.get("items").is_some())
    {
        let items = value.get("items").and_then(Value::as_array).cloned();
        for item in items.unwrap_or_default() {
            add(item, default_ns, origin, inv);
        }
        return;
    }
    if let Some(o) = Object::from_value(value, default_ns, origin.to_string()) {
        inv.objects.push(o);
    }
}

/// Splits a multi-document YAML text at `---` lines, keeping the 1-based line each document
/// starts on (so errors can name file:line).
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let (mut start, mut current) = (1, String::new());
    for (i, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            docs.push((start, std::mem::take(&mut current)));
            start = i + 2;
            // `--- value` starts a document on the separator line itself.
            if let Some(rest) = line.strip_prefix("--- ") {
                current.push_str(rest);
                current.push('\n');
                start = i + 1;
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    docs.push((start, current));
    docs.retain(|(_, d)| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_first_line() {
        let docs = documents("# c\n---\na: 1\n---\n\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0, 3);
        assert_eq!(docs[1].0, 7);
    }

    #[test]
    fn lists_are_unwrapped_secrets_lose_values_and_bad_documents_name_their_line() {
        let text = "kind: List\nitems:\n  - kind: Secret\n    metadata:\n      name: s\n      annotations:\n        kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"k\":\"CANARY\"}}'\n    data: {k: Q0FOQVJZ}\n---\nkind: Unknown\nmetadata: {name: x}\n---\na: [\n";
        let mut inv = Inventory::default();
        read_text(Path::new("m.yaml"), text, "ns", &mut inv);
        assert_eq!(inv.objects.len(), 1);
        let s = &inv.objects[0];
        assert_eq!(s.reference(), "ns/Secret/s");
        assert!(!s.value.to_string().contains("CANARY"));
        assert!(!s.value.to_string().contains("Q0FOQVJZ"));
        assert_eq!(s.value["keys"], serde_json::json!(["k"]));
        let mut again = s.value.clone();
        super::super::objects::sanitize("Secret", &mut again);
        assert_eq!(
            again["keys"],
            serde_json::json!(["k"]),
            "sanitizing twice keeps the key names"
        );
        assert_eq!(inv.gaps.len(), 1);
        assert!(inv.gaps[0].what.starts_with("m.yaml:13"), "{:?}", inv.gaps);
    }
}

//! What a CI runner asks of a command besides its exit code: GitHub Actions reads Markdown from the
//! file `GITHUB_STEP_SUMMARY` names and step outputs from the file `GITHUB_OUTPUT` names. Both are
//! appended to, as GitHub documents; outside Actions (the variables unset) nothing is written, so
//! the workflow files stay one command per step and the same commands run in tests.

use std::io::Write;
use std::path::PathBuf;

fn append(var: &str, text: &str) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("{var}={}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{var}={}: {e}", path.display()))?;
    Ok(())
}

/// Appends Markdown to the job's step summary.
pub fn step_summary(markdown: &str) -> anyhow::Result<()> {
    let mut text = markdown.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    append("GITHUB_STEP_SUMMARY", &text)
}

/// Sets a step output (`name=value`; values here are single words).
pub fn output(name: &str, value: &str) -> anyhow::Result<()> {
    debug_assert!(!value.contains('\n'));
    append("GITHUB_OUTPUT", &format!("{name}={value}\n"))
}

/// Text preformatted for Markdown.
pub fn code_block(text: &str) -> String {
    format!("```\n{}\n```\n", text.trim_end())
}

//! Which cells a run covers: scenarios selected by id globs, times Argo tags.

use crate::scenario::Scenario;
use crate::shared::ArgoTag;

#[derive(Debug, thiserror::Error)]
#[error("no scenario id matches `{pattern}`; the catalogue has: {known}")]
pub struct NoMatch {
    pub pattern: String,
    pub known: String,
}

/// Keeps the scenarios whose id matches any of `globs` (all when empty). A glob that matches
/// nothing is an error: a typo must not silently shrink a nightly run.
pub fn select(scenarios: Vec<Scenario>, globs: &[String]) -> Result<Vec<Scenario>, anyhow::Error> {
    if globs.is_empty() {
        return Ok(scenarios);
    }
    let patterns = globs
        .iter()
        .map(|g| {
            glob::Pattern::new(g).map_err(|e| anyhow::anyhow!("bad --scenario glob `{g}`: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (g, p) in globs.iter().zip(&patterns) {
        if !scenarios.iter().any(|s| p.matches(&s.id)) {
            let known = scenarios
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(NoMatch {
                pattern: g.clone(),
                known,
            }
            .into());
        }
    }
    Ok(scenarios
        .into_iter()
        .filter(|s| patterns.iter().any(|p| p.matches(&s.id)))
        .collect())
}

/// The catalogue in `dir`, or the project's `scenarios/`.
pub fn catalogue(
    dir: Option<&std::path::Path>,
) -> Result<Vec<Scenario>, crate::scenario::LoadError> {
    let dir = dir.map_or_else(
        || crate::project_root().join("scenarios"),
        |d| d.to_path_buf(),
    );
    crate::scenario::load_dir(&dir)
}

/// The tags of a comma-separated `--argo` list, or the default tags; an empty list is refused.
pub fn tags(list: Option<&str>) -> anyhow::Result<Vec<ArgoTag>> {
    let tags = match list {
        Some(list) => ArgoTag::parse_list(list)?,
        None => ArgoTag::defaults(),
    };
    if tags.is_empty() {
        anyhow::bail!("--argo names no tag");
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_list_means_the_default_tags_and_an_empty_list_is_refused() {
        assert_eq!(tags(None).unwrap(), ArgoTag::defaults());
        assert_eq!(tags(Some("v3.6.5,v3.5.11")).unwrap()[0].tag, "v3.5.11");
        assert_eq!(
            tags(Some(" , ")).unwrap_err().to_string(),
            "--argo names no tag"
        );
    }
}

//! Which cells a run covers: scenarios selected by id globs, times Argo tags.

use crate::scenario::Scenario;

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

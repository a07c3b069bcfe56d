//! Why a scenario behaves differently on two Argo versions: the Go modules on the probe's import
//! path that changed between them, those on the credential path marked — read off the probes'
//! own module graphs (`go list -deps`), not a blog post.

use crate::backend::Backend;
use crate::builds::probes::{BuildError, ProbeBuilder, ProbeKind, credential_path};
use crate::scenario::Scenario;
use crate::shared::{ArgoTag, ObservedOutcome};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, serde::Serialize)]
pub struct ModuleChange {
    pub module: String,
    /// `None`: not on the import path on that version.
    pub from: Option<String>,
    pub to: Option<String>,
    /// On the path through which the probe obtains credentials.
    pub credential_path: bool,
}

pub fn changed_modules(
    builder: &ProbeBuilder,
    scenario: &Scenario,
    from: &ArgoTag,
    to: &ArgoTag,
) -> Result<Vec<ModuleChange>, BuildError> {
    let (a, b) = (
        builder.build(ProbeKind::native(scenario.component), from)?,
        builder.build(ProbeKind::native(scenario.component), to)?,
    );
    let (ma, mb) = (
        by_module(builder.import_path_modules(&a, &[])?),
        by_module(builder.import_path_modules(&b, &[])?),
    );
    let mut on_path: BTreeSet<String> = BTreeSet::new();
    for (build, tag) in [(&a, from), (&b, to)] {
        let path = credential_path(scenario.component, tag);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        // A package the older version does not have yields an error: the other version still marks.
        if let Ok(m) = builder.import_path_modules(build, &path) {
            on_path.extend(by_module(m).into_keys());
        }
    }
    let modules: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    // Unchanged modules on the credential path are kept too: an old module meeting a new one is
    // as much a cause as a change.
    Ok(modules
        .into_iter()
        .filter(|m| ma.get(*m) != mb.get(*m) || on_path.contains(*m))
        .map(|m| ModuleChange {
            module: m.clone(),
            from: ma.get(m).cloned(),
            to: mb.get(m).cloned(),
            credential_path: on_path.contains(m),
        })
        .collect())
}

/// Argo's own module under one name whatever its major version: from 4.0 its path is `…/v4`, and
/// `explain` compares modules, not paths (`github.com/argoproj/argo-workflows v3.7.18 -> v4.0.5`).
fn by_module(modules: BTreeMap<String, String>) -> BTreeMap<String, String> {
    const ARGO: &str = "github.com/argoproj/argo-workflows";
    modules
        .into_iter()
        .map(|(path, version)| match path.strip_prefix(ARGO) {
            Some(major) if major.starts_with("/v") => (ARGO.to_string(), version),
            _ => (path, version),
        })
        .collect()
}

pub fn render(
    scenario: &Scenario,
    from: &ArgoTag,
    to: &ArgoTag,
    changes: &[ModuleChange],
) -> String {
    let mut out = format!(
        "{} ({}): modules on the probe's import path that differ between {from} and {to}\n(* = on the credential path)\n\n",
        scenario.id,
        scenario.component.as_str()
    );
    let width = changes.iter().map(|c| c.module.len()).max().unwrap_or(0);
    let changed = |c: &&ModuleChange| c.from != c.to;
    for c in changes
        .iter()
        .filter(changed)
        .filter(|c| c.credential_path)
        .chain(
            changes
                .iter()
                .filter(changed)
                .filter(|c| !c.credential_path),
        )
    {
        out.push_str(&format!(
            "{} {:<width$}  {} -> {}\n",
            if c.credential_path { "*" } else { " " },
            c.module,
            c.from.as_deref().unwrap_or("(absent)"),
            c.to.as_deref().unwrap_or("(absent)")
        ));
    }
    let same: Vec<String> = changes
        .iter()
        .filter(|c| c.from == c.to)
        .map(|c| format!("{} {}", c.module, c.from.as_deref().unwrap_or("")))
        .collect();
    if !same.is_empty() {
        out.push_str(&format!(
            "\nunchanged on the credential path: {}\n",
            same.join(", ")
        ));
    }
    out
}

/// Candidate tags strictly between `from` and `to` (patch releases of the minors in between, across
/// a major version too), those the module proxy serves; the proxy cannot list versions here, so they
/// are probed one by one.
pub fn tags_between(builder: &ProbeBuilder, from: &ArgoTag, to: &ArgoTag) -> Vec<ArgoTag> {
    candidates(from, to, |t| builder.tag_exists(t))
}

/// The tags strictly between `from` and `to` that `exists` admits. Five misses in a row end a minor
/// that is not `to`'s; a minor without any tag ends a major that is not `to`'s. `to`'s own minor is
/// probed up to `to` whatever the misses (v4.0.0 and v4.0.1 are not served, v4.0.2 is).
fn candidates(from: &ArgoTag, to: &ArgoTag, exists: impl Fn(&ArgoTag) -> bool) -> Vec<ArgoTag> {
    let (f, t) = (&from.version, &to.version);
    let mut out = Vec::new();
    for major in f.major..=t.major {
        let first_minor = if major == f.major { f.minor } else { 0 };
        let last_minor = if major == t.major {
            t.minor
        } else {
            first_minor + 30
        };
        for minor in first_minor..=last_minor {
            let first = if (major, minor) == (f.major, f.minor) {
                f.patch + 1
            } else {
                0
            };
            let last_of_to = (major, minor) == (t.major, t.minor);
            let mut found = false;
            let mut misses = 0;
            for patch in first..first + 40 {
                if last_of_to && patch >= t.patch {
                    break;
                }
                let Ok(tag) = ArgoTag::parse(&format!("v{major}.{minor}.{patch}")) else {
                    continue;
                };
                if exists(&tag) {
                    (found, misses) = (true, 0);
                    out.push(tag);
                } else if !last_of_to {
                    misses += 1;
                    if misses >= 5 {
                        break;
                    }
                }
            }
            // Past the last minor of a major that is not `to`'s.
            if !found && major != t.major && minor > first_minor {
                break;
            }
        }
    }
    out
}

/// What `explain --bisect` saw: the scenario's outcome on every tag from `from` to `to`.
#[derive(Debug)]
pub struct Bisection {
    pub scenario: String,
    /// In version order, `from` first and `to` last; `None` where the cell was not observed.
    pub outcomes: Vec<(ArgoTag, Option<ObservedOutcome>)>,
}

impl Bisection {
    /// The first tag whose outcome differs from `from`'s.
    pub fn first_flip(&self) -> Option<&ArgoTag> {
        let start = self.outcomes.first()?.1;
        self.outcomes
            .iter()
            .skip(1)
            .find(|(_, o)| *o != start)
            .map(|(t, _)| t)
    }

    pub fn render(&self) -> String {
        let mut out = String::from("\n");
        for (tag, outcome) in &self.outcomes {
            let word = outcome.map(|o| format!("{o:?}").to_lowercase());
            out += &format!("  {:<10} {}\n", tag.tag, word.unwrap_or_default());
        }
        let (from, to) = (
            &self.outcomes[0].0,
            &self.outcomes[self.outcomes.len() - 1].0,
        );
        out += &match self.first_flip() {
            Some(t) => format!("first tag where {} flips: {}\n", self.scenario, t.tag),
            None => format!("{} does not flip between {from} and {to}\n", self.scenario),
        };
        out
    }
}

/// Runs `scenario` on `from`, every served tag in between, and `to`, on `backends`.
pub fn bisect(
    backends: &mut [Box<dyn Backend + Send>],
    builder: &ProbeBuilder,
    scenario: &Scenario,
    from: &ArgoTag,
    to: &ArgoTag,
) -> anyhow::Result<Bisection> {
    let mut tags = vec![from.clone()];
    tags.extend(tags_between(builder, from, to));
    tags.push(to.clone());
    let names: Vec<&str> = tags.iter().map(|t| t.tag.as_str()).collect();
    crate::progress::line(&format!("bisect over {}", names.join(", ")));
    let report = crate::matrix::run(backends, std::slice::from_ref(scenario), &tags)?;
    let outcomes = tags
        .into_iter()
        .map(|t| {
            let outcome = report
                .cell(&scenario.id, &t.tag)
                .map(|c| c.observed.outcome);
            (t, outcome)
        })
        .collect();
    Ok(Bisection {
        scenario: scenario.id.clone(),
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bisection(outcomes: &[(&str, ObservedOutcome)]) -> Bisection {
        Bisection {
            scenario: "ecr-irsa-entrypoint".into(),
            outcomes: outcomes
                .iter()
                .map(|(t, o)| (ArgoTag::parse(t).unwrap(), Some(*o)))
                .collect(),
        }
    }

    #[test]
    fn the_first_flip_is_the_first_tag_whose_outcome_differs_from_the_start() {
        use ObservedOutcome::{Fail, Pass};
        let b = bisection(&[
            ("v3.6.0", Fail),
            ("v3.6.1", Fail),
            ("v3.6.4", Fail),
            ("v3.6.5", Pass),
        ]);
        assert_eq!(b.first_flip().map(|t| t.tag.as_str()), Some("v3.6.5"));
        assert!(
            b.render()
                .contains("first tag where ecr-irsa-entrypoint flips: v3.6.5")
        );
        let none = bisection(&[("v3.6.0", Pass), ("v3.6.5", Pass)]);
        assert_eq!(none.first_flip(), None);
        assert!(
            none.render()
                .contains("does not flip between v3.6.0 and v3.6.5")
        );
    }

    #[test]
    fn candidates_cross_a_major_version_and_skip_unserved_tags() {
        let served = ["v3.7.18", "v3.7.19", "v4.0.2", "v4.0.5"];
        let exists = |t: &ArgoTag| served.contains(&t.tag.as_str());
        let (from, to) = (
            ArgoTag::parse("v3.7.17").unwrap(),
            ArgoTag::parse("v4.0.5").unwrap(),
        );
        let found: Vec<String> = candidates(&from, &to, exists)
            .into_iter()
            .map(|t| t.tag)
            .collect();
        assert_eq!(found, ["v3.7.18", "v3.7.19", "v4.0.2"]);
    }

    #[test]
    fn argos_module_is_compared_by_module_not_by_its_major_path() {
        let v3 = BTreeMap::from([
            (
                "github.com/argoproj/argo-workflows/v3".to_string(),
                "v3.7.18".to_string(),
            ),
            (
                "github.com/minio/minio-go/v7".to_string(),
                "v7.0.100".to_string(),
            ),
        ]);
        let by = by_module(v3);
        assert_eq!(by["github.com/argoproj/argo-workflows"], "v3.7.18");
        assert_eq!(by["github.com/minio/minio-go/v7"], "v7.0.100");
    }
}

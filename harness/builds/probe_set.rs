//! The probes a run needs, built (or found cached) once per (tag, component). Building needs only
//! Go: `authmatrix prepare` builds them before Python, `ip` or a sandbox exist.

use super::parallel;
use super::probes::{self, ProbeBuild, ProbeBuilder, ProbeKind};
use super::{BuildEvent, TagInfos};
use crate::scenario::{Component, Scenario};
use crate::shared::ArgoTag;
use crate::shared::TagInfo;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The probe builds of a run, shared by every local backend of a pool (`local::pool`): one builds
/// while the others' sandboxes start, and a cell finds its build as soon as it is done.
pub struct ProbeSet {
    /// `probes/` of the checkout: sources and committed checksums.
    probes_dir: PathBuf,
    /// Where builds are cached across runs.
    cache_dir: PathBuf,
    builds: Mutex<BuildMap>,
}

type BuildMap = HashMap<(String, ProbeKind), Result<ProbeBuild, String>>;

impl ProbeSet {
    pub fn new(project_root: &Path, cache_dir: &Path) -> Self {
        ProbeSet {
            probes_dir: project_root.join("probes"),
            cache_dir: cache_dir.join("probes"),
            builds: Mutex::new(HashMap::new()),
        }
    }

    fn builds(&self) -> std::sync::MutexGuard<'_, BuildMap> {
        self.builds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds every probe of `kinds` for `tags`, side by side; per tag and component what the
    /// native build is (or why there is none). An unknown tag fails the whole call, naming every
    /// unknown tag.
    pub fn build(
        &self,
        tags: &[ArgoTag],
        kinds: &[ProbeKind],
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
        self.build_streaming(tags, kinds, &|_, _| true, &|_, _, _| {})
    }

    /// `build`, telling `finished` of each (tag, kind) as soon as its build is done and can be
    /// found with `get` (with whether its tag is unknown). Builds found in the cache go first,
    /// then tag by tag, the entrypoint probe before the S3 probe and the other CPUs' builds last,
    /// so that the first cells can run soon: alone, on an empty authmatrix cache, the entrypoint
    /// probe of v3.6.5 built in 7 s and the S3 probe in 12 s with Go's build cache warm, 433 s and
    /// 511 s with it empty (2 busy cores, 2026-12-02). A build this set already holds is not asked
    /// again.
    pub fn build_streaming(
        &self,
        tags: &[ArgoTag],
        kinds: &[ProbeKind],
        needed: &dyn Fn(&ArgoTag, ProbeKind) -> bool,
        finished: &(dyn Fn(&ArgoTag, ProbeKind, bool) + Sync),
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
        let builder = ProbeBuilder::new(self.cache_dir.clone(), self.probes_dir.clone())?;
        std::fs::create_dir_all(&builder.cache_dir)?;
        let all: Vec<(&ArgoTag, ProbeKind)> = tags
            .iter()
            .flat_map(|t| {
                kinds
                    .iter()
                    .filter(|k| k.component.has_probe())
                    .map(move |&k| (t, k))
            })
            .filter(|&(t, k)| needed(t, k))
            .collect();
        let held: HashMap<usize, Result<ProbeBuild, String>> = {
            let builds = self.builds();
            all.iter()
                .enumerate()
                .filter_map(|(i, (t, k))| Some((i, builds.get(&(t.tag.clone(), *k))?.clone())))
                .collect()
        };
        for (i, &(tag, kind)) in all.iter().enumerate() {
            if held.contains_key(&i) {
                finished(tag, kind, false);
            }
        }
        let mut jobs: Vec<(&ArgoTag, ProbeKind)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !held.contains_key(i))
            .map(|(_, j)| *j)
            .collect();
        jobs.sort_by_cached_key(|&(tag, kind)| {
            (
                !builder.is_cached(kind, tag),
                kind.arch.is_some(),
                tags.iter().position(|t| t == tag),
                kind.component != Component::ControllerEntrypoint,
                kind,
            )
        });
        let results = parallel::build_all(&builder, &jobs, &|i, result| {
            let (tag, kind) = jobs[i];
            let unknown = matches!(result, Err(probes::BuildError::UnknownTag { .. }));
            if !unknown {
                let result = result.as_ref().map_err(|e| e.to_string()).cloned();
                self.builds().insert((tag.tag.clone(), kind), result);
            }
            finished(tag, kind, unknown);
        });
        let mut results: HashMap<usize, Result<ProbeBuild, probes::BuildError>> = jobs
            .iter()
            .zip(results)
            .map(|(job, r)| (all.iter().position(|j| j == job).expect("a job"), r))
            .collect();
        let mut infos: BTreeMap<String, BTreeMap<Component, TagInfo>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (i, &(tag, kind)) in all.iter().enumerate() {
            let result = match held.get(&i) {
                Some(r) => r.clone(),
                None => match results.remove(&i).expect("built") {
                    Err(e @ probes::BuildError::UnknownTag { .. }) => {
                        unknown.push(e.to_string());
                        continue;
                    }
                    r => r.map_err(|e| e.to_string()),
                },
            };
            let info = match &result {
                Ok(b) => TagInfo {
                    go_version: b.go_version.clone(),
                    checksums: b.checksums.clone(),
                    required: b.required.clone(),
                    linked: b.linked.clone(),
                    error: None,
                },
                Err(e) => TagInfo {
                    error: Some(e.clone()),
                    ..Default::default()
                },
            };
            // The module graph is the same for every CPU: the native build speaks for the tag.
            if kind.arch.is_none() {
                let tag_infos = infos.entry(tag.tag.clone()).or_default();
                tag_infos.insert(kind.component, info);
            }
            self.builds().insert((tag.tag.clone(), kind), result);
        }
        if !unknown.is_empty() {
            anyhow::bail!("{}", unknown.join("\n"));
        }
        Ok(infos)
    }

    /// The build for this cell, or why there is none.
    pub fn get(&self, tag: &ArgoTag, kind: ProbeKind) -> Option<Result<ProbeBuild, String>> {
        self.builds().get(&(tag.tag.clone(), kind)).cloned()
    }

    /// Copies the go.sum of every probe built so far to `probes/<probe>/sums/<tag>.sum`, so that
    /// later builds verify against checksums the project carries.
    pub fn write_sums(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for ((tag, kind), build) in self.builds().iter() {
            let Ok(build) = build else { continue };
            let component = &kind.component;
            let dir = self
                .probes_dir
                .join(probes::probe_name(*component))
                .join("sums");
            std::fs::create_dir_all(&dir)?;
            let dest = dir.join(format!("{tag}.sum"));
            std::fs::copy(build.binary.with_file_name("go.sum"), &dest)?;
            written.push(dest);
        }
        written.sort();
        Ok(written)
    }
}

impl super::Builds for ProbeSet {
    fn build(
        &self,
        scenarios: &[Scenario],
        tags: &[ArgoTag],
        wanted: super::Wanted,
        event: &(dyn Fn(BuildEvent) + Sync),
    ) -> anyhow::Result<TagInfos> {
        // A probe a tag needs only if a wanted cell of the tag runs it.
        let needed = |tag: &ArgoTag, kind: ProbeKind| {
            scenarios
                .iter()
                .any(|s| ProbeKind::of(s) == kind && wanted(s, tag))
        };
        let cells_of = |kind: ProbeKind| -> Vec<usize> {
            (0..scenarios.len())
                .filter(|&i| ProbeKind::of(&scenarios[i]) == kind)
                .collect()
        };
        let announce = |tag: usize, scenarios: Vec<usize>| {
            if !scenarios.is_empty() {
                event(BuildEvent::Ready { tag, scenarios });
            }
        };
        // A node's cells need no probe: the backend says at once why it cannot run them.
        let kinds = kinds_for(scenarios);
        for kind in kinds.iter().filter(|k| !k.component.has_probe()) {
            (0..tags.len()).for_each(|t| announce(t, cells_of(*kind)));
        }
        let announced = Mutex::new(std::collections::HashSet::new());
        let infos = self.build_streaming(tags, &kinds, &needed, &|tag, kind, unknown| {
            if unknown {
                return event(BuildEvent::Doomed);
            }
            let t = tags.iter().position(|x| x == tag).expect("one of the tags");
            announced
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((t, kind));
            announce(t, cells_of(kind));
        })?;
        // Cells whose build never said it ended (its thread panicked) run, and say what is missing.
        let announced = announced.into_inner().unwrap_or_else(|p| p.into_inner());
        for kind in kinds.iter().filter(|k| k.component.has_probe()) {
            for t in (0..tags.len()).filter(|t| !announced.contains(&(*t, *kind))) {
                announce(t, cells_of(*kind));
            }
        }
        Ok(infos)
    }
}

/// `authmatrix prepare`: builds (or finds cached) the probes these scenarios need on these tags,
/// with nothing but Go (a fresh machine runs it before the venv or `ip` exist). Fails naming every
/// probe that did not build; with `write_sums`, returns the go.sum files it copied into the project.
pub fn prepare_probes(
    project_root: &Path,
    cache_dir: &Path,
    scenarios: &[crate::scenario::Scenario],
    tags: &[ArgoTag],
    write_sums: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    crate::cleanup::install();
    let probes = ProbeSet::new(project_root, cache_dir);
    let infos = probes.build(tags, &kinds_for(scenarios))?;
    let failed = failed_versions(&infos);
    if !failed.is_empty() {
        anyhow::bail!("some probes did not build:\n{}", failed.join("\n"));
    }
    if write_sums {
        return probes.write_sums();
    }
    Ok(vec![])
}

/// The probes these scenarios run: each component's native probe, and the foreign-CPU builds of
/// scenarios whose controller runs elsewhere.
pub fn kinds_for(scenarios: &[crate::scenario::Scenario]) -> Vec<ProbeKind> {
    let native = crate::scenario::components_of(scenarios)
        .into_iter()
        .map(ProbeKind::native);
    let mut kinds: Vec<ProbeKind> = native.chain(scenarios.iter().map(ProbeKind::of)).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// `<tag>: <why>` for every version that could not be prepared.
pub fn failed_versions(infos: &BTreeMap<String, BTreeMap<Component, TagInfo>>) -> Vec<String> {
    infos
        .iter()
        .flat_map(|(t, c)| {
            c.values()
                .filter_map(move |i| i.error.as_ref().map(|e| format!("{t}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_that_did_not_build_is_named_with_its_error() {
        let ok = TagInfo::default();
        let bad = TagInfo {
            error: Some("go: module not found".into()),
            ..Default::default()
        };
        let infos = BTreeMap::from([
            (
                "v3.6.5".to_string(),
                BTreeMap::from([(Component::ExecutorS3, ok)]),
            ),
            (
                "v9.9.9".to_string(),
                BTreeMap::from([(Component::ExecutorS3, bad)]),
            ),
        ]);
        assert_eq!(failed_versions(&infos), ["v9.9.9: go: module not found"]);
    }
}

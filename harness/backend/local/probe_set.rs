//! The probes a run needs, built (or found cached) once per (tag, component). Building needs only
//! Go: `authmatrix prepare` builds them before Python, `ip` or a sandbox exist.

use super::parallel_build;
use super::probes::{self, ProbeBuild, ProbeBuilder, ProbeKind};
use crate::scenario::Component;
use crate::shared::ArgoTag;
use crate::shared::TagInfo;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub struct ProbeSet {
    /// `probes/` of the checkout: sources and committed checksums.
    probes_dir: PathBuf,
    /// Where builds are cached across runs.
    cache_dir: PathBuf,
    builds: HashMap<(String, ProbeKind), Result<ProbeBuild, String>>,
}

impl ProbeSet {
    pub fn new(project_root: &Path, cache_dir: &Path) -> Self {
        ProbeSet {
            probes_dir: project_root.join("probes"),
            cache_dir: cache_dir.join("probes"),
            builds: HashMap::new(),
        }
    }

    /// Builds every probe of `kinds` for `tags`, side by side; per tag and component what the
    /// native build is (or why there is none). An unknown tag fails the whole call, naming every
    /// unknown tag.
    pub fn build(
        &mut self,
        tags: &[ArgoTag],
        kinds: &[ProbeKind],
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
        let builder = ProbeBuilder::new(self.cache_dir.clone(), self.probes_dir.clone())?;
        std::fs::create_dir_all(&builder.cache_dir)?;
        let jobs: Vec<(&ArgoTag, ProbeKind)> = tags
            .iter()
            .flat_map(|t| {
                kinds
                    .iter()
                    .filter(|k| k.component.has_probe())
                    .map(move |&k| (t, k))
            })
            .collect();
        let results = parallel_build::build_all(&builder, &jobs);
        let mut infos: BTreeMap<String, BTreeMap<Component, TagInfo>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for ((tag, kind), result) in jobs.into_iter().zip(results) {
            if let Err(e @ probes::BuildError::UnknownTag { .. }) = &result {
                unknown.push(e.to_string());
                continue;
            }
            let result = result.map_err(|e| e.to_string());
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
            self.builds.insert((tag.tag.clone(), kind), result);
        }
        if !unknown.is_empty() {
            anyhow::bail!("{}", unknown.join("\n"));
        }
        Ok(infos)
    }

    /// The build for this cell, or why there is none.
    pub fn get(&self, tag: &ArgoTag, kind: ProbeKind) -> Option<&Result<ProbeBuild, String>> {
        self.builds.get(&(tag.tag.clone(), kind))
    }

    /// Copies the go.sum of every probe built so far to `probes/<probe>/sums/<tag>.sum`, so that
    /// later builds verify against checksums the project carries.
    pub fn write_sums(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for ((tag, kind), build) in &self.builds {
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
    let mut probes = ProbeSet::new(project_root, cache_dir);
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

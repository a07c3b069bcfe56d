//! The probes a run needs, built (or found cached) once per (tag, component). Building needs only
//! Go: `authmatrix prepare` builds them before Python, `ip` or a sandbox exist.

use super::parallel_build;
use super::probes::{self, ProbeBuild, ProbeBuilder};
use crate::backend::TagInfo;
use crate::matrix::tags::ArgoTag;
use crate::scenario::Component;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub struct ProbeSet {
    /// `probes/` of the checkout: sources and committed checksums.
    probes_dir: PathBuf,
    /// Where builds are cached across runs.
    cache_dir: PathBuf,
    builds: HashMap<(String, Component), Result<ProbeBuild, String>>,
}

impl ProbeSet {
    pub fn new(project_root: &Path, cache_dir: &Path) -> Self {
        ProbeSet {
            probes_dir: project_root.join("probes"),
            cache_dir: cache_dir.join("probes"),
            builds: HashMap::new(),
        }
    }

    /// Builds every probe of `components` for `tags`, side by side; per tag and component what
    /// was built (or why not). An unknown tag fails the whole call, naming every unknown tag.
    pub fn build(
        &mut self,
        tags: &[ArgoTag],
        components: &[Component],
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
        let builder = ProbeBuilder::new(self.cache_dir.clone(), self.probes_dir.clone())?;
        std::fs::create_dir_all(&builder.cache_dir)?;
        let jobs: Vec<(&ArgoTag, Component)> = tags
            .iter()
            .flat_map(|t| {
                components
                    .iter()
                    .filter(|c| c.has_probe())
                    .map(move |&c| (t, c))
            })
            .collect();
        let results = parallel_build::build_all(&builder, &jobs);
        let mut infos: BTreeMap<String, BTreeMap<Component, TagInfo>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for ((tag, component), result) in jobs.into_iter().zip(results) {
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
            infos
                .entry(tag.tag.clone())
                .or_default()
                .insert(component, info);
            self.builds.insert((tag.tag.clone(), component), result);
        }
        if !unknown.is_empty() {
            anyhow::bail!("{}", unknown.join("\n"));
        }
        Ok(infos)
    }

    /// The build for this cell, or why there is none.
    pub fn get(&self, tag: &ArgoTag, component: Component) -> Option<&Result<ProbeBuild, String>> {
        self.builds.get(&(tag.tag.clone(), component))
    }

    /// Copies the go.sum of every probe built so far to `probes/<probe>/sums/<tag>.sum`, so that
    /// later builds verify against checksums the project carries.
    pub fn write_sums(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for ((tag, component), build) in &self.builds {
            let Ok(build) = build else { continue };
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

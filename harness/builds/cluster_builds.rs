//! The cluster backend's builds, shared by every backend of a pool as the local backend's probes
//! are: Kubernetes and etcd first (what starting a cluster waits for), then each tag's
//! workflow-controller and argoexec, whose cells run as soon as it is built.

use super::cluster::{ClusterBuilder, ControlPlane, ControllerBuild};
use super::{BuildEvent, Builds, TagInfos};
use crate::scenario::{Component, Scenario};
use crate::shared::{ArgoTag, TagInfo};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

pub struct ClusterBuilds {
    cache_dir: PathBuf,
    project_root: PathBuf,
    /// Kubernetes and etcd, once built (or why not): `None` while they build.
    plane: Mutex<Option<Result<ControlPlane, String>>>,
    plane_built: Condvar,
    controllers: Mutex<HashMap<String, Result<ControllerBuild, String>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ClusterBuilds {
    pub fn new(cache_dir: PathBuf, project_root: PathBuf) -> Self {
        ClusterBuilds {
            cache_dir,
            project_root,
            plane: Mutex::new(None),
            plane_built: Condvar::new(),
            controllers: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until Kubernetes and etcd are built (a cluster cannot start before).
    pub fn control_plane(&self) -> Result<ControlPlane, String> {
        let mut plane = lock(&self.plane);
        loop {
            if let Some(built) = &*plane {
                return built.clone();
            }
            plane = self
                .plane_built
                .wait(plane)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The tag's workflow-controller and argoexec, once its build has ended.
    pub fn controller(&self, tag: &ArgoTag) -> Option<Result<ControllerBuild, String>> {
        lock(&self.controllers).get(&tag.tag).cloned()
    }

    /// Every tag whose controller and argoexec are built so far.
    pub fn built(&self) -> Vec<(String, ControllerBuild)> {
        lock(&self.controllers)
            .iter()
            .filter_map(|(tag, b)| Some((tag.clone(), b.as_ref().ok()?.clone())))
            .collect()
    }

    fn plane_ended(&self, built: Result<ControlPlane, String>) {
        *lock(&self.plane) = Some(built);
        self.plane_built.notify_all();
    }
}

impl Builds for ClusterBuilds {
    /// Every scenario of a tag runs on its controller: the tag's cells are ready when it is built.
    /// A control plane that cannot be built fails the run (no cluster can start).
    fn build(
        &self,
        scenarios: &[Scenario],
        tags: &[ArgoTag],
        wanted: super::Wanted,
        event: &(dyn Fn(BuildEvent) + Sync),
    ) -> anyhow::Result<TagInfos> {
        let builder = ClusterBuilder::new(&self.cache_dir, &self.project_root);
        let plane = builder
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|b| b.control_plane());
        self.plane_ended(plane.clone());
        let (builder, _) = (
            builder.map_err(anyhow::Error::msg)?,
            plane.map_err(anyhow::Error::msg)?,
        );
        let mut infos = TagInfos::new();
        for (t, tag) in tags.iter().enumerate() {
            // Without scenarios (`authmatrix prepare`) every tag's controller is wanted.
            if !scenarios.is_empty() && !scenarios.iter().any(|s| wanted(s, tag)) {
                continue;
            }
            let built = builder.controller(tag);
            infos
                .entry(tag.tag.clone())
                .or_default()
                .insert(Component::ControllerEntrypoint, tag_info(&built));
            lock(&self.controllers).insert(tag.tag.clone(), built);
            event(BuildEvent::Ready {
                tag: t,
                scenarios: (0..scenarios.len()).collect(),
            });
        }
        Ok(infos)
    }
}

/// What report.json says a tag's controller was built from (or why it was not).
fn tag_info(built: &Result<ControllerBuild, String>) -> TagInfo {
    match built {
        Ok(b) => TagInfo {
            go_version: b.go_version.clone(),
            checksums: format!("module go.sum; {}", b.manifests_source),
            ..Default::default()
        },
        Err(e) => TagInfo {
            error: Some(e.clone()),
            ..Default::default()
        },
    }
}

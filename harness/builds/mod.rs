//! The build layer: everything built per Argo tag (and once per run) before cells can run, cached
//! across runs under [`cache_dir`]. The backends ask it for artifacts; it knows nothing of them.
//!
//! - `go.rs` — the `go` command as every builder runs it, and the Go version in cache keys;
//! - `module.rs` — Argo's module at a tag, downloaded once per tag and shared by every build of it;
//! - `cache.rs` — cache entries built under a lock and renamed into place, their keys and families;
//! - `probes.rs`, `probe_set.rs`, `parallel.rs` — the local backend's probes: one build, a run's
//!   set of them (`authmatrix prepare`), several side by side;
//! - `cluster.rs`, `cluster_builds.rs` — the cluster backend's Kubernetes, etcd, workflow-controller
//!   and argoexec, and the set a pool of cluster backends shares;
//! - `images.rs` — the node's OCI images (pause, the test image, argoexec per tag);
//! - `cached_tools.rs` — programs `make` builds from Go modules into the cache (MinIO, dockerd).

pub mod cache;
pub mod cached_tools;
pub mod cluster;
pub mod cluster_builds;
pub mod go;
pub mod images;
pub mod module;
mod parallel;
pub mod probe_set;
pub mod probes;

use crate::scenario::{Component, Scenario};
use crate::shared::{ArgoTag, TagInfo};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where every build is cached across runs (probes, the cluster's binaries, the tools `make`
/// builds, the matrix's cell times): `$AUTHMATRIX_CACHE`, else `$XDG_CACHE_HOME/authmatrix`, else
/// `~/.cache/authmatrix`. One directory for every backend, so that their builds share it.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTHMATRIX_CACHE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("authmatrix")
}

/// Version → component → what was built, as [`Builds::build`] returns it.
pub type TagInfos = BTreeMap<String, BTreeMap<Component, TagInfo>>;

/// What [`Builds::build`] tells the matrix while it builds.
#[derive(Debug, PartialEq, Eq)]
pub enum BuildEvent {
    /// These cells can run from now on: the tag's index in `tags`, the scenarios' in `scenarios`.
    /// Every cell is announced once, whether its build succeeded or not (a cell without its build
    /// observes why).
    Ready { tag: usize, scenarios: Vec<usize> },
    /// The run will fail once the builds end (an unknown tag): start no more cells.
    Doomed,
}

/// Per-tag builds shared by every backend of a pool, announced as each finishes.
pub trait Builds: Send + Sync {
    /// Builds (or finds cached) what the `wanted` cells of `scenarios` × `tags` need, and nothing
    /// else, telling `event` as cells become ready. Returns what each version was built from (for
    /// the report), or an error (e.g. naming every unknown tag), once every build has ended.
    fn build(
        &self,
        scenarios: &[Scenario],
        tags: &[ArgoTag],
        wanted: Wanted,
        event: &(dyn Fn(BuildEvent) + Sync),
    ) -> anyhow::Result<TagInfos>;
}

/// Which cells of a run's scenarios × tags are wanted (a test filter may leave some out: their
/// builds are not made).
pub type Wanted<'a> = &'a (dyn Fn(&Scenario, &ArgoTag) -> bool + Sync);

/// Every cell.
pub fn every_cell(_: &Scenario, _: &ArgoTag) -> bool {
    true
}

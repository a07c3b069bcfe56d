//! How long each cell took last time, so that a run starts the longest cells first: a few cells
//! wait on SDK retries and timeouts for seconds (ecr-public-anonymous-entrypoint, 14 s on 3.5.x),
//! and started last they would leave every other sandbox idle at the end of the run. A cell's time
//! is all of it as its sandbox spent it (setting up, the probe, a second probe asking the ECR
//! credential helper why a lookup failed), not only the probe's own time the report shows.

use crate::shared::CellId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Cell name → milliseconds, per backend, kept in the cache directory.
pub struct Timings {
    path: PathBuf,
    ms: BTreeMap<String, u64>,
    /// This run's times so far.
    now: Mutex<BTreeMap<String, u64>>,
}

impl Timings {
    /// The timings a backend's previous runs left in `cache_dir` (none on a first run).
    pub fn load(cache_dir: &Path, backend: &str) -> Timings {
        let path = cache_dir.join("timings").join(format!("{backend}.json"));
        let ms = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Timings {
            path,
            ms,
            now: Mutex::default(),
        }
    }

    /// A cell of this run took `ms` on its backend.
    pub fn record(&self, cell: &CellId, ms: u64) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        now.insert(cell.to_string(), ms);
    }

    /// The previous time of a cell; a cell never timed counts as long (it may be new and slow).
    pub fn previous(&self, cell: &CellId) -> u64 {
        self.ms.get(&cell.to_string()).copied().unwrap_or(u64::MAX)
    }

    /// Keeps this run's times (merged over the previous ones); a cache that cannot be written only
    /// costs the ordering of the next run.
    pub fn save(mut self) {
        let now = self.now.into_inner().unwrap_or_else(|p| p.into_inner());
        self.ms.extend(now);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(self.path.parent().unwrap_or(Path::new(".")))?;
            let partial = self
                .path
                .with_extension(format!("partial-{}", std::process::id()));
            std::fs::write(&partial, serde_json::to_vec(&self.ms)?)?;
            std::fs::rename(&partial, &self.path)
        };
        let _ = write();
    }
}

impl Timings {
    /// Sandboxes for these cells, chosen for the waiting work rather than the cores: as many as it
    /// takes for the cells' last-run times, shared out, to fit within the longest cell (the floor
    /// no schedule beats), no more — each sandbox costs seconds of CPU to start — and at most
    /// `most`. `None` while some cell has no time yet (a first run: the caller's default).
    pub fn sandboxes(&self, cells: &[CellId], most: usize) -> Option<usize> {
        let times: Vec<u64> = cells
            .iter()
            .map(|c| self.ms.get(&c.to_string()).copied())
            .collect::<Option<_>>()?;
        let longest = times.iter().copied().max()?.max(1);
        let sum: u64 = times.iter().sum();
        Some((sum.div_ceil(longest) as usize).clamp(1, most.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Component;
    use crate::shared::ArgoTag;

    fn cell(scenario: &str) -> CellId {
        CellId {
            scenario: scenario.into(),
            tag: ArgoTag::parse("v3.6.5").unwrap(),
            column: Component::ExecutorS3,
        }
    }

    #[test]
    fn a_cell_never_timed_counts_as_longer_than_any_timed_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Timings::load(dir.path(), "local");
        t.ms.insert(cell("slow").to_string(), 14_000);
        assert_eq!(t.previous(&cell("slow")), 14_000);
        assert!(t.previous(&cell("new")) > t.previous(&cell("slow")));
    }

    #[test]
    fn this_runs_times_are_kept_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let t = Timings::load(dir.path(), "local");
        t.record(&cell("a"), 1_234);
        t.save();
        assert_eq!(
            Timings::load(dir.path(), "local").previous(&cell("a")),
            1_234
        );
    }

    #[test]
    fn sandboxes_enough_for_the_work_to_fit_in_the_longest_cell() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Timings::load(dir.path(), "local");
        for (s, ms) in [("a", 14_000), ("b", 14_000), ("c", 10_000), ("d", 3_000)] {
            t.ms.insert(cell(s).to_string(), ms);
        }
        let cells = |ids: &[&str]| ids.iter().map(|s| cell(s)).collect::<Vec<_>>();
        // 41 s of cells, the longest 14 s: 3 sandboxes.
        assert_eq!(t.sandboxes(&cells(&["a", "b", "c", "d"]), 8), Some(3));
        assert_eq!(t.sandboxes(&cells(&["a", "b", "c", "d"]), 2), Some(2));
        assert_eq!(t.sandboxes(&cells(&["d"]), 8), Some(1));
        assert_eq!(t.sandboxes(&cells(&["a", "new"]), 8), None);
    }
}

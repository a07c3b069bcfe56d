//! How long each cell took last time, so that a run starts the longest cells first: a few cells
//! wait on SDK retries and timeouts for seconds (ecr-public-anonymous-entrypoint, 14 s on 3.5.x),
//! and started last they would leave every other sandbox idle at the end of the run. A cell's time
//! is all of it as its sandbox spent it (setting up, the probe, a second probe asking the ECR
//! credential helper why a lookup failed), not only the probe's own time the report shows.

use crate::report::cell_name;
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
    pub fn record(&self, scenario: &str, tag: &str, ms: u64) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        now.insert(cell_name(scenario, tag), ms);
    }

    /// The previous time of a cell; a cell never timed counts as long (it may be new and slow).
    pub fn previous(&self, scenario: &str, tag: &str) -> u64 {
        self.ms
            .get(&cell_name(scenario, tag))
            .copied()
            .unwrap_or(u64::MAX)
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
    pub fn sandboxes(&self, cells: &[(&str, &str)], most: usize) -> Option<usize> {
        let times: Vec<u64> = cells
            .iter()
            .map(|(s, t)| self.ms.get(&cell_name(s, t)).copied())
            .collect::<Option<_>>()?;
        let longest = times.iter().copied().max()?.max(1);
        let sum: u64 = times.iter().sum();
        Some((sum.div_ceil(longest) as usize).clamp(1, most.max(1)))
    }
}

/// The cells in the order to run them: longest previous time first, the catalogue's order among equals.
pub fn longest_first<'a, S, T>(
    cells: Vec<(&'a S, &'a T)>,
    time: impl Fn(&S, &T) -> u64,
) -> Vec<(&'a S, &'a T)> {
    let mut cells = cells;
    cells.sort_by_key(|(s, t)| std::cmp::Reverse(time(s, t)));
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_cell_of_the_last_run_goes_first_and_unknown_cells_before_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Timings::load(dir.path(), "local");
        t.ms.insert(cell_name("slow", "v3.5.11"), 14_000);
        t.ms.insert(cell_name("fast", "v3.5.11"), 30);
        let (slow, fast, new, tag) = ("slow", "fast", "new", "v3.5.11");
        let order = longest_first(vec![(&fast, &tag), (&slow, &tag), (&new, &tag)], |s, g| {
            t.previous(s, g)
        });
        let names: Vec<&str> = order.iter().map(|(s, _)| **s).collect();
        assert_eq!(names, ["new", "slow", "fast"]);
    }

    #[test]
    fn sandboxes_enough_for_the_work_to_fit_in_the_longest_cell() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Timings::load(dir.path(), "local");
        for (s, ms) in [("a", 14_000), ("b", 14_000), ("c", 10_000), ("d", 3_000)] {
            t.ms.insert(cell_name(s, "v3.6.5"), ms);
        }
        let cells = |ids: &[&'static str]| ids.iter().map(|s| (*s, "v3.6.5")).collect::<Vec<_>>();
        // 41 s of cells, the longest 14 s: 3 sandboxes.
        assert_eq!(t.sandboxes(&cells(&["a", "b", "c", "d"]), 8), Some(3));
        assert_eq!(t.sandboxes(&cells(&["a", "b", "c", "d"]), 2), Some(2));
        assert_eq!(t.sandboxes(&cells(&["d"]), 8), Some(1));
        assert_eq!(t.sandboxes(&cells(&["a", "new"]), 8), None);
    }
}

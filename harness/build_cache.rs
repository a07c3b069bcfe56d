//! Entries of the build caches (probes, Kubernetes, Argo's binaries): a directory
//! `<cache>/<name>` that appears whole or not at all.
//!
//! - A build happens in `<cache>/.<name>.<pid>` and is renamed into place, so a reader never sees
//!   half a build, also when the harness is killed mid-build.
//! - Building holds an exclusive lock on `<cache>/.<name>.lock`: two harness processes (two
//!   terminals, parallel CI jobs sharing a cache) never build one entry at once; the second waits
//!   and then finds the first one's build.
//! - Under that lock every `.<name>.<pid>` directory is a leftover of a killed build (only the lock
//!   holder builds this entry), so it is removed before building.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock on one entry; released when dropped (or when the process dies).
pub struct EntryLock {
    _file: File,
    cache: PathBuf,
    name: String,
}

/// Waits for, then takes, the lock on `<cache>/<name>`.
pub fn lock(cache: &Path, name: &str) -> Result<EntryLock, String> {
    std::fs::create_dir_all(cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
    let path = cache.join(format!(".{name}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("lock {}: {e}", path.display()))?;
    Ok(EntryLock {
        _file: file,
        cache: cache.to_path_buf(),
        name: name.to_string(),
    })
}

impl EntryLock {
    /// The finished entry's directory.
    pub fn dir(&self) -> PathBuf {
        self.cache.join(&self.name)
    }

    /// An empty directory to build into, after removing what killed builds of this entry left.
    pub fn fresh_partial(&self) -> Result<PathBuf, String> {
        for stale in partials(&self.cache, &self.name) {
            let _ = std::fs::remove_dir_all(stale);
        }
        let tmp = self
            .cache
            .join(format!(".{}.{}", self.name, std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
        // Removed on Ctrl-C or SIGTERM; after a SIGKILL by the next build (see the module doc).
        crate::cleanup::register(&tmp);
        Ok(tmp)
    }

    /// Renames a finished build into place.
    pub fn publish(&self, partial: &Path) -> Result<PathBuf, String> {
        let dir = self.dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(partial, &dir).map_err(|e| format!("rename to {}: {e}", dir.display()))?;
        crate::cleanup::forget(partial);
        Ok(dir)
    }
}

/// `.<name>.<digits>` directories in `cache`: this entry's partial builds.
fn partials(cache: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!(".{name}.");
    all_partials(cache)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&prefix))
                .is_some_and(|pid| !pid.contains('.'))
        })
        .collect()
}

/// Removes partial builds whose builder process is gone (a killed run's, of any entry): the lock
/// removes those of the entry it builds, this those of entries nobody builds again.
pub fn remove_dead_partials(cache: &Path) {
    for partial in all_partials(cache) {
        let pid = partial
            .extension()
            .and_then(|p| p.to_str())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(crate::cleanup::process_gone) {
            let _ = std::fs::remove_dir_all(partial);
        }
    }
}

/// Partial builds anywhere in `cache` (for checks that a killed run corrupted nothing).
pub fn all_partials(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('.')
                && name.rsplit_once('.').is_some_and(|(_, pid)| {
                    !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit())
                })
        })
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_under_the_lock_removes_killed_builds_of_its_entry_only() {
        let cache = tempfile::tempdir().unwrap();
        for d in [
            ".s3-v3.6.1-abc.111",
            ".s3-v3.6.1-abc.222",
            ".s3-v3.6.10-abc.333",
        ] {
            std::fs::create_dir(cache.path().join(d)).unwrap();
        }
        let entry = lock(cache.path(), "s3-v3.6.1-abc").unwrap();
        let tmp = entry.fresh_partial().unwrap();
        std::fs::write(tmp.join("probe"), "x").unwrap();
        let dir = entry.publish(&tmp).unwrap();
        assert!(dir.join("probe").is_file());
        let mut left: Vec<String> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".s3-v3.6.1-abc.lock",
                ".s3-v3.6.10-abc.333",
                "s3-v3.6.1-abc"
            ]
        );
        assert_eq!(all_partials(cache.path()).len(), 1);
    }

    #[test]
    fn a_second_builder_waits_for_the_first() {
        let cache = tempfile::tempdir().unwrap();
        let first = lock(cache.path(), "e").unwrap();
        let path = cache.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let second = std::thread::spawn(move || {
            let l = lock(&path, "e").unwrap();
            tx.send(()).unwrap();
            drop(l);
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "the second lock waits while the first is held"
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second lock is taken once the first is released");
        second.join().unwrap();
    }
}

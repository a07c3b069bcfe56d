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
//! - An entry's name is `<family>-<key>`, the key 12 hex digits of a hash of what went into it; a
//!   new build can remove the builds of its family under other keys ([`forget_other_keys`]).
//!
//! [`get_or_build`] does all of this for one entry.

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

/// What [`get_or_build`] does with the builds of the same family under other keys once it built one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherKeys {
    Keep,
    /// Removed: no lookup will find them again (see [`forget_other_keys`]).
    Forget,
}

/// The entry `<cache>/<family>-<key>` as `cached` reads it from that directory, built first if
/// `cached` finds nothing there, also after waiting for the entry's lock (another process may have
/// built it meanwhile). `build` gets a fresh partial directory and the entry's final directory
/// (for paths that the result records); the partial directory is published if `build` succeeds
/// and removed if it fails.
pub fn get_or_build<T, E: From<String>>(
    cache: &Path,
    family: &str,
    key: &str,
    other_keys: OtherKeys,
    cached: impl Fn(&Path) -> Option<T>,
    build: impl FnOnce(&Path, &Path) -> Result<T, E>,
) -> Result<T, E> {
    let name = format!("{family}-{key}");
    let dir = cache.join(&name);
    if let Some(found) = cached(&dir) {
        return Ok(found);
    }
    let entry = lock(cache, &name)?;
    if let Some(found) = cached(&dir) {
        return Ok(found); // Built by another harness process while this one waited.
    }
    let partial = entry.fresh_partial()?;
    match build(&partial, &dir) {
        Ok(built) => {
            entry.publish(&partial)?;
            if other_keys == OtherKeys::Forget {
                forget_other_keys(cache, family, &dir);
            }
            Ok(built)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

/// Removes the builds of `family` under other keys than `keep`'s: each is a binary of 25–130 MB
/// that no lookup will find again. Only `<family>-<12 hex digits>`: the family `s3-v3.6.1` is not
/// `s3-v3.6.10`'s.
pub fn forget_other_keys(cache: &Path, family: &str, keep: &Path) {
    let prefix = format!("{family}-");
    for entry in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        let other_key = file
            .strip_prefix(&prefix)
            .is_some_and(|k| k.len() == 12 && k.chars().all(|c| c.is_ascii_hexdigit()));
        if other_key && path != keep {
            let _ = std::fs::remove_dir_all(path);
        }
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

    fn listing(cache: &Path) -> Vec<String> {
        let mut left: Vec<String> = std::fs::read_dir(cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        left
    }

    /// What is left of `dirs` in a cache after a new build `<family>-<keep>`.
    fn left_after_forgetting(dirs: &[&str], family: &str, keep: &str) -> Vec<String> {
        let cache = tempfile::tempdir().unwrap();
        for d in dirs {
            std::fs::create_dir(cache.path().join(d)).unwrap();
        }
        let keep = cache.path().join(format!("{family}-{keep}"));
        forget_other_keys(cache.path(), family, &keep);
        listing(cache.path())
    }

    #[test]
    fn a_new_build_forgets_older_builds_of_the_same_probe_and_tag_only() {
        let dirs = [
            "s3-v3.6.1-aaaaaaaaaaaa",
            "s3-v3.6.1-bbbbbbbbbbbb",
            "s3-v3.6.10-cccccccccccc",
            "entrypoint-v3.6.1-dddddddddddd",
        ];
        assert_eq!(
            left_after_forgetting(&dirs, "s3-v3.6.1", "bbbbbbbbbbbb"),
            [
                "entrypoint-v3.6.1-dddddddddddd",
                "s3-v3.6.1-bbbbbbbbbbbb",
                "s3-v3.6.10-cccccccccccc"
            ]
        );
    }

    #[test]
    fn a_new_wrapper_build_forgets_only_its_own_other_keys() {
        let dirs = [
            "kubernetes-aaaaaaaaaaaa",
            "kubernetes-bbbbbbbbbbbb",
            "kubernetes-notakey",
            "etcd-cccccccccccc",
            ".kubernetes-aaaaaaaaaaaa.lock",
        ];
        assert_eq!(
            left_after_forgetting(&dirs, "kubernetes", "bbbbbbbbbbbb"),
            [
                ".kubernetes-aaaaaaaaaaaa.lock",
                "etcd-cccccccccccc",
                "kubernetes-bbbbbbbbbbbb",
                "kubernetes-notakey"
            ]
        );
    }

    fn cached(dir: &Path) -> Option<String> {
        std::fs::read_to_string(dir.join("out")).ok()
    }

    #[test]
    fn get_or_build_publishes_a_build_and_then_finds_it() {
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir(cache.path().join("kube-000000000000")).unwrap();
        std::fs::create_dir(cache.path().join(".kube-111111111111.42")).unwrap();
        let built = get_or_build(
            cache.path(),
            "kube",
            "111111111111",
            OtherKeys::Forget,
            cached,
            |partial, dir| {
                assert_eq!(partial.parent(), Some(cache.path()));
                assert_eq!(dir, cache.path().join("kube-111111111111"));
                std::fs::write(partial.join("out"), "built").unwrap();
                Ok::<_, String>(format!("new {}", dir.display()))
            },
        )
        .unwrap();
        assert!(built.starts_with("new "));
        assert_eq!(
            listing(cache.path()),
            [".kube-111111111111.lock", "kube-111111111111"],
            "published; the killed build and the other key are gone"
        );
        let again = get_or_build(
            cache.path(),
            "kube",
            "111111111111",
            OtherKeys::Forget,
            cached,
            |_, _| -> Result<String, String> { panic!("a cached entry is not built again") },
        );
        assert_eq!(again.as_deref(), Ok("built"));
    }

    #[test]
    fn get_or_build_removes_a_failed_build_and_may_keep_other_keys() {
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir(cache.path().join("wc-v3.6.1-000000000000")).unwrap();
        let failed = get_or_build(
            cache.path(),
            "wc-v3.6.1",
            "111111111111",
            OtherKeys::Keep,
            cached,
            |partial, _| {
                std::fs::write(partial.join("half"), "x").unwrap();
                Err::<String, _>("compile error".to_string())
            },
        );
        assert_eq!(failed, Err("compile error".to_string()));
        assert_eq!(
            listing(cache.path()),
            [".wc-v3.6.1-111111111111.lock", "wc-v3.6.1-000000000000"]
        );
        get_or_build(
            cache.path(),
            "wc-v3.6.1",
            "111111111111",
            OtherKeys::Keep,
            cached,
            |partial, _| {
                std::fs::write(partial.join("out"), "ok").map_err(|e| e.to_string())?;
                Ok::<_, String>("ok".to_string())
            },
        )
        .unwrap();
        assert_eq!(
            listing(cache.path()),
            [
                ".wc-v3.6.1-111111111111.lock",
                "wc-v3.6.1-000000000000",
                "wc-v3.6.1-111111111111"
            ],
            "OtherKeys::Keep leaves the other key"
        );
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

//! Argo Workflows' Go module at a tag, as every build of that tag uses it: the probes require it
//! (with its `replace` directives) and read its workflowpod.go; the cluster build copies its
//! directory to build workflow-controller and argoexec, and records its commit.
//!
//! `go mod download` extracts a module once into Go's module cache (GOMODCACHE; no builder sets its
//! own, so the probes and the cluster builds share it). [`argo`] asks Go once per module@version in
//! a process and gives every later build of the tag the same answer, trust on first use included:
//! a tag's probes (native and other CPUs') and its controller used to run a download each, asking
//! the checksum database each time. A download that fails is asked again by the next build, as
//! each build did on its own before.

use super::go::{GoEnv, GoTmp};
use crate::cleanup::KillableOutput;
use crate::shared::ArgoTag;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// GOFLAGS of the download (as the probes' `go` commands have them; no flag changes a download).
const GOFLAGS: &str = "-mod=mod -buildvcs=false";

/// Argo Workflows' Go module at a tag: its path follows the major version (`…/v4` from v4.0.2;
/// v4.0.0 and v4.0.1 still declared `/v3` and cannot be used as modules, PR 15622 / 15626).
pub fn argo_module(tag: &ArgoTag) -> String {
    format!("github.com/argoproj/argo-workflows/v{}", tag.version.major)
}

/// `<Argo's module>@<tag>`.
pub fn argo_at(tag: &ArgoTag) -> String {
    format!("{}@{}", argo_module(tag), tag.tag)
}

/// Whether `go mod download -json` failed only because the checksum database does not know the
/// version.
pub fn sumdb_does_not_know(download: &serde_json::Value) -> bool {
    download["Error"]
        .as_str()
        .is_some_and(|e| e.contains("verifying") && e.contains("sumdb"))
}

/// Runs `download(nosumdb)` (a `go mod download -json` of Argo's module) with the checksum
/// database, and again without it if the database does not know the version: such a version is
/// trusted on first use. Returns what the last download said and whether it was trusted on first
/// use; a download error other than that one is left in the JSON for the caller.
pub fn download_trusting_first_use<E>(
    mut download: impl FnMut(bool) -> Result<serde_json::Value, E>,
) -> Result<(serde_json::Value, bool), E> {
    let first = download(false)?;
    if sumdb_does_not_know(&first) {
        Ok((download(true)?, true))
    } else {
        Ok((first, false))
    }
}

/// Argo's module at one tag, as `go mod download -json` described it.
#[derive(Debug)]
pub struct ArgoModule {
    /// What `go mod download -json` said: `Dir`, `GoMod`, `Origin`, …
    pub download: serde_json::Value,
    /// The checksum database does not know the version: it was trusted on first use, and the
    /// builds that use it leave that database out too (`GoEnv::nosumdb`).
    pub trusted_on_first_use: bool,
}

impl ArgoModule {
    /// The module's extracted (read-only) directory in Go's module cache.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.download["Dir"].as_str().unwrap_or_default())
    }

    /// Its go.mod in Go's module cache.
    pub fn go_mod(&self) -> Option<&str> {
        self.download["GoMod"].as_str()
    }

    /// The tag's commit as the proxy's origin record has it (empty without one).
    pub fn commit(&self) -> &str {
        self.download["Origin"]["Hash"].as_str().unwrap_or("")
    }
}

/// Why Argo's module at a tag is not there; each builder words it its own way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleError {
    /// Go's own answer (`Error` in its JSON), e.g. a tag the module proxy does not know.
    Go(String),
    /// `go` did not run.
    Spawn(String),
    /// `go` printed no JSON: what it said on stderr.
    NoAnswer(String),
}

/// Argo's module at `tag`, downloaded by the first build that asks for it, in `dir` (a directory of
/// that build without a go.mod: Go's temporary files go to its `.gotmp` if it has one, so that a
/// killed build's leftovers go with it), and shared with every later build. Builds of the same tag
/// wait for the first one's download; other tags download side by side.
pub fn argo(go: &Path, tag: &ArgoTag, dir: &Path) -> Result<Arc<ArgoModule>, ModuleError> {
    static DOWNLOADED: Downloads = Downloads::new();
    let at = argo_at(tag);
    DOWNLOADED.get(&at, || download(go, &at, dir))
}

/// `go mod download -json <at>`, trusting the version on first use if the checksum database does
/// not know it.
fn download(go: &Path, at: &str, dir: &Path) -> Result<ArgoModule, ModuleError> {
    let (download, trusted_on_first_use) = download_trusting_first_use(|nosumdb| {
        let out = GoEnv {
            toolchain: "local",
            goflags: GOFLAGS,
            nosumdb,
            tmp: GoTmp::IfPresent,
        }
        .command(go, dir)
        .args(["mod", "download", "-json", at])
        .killable_output()
        .map_err(|e| ModuleError::Spawn(e.to_string()))?;
        serde_json::from_slice(&out.stdout)
            .map_err(|_| ModuleError::NoAnswer(String::from_utf8_lossy(&out.stderr).into_owned()))
    })?;
    if let Some(e) = download["Error"].as_str() {
        return Err(ModuleError::Go(e.to_string()));
    }
    Ok(ArgoModule {
        download,
        trusted_on_first_use,
    })
}

/// One download per module@version: the first caller downloads, callers of the same one wait for
/// it and take its module; a failed download leaves nothing, so the next caller tries again.
struct Downloads(Mutex<BTreeMap<String, Arc<Slot>>>);

/// A module@version's download: `None` until one succeeds; held while one runs.
type Slot = Mutex<Option<Arc<ArgoModule>>>;

impl Downloads {
    const fn new() -> Self {
        Downloads(Mutex::new(BTreeMap::new()))
    }

    fn get(
        &self,
        at: &str,
        download: impl FnOnce() -> Result<ArgoModule, ModuleError>,
    ) -> Result<Arc<ArgoModule>, ModuleError> {
        let slot = Arc::clone(lock(&self.0).entry(at.to_string()).or_default());
        let mut slot = lock(&slot);
        if let Some(module) = &*slot {
            return Ok(Arc::clone(module));
        }
        let module = Arc::new(download()?);
        *slot = Some(Arc::clone(&module));
        Ok(module)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_version_unknown_to_the_checksum_database_is_trusted_on_first_use() {
        let unknown =
            serde_json::json!({"Error": "verifying module: checksum database (sumdb): not found"});
        let ok = serde_json::json!({"GoMod": "/x.mod"});
        let missing = serde_json::json!({"Error": "unknown revision v9.9.9"});

        let mut asked = vec![];
        let got = download_trusting_first_use(|nosumdb| {
            asked.push(nosumdb);
            Ok::<_, ()>(if nosumdb { ok.clone() } else { unknown.clone() })
        });
        assert_eq!(got, Ok((ok.clone(), true)));
        assert_eq!(asked, [false, true]);

        let mut asked = vec![];
        let got = download_trusting_first_use(|nosumdb| {
            asked.push(nosumdb);
            Ok::<_, ()>(missing.clone())
        });
        assert_eq!(
            got,
            Ok((missing.clone(), false)),
            "another error is left to the caller"
        );
        assert_eq!(asked, [false]);

        assert_eq!(
            download_trusting_first_use(|_| Err::<serde_json::Value, _>("spawn")),
            Err("spawn")
        );
        assert!(!sumdb_does_not_know(&serde_json::json!("not an object")));
    }

    fn module(dir: &str) -> Result<ArgoModule, ModuleError> {
        Ok(ArgoModule {
            download: serde_json::json!({"Dir": dir}),
            trusted_on_first_use: false,
        })
    }

    #[test]
    fn a_module_is_downloaded_once_and_a_failed_download_is_asked_again() {
        let downloads = Downloads::new();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let ask = |answer: Result<ArgoModule, ModuleError>| {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            answer
        };
        let failed = downloads.get("m@v1", || ask(Err(ModuleError::Spawn("no go".into()))));
        assert_eq!(failed.unwrap_err(), ModuleError::Spawn("no go".into()));
        let first = downloads.get("m@v1", || ask(module("/a"))).unwrap();
        let again = downloads.get("m@v1", || ask(module("/b"))).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second build reuses the first download"
        );
        assert_eq!(again.dir(), PathBuf::from("/a"));
        let other = downloads.get("m@v2", || ask(module("/c"))).unwrap();
        assert_eq!(other.dir(), PathBuf::from("/c"));
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn builds_of_one_tag_side_by_side_share_one_download() {
        let downloads = Downloads::new();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    downloads
                        .get("m@v1", || {
                            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            module("/a")
                        })
                        .unwrap()
                });
            }
        });
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn the_module_says_where_it_is_and_its_commit() {
        let m = ArgoModule {
            download: serde_json::json!({"Dir": "/mod/argo@v3.6.5", "GoMod": "/x.mod", "Origin": {"Hash": "abc"}}),
            trusted_on_first_use: true,
        };
        assert_eq!(m.dir(), PathBuf::from("/mod/argo@v3.6.5"));
        assert_eq!(m.go_mod(), Some("/x.mod"));
        assert_eq!(m.commit(), "abc");
        let bare = ArgoModule {
            download: serde_json::json!({}),
            trusted_on_first_use: false,
        };
        assert_eq!((bare.commit(), bare.go_mod()), ("", None));
    }
}

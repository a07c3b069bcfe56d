//! Programs `make` builds from Go modules into the cache (`<cache>/tools/<name>-<version>`): found
//! here by the version their wrapper module requires, so that a run never uses a stale one.
//! `crate::tools` finds the programs on PATH; these are built artifacts, so they live with the
//! builds (and `tools` stays below the build layer, which needs it to find Go).

use std::path::{Path, PathBuf};

/// A program `make <target>` built from a Go module into the cache as `tools/<name>-<version>`,
/// the version being the one `tools/<dir>/go.mod` requires of `module`.
pub struct BuiltTool<'a> {
    pub name: &'a str,
    /// The wrapper module's directory under `tools/`.
    pub dir: &'a str,
    pub module: &'a str,
    pub make_target: &'a str,
    /// What it is needed for, for the error when it is missing.
    pub why: &'a str,
}

impl BuiltTool<'_> {
    pub fn find(&self, project_root: &Path, cache_dir: &Path) -> Result<PathBuf, String> {
        let version =
            super::go::required_version(&project_root.join("tools").join(self.dir), self.module)?;
        let binary = cache_dir
            .join("tools")
            .join(format!("{}-{version}", self.name));
        if crate::tools::is_executable(&binary) {
            Ok(binary)
        } else {
            Err(format!(
                "{} {version} is needed {} but {} does not exist; build it with `make {}` (from its Go module)",
                self.name,
                self.why,
                binary.display(),
                self.make_target
            ))
        }
    }
}

/// The MinIO server for `cloud.s3: minio` scenarios.
pub fn minio(project_root: &Path, cache_dir: &Path) -> Result<PathBuf, String> {
    BuiltTool {
        name: "minio",
        dir: "minio",
        module: "github.com/minio/minio",
        make_target: "minio",
        why: "for `cloud.s3: minio` scenarios",
    }
    .find(project_root, cache_dir)
}

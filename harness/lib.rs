//! authmatrix: which Argo Workflows authentication setups break on which Argo version.
//!
//! scenario → matrix → backend (local | cluster, running what `build` built) → fakes → report, over
//! the types every room shares (`shared`).

pub mod backend;
pub mod builds;
pub mod cgroups;
pub mod ci;
pub mod cleanup;
pub mod command;
pub mod decision;
pub mod exit;
pub mod explain;
pub mod fakes;
pub mod matrix;
pub mod progress;
pub mod redact;
pub mod report;
pub mod scan;
pub mod scenario;
pub mod shared;
pub mod tools;

use std::path::PathBuf;

/// The project checkout (scenarios, probes, .venv): `$AUTHMATRIX_ROOT`, else the source tree this
/// binary was built from, else the current directory.
pub fn project_root() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTHMATRIX_ROOT") {
        return PathBuf::from(p);
    }
    let built_from = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if built_from.join("scenarios").is_dir() {
        return built_from;
    }
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

//! Removing what a run created, also on Ctrl-C or SIGTERM.
//!
//! Namespaces need nothing here: they vanish with their processes, and the sandbox exits when its
//! stdin closes (our death closes it). Temporary directories do need removing.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Remembers a directory to delete if the process is interrupted.
pub fn register(dir: &Path) {
    install();
    DIRS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(dir.to_path_buf());
}

/// Installs the Ctrl-C / SIGTERM handler (once).
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let dirs = DIRS.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for d in dirs {
                let _ = std::fs::remove_dir_all(d);
            }
            eprintln!("authmatrix: interrupted; temporary files removed");
            std::process::exit(130);
        });
    });
}

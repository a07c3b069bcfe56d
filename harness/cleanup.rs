//! Removing what a run created, also on Ctrl-C or SIGTERM.
//!
//! Namespaces need nothing here: they vanish with their processes. Each sandbox is PID 1 of its
//! own PID namespace, so killing it kills everything it started (a control plane, a controller).
//! On an interrupt the sandboxes go first — so nothing writes into a directory being removed —
//! then commands that delete outside state (a kind cluster), then temporary directories.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static COMMANDS: Mutex<Vec<Vec<String>>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Remembers a directory to delete if the process is interrupted.
pub fn register(dir: &Path) {
    install();
    lock(&DIRS).push(dir.to_path_buf());
}

/// Remembers a child process (a sandbox) to kill, and wait for, if the process is interrupted.
pub fn register_child(pid: u32) {
    install();
    lock(&CHILDREN).push(pid);
}

/// Forgets a child that was stopped normally (its pid may be reused).
pub fn forget_child(pid: u32) {
    lock(&CHILDREN).retain(|p| *p != pid);
}

/// Remembers a command that undoes outside state (e.g. `kind delete cluster`), run on interrupt.
pub fn register_command(argv: Vec<String>) {
    install();
    lock(&COMMANDS).push(argv);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs the Ctrl-C / SIGTERM handler (once).
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            for pid in lock(&CHILDREN).clone() {
                // SAFETY: our own children; waitpid reaps them so they are gone, not zombies.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                    libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
                }
                // A node's containers live in cgroups named after their sandbox.
                crate::cgroups::remove(&crate::cgroups::name_for(pid));
            }
            for argv in lock(&COMMANDS).clone() {
                if let Some((program, args)) = argv.split_first() {
                    let _ = std::process::Command::new(program).args(args).status();
                }
            }
            for d in lock(&DIRS).clone() {
                let _ = std::fs::remove_dir_all(d);
            }
            eprintln!("authmatrix: interrupted; sandboxes stopped, temporary files removed");
            std::process::exit(130);
        });
    });
}

//! Removing what a run created, also on Ctrl-C or SIGTERM.
//!
//! Namespaces need nothing here: they vanish with their processes. Each sandbox is PID 1 of its
//! own PID namespace, so killing it kills everything it started (a control plane, a controller).
//! On an interrupt the sandboxes go first — so nothing writes into a directory being removed —
//! then commands that delete outside state (a kind cluster), then temporary directories.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, RwLock};
use std::time::{Duration, Instant};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static COMMANDS: Mutex<Vec<Vec<String>>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
/// Set once an interrupt began; held for writing while it is set, so no directory creation is
/// halfway through when the handler starts removing.
static INTERRUPTED: RwLock<bool> = RwLock::new(false);

/// `std::fs::create_dir_all` for paths inside a run's temporary directory. Refused once an
/// interrupt began: other threads keep running cells while the handler removes the run directory,
/// and a plain `create_dir_all` of a cell's directory would bring the removed run directory back.
pub fn create_dir_all(path: &Path) -> std::io::Result<()> {
    let interrupted = INTERRUPTED.read().unwrap_or_else(|p| p.into_inner());
    if *interrupted {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("not creating {}: the run was interrupted", path.display()),
        ));
    }
    std::fs::create_dir_all(path)
}

/// Removes `dir` until it stays gone: a thread may still be writing a file into it (it can no
/// longer create directories, see [`create_dir_all`]), which makes one `remove_dir_all` fail.
fn remove_for_good(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while dir.exists() && Instant::now() < deadline {
        if std::fs::remove_dir_all(dir).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

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
            *INTERRUPTED.write().unwrap_or_else(|p| p.into_inner()) = true;
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
                remove_for_good(&d);
            }
            eprintln!("authmatrix: interrupted; sandboxes stopped, temporary files removed");
            std::process::exit(130);
        });
    });
}

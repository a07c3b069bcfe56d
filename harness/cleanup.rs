//! Removing what a run created, also on Ctrl-C or SIGTERM.
//!
//! Namespaces need nothing here: they vanish with their processes. Each sandbox is PID 1 of its
//! own PID namespace, so killing it kills everything it started (a control plane, a controller).
//! On an interrupt the sandboxes go first — so nothing writes into a directory being removed; a
//! kind cluster and its engine live in one, so they go with it — then temporary directories.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, RwLock};
use std::time::{Duration, Instant};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Process groups of running build commands (`go build` and the compilers it starts).
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
/// Set once an interrupt began; held for writing while it is set, so no directory creation is
/// halfway through when the handler starts removing.
static INTERRUPTED: RwLock<bool> = RwLock::new(false);

/// `std::fs::create_dir_all` for paths inside a run's temporary directory. Refused once an
/// interrupt began: other threads keep running cells while the handler removes the run directory,
/// and a plain `create_dir_all` of a cell's directory would bring the removed run directory back.
pub fn create_dir_all(path: &Path) -> std::io::Result<()> {
    let _not_interrupted = unless_interrupted(&path.display().to_string())?;
    std::fs::create_dir_all(path)
}

/// Parks the calling thread for good if an interrupt began: the handler ends the process with
/// 130. For an error that may be the interrupt's doing (a child it killed), which must not win the
/// race to exit with its own code.
pub fn yield_to_interrupt() {
    while *INTERRUPTED.read().unwrap_or_else(|p| p.into_inner()) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Holds off the interrupt handler while the caller creates `what`, or refuses once it began.
fn unless_interrupted(what: &str) -> std::io::Result<std::sync::RwLockReadGuard<'static, bool>> {
    let interrupted = INTERRUPTED.read().unwrap_or_else(|p| p.into_inner());
    match *interrupted {
        true => Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            format!("not creating {what}: the run was interrupted"),
        )),
        false => Ok(interrupted),
    }
}

/// A run's temporary directory, `<tmp>/authmatrix-run-*`: registered for removal on an interrupt
/// and marked as this process's (for the next run, if this one is SIGKILLed). Refused once an
/// interrupt began, so that no directory is created after the handler removed the registered ones.
pub fn run_temp_dir() -> std::io::Result<tempfile::TempDir> {
    let _not_interrupted = unless_interrupted("a temporary directory")?;
    let dir = tempfile::Builder::new()
        .prefix("authmatrix-run-")
        .tempdir()?;
    register(dir.path());
    mark_owned(dir.path())?;
    Ok(dir)
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

/// Spawns a long-lived child (a sandbox, moto's fork server) that an interrupt kills and waits
/// for. It leaves the terminal's process group: a Ctrl-C reaches the whole group, and a child dying
/// of it at once would fail the run before the handler (on its own thread) ends it with 130.
pub fn spawn_child(cmd: &mut std::process::Command) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    install();
    let child = cmd.process_group(0).spawn()?;
    lock(&CHILDREN).push(child.id());
    Ok(child)
}

/// Forgets a child that was stopped normally (its pid may be reused).
pub fn forget_child(pid: u32) {
    lock(&CHILDREN).retain(|p| *p != pid);
}

/// Forgets a directory that was published or removed normally.
pub fn forget(dir: &Path) {
    lock(&DIRS).retain(|d| d != dir);
}

/// `Command::output` for long build commands: the command runs in a process group of its own,
/// which an interrupt kills whole (the harness may be signalled alone, by SIGTERM, and `go build`
/// would go on compiling into a directory being removed).
pub trait KillableOutput {
    fn killable_output(&mut self) -> std::io::Result<std::process::Output> {
        self.killable_output_fed(None)
    }

    /// With `input` written to its stdin (piped) first, then closed.
    fn killable_output_fed(
        &mut self,
        input: Option<&[u8]>,
    ) -> std::io::Result<std::process::Output>;
}

impl KillableOutput for std::process::Command {
    fn killable_output_fed(
        &mut self,
        input: Option<&[u8]>,
    ) -> std::io::Result<std::process::Output> {
        use std::io::Write;
        use std::process::Stdio;
        if input.is_some() {
            self.stdin(Stdio::piped());
        }
        let mut child = spawn_killable(self.stdout(Stdio::piped()).stderr(Stdio::piped()))?;
        let pid = child.id();
        let fed = match (input, child.stdin.as_mut()) {
            (Some(input), Some(stdin)) => stdin.write_all(input),
            _ => Ok(()),
        };
        // wait_with_output closes stdin first.
        let out = fed.and_then(|()| child.wait_with_output());
        forget_group(pid);
        out
    }
}

/// Spawns `cmd` as the leader of a new process group that an interrupt kills; call
/// [`forget_group`] with its pid once it has been waited for.
pub fn spawn_killable(cmd: &mut std::process::Command) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    install();
    // SAFETY: prctl is async-signal-safe. A SIGKILLed harness runs no handler: the kernel then
    // kills the build (it is spawned and waited for by one thread, which outlives it).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.process_group(0).spawn()?;
    lock(&GROUPS).push(child.id());
    Ok(child)
}

pub fn forget_group(pid: u32) {
    lock(&GROUPS).retain(|g| *g != pid);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs the Ctrl-C / SIGTERM handler (once).
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            *INTERRUPTED.write().unwrap_or_else(|p| p.into_inner()) = true;
            for pgid in lock(&GROUPS).clone() {
                // SAFETY: a process group this process created; reaping its leader.
                unsafe {
                    libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
                    libc::waitpid(pgid as libc::pid_t, std::ptr::null_mut(), 0);
                }
            }
            for pid in lock(&CHILDREN).clone() {
                // SAFETY: our own children; waitpid reaps them so they are gone, not zombies.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                    libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
                }
                // A node's containers live in cgroups named after their sandbox.
                crate::cgroups::remove(&crate::cgroups::name_for(pid));
            }
            for d in lock(&DIRS).clone() {
                remove_for_good(&d);
            }
            eprintln!("authmatrix: interrupted; sandboxes stopped, temporary files removed");
            std::process::exit(130);
        });
    });
}

/// Whether no process has this pid (a killed run's).
pub fn process_gone(pid: u32) -> bool {
    // SAFETY: kill(pid, 0) only asks whether the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    !alive && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// The file in a temporary directory naming the process that made it.
const OWNER: &str = ".authmatrix-owner";

/// Marks `dir` as this process's, so a later run can tell it was left by a killed one.
pub fn mark_owned(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(OWNER), std::process::id().to_string())
}

/// Removes `<parent>/<prefix>*` directories whose owner process is gone: what a SIGKILLed run
/// (no handler runs) left behind, removed by the next run. Unmarked directories are left alone.
pub fn remove_dead_owners(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with(prefix);
        let owner = std::fs::read_to_string(path.join(OWNER))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        if ours && owner.is_some_and(process_gone) && std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

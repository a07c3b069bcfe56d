//! One moto fork server per run (`moto_cloud.py --zygote`), shared by its sandboxes: each
//! sandbox's moto is a fork of an interpreter that has imported moto once, in place of an
//! interpreter of its own importing it again (1.5 CPU-seconds each; 12 sandboxes spent 23 of a
//! warm run's 38 CPU-seconds there, 2026-12-03).
//!
//! The server lives while a sandbox holds it and dies with the harness: its stdin is a pipe only
//! the harness writes to, and it exits when that closes, SIGKILL of the harness included. Its
//! forks live in the sandboxes' namespaces and die with them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, Weak};

pub struct MotoZygote {
    child: Child,
    /// Holds the socket; named like a run directory, so a killed run's is removed by the next.
    dir: tempfile::TempDir,
}

/// The socket's name in the server's directory.
const SOCKET: &str = "socket";

/// The server the running sandboxes share, if one runs.
static SHARED: Mutex<Weak<MotoZygote>> = Mutex::new(Weak::new());

impl MotoZygote {
    /// The run's server, started on `python` if none runs.
    pub fn shared(python: &Path) -> Result<Arc<MotoZygote>, String> {
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = shared.upgrade() {
            return Ok(running);
        }
        let started = Arc::new(MotoZygote::start(python)?);
        *shared = Arc::downgrade(&started);
        Ok(started)
    }

    fn start(python: &Path) -> Result<MotoZygote, String> {
        let dir = crate::cleanup::run_temp_dir()
            .map_err(|e| format!("cannot create a directory for moto's fork server: {e}"))?;
        let script = dir.path().join("moto_cloud.py");
        std::fs::write(&script, crate::fakes::moto::SCRIPT)
            .map_err(|e| format!("write {}: {e}", script.display()))?;
        let socket = dir.path().join(SOCKET);
        let args = ["--zygote".as_ref(), socket.as_os_str()];
        let spawn = crate::cleanup::spawn_child;
        let mut child =
            crate::fakes::moto::spawn_script(python, &script, &args, Stdio::inherit(), spawn)?;
        let stdout = child.stdout.take().expect("piped");
        // Dropped on failure: stopped and removed.
        let zygote = MotoZygote { child, dir };
        wait_until_ready(stdout)?;
        Ok(zygote)
    }

    /// Where sandboxes connect to get their moto.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join(SOCKET)
    }
}

fn wait_until_ready(stdout: std::process::ChildStdout) -> Result<(), String> {
    let mut line = String::new();
    match BufReader::new(stdout).read_line(&mut line) {
        Ok(_) if line.trim() == "ready" => Ok(()),
        _ => Err(format!(
            "moto's fork server exited before it was ready (said {line:?})"
        )),
    }
}

impl Drop for MotoZygote {
    fn drop(&mut self) {
        // Closing stdin stops it; kill covers a hung interpreter.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::cleanup::forget_child(self.child.id());
        crate::cleanup::forget(self.dir.path());
    }
}

//! The tests that need `make engine` (Docker's daemon and runc from their Go modules) besides root:
//! the engine the kind provider runs its nodes on, served by `authmatrix engine` in a sandbox of its
//! own, driven by clients nobody here wrote (the docker CLI, testcontainers-rs). `make test-cluster`
//! runs them (`cargo test -- docker_tier:: --test-threads=1`: testcontainers reads DOCKER_HOST from
//! the environment, which a test sets). A plain `cargo test` skips them while the builds are absent
//! (tiers `engine`, `kind`).

mod engine;
mod kind;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BUSYBOX: &str = "authmatrix/busybox:local";

/// Holds the Docker tier's tests to one at a time, also in a plain `cargo test` that runs the
/// others side by side: testcontainers reads DOCKER_HOST from the process's environment, which a
/// test sets, and the kind tests judge what an interrupted run left by every kubelet on the machine.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// `authmatrix engine` as a child in its own process group, its TMPDIR `tmp`; serving until its
/// stdin closes (on drop).
pub struct ServedEngine {
    pub child: Child,
    pub docker_host: String,
}

impl ServedEngine {
    pub fn start(tmp: &Path) -> ServedEngine {
        let mut child = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
            .arg("engine")
            .env("TMPDIR", tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        // The engine prints DOCKER_HOST once ready; one that never does would hang the tier.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let first = match rx.recv_timeout(std::time::Duration::from_secs(180)) {
            Ok(first) => first,
            Err(_) => {
                // SAFETY: plain kill(2) of the engine's own group.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                panic!("`authmatrix engine` printed no DOCKER_HOST within 180 s");
            }
        };
        let docker_host = first
            .trim()
            .strip_prefix("DOCKER_HOST=")
            .unwrap_or_else(|| panic!("`authmatrix engine` printed DOCKER_HOST first: {first:?}"))
            .to_string();
        ServedEngine { child, docker_host }
    }

    /// The docker CLI against this engine.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &self.docker_host)
            .output()
            .expect("the docker CLI runs");
        assert!(
            out.status.success(),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An image that exists only here (no registry is reachable): the machine's static busybox as
    /// `/bin/busybox` and `/bin/sh`, imported with `docker import`.
    pub fn import_busybox(&self) {
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_path_with_name("/bin/busybox", "bin/busybox")
            .expect("busybox-static is installed (make setup)");
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        tar.append_link(&mut link, "bin/sh", "busybox").unwrap();
        let archive = tar.into_inner().unwrap();
        let mut import = Command::new("docker")
            .args(["import", "-", BUSYBOX])
            .env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut import.stdin.take().unwrap(), &archive).unwrap();
        assert!(import.wait().unwrap().success(), "docker import");
    }
}

impl Drop for ServedEngine {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

//! The sandbox both backends run in: a child process (`authmatrix sandbox-serve`) living in its own
//! network, mount and PID namespaces, holding the fake cloud and running programs on request —
//! probes for the local backend, a control plane and Argo's controller for the cluster backend.
//! This file is the harness's side; `child` is the process itself.

pub mod child;
pub mod cloud;
pub mod moto_zygote;
mod namespaces;
pub mod network;
pub mod protocol;

use crate::shared::Event;
use protocol::{Ready, Reply, Request, RunReply, RunRequest, SandboxConfig, SpawnRequest};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot start the sandbox ({exe}): {source}")]
    Spawn { exe: String, source: std::io::Error },
    #[error("the sandbox failed: {0}")]
    Failed(String),
    #[error("the sandbox went away: {0}")]
    Gone(String),
}

pub struct Sandbox {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    log: std::path::PathBuf,
    pub ready: Ready,
}

impl Sandbox {
    /// Starts the sandbox process `exe sandbox-serve` and waits until its fakes answer.
    pub fn start(exe: &Path, config: &SandboxConfig) -> Result<Sandbox, SandboxError> {
        let log = config.work_dir.join("sandbox.log");
        let log_file = std::fs::File::create(&log)
            .map_err(|e| SandboxError::Failed(format!("create {}: {e}", log.display())))?;
        let mut cmd = Command::new(exe);
        cmd.arg("sandbox-serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file);
        namespaces::isolate(&mut cmd, namespaces::PidNamespace::New);
        // A SIGKILLed harness ends it too: its stdin closes.
        let mut child =
            crate::cleanup::spawn_child(&mut cmd).map_err(|source| SandboxError::Spawn {
                exe: exe.display().to_string(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut sandbox = Sandbox {
            child,
            stdin,
            stdout,
            log,
            ready: Ready::default(),
        };
        sandbox.send(&serde_json::to_string(config).expect("serializable"))?;
        let line = sandbox.receive()?;
        sandbox.ready = serde_json::from_str(&line)
            .map_err(|e| SandboxError::Failed(format!("{e}: {line}")))?;
        Ok(sandbox)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn request(&mut self, req: &Request) -> Result<Reply, SandboxError> {
        self.send(&serde_json::to_string(req).expect("serializable"))?;
        let line = self.receive()?;
        serde_json::from_str(&line).map_err(|e| SandboxError::Failed(format!("{e}: {line}")))
    }

    /// A request answered with `Done`.
    pub fn expect_done(&mut self, req: &Request) -> Result<(), String> {
        match self.request(req).map_err(|e| e.to_string())? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Runs a program to its end (or its timeout) inside the sandbox.
    pub fn run(&mut self, run: RunRequest) -> Result<RunReply, String> {
        match self
            .request(&Request::Run(run))
            .map_err(|e| e.to_string())?
        {
            Reply::Ran(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Runs a program to its end with the system's PATH, failing unless it exits 0; its stdout.
    pub fn run_ok(
        &mut self,
        program: &Path,
        args: Vec<String>,
        cwd: &Path,
        timeout: Duration,
    ) -> Result<String, String> {
        let what = format!("{} {}", program.display(), args.join(" "));
        let ran = self.run(RunRequest {
            program: program.to_path_buf(),
            args,
            env: [("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())].into(),
            cwd: cwd.to_path_buf(),
            timeout_ms: timeout.as_millis() as u64,
        })?;
        if ran.exit_code != Some(0) {
            return Err(format!("{what} failed: {}{}", ran.stdout, ran.stderr));
        }
        Ok(ran.stdout)
    }

    /// Starts a long-lived program inside the sandbox; returns its pid.
    pub fn spawn(&mut self, spawn: SpawnRequest) -> Result<u32, String> {
        match self
            .request(&Request::Spawn(spawn))
            .map_err(|e| e.to_string())?
        {
            Reply::Spawned { pid } => Ok(pid),
            other => Err(unexpected(other)),
        }
    }

    /// Stops a program started with [`Sandbox::spawn`]: whether it was still running, and its exit code.
    pub fn stop(&mut self, name: &str, grace: Duration) -> Result<(bool, Option<i32>), String> {
        let req = Request::Stop {
            name: name.to_string(),
            grace_ms: grace.as_millis() as u64,
        };
        match self.request(&req).map_err(|e| e.to_string())? {
            Reply::Stopped {
                was_running,
                exit_code,
            } => Ok((was_running, exit_code)),
            other => Err(unexpected(other)),
        }
    }

    /// What the fakes answered since the last run or call.
    pub fn events(&mut self) -> Result<Vec<Event>, String> {
        match self.request(&Request::Events).map_err(|e| e.to_string())? {
            Reply::Events { events } => Ok(events),
            other => Err(unexpected(other)),
        }
    }

    fn send(&mut self, line: &str) -> Result<(), SandboxError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| SandboxError::Gone("closed".into()))?;
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .map_err(|e| self.gone(e.to_string()))
    }

    fn receive(&mut self) -> Result<String, SandboxError> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(n) if n > 0 => Ok(line),
            Ok(_) => Err(self.gone("it exited".into())),
            Err(e) => Err(self.gone(e.to_string())),
        }
    }

    /// The sandbox's own words about why it stopped, from its log.
    fn gone(&self, what: String) -> SandboxError {
        SandboxError::Gone(format!(
            "{what}; its log ({}) ends with:\n{}",
            self.log.display(),
            log_tail(&self.log, 15)
        ))
    }
}

fn unexpected(reply: Reply) -> String {
    match reply {
        Reply::Failed { message } => message,
        other => format!(
            "unexpected reply from the sandbox: {}",
            serde_json::to_string(&other).unwrap_or_default()
        ),
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // EOF on stdin makes the sandbox stop its programs and fakes and exit; then the namespaces
        // are gone. Killing it is also safe: it is PID 1 of its namespace, so the kernel kills
        // everything it started.
        drop(self.stdin.take());
        // A node inside stops its kubelet and containerd, and their containers, first.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Killed before it could remove its node's cgroups: they are not in any namespace.
        crate::cgroups::remove(&crate::cgroups::name_for(self.child.id()));
        crate::cleanup::forget_child(self.child.id());
    }
}

/// The last `lines` lines of a log file (empty if it cannot be read), for an error message.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut last: Vec<&str> = text.lines().rev().take(lines).collect();
    last.reverse();
    last.join("\n")
}

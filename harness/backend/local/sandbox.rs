//! The harness side of the sandbox: a child process (`authmatrix sandbox-serve`) living in its own
//! network and mount namespaces, holding the fake cloud and running probes on request.

use super::namespaces;
use super::protocol::{Ready, Reply, Request, SandboxConfig};
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
        namespaces::isolate(&mut cmd);
        let mut child = cmd.spawn().map_err(|source| SandboxError::Spawn {
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
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        SandboxError::Gone(format!(
            "{what}; its log ({}) ends with:\n{}",
            self.log.display(),
            tail.join("\n")
        ))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // EOF on stdin makes the sandbox stop its fakes and exit; then the namespaces are gone.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

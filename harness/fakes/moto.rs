//! Starts moto (the S3/IAM/STS server) through `moto_cloud.py` and reads the keys it created.

use super::issuer::AccessKey;
use crate::shared::Event;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The script is part of the binary, so an installed `authmatrix` needs no source tree.
pub const SCRIPT: &str = include_str!("moto_cloud.py");

/// How events name moto, the S3 server (and IAM, and the STS the credential issuer calls).
pub const FAKE: &str = "s3 (moto)";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedObject {
    pub bucket: String,
    pub key: String,
    pub body: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MotoKeys {
    pub endpoint: String,
    pub admin: AccessKey,
    /// An IAM user allowed s3:*, for static-key scenarios.
    #[serde(rename = "static")]
    pub static_key: AccessKey,
    /// Role name → ARN.
    pub roles: BTreeMap<String, String>,
}

pub struct Moto {
    process: MotoProcess,
    pub keys: MotoKeys,
}

/// How moto runs: a child of its own interpreter, or a fork of the run's fork server
/// (`super::moto_zygote`) in this process's namespaces.
enum MotoProcess {
    Spawned(Child),
    Forked {
        /// Closing it asks moto to stop.
        connection: UnixStream,
        /// Its PID in this process's PID namespace.
        pid: libc::pid_t,
    },
}

/// What a moto serves, where, and where its request log goes.
pub struct MotoSetup<'a> {
    pub host: &'a str,
    pub port: u16,
    pub objects: &'a [SeedObject],
    pub roles: &'a [&'a str],
    pub log: &'a Path,
}

impl MotoSetup<'_> {
    /// The script's one argument.
    fn config(&self) -> serde_json::Value {
        let (host, port, objects, roles) = (self.host, self.port, self.objects, self.roles);
        serde_json::json!({ "host": host, "port": port, "objects": objects, "roles": roles })
    }
}

/// `python script args…` with stdin and stdout piped to the harness (stdin's end stops it),
/// started by `spawn`.
pub fn spawn_script(
    python: &Path,
    script: &Path,
    args: &[&std::ffi::OsStr],
    stderr: Stdio,
    spawn: impl FnOnce(&mut Command) -> std::io::Result<Child>,
) -> Result<Child, String> {
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr);
    spawn(&mut cmd).map_err(|e| {
        format!(
            "cannot start {} (run `make setup` to create the Python venv with moto): {e}",
            python.display()
        )
    })
}

impl Moto {
    /// Starts moto as `setup` says, on `python`, its script in `work_dir`. Blocks until the keys
    /// exist.
    pub fn start(python: &Path, work_dir: &Path, setup: &MotoSetup) -> Result<Moto, String> {
        let script = work_dir.join("moto_cloud.py");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("write {}: {e}", script.display()))?;
        let log = setup.log;
        let log_file =
            std::fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let cfg = setup.config().to_string();
        let mut child = spawn_script(
            python,
            &script,
            &[cfg.as_ref()],
            log_file.into(),
            Command::spawn,
        )?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        let read = BufReader::new(stdout).read_line(&mut line);
        let keys = match read {
            Ok(n) if n > 0 => serde_json::from_str::<MotoKeys>(&line)
                .map_err(|e| format!("moto bootstrap said {line:?}: {e}")),
            _ => Err(format!(
                "moto exited before it was ready; see {}",
                log.display()
            )),
        };
        match keys {
            Ok(keys) => Ok(Moto {
                process: MotoProcess::Spawned(child),
                keys,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// As [`Moto::start`], forked by the fork server listening on `zygote` into this process's
    /// namespaces.
    pub fn fork_from(zygote: &Path, setup: &MotoSetup) -> Result<Moto, String> {
        let connect_failed = |e| format!("moto's fork server at {}: {e}", zygote.display());
        let mut connection = UnixStream::connect(zygote).map_err(connect_failed)?;
        let (mut cfg, log) = (setup.config(), setup.log);
        cfg["log"] = serde_json::json!(log);
        writeln!(connection, "{cfg}").map_err(connect_failed)?;
        let mut line = String::new();
        let reader = connection.try_clone().map_err(connect_failed)?;
        BufReader::new(reader)
            .read_line(&mut line)
            .map_err(connect_failed)?;
        let answer: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| format!("moto's fork server said {line:?}: {e}"))?;
        if let Some(error) = answer.get("error").and_then(|e| e.as_str()) {
            return Err(format!("{error}; see {}", log.display()));
        }
        let pid = answer["pid"].as_i64().unwrap_or_default() as libc::pid_t;
        let keys = serde_json::from_value::<MotoKeys>(answer)
            .map_err(|e| format!("moto bootstrap said {line:?}: {e}"))?;
        Ok(Moto {
            process: MotoProcess::Forked { connection, pid },
            keys,
        })
    }

    /// Kills moto (an injected fault).
    pub fn kill(&mut self) {
        match &mut self.process {
            MotoProcess::Spawned(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            MotoProcess::Forked { connection, pid } => {
                // SAFETY: kill(2) on moto's PID in this namespace; the fork server reaps it only
                // after its connection closed, so the PID is not reused while this one is open.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
                // Its end of the connection closes as it dies.
                let _ = connection.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let _ = std::io::Read::read(connection, &mut [0; 64]);
            }
        }
    }

    /// How moto ended, if it did: every fake behind it (S3, IAM, the credential issuer) is gone.
    pub fn exited(&mut self) -> Option<String> {
        match &mut self.process {
            MotoProcess::Spawned(child) => match child.try_wait() {
                Ok(Some(status)) => Some(format!("moto exited ({status})")),
                _ => None,
            },
            // It never writes after its keys: its end closed, it is gone.
            MotoProcess::Forked { connection, .. } => {
                use std::os::fd::AsRawFd;
                let mut byte = 0u8;
                let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
                // SAFETY: recv(2) of at most one byte into a byte we own, on a socket we hold.
                let n =
                    unsafe { libc::recv(connection.as_raw_fd(), (&raw mut byte).cast(), 1, flags) };
                (n == 0).then(|| "moto exited (its connection closed)".to_string())
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        match &mut self.process {
            MotoProcess::Spawned(child) => {
                // Closing stdin asks the script to stop; kill covers a hung interpreter.
                drop(child.stdin.take());
                let _ = child.kill();
                let _ = child.wait();
            }
            MotoProcess::Forked { connection, .. } => {
                let _ = connection.shutdown(std::net::Shutdown::Both);
                self.kill();
            }
        }
    }
}

/// New request lines of moto's log (werkzeug's `"GET /bucket/key HTTP/1.1" 403 -`), as events, so a
/// cell's evidence shows what the S3 server answered too.
pub struct MotoLog {
    path: PathBuf,
    offset: u64,
}

impl MotoLog {
    pub fn new(path: &Path) -> MotoLog {
        MotoLog {
            path: path.to_path_buf(),
            offset: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The request lines written since the last call.
    pub fn read_new(&mut self) -> Vec<Event> {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return vec![];
        };
        let mut text = String::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_string(&mut text).is_err() {
            return vec![];
        }
        self.offset += text.len() as u64;
        text.lines().filter_map(parse_werkzeug_line).collect()
    }
}

fn parse_werkzeug_line(line: &str) -> Option<Event> {
    let plain: String = strip_ansi(line);
    let start = plain.find('"')?;
    let end = start + 1 + plain[start + 1..].find('"')?;
    let request = plain[start + 1..end]
        .trim_end_matches(" HTTP/1.1")
        .to_string();
    let status = plain[end + 1..].split_whitespace().next()?.parse().ok()?;
    Some(Event {
        fake: FAKE.into(),
        request,
        status,
        detail: String::new(),
        infra: false,
    })
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn werkzeug_lines_become_events_with_or_without_colour() {
        let e = super::parse_werkzeug_line("127.0.0.1 - - [23/Nov/2026 09:03:54] \"\u{1b}[31m\u{1b}[1mGET /b/k HTTP/1.1\u{1b}[0m\" 403 -").unwrap();
        assert_eq!((e.request.as_str(), e.status), ("GET /b/k", 403));
        assert!(super::parse_werkzeug_line("Traceback (most recent call last):").is_none());
    }
}

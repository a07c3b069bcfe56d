//! Starts moto (the S3/IAM/STS server) through `moto_cloud.py` and reads the keys it created.

use super::issuer::AccessKey;
use crate::shared::Event;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
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
    child: Child,
    pub keys: MotoKeys,
}

impl Moto {
    /// Starts moto on `host:port`; `log` receives its request log. Blocks until the keys exist.
    pub fn start(
        python: &Path,
        work_dir: &Path,
        host: &str,
        port: u16,
        objects: &[SeedObject],
        roles: &[&str],
        log: &Path,
    ) -> Result<Moto, String> {
        let script = work_dir.join("moto_cloud.py");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("write {}: {e}", script.display()))?;
        let cfg =
            serde_json::json!({ "host": host, "port": port, "objects": objects, "roles": roles });
        let log_file =
            std::fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let mut child = Command::new(python)
            .arg(&script)
            .arg(cfg.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {} (run `make setup` to create the Python venv with moto): {e}",
                    python.display()
                )
            })?;
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
            Ok(keys) => Ok(Moto { child, keys }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

impl Moto {
    /// Kills moto (an injected fault).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How moto ended, if it did: every fake behind it (S3, IAM, the credential issuer) is gone.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("moto exited ({status})")),
            _ => None,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin asks the script to stop; kill covers a hung interpreter.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
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

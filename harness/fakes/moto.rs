//! Starts moto (the S3/IAM/STS server) through `moto_cloud.py` and reads the keys it created.

use super::issuer::AccessKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The script is part of the binary, so an installed `authmatrix` needs no source tree.
pub const SCRIPT: &str = include_str!("moto_cloud.py");

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

//! Messages between the harness and its sandbox process: one JSON object per line on the
//! sandbox's stdin and stdout.

use crate::fakes::ca::PemPair;
use crate::fakes::events::Event;
use crate::fakes::issuer::AccessKey;
use crate::fakes::moto::SeedObject;
use crate::fakes::oidc::OidcKeys;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// First line the harness writes: everything the fake cloud needs.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxConfig {
    pub python: PathBuf,
    pub work_dir: PathBuf,
    pub oidc: OidcKeys,
    pub sts_cert: PemPair,
    pub objects: Vec<SeedObject>,
}

/// First line the sandbox writes once every fake answers.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    pub static_key: AccessKey,
    pub moto_log: PathBuf,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Start or stop the Pod Identity agent (stopped: nothing listens on its port).
    Agent { running: bool },
    /// Run a program inside the sandbox with exactly this environment.
    Run(RunRequest),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub timeout_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    Done,
    Ran(RunReply),
    Failed { message: String },
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RunReply {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed_ms: u64,
    /// What the fakes saw while the program ran.
    pub events: Vec<Event>,
}

//! Messages between the harness and its sandbox process: one JSON object per line on the
//! sandbox's stdin and stdout.

use crate::fakes::ca::PemPair;
use crate::fakes::issuer::AccessKey;
use crate::fakes::minio::MinioLaunch;
use crate::fakes::moto::SeedObject;
use crate::fakes::oidc::OidcKeys;
use crate::shared::Event;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// First line the harness writes: everything the fake cloud needs.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxConfig {
    pub python: PathBuf,
    /// The run's moto fork server (`moto_zygote`), if moto is to be forked from it.
    #[serde(default)]
    pub moto_zygote: Option<PathBuf>,
    pub work_dir: PathBuf,
    pub oidc: OidcKeys,
    /// One certificate for every HTTPS fake (network::tls_names).
    pub tls_cert: PemPair,
    /// Objects seeded into moto.
    pub objects: Vec<SeedObject>,
    /// MinIO, when some scenario keeps its bucket there (`cloud.s3: minio`), with its objects.
    pub minio: Option<MinioLaunch>,
    /// Images to store in the registries.
    pub images: Vec<crate::fakes::cloud::SeededImage>,
    /// The private registry's user and password (htpasswd personality).
    pub registry_user: String,
    pub registry_password: String,
}

/// First line the sandbox writes once every fake answers.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    pub static_key: AccessKey,
    /// ECR registry passwords: one valid for 12 hours, one already expired.
    pub ecr_token: String,
    pub ecr_expired_token: String,
    pub moto_log: PathBuf,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Start or stop the Pod Identity agent (stopped: nothing listens on its port).
    Agent { running: bool },
    /// Set what the fake cloud's ECR services do from now on.
    #[serde(rename_all = "camelCase")]
    Configure {
        ecr_token_lifetime_secs: i64,
        ecr_public_stale_status: u16,
    },
    /// Run a program inside the sandbox with exactly this environment.
    Run(RunRequest),
    /// Start a long-lived program (a control-plane component, Argo's controller) in the background.
    Spawn(SpawnRequest),
    /// Stop a program started with `Spawn`: SIGTERM to its process group, SIGKILL after `grace_ms`.
    #[serde(rename_all = "camelCase")]
    Stop { name: String, grace_ms: u64 },
    /// The requests the fakes answered since the last `Run` or `Events`.
    Events,
    /// Makes the sandbox a node's host (the cluster backend's containerd and kubelet write to fixed
    /// paths): a proc of the sandbox's own PID namespace, fresh tmpfs over `tmpfs`, shared mount
    /// propagation inside, and `addresses` on loopback. `cgroup` names the cgroup tree the node's
    /// containers live in; the sandbox removes it as it ends.
    NodeHost {
        tmpfs: Vec<PathBuf>,
        addresses: Vec<String>,
        cgroup: String,
    },
    /// A failure of the fake cloud to inject from now on (none: back to normal; a killed moto
    /// stays dead). For the fault script and the suite.
    Fault {
        fault: Option<crate::fakes::faults::Fault>,
    },
    /// What the EKS webhook injects into pods from now on (none: pods pass unchanged).
    Inject {
        injection: Option<crate::fakes::eks_webhook::Injection>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpawnRequest {
    /// Unique among running programs; `Stop` names it.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
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
    Spawned {
        pid: u32,
    },
    /// `exit_code` is `None` when it was still running (and was stopped) or died of a signal.
    #[serde(rename_all = "camelCase")]
    Stopped {
        was_running: bool,
        exit_code: Option<i32>,
    },
    Events {
        events: Vec<Event>,
    },
    Failed {
        message: String,
    },
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

//! A sandbox with its fake cloud, as each backend holds one: the run's private directory, the
//! harness CA, the cluster's service-account signing key, the credentials the cloud issued, and the
//! settings a scenario may change between cells (the Pod Identity agent, ECR's behaviour).

use super::moto_zygote::MotoZygote;
use super::protocol::{Request, SandboxConfig};
use super::{Sandbox, network};
use crate::backend::objects::{self, CloudValues};
use crate::fakes::ca::{Ca, PemPair};
use crate::fakes::cloud::SeededImage;
use crate::fakes::eks_webhook::Injection;
use crate::fakes::minio::MinioLaunch;
use crate::fakes::oidc::OidcKeys;
use crate::redact::Redactor;
use crate::scenario::{AgentState, S3Server, Scenario};
use crate::shared::Event;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The private registry's user (its password is made per run).
pub const REGISTRY_USER: &str = "argo-puller";

pub struct SandboxedCloud {
    pub ca: Ca,
    pub ca_file: PathBuf,
    /// The cluster's service-account token signing key, trusted by the fake STS and EKS Auth.
    pub oidc: OidcKeys,
    /// Every secret of the run; evidence passes through it.
    pub redactor: Redactor,
    tls_cert: PemPair,
    registry_password: String,
    /// The MinIO server (`make minio`), or why there is none.
    minio_binary: Result<PathBuf, String>,
    /// MinIO's root user and password, made per run.
    minio_root: (String, String),
    sandbox: Result<Sandbox, String>,
    /// The moto fork server the sandbox's moto came from, kept while the sandbox runs.
    moto_zygote: Option<Arc<MotoZygote>>,
    agent_running: bool,
    /// (ECR token lifetime, ECR Public stale-credential status) the sandbox currently applies.
    ecr_settings: (i64, u16),
    /// Last: fields drop in order, and the sandbox (MinIO writes under `run_dir/sandbox`) must be
    /// stopped before its directory is removed, or MinIO brings part of it back.
    run_dir: tempfile::TempDir,
}

impl SandboxedCloud {
    /// Checks the tools a sandbox needs, creates the run's private directory and keys; nothing
    /// runs yet. MinIO is looked for in `cache_dir`; without it only its scenarios cannot run.
    pub fn new(project_root: &Path, cache_dir: &Path) -> anyhow::Result<Self> {
        crate::tools::go()?;
        crate::tools::ip()?;
        crate::tools::python(project_root)?;
        // What SIGKILLed runs left (no handler ran in them) goes first.
        crate::cleanup::remove_dead_owners(&std::env::temp_dir(), "authmatrix-run-");
        let run_dir = crate::cleanup::run_temp_dir()?;
        let ca = Ca::new()?;
        let ca_file = run_dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem())?;
        let oidc = OidcKeys::generate()?;
        let mut redactor = Redactor::default();
        redactor.add(&oidc.private_pem);
        let tls_cert = ca.issue(&network::tls_names())?;
        redactor.add(&tls_cert.key_pem);
        let registry_password = format!("pw-{}", crate::fakes::events::request_id());
        redactor.add(&registry_password);
        let minio_root = (
            format!("minio-{}", crate::fakes::events::request_id()),
            format!("pw-{}", crate::fakes::events::request_id()),
        );
        redactor.add(&minio_root.0);
        redactor.add(&minio_root.1);
        Ok(SandboxedCloud {
            run_dir,
            ca,
            ca_file,
            oidc,
            redactor,
            tls_cert,
            registry_password,
            minio_binary: crate::builds::cached_tools::minio(project_root, cache_dir),
            minio_root,
            sandbox: Err("the sandbox has not been started".into()),
            moto_zygote: None,
            agent_running: true,
            ecr_settings: (12 * 3600, 400),
        })
    }

    pub fn run_dir(&self) -> &Path {
        self.run_dir.path()
    }

    /// Starts the sandbox with what these scenarios need: S3 objects, registry images.
    pub fn start(&mut self, exe: &Path, python: PathBuf, scenarios: &[Scenario]) {
        self.sandbox = self.start_sandbox(exe, python, scenarios);
    }

    fn start_sandbox(
        &mut self,
        exe: &Path,
        python: PathBuf,
        scenarios: &[Scenario],
    ) -> Result<Sandbox, String> {
        let objects = seed_objects(scenarios, S3Server::Moto);
        let minio_objects = seed_objects(scenarios, S3Server::Minio);
        // Started only for the scenarios that keep their bucket there, and only when built (the
        // others are not applicable, see `not_applicable`).
        let minio = match &self.minio_binary {
            Ok(binary) if !minio_objects.is_empty() => Some(MinioLaunch {
                binary: binary.clone(),
                root_user: self.minio_root.0.clone(),
                root_password: self.minio_root.1.clone(),
                objects: minio_objects,
            }),
            _ => None,
        };
        let images = seeded_images(scenarios)?;
        let work_dir = self.run_dir.path().join("sandbox");
        crate::cleanup::create_dir_all(&work_dir).map_err(|e| e.to_string())?;
        let zygote = MotoZygote::shared(&python)?;
        let config = SandboxConfig {
            moto_zygote: Some(zygote.socket()),
            python,
            work_dir,
            oidc: self.oidc.clone(),
            tls_cert: self.tls_cert.clone(),
            objects,
            minio,
            images,
            registry_user: REGISTRY_USER.to_string(),
            registry_password: self.registry_password.clone(),
        };
        let mut sandbox = Sandbox::start(exe, &config).map_err(|e| e.to_string())?;
        self.moto_zygote = Some(zygote);
        if let Some(fault) = std::env::var("AUTHMATRIX_FAULT")
            .ok()
            .filter(|f| !f.is_empty())
        {
            // For the fault script and the suite: the fake cloud fails from the first cell on.
            let fault = crate::fakes::faults::Fault::parse(&fault)
                .map_err(|e| format!("AUTHMATRIX_FAULT: {e}"))?;
            sandbox.expect_done(&Request::Fault { fault: Some(fault) })?;
        }
        self.redactor
            .add(&sandbox.ready.static_key.secret_access_key);
        self.redactor.add(&sandbox.ready.ecr_token);
        self.redactor.add(&sandbox.ready.ecr_expired_token);
        Ok(sandbox)
    }

    /// Why this cloud cannot hold the scenario's bucket: a `cloud.s3: minio` scenario without the
    /// MinIO binary.
    pub fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        match (&self.minio_binary, scenario.cloud.s3) {
            (Err(why), S3Server::Minio) => Some(why.clone()),
            _ => None,
        }
    }

    /// The running sandbox, or why there is none.
    pub fn sandbox(&mut self) -> Result<&mut Sandbox, String> {
        self.sandbox.as_mut().map_err(|e| e.clone())
    }

    pub fn sandbox_started(&self) -> Result<(), String> {
        self.sandbox.as_ref().map(|_| ()).map_err(|e| e.clone())
    }

    /// The sandbox process, once started (for checks that it leaves nothing behind).
    pub fn sandbox_pid(&self) -> Option<u32> {
        self.sandbox.as_ref().ok().map(Sandbox::pid)
    }

    /// The sandbox's network namespace (`/proc/<pid>/ns/net`), for talking from inside it.
    pub fn netns(&self) -> Option<PathBuf> {
        self.sandbox_pid()
            .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net")))
    }

    /// Puts the cloud into the state the scenario describes (agent up or down, ECR's settings),
    /// changing only what differs from the previous cell.
    pub fn apply(&mut self, scenario: &Scenario) -> Result<(), String> {
        let running = scenario.cloud.pod_identity_agent == AgentState::Running;
        if self.agent_running != running {
            self.sandbox()?.expect_done(&Request::Agent { running })?;
            self.agent_running = running;
        }
        let ecr = (
            scenario.cloud.ecr_token_lifetime_seconds,
            scenario.cloud.ecr_public_stale_status,
        );
        if self.ecr_settings != ecr {
            self.sandbox()?.expect_done(&Request::Configure {
                ecr_token_lifetime_secs: ecr.0,
                ecr_public_stale_status: ecr.1,
            })?;
            self.ecr_settings = ecr;
        }
        Ok(())
    }

    /// Makes the sandbox a node's host ([`Request::NodeHost`]); returns the name of the cgroup
    /// tree the node's containers must live in.
    pub fn node_host(&mut self, tmpfs: &[PathBuf], addresses: &[&str]) -> Result<String, String> {
        let pid = self
            .sandbox_pid()
            .ok_or("the sandbox has not been started")?;
        let cgroup = crate::cgroups::name_for(pid);
        self.sandbox()?.expect_done(&Request::NodeHost {
            tmpfs: tmpfs.to_vec(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            cgroup: cgroup.clone(),
        })?;
        Ok(cgroup)
    }

    /// What the EKS webhook adds to the pods created from now on.
    pub fn inject(&mut self, injection: Option<Injection>) -> Result<(), String> {
        self.sandbox()?.expect_done(&Request::Inject { injection })
    }

    /// An environment as evidence: every value the run knows as secret masked.
    pub fn redact_env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        env.iter()
            .map(|(k, v)| (k.clone(), self.redactor.redact(v)))
            .collect()
    }

    /// The fake cloud's requests as evidence, their details redacted.
    pub fn redact_events(&self, events: Vec<Event>) -> Vec<Event> {
        events
            .into_iter()
            .map(|mut e| {
                e.detail = self.redactor.redact(&e.detail);
                e
            })
            .collect()
    }

    /// Credentials and names the fake cloud issued, for `${cloud.*}` placeholders.
    pub fn cloud_values(&self) -> Result<CloudValues, String> {
        let ready = &self.sandbox.as_ref().map_err(|e| e.clone())?.ready;
        Ok(CloudValues {
            static_key: ready.static_key.clone(),
            ecr_token: ready.ecr_token.clone(),
            ecr_expired_token: ready.ecr_expired_token.clone(),
            registry_user: REGISTRY_USER.to_string(),
            registry_password: self.registry_password.clone(),
            minio_root_user: self.minio_root.0.clone(),
            minio_root_password: self.minio_root.1.clone(),
        })
    }
}

/// The objects the scenarios read from this S3 server, each once.
fn seed_objects(scenarios: &[Scenario], server: S3Server) -> Vec<crate::fakes::moto::SeedObject> {
    let mut objects: Vec<_> = scenarios
        .iter()
        .filter(|s| s.cloud.s3 == server)
        .filter_map(objects::seed_object)
        .collect();
    objects.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
    objects.dedup_by(|a, b| a.bucket == b.bucket && a.key == b.key);
    objects
}

/// The scenarios' images, once each. Every sandbox serves every scenario, so one reference must
/// mean one image: two scenarios holding it in different forms are refused, naming both.
fn seeded_images(scenarios: &[Scenario]) -> Result<Vec<SeededImage>, String> {
    let mut images: BTreeMap<&str, (&Scenario, &Vec<String>)> = BTreeMap::new();
    for scenario in scenarios {
        let Some(ep) = &scenario.entrypoint else {
            continue;
        };
        let form = (scenario, &ep.workflow.image_index);
        if let Some((other, index)) = images.insert(&ep.workflow.image, form)
            && *index != ep.workflow.image_index
        {
            return Err(format!(
                "scenarios {} and {} hold image {} in different forms (workflow.imageIndex); give one of them another image",
                other.id, scenario.id, ep.workflow.image
            ));
        }
    }
    Ok(images
        .into_iter()
        .map(|(reference, (_, index))| SeededImage {
            reference: reference.to_string(),
            index: index.clone(),
        })
        .collect())
}

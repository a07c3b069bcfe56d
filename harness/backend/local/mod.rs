//! The local backend: Argo's own code at the exact version, in a private network + mount namespace
//! holding the fake cloud. Needs Go, Python with moto, `ip`, and root or user namespaces.

mod probe_cell;

use crate::builds::probe_set::ProbeSet;
use crate::builds::probes::{ProbeBuild, ProbeKind};

use super::{Backend, Builds};
use crate::backend::sandbox::cloud::SandboxedCloud;
use crate::backend::sandbox::protocol::{self, RunRequest};
use crate::backend::{cell, identity};
use crate::fakes::world;
use crate::scenario::Scenario;
use crate::shared::ArgoTag;
use crate::shared::{ArgoLog, Evidence, Observation};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct LocalOptions {
    /// The `authmatrix` binary, which serves the sandbox (`authmatrix sandbox-serve`).
    pub sandbox_exe: PathBuf,
    /// The project checkout: `probes/` (committed checksums) and `.venv`.
    pub project_root: PathBuf,
    /// Where builds are cached across runs: `builds::cache_dir()`, or a check's own.
    pub cache_dir: PathBuf,
    pub probe_timeout: Duration,
}

/// `jobs` local backends, one sandbox each, ready for `matrix::run` (cells mostly wait, so several
/// sandboxes side by side shorten a run even on 2 cores). They share one set of probe builds, so
/// that a cell runs on any of them as soon as its probe is built.
pub fn pool(opts: &LocalOptions, jobs: usize) -> anyhow::Result<Vec<Box<dyn Backend + Send>>> {
    let probes = Arc::new(ProbeSet::new(&opts.project_root, &opts.cache_dir));
    (0..jobs.max(1))
        .map(|_| {
            let backend = LocalBackend::sharing(opts.clone(), Arc::clone(&probes))?;
            Ok(Box::new(backend) as Box<dyn Backend + Send>)
        })
        .collect()
}

pub struct LocalBackend {
    opts: LocalOptions,
    probes: Arc<ProbeSet>,
    cloud: SandboxedCloud,
}

impl LocalBackend {
    /// Checks the tools and creates the run's private directory; nothing runs yet.
    pub fn new(opts: LocalOptions) -> anyhow::Result<Self> {
        let probes = Arc::new(ProbeSet::new(&opts.project_root, &opts.cache_dir));
        Self::sharing(opts, probes)
    }

    /// `new`, with probe builds shared with other backends.
    fn sharing(opts: LocalOptions, probes: Arc<ProbeSet>) -> anyhow::Result<Self> {
        let cloud = SandboxedCloud::new(&opts.project_root, &opts.cache_dir)?;
        Ok(LocalBackend {
            probes,
            opts,
            cloud,
        })
    }

    pub fn run_dir(&self) -> &Path {
        self.cloud.run_dir()
    }

    /// The sandbox process, once started (for checks that it leaves nothing behind).
    pub fn sandbox_pid(&self) -> Option<u32> {
        self.cloud.sandbox_pid()
    }

    /// Runs any program inside the sandbox with a minimal environment (for checks of the sandbox).
    pub fn exec_in_sandbox(
        &mut self,
        program: &Path,
        args: &[&str],
    ) -> Result<protocol::RunReply, String> {
        let run = RunRequest {
            program: program.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: BTreeMap::from([(
                "PATH".to_string(),
                "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
            )]),
            cwd: self.cloud.run_dir().to_path_buf(),
            timeout_ms: self.opts.probe_timeout.as_millis() as u64,
        };
        self.cloud.sandbox()?.run(run)
    }

    fn observe(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Result<Observation, String> {
        let build = self.probes.get(tag, ProbeKind::of(scenario));
        let build = cell::prepared(build.as_ref(), tag, "probe")?;
        let start = cell::begin(&mut self.cloud, scenario, tag, world::NAMESPACE)?;
        let token = identity::token(
            &self.cloud.oidc,
            (world::NAMESPACE, world::SERVICE_ACCOUNT),
            scenario.auth.mode,
            scenario.auth.token,
        );
        let token_file = cell::write_token(&mut self.cloud, &start.dir, token)?;
        let env = cell::pod_env(&self.cloud, scenario, &start.dir, token_file.as_deref());
        let (request, success) = probe_cell::request(scenario, &start.dir, &start.objects)?;

        let (ran, result) =
            self.run_probe(&build, scenario, &start.dir, "request.json", &request, &env)?;
        let mut evidence = Evidence {
            probe: format!(
                "{} ({}, {}{})",
                scenario.component.as_str(),
                build.go_version,
                build.binary.display(),
                scenario
                    .foreign_arch()
                    .map(|a| format!(", built for {} and run under {}", a.as_str(), a.qemu()))
                    .unwrap_or_default()
            ),
            exit_code: ran.exit_code,
            elapsed_ms: ran.elapsed_ms,
            env,
            logs: vec![
                ArgoLog::new("probe stdout", ran.stdout),
                ArgoLog::new("probe stderr", ran.stderr),
            ],
            fake_events: ran.events,
            ..Default::default()
        };
        if result.as_ref().is_some_and(|r| !r.ok) {
            evidence.diagnosis =
                self.ecr_helper_diagnosis(scenario, &build, &start.dir, &evidence.env)?;
        }
        let timed_out = ran.timed_out.then(|| {
            format!(
                "the probe did not finish within {:?}",
                self.opts.probe_timeout
            )
        });
        let judged = probe_cell::probe_outcome(result, &success, &mut evidence, timed_out);
        let judged = probe_cell::kubelet_first(scenario, &start.objects, judged);
        Ok(cell::finish(&self.cloud, judged, evidence, &start.objects))
    }

    /// Behind a failed ECR lookup is the credential helper, whose error k8schain discards: ask it.
    fn ecr_helper_diagnosis(
        &mut self,
        scenario: &Scenario,
        build: &ProbeBuild,
        cell_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Option<String>, String> {
        let Some(request) = probe_cell::ecr_helper_request(scenario) else {
            return Ok(None);
        };
        let (helper, result) =
            self.run_probe(build, scenario, cell_dir, "ecr-helper.json", &request, env)?;
        let said = match result {
            Some(r) if r.ok => "the ECR credential helper got credentials".to_string(),
            Some(r) => format!("the ECR credential helper failed: {}", r.error),
            None => format!(
                "the ECR credential helper probe wrote no result (exit {:?})",
                helper.exit_code
            ),
        };
        Ok(Some(format!("{said}\n{}", helper.stderr.trim())))
    }

    /// Writes the request, runs the probe in the sandbox (emulated when the scenario's controller
    /// runs on another CPU), reads its result.
    fn run_probe(
        &mut self,
        build: &ProbeBuild,
        scenario: &Scenario,
        cell_dir: &Path,
        request_name: &str,
        request: &serde_json::Value,
        env: &BTreeMap<String, String>,
    ) -> Result<(protocol::RunReply, Option<probe_cell::ProbeResult>), String> {
        let request_path = cell_dir.join(request_name);
        std::fs::write(&request_path, request.to_string()).map_err(|e| e.to_string())?;
        let result_path = request_path.with_extension("result.json");
        let mut args = vec![
            request_path.display().to_string(),
            result_path.display().to_string(),
        ];
        let program = match scenario.foreign_arch() {
            None => build.binary.clone(),
            Some(arch) => {
                args.insert(0, build.binary.display().to_string());
                crate::tools::qemu(arch).map_err(|e| e.to_string())?
            }
        };
        let run = RunRequest {
            program,
            args,
            env: env.clone(),
            cwd: cell_dir.to_path_buf(),
            timeout_ms: self.opts.probe_timeout.as_millis() as u64,
        };
        let ran = self.cloud.sandbox()?.run(run)?;
        let result = std::fs::read(&result_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        Ok((ran, result))
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    fn not_applicable(&self, scenario: &Scenario) -> Option<String> {
        if !scenario.component.has_probe() {
            return Some(format!(
                "{} scenarios need a Kubernetes node (a kubelet pulling images, RBAC, volumes): the cluster backend runs them",
                scenario.component.as_str()
            ));
        }
        if let Some(missing) = scenario
            .foreign_arch()
            .and_then(|a| crate::tools::qemu(a).err())
        {
            return Some(missing.to_string());
        }
        self.cloud.not_applicable(scenario)
    }

    fn builds(&self) -> Arc<dyn Builds> {
        Arc::clone(&self.probes) as Arc<dyn Builds>
    }

    /// Starts the sandbox; a sandbox that fails to start is each cell's observation.
    fn start(&mut self, scenarios: &[Scenario]) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let python = crate::tools::python(&self.opts.project_root)?;
        self.cloud.start(&self.opts.sandbox_exe, python, scenarios);
        match self.cloud.sandbox_started() {
            Ok(_) => crate::progress::line(&format!(
                "sandbox ready in {:.1} s",
                started.elapsed().as_secs_f64()
            )),
            Err(e) => crate::progress::line(&format!("sandbox FAILED: {e}")),
        }
        Ok(())
    }

    /// MinIO: 0.43 CPU-seconds a sandbox to start, for 12 of the default matrix's 186 cells.
    fn needs_own_server(&self, scenario: &Scenario) -> bool {
        scenario.cloud.s3 == crate::scenario::S3Server::Minio
    }

    fn run(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Observation {
        self.observe(scenario, tag).unwrap_or_else(|message| {
            cell::unobserved(&self.cloud, scenario.component.as_str().into(), &message)
        })
    }
}

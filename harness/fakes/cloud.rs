//! One fake cloud, assembled the same way wherever it runs: moto (S3, IAM, STS) holding the
//! artifact role, MinIO when asked for, and the fakes in front of them — the Pod Identity agent,
//! STS, the ECR and ECR Public APIs, the registries, the EKS webhook — sharing one event log, one
//! fault switch and one credential issuer.
//!
//! [`CloudBuilder::start`] starts the servers behind the fakes; each `FakeCloud::serve_*` then
//! serves one fake on the address the caller chose. The sandbox serves them all on its fixed
//! addresses; the suite serves the one it checks on a free loopback port.

use super::ca::PemPair;
use super::ecr_api::{self, EcrApi, EcrPublicApi};
use super::eks_webhook::{self, Injection, Webhook};
use super::events::EventLog;
use super::faults::{self, Fault, Faults, Watch};
use super::issuer::CredentialIssuer;
use super::minio::{Minio, MinioLaunch};
use super::moto::{self, Moto, MotoLog, MotoSetup, SeedObject};
use super::oidc::OidcKeys;
use super::pod_identity::{self, PodIdentityAgent};
use super::registry::bearer::{EcrPublicAuth, SigningKey, TokenAuth};
use super::registry::{self, EcrTokens, Personality, Registry, Storage, image};
use super::{serve, sts, world};
use crate::shared::Event;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long an ECR token lives unless a scenario says otherwise: 12 hours, as AWS issues them.
pub const ECR_TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// An image the registries hold: `host/repository:tag`, and the platforms of its index (empty: a
/// single linux/amd64 manifest).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct SeededImage {
    pub reference: String,
    #[serde(default)]
    pub index: Vec<String>,
}

/// What a [`FakeCloud`] starts from: where moto listens, what it holds, who may pull images.
pub struct CloudBuilder {
    python: PathBuf,
    work_dir: PathBuf,
    s3: SocketAddr,
    oidc: OidcKeys,
    tls_cert: PemPair,
    objects: Vec<SeedObject>,
    minio: Option<(MinioLaunch, SocketAddr)>,
    registry_users: Vec<(String, String)>,
    /// A moto fork server to fork moto from, in place of starting `python`.
    moto_zygote: Option<PathBuf>,
}

impl CloudBuilder {
    /// moto runs on `python` and serves S3 at `s3`; the cloud's files (logs, registry storage) go
    /// to `work_dir`. STS and the agent trust tokens signed by `oidc`; every HTTPS fake presents
    /// `tls_cert`.
    pub fn new(
        python: &Path,
        work_dir: &Path,
        s3: SocketAddr,
        oidc: OidcKeys,
        tls_cert: PemPair,
    ) -> CloudBuilder {
        CloudBuilder {
            python: python.to_path_buf(),
            work_dir: work_dir.to_path_buf(),
            s3,
            oidc,
            tls_cert,
            objects: vec![],
            minio: None,
            registry_users: vec![],
            moto_zygote: None,
        }
    }

    /// Forks moto from the fork server listening on `socket` ([`Moto::fork_from`]: for PID 1 of
    /// a PID namespace only).
    pub fn moto_zygote(mut self, socket: Option<&Path>) -> CloudBuilder {
        self.moto_zygote = socket.map(Path::to_path_buf);
        self
    }

    /// Objects moto holds from the start.
    pub fn objects(mut self, objects: &[SeedObject]) -> CloudBuilder {
        self.objects = objects.to_vec();
        self
    }

    /// Also runs MinIO, serving S3 at `addr`.
    pub fn minio(mut self, launch: &MinioLaunch, addr: SocketAddr) -> CloudBuilder {
        self.minio = Some((launch.clone(), addr));
        self
    }

    /// A user the token and htpasswd registries accept.
    pub fn registry_user(mut self, user: &str, password: &str) -> CloudBuilder {
        self.registry_users.push((user.into(), password.into()));
        self
    }

    /// Starts moto (and MinIO) and waits until they answer; no fake is served yet.
    pub fn start(self) -> Result<FakeCloud, String> {
        let moto_log = MotoLog::new(&self.work_dir.join("moto.log"));
        let moto = self.start_moto(moto_log.path())?;
        let minio = self.start_minio()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let artifact_role = moto
            .keys
            .roles
            .get(world::ARTIFACT_ROLE)
            .cloned()
            .ok_or("moto created no artifact role")?;
        let events = EventLog::default();
        Ok(FakeCloud {
            issuer: CredentialIssuer::new(&moto.keys.endpoint, &moto.keys.admin),
            artifact_role,
            registry_users: hash_passwords(&self.registry_users)?,
            ecr: EcrState::default(),
            webhook: Arc::new(Webhook {
                injection: Default::default(),
                events: events.clone(),
            }),
            events,
            faults: Faults::default(),
            oidc: self.oidc,
            tls_cert: self.tls_cert,
            work_dir: self.work_dir,
            moto,
            moto_log,
            minio,
            runtime,
        })
    }

    fn start_moto(&self, log: &Path) -> Result<Moto, String> {
        let host = self.s3.ip().to_string();
        let setup = MotoSetup {
            host: &host,
            port: self.s3.port(),
            objects: &self.objects,
            roles: &[world::ARTIFACT_ROLE],
            log,
        };
        match &self.moto_zygote {
            Some(socket) => Moto::fork_from(socket, &setup),
            None => Moto::start(&self.python, &self.work_dir, &setup),
        }
    }

    fn start_minio(&self) -> Result<Option<Minio>, String> {
        let Some((launch, addr)) = &self.minio else {
            return Ok(None);
        };
        Minio::start(
            launch,
            &self.work_dir.join("minio-data"),
            &addr.ip().to_string(),
            addr.port(),
            &self.work_dir.join("minio.log"),
        )
        .map(Some)
    }
}

/// user → bcrypt hash, as an htpasswd file holds them. Cost 5: the hashes guard nothing real, and
/// every pull verifies one.
fn hash_passwords(users: &[(String, String)]) -> Result<HashMap<String, String>, String> {
    users
        .iter()
        .map(|(user, password)| {
            let hash = bcrypt::hash(password, 5).map_err(|e| e.to_string())?;
            Ok((user.clone(), hash))
        })
        .collect()
}

/// ECR's state, shared by each API and its registry, and the settings a scenario may change
/// between cells.
struct EcrState {
    /// Passwords the ECR registry accepts (the ECR API issues them).
    tokens: EcrTokens,
    /// Passwords the ECR Public registry accepts (the ECR Public API issues them).
    public_tokens: EcrTokens,
    token_lifetime_secs: Arc<AtomicI64>,
    /// What ECR Public answers stale credentials: 400 since 2024.
    public_stale_status: Arc<AtomicU16>,
}

impl Default for EcrState {
    fn default() -> Self {
        EcrState {
            tokens: EcrTokens::default(),
            public_tokens: EcrTokens::default(),
            token_lifetime_secs: Arc::new(AtomicI64::new(ECR_TOKEN_LIFETIME_SECS)),
            public_stale_status: Arc::new(AtomicU16::new(400)),
        }
    }
}

/// Which registry to serve; each answers as the real one does (see [`Personality`]).
#[derive(Clone, Copy, Debug)]
pub enum RegistryKind {
    /// Amazon ECR: passwords from the ECR API.
    Ecr,
    /// ECR Public: anonymous pulls, or tokens from the ECR Public API.
    EcrPublic,
    /// Docker token auth, its token server at `/token`, for the registry users.
    Token,
    /// htpasswd (distribution 2.8), for the registry users.
    Basic,
}

/// A fake being served: where (port 0 asked for any port) and the task serving it.
pub struct Served {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

/// A running fake cloud; dropping it (or [`FakeCloud::shut_down`]) stops everything it started.
pub struct FakeCloud {
    /// S3, IAM and STS, with the keys it created.
    pub moto: Moto,
    moto_log: MotoLog,
    minio: Option<Minio>,
    /// What every fake saw (moto's requests are in its log: see [`FakeCloud::take_events`]).
    pub events: EventLog,
    faults: Faults,
    /// The cluster's service-account signing key, trusted by STS and the agent.
    pub oidc: OidcKeys,
    issuer: CredentialIssuer,
    artifact_role: String,
    tls_cert: PemPair,
    registry_users: HashMap<String, String>,
    ecr: EcrState,
    webhook: Arc<Webhook>,
    work_dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl FakeCloud {
    /// The Pod Identity agent over plain HTTP. The real agent refuses any Host but its link-local
    /// addresses (`check_host`); a copy on 127.0.0.1 for SDK tests may not.
    pub fn serve_agent(&self, at: SocketAddr, check_host: bool) -> Result<Served, String> {
        let agent = Arc::new(PodIdentityAgent {
            check_host,
            oidc: self.oidc.clone(),
            associations: world::trusted_subjects()
                .into_iter()
                .map(|subject| (subject, self.artifact_role.clone()))
                .collect(),
            issuer: self.issuer.clone(),
            events: self.events.clone(),
        });
        // The agent alone stalls when told to: the fault is a slow agent.
        let app = self.watched(pod_identity::router(agent), pod_identity::FAKE, true);
        self.runtime.block_on(async {
            let listener = bind(pod_identity::FAKE, at).await?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let task = serve::spawn_http(listener, app);
            Ok(Served { addr, task })
        })
    }

    /// Stops a fake and waits until its port is closed, so the next client is refused at once.
    pub fn stop(&self, served: Served) {
        served.task.abort();
        let _ = self.runtime.block_on(served.task);
    }

    /// The STS emulator (AssumeRoleWithWebIdentity for IRSA).
    pub fn serve_sts(&self, at: SocketAddr) -> Result<Served, String> {
        let sts = Arc::new(sts::Sts {
            oidc: self.oidc.clone(),
            trust: BTreeMap::from([(self.artifact_role.clone(), world::trusted_subjects())]),
            issuer: self.issuer.clone(),
            events: self.events.clone(),
        });
        self.serve_https("sts", at, sts::router(sts), never_close())
    }

    /// The ECR API: tokens for IAM principals allowed them, accepted by the [`RegistryKind::Ecr`]
    /// registry.
    pub fn serve_ecr_api(&self, at: SocketAddr) -> Result<Served, String> {
        let api = Arc::new(EcrApi {
            iam_endpoint: self.moto.keys.endpoint.clone(),
            account: world::ACCOUNT.into(),
            region: world::REGION.into(),
            tokens: self.ecr.tokens.clone(),
            token_lifetime_secs: self.ecr.token_lifetime_secs.clone(),
            events: self.events.clone(),
        });
        self.serve_https("ecr-api", at, ecr_api::router(api), never_close())
    }

    /// The ECR Public API: it verifies SigV4 against every key of the fake cloud (IAM users and
    /// minted temporary credentials) and issues passwords the [`RegistryKind::EcrPublic`] registry
    /// accepts.
    pub fn serve_ecr_public_api(&self, at: SocketAddr) -> Result<Served, String> {
        // The issuer's own store: credentials minted later are known too.
        let keys = self.issuer.minted.clone();
        for k in [&self.moto.keys.static_key, &self.moto.keys.admin] {
            keys.add(&k.access_key_id, &k.secret_access_key, None);
        }
        let api = Arc::new(EcrPublicApi {
            keys,
            tokens: self.ecr.public_tokens.clone(),
            token_lifetime_secs: self.ecr.token_lifetime_secs.clone(),
            events: self.events.clone(),
        });
        let app = ecr_api::public_router(api);
        self.serve_https("ecr-public-api", at, app, never_close())
    }

    /// A registry called `host`, holding those of `images` that name it.
    pub fn serve_registry(
        &self,
        kind: RegistryKind,
        host: &str,
        at: SocketAddr,
        images: &[SeededImage],
    ) -> Result<Served, String> {
        let storage = self.seeded_storage(host, images)?;
        let personality = self.personality(kind, host);
        let label = format!("registry ({})", personality.name());
        let registry = Arc::new(Registry {
            storage,
            personality,
            events: self.events.clone(),
            label: label.clone(),
        });
        let close = self.registry_close_gate(&label);
        self.serve_https(&label, at, registry::router(registry), close)
    }

    /// The mutating webhook EKS runs for IRSA and Pod Identity; see [`FakeCloud::set_injection`].
    pub fn serve_eks_webhook(&self, at: SocketAddr) -> Result<Served, String> {
        let app = eks_webhook::router(self.webhook.clone());
        self.serve_https("eks-pod-identity-webhook", at, app, never_close())
    }

    /// A password the ECR registry accepts until `expires_at` (Unix seconds), as if the ECR API
    /// had issued it.
    pub fn issue_ecr_password(&self, expires_at: i64) -> String {
        let password = format!("authmatrix-ecr-{}", super::events::request_id());
        self.ecr.tokens.insert(password.clone(), expires_at);
        password
    }

    /// Passwords the ECR registry accepts: those the ECR API issued, and [`Self::issue_ecr_password`]'s.
    pub fn ecr_tokens(&self) -> &EcrTokens {
        &self.ecr.tokens
    }

    /// Passwords the ECR Public registry accepts: those the ECR Public API issued.
    pub fn ecr_public_tokens(&self) -> &EcrTokens {
        &self.ecr.public_tokens
    }

    /// How long the ECR APIs' tokens live, and what ECR Public answers stale credentials.
    pub fn configure_ecr(&self, token_lifetime_secs: i64, public_stale_status: u16) {
        let ecr = &self.ecr;
        ecr.token_lifetime_secs
            .store(token_lifetime_secs, Ordering::Relaxed);
        ecr.public_stale_status
            .store(public_stale_status, Ordering::Relaxed);
    }

    /// What the EKS webhook injects into the pods it is shown (`None`: nothing).
    pub fn set_injection(&self, injection: Option<Injection>) {
        *self
            .webhook
            .injection
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = injection;
    }

    /// Puts `fault` in force (`None` clears it); killing moto cannot be undone.
    pub fn inject(&mut self, fault: Option<Fault>) {
        if fault == Some(Fault::KillS3) {
            self.moto.kill();
        }
        self.faults.set(fault);
    }

    /// Everything seen since the last call: the fakes' events, then moto's requests — and moto's
    /// exit, which fails every request behind it.
    pub fn take_events(&mut self) -> Vec<Event> {
        if let Some(why) = self.moto.exited() {
            self.events.push_infra(moto::FAKE, "(process)".into(), why);
        }
        let mut seen = self.events.drain();
        seen.extend(self.moto_log.read_new());
        seen
    }

    /// Forgets what was seen so far, so the next [`FakeCloud::take_events`] is one cell's.
    pub fn forget_events(&mut self) {
        self.events.drain();
        self.moto_log.read_new();
    }

    /// moto's log (werkzeug's request lines and moto's errors).
    pub fn moto_log(&self) -> &Path {
        self.moto_log.path()
    }

    /// Stops MinIO and moto, then the fakes, giving their tasks a second to end.
    pub fn shut_down(self) {
        drop(self.minio);
        drop(self.moto);
        self.runtime.shutdown_timeout(Duration::from_secs(1));
    }

    /// Serves `app` over TLS with the cloud's certificate; `close` may refuse connections unanswered.
    fn serve_https(
        &self,
        label: &str,
        at: SocketAddr,
        app: axum::Router,
        close: serve::CloseGate,
    ) -> Result<Served, String> {
        let app = self.watched(app, label, false);
        self.runtime.block_on(async {
            let listener = bind(label, at).await?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let task = serve::spawn_https(listener, app, &self.tls_cert, close)?;
            Ok(Served { addr, task })
        })
    }

    /// Every fake's router goes through [`faults::watch`]: a client hanging up on the fake, or an
    /// injected stall, becomes an infra event.
    fn watched(&self, app: axum::Router, label: &str, stalls: bool) -> axum::Router {
        let watch = Watch {
            label: label.to_string(),
            events: self.events.clone(),
            faults: self.faults.clone(),
            stalls,
        };
        app.layer(axum::middleware::from_fn_with_state(watch, faults::watch))
    }

    /// Registries alone obey the "registry closes connections" fault.
    fn registry_close_gate(&self, label: &str) -> serve::CloseGate {
        let (faults, events, label) = (self.faults.clone(), self.events.clone(), label.to_string());
        Arc::new(move || faults.registry_closes(&label, &events))
    }

    fn seeded_storage(&self, host: &str, images: &[SeededImage]) -> Result<Storage, String> {
        let storage = Storage::new(&self.work_dir.join(format!("registry-{host}")))
            .map_err(|e| e.to_string())?;
        let prefix = format!("{host}/");
        for seeded in images {
            let Some(reference) = seeded.reference.strip_prefix(&prefix) else {
                continue;
            };
            let (repository, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
            let img = image::busybox(repository, tag, world::SEEDED_ENTRYPOINT, world::SEEDED_CMD);
            image::store(&storage, &img, &seeded.index)
                .map_err(|e| format!("store {host}/{reference}: {e}"))?;
        }
        Ok(storage)
    }

    fn personality(&self, kind: RegistryKind, host: &str) -> Personality {
        match kind {
            RegistryKind::Ecr => Personality::EcrPrivate {
                host: host.into(),
                tokens: self.ecr.tokens.clone(),
            },
            RegistryKind::EcrPublic => Personality::EcrPublic(EcrPublicAuth {
                realm: format!("https://{host}/token/"),
                tokens: self.ecr.public_tokens.clone(),
                stale_status: self.ecr.public_stale_status.clone(),
                key: SigningKey::generate(),
            }),
            RegistryKind::Token => Personality::Token(TokenAuth {
                realm: format!("https://{host}/token"),
                service: host.into(),
                users: self.registry_users.clone(),
                anonymous: vec![],
                key: SigningKey::generate(),
            }),
            RegistryKind::Basic => Personality::Basic {
                realm: "basic-realm".into(),
                users: self.registry_users.clone(),
            },
        }
    }
}

fn never_close() -> serve::CloseGate {
    Arc::new(|| false)
}

async fn bind(label: &str, at: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(at)
        .await
        .map_err(|e| format!("bind {label} {at}: {e}"))
}

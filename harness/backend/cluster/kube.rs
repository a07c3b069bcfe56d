//! Talking to the cluster's API server as kubectl would (kube-rs), from wherever the cluster lives.
//!
//! A `local-up` API server listens on the sandbox-only ClusterIP inside the sandbox's network namespace, which the
//! harness is not in. A socket belongs to the network namespace of the thread that creates it, so
//! each conversation runs on a short-lived thread that first enters that namespace (setns), with a
//! single-threaded runtime: every connection the client opens is made from inside. kind's API
//! server is on the host; there the thread simply stays where it is.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use std::future::Future;
use std::path::{Path, PathBuf};

/// How the harness reaches a cluster.
#[derive(Clone, Debug)]
pub struct ClusterAccess {
    /// An admin kubeconfig (kubectl can use it too, from inside `netns`).
    pub kubeconfig: PathBuf,
    /// The API server's URL as seen from where the controller runs.
    pub server: String,
    /// The CA its serving certificate chains to (local-up: the run's CA; kind: kubeadm's).
    pub ca_file: PathBuf,
    /// The network namespace the API server is reachable from (`/proc/<pid>/ns/net`), if not ours.
    pub netns: Option<PathBuf>,
}

pub type Client = kube::Client;

impl ClusterAccess {
    /// Runs `conversation` with a client for this cluster and returns what it returns.
    pub fn talk<T, F, Fut>(&self, conversation: F) -> Result<T, String>
    where
        T: Send,
        F: FnOnce(Client) -> Fut + Send,
        Fut: Future<Output = Result<T, String>>,
    {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if let Some(netns) = &self.netns {
                        enter_netns(netns)?;
                    }
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async {
                        let client = client(&self.kubeconfig).await?;
                        conversation(client).await
                    })
                })
                .join()
                .unwrap_or_else(|_| Err("the cluster client's thread panicked".into()))
        })
    }
}

async fn client(kubeconfig: &Path) -> Result<Client, String> {
    let text = std::fs::read_to_string(kubeconfig)
        .map_err(|e| format!("read {}: {e}", kubeconfig.display()))?;
    let kc = kube::config::Kubeconfig::from_yaml(&text).map_err(|e| e.to_string())?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

fn enter_netns(path: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    // SAFETY: setns on a namespace fd we hold open; it affects this thread only.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!(
            "cannot enter the cluster's network namespace ({}): {} — the cluster backend's local-up provider needs root",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A kubeconfig for one identity, as kubectl would read it.
pub fn kubeconfig(
    server: &str,
    ca_file: &Path,
    user: &str,
    token: &str,
    namespace: &str,
) -> String {
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "authmatrix", "cluster": {"server": server, "certificate-authority": ca_file}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "authmatrix", "user": user, "namespace": namespace}}],
        "current-context": user,
    });
    // JSON is YAML.
    serde_json::to_string_pretty(&doc).expect("serializable")
}

/// Creates or updates an object given as JSON (server-side apply, as `kubectl apply
/// --server-side`), whatever its kind: the manifests of a tag and the scenario's objects alike.
pub async fn apply(client: &Client, object: &serde_json::Value) -> Result<(), String> {
    let (api, name) = api_for(client, object)?;
    let params = PatchParams::apply("authmatrix").force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "apply {} {name}: {e}",
                object["kind"].as_str().unwrap_or("?")
            )
        })
}

/// Creates an object; an existing one is an error (a Workflow is submitted, never updated).
pub async fn create(client: &Client, object: &serde_json::Value) -> Result<(), String> {
    let (api, name) = api_for(client, object)?;
    let obj: DynamicObject = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    api.create(&PostParams::default(), &obj)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "create {} {name}: {e}",
                object["kind"].as_str().unwrap_or("?")
            )
        })
}

/// The dynamic API of an object's kind, and its name.
pub fn api_for(
    client: &Client,
    object: &serde_json::Value,
) -> Result<(Api<DynamicObject>, String), String> {
    let api_version = object["apiVersion"]
        .as_str()
        .ok_or("an object without apiVersion")?;
    let kind = object["kind"].as_str().ok_or("an object without kind")?;
    let name = object["metadata"]["name"]
        .as_str()
        .ok_or_else(|| format!("a {kind} without a name"))?
        .to_string();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api = match object["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    Ok((api, name))
}

/// A service-account token from the API server's TokenRequest API (what the kubelet projects).
pub async fn token(
    client: &Client,
    namespace: &str,
    service_account: &str,
    audiences: &[&str],
    seconds: i64,
) -> Result<String, String> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            expiration_seconds: Some(seconds),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create_token_request(service_account, &PostParams::default(), &request)
        .await
        .map_err(|e| format!("token for {namespace}/{service_account}: {e}"))?
        .status
        .map(|s| s.token)
        .ok_or_else(|| "the API server returned no token".into())
}

/// Polls `check` every 200 ms until it returns `Some` or `timeout` passes.
pub async fn until<T, F, Fut>(
    timeout: std::time::Duration,
    what: &str,
    mut check: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("{what}: not within {timeout:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Waits until `namespace` has its `default` ServiceAccount: the controller-manager made it, so
/// pods can be admitted there.
pub async fn until_default_service_account(
    client: &Client,
    namespace: &str,
    timeout: std::time::Duration,
    what: &str,
) -> Result<(), String> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    until(timeout, what, || async { sas.get("default").await.ok() })
        .await
        .map(|_| ())
}

//! The objects a scan reads, whichever way they came (manifest files or a live API server), and
//! the one place Secrets lose their values.

use serde_json::Value;

/// The kinds a scan looks at; everything else in a manifest set is skipped.
pub const KINDS: &[&str] = &[
    "Deployment",
    "DaemonSet",
    "ConfigMap",
    "ServiceAccount",
    "Secret",
    "Pod",
    "Workflow",
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
];

/// The type of the Secrets Helm keeps its releases in.
pub const HELM_RELEASE: &str = "helm.sh/release.v1";

/// Kinds without a namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "ClusterWorkflowTemplate",
    "ClusterRole",
    "ClusterRoleBinding",
];

/// Annotations known to carry a whole object (a Secret's data in clear, for one).
const OBJECT_COPY_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kapp.k14s.io/original",
];

/// One Kubernetes object, sanitized, with where it came from.
#[derive(Clone, Debug)]
pub struct Object {
    pub kind: String,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
    pub value: Value,
    /// `file:line` of its document, or `cluster`.
    pub origin: String,
}

impl Object {
    /// Builds an object from a document, sanitizing it first; `None` for kinds a scan skips or
    /// documents without a name. Namespaced objects without a namespace get `default_ns`.
    pub fn from_value(mut value: Value, default_ns: &str, origin: String) -> Option<Object> {
        let kind = value.get("kind")?.as_str()?.to_string();
        if !KINDS.contains(&kind.as_str()) {
            return None;
        }
        // Helm's release records hold every value of the chart, Secrets included: never kept.
        if kind == "Secret" && value.get("type").and_then(Value::as_str) == Some(HELM_RELEASE) {
            return None;
        }
        sanitize(&kind, &mut value);
        let name = value.pointer("/metadata/name")?.as_str()?.to_string();
        let namespace = match CLUSTER_SCOPED.contains(&kind.as_str()) {
            true => String::new(),
            false => value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(default_ns)
                .to_string(),
        };
        Some(Object {
            kind,
            namespace,
            name,
            value,
            origin,
        })
    }

    /// `namespace/Kind/name` (or `Kind/name`), as evidence names an object.
    pub fn reference(&self) -> String {
        match self.namespace.is_empty() {
            true => format!("{}/{}", self.kind, self.name),
            false => format!("{}/{}/{}", self.namespace, self.kind, self.name),
        }
    }

    pub fn at(&self, pointer: &str) -> Option<&Value> {
        self.value.pointer(pointer)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.value
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }
}

/// Drops what may hold a secret before anything else sees the object: every annotation that
/// copies a whole object (kubectl's last-applied-configuration holds a Secret's data in clear),
/// `managedFields`, and for Secrets their values (only the key names are kept, in `keys`).
pub fn sanitize(kind: &str, value: &mut Value) {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for a in OBJECT_COPY_ANNOTATIONS {
                annotations.remove(*a);
            }
        }
    }
    if kind == "Secret" {
        strip_secret(value);
    }
}

/// A Secret keeps its metadata (annotations dropped too: tools park values there), its type and
/// the names of its keys.
fn strip_secret(value: &mut Value) {
    let Some(secret) = value.as_object_mut() else {
        return;
    };
    // Idempotent: a page sanitized on arrival is sanitized again when it becomes an Object.
    let mut keys: Vec<String> = match secret.remove("keys") {
        Some(Value::Array(k)) => k
            .into_iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = secret.remove(field) {
            keys.extend(m.keys().cloned());
        }
    }
    keys.sort();
    keys.dedup();
    if let Some(meta) = secret.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("annotations");
    }
    secret.insert("keys".into(), keys.into());
}

/// Everything read, plus what could not be.
#[derive(Debug, Default)]
pub struct Inventory {
    pub objects: Vec<Object>,
    pub gaps: Vec<super::Gap>,
    /// What was read: `manifests a.yaml dir/` or `cluster (context x)`.
    pub source: String,
    /// Kinds the source could list (live: the list call succeeded somewhere; manifests: all, since
    /// a manifest set is whatever it is).
    pub readable: Readable,
}

/// Whether the absence of an object of a kind means it does not exist.
#[derive(Debug, Default)]
pub enum Readable {
    /// Manifests: absence means "not in the files given".
    #[default]
    Manifests,
    /// A live cluster: the kinds (and namespaces, empty = all) that were listed fully.
    Cluster(Vec<(String, String)>),
}

impl Inventory {
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.kind == kind)
    }

    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.namespace == namespace && o.name == name)
    }

    /// Whether a missing `kind` in `namespace` is known to be missing (the list was allowed).
    pub fn listed(&self, kind: &str, namespace: &str) -> bool {
        match &self.readable {
            Readable::Manifests => true,
            Readable::Cluster(ok) => ok
                .iter()
                .any(|(k, ns)| k == kind && (ns.is_empty() || ns == namespace)),
        }
    }

    /// Whether the scan may say an object is absent: in a live cluster when the list worked; in
    /// manifests only as "not in the files".
    pub fn absence_wording(&self) -> &'static str {
        match self.readable {
            Readable::Manifests => "not in the scanned manifests",
            Readable::Cluster(_) => "does not exist in the cluster",
        }
    }
}

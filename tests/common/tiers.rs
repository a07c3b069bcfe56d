//! The test tiers: what a test needs beyond a fresh clone, each provided by a `make` target, and a
//! check at run time of whether it is there. Shared by the test binaries through `#[path]` (the
//! suite's `tier`, the matrix's), so that they judge a tier alike.
//!
//! A plain `cargo test` on a fresh clone runs what it can: a test whose tier is absent returns at
//! once, and one line per absent tier for the whole run says so on the process's stderr (libtest
//! captures `eprintln!` of a passing test, not this). `make test` sets `AUTHMATRIX_TIERS=required`:
//! then nothing is skipped and a missing piece fails its tests, as it must in CI.

// Each binary that includes this uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Go on PATH: the registry's conformance suite and every probe build.
    Go,
    /// The project's Python venv with moto and boto3 (`make venv`, part of `make setup-local`).
    Venv,
    /// A sandbox: root or unprivileged user namespaces, and `ip` (`make setup-local`).
    Sandbox,
    /// User namespaces for an unprivileged user (`make host` lifts Ubuntu's AppArmor limit).
    UserNamespaces,
    /// The default tags' probes, built (`make probes`): a cold build is ~20 minutes of Go.
    Probes,
    /// skopeo, a registry client nobody here wrote (`make apt-test`).
    Skopeo,
    /// Headless Chromium for report.html (`make apt-test`).
    Chromium,
    /// actionlint, built from its Go module (`make actionlint`).
    Actionlint,
    /// The cluster backend's builds (Kubernetes, etcd, the cluster tags' controllers), a node's
    /// container runtime and root (`make cluster`).
    Cluster,
    /// MinIO, built from its Go module (`make minio`).
    Minio,
    /// Docker's daemon and runc, built from their Go modules, root and the docker CLI (`make engine`).
    Engine,
    /// kind's CLI and node image (`make kind-node`).
    Kind,
}

const ALL: [Tier; 12] = [
    Tier::Go,
    Tier::Venv,
    Tier::Sandbox,
    Tier::UserNamespaces,
    Tier::Probes,
    Tier::Skopeo,
    Tier::Chromium,
    Tier::Actionlint,
    Tier::Cluster,
    Tier::Minio,
    Tier::Engine,
    Tier::Kind,
];

/// What `authmatrix run` on the local backend needs (the matrix, and suite tests that run cells).
pub const LOCAL_RUN: &[Tier] = &[Tier::Venv, Tier::Sandbox, Tier::Probes];
/// What a run on the cluster backend (`local-up`) needs.
pub const CLUSTER_RUN: &[Tier] = &[Tier::Venv, Tier::Sandbox, Tier::Cluster];
/// What a run on the cluster backend's kind provider needs.
pub const KIND_RUN: &[Tier] = &[
    Tier::Venv,
    Tier::Sandbox,
    Tier::Cluster,
    Tier::Engine,
    Tier::Kind,
];

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Go => "go",
            Tier::Venv => "venv",
            Tier::Sandbox => "sandbox",
            Tier::UserNamespaces => "user-namespaces",
            Tier::Probes => "probes",
            Tier::Skopeo => "skopeo",
            Tier::Chromium => "chromium",
            Tier::Actionlint => "actionlint",
            Tier::Cluster => "cluster",
            Tier::Minio => "minio",
            Tier::Engine => "engine",
            Tier::Kind => "kind",
        }
    }

    /// How to provide it.
    pub fn make_target(self) -> &'static str {
        match self {
            Tier::Go => "Go 1.21 or newer on PATH (https://go.dev/dl/)",
            Tier::Venv => "`make venv` (or `make setup-local`)",
            Tier::Sandbox => "`make setup-local` (as root), or `make host` for user namespaces",
            Tier::UserNamespaces => "`make host` (as root)",
            Tier::Probes => "`make probes`",
            Tier::Skopeo | Tier::Chromium => "`make apt-test` (as root)",
            Tier::Actionlint => "`make actionlint`",
            Tier::Cluster => "`make cluster` (as root)",
            Tier::Minio => "`make minio`",
            Tier::Engine => "`make engine` (as root)",
            Tier::Kind => "`make kind-node` (as root)",
        }
    }

    fn index(self) -> usize {
        ALL.iter().position(|t| *t == self).unwrap()
    }

    /// Why the tier is absent, or `None` when it is there; checked once per process.
    pub fn missing(self) -> Option<&'static str> {
        static CHECKED: [OnceLock<Option<String>>; ALL.len()] = [const { OnceLock::new() }; 12];
        CHECKED[self.index()]
            .get_or_init(|| self.check().err())
            .as_deref()
    }

    fn check(self) -> Result<(), String> {
        match self {
            Tier::Go => authmatrix::tools::go()
                .map(drop)
                .map_err(|_| "no `go` on PATH".into()),
            Tier::Venv => venv(),
            Tier::Sandbox => {
                authmatrix::tools::ip().map_err(|_| "no `ip` (iproute2) on PATH".to_string())?;
                if is_root() || can_unshare(false) {
                    Ok(())
                } else {
                    Err("not root, and no unprivileged user namespaces".into())
                }
            }
            Tier::UserNamespaces => match can_unshare(is_root()) {
                true => Ok(()),
                false => Err("an unprivileged user cannot create a user namespace".into()),
            },
            Tier::Probes => probes(),
            Tier::Skopeo => on_path("skopeo"),
            Tier::Chromium => on_path("chromium"),
            Tier::Actionlint => {
                let version = make_variable("ACTIONLINT_VERSION")?;
                executable(&cache_dir().join(format!("tools/actionlint-{version}")))
            }
            Tier::Cluster => cluster(),
            Tier::Minio => authmatrix::builds::cached_tools::minio(root(), &cache_dir()).map(drop),
            Tier::Engine => {
                root_needed()?;
                // The tests drive the engine with the docker CLI, which no make target installs.
                on_path("docker")?;
                authmatrix::backend::cluster::engine::EngineBuild::find(root(), &cache_dir())
                    .map(drop)
            }
            Tier::Kind => {
                root_needed()?;
                authmatrix::backend::cluster::kind::KindBuild::find(root(), &cache_dir()).map(drop)
            }
        }
    }
}

/// Whether tests needing `tiers` run. A tier that is absent is named once per process on stderr;
/// then the test should return (see the suite's `require!`), unless `AUTHMATRIX_TIERS=required`
/// (`make test`), where every test runs and a missing piece fails it.
pub fn runs(tiers: &[Tier]) -> bool {
    let required = required();
    let mut all = true;
    for &tier in tiers {
        if let Some(why) = tier.missing() {
            all = false;
            announce(tier, why, required);
        }
    }
    all || required
}

/// `AUTHMATRIX_TIERS=required`: no tier is skipped. Any other value is refused rather than read as
/// "skip", so that a typo in CI cannot turn failures into skips.
pub fn required() -> bool {
    match std::env::var("AUTHMATRIX_TIERS") {
        Err(_) => false,
        Ok(v) if v == "required" => true,
        Ok(v) => panic!("AUTHMATRIX_TIERS={v:?}: the only value is `required` (or leave it unset)"),
    }
}

/// One line per tier for the whole run, straight to the process's stderr.
fn announce(tier: Tier, why: &str, required: bool) {
    static SAID: [OnceLock<()>; ALL.len()] = [const { OnceLock::new() }; 12];
    SAID[tier.index()].get_or_init(|| {
        let line = match required {
            false => format!(
                "authmatrix: tier {} skipped: needs {}: {why}",
                tier.name(),
                tier.make_target()
            ),
            true => format!(
                "authmatrix: tier {} missing, its tests run anyway (AUTHMATRIX_TIERS=required): needs {}: {why}",
                tier.name(),
                tier.make_target()
            ),
        };
        let _ = writeln!(std::io::stderr(), "{line}");
    });
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where `make` and the harness cache builds (`AUTHMATRIX_CACHE`, `XDG_CACHE_HOME`, `HOME`).
fn cache_dir() -> PathBuf {
    authmatrix::builds::cache_dir()
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn root_needed() -> Result<(), String> {
    match is_root() {
        true => Ok(()),
        false => Err("not root".into()),
    }
}

fn on_path(tool: &str) -> Result<(), String> {
    match authmatrix::tools::which(tool) {
        Some(_) => Ok(()),
        None => Err(format!("no `{tool}` on PATH")),
    }
}

fn executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    match path.metadata() {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        _ => Err(format!("no {}", path.display())),
    }
}

/// `AUTHMATRIX_PYTHON` as the harness takes it, else a venv `make venv` finished: its last step
/// writes `.installed`, so a venv whose pip install was interrupted does not count.
fn venv() -> Result<(), String> {
    if std::env::var_os("AUTHMATRIX_PYTHON").is_some() {
        return authmatrix::tools::python(root())
            .map(drop)
            .map_err(|_| "AUTHMATRIX_PYTHON is not an executable".into());
    }
    let installed = root().join(".venv/.installed");
    match installed.is_file() {
        true => Ok(()),
        false => Err(format!("no {}", installed.display())),
    }
}

/// Whether a child can create a user namespace holding a network namespace, as the sandbox does;
/// `as_nobody`: after dropping to uid/gid 65534, as an unprivileged user would.
fn can_unshare(as_nobody: bool) -> bool {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/true");
    // SAFETY: between fork and exec the child only makes system calls.
    unsafe {
        cmd.pre_exec(move || {
            let ok = !as_nobody
                || (libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setgid(65534) == 0
                    && libc::setuid(65534) == 0);
            // A restricted user namespace (AppArmor) has no capabilities: its network namespace
            // cannot be created, so both in one call tell a usable one apart.
            if ok && libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `NAME := value` (or `?=`) of the Makefile, so that the check follows what `make` builds.
fn make_variable(name: &str) -> Result<String, String> {
    let makefile = root().join("Makefile");
    let text = std::fs::read_to_string(&makefile)
        .map_err(|e| format!("read {}: {e}", makefile.display()))?;
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(name)?.trim_start();
            let value = rest
                .strip_prefix(":=")
                .or_else(|| rest.strip_prefix("?="))?;
            Some(value.trim().to_string())
        })
        .ok_or_else(|| format!("{} sets no {name}", makefile.display()))
}

/// Every probe `make probes` builds, in the cache under the key this machine's Go gives it (what
/// `authmatrix prepare` would find rather than build): the default tags' probes of the catalogue's
/// scenarios (another CPU's on the Makefile's EMULATED_TAGS), and the S3 probe of v4.0.2.
fn probes() -> Result<(), String> {
    use authmatrix::builds::probes::{ProbeBuilder, ProbeKind};
    use authmatrix::scenario::Component;
    use authmatrix::shared::ArgoTag;
    let builder = ProbeBuilder::new(cache_dir().join("probes"), root().join("probes"))
        .map_err(|e| e.to_string())?;
    let scenarios = authmatrix::scenario::load_dir(&root().join("scenarios"))
        .map_err(|e| format!("the catalogue: {e}"))?;
    // As `authmatrix prepare` chooses them (probe_set::kinds_for): each component's native probe
    // and each scenario's own (another CPU's build); a node scenario has none (it needs a node).
    let mut kinds: Vec<ProbeKind> = authmatrix::scenario::components_of(&scenarios)
        .into_iter()
        .map(ProbeKind::native)
        .chain(scenarios.iter().map(ProbeKind::of))
        .filter(|k| k.component != Component::Node)
        .collect();
    kinds.sort();
    kinds.dedup();
    // Another CPU's probes on the Makefile's EMULATED_TAGS only, as `make probes` builds them.
    let emulated = make_variable("EMULATED_TAGS")?;
    let emulated: Vec<&str> = emulated.split(',').collect();
    let mut wanted: Vec<(ProbeKind, ArgoTag)> = ArgoTag::defaults()
        .into_iter()
        .flat_map(|t| kinds.iter().map(move |k| (*k, t.clone())))
        .filter(|(k, t)| k.arch.is_none() || emulated.contains(&t.tag.as_str()))
        .collect();
    wanted.push((
        ProbeKind::native(Component::ExecutorS3),
        ArgoTag::parse("v4.0.2").unwrap(),
    ));
    let absent: Vec<String> = wanted
        .iter()
        .filter(|(k, t)| !builder.is_cached(*k, t))
        .map(|(k, t)| format!("{}@{}", k.label(), t.tag))
        .collect();
    // A few names say which; all of them would make the line a paragraph on a fresh clone.
    let named = match absent.len() {
        0 => return Ok(()),
        1..=3 => absent.join(", "),
        n => format!("{}, … ({} more)", absent[..3].join(", "), n - 3),
    };
    Err(format!(
        "{} of {} probe builds not in {}: {named}",
        absent.len(),
        wanted.len(),
        cache_dir().join("probes").display(),
    ))
}

/// What `make cluster` builds into `<cache>/cluster`, and what a node needs beside it. Kubernetes'
/// and etcd's cache keys hash their wrapper modules and build flags (harness/backend/cluster/
/// build.rs), which only the builder computes: any build of theirs counts (a newer one replaces
/// an older), while each cluster tag's controller is looked for under this machine's Go's key.
fn cluster() -> Result<(), String> {
    root_needed()?;
    authmatrix::tools::node_runtime().map_err(|e| e.to_string())?;
    let dir = cache_dir().join("cluster");
    for (family, binary, what) in [
        ("kubernetes-", "kube", "Kubernetes"),
        ("etcd-", "etcd", "etcd"),
    ] {
        let built = std::fs::read_dir(&dir).ok().is_some_and(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                e.file_name().to_string_lossy().starts_with(family)
                    && e.path().join(binary).is_file()
            })
        });
        if !built {
            return Err(format!("no {what} build in {}", dir.display()));
        }
    }
    let go = authmatrix::tools::go().map_err(|e| e.to_string())?;
    let local_go =
        authmatrix::builds::go::version(&go, None).map_err(|e| format!("go env: {e}"))?;
    use sha2::Digest;
    let key = &hex::encode(sha2::Sha256::digest(local_go.as_bytes()))[..12];
    for tag in make_variable("CLUSTER_TAGS")?.split(',') {
        let build = dir.join(format!("workflow-controller-{tag}-{key}/build.json"));
        if !build.is_file() {
            return Err(format!(
                "no workflow-controller {tag} built with {local_go} in {}",
                dir.display()
            ));
        }
    }
    Ok(())
}

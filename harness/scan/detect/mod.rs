//! From what was read to setups: each a component of Argo exercised in one way, the evidence for
//! it, and the catalogue scenario that describes it (by id: what that scenario expects stays in
//! its file).

mod entrypoint;
mod node;
mod s3;

use super::controller::Controller;
use super::objects::Inventory;
use super::workflows::WorkflowUse;
use super::{Gap, Setup};

/// Where an image's registry stands for the entrypoint lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registry {
    EcrPrivate,
    EcrPublic,
    /// Docker Hub (no host, or docker.io): anonymous pulls work.
    DockerHub,
    /// Any other host, taken as private.
    Other,
}

pub fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            host.to_string()
        }
        _ => "docker.io".into(),
    }
}

pub fn classify(image: &str) -> Registry {
    let host = registry_host(image);
    let ecr = regex::Regex::new(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
        .expect("valid regex");
    match host.as_str() {
        h if ecr.is_match(h) => Registry::EcrPrivate,
        "public.ecr.aws" => Registry::EcrPublic,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => Registry::DockerHub,
        _ => Registry::Other,
    }
}

/// Every setup the inventory shows, deduplicated, plus the gaps found while judging them.
pub fn setups(inv: &Inventory, c: &Controller, uses: &[WorkflowUse]) -> (Vec<Setup>, Vec<Gap>) {
    let mut d = Detector {
        inv,
        c,
        setups: vec![],
        gaps: vec![],
    };
    for u in uses {
        d.s3(u);
        d.entrypoints(u);
        d.kubelet_pulls(u);
        d.host_paths(u);
        d.executor_rbac(u);
    }
    d.image_index();
    (d.setups, d.gaps)
}

/// The setups found so far, and the gaps met on the way; the detectors live in the submodules
/// (`s3`, `entrypoint`, `node`), one per component.
struct Detector<'a> {
    inv: &'a Inventory,
    c: &'a Controller,
    setups: Vec<Setup>,
    gaps: Vec<Gap>,
}

/// Whether a Secret exists: `Some(keys)`, `None` when absent, `Err` when it cannot be known.
type SecretState = Result<Option<Vec<String>>, String>;

impl Detector<'_> {
    fn add(&mut self, s: Setup) {
        let same = self.setups.iter_mut().find(|o| {
            o.component == s.component
                && o.corresponds_to == s.corresponds_to
                && o.summary == s.summary
                && o.names == s.names
        });
        match same {
            Some(o) => {
                for e in s.evidence {
                    if !o.evidence.contains(&e) {
                        o.evidence.push(e);
                    }
                }
            }
            None => self.setups.push(s),
        }
    }

    fn gap(&mut self, what: String, why: String, unknown: &str) {
        if self.gaps.iter().any(|g| g.what == what) {
            return;
        }
        self.gaps.push(Gap {
            what,
            why,
            unknown: vec![unknown.to_string()],
        });
    }

    fn secret(&self, ns: &str, name: &str) -> SecretState {
        match self.inv.get("Secret", ns, name) {
            Some(s) => Ok(Some(
                s.value["keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect(),
            )),
            None if self.inv.listed("Secret", ns) => Ok(None),
            None => Err(format!("Secrets in {ns} could not be read")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        assert_eq!(
            classify("123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b:1"),
            Registry::EcrPrivate
        );
        assert_eq!(
            classify("public.ecr.aws/docker/library/busybox"),
            Registry::EcrPublic
        );
        assert_eq!(classify("busybox:1"), Registry::DockerHub);
        assert_eq!(
            classify("registry.example.internal/team/app:1.0"),
            Registry::Other
        );
    }
}

//! What a node does with a workflow's pod: the kubelet's pulls, hostPath volumes, the executor's
//! RBAC.

use super::Detector;
use crate::scan::Names;
use crate::scan::Setup;
use crate::scan::workflows::WorkflowUse;
use crate::scenario::Component;

impl Detector<'_> {
    /// The kubelet's pulls: a workflow naming a pull secret that is gone; a ServiceAccount's
    /// pull secret that exists.
    pub(super) fn kubelet_pulls(&mut self, u: &WorkflowUse) {
        let p = self.pull_secret_states(u);
        let names = |ps: Vec<String>| Names {
            namespace: u.namespace.clone(),
            service_account: Some(u.service_account.value.clone()),
            pull_secrets: ps,
            ..Default::default()
        };
        if !p.workflow_missing.is_empty() {
            let evidence = p
                .evidence
                .iter()
                .filter(|e| e.contains("spec.imagePullSecrets") || e.contains(".imagePullSecrets["))
                .cloned()
                .collect();
            self.add(Setup {
                summary: "pods name a pull secret that is missing".into(),
                component: Component::Node,
                corresponds_to: Some("kubelet-pull-missing-secret".into()),
                evidence,
                names: names(p.workflow_missing.clone()),
                ..Default::default()
            });
        }
        if p.sa_present {
            let evidence: Vec<String> = p
                .evidence
                .iter()
                .filter(|e| e.contains("/ServiceAccount/"))
                .cloned()
                .collect();
            self.add(Setup {
                summary: "pods pull with their ServiceAccount's pull secret".into(),
                component: Component::Node,
                corresponds_to: Some("kubelet-pull-sa-secret".into()),
                evidence: [vec![u.service_account.evidence.clone()], evidence].concat(),
                names: names(vec![]),
                ..Default::default()
            });
        }
    }

    pub(super) fn host_paths(&mut self, u: &WorkflowUse) {
        for h in &u.host_paths {
            let mut evidence = vec![h.evidence.clone()];
            let corresponds = u.non_root.clone().map(|e| {
                evidence.push(e);
                "hostpath-not-writable".to_string()
            });
            let summary = match corresponds {
                Some(_) => "non-root pods write to a hostPath volume",
                None => "pods mount a hostPath volume",
            };
            self.add(Setup {
                summary: summary.into(),
                component: Component::Node,
                corresponds_to: corresponds,
                evidence,
                names: Names {
                    namespace: u.namespace.clone(),
                    service_account: Some(u.service_account.value.clone()),
                    ..Default::default()
                },
                ..Default::default()
            });
        }
    }

    /// The executor's RBAC: since v3.6 it must create/patch `workflowtaskresults`; the legacy
    /// pods/patch fallback is gone.
    pub(super) fn executor_rbac(&mut self, u: &WorkflowUse) {
        let sa = &u.service_account.value;
        let ns = &u.namespace;
        if !self.inv.listed("RoleBinding", ns)
            || (matches!(self.inv.readable, crate::scan::objects::Readable::Manifests)
                && self.inv.of_kind("RoleBinding").next().is_none())
        {
            self.gap(
                format!("RBAC of {ns}/ServiceAccount/{sa}"),
                format!(
                    "RoleBindings in {ns} were not {}",
                    match self.inv.readable {
                        crate::scan::objects::Readable::Manifests => "in the manifests",
                        _ => "readable",
                    }
                ),
                "whether the executor may create workflowtaskresults",
            );
            return;
        }
        let rules = crate::scan::rbac::rules_for(self.inv, ns, sa);
        let grants = |res: &str, verb: &str| {
            rules
                .iter()
                .any(|(_, r)| crate::scan::rbac::allows(r, res, verb))
        };
        if grants("workflowtaskresults", "create") && grants("workflowtaskresults", "patch") {
            return;
        }
        let mut evidence: Vec<String> = rules.iter().map(|(e, _)| e.clone()).collect();
        evidence.insert(0, u.service_account.evidence.clone());
        evidence.push(format!(
            "no rule bound to {ns}/ServiceAccount/{sa} grants workflowtaskresults create+patch"
        ));
        let legacy = grants("pods", "patch");
        self.add(Setup {
            summary: match legacy {
                true => "executor has the legacy pods/patch RBAC but no workflowtaskresults",
                false => "executor has no workflowtaskresults RBAC",
            }
            .into(),
            component: Component::Node,
            corresponds_to: legacy.then(|| "executor-rbac-missing-taskresults".into()),
            evidence,
            names: Names {
                namespace: ns.clone(),
                service_account: Some(sa.clone()),
                ..Default::default()
            },
            ..Default::default()
        });
    }
}

//! Cluster providers by name, and what each backend can run before anything starts. Needs nothing.

use authmatrix::backend::Choice;
use authmatrix::backend::cluster::provider::ProviderKind;
use authmatrix::scenario::{Component, Scenario};
use rstest::rstest;

/// The CLI's `--provider`, the matrix test's `AUTHMATRIX_PROVIDER` and the report name a provider
/// alike.
#[rstest]
fn a_provider_is_parsed_from_the_name_it_reports(
    #[values(ProviderKind::LocalUp, ProviderKind::Kind)] provider: ProviderKind,
) {
    assert_eq!(provider.as_str().parse(), Ok(provider));
    assert_eq!(
        Choice::parse("cluster", provider.as_str()).unwrap(),
        Choice::Cluster(provider)
    );
}

#[test]
fn an_unknown_provider_is_refused_with_the_ones_there_are() {
    let refused = "minikube".parse::<ProviderKind>().unwrap_err();
    for named in ["`minikube`", "`local-up`", "`kind`"] {
        assert!(refused.contains(named), "{named} in {refused}");
    }
}

/// The local backend has no node: a run of node scenarios only would report every cell not
/// applicable, so it is refused before anything starts; the whole catalogue is not.
#[test]
fn the_local_backend_refuses_a_run_of_node_scenarios_only() {
    let all = authmatrix::scenario::load_dir(&crate::util::root().join("scenarios")).unwrap();
    let node: Vec<Scenario> = all
        .iter()
        .filter(|s| s.component == Component::Node)
        .cloned()
        .collect();
    assert!(!node.is_empty(), "the catalogue has node scenarios");
    let refused = Choice::Local.check_can_run(&node).unwrap_err().to_string();
    assert!(refused.contains("--backend cluster"), "{refused}");
    assert!(Choice::Local.check_can_run(&all).is_ok());
}

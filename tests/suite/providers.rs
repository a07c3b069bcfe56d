//! What each backend and cluster provider can run, known before anything starts. Needs nothing.

use authmatrix::backend::Choice;
use authmatrix::backend::cluster::provider::ProviderKind;
use rstest::rstest;

/// Which provider runs which component, known before a cluster starts: both have a node that
/// reaches the fake cloud, so every column runs on either (a provider that cannot run a cell says
/// so, and the cell is not applicable, never passed).
#[rstest]
fn each_provider_says_which_components_it_cannot_run(
    #[values(ProviderKind::LocalUp, ProviderKind::Kind)] provider: ProviderKind,
    #[values("executor-s3", "controller-entrypoint", "node")] component: &str,
) {
    let scenarios = authmatrix::scenario::load_dir(&crate::util::root().join("scenarios")).unwrap();
    let scenario = scenarios
        .iter()
        .find(|s| s.component.as_str() == component)
        .unwrap();
    assert_eq!(provider.cannot_run(scenario.component), None);
    let refused = Choice::Cluster(provider).check_can_run(std::slice::from_ref(scenario));
    assert!(refused.is_ok(), "{refused:?}");
    assert_eq!(scenario.component.has_probe(), component != "node");
}

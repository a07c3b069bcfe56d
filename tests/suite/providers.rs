//! What each backend and cluster provider can run, known before anything starts. Needs nothing.

use authmatrix::backend::Choice;
use authmatrix::backend::cluster::provider::ProviderKind;
use rstest::rstest;

/// Which provider runs which component, known before a cluster starts: `local-up` has a node, so
/// every column runs there; kind runs the controller but no pod that reaches the fake cloud yet, so
/// its executor and node cells are not applicable (never passed), and a run that asks kind for
/// nothing else is refused up front.
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
    let cannot = provider == ProviderKind::Kind && component != "controller-entrypoint";
    let why = provider.cannot_run(scenario.component);
    assert_eq!(why.is_some(), cannot, "{why:?}");
    let refused = Choice::Cluster(provider).check_can_run(std::slice::from_ref(scenario));
    assert_eq!(refused.is_err(), cannot, "{refused:?}");
    assert_eq!(scenario.component.has_probe(), component != "node");
}

//! Comparing what was observed with what the scenario file expects.

use crate::scenario::{Expectation, ExpectedOutcome};
use crate::shared::{Observation, ObservedOutcome};
use std::collections::BTreeSet;

/// The verdict type is the report's (a cell's verdict is part of report.json); judging is here.
use crate::report::verdict::Verdict;

pub fn judge(expected: Option<&Expectation>, observed: &Observation) -> Verdict {
    let verdict = judge_outcome(expected, observed);
    match expected {
        Some(e) if verdict == Verdict::AsExpected && !exposures_as_expected(e, observed) => {
            Verdict::ExposureMismatch
        }
        _ => verdict,
    }
}

/// Whether Argo printed exactly the secrets the expectation says it prints.
fn exposures_as_expected(e: &Expectation, observed: &Observation) -> bool {
    let expected: BTreeSet<&str> = e.exposes.iter().map(String::as_str).collect();
    let seen: BTreeSet<&str> = observed
        .exposures
        .iter()
        .map(|x| x.secret.as_str())
        .collect();
    expected == seen
}

fn judge_outcome(expected: Option<&Expectation>, observed: &Observation) -> Verdict {
    match observed.outcome {
        ObservedOutcome::Error => return Verdict::InfraError,
        ObservedOutcome::NotApplicable => return Verdict::NotApplicable,
        ObservedOutcome::Pass | ObservedOutcome::Fail => {}
    }
    let Some(e) = expected else {
        return Verdict::Exploratory;
    };
    match (e.outcome, observed.outcome) {
        (ExpectedOutcome::Unknown, _) => Verdict::Exploratory,
        (ExpectedOutcome::Pass, ObservedOutcome::Pass) => Verdict::AsExpected,
        (ExpectedOutcome::Pass, _) => Verdict::Regression,
        (ExpectedOutcome::Fail, ObservedOutcome::Pass) => Verdict::UnexpectedPass,
        (ExpectedOutcome::Fail, _) => {
            let error_ok = e
                .error
                .as_ref()
                .is_none_or(|re| re.is_match(&observed.message));
            let log = observed.evidence.argo_output();
            let log_ok = e.log.as_ref().is_none_or(|re| re.is_match(&log));
            if error_ok && log_ok {
                Verdict::AsExpected
            } else {
                Verdict::SignatureMismatch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::range::VersionRange;
    use crate::shared::Evidence;

    fn obs(outcome: ObservedOutcome, message: &str) -> Observation {
        Observation {
            outcome,
            message: message.into(),
            exposures: vec![],
            evidence: Evidence::default(),
        }
    }

    fn exp(outcome: ExpectedOutcome, error: Option<&str>) -> Expectation {
        Expectation {
            range: VersionRange::parse(">=3.5.0").unwrap(),
            outcome,
            error: error.map(|e| regex::Regex::new(e).unwrap()),
            log: None,
            exposes: vec![],
            note: None,
        }
    }

    #[test]
    fn every_combination_has_its_verdict() {
        let pass = exp(ExpectedOutcome::Pass, None);
        let fail = exp(ExpectedOutcome::Fail, Some("not allowed"));
        let unknown = exp(ExpectedOutcome::Unknown, None);
        assert_eq!(
            judge(Some(&pass), &obs(ObservedOutcome::Pass, "")),
            Verdict::AsExpected
        );
        assert_eq!(
            judge(Some(&pass), &obs(ObservedOutcome::Fail, "x")),
            Verdict::Regression
        );
        assert_eq!(
            judge(Some(&fail), &obs(ObservedOutcome::Fail, "host not allowed")),
            Verdict::AsExpected
        );
        assert_eq!(
            judge(Some(&fail), &obs(ObservedOutcome::Fail, "403 Forbidden")),
            Verdict::SignatureMismatch
        );
        assert_eq!(
            judge(Some(&fail), &obs(ObservedOutcome::Pass, "")),
            Verdict::UnexpectedPass
        );
        assert_eq!(
            judge(Some(&pass), &obs(ObservedOutcome::Error, "probe crashed")),
            Verdict::InfraError
        );
        assert_eq!(
            judge(Some(&unknown), &obs(ObservedOutcome::Fail, "x")),
            Verdict::Exploratory
        );
        assert_eq!(
            judge(None, &obs(ObservedOutcome::Pass, "")),
            Verdict::Exploratory
        );
    }

    #[test]
    fn a_log_signature_is_matched_against_argos_output() {
        let mut e = exp(ExpectedOutcome::Fail, Some("NoCredentialProviders"));
        e.log = Some(regex::Regex::new("provider skipped: host not allowed").unwrap());
        let mut o = obs(
            ObservedOutcome::Fail,
            "NoCredentialProviders: no valid providers in chain",
        );
        assert_eq!(
            judge(Some(&e), &o),
            Verdict::SignatureMismatch,
            "the log does not say it"
        );
        o.evidence.logs = vec![crate::shared::ArgoLog::new(
            "probe stdout",
            "Ignoring, HTTP credential provider invalid endpoint host, provider skipped: host not allowed.",
        )];
        assert_eq!(judge(Some(&e), &o), Verdict::AsExpected);
    }

    #[test]
    fn a_secret_argo_prints_unexpectedly_or_no_longer_prints_is_an_exposure_mismatch() {
        let exposure = crate::shared::Exposure {
            secret: "my-s3-credentials/secretKey".into(),
            source: "container init".into(),
            line: 3,
            encoding: "plain".into(),
        };
        let mut leaked = obs(ObservedOutcome::Pass, "");
        leaked.exposures = vec![exposure];
        let mut pass = exp(ExpectedOutcome::Pass, None);
        assert_eq!(judge(Some(&pass), &leaked), Verdict::ExposureMismatch);
        pass.exposes = vec!["my-s3-credentials/secretKey".into()];
        assert_eq!(judge(Some(&pass), &leaked), Verdict::AsExpected);
        assert_eq!(
            judge(Some(&pass), &obs(ObservedOutcome::Pass, "")),
            Verdict::ExposureMismatch
        );
        assert_eq!(
            judge(None, &leaked),
            Verdict::Exploratory,
            "not judged without expectation"
        );
    }
}

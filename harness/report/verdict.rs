//! A cell's verdict, as report.json carries it. `matrix::verdict` decides it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    AsExpected,
    /// Expected to pass, failed.
    Regression,
    /// Expected to fail, passed (a fix landed, or the expectation is stale).
    UnexpectedPass,
    /// Failed as expected, but with another error than the scenario names.
    SignatureMismatch,
    /// The outcome is as expected, but Argo printed other secrets than the scenario expects it to
    /// (a credential newly exposed, or an expected exposure gone).
    ExposureMismatch,
    /// The harness could not observe the cell.
    InfraError,
    /// No expectation: the observation is reported, not judged.
    Exploratory,
    /// The backend cannot run this scenario: nothing was observed, nothing passed.
    NotApplicable,
}

impl Verdict {
    /// Whether the cell lets a run succeed.
    pub fn is_ok(self) -> bool {
        matches!(
            self,
            Verdict::AsExpected | Verdict::Exploratory | Verdict::NotApplicable
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::AsExpected => "as-expected",
            Verdict::Regression => "regression",
            Verdict::UnexpectedPass => "unexpected-pass",
            Verdict::SignatureMismatch => "signature-mismatch",
            Verdict::ExposureMismatch => "exposure-mismatch",
            Verdict::InfraError => "infra-error",
            Verdict::Exploratory => "exploratory",
            Verdict::NotApplicable => "not-applicable",
        }
    }
}

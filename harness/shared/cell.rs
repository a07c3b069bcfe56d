//! One matrix cell, named the same way from the command line to the report: a scenario (of one
//! column) on one Argo tag.

use super::ArgoTag;
use crate::scenario::{Component, Scenario};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A cell: which scenario, on which Argo tag, in which column (the scenario's component). The
/// scheduler hands it to a backend and the backend's observation comes back under it into the
/// report, so the tag never changes form on the way.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellId {
    pub scenario: String,
    /// Serialized as `argo` (report.json's field since schema v1).
    #[serde(rename = "argo")]
    pub tag: ArgoTag,
    pub column: Component,
}

impl CellId {
    pub fn new(scenario: &Scenario, tag: &ArgoTag) -> CellId {
        CellId {
            scenario: scenario.id.clone(),
            tag: tag.clone(),
            column: scenario.component,
        }
    }

    /// Whether this is the cell of `scenario` on `tag`.
    pub fn is(&self, scenario: &str, tag: &str) -> bool {
        self.scenario == scenario && self.tag.tag == tag
    }
}

/// `<scenario>::<tag>`: the name in test output, JUnit and the timings cache.
impl fmt::Display for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.scenario, self.tag)
    }
}

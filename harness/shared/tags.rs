//! Argo versions, named by their git tags.

use semver::Version;
use std::fmt;

/// The versions a run covers when `--argo` is not given: the last 3.5 patch the module proxy
/// serves, the 3.6 releases around each known auth regression and fix, the newest 3.7 release and
/// the newest 4.0 release the module proxy serves. Tags that behaved exactly as a neighbour on
/// every cell left the defaults to keep a fresh CI run within its budget, and the nightly run
/// keeps them: v3.6.2 (as v3.6.4; measured 2026-12-01) and v3.5.12 (as v3.5.11; 2026-12-02).
pub const DEFAULT_TAGS: &[&str] = &["v3.5.11", "v3.6.0", "v3.6.4", "v3.6.5", "v3.7.18", "v4.0.5"];

/// Where a user finds the tags that exist.
pub const HOW_TO_FIND_TAGS: &str = "list the tags with `git ls-remote --tags https://github.com/argoproj/argo-workflows 'v[34].*'` \
or see https://github.com/argoproj/argo-workflows/releases; of 4.0, the Go module proxy served v4.0.2 and v4.0.5 on \
2026-12-02 (v4.0.0 and v4.0.1 declare the /v3 module path and cannot be built as modules)";

/// Serialized as its tag (`"v3.6.5"`), as report.json has always written it; read back through
/// [`ArgoTag::parse`], so a report cannot smuggle in a tag the command line would refuse.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct ArgoTag {
    pub version: Version,
    pub tag: String,
}

impl fmt::Display for ArgoTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error(
        "`{0}` is not an Argo tag: write it as vMAJOR.MINOR.PATCH, e.g. v3.6.5; {HOW_TO_FIND_TAGS}"
    )]
    Malformed(String),
    #[error("Argo {0} is older than 3.5.0, which this harness does not cover")]
    TooOld(String),
}

impl ArgoTag {
    pub fn parse(tag: &str) -> Result<ArgoTag, TagError> {
        let tag = tag.trim();
        let version = crate::scenario::range::tag_version(tag)
            .ok_or_else(|| TagError::Malformed(tag.to_string()))?;
        if version < Version::new(3, 5, 0) {
            return Err(TagError::TooOld(tag.to_string()));
        }
        Ok(ArgoTag {
            version,
            tag: tag.to_string(),
        })
    }

    /// Parses a comma-separated list, sorted by version, without duplicates.
    pub fn parse_list(list: &str) -> Result<Vec<ArgoTag>, TagError> {
        let mut tags = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(ArgoTag::parse)
            .collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    pub fn defaults() -> Vec<ArgoTag> {
        DEFAULT_TAGS
            .iter()
            .map(|t| ArgoTag::parse(t).expect("default tags are well-formed"))
            .collect()
    }
}

/// A tag reads as its name (`vX.Y.Z`) wherever a name is wanted: in reports, messages, paths.
impl std::ops::Deref for ArgoTag {
    type Target = str;
    fn deref(&self) -> &str {
        &self.tag
    }
}

/// A tag is named by its `vX.Y.Z` (what the report keeps of it).
impl AsRef<str> for ArgoTag {
    fn as_ref(&self) -> &str {
        &self.tag
    }
}

impl From<ArgoTag> for String {
    fn from(tag: ArgoTag) -> String {
        tag.tag
    }
}

impl TryFrom<String> for ArgoTag {
    type Error = TagError;
    fn try_from(tag: String) -> Result<ArgoTag, TagError> {
        ArgoTag::parse(&tag)
    }
}

/// Compares with a tag as written (`tag == "v3.6.5"`).
impl PartialEq<str> for ArgoTag {
    fn eq(&self, other: &str) -> bool {
        self.tag == other
    }
}

//! Argo version ranges such as `">=3.6.0, <3.6.2"`, as intervals so that overlaps can be found.

use semver::{Comparator, Op, Version, VersionReq};
use std::cmp::Ordering;
use std::fmt;

/// One end of an interval: the version and whether it belongs to the interval.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bound {
    version: Version,
    inclusive: bool,
}

/// A half-open or closed interval of Argo versions. `None` ends are unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRange {
    text: String,
    lower: Option<Bound>,
    upper: Option<Bound>,
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl VersionRange {
    /// Parses a comma-separated list of `>=`, `>`, `<`, `<=` or `=` comparators with full versions.
    /// Caret, tilde and wildcard requirements are refused: their meaning for pre-releases and
    /// partial versions is a frequent source of silently wrong expectations.
    pub fn parse(text: &str) -> Result<Self, String> {
        let req =
            VersionReq::parse(text).map_err(|e| format!("`{text}` is not a version range: {e}"))?;
        if req.comparators.is_empty() {
            return Err(format!("`{text}` is empty: write e.g. \">=3.6.0, <3.6.5\""));
        }
        let mut range = VersionRange {
            text: text.trim().to_string(),
            lower: None,
            upper: None,
        };
        for c in &req.comparators {
            let version = full_version(c).ok_or_else(|| {
                format!("`{text}`: write full versions (major.minor.patch) in every comparator")
            })?;
            match c.op {
                Op::GreaterEq => range.raise_lower(Bound {
                    version,
                    inclusive: true,
                }),
                Op::Greater => range.raise_lower(Bound {
                    version,
                    inclusive: false,
                }),
                Op::LessEq => range.cut_upper(Bound {
                    version,
                    inclusive: true,
                }),
                Op::Less => range.cut_upper(Bound {
                    version,
                    inclusive: false,
                }),
                Op::Exact => {
                    range.raise_lower(Bound {
                        version: version.clone(),
                        inclusive: true,
                    });
                    range.cut_upper(Bound {
                        version,
                        inclusive: true,
                    });
                }
                _ => {
                    return Err(format!(
                        "`{text}`: use only >=, >, <, <= or = (no ^, ~ or *)"
                    ));
                }
            }
        }
        if range.is_empty() {
            return Err(format!("`{text}` contains no version"));
        }
        Ok(range)
    }

    /// Whether an Argo version (from a tag such as `v3.6.0`) lies in the range.
    pub fn contains(&self, v: &Version) -> bool {
        let above = match &self.lower {
            None => true,
            Some(b) => match v.cmp(&b.version) {
                Ordering::Greater => true,
                Ordering::Equal => b.inclusive,
                Ordering::Less => false,
            },
        };
        let below = match &self.upper {
            None => true,
            Some(b) => match v.cmp(&b.version) {
                Ordering::Less => true,
                Ordering::Equal => b.inclusive,
                Ordering::Greater => false,
            },
        };
        above && below
    }

    /// The smallest version in the range, when it has a lower end.
    pub fn lower_bound(&self) -> Option<Version> {
        self.lower.as_ref().map(|b| b.version.clone())
    }

    /// Whether some version lies in both ranges.
    pub fn overlaps(&self, other: &VersionRange) -> bool {
        let lower = tighter_lower(self.lower.as_ref(), other.lower.as_ref());
        let upper = tighter_upper(self.upper.as_ref(), other.upper.as_ref());
        !interval_is_empty(lower, upper)
    }

    fn raise_lower(&mut self, b: Bound) {
        self.lower = tighter_lower(self.lower.as_ref(), Some(&b)).cloned();
    }

    fn cut_upper(&mut self, b: Bound) {
        self.upper = tighter_upper(self.upper.as_ref(), Some(&b)).cloned();
    }

    fn is_empty(&self) -> bool {
        interval_is_empty(self.lower.as_ref(), self.upper.as_ref())
    }
}

fn full_version(c: &Comparator) -> Option<Version> {
    Some(Version {
        major: c.major,
        minor: c.minor?,
        patch: c.patch?,
        pre: c.pre.clone(),
        build: Default::default(),
    })
}

fn tighter_lower<'a>(a: Option<&'a Bound>, b: Option<&'a Bound>) -> Option<&'a Bound> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => match x.version.cmp(&y.version) {
            Ordering::Greater => Some(x),
            Ordering::Less => Some(y),
            Ordering::Equal => Some(if x.inclusive { y } else { x }),
        },
    }
}

fn tighter_upper<'a>(a: Option<&'a Bound>, b: Option<&'a Bound>) -> Option<&'a Bound> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => match x.version.cmp(&y.version) {
            Ordering::Less => Some(x),
            Ordering::Greater => Some(y),
            Ordering::Equal => Some(if x.inclusive { y } else { x }),
        },
    }
}

fn interval_is_empty(lower: Option<&Bound>, upper: Option<&Bound>) -> bool {
    match (lower, upper) {
        (Some(l), Some(u)) => match l.version.cmp(&u.version) {
            Ordering::Greater => true,
            Ordering::Equal => !(l.inclusive && u.inclusive),
            Ordering::Less => false,
        },
        _ => false,
    }
}

/// Parses an Argo tag (`v3.6.0`, `v3.6.0-rc1`) into a version.
pub fn tag_version(tag: &str) -> Option<Version> {
    Version::parse(tag.strip_prefix('v')?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        tag_version(s).unwrap()
    }

    #[test]
    fn contains_respects_inclusive_and_exclusive_ends() {
        let r = VersionRange::parse(">=3.6.0, <3.6.2").unwrap();
        assert!(!r.contains(&v("v3.5.12")));
        assert!(r.contains(&v("v3.6.0")));
        assert!(!r.contains(&v("v3.6.2")));
        assert!(
            !r.contains(&v("v3.6.0-rc1")),
            "a pre-release sorts before its release"
        );
    }

    #[test]
    fn adjacent_ranges_do_not_overlap_but_shared_ends_do() {
        let a = VersionRange::parse(">=3.5.0, <3.6.0").unwrap();
        let b = VersionRange::parse(">=3.6.0").unwrap();
        let c = VersionRange::parse("<=3.6.0").unwrap();
        assert!(!a.overlaps(&b));
        assert!(b.overlaps(&c));
        assert!(a.overlaps(&c));
    }

    #[test]
    fn refuses_caret_partial_and_empty_ranges() {
        assert!(VersionRange::parse("^3.6").is_err());
        assert!(VersionRange::parse(">=3.6").is_err());
        assert!(VersionRange::parse(">=3.6.5, <3.6.0").is_err());
        assert!(VersionRange::parse("not a range").is_err());
    }
}

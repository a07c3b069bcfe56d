//! Whether the requested Argo tags exist, asked before a sandbox, cluster or build starts: a tag
//! the Go module proxy does not serve used to be found by the first build, after sandboxes had
//! started, and was reported by each of them.
//!
//! The question is the builds' own (`ProbeBuilder::check_tag`: the same `go mod download` with the
//! same environment, so GOPROXY and GOFLAGS count as they do for a build, and the module it fetches
//! is the one the build then finds cached). A tag the proxy served once is remembered in the cache
//! directory, so a warm run asks nothing.

use crate::builds::probes::{BuildError, ProbeBuilder};
use crate::exit::{Classify, Error};
use crate::shared::ArgoTag;
use std::path::Path;

/// Where tags the proxy served are remembered, one empty file per tag.
const KNOWN: &str = "known-tags";

/// Refuses (bad input) the tags the module proxy does not serve, naming each; an answer that is
/// not the proxy's (no Go, no network) is the infrastructure's.
pub fn check_known(tags: &[ArgoTag], cache_dir: &Path, project_root: &Path) -> Result<(), Error> {
    let known = cache_dir.join(KNOWN);
    let ask = not_remembered(tags, &known);
    if ask.is_empty() {
        return Ok(());
    }
    let builder = ProbeBuilder::new(cache_dir.join("probes"), project_root.join("probes"))
        .map_err(anyhow::Error::from)
        .infra()?;
    // Side by side: a cold tag's download is network-bound.
    let answers: Vec<Result<(), BuildError>> = std::thread::scope(|s| {
        let asking: Vec<_> = ask
            .iter()
            .map(|t| s.spawn(|| builder.check_tag(t)))
            .collect();
        asking
            .into_iter()
            .map(|h| h.join().expect("a tag check does not panic"))
            .collect()
    });
    let mut unknown = Vec::new();
    for (tag, answer) in ask.iter().zip(answers) {
        match answer {
            Ok(()) => {
                // Only a shortcut: a tag not remembered is asked again.
                let _ = std::fs::create_dir_all(&known)
                    .and_then(|()| std::fs::write(known.join(&tag.tag), ""));
            }
            Err(e @ BuildError::UnknownTag { .. }) if refused_by_proxy(&e) => {
                unknown.push(e.to_string())
            }
            Err(BuildError::UnknownTag { tag, detail }) => {
                return Err(anyhow::anyhow!(
                    "cannot ask the Go module proxy about Argo {tag}: {detail}"
                ))
                .infra();
            }
            Err(e) => return Err(anyhow::Error::from(e)).infra(),
        }
    }
    match unknown.is_empty() {
        true => Ok(()),
        false => Err(anyhow::anyhow!("{}", unknown.join("\n"))).input(),
    }
}

fn not_remembered<'a>(tags: &'a [ArgoTag], known: &Path) -> Vec<&'a ArgoTag> {
    tags.iter()
        .filter(|t| !known.join(&t.tag).is_file())
        .collect()
}

/// Whether the proxy (or, with GOPROXY=direct, the repository) answered that the version does not
/// exist, rather than not answering at all (no network, GOPROXY=off).
fn refused_by_proxy(e: &BuildError) -> bool {
    let BuildError::UnknownTag { detail, .. } = e else {
        return false;
    };
    [
        "not available",
        "not found",
        "unknown revision",
        "invalid version",
        "404",
        "410",
    ]
    .iter()
    .any(|s| detail.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(detail: &str) -> BuildError {
        BuildError::UnknownTag {
            tag: "v9.9.9".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn only_the_proxy_s_no_is_an_unknown_tag() {
        // As `go mod download -json` says them (last line), 2026-12-06.
        assert!(refused_by_proxy(&unknown(
            "server response: This module version is not available."
        )));
        assert!(refused_by_proxy(&unknown(
            "server response: not found: github.com/argoproj/argo-workflows/v3@v3.6.99: invalid version: unknown revision v3.6.99"
        )));
        assert!(!refused_by_proxy(&unknown(
            "github.com/argoproj/argo-workflows/v3@v3.6.5: module lookup disabled by GOPROXY=off"
        )));
        assert!(!refused_by_proxy(&unknown(
            "dial tcp: lookup proxy.golang.org on 127.0.0.53:53: no such host"
        )));
    }

    #[test]
    fn a_remembered_tag_is_not_asked_again() {
        let known = tempfile::tempdir().unwrap();
        std::fs::write(known.path().join("v3.6.5"), "").unwrap();
        let tags = ArgoTag::parse_list("v3.6.5,v3.7.18").unwrap();
        let ask: Vec<&str> = not_remembered(&tags, known.path())
            .iter()
            .map(|t| t.tag.as_str())
            .collect();
        assert_eq!(ask, ["v3.7.18"]);
    }
}

//! Building probes: small Go programs compiled against `github.com/argoproj/argo-workflows/v3@<tag>`
//! with that tag's own `replace` directives, so that every dependency is exactly the one Argo ships.
//!
//! Builds are cached by (probe, tag, probe source hash, Go version). A tag's module checksums come
//! from `probes/<probe>/sums/<tag>.sum` when the project carries them, else from the checksum
//! database; a version the database does not know is trusted on first use, and the report says so.

use crate::matrix::tags::{ArgoTag, HOW_TO_FIND_TAGS};
use crate::scenario::Component;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const ARGO_MODULE: &str = "github.com/argoproj/argo-workflows/v3";

/// Modules whose versions explain the auth behaviour; the report shows them per tag.
pub const KEY_MODULES: &[&str] = &[
    "github.com/aws/aws-sdk-go",
    "github.com/aws/aws-sdk-go-v2",
    "github.com/aws/aws-sdk-go-v2/config",
    "github.com/minio/minio-go/v7",
    "github.com/argoproj/pkg",
];

/// A probe's Go sources. Argo's APIs used here are identical from v3.5.11 to v3.7.x; when one
/// changes, add a variant file and select it here by version.
fn sources(component: Component, _tag: &ArgoTag) -> Vec<(&'static str, &'static str)> {
    match component {
        Component::ExecutorS3 => vec![("main.go", include_str!("../../../probes/s3/main.go"))],
    }
}

pub fn probe_name(component: Component) -> &'static str {
    match component {
        Component::ExecutorS3 => "s3",
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeBuild {
    pub binary: PathBuf,
    /// `go version` of the toolchain that built it, e.g. `go1.26.8`.
    pub go_version: String,
    /// How the module checksums were verified: `committed`, `sumdb` or `trust-on-first-use`.
    pub checksums: String,
    /// Key modules as Argo's module graph selects them (`go list -m`); absent = not in the graph.
    pub required: BTreeMap<String, String>,
    /// Key modules actually linked into the probe (`go version -m`); absent = not linked.
    pub linked: BTreeMap<String, String>,
    pub build_seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("Argo tag {tag} is unknown to the Go module proxy ({detail}); {HOW_TO_FIND_TAGS}")]
    UnknownTag { tag: String, detail: String },
    #[error("building the {probe} probe for Argo {tag} failed at `{step}`:\n{output}")]
    Step {
        probe: String,
        tag: String,
        step: String,
        output: String,
    },
    #[error(transparent)]
    Tool(#[from] crate::tools::MissingTool),
    #[error("{0}")]
    Io(String),
}

pub struct ProbeBuilder {
    pub go: PathBuf,
    pub cache_dir: PathBuf,
    /// `probes/` of the project, for committed checksums; may not exist for an installed binary.
    pub probes_dir: PathBuf,
}

impl ProbeBuilder {
    pub fn new(cache_dir: PathBuf, probes_dir: PathBuf) -> Result<Self, BuildError> {
        Ok(ProbeBuilder {
            go: crate::tools::go()?,
            cache_dir,
            probes_dir,
        })
    }

    /// Returns the cached build or builds the probe.
    pub fn build(&self, component: Component, tag: &ArgoTag) -> Result<ProbeBuild, BuildError> {
        let probe = probe_name(component);
        let local_go = self.go_version("local")?;
        let files = sources(component, tag);
        let mut h = Sha256::new();
        for (name, text) in &files {
            h.update(name.as_bytes());
            h.update(text.as_bytes());
        }
        h.update(local_go.as_bytes());
        let key = &hex::encode(h.finalize())[..12];
        let dir = self.cache_dir.join(format!("{probe}-{}-{key}", tag.tag));
        if let Some(build) = read_manifest(&dir) {
            return Ok(build);
        }
        let started = std::time::Instant::now();
        let tmp = self
            .cache_dir
            .join(format!(".{probe}-{}-{key}.{}", tag.tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)
            .map_err(|e| BuildError::Io(format!("create {}: {e}", tmp.display())))?;
        let result = self.build_in(&tmp, probe, &files, tag, &local_go, started);
        match result {
            Ok(mut build) => {
                build.binary = dir.join("probe");
                let manifest = serde_json::to_string_pretty(&build).expect("serializable");
                std::fs::write(tmp.join("build.json"), manifest)
                    .map_err(|e| BuildError::Io(e.to_string()))?;
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::rename(&tmp, &dir)
                    .map_err(|e| BuildError::Io(format!("rename to {}: {e}", dir.display())))?;
                Ok(build)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e)
            }
        }
    }

    fn build_in(
        &self,
        dir: &Path,
        probe: &str,
        files: &[(&str, &str)],
        tag: &ArgoTag,
        local_go: &str,
        started: std::time::Instant,
    ) -> Result<ProbeBuild, BuildError> {
        let step_err = |step: &str, output: String| BuildError::Step {
            probe: probe.into(),
            tag: tag.tag.clone(),
            step: step.into(),
            output,
        };
        // 1. Resolve the tag and read Argo's own go.mod.
        let mut checksums = "sumdb";
        let mut nosumdb = false;
        let download = self.go_json(
            dir,
            "local",
            false,
            &[
                "mod",
                "download",
                "-json",
                &format!("{ARGO_MODULE}@{}", tag.tag),
            ],
        )?;
        let download = match download.get("Error").and_then(|e| e.as_str()) {
            Some(e) if e.contains("verifying") && e.contains("sumdb") => {
                // The checksum database does not know this version; trust it on first use.
                checksums = "trust-on-first-use";
                nosumdb = true;
                self.go_json(
                    dir,
                    "local",
                    true,
                    &[
                        "mod",
                        "download",
                        "-json",
                        &format!("{ARGO_MODULE}@{}", tag.tag),
                    ],
                )?
            }
            _ => download,
        };
        if let Some(e) = download.get("Error").and_then(|e| e.as_str()) {
            return Err(BuildError::UnknownTag {
                tag: tag.tag.clone(),
                detail: e.lines().last().unwrap_or(e).trim().to_string(),
            });
        }
        let argo_gomod = download
            .get("GoMod")
            .and_then(|p| p.as_str())
            .ok_or_else(|| step_err("go mod download", download.to_string()))?;
        let edit = self.go_json(dir, "local", nosumdb, &["mod", "edit", "-json", argo_gomod])?;
        let go_directive = edit
            .get("Go")
            .and_then(|g| g.as_str())
            .unwrap_or("1.21")
            .to_string();

        // 2. The probe module: require the tag, copy its replace directives.
        let mut gomod = format!(
            "module authmatrix.local/probe/{probe}\n\ngo {go_directive}\n\nrequire {ARGO_MODULE} {}\n",
            tag.tag
        );
        for r in edit
            .get("Replace")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
        {
            gomod.push_str(&format!(
                "\nreplace {} => {}\n",
                module_ref(&r["Old"]),
                module_ref(&r["New"])
            ));
        }
        write(dir.join("go.mod"), &gomod)?;
        for (name, text) in files {
            write(dir.join(name), text)?;
        }
        let committed = self
            .probes_dir
            .join(probe)
            .join("sums")
            .join(format!("{}.sum", tag.tag));
        if committed.is_file() {
            std::fs::copy(&committed, dir.join("go.sum"))
                .map_err(|e| BuildError::Io(e.to_string()))?;
            checksums = "committed";
        }

        // 3. Build with this machine's Go if it is new enough; otherwise, or if that fails, with the
        //    toolchain of the tag's go directive (GOTOOLCHAIN fetches it through the module proxy).
        let era = era_toolchain(&go_directive);
        let local_ok = version_at_least(local_go, &go_directive);
        let attempts: Vec<&str> = if local_ok {
            vec!["local", &era]
        } else {
            vec![&era]
        };
        let mut last = String::new();
        for toolchain in attempts {
            match self.tidy_and_build(dir, toolchain, nosumdb) {
                Ok(()) => {
                    let go_version = self.go_version(toolchain)?;
                    let (required, linked) = self.module_versions(dir, toolchain, nosumdb)?;
                    return Ok(ProbeBuild {
                        binary: PathBuf::new(),
                        go_version,
                        checksums: checksums.into(),
                        required,
                        linked,
                        build_seconds: started.elapsed().as_secs_f64(),
                    });
                }
                Err(output) => last = format!("with GOTOOLCHAIN={toolchain}:\n{output}"),
            }
        }
        Err(step_err("go build", last))
    }

    fn tidy_and_build(&self, dir: &Path, toolchain: &str, nosumdb: bool) -> Result<(), String> {
        for args in [
            &["mod", "tidy"][..],
            &["build", "-trimpath", "-o", "probe", "."][..],
        ] {
            let out = self
                .go_cmd(dir, toolchain, nosumdb)
                .args(args)
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                let text = String::from_utf8_lossy(&out.stderr);
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with("go: downloading"))
                    .collect();
                return Err(format!("$ go {}\n{}", args.join(" "), kept.join("\n")));
            }
        }
        Ok(())
    }

    fn module_versions(
        &self,
        dir: &Path,
        toolchain: &str,
        nosumdb: bool,
    ) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), BuildError> {
        let mut required = BTreeMap::new();
        let out = self
            .go_cmd(dir, toolchain, nosumdb)
            .args(["list", "-m", "-e", "-json"])
            .args(KEY_MODULES)
            .output()
            .map_err(|e| BuildError::Io(e.to_string()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        for value in serde_json::Deserializer::from_str(&text)
            .into_iter::<serde_json::Value>()
            .flatten()
        {
            if let (Some(path), Some(version)) = (value["Path"].as_str(), value["Version"].as_str())
            {
                required.insert(path.to_string(), version.to_string());
            }
        }
        let mut linked = BTreeMap::new();
        let out = self
            .go_cmd(dir, toolchain, nosumdb)
            .args(["version", "-m", "probe"])
            .output()
            .map_err(|e| BuildError::Io(e.to_string()))?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.first() == Some(&"dep") && cols.len() >= 3 && KEY_MODULES.contains(&cols[1]) {
                linked.insert(cols[1].to_string(), cols[2].to_string());
            }
        }
        Ok((required, linked))
    }

    fn go_cmd(&self, dir: &Path, toolchain: &str, nosumdb: bool) -> Command {
        let mut cmd = Command::new(&self.go);
        cmd.current_dir(dir)
            .env("GOTOOLCHAIN", toolchain)
            .env("GOFLAGS", "-mod=mod -buildvcs=false")
            .env("CGO_ENABLED", "0");
        if nosumdb {
            cmd.env("GONOSUMDB", "github.com/argoproj/argo-workflows");
        }
        cmd
    }

    fn go_json(
        &self,
        dir: &Path,
        toolchain: &str,
        nosumdb: bool,
        args: &[&str],
    ) -> Result<serde_json::Value, BuildError> {
        let out = self
            .go_cmd(dir, toolchain, nosumdb)
            .args(args)
            .output()
            .map_err(|e| BuildError::Io(format!("go {}: {e}", args.join(" "))))?;
        serde_json::from_slice(&out.stdout).map_err(|_| BuildError::Step {
            probe: "-".into(),
            tag: "-".into(),
            step: format!("go {}", args.join(" ")),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn go_version(&self, toolchain: &str) -> Result<String, BuildError> {
        let out = Command::new(&self.go)
            .env("GOTOOLCHAIN", toolchain)
            .args(["env", "GOVERSION"])
            .output()
            .map_err(|e| BuildError::Io(e.to_string()))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

fn read_manifest(dir: &Path) -> Option<ProbeBuild> {
    let text = std::fs::read_to_string(dir.join("build.json")).ok()?;
    let mut build: ProbeBuild = serde_json::from_str(&text).ok()?;
    build.binary = dir.join("probe");
    build.binary.is_file().then_some(build)
}

fn write(path: PathBuf, text: &str) -> Result<(), BuildError> {
    std::fs::write(&path, text)
        .map_err(|e| BuildError::Io(format!("write {}: {e}", path.display())))
}

/// `{"Path": p, "Version": v}` → `p v` (a replace directive side).
fn module_ref(v: &serde_json::Value) -> String {
    match v["Version"].as_str() {
        Some(ver) => format!("{} {ver}", v["Path"].as_str().unwrap_or_default()),
        None => v["Path"].as_str().unwrap_or_default().to_string(),
    }
}

/// The toolchain a go directive names: `1.23.1` → `go1.23.1`, `1.21` → `go1.21.0`.
fn era_toolchain(directive: &str) -> String {
    if directive.matches('.').count() >= 2 {
        format!("go{directive}")
    } else {
        format!("go{directive}.0")
    }
}

/// `go1.26.8` ≥ `1.23.1`?
fn version_at_least(go_version: &str, directive: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> {
        s.trim_start_matches("go")
            .split('.')
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    parse(go_version) >= parse(directive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_names_and_comparison() {
        assert_eq!(era_toolchain("1.21"), "go1.21.0");
        assert_eq!(era_toolchain("1.23.1"), "go1.23.1");
        assert!(version_at_least("go1.26.8", "1.25.7"));
        assert!(version_at_least("go1.23.1", "1.23.1"));
        assert!(!version_at_least("go1.22.9", "1.23.1"));
    }
}
